//! Token introspection (RFC 7662, issue 19) through the real binary against an introspection
//! endpoint on 127.0.0.1 (tests/support/introspection.rs): opaque tokens and revoked JWTs, in
//! each mode; endpoint faults refused (fail closed) or, for JWTs with INTROSPECTION_FAIL_OPEN,
//! served and counted; one call per token whatever the concurrency; a flood of made-up opaque
//! tokens bounded by the per-issuer rate of calls.
#![cfg(feature = "local")]

mod support;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::introspection::{CLIENT_ID, CLIENT_SECRET, Fault, IntrospectionServer};
use support::invoke::{env_for, invoke};
use support::serve::Serve;
use support::*;

/// What a request may take beyond a configured time (a debug binary on a shared machine).
const MARGIN: Duration = Duration::from_millis(1500);

/// The claims an endpoint answers for an active token of `issuer`.
fn active_claims(issuer: &str, sub: &str) -> Value {
    json!({
        "iss": issuer,
        "sub": sub,
        "aud": AUDIENCE,
        "client_id": "mobile-app",
        "scope": "read:pets",
        "exp": now() + 3600,
        "iat": now() - 10,
        "token_type": "Bearer",
    })
}

fn introspection_env(
    jwks: &JwksServer,
    endpoint: &IntrospectionServer,
    mode: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut env = env_for(
        jwks,
        &[
            ("INTROSPECT", mode),
            ("INTROSPECTION_ENDPOINT", &endpoint.endpoint()),
            ("INTROSPECTION_CLIENT_ID", CLIENT_ID),
            ("INTROSPECTION_CLIENT_SECRET", CLIENT_SECRET),
            ("INTROSPECTION_TIMEOUT_MS", "400"),
        ],
    );
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env
}

fn refused_for(run: &support::invoke::Run, reason: &str) -> bool {
    run.code == 1 && run.stderr.contains(&format!("\"{reason}\""))
}

#[tokio::test]
async fn opaque_tokens_are_introspected_and_their_claims_checked_like_a_jwts() {
    let jwks = JwksServer::with_keys(&[rsa_key("introspect")]).await;
    let endpoint = IntrospectionServer::start().await;
    let issuer = jwks.issuer();
    endpoint.activate("opaque-alice", active_claims(&issuer, "alice"));
    let mut other_audience = active_claims(&issuer, "bob");
    other_audience["aud"] = json!("https://other.example.com");
    endpoint.activate("opaque-other-audience", other_audience);
    let mut expired = active_claims(&issuer, "carol");
    expired["exp"] = json!(now() - 60);
    endpoint.activate("opaque-expired", expired);
    endpoint.activate(
        "opaque-other-issuer",
        active_claims("https://elsewhere.example/", "dave"),
    );
    let mut no_exp = active_claims(&issuer, "erin");
    no_exp.as_object_mut().unwrap().remove("exp");
    endpoint.activate("opaque-without-exp", no_exp);
    let env = introspection_env(
        &jwks,
        &endpoint,
        "opaque",
        &[
            ("CONTEXT_CLAIMS", "client_id"),
            ("POLICY_RESOURCE", "method"),
        ],
    );

    let run = invoke(&env, token_event("Bearer opaque-alice")).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let answer = run.answer();
    assert_eq!(answer["principalId"], "alice");
    assert_eq!(answer["context"]["scope"], "read:pets");
    assert_eq!(answer["context"]["client_id"], "mobile-app");
    assert_eq!(endpoint.calls(), 1);
    assert_eq!(
        endpoint.unauthenticated(),
        0,
        "client_secret_basic accepted"
    );

    for (token, reason) in [
        ("opaque-unknown", "token_inactive"),
        ("opaque-other-audience", "bad_audience"),
        ("opaque-expired", "expired"),
        ("opaque-other-issuer", "unknown_issuer"),
        ("opaque-without-exp", "missing_claim"),
    ] {
        let run = invoke(&env, token_event(&format!("Bearer {token}"))).await;
        assert!(
            refused_for(&run, reason),
            "{token}: {reason}: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains(CLIENT_SECRET),
            "the secret is never logged"
        );
    }
    endpoint.revoke("opaque-alice");
    let run = invoke(&env, token_event("Bearer opaque-alice")).await;
    assert!(refused_for(&run, "token_inactive"), "{}", run.stderr);

    // A JWT is verified locally in `opaque` mode: no call.
    let calls = endpoint.calls();
    let jwt = rsa_key("introspect").sign(&good_claims(&issuer)).unwrap();
    let run = invoke(&env, token_event(&format!("Bearer {jwt}"))).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(endpoint.calls(), calls);

    // Without introspection an opaque token is what it always was: malformed.
    let run = invoke(&env_for(&jwks, &[]), token_event("Bearer opaque-alice")).await;
    assert!(refused_for(&run, "malformed"), "{}", run.stderr);
}

