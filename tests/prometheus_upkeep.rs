//! `authorizer serve`'s Prometheus recorder may not grow with the number of requests. It keeps
//! every histogram sample queued until it is folded into the buckets ("upkeep"). Regression:
//! upkeep only ran on a scrape of `/metrics`, so a `serve` that nobody scraped grew by about 17
//! bytes per request, without bound (found by `loadtest/soak`: RSS +20 % in a minute at 2,600
//! req/s).
//!
//! A dedicated test binary: a counting allocator measures the live heap of the whole process, and
//! the recorder this test installs is global and keeps its upkeep thread.
#![cfg(feature = "local")]

#[path = "support/live_heap.rs"]
mod live_heap;

use jwt_authorizer::{Decision, EventKind, Outcome};
use live_heap::live_bytes;
use std::time::Duration;

#[test]
fn histogram_samples_do_not_pile_up_when_nobody_scrapes() {
    use jwt_authorizer::metrics::prometheus::{UPKEEP_INTERVAL, install};
    install().expect("the Prometheus recorder installs");
    let metrics = jwt_authorizer::metrics::install_handles(&["test"], &[]);
    let decision = Decision {
        outcome: Outcome::Allow,
        event: Some(EventKind::Token),
        issuer: Some(0),
        ..Decision::new()
    };
    const BATCH: usize = 200_000;
    let record = || {
        for _ in 0..BATCH {
            metrics.record_decision(&decision, Duration::from_micros(30));
        }
    };
    let start = live_bytes();
    record();
    let before = live_bytes();
    let one_batch = before - start;
    assert!(
        one_batch >= (BATCH * 8) as isize,
        "samples are queued: {one_batch} bytes"
    );
    // No scrape, for a few upkeep intervals, and three more batches: with upkeep the queued
    // samples are folded into buckets and their memory reused; without it, each batch stays.
    for _ in 0..3 {
        std::thread::sleep(UPKEEP_INTERVAL * 3 / 2);
        record();
    }
    let grown = live_bytes() - before;
    assert!(
        grown < one_batch,
        "the live heap grew by {grown} bytes over 3 more batches of {BATCH} samples ({one_batch} bytes queued per batch)"
    );
}
