//! Lambda's EMF sink may not grow with the number of requests: it keeps pre-sized atomic buckets
//! and writes them out after each invocation, so its memory must stay flat however many
//! invocations and flushes a warm function serves. (The Prometheus sink's twin test is
//! tests/prometheus_upkeep.rs.)
//!
//! A dedicated test binary: a counting allocator measures the live heap of the whole process. The
//! Prometheus test has its own, since its global recorder and upkeep thread outlive it and would
//! be counted here.

use jwt_authorizer::metrics::Metrics;
use jwt_authorizer::metrics::emf::{EmfConfig, EmfRecorder};
use jwt_authorizer::{Decision, EventKind, Outcome, Reject};
use std::time::{Duration, SystemTime};

#[path = "support/live_heap.rs"]
mod live_heap;
use live_heap::live_bytes;

#[test]
fn the_emf_sink_stays_flat_over_many_invocations_and_flushes() {
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
