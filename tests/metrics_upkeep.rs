//! `authorizer serve`'s Prometheus recorder keeps every histogram sample queued until it is folded
//! into the buckets ("upkeep"). Regression: upkeep only ran on a scrape of `/metrics`, so a `serve`
//! that nobody scraped grew by about 17 bytes per request, without bound (found by
//! `loadtest/soak`: RSS +20 % in a minute at 2,600 req/s). A dedicated test binary: the recorder
//! is global, and a counting allocator measures the live heap.
#![cfg(feature = "local")]

use jwt_authorizer::metrics::prometheus::{UPKEEP_INTERVAL, install};
use jwt_authorizer::{Decision, Outcome};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

struct LiveBytes;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LiveBytes = LiveBytes;

#[test]
fn histogram_samples_do_not_pile_up_when_nobody_scrapes() {
    install().expect("the Prometheus recorder installs");
    jwt_authorizer::metrics::install_handles(&["test"]);
    let decision = Decision {
        outcome: Outcome::Allow,
        reject: None,
        event: None,
        issuer: Some(0),
        kid: Default::default(),
        sub: Default::default(),
        cache_hit: false,
    };
    const BATCH: usize = 200_000;
    let record = || {
        for _ in 0..BATCH {
            jwt_authorizer::metrics::record_decision(&decision, Duration::from_micros(30));
        }
    };
    let start = LIVE.load(Ordering::Relaxed);
    record();
    let before = LIVE.load(Ordering::Relaxed);
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
    let grown = LIVE.load(Ordering::Relaxed) - before;
    assert!(
        grown < one_batch,
        "the live heap grew by {grown} bytes over 3 more batches of {BATCH} samples ({one_batch} bytes queued per batch)"
    );
}
