//! Neither metrics sink may grow with the number of requests.
//!
//! `authorizer serve`'s Prometheus recorder keeps every histogram sample queued until it is folded
//! into the buckets ("upkeep"). Regression: upkeep only ran on a scrape of `/metrics`, so a `serve`
//! that nobody scraped grew by about 17 bytes per request, without bound (found by
//! `loadtest/soak`: RSS +20 % in a minute at 2,600 req/s). Lambda's EMF sink keeps pre-sized
//! atomic buckets and writes them out after each invocation: its memory must stay flat however many
//! invocations and flushes a warm function serves.
//!
//! A dedicated test binary: a counting allocator measures the live heap of the whole process, so
//! the tests take turns ([`one_at_a_time`]).

use jwt_authorizer::metrics::Metrics;
use jwt_authorizer::metrics::emf::{EmfConfig, EmfRecorder};
use jwt_authorizer::{Decision, EventKind, Outcome, Reject};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

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

fn live_bytes() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Serialises the tests: each measures the heap of the whole process.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(feature = "local")]
#[test]
fn histogram_samples_do_not_pile_up_when_nobody_scrapes() {
    use jwt_authorizer::metrics::prometheus::{UPKEEP_INTERVAL, install};
    let _turn = one_at_a_time();
    install().expect("the Prometheus recorder installs");
    jwt_authorizer::metrics::install_handles(&["test"]);
    let decision = decision(Outcome::Allow, None);
    const BATCH: usize = 200_000;
    let record = || {
        for _ in 0..BATCH {
            jwt_authorizer::metrics::record_decision(&decision, Duration::from_micros(30));
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

#[test]
fn the_emf_sink_stays_flat_over_many_invocations_and_flushes() {
    let _turn = one_at_a_time();
    let recorder = EmfRecorder::default();
    let sink =
        recorder.sink(EmfConfig::from_lookup(|_| None).expect("the default EMF configuration"));
    let metrics = Metrics::register(&recorder, &["auth0", "cognito"]);
    metrics.record_init(Duration::from_millis(40));
    // One warm invocation: a decision of every outcome and reason in turn, then the flush that
    // Lambda mode does after each invocation (no aggregation window by default).
    let outcomes = [
        (Outcome::Allow, None),
        (Outcome::Deny, None),
        (Outcome::Deny, Some(Reject::Expired)),
    ]
    .into_iter()
    .chain(Reject::ALL.map(|reason| (Outcome::Unauthorized, Some(reason))));
    let outcomes: Vec<_> = outcomes.collect();
    let mut written = 0;
    let mut invoke = |i: usize| {
        let (outcome, reason) = outcomes[i % outcomes.len()];
        let mut decision = decision(outcome, reason);
        decision.issuer = (i % 3 != 2).then_some(i % 2);
        decision.cache_hit = i.is_multiple_of(5);
        metrics.record_decision(&decision, Duration::from_micros(20 + (i % 997) as u64 * 37));
        let mut out = Vec::new();
        sink.flush(
            Some("c6af9ac6-7b61-11e6-9a41-93e8deadbeef"),
            SystemTime::now(),
            &mut out,
        )
        .expect("flushing into memory");
        written += out.len();
    };
    // Warm-up: every series has been seen and flushed at least once.
    for i in 0..2_000 {
        invoke(i);
    }
    let before = live_bytes();
    const INVOCATIONS: usize = 20_000;
    for i in 2_000..2_000 + INVOCATIONS {
        invoke(i);
    }
    let grown = live_bytes() - before;
    assert!(
        written > INVOCATIONS * 100,
        "every invocation wrote its metrics ({written} bytes)"
    );
    assert!(
        grown < 1024,
        "the live heap grew by {grown} bytes over {INVOCATIONS} invocations"
    );
}

/// A decision as the handler records it.
fn decision(outcome: Outcome, reject: Option<Reject>) -> Decision {
    Decision {
        outcome,
        reject,
        event: Some(EventKind::Token),
        issuer: Some(0),
        kid: Default::default(),
        sub: Default::default(),
        cache_hit: false,
        policy: None,
    }
}
