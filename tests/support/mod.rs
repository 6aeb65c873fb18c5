//! Fixtures shared by the integration tests.
//!
//! Each test binary pulls this in with `mod support;`. Not every binary uses every helper,
//! hence the module-wide `dead_code` allowance.
//!
//! - [`redis`]: a throwaway `redis-server` per test ([`redis::RedisServer`]), on a unix
//!   socket in a temporary directory, killed when dropped; plain clients to read back what
//!   Rift wrote.
//! - [`rift`]: Rift itself under test, in this process or as a `rift` process.
//! - [`tools`]: external clients the tests drive (grpcurl, websocat).

#![allow(dead_code)]

pub(crate) mod redis;
pub(crate) mod rift;
pub(crate) mod tools;
