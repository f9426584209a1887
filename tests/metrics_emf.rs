//! CloudWatch Embedded Metric Format: the real binary in Lambda mode under a Runtime API on
//! 127.0.0.1 writes EMF documents on stdout; every one is checked against the EMF specification
//! and the counts against the invocations made. Then the sink alone, on real decisions, with an
//! aggregation window.

mod support;

use jwt_authorizer::metrics::Metrics;
use jwt_authorizer::metrics::emf::{
    EmfConfig, EmfRecorder, MAX_DIMENSIONS, MAX_METRICS_PER_DOCUMENT, MAX_VALUES,
};
use jwt_authorizer::{Outcome, Trigger};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};
use support::runtime_api::{RuntimeApi, spawn_function, stop_and_read_stdout};
use support::*;

/// Checks one document against the EMF specification; returns its metric names.
fn check_emf(doc: &Value) -> Vec<String> {
    let root = doc.as_object().expect("an EMF document is a JSON object");
    let aws = root["_aws"].as_object().expect("_aws is an object");
    let timestamp = aws["Timestamp"]
        .as_u64()
        .expect("Timestamp: ms since the epoch");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        now.abs_diff(timestamp) < 600_000,
        "Timestamp {timestamp} is not now"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics array");
    assert!(!directives.is_empty());
    let mut names = Vec::new();
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("Namespace string");
        assert!(!namespace.is_empty() && namespace.len() <= 255);
        let dimensions = directive["Dimensions"]
            .as_array()
            .expect("Dimensions array");
        for set in dimensions {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(
                !set.is_empty() && set.len() <= MAX_DIMENSIONS,
                "{set:?}: 1 to 30 dimensions"
            );
            for dimension in set {
                let dimension = dimension.as_str().expect("dimension names are strings");
                assert!(
                    root[dimension].is_string(),
                    "dimension {dimension} has a string value at the root: {doc}"
                );
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics array");
        assert!(
            !metrics.is_empty() && metrics.len() <= MAX_METRICS_PER_DOCUMENT,
            "1 to 100 metrics"
        );
        for metric in metrics {
            let name = metric["Name"].as_str().expect("Name string");
            assert!(!name.is_empty() && name.len() <= 255);
            if let Some(unit) = metric.get("Unit") {
                assert!(
                    [
                        "Count",
                        "Microseconds",
                        "Milliseconds",
                        "Seconds",
                        "None",
                        "Bytes"
                    ]
                    .contains(&unit.as_str().unwrap()),
                    "{unit}"
                );
            }
            let value = &root[name];
            match value {
                Value::Number(n) => assert!(n.as_f64().unwrap().is_finite()),
                Value::Object(h) => {
                    let values = h["Values"].as_array().expect("Values");
                    let counts = h["Counts"].as_array().expect("Counts");
                    assert_eq!(values.len(), counts.len(), "{value}");
                    assert!(!values.is_empty() && values.len() <= MAX_VALUES);
                    let count: u64 = counts.iter().map(|c| c.as_u64().unwrap()).sum();
                    assert_eq!(h["Count"].as_u64(), Some(count), "{value}");
                    let (min, max) = (h["Min"].as_f64().unwrap(), h["Max"].as_f64().unwrap());
                    assert!(min <= max && h["Sum"].as_f64().unwrap() >= 0.0);
                }
                other => panic!("metric {name} has no value at the root: {other}"),
            }
            names.push(name.to_owned());
        }
    }
    names
}

/// Sums a counter over documents, keyed by the values of `labels`.
fn counts(docs: &[Value], name: &str, labels: &[&str]) -> BTreeMap<Vec<String>, u64> {
    let mut out = BTreeMap::new();
    for doc in docs.iter().filter(|d| d[name].is_number()) {
        let key = labels
            .iter()
            .map(|l| doc[*l].as_str().unwrap_or_default().to_owned())
            .collect();
        *out.entry(key).or_default() += doc[name].as_u64().unwrap();
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn lambda_invocations_write_emf_that_counts_them() {
    let key = rsa_key("emf");
    let server = JwksServer::with_keys(&[key]).await;
    let mut api = RuntimeApi::start().await;
    let mut child = spawn_function(
        &api,
        &server,
        &[
            ("METRICS_NAMESPACE", "TestAuthorizer"),
            // Per-invocation documents (the default aggregates over 60 s windows).
            ("METRICS_FLUSH_INTERVAL_SECONDS", "0"),
        ],
    );

    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(api.push(token_event(&format!("Bearer {token}"))));
    }
    ids.push(api.push(token_event("Bearer not.a.token")));
    ids.push(api.push(token_event("Bearer not.a.token")));
    ids.push(api.push(token_event("")));
    for _ in &ids {
        api.answer(Duration::from_secs(20))
            .await
            .expect("an answer per event");
    }
    let (stdout, documents) = stop_and_read_stdout(&mut child).await;
    let docs: Vec<Value> = documents
        .into_iter()
        .filter(|line| line.get("_aws").is_some())
        .collect();
    assert!(!docs.is_empty(), "EMF documents on stdout:\n{stdout}");
    let mut names = HashSet::new();
    for doc in &docs {
        names.extend(check_emf(doc));
        assert_eq!(doc["service"], "authorizer", "the function name by default");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "TestAuthorizer"
        );
        let id = doc["function_request_id"].as_str().expect("the request id");
        assert!(ids.iter().any(|i| i == id), "{id}");
    }

    // The issuer dimension: its configured name (by default the issuer URL's host), or `none`
    // when the token was refused before its issuer was known.
    let by_outcome = counts(&docs, "authorizations", &["outcome", "reason", "issuer"]);
    let labels = |l: [&str; 3]| l.map(str::to_owned).to_vec();
    let expected: BTreeMap<Vec<String>, u64> = [
        (labels(["allow", "none", "127.0.0.1"]), 3),
        (labels(["unauthorized", "malformed", "none"]), 2),
        (labels(["unauthorized", "missing_token", "none"]), 1),
    ]
    .into();
    assert_eq!(by_outcome, expected);
    let latency: u64 = docs
        .iter()
        .filter_map(|d| d["authorization_latency_us"]["Count"].as_u64())
        .sum();
    assert_eq!(latency, 6, "one latency value per invocation");
    // One flush per invocation: each request id names the documents of exactly one flush.
    let flushed: HashSet<&str> = docs
        .iter()
        .map(|d| d["function_request_id"].as_str().unwrap())
        .collect();
    assert_eq!(flushed.len(), 6);

    // The cold start and init, once, with the first invocation.
    let cold: Vec<&Value> = docs
        .iter()
        .filter(|d| d["cold_start"].is_number())
        .collect();
    assert_eq!(cold.len(), 1);
    assert_eq!(cold[0]["cold_start"], 1);
    assert_eq!(cold[0]["function_request_id"], ids[0].as_str());
    assert_eq!(cold[0]["init_duration_ms"]["Count"], 1);
    // The init fetch: one refresh, ok, and the key gauges.
    assert_eq!(
        counts(&docs, "jwks_refreshes", &["trigger", "result", "issuer"]),
        [(labels(["init", "ok", "127.0.0.1"]), 1)].into()
    );
    assert!(
        docs.iter()
            .all(|d| d["jwks_keys"].is_null() || d["jwks_keys"] == 1.0)
    );
    for name in [
        "authorizations",
        "authorization_latency_us",
        "jwks_refreshes",
        "jwks_fetch_latency_ms",
        "jwks_keys",
        "jwks_age_seconds",
        "cold_start",
        "init_duration_ms",
    ] {
        assert!(names.contains(name), "{name} emitted");
    }
    // Rolled-up dimension sets: per issuer, per reason, per outcome, per service.
    let auth = docs
        .iter()
        .find(|d| d["authorizations"].is_number())
        .unwrap();
    assert_eq!(
        auth["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([
            ["service", "outcome", "reason", "issuer"],
            ["service", "outcome", "reason"],
            ["service", "outcome"],
            ["service"]
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_window_aggregates_many_authorizations_into_one_document_per_label_set() {
    let key = rsa_key("emf-window");
    let server = JwksServer::with_keys(&[key]).await;
    let authorizer = authorizer_for(&server, &[]);
    let recorder = EmfRecorder::default();
    let handles = Metrics::register(&recorder, &authorizer.issuer_names());
    let sink = recorder.sink(
        EmfConfig::from_lookup(|name| {
            (name == "METRICS_FLUSH_INTERVAL_SECONDS").then(|| "60".to_owned())
        })
        .unwrap(),
    );
    authorizer.refresh_keys(Trigger::Init).await;
    let good = token_event(&format!(
        "Bearer {}",
        key.sign(&good_claims(&server.issuer())).unwrap()
    ));
    let bad = token_event("Bearer a.b.c");
    let mut out = Vec::new();
    let mut allowed = 0;
    for i in 0..5_000u64 {
        let event = if i % 10 == 0 { &bad } else { &good };
        out.clear();
        let decision = authorizer.authorize_at(event, now(), &mut out).await;
        allowed += u64::from(decision.outcome == Outcome::Allow);
        // Latencies spread over four decades, so the buckets must be merged to 100 values.
        handles.record_decision(&decision, Duration::from_nanos(1_000 + i * i * 40));
    }
    assert_eq!(allowed, 4_500);
    assert!(!sink.due(), "no window is open before an invocation ends");
    let mut written = Vec::new();
    sink.flush(Some("ignored-in-a-window"), SystemTime::now(), &mut written)
        .unwrap();
    let docs: Vec<Value> = String::from_utf8(written)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON document per line"))
        .collect();
    for doc in &docs {
        check_emf(doc);
        assert!(
            doc.get("function_request_id").is_none(),
            "no request id for a window"
        );
    }
    let by_outcome = counts(&docs, "authorizations", &["outcome", "reason"]);
    assert_eq!(
        by_outcome[&vec!["allow".to_owned(), "none".to_owned()]],
        4_500
    );
    assert_eq!(
        by_outcome[&vec!["unauthorized".to_owned(), "malformed".to_owned()]],
        500
    );
    let latency = docs
        .iter()
        .find(|d| d["authorization_latency_us"].is_object())
        .unwrap();
    let h = &latency["authorization_latency_us"];
    assert_eq!(h["Count"], 5_000);
    let values = h["Values"].as_array().unwrap().len();
    assert!(values > 50 && values <= MAX_VALUES, "{values} values");
    assert!((h["Min"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    // The cache answered every repeat of the good token.
    let hits: u64 = docs
        .iter()
        .filter_map(|d| d["verified_token_cache_hits"].as_u64())
        .sum();
    assert_eq!(hits, 4_500 - 1);
    // Reset by the flush, and not due again inside the window.
    assert!(!sink.due());
    assert!(sink.documents(None, SystemTime::now()).is_empty());
}
