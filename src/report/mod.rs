//! What the library reports, and to whom: the values several layers share (a decision and its
//! outcome, refusal reasons, key refresh attempts, introspection lookups and calls) and the
//! [`Observer`] that receives them.
//!
//! This module is the bottom layer: it imports nothing else of the crate, so that the hot path,
//! the refresher, the metrics sinks and the binary can all name these values without importing
//! each other. The handler and the refresher report through an [`Observer`] they are given (as
//! `metrics`' facade leaves recording to an installed recorder); the binary wires it to the
//! metrics sinks (`crate::metrics::Metrics`), and tests and `invoke` leave it at [`Unobserved`].

mod decision;
mod introspection;
mod refresh;
mod reject;

pub use decision::{Decision, EventKind, Outcome};
pub use introspection::{IntrospectionCall, Lookup};
pub use refresh::{Attempt, Trigger};
pub use reject::{Reject, UNAUTHORIZED};

use std::time::Duration;

/// The `issuer` label (metric dimension, log field) of an authorization whose token named no
/// configured issuer, or was refused before its `iss` was read. No issuer may be named so.
pub const NO_ISSUER: &str = "none";

/// Receives what the authorizer and its key stores did. Every method has an empty default, so an
/// observer implements only what it records.
///
/// Called on the hot path ([`Observer::decision`], once per authorization): an implementation
/// must not block, and should not allocate.
pub trait Observer: Send + Sync {
    /// One authorization, after its answer was written, and how long it took.
    fn decision(&self, decision: &Decision, latency: Duration) {
        let _ = (decision, latency);
    }

    /// One JWKS fetch attempt, successful or not.
    fn refresh(&self, attempt: &Attempt) {
        let _ = attempt;
    }

    /// The state of an issuer's key set, asked for before metrics are written out (the age grows
    /// between refreshes): how many keys it holds, and how old it is (none before a first fetch
    /// or file).
    fn keys(&self, issuer: usize, keys: usize, age: Option<Duration>) {
        let _ = (issuer, keys, age);
    }

    /// How an introspection lookup for the `issuer`-th issuer was answered.
    fn introspection_lookup(&self, issuer: usize, lookup: Lookup) {
        let _ = (issuer, lookup);
    }

    /// One call to an introspection endpoint.
    fn introspection_call(&self, call: &IntrospectionCall) {
        let _ = call;
    }

    /// A locally verified JWT of the `issuer`-th issuer served while introspection was
    /// unavailable (`INTROSPECTION_FAIL_OPEN`).
    fn introspection_fail_open(&self, issuer: usize) {
        let _ = issuer;
    }
}

/// A shared observer is an observer: `Arc::new(&METRICS)` wires a `static` table.
impl<O: Observer + ?Sized> Observer for &O {
    fn decision(&self, decision: &Decision, latency: Duration) {
        (**self).decision(decision, latency);
    }

    fn refresh(&self, attempt: &Attempt) {
        (**self).refresh(attempt);
    }

    fn keys(&self, issuer: usize, keys: usize, age: Option<Duration>) {
        (**self).keys(issuer, keys, age);
    }

    fn introspection_lookup(&self, issuer: usize, lookup: Lookup) {
        (**self).introspection_lookup(issuer, lookup);
    }

    fn introspection_call(&self, call: &IntrospectionCall) {
        (**self).introspection_call(call);
    }

    fn introspection_fail_open(&self, issuer: usize) {
        (**self).introspection_fail_open(issuer);
    }
}

/// The observer that records nothing: tests, `invoke`, benchmarks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unobserved;

impl Observer for Unobserved {}
