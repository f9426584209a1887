//! What the authorizer counts and times, through the [`metrics`](::metrics) facade.
//!
//! This module emits; [`emf`] (Lambda: CloudWatch Embedded Metric Format on stdout) and
//! `prometheus` (`authorizer serve`: text for the admin listener's `/metrics`) are sinks. A binary
//! installs one recorder, then [`install_handles`]: every handle is registered there, once, into a
//! [`Metrics`] table, so recording an authorization is an array index and a few atomic adds, with
//! no key built, no label hashed and nothing allocated. The table is the authorizer's
//! [`Observer`](crate::report::Observer): the binary hands it to `Authorizer::with_observer`, and
//! the library never calls into this module (tests and `invoke` observe nothing).
//!
//! | Metric | Kind | Labels |
//! |---|---|---|
//! | `authorizations` | counter | `outcome` (`allow`, `deny`, `unauthorized`), `reason` (`none` or a [`Reject`] label), `issuer` |
//! | `authorization_latency_us` | histogram | |
//! | `verified_token_cache_hits` | counter | |
//! | `jwks_refreshes` | counter | `trigger` ([`Trigger`] labels), `result` (`ok` or a fetch error label), `issuer` |
//! | `jwks_fetch_latency_ms` | histogram | `issuer` |
//! | `jwks_keys` | gauge | `issuer` |
//! | `jwks_age_seconds` | gauge | `issuer` |
//! | `cold_start` | counter | |
//! | `init_duration_ms` | histogram | |
//! | `introspection_lookups` | counter | `result` (`hit`, `miss`, `shared`, `rate_limited`), `issuer` |
//! | `introspection_calls` | counter | `result` (`active`, `inactive` or a failure label), `issuer` |
//! | `introspection_latency_ms` | histogram | `issuer` |
//! | `introspection_fail_open` | counter | `issuer` |
//! | `cedar_denials` | counter | `policy` (the denying policy's id, or `none`), `issuer` |
//!
//! Prometheus appends `_total` to counters (and `_bucket`, `_sum`, `_count` to histograms); EMF
//! uses the names as they are. `issuer` is the configured name of the token's issuer, from a closed
//! set ([`NO_ISSUER`] when the token named no configured issuer or was refused before its `iss`
//! was read): never text from a token. It is the last label, so EMF's roll-up by prefix keeps the
//! per-outcome and per-reason series of a single-issuer set-up unchanged.

pub mod emf;
#[cfg(feature = "local")]
pub mod prometheus;

mod dashboard;
#[cfg(feature = "dashboards")]
mod deploy;

pub use dashboard::{
    CLOUDWATCH_TEMPLATE, DashboardError, DashboardParams, GRAFANA_DASHBOARD,
    render_cloudwatch_dashboard,
};
#[cfg(feature = "dashboards")]
pub use deploy::{DeployError, deploy_dashboard};

pub use crate::report::NO_ISSUER;
use crate::report::{
    Attempt, Decision, IntrospectionCall, Lookup, Observer, Outcome, Reject, Trigger,
};
use ::metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};
use std::sync::OnceLock;
use std::time::Duration;

/// Authorizations by outcome and reason.
pub const AUTHORIZATIONS: &str = "authorizations";
/// Time spent in `Authorizer::authorize`, microseconds.
pub const AUTHORIZATION_LATENCY_US: &str = "authorization_latency_us";
/// Tokens whose signature check was answered by the verified-token cache.
pub const VERIFIED_TOKEN_CACHE_HITS: &str = "verified_token_cache_hits";
/// JWKS fetch attempts by trigger and result.
pub const JWKS_REFRESHES: &str = "jwks_refreshes";
/// Time a JWKS fetch attempt took, milliseconds.
pub const JWKS_FETCH_LATENCY_MS: &str = "jwks_fetch_latency_ms";
/// Usable keys in the current key set.
pub const JWKS_KEYS: &str = "jwks_keys";
/// Age of the current key set, seconds.
pub const JWKS_AGE_SECONDS: &str = "jwks_age_seconds";
/// 1 per process start (in Lambda: reported with the first invocation).
pub const COLD_START: &str = "cold_start";
/// From `main` to ready to serve (keys fetched), milliseconds.
pub const INIT_DURATION_MS: &str = "init_duration_ms";
/// Introspection lookups by result: the cache hit ratio is `hit / (hit + miss + shared)`.
pub const INTROSPECTION_LOOKUPS: &str = "introspection_lookups";
/// Calls to an introspection endpoint by result.
pub const INTROSPECTION_CALLS: &str = "introspection_calls";
/// Time an introspection call took, milliseconds.
pub const INTROSPECTION_LATENCY_MS: &str = "introspection_latency_ms";
/// Locally verified JWTs served while introspection was unavailable (`INTROSPECTION_FAIL_OPEN`).
pub const INTROSPECTION_FAIL_OPEN: &str = "introspection_fail_open";
/// Authorizations whose called route Cedar policies denied, by the denying policy.
pub const CEDAR_DENIALS: &str = "cedar_denials";

