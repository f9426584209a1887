//! The admin listener: `GET /healthz` (readiness, the key set's age and size, the gateway's
//! counters) and `GET /metrics` (Prometheus text). It is a separate listener so that a load test
//! or a probe never competes with, or is counted as, API traffic.
//!
//! The gateway's counters are plain atomics; `/metrics` appends the authorizer's own metrics from
//! the `metrics-exporter-prometheus` recorder (`crate::metrics::prometheus`) when it is installed.

use super::cache::AuthCache;
use super::gateway::Counters;
use crate::handler::Authorizer;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the admin routes report on.
pub(crate) struct Admin {
    pub(crate) authorizer: Option<Arc<Authorizer>>,
    /// `embedded`, `external` or `off`.
    pub(crate) auth_mode: &'static str,
    pub(crate) counters: Arc<Counters>,
    pub(crate) gateway: Arc<super::gateway::Gateway>,
}

pub(crate) fn routes(admin: Arc<Admin>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(admin)
}

fn cache(admin: &Admin) -> &AuthCache {
    &admin.gateway.cache
}

/// 200 once every issuer's key set holds keys (or auth is off), 503 before.
async fn healthz(State(admin): State<Arc<Admin>>) -> Response {
    let c = &admin.counters;
    let (ready, keys) = match &admin.authorizer {
        None => (true, json!(null)),
        Some(authorizer) => {
            let issuers: Vec<_> = authorizer
                .issuers()
                .iter()
                .map(|issuer| {
                    let set = issuer.keys().keys();
                    json!({
                        "name": issuer.name(),
                        "issuer": issuer.issuer(),
                        "count": set.len(),
                        "kids": set.kids().collect::<Vec<_>>(),
                        "age_seconds": set.fetched_at().map(|t| t.elapsed().as_secs_f64()),
                        "fetch_attempts": issuer.keys().attempts(),
                    })
                })
                .collect();
            let ready = authorizer
                .issuers()
                .iter()
                .all(|issuer| !issuer.keys().keys().is_empty());
            (ready, json!(issuers))
        }
    };
    let body = json!({
        "status": if ready { "ready" } else { "starting" },
        "auth": admin.auth_mode,
        // The first issuer's keys (the only issuer of a three-variable set-up), then every issuer's.
        "keys": keys.get(0),
        "issuers": keys,
        "authorizer_calls": c.authorizer_calls.load(Ordering::Relaxed),
        "cache_hits": c.cache_hits.load(Ordering::Relaxed),
        "cache_entries": cache(&admin).len(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(admin): State<Arc<Admin>>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        render(&admin),
    )
        .into_response()
}

/// The Prometheus text exposition of the counters.
fn render(admin: &Admin) -> String {
    let c = &admin.counters;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let mut out = String::with_capacity(2048);
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    family(
        "gateway_requests_total",
        "counter",
        "API requests by the gateway's authorization result.",
        &[
            (r#"{result="allow"}"#, load(&c.allowed)),
            (r#"{result="explicit_deny"}"#, load(&c.explicit_deny)),
            (r#"{result="implicit_deny"}"#, load(&c.implicit_deny)),
            (r#"{result="unauthorized"}"#, load(&c.unauthorized)),
            (r#"{result="error"}"#, load(&c.errors)),
            (r#"{result="no_auth"}"#, load(&c.no_auth)),
        ],
    );
    family(
        "gateway_unauthorized_before_authorizer_total",
        "counter",
        "401 answers given without calling the authorizer.",
        &[
            (r#"{reason="missing_identity"}"#, load(&c.missing_identity)),
            (r#"{reason="regex_mismatch"}"#, load(&c.regex_mismatch)),
        ],
    );
    family(
        "gateway_authorizer_calls_total",
        "counter",
        "Calls of the authorizer (result cache misses).",
        &[("", load(&c.authorizer_calls))],
    );
    family(
        "gateway_cache_hits_total",
        "counter",
        "Requests answered from the authorizer result cache.",
        &[("", load(&c.cache_hits))],
    );
    family(
        "gateway_cache_entries",
        "gauge",
        "Entries in the authorizer result cache.",
        &[("", cache(admin).len() as u64)],
    );
    let recorded = crate::metrics::prometheus::render(admin.authorizer.as_deref());
    // Without the recorder (a library user's server), the key gauges come from the stores.
    if let (Some(authorizer), None) = (&admin.authorizer, &recorded) {
        let label = |issuer: &crate::TrustedIssuer| format!("{{issuer=\"{}\"}}", issuer.name());
        let issuers = authorizer.issuers();
        let keys: Vec<_> = issuers
            .iter()
            .map(|i| (label(i), i.keys().keys().len() as u64))
            .collect();
        let attempts: Vec<_> = issuers
            .iter()
            .map(|i| (label(i), i.keys().attempts()))
            .collect();
        fn samples(v: &[(String, u64)]) -> Vec<(&str, u64)> {
            v.iter().map(|(l, n)| (l.as_str(), *n)).collect()
        }
        family(
            "jwks_keys",
            "gauge",
            "Usable keys in the current key set.",
            &samples(&keys),
        );
        family(
            "jwks_fetch_attempts_total",
            "counter",
            "JWKS fetch attempts.",
            &samples(&attempts),
        );
    }
    if let Some(recorded) = recorded {
        out.push_str(&recorded);
    }
    out
}
