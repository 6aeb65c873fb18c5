//! Rift's integration tests: one test crate, one module per area, so the suite links once.
//!
//! Each module starts what it needs for itself: a `redis-server` of its own per test
//! ([`support::redis`]), Rift on `127.0.0.1:0` in this process or as a `rift` process
//! ([`support::rift`]), real clients (grpcurl, websocat, Chromium). Nothing here is shared
//! between tests, so a test means the same whether it runs alone in its process (nextest, the
//! default) or beside the others (`cargo test`).
//!
//! Two modules need no socket: `http_routes` answers requests with `Router::oneshot`, and
//! `grpc_service` calls the tonic service trait directly; the others go over loopback.
//!
//! Run one module with `cargo nextest run --test it -E 'test(/^grpc_flow::/)'`.

mod asyncapi;
mod cli;
mod cluster;
mod cluster_faults;
mod completions;
mod core_hardening;
mod dashboard;
mod durability;
mod exhaustion;
mod faults;
mod fuzz;
mod grpc_flow;
mod grpc_service;
mod grpc_subscribe;
mod grpc_web;
mod grpcurl;
mod history_loss;
mod http_routes;
mod memory_contract;
mod mixed_fleet;
mod observability;
mod origins;
mod readme;
mod redis_layout;
mod redis_outage;
mod reliability;
mod report;
mod sentinel;
mod support;
mod task_reads;
mod task_replay;
mod tls;
mod traces;
mod try_again;
mod unknown_outcome;
mod websocat;
mod ws_bad_input;
mod ws_commands;
mod ws_flood;
mod ws_parity;
mod ws_watch;