/// The kind of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up; sinks report it as a rate or a delta.
    Counter,
    /// A current value.
    Gauge,
    /// A distribution.
    Histogram,
}

/// Every metric this crate emits, with its kind and label names: what dashboards may name.
pub const METRICS: [(&str, Kind, &[&str]); 14] = [
    (
        AUTHORIZATIONS,
        Kind::Counter,
        &["outcome", "reason", "issuer"],
    ),
    (AUTHORIZATION_LATENCY_US, Kind::Histogram, &[]),
    (VERIFIED_TOKEN_CACHE_HITS, Kind::Counter, &[]),
    (
        JWKS_REFRESHES,
        Kind::Counter,
        &["trigger", "result", "issuer"],
    ),
    (JWKS_FETCH_LATENCY_MS, Kind::Histogram, &["issuer"]),
    (JWKS_KEYS, Kind::Gauge, &["issuer"]),
    (JWKS_AGE_SECONDS, Kind::Gauge, &["issuer"]),
    (COLD_START, Kind::Counter, &[]),
    (INIT_DURATION_MS, Kind::Histogram, &[]),
    (INTROSPECTION_LOOKUPS, Kind::Counter, &["result", "issuer"]),
    (INTROSPECTION_CALLS, Kind::Counter, &["result", "issuer"]),
    (INTROSPECTION_LATENCY_MS, Kind::Histogram, &["issuer"]),
    (INTROSPECTION_FAIL_OPEN, Kind::Counter, &["issuer"]),
    (CEDAR_DENIALS, Kind::Counter, &["policy", "issuer"]),
];

/// The `reason` label of an authorization that was not refused.
pub const NO_REASON: &str = "none";
const OUTCOMES: [Outcome; 3] = Outcome::ALL;
const TRIGGERS: [Trigger; 4] = Trigger::ALL;
/// `ok` and the labels of `FetchError::as_str`, pre-registered. A label missing here still counts
/// (registered when first seen: refreshes are rare, so that allocation is harmless).
const REFRESH_RESULTS: [&str; 7] = [
    "ok",
    "http_error",
    "bad_status",
    "too_large",
    "timeout",
    "discovery",
    "invalid_jwks",
];
/// `active`, `inactive` and the labels of introspection failures, pre-registered. A label missing
/// here still counts (registered when first seen).
const INTROSPECTION_RESULTS: [&str; 10] = [
    "active",
    "inactive",
    "http_error",
    "timeout",
    "bad_status",
    "too_large",
    "not_json",
    "invalid_json",
    "invalid_response",
    "discovery",
];
const REASONS: usize = Reject::ALL.len() + 1;