#[tokio::test]
async fn the_endpoint_is_discovered_from_the_issuers_metadata() {
    let jwks = JwksServer::with_keys(&[rsa_key("introspect")]).await;
    let endpoint = IntrospectionServer::start().await;
    let issuer = jwks.issuer();
    jwks.set_discovery(json!({
        "issuer": issuer,
        "jwks_uri": jwks.jwks_uri(),
        "introspection_endpoint": endpoint.endpoint(),
    }));
    endpoint.activate("opaque-alice", active_claims(&issuer, "alice"));
    let env: Vec<(String, String)> = introspection_env(&jwks, &endpoint, "opaque", &[])
        .into_iter()
        .filter(|(k, _)| k != "INTROSPECTION_ENDPOINT")
        .collect();
    let run = invoke(&env, token_event("Bearer opaque-alice")).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(endpoint.calls(), 1);

    // Metadata naming another issuer is not used (RFC 8414 §3.3).
    jwks.set_discovery(json!({
        "issuer": "https://elsewhere.example/",
        "introspection_endpoint": endpoint.endpoint(),
    }));
    let run = invoke(&env, token_event("Bearer opaque-alice")).await;
    assert!(
        refused_for(&run, "introspection_unavailable"),
        "{}",
        run.stderr
    );
    assert_eq!(endpoint.calls(), 1);
}

