//! What ReportAgent costs Rift per item: the profile, the charts and the stored JSON of a
//! report of 10,000 items (records of four fields, as `tests/it/report.rs` uses, and plain
//! numbers and strings). Wall-clock time per item, the fastest of [`BATCHES`] batches of
//! [`ROUNDS`] rounds, so other work on a shared machine inflates it as little as possible.
//!
//! `cargo run --release --example profile_cost` (BENCHMARKS.md has the figures).

use std::time::Instant;

use rift::domain::{charts, profile::Profile};
use serde_json::{Value, json};

const ITEMS: usize = 10_000;
const ROUNDS: u32 = 10;
const BATCHES: usize = 5;

/// Nanoseconds per item of `work` over `ITEMS` items: the fastest batch.
fn per_item(mut work: impl FnMut()) -> f64 {
    work();
    (0..BATCHES)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..ROUNDS {
                work();
            }
            started.elapsed().as_nanos() as f64 / f64::from(ROUNDS) / ITEMS as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let shapes: [(&str, Vec<Value>); 3] = [
        (
            "records (4 fields)",
            (0..ITEMS)
                .map(|i| {
                    json!({"city": format!("city{}", i % 97), "temp": (i % 40) as f64 / 2.0,
                           "rain": i % 3 == 0, "id": i})
                })
                .collect(),
        ),
        (
            "numbers",
            (0..ITEMS).map(|i| json!(i as f64 * 0.5)).collect(),
        ),
        (
            "strings",
            (0..ITEMS).map(|i| json!(format!("s{}", i % 500))).collect(),
        ),
    ];
    for (shape, items) in &shapes {
        let profile_ns = per_item(|| {
            std::hint::black_box(Profile::of(std::hint::black_box(items)));
        });
        let report_ns = per_item(|| {
            let profile = Profile::of(std::hint::black_box(items));
            let charts = charts::of(&profile);
            std::hint::black_box(serde_json::to_string(&(&profile, &charts)).unwrap_or_default());
        });
        let text = serde_json::to_string(items).unwrap_or_default();
        let parse_ns = per_item(|| {
            std::hint::black_box(serde_json::from_str::<Vec<Value>>(&text).ok());
        });
        #[allow(clippy::print_stdout)]
        {
            println!(
                "{shape}: profile {profile_ns:.0} ns/item, report (profile + charts + JSON) \
                 {report_ns:.0} ns/item, reading the stored items {parse_ns:.0} ns/item"
            );
        }
    }
}