/// Every handle, registered once against a recorder. Recording through it never allocates.
pub struct Metrics {
    /// `[0 = no issuer, 1 + issuer index][outcome][0 = none, 1 + reject as usize]`; combinations
    /// that cannot happen (an Allow with a reason, an Unauthorized without one) are no-op
    /// handles, so no sink shows them.
    authorizations: Vec<[[Counter; REASONS]; 3]>,
    latency_us: Histogram,
    cache_hits: Counter,
    /// By issuer index.
    issuers: Vec<IssuerKeyMetrics>,
    cold_start: Counter,
    init_duration_ms: Histogram,
    /// `cedar_denials` by policy id (the configuration's, never a token's), then
    /// `[0 = no issuer, 1 + issuer index]`.
    cedar_denials: Vec<(&'static str, Vec<Counter>)>,
}

/// The handles of one issuer: `jwks_*` and `introspection_*`.
struct IssuerKeyMetrics {
    refreshes: [[Counter; REFRESH_RESULTS.len()]; TRIGGERS.len()],
    fetch_latency_ms: Histogram,
    keys: Gauge,
    age_seconds: Gauge,
    introspection_lookups: [Counter; Lookup::ALL.len()],
    introspection_calls: [Counter; INTROSPECTION_RESULTS.len()],
    introspection_latency_ms: Histogram,
    introspection_fail_open: Counter,
    /// The issuer's name, for handles registered when first needed.
    name: String,
}

const METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
    Key::from_parts(
        name,
        labels
            .iter()
            .map(|&(k, v)| Label::new(k, v.to_owned()))
            .collect::<Vec<_>>(),
    )
}

impl Metrics {
    /// Registers every handle with `recorder` (and describes the metrics to it), for the
    /// configured issuers' names in order.
    pub fn register(recorder: &dyn Recorder, issuers: &[&str]) -> Self {
        for (name, kind, _) in METRICS {
            let help = ::metrics::SharedString::const_str(description(name));
            let name = ::metrics::KeyName::from_const_str(name);
            // No unit: the names carry theirs, and a unit would make Prometheus add a suffix.
            match kind {
                Kind::Counter => recorder.describe_counter(name, None, help),
                Kind::Gauge => recorder.describe_gauge(name, None, help),
                Kind::Histogram => recorder.describe_histogram(name, None, help),
            }
        }
        let counter = |name, labels: &[_]| recorder.register_counter(&key(name, labels), &METADATA);
        let histogram =
            |name, labels: &[_]| recorder.register_histogram(&key(name, labels), &METADATA);
        let gauge = |name, labels: &[_]| recorder.register_gauge(&key(name, labels), &METADATA);
        let authorizations = std::iter::once(NO_ISSUER)
            .chain(issuers.iter().copied())
            .map(|issuer| {
                OUTCOMES.map(|outcome| {
                    std::array::from_fn(|i| {
                        let reason = i.checked_sub(1).map(|r| Reject::ALL[r]);
                        let possible = match outcome {
                            Outcome::Allow => reason.is_none(),
                            Outcome::Deny => true,
                            Outcome::Unauthorized => reason.is_some(),
                        };
                        if !possible {
                            return Counter::noop();
                        }
                        let reason = reason.map_or(NO_REASON, Reject::as_str);
                        counter(
                            AUTHORIZATIONS,
                            &[
                                ("outcome", outcome.as_str()),
                                ("reason", reason),
                                ("issuer", issuer),
                            ],
                        )
                    })
                })
            })
            .collect();
        let issuers = issuers
            .iter()
            .map(|&issuer| IssuerKeyMetrics {
                refreshes: TRIGGERS.map(|trigger| {
                    REFRESH_RESULTS.map(|result| {
                        counter(
                            JWKS_REFRESHES,
                            &[
                                ("trigger", trigger.as_str()),
                                ("result", result),
                                ("issuer", issuer),
                            ],
                        )
                    })
                }),
                fetch_latency_ms: histogram(JWKS_FETCH_LATENCY_MS, &[("issuer", issuer)]),
                keys: gauge(JWKS_KEYS, &[("issuer", issuer)]),
                age_seconds: gauge(JWKS_AGE_SECONDS, &[("issuer", issuer)]),
                introspection_lookups: Lookup::ALL.map(|lookup| {
                    counter(
                        INTROSPECTION_LOOKUPS,
                        &[("result", lookup.as_str()), ("issuer", issuer)],
                    )
                }),
                introspection_calls: INTROSPECTION_RESULTS.map(|result| {
                    counter(
                        INTROSPECTION_CALLS,
                        &[("result", result), ("issuer", issuer)],
                    )
                }),
                introspection_latency_ms: histogram(
                    INTROSPECTION_LATENCY_MS,
                    &[("issuer", issuer)],
                ),
                introspection_fail_open: counter(INTROSPECTION_FAIL_OPEN, &[("issuer", issuer)]),
                name: issuer.to_owned(),
            })
            .collect();
        Metrics {
            authorizations,
            latency_us: histogram(AUTHORIZATION_LATENCY_US, &[]),
            cache_hits: counter(VERIFIED_TOKEN_CACHE_HITS, &[]),
            issuers,
            cold_start: counter(COLD_START, &[]),
            init_duration_ms: histogram(INIT_DURATION_MS, &[]),
            cedar_denials: Vec::new(),
        }
    }

