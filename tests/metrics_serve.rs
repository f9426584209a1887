//! `authorizer serve` exposes the authorizer's metrics at the admin listener's `/metrics`:
//! known traffic, then a scrape with the expected counts.
#![cfg(feature = "local")]

mod support;
use support::serve::Serve;

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_the_traffic_served() {
    let serve = Serve::start(&[], &[]).await;
    // The gateway's result cache answers repeats of one token, so only distinct tokens reach the
    // authorizer: one good token and two refused ones.
    assert_eq!(serve.get("/pets", Some(&serve.bearer())).await.status, 200);
    assert_eq!(
        serve.get("/pets", Some("Bearer aaa.bbb.ccc")).await.status,
        401
    );
    assert_eq!(
        serve.get("/pets", Some("Bearer aaa.bbb.ddd")).await.status,
        401
    );

    let text = serve
        .http
        .get(format!("{}/metrics", serve.admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |series: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{series} in\n{text}"))
    };
    // The embedded issuer is named after its host; junk tokens have no issuer.
    assert_eq!(
        value(r#"authorizations_total{outcome="allow",reason="none",issuer="127.0.0.1"}"#),
        1.0
    );
    assert_eq!(
        value(r#"authorizations_total{outcome="unauthorized",reason="malformed",issuer="none"}"#),
        2.0
    );
    assert_eq!(value("authorization_latency_us_count"), 3.0);
    assert_eq!(value(r#"authorization_latency_us_bucket{le="+Inf"}"#), 3.0);
    assert_eq!(value(r#"jwks_keys{issuer="127.0.0.1"}"#), 1.0);
    // The set's age at the scrape: set to 0 by the fetch, then brought up to date before each
    // scrape, so it has grown since (an alarm on stale keys reads it).
    assert!(value(r#"jwks_age_seconds{issuer="127.0.0.1"}"#) > 0.0);
    assert_eq!(value("cold_start_total"), 1.0);
    assert!(
        text.contains("# TYPE authorization_latency_us histogram"),
        "{text}"
    );
    assert!(text.contains("gateway_authorizer_calls_total 3"), "{text}");
    assert_eq!(
        text.matches("# TYPE jwks_keys ").count(),
        1,
        "one jwks_keys family"
    );
}
