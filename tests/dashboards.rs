//! The dashboards name only metrics the code emits: every Grafana query's metric names are found in
//! the Prometheus text of a recorder that saw every kind of event, and every CloudWatch widget's
//! metrics (and their dimension sets) in the EMF documents of a sink that saw the same.

mod support;

use jwt_authorizer::metrics::emf::{EmfConfig, EmfRecorder};
use jwt_authorizer::metrics::{self, DashboardParams, Metrics};
use jwt_authorizer::{
    Attempt, Decision, EventKind, IntrospectionCall, Lookup, Observer, Outcome, Trigger,
};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};
use support::*;

/// Decisions of every kind the authorizer makes, from real events.
async fn decisions() -> Vec<Decision> {
    let key = rsa_key("dashboards");
    let server = JwksServer::with_keys(&[key]).await;
    let authorizer = authorizer_for(&server, &[("REJECT_MODE", "deny")]);
    let strict = authorizer_for(&server, &[]);
    authorizer.refresh_keys(Trigger::Init).await;
    strict.refresh_keys(Trigger::Init).await;
    let good = token_event(&format!(
        "Bearer {}",
        key.sign(&good_claims(&server.issuer())).unwrap()
    ));
    let mut out = Vec::new();
    let mut all = Vec::new();
    for event in [&good, &good, &token_event("Bearer x.y.z"), &token_event("")] {
        for a in [&authorizer, &strict] {
            out.clear();
            all.push(a.authorize_at(event, now(), &mut out).await);
        }
    }
    all
}

fn feed(handles: &Metrics, decisions: &[Decision]) {
    for d in decisions {
        handles.record_decision(d, Duration::from_micros(150));
    }
    handles.record_refresh(&Attempt {
        issuer: 0,
        issuer_name: "test".into(),
        trigger: Trigger::Init,
        result: Ok(1),
        elapsed: Duration::from_millis(12),
    });
    handles.record_refresh(&Attempt {
        issuer: 0,
        issuer_name: "test".into(),
        trigger: Trigger::KidMiss,
        result: Err("timeout"),
        elapsed: Duration::from_millis(3000),
    });
    handles.record_init(Duration::from_millis(40));
    for lookup in [Lookup::Hit, Lookup::Miss] {
        handles.introspection_lookup(0, lookup);
    }
    handles.introspection_call(&IntrospectionCall {
        issuer: 0,
        result: "active",
        elapsed: Duration::from_millis(40),
    });
    handles.introspection_fail_open(0);
    // A route that a Cedar policy denied.
    handles.record_decision(
        &Decision {
            outcome: Outcome::Deny,
            event: Some(EventKind::Token),
            issuer: Some(0),
            policy: Some(CEDAR_POLICY),
            ..Decision::new()
        },
        Duration::from_micros(150),
    );
}

/// The id of the Cedar policy that `feed` has deny a route.
const CEDAR_POLICY: &str = "admins-only";

#[cfg(feature = "local")]
/// Metric names in a PromQL expression: identifiers not followed by `(`, outside label matchers,
/// `by (...)`, ranges and strings, that are not keywords.
fn promql_metric_names(expr: &str) -> std::collections::BTreeSet<String> {
    const KEYWORDS: [&str; 24] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "le",
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "group",
    ];
    let mut names = std::collections::BTreeSet::new();
    let bytes = expr.as_bytes();
    let (mut i, mut depth_braces) = (0, 0);
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'{' => depth_braces += 1,
            b'}' => depth_braces -= 1,
            b'[' => {
                while i < bytes.len() && bytes[i] != b']' {
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += 1;
                }
            }
            c if depth_braces == 0 && (c.is_ascii_alphabetic() || c == b'_') => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let word = &expr[start..i];
                let rest = expr[i..].trim_start();
                let keyword = KEYWORDS.contains(&word);
                if (word == "by" || word == "without") && rest.starts_with('(') {
                    i += rest.find(')').unwrap() + (expr.len() - i - rest.len());
                } else if !rest.starts_with('(') && !keyword {
                    names.insert(word.to_owned());
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    names
}