    /// Counts one authorization and its latency.
    #[inline]
    pub fn record_decision(&self, decision: &Decision, latency: Duration) {
        let outcome = decision.outcome as usize;
        let reason = decision.reject.map_or(0, |r| r as usize + 1);
        let issuer = decision.issuer.map_or(0, |i| i + 1);
        if let Some(by_issuer) = self.authorizations.get(issuer) {
            by_issuer[outcome][reason].increment(1);
        }
        self.latency_us.record(latency.as_secs_f64() * 1e6);
        if decision.cache_hit {
            self.cache_hits.increment(1);
        }
        if let Some(policy) = decision.policy {
            self.record_cedar_denial(policy, issuer);
        }
    }

    /// Counts a Cedar denial by `policy` for the issuer at `issuer` (0: none).
    fn record_cedar_denial(&self, policy: &'static str, issuer: usize) {
        let counter = self
            .cedar_denials
            .iter()
            .find(|(id, _)| *id == policy)
            .and_then(|(_, by_issuer)| by_issuer.get(issuer));
        match counter {
            Some(counter) => counter.increment(1),
            // Not registered (a policy added since): registered now, with the global recorder.
            None => ::metrics::counter!(CEDAR_DENIALS, "policy" => policy).increment(1),
        }
    }

    /// Registers `cedar_denials` for these policy ids (see `Config::cedar_policy_ids`).
    pub fn register_cedar_policies(&mut self, recorder: &dyn Recorder, policies: &[&'static str]) {
        let issuers: Vec<String> = std::iter::once(NO_ISSUER.to_owned())
            .chain(self.issuers.iter().map(|i| i.name.clone()))
            .collect();
        for &policy in policies {
            let by_issuer = issuers
                .iter()
                .map(|issuer| {
                    let key = key(CEDAR_DENIALS, &[("policy", policy), ("issuer", issuer)]);
                    recorder.register_counter(&key, &METADATA)
                })
                .collect();
            self.cedar_denials.push((policy, by_issuer));
        }
    }

    /// Counts one JWKS fetch attempt and its latency; a success also sets the key gauges.
    pub fn record_refresh(&self, attempt: &Attempt) {
        let Some(issuer) = self.issuers.get(attempt.issuer) else {
            return;
        };
        let label = match attempt.result {
            Ok(_) => "ok",
            Err(label) => label,
        };
        let trigger = attempt.trigger as usize;
        match REFRESH_RESULTS.iter().position(|&r| r == label) {
            Some(result) => issuer.refreshes[trigger][result].increment(1),
            // Not pre-registered: registered now (refreshes are rare, the allocation harmless).
            None => ::metrics::counter!(
                JWKS_REFRESHES,
                "trigger" => attempt.trigger.as_str(),
                "result" => label,
                "issuer" => attempt.issuer_name.to_string()
            )
            .increment(1),
        }
        issuer
            .fetch_latency_ms
            .record(attempt.elapsed.as_secs_f64() * 1e3);
        if let Ok(keys) = attempt.result {
            issuer.keys.set(keys as f64);
            issuer.age_seconds.set(0.0);
        }
    }

    /// Counts the cold start and records how long init took.
    pub fn record_init(&self, init: Duration) {
        self.cold_start.increment(1);
        self.init_duration_ms.record(init.as_secs_f64() * 1e3);
    }
}

/// The binary wires the handles to the authorizer and its key stores through this.
impl Observer for Metrics {
    #[inline]
    fn decision(&self, decision: &Decision, latency: Duration) {
        self.record_decision(decision, latency);
    }

    fn refresh(&self, attempt: &Attempt) {
        self.record_refresh(attempt);
    }