#[tokio::test]
async fn every_endpoint_fault_is_refused_as_introspection_unavailable() {
    let jwks = JwksServer::with_keys(&[rsa_key("introspect")]).await;
    let endpoint = IntrospectionServer::start().await;
    endpoint.activate("opaque-alice", active_claims(&jwks.issuer(), "alice"));
    let env = introspection_env(&jwks, &endpoint, "opaque", &[]);
    let faults = [
        ("500", Fault::Status(500)),
        ("503", Fault::Status(503)),
        ("HTML", Fault::Html),
        ("an oversized body", Fault::Huge(100 * 1024)),
        ("invalid JSON", Fault::Json("{\"active\": tru".into())),
        ("active missing", Fault::Json(r#"{"sub":"alice"}"#.into())),
        (
            "active a string",
            Fault::Json(r#"{"active":"true"}"#.into()),
        ),
        ("active a number", Fault::Json(r#"{"active":1}"#.into())),
        (
            "active twice",
            Fault::Json(r#"{"active":false,"active":true}"#.into()),
        ),
        ("a JSON array", Fault::Json("[true]".into())),
        ("a timeout", Fault::Slow(Duration::from_secs(5))),
    ];
    for (what, fault) in faults {
        endpoint.set_fault(fault);
        let started = Instant::now();
        let run = invoke(&env, token_event("Bearer opaque-alice")).await;
        assert!(
            refused_for(&run, "introspection_unavailable"),
            "{what}: {}",
            run.stderr
        );
        assert!(
            started.elapsed() < Duration::from_millis(400) + MARGIN,
            "{what}: bounded by INTROSPECTION_TIMEOUT_MS, took {:?}",
            started.elapsed()
        );
    }
    endpoint.stop();
    let run = invoke(&env, token_event("Bearer opaque-alice")).await;
    assert!(
        refused_for(&run, "introspection_unavailable"),
        "endpoint down: {}",
        run.stderr
    );
}

#[tokio::test]
async fn wrong_client_credentials_are_refused_and_the_secret_never_logged() {
    let jwks = JwksServer::with_keys(&[rsa_key("introspect")]).await;
    let endpoint = IntrospectionServer::start().await;
    endpoint.activate("opaque-alice", active_claims(&jwks.issuer(), "alice"));
    let wrong = "not-the-secret-XYZ";
    let env = introspection_env(
        &jwks,
        &endpoint,
        "opaque",
        &[
            ("INTROSPECTION_CLIENT_SECRET", wrong),
            ("RUST_LOG", "debug"),
        ],
    );
    let run = invoke(&env, token_event("Bearer opaque-alice")).await;
    assert!(
        refused_for(&run, "introspection_unavailable"),
        "{}",
        run.stderr
    );
    assert_eq!(endpoint.unauthenticated(), 1);
    assert!(
        run.stderr.contains("INTROSPECTION_CLIENT_SECRET"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(wrong), "{}", run.stderr);
    assert!(
        !run.stderr.contains("opaque-alice"),
        "nor the token: {}",
        run.stderr
    );

    // From a file, with the newline `echo` leaves.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, format!("{CLIENT_SECRET}\n")).unwrap();
    let env: Vec<(String, String)> = introspection_env(
        &jwks,
        &endpoint,
        "opaque",
        &[("INTROSPECTION_CLIENT_SECRET_FILE", file.to_str().unwrap())],
    )
    .into_iter()
    .filter(|(k, _)| k != "INTROSPECTION_CLIENT_SECRET")
    .collect();
    let run = invoke(&env, token_event("Bearer opaque-alice")).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
}

async fn scrape(serve: &Serve) -> String {
    serve
        .http
        .get(format!("{}/metrics", serve.admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The sum of the series of `name` whose labels contain every one of `labels`.
fn metric(metrics: &str, name: &str, labels: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

async fn serve_with(
    jwks: &JwksServer,
    endpoint: &IntrospectionServer,
    extra: &[(&str, &str)],
) -> Serve {
    let (issuer, jwks_uri, introspect) = (jwks.issuer(), jwks.jwks_uri(), endpoint.endpoint());
    let env: Vec<(&str, &str)> = [
        ("TOKEN_ISSUER", issuer.as_str()),
        ("JWKS_URI", jwks_uri.as_str()),
        ("AUDIENCE", AUDIENCE),
        ("INTROSPECTION_ENDPOINT", introspect.as_str()),
        ("INTROSPECTION_CLIENT_ID", CLIENT_ID),
        ("INTROSPECTION_CLIENT_SECRET", CLIENT_SECRET),
        ("INTROSPECTION_TIMEOUT_MS", "2000"),
    ]
    .iter()
    .chain(extra)
    .copied()
    .collect();
    Serve::start(&["--cache-ttl", "0"], &env).await
}

/// Polls until `bearer` is refused; returns how long that took.
async fn until_refused(serve: &Serve, bearer: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    while serve.get("/pets", Some(bearer)).await.status == 200 {
        assert!(
            started.elapsed() < limit,
            "still allowed after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn a_revoked_token_stops_working_within_the_cache_time_in_each_mode() {
    let key = rsa_key("introspect");
    let jwks = JwksServer::with_keys(&[key]).await;
    let endpoint = IntrospectionServer::start().await;
    let issuer = jwks.issuer();
    let jwt = key.sign(&good_claims(&issuer)).unwrap();
    endpoint.activate(&jwt, active_claims(&issuer, "auth0|alice"));
    endpoint.activate("opaque-alice", active_claims(&issuer, "alice"));
    let cache = Duration::from_secs(1);
    let serve = serve_with(
        &jwks,
        &endpoint,
        &[
            ("INTROSPECT", "always"),
            ("INTROSPECTION_CACHE_SECONDS", "1"),
        ],
    )
    .await;
    let (jwt, opaque) = (format!("Bearer {jwt}"), "Bearer opaque-alice".to_owned());
    for bearer in [&jwt, &opaque] {
        assert_eq!(serve.get("/pets", Some(bearer)).await.status, 200);
        assert_eq!(serve.get("/pets", Some(bearer)).await.status, 200);
    }
    assert_eq!(
        endpoint.calls(),
        2,
        "the second request of each came from the cache"
    );
    let metrics = scrape(&serve).await;
    assert_eq!(
        metric(&metrics, "introspection_lookups_total", &["result=\"hit\""]),
        2.0
    );
    assert_eq!(
        metric(
            &metrics,
            "introspection_calls_total",
            &["result=\"active\""]
        ),
        2.0
    );

    endpoint.revoke(&jwt["Bearer ".len()..]);
    endpoint.revoke("opaque-alice");
    for bearer in [&jwt, &opaque] {
        let took = until_refused(&serve, bearer, cache + MARGIN).await;
        assert!(took <= cache + MARGIN, "{took:?}");
    }
    let metrics = scrape(&serve).await;
    assert!(
        metric(
            &metrics,
            "authorizations_total",
            &["reason=\"token_inactive\""]
        ) >= 2.0,
        "{metrics}"
    );
}

#[tokio::test]
async fn with_the_endpoint_down_jwts_are_refused_or_served_when_failing_open_and_counted() {
    let key = rsa_key("introspect");
    let jwks = JwksServer::with_keys(&[key]).await;
    let endpoint = IntrospectionServer::start().await;
    let jwt = format!("Bearer {}", key.sign(&good_claims(&jwks.issuer())).unwrap());
    endpoint.set_fault(Fault::Status(500));

    let closed = serve_with(&jwks, &endpoint, &[("INTROSPECT", "always")]).await;
    assert_eq!(closed.get("/pets", Some(&jwt)).await.status, 401);
    let metrics = scrape(&closed).await;
    assert_eq!(
        metric(
            &metrics,
            "authorizations_total",
            &["reason=\"introspection_unavailable\""]
        ),
        1.0
    );

    let open = serve_with(
        &jwks,
        &endpoint,
        &[
            ("INTROSPECT", "always"),
            ("INTROSPECTION_FAIL_OPEN", "true"),
        ],
    )
    .await;
    assert_eq!(open.get("/pets", Some(&jwt)).await.status, 200);
    assert_eq!(
        open.get("/pets", Some("Bearer opaque-x")).await.status,
        401,
        "opaque: never open"
    );
    let metrics = scrape(&open).await;
    assert_eq!(
        metric(&metrics, "introspection_fail_open_total", &[]),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "introspection_calls_total",
            &["result=\"bad_status\""]
        ),
        2.0
    );
}

#[tokio::test]
async fn a_burst_of_200_requests_with_one_new_token_makes_one_call() {
    let jwks = JwksServer::with_keys(&[rsa_key("introspect")]).await;
    let endpoint = IntrospectionServer::start().await;
    endpoint.activate("opaque-burst", active_claims(&jwks.issuer(), "alice"));
    // The call stays in flight long enough for the whole burst to arrive while it is.
    endpoint.set_delay(Duration::from_millis(500));
    let serve = serve_with(&jwks, &endpoint, &[("INTROSPECT", "opaque")]).await;
    let requests = (0..200).map(|_| serve.get("/pets", Some("Bearer opaque-burst")));
    let statuses: Vec<u16> = futures_util::future::join_all(requests)
        .await
        .iter()
        .map(|a| a.status)
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(endpoint.calls(), 1);
    let metrics = scrape(&serve).await;
    let lookups = |r: &str| {
        metric(
            &metrics,
            "introspection_lookups_total",
            &[&format!("result=\"{r}\"")],
        )
    };
    assert_eq!(lookups("miss"), 1.0);
    assert_eq!(lookups("miss") + lookups("shared") + lookups("hit"), 200.0);
}

#[tokio::test]
async fn a_flood_of_random_opaque_tokens_costs_the_endpoint_a_bounded_number_of_calls() {
    let jwks = JwksServer::with_keys(&[rsa_key("introspect")]).await;
    let endpoint = IntrospectionServer::start().await;
    let serve = serve_with(
        &jwks,
        &endpoint,
        &[
            ("INTROSPECT", "opaque"),
            ("INTROSPECTION_MAX_CALLS_PER_SECOND", "5"),
        ],
    )
    .await;
    let started = Instant::now();
    let serve = &serve;
    let requests = (0..300).map(|i| {
        let token = format!("Bearer random-{i}-{}", rand::random::<u64>());
        async move { serve.get("/pets", Some(&token)).await.status }
    });
    let statuses = futures_util::future::join_all(requests).await;
    let elapsed = started.elapsed();
    assert!(statuses.iter().all(|s| *s == 401));
    // A burst of one second's worth, then the rate.
    let bound = 5 + (elapsed.as_secs_f64() * 5.0).ceil() as usize;
    assert!(
        endpoint.calls() <= bound,
        "{} calls in {elapsed:?}",
        endpoint.calls()
    );
    let metrics = scrape(serve).await;
    let limited = metric(
        &metrics,
        "authorizations_total",
        &["reason=\"introspection_rate_limited\""],
    );
    let inactive = metric(
        &metrics,
        "authorizations_total",
        &["reason=\"token_inactive\""],
    );
    assert_eq!(inactive as usize, endpoint.calls());
    assert_eq!(limited as usize + endpoint.calls(), 300);
}

#[tokio::test]
async fn a_config_file_issuer_introspects_and_route_rules_narrow_always_to_their_routes() {
    let key = rsa_key("introspect");
    let jwks = JwksServer::with_keys(&[key]).await;
    let endpoint = IntrospectionServer::start().await;
    let issuer = jwks.issuer();
    // Not activated at the endpoint: every introspection of it says inactive.
    let jwt = key.sign(&good_claims(&issuer)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("issuers.toml");
    std::fs::write(
        &file,
        format!(
            r#"
            [[issuer]]
            name = "users"
            issuer = "{issuer}"
            jwks_uri = "{jwks_uri}"
            audiences = ["{AUDIENCE}"]
            [issuer.introspection]
            mode = "always"
            endpoint = "{endpoint}"
            client_id = "{CLIENT_ID}"
            client_secret = "{CLIENT_SECRET}"
            cache_seconds = 30

            [[route]]
            route = "DELETE /pets/{{petId}}"
            introspect = true
            "#,
            jwks_uri = jwks.jwks_uri(),
            endpoint = endpoint.endpoint(),
        ),
    )
    .unwrap();
    let event = |method: &str, path: &str| {
        serde_json::to_vec(&json!({
            "type": "TOKEN",
            "authorizationToken": format!("Bearer {jwt}"),
            "methodArn": format!("arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/{method}/{path}"),
        }))
        .unwrap()
    };
    let method_scoped = [
        ("CONFIG_FILE", file.to_str().unwrap()),
        ("POLICY_RESOURCE", "method"),
    ];
    // The answer covers GET /pets alone: not a route that introspects.
    let run = invoke(&method_scoped, event("GET", "pets")).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(endpoint.calls(), 0);
    let run = invoke(&method_scoped, event("DELETE", "pets/7")).await;
    assert!(refused_for(&run, "token_inactive"), "{}", run.stderr);
    assert_eq!(endpoint.calls(), 1);
    // A stage-wide Allow could be reused on DELETE from API Gateway's cache: introspected.
    let run = invoke(
        &[("CONFIG_FILE", file.to_str().unwrap())],
        event("GET", "pets"),
    )
    .await;
    assert!(refused_for(&run, "token_inactive"), "{}", run.stderr);
    assert_eq!(endpoint.calls(), 2);
}