#[cfg(feature = "local")]
#[tokio::test(flavor = "multi_thread")]
async fn every_grafana_query_names_a_metric_the_prometheus_recorder_renders() {
    let handle = metrics::prometheus::install().unwrap();
    feed(
        metrics::install_handles(&["test"], &[CEDAR_POLICY]),
        &decisions().await,
    );
    let text = handle.render();
    let rendered: HashSet<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap())
        .collect();
    for expected in [
        "authorizations_total",
        "authorization_latency_us_bucket",
        "jwks_refreshes_total",
        "jwks_fetch_latency_ms_bucket",
        "cold_start_total",
        "verified_token_cache_hits_total",
    ] {
        assert!(rendered.contains(expected), "{expected} in\n{text}");
    }
    assert!(
        text.contains(r#"authorization_latency_us_bucket{le="200"}"#),
        "microsecond buckets:\n{text}"
    );
    let dashboard: Value = serde_json::from_str(metrics::GRAFANA_DASHBOARD).unwrap();
    let mut checked = 0;
    let mut queries: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap())
        .map(|t| t["expr"].as_str().unwrap().to_owned())
        .collect();
    queries.extend(
        dashboard["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["query"].as_str())
            .filter(|q| q.starts_with("label_values"))
            .map(|q| q.replace("label_values(", "(").replace(", job)", ")")),
    );
    for expr in &queries {
        let names = promql_metric_names(expr);
        assert!(!names.is_empty(), "no metric in {expr}");
        for name in names {
            assert!(
                rendered.contains(name.as_str()),
                "`{expr}` names {name}, which is not emitted"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10);
    // The checker itself catches a wrong name.
    assert!(
        promql_metric_names("rate(authorisations_total{a=\"b\"}[5m])")
            .contains("authorisations_total")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_cloudwatch_widget_names_an_emitted_metric_and_dimension_set() {
    let recorder = EmfRecorder::default();
    let server = JwksServer::with_keys(&[rsa_key("x")]).await;
    let authorizer = authorizer_for(&server, &[]);
    let mut handles = Metrics::register(&recorder, &authorizer.issuer_names());
    handles.register_cedar_policies(&recorder, &[CEDAR_POLICY]);
    let sink = recorder.sink(EmfConfig::from_lookup(|_| None).unwrap());
    feed(&handles, &decisions().await);
    let keys = authorizer.issuers()[0].keys().keys();
    jwt_authorizer::Observer::keys(&handles, 0, keys.len(), Some(Duration::from_secs(1)));
    let docs = sink.documents(Some("req-1"), SystemTime::now());
    // Emitted: metric name → its dimension sets; and every root member (for Logs Insights).
    let mut emitted: HashMap<String, HashSet<Vec<String>>> = HashMap::new();
    let mut members: HashSet<String> = HashSet::new();
    for doc in &docs {
        members.extend(doc.as_object().unwrap().keys().cloned());
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        let sets: Vec<Vec<String>> =
            serde_json::from_value(directive["Dimensions"].clone()).unwrap();
        for m in directive["Metrics"].as_array().unwrap() {
            let entry = emitted
                .entry(m["Name"].as_str().unwrap().to_owned())
                .or_default();
            for set in &sets {
                let mut set = set.clone();
                set.sort();
                entry.insert(set);
            }
        }
    }
    let aws: HashMap<&str, &[&str]> = [
        (
            "AWS/Lambda",
            &["Duration", "Errors", "Throttles", "ConcurrentExecutions"][..],
        ),
        (
            "AWS/ApiGateway",
            &["Count", "Latency", "4XXError", "5XXError"][..],
        ),
    ]
    .into();
    let params = DashboardParams {
        function: "auth-fn".into(),
        api: "PetStore".into(),
        stage: "prod".into(),
        region: "eu-west-1".into(),
        namespace: "JwtAuthorizer".into(),
        service: "auth-fn".into(),
    };
    let body: Value =
        serde_json::from_str(&metrics::render_cloudwatch_dashboard(&params).unwrap()).unwrap();
    let mut seen_aws = HashSet::new();
    let mut checked = 0;
    for widget in body["widgets"].as_array().unwrap() {
        let props = &widget["properties"];
        if widget["type"] == "log" {
            let query = props["query"].as_str().unwrap();
            assert!(query.starts_with("SOURCE '/aws/lambda/auth-fn'"), "{query}");
            // Every snake_case field the query reads is a member of our documents.
            for word in query.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            {
                let field = word.split('.').next().unwrap();
                if field.contains('_') && !query.contains(&format!("as {field}")) {
                    assert!(members.contains(field), "log widget reads {field}: {query}");
                    checked += 1;
                }
            }
            continue;
        }
        let Some(metrics) = props["metrics"].as_array() else {
            continue;
        };
        for entry in metrics {
            let entry = entry.as_array().unwrap();
            if let Some(expression) = entry[0]["expression"].as_str() {
                if let Some(search) = expression.strip_prefix("SEARCH('{") {
                    let (schema, rest) = search.split_once('}').unwrap();
                    let mut dims: Vec<String> =
                        schema.split(',').skip(1).map(str::to_owned).collect();
                    dims.sort();
                    assert_eq!(schema.split(',').next().unwrap(), "\"JwtAuthorizer\"");
                    let name = rest
                        .split("MetricName=\"")
                        .nth(1)
                        .unwrap()
                        .split('"')
                        .next()
                        .unwrap();
                    assert!(
                        emitted.get(name).is_some_and(|sets| sets.contains(&dims)),
                        "SEARCH names {name} {dims:?}, not emitted: {emitted:?}"
                    );
                    checked += 1;
                }
                continue;
            }
            let strings: Vec<&str> = entry.iter().filter_map(Value::as_str).collect();
            let (namespace, name) = (strings[0], strings[1]);
            let mut dims: Vec<String> = strings[2..]
                .iter()
                .step_by(2)
                .map(|s| s.to_string())
                .collect();
            dims.sort();
            match namespace {
                "JwtAuthorizer" => {
                    assert!(
                        emitted.get(name).is_some_and(|sets| sets.contains(&dims)),
                        "widget {} names {name} {dims:?}, not emitted",
                        props["title"]
                    );
                    assert_eq!(strings[3], "auth-fn", "the service dimension's value");
                }
                other => {
                    assert!(aws[other].contains(&name), "{other} {name}");
                    seen_aws.insert(name);
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked}");
    for names in aws.values() {
        for name in *names {
            assert!(seen_aws.contains(name), "the dashboard shows {name}");
        }
    }
    for (name, _, _) in metrics::METRICS {
        assert!(
            body.to_string().contains(&format!("\"{name}\""))
                || body.to_string().contains(&format!("\\\"{name}\\\"")),
            "the dashboard shows {name}"
        );
    }
}