    fn introspection_lookup(&self, issuer: usize, lookup: Lookup) {
        if let Some(issuer) = self.issuers.get(issuer) {
            issuer.introspection_lookups[lookup as usize].increment(1);
        }
    }

    fn introspection_call(&self, call: &IntrospectionCall) {
        let Some(issuer) = self.issuers.get(call.issuer) else {
            return;
        };
        match INTROSPECTION_RESULTS.iter().position(|&r| r == call.result) {
            Some(result) => issuer.introspection_calls[result].increment(1),
            None => ::metrics::counter!(
                INTROSPECTION_CALLS,
                "result" => call.result,
                "issuer" => issuer.name.clone()
            )
            .increment(1),
        }
        issuer
            .introspection_latency_ms
            .record(call.elapsed.as_secs_f64() * 1e3);
    }

    fn introspection_fail_open(&self, issuer: usize) {
        if let Some(issuer) = self.issuers.get(issuer) {
            issuer.introspection_fail_open.increment(1);
        }
    }

    /// Sets `jwks_keys` and `jwks_age_seconds` of one issuer.
    fn keys(&self, issuer: usize, keys: usize, age: Option<Duration>) {
        let Some(issuer) = self.issuers.get(issuer) else {
            return;
        };
        issuer.keys.set(keys as f64);
        if let Some(age) = age {
            issuer.age_seconds.set(age.as_secs_f64());
        }
    }
}

fn description(name: &str) -> &'static str {
    match name {
        AUTHORIZATIONS => "Authorizations by outcome, reject reason and issuer.",
        AUTHORIZATION_LATENCY_US => "Time to authorize one event, in microseconds.",
        VERIFIED_TOKEN_CACHE_HITS => "Signature checks answered by the verified-token cache.",
        JWKS_REFRESHES => "JWKS fetch attempts by trigger and result.",
        JWKS_FETCH_LATENCY_MS => "Time of one JWKS fetch attempt, in milliseconds.",
        JWKS_KEYS => "Usable keys in the current key set.",
        JWKS_AGE_SECONDS => "Age of the current key set, in seconds.",
        COLD_START => "Process starts (Lambda: cold starts).",
        INIT_DURATION_MS => "Time from process start to ready, in milliseconds.",
        INTROSPECTION_LOOKUPS => {
            "Introspection lookups by result (hit, miss, shared, rate_limited)."
        }
        INTROSPECTION_CALLS => "Calls to the introspection endpoint by result.",
        INTROSPECTION_LATENCY_MS => "Time of one introspection call, in milliseconds.",
        INTROSPECTION_FAIL_OPEN => "JWTs served while introspection was unavailable (fail open).",
        CEDAR_DENIALS => "Authorizations whose route Cedar policies denied, by policy.",
        _ => "",
    }
}

static HANDLES: OnceLock<Metrics> = OnceLock::new();

/// Registers the handles against the global recorder for the configured issuers' names and Cedar
/// policy ids; call once, after installing the recorder and loading the configuration (before
/// anything is recorded). Later calls return the same table.
pub fn install_handles(issuers: &[&str], cedar_policies: &[&'static str]) -> &'static Metrics {
    HANDLES.get_or_init(|| {
        ::metrics::with_recorder(|recorder| {
            let mut metrics = Metrics::register(recorder, issuers);
            metrics.register_cedar_policies(recorder, cedar_policies);
            metrics
        })
    })
}

/// Counts the cold start and the init duration, if handles are installed.
pub fn record_init(init: Duration) {
    if let Some(metrics) = HANDLES.get() {
        metrics.record_init(init);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_discriminants_index_reject_all() {
        for (i, reason) in Reject::ALL.into_iter().enumerate() {
            assert_eq!(reason as usize, i, "{reason}");
        }
        for (i, outcome) in OUTCOMES.into_iter().enumerate() {
            assert_eq!(outcome as usize, i);
        }
        for (i, trigger) in TRIGGERS.into_iter().enumerate() {
            assert_eq!(trigger as usize, i);
        }
    }

    #[test]
    fn every_metric_is_described() {
        for (name, _, _) in METRICS {
            assert!(!description(name).is_empty(), "{name}");
        }
    }
}
