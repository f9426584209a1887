//! Several trusted issuers on one authorizer (CONFIG_FILE), each with its own JWKS server on
//! 127.0.0.1, and Cognito-shaped tokens.

mod support;

use jwt_authorizer::metrics::Metrics;
use jwt_authorizer::metrics::emf::{EmfConfig, EmfRecorder};
use jwt_authorizer::{Authorizer, Config, Outcome, Reject, Trigger};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use support::*;

/// Writes `toml` to a temporary CONFIG_FILE and loads it, with extra variables.
fn config_file(toml: &str, extra: &[(&str, &str)]) -> Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("issuers.toml");
    std::fs::write(&path, toml).unwrap();
    let mut vars: HashMap<String, String> = HashMap::from([
        ("CONFIG_FILE".into(), path.to_str().unwrap().into()),
        ("JWKS_TIMEOUT_MS".into(), "1000".into()),
    ]);
    for (k, v) in extra {
        vars.insert((*k).into(), (*v).into());
    }
    Config::from_lookup(|name| vars.get(name).cloned()).expect("test configuration is valid")
}

/// Two issuers, `a` and `b`, each accepting its own audience.
fn two_issuers(a: &JwksServer, b: &JwksServer, extra: &[(&str, &str)]) -> Authorizer {
    let toml = format!(
        r#"
        [[issuer]]
        name = "a"
        issuer = "{}"
        jwks_uri = "{}"
        audiences = ["api-a"]

        [[issuer]]
        name = "b"
        issuer = "{}"
        jwks_uri = "{}"
        audiences = ["api-b"]
        "#,
        a.issuer(),
        a.jwks_uri(),
        b.issuer(),
        b.jwks_uri()
    );
    Authorizer::from_config(config_file(&toml, extra)).unwrap()
}

fn claims(issuer: &str, aud: &str) -> Value {
    json!({"iss": issuer, "sub": "user", "aud": aud, "exp": now() + 600, "scope": "read:pets"})
}

#[tokio::test(flavor = "multi_thread")]
async fn each_issuers_tokens_pass_with_its_own_audiences_and_keys_only() {
    // The same kid at both issuers: only the token's own issuer's key may verify it.
    let key_a = SigningKeyFor::new("shared-kid");
    let key_b = SigningKeyFor::new("shared-kid");
    let a = JwksServer::with_keys(&[&key_a.0]).await;
    let b = JwksServer::with_keys(&[&key_b.0]).await;
    let authorizer = two_issuers(&a, &b, &[]);
    authorizer.refresh_keys(Trigger::Init).await;
    let (iss_a, iss_b) = (a.issuer(), b.issuer());

    for (key, claims, want, issuer) in [
        (&key_a, claims(&iss_a, "api-a"), Ok(()), Some(0)),
        (&key_b, claims(&iss_b, "api-b"), Ok(()), Some(1)),
        (
            &key_a,
            claims(&iss_a, "api-b"),
            Err(Reject::BadAudience),
            Some(0),
        ),
        (
            &key_b,
            claims(&iss_b, "api-a"),
            Err(Reject::BadAudience),
            Some(1),
        ),
        // Signed by a's key, claiming b: b's key (same kid) refuses it.
        (
            &key_a,
            claims(&iss_b, "api-b"),
            Err(Reject::BadSignature),
            Some(1),
        ),
    ] {
        let token = key.0.sign(&claims).unwrap();
        let (decision, answer) = authorize(&authorizer, &token).await;
        match want {
            Ok(()) => {
                assert_eq!(decision.outcome, Outcome::Allow, "{claims}");
                assert_eq!(answer.unwrap()["principalId"], "user");
            }
            Err(reason) => assert_eq!(decision.reject, Some(reason), "{claims}"),
        }
        assert_eq!(decision.issuer, issuer, "{claims}");
    }
    assert_eq!((a.hits(), b.hits()), (1, 1), "one fetch each, at init");
}

/// A signing key that is not shared with other tests (rsa_key's are cached by kid).
struct SigningKeyFor(jwt_authorizer::issuer::SigningKey);

impl SigningKeyFor {
    fn new(kid: &str) -> Self {
        SigningKeyFor(
            jwt_authorizer::issuer::SigningKey::generate(jwt_authorizer::Algorithm::RS256, kid)
                .unwrap(),
        )
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_of_an_unknown_issuer_is_refused_without_any_jwks_request() {
    let key = rsa_key("unknown-issuer");
    let a = JwksServer::with_keys(&[key]).await;
    let b = JwksServer::with_keys(&[key]).await;
    let authorizer = two_issuers(&a, &b, &[]);
    // No init fetch: any request would show in the servers' hit counts.
    for iss in [
        "https://evil.example/".to_owned(),
        a.issuer().trim_end_matches('/').to_owned(),
        format!("{} ", b.issuer()),
    ] {
        let token = key.sign(&claims(&iss, "api-a")).unwrap();
        let (decision, answer) = authorize(&authorizer, &token).await;
        assert_eq!(decision.reject, Some(Reject::UnknownIssuer), "{iss:?}");
        assert_eq!(decision.issuer, None);
        assert!(answer.is_none());
    }
    let no_iss = key
        .sign(&json!({"sub": "s", "aud": "api-a", "exp": now() + 60}))
        .unwrap();
    assert_eq!(
        authorize(&authorizer, &no_iss).await.0.reject,
        Some(Reject::UnknownIssuer)
    );
    assert_eq!((a.hits(), b.hits()), (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_issuer_that_is_down_and_flooded_with_unknown_kids_does_not_hold_up_another() {
    let key_a = rsa_key("flooded-a");
    let key_b = rsa_key("healthy-b");
    let a = JwksServer::with_keys(&[key_a]).await;
    let b = JwksServer::with_keys(&[key_b]).await;
    let authorizer = Arc::new(two_issuers(&a, &b, &[("JWKS_TIMEOUT_MS", "3000")]));
    authorizer.refresh_keys(Trigger::Init).await;
    // Issuer a now answers only after 10 s, beyond the 3 s fetch timeout.
    a.set_mode(Mode::Delay(Duration::from_secs(10)));

    let flood: Vec<_> = (0..100)
        .map(|i| {
            let authorizer = authorizer.clone();
            let token = sign_raw(
                key_a,
                &json!({"alg": "RS256", "kid": format!("random-{i}")}),
                &claims(&a.issuer(), "api-a"),
            );
            tokio::spawn(async move { authorize(&authorizer, &token).await.0 })
        })
        .collect();
    // Give the flood time to start its fetch from a.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while a.hits() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the flood never fetched from a"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // While a's fetch hangs, b's tokens are answered from b's own key set, and a's known-kid
    // tokens from a's cached keys.
    let token_b = key_b.sign(&claims(&b.issuer(), "api-b")).unwrap();
    let token_a = key_a.sign(&claims(&a.issuer(), "api-a")).unwrap();
    for _ in 0..10 {
        assert_eq!(
            authorize(&authorizer, &token_b).await.0.outcome,
            Outcome::Allow
        );
        assert_eq!(
            authorize(&authorizer, &token_a).await.0.outcome,
            Outcome::Allow
        );
    }
    assert!(
        flood.iter().any(|task| !task.is_finished()),
        "b was answered while a's fetch was still hanging"
    );

    for task in flood {
        let decision = task.await.unwrap();
        assert_eq!(decision.reject, Some(Reject::UnknownKid));
    }
    // One shared fetch for the whole flood at a (then the penalty box); none at b beyond init.
    assert_eq!(a.hits(), 2);
    assert_eq!(b.hits(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn cognito_access_and_id_tokens_are_checked_by_token_use_and_client_id() {
    let key = rsa_key("cognito");
    // Stands in for https://cognito-idp.{region}.amazonaws.com/{userPoolId}.
    let pool = JwksServer::with_keys(&[key]).await;
    let toml = |token_use: &str| {
        format!(
            r#"
            [[issuer]]
            name = "pool"
            issuer = "{}"
            jwks_uri = "{}"
            token_use = "{token_use}"
            client_ids = ["app-client-1"]

            [[route]]
            route = "DELETE /pets/{{petId}}"
            claims = {{ "cognito:groups" = "admins" }}
            "#,
            pool.issuer(),
            pool.jwks_uri()
        )
    };
    let access = |client_id: &str, groups: &[&str]| {
        key.sign(&json!({
            "iss": pool.issuer(), "sub": "machine", "token_use": "access",
            "client_id": client_id, "scope": "pets/read", "cognito:groups": groups,
            "exp": now() + 600, "iat": now(),
        }))
        .unwrap()
    };
    let id = |aud: &str| {
        key.sign(&json!({
            "iss": pool.issuer(), "sub": "person", "token_use": "id", "aud": aud,
            "email": "p@example.com", "exp": now() + 600, "iat": now(),
        }))
        .unwrap()
    };

    let access_only = Authorizer::from_config(config_file(&toml("access"), &[])).unwrap();
    let (decision, answer) = authorize(&access_only, &access("app-client-1", &["admins"])).await;
    assert_eq!(decision.outcome, Outcome::Allow);
    let statements = &answer.unwrap()["policyDocument"]["Statement"];
    assert_eq!(
        statements.as_array().unwrap().len(),
        1,
        "no Deny: in admins"
    );
    assert_eq!(
        authorize(&access_only, &access("app-client-2", &["admins"]))
            .await
            .0
            .reject,
        Some(Reject::BadAudience)
    );
    assert_eq!(
        authorize(&access_only, &id("app-client-1")).await.0.reject,
        Some(Reject::WrongTokenUse)
    );
    // Not in the group: allowed, with an explicit Deny of the group's route in the cached policy.
    let (decision, answer) = authorize(&access_only, &access("app-client-1", &["readers"])).await;
    assert_eq!(decision.outcome, Outcome::Allow, "GET /pets was called");
    let statements = &answer.unwrap()["policyDocument"]["Statement"];
    assert_eq!(statements[1]["Effect"], "Deny");
    assert_eq!(
        statements[1]["Resource"],
        json!(["arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/DELETE/pets/*"])
    );

    let id_only = Authorizer::from_config(config_file(&toml("id"), &[])).unwrap();
    assert_eq!(
        authorize(&id_only, &id("app-client-1")).await.0.outcome,
        Outcome::Allow
    );
    assert_eq!(
        authorize(&id_only, &id("other-client")).await.0.reject,
        Some(Reject::BadAudience)
    );
    assert_eq!(
        authorize(&id_only, &access("app-client-1", &[]))
            .await
            .0
            .reject,
        Some(Reject::WrongTokenUse)
    );

    let either = Authorizer::from_config(config_file(&toml("any"), &[])).unwrap();
    for token in [id("app-client-1"), access("app-client-1", &[])] {
        assert_eq!(authorize(&either, &token).await.0.outcome, Outcome::Allow);
    }
}

/// A route rule may require a value of a claim the authorizer also reads for itself
/// (`client_id`, `sub`, `token_use`): the rule sees the token's value. (Found by cargo-mutants:
/// such claims were not kept for the rules, so the rule denied every token, its own client too.)
#[tokio::test(flavor = "multi_thread")]
async fn route_rules_can_require_registered_claims() {
    let key = rsa_key("registered-rule");
    let pool = JwksServer::with_keys(&[key]).await;
    let toml = format!(
        r#"
        [[issuer]]
        name = "pool"
        issuer = "{}"
        jwks_uri = "{}"
        token_use = "access"
        client_ids = ["admin-app", "shop-app"]

        [[route]]
        route = "DELETE /pets/{{petId}}"
        claims = {{ client_id = "admin-app", token_use = "access" }}
        "#,
        pool.issuer(),
        pool.jwks_uri()
    );
    let authorizer = Authorizer::from_config(config_file(&toml, &[])).unwrap();
    let access = |client_id: &str| {
        key.sign(&json!({
            "iss": pool.issuer(), "sub": "machine", "token_use": "access",
            "client_id": client_id, "scope": "pets/read", "exp": now() + 600, "iat": now(),
        }))
        .unwrap()
    };
    let (decision, answer) = authorize(&authorizer, &access("admin-app")).await;
    assert_eq!(decision.outcome, Outcome::Allow);
    let statements = &answer.unwrap()["policyDocument"]["Statement"];
    assert_eq!(
        statements.as_array().unwrap().len(),
        1,
        "no Deny: {statements}"
    );
    let (decision, answer) = authorize(&authorizer, &access("shop-app")).await;
    assert_eq!(decision.outcome, Outcome::Allow, "GET /pets was called");
    let statements = &answer.unwrap()["policyDocument"]["Statement"];
    assert_eq!(statements[1]["Effect"], "Deny");
    assert_eq!(
        statements[1]["Resource"],
        json!(["arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/DELETE/pets/*"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn route_rules_can_apply_to_one_issuer() {
    let key_a = rsa_key("rules-a");
    let key_b = rsa_key("rules-b");
    let a = JwksServer::with_keys(&[key_a]).await;
    let b = JwksServer::with_keys(&[key_b]).await;
    let toml = format!(
        r#"
        [[issuer]]
        name = "people"
        issuer = "{}"
        jwks_uri = "{}"
        audiences = ["api"]

        [[issuer]]
        name = "machines"
        issuer = "{}"
        jwks_uri = "{}"
        audiences = ["api"]

        [[route]]
        route = "GET /pets"
        issuers = ["machines"]
        scopes = ["pets/read"]
        "#,
        a.issuer(),
        a.jwks_uri(),
        b.issuer(),
        b.jwks_uri()
    );
    let authorizer = Authorizer::from_config(config_file(&toml, &[])).unwrap();
    // Both tokens lack `pets/read`; the rule only binds the machines issuer.
    let people = key_a.sign(&claims(&a.issuer(), "api")).unwrap();
    let machines = key_b.sign(&claims(&b.issuer(), "api")).unwrap();
    assert_eq!(
        authorize(&authorizer, &people).await.0.outcome,
        Outcome::Allow
    );
    let (decision, answer) = authorize(&authorizer, &machines).await;
    assert_eq!(decision.outcome, Outcome::Deny);
    assert_eq!(
        answer.unwrap()["policyDocument"]["Statement"][1]["Effect"],
        "Deny"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_authorizations_by_configured_issuer_name_only() {
    let key_a = rsa_key("metrics-a");
    let key_b = rsa_key("metrics-b");
    let a = JwksServer::with_keys(&[key_a]).await;
    let b = JwksServer::with_keys(&[key_b]).await;
    let authorizer = two_issuers(&a, &b, &[]);
    authorizer.refresh_keys(Trigger::Init).await;
    let recorder = EmfRecorder::default();
    let handles = Metrics::register(&recorder, &authorizer.issuer_names());
    let sink = recorder.sink(EmfConfig::from_lookup(|_| None).unwrap());
    let tokens = [
        key_a.sign(&claims(&a.issuer(), "api-a")).unwrap(),
        key_b.sign(&claims(&b.issuer(), "api-b")).unwrap(),
        key_b.sign(&claims(&b.issuer(), "api-a")).unwrap(),
        key_a
            .sign(&claims("https://attacker.example/x", "api-a"))
            .unwrap(),
    ];
    for token in &tokens {
        let (decision, _) = authorize(&authorizer, token).await;
        handles.record_decision(&decision, Duration::from_micros(100));
    }
    let mut counted: Vec<(String, String, String)> = sink
        .documents(None, SystemTime::now())
        .iter()
        .filter(|d| d["authorizations"].is_number())
        .map(|d| {
            let label = |name: &str| d[name].as_str().unwrap().to_owned();
            (label("issuer"), label("outcome"), label("reason"))
        })
        .collect();
    counted.sort();
    let expected = [
        ("a", "allow", "none"),
        ("b", "allow", "none"),
        ("b", "unauthorized", "bad_audience"),
        ("none", "unauthorized", "unknown_issuer"),
    ]
    .map(|(i, o, r)| (i.to_owned(), o.to_owned(), r.to_owned()));
    assert_eq!(counted, expected);
}

/// The issuer a token claims picks the rules, through the authorizer (not a re-implementation of
/// the selection): exact `iss` only, then that issuer's audiences and leeway; a shared audience
/// does not make one issuer's rules apply to the other's tokens.
#[tokio::test(flavor = "multi_thread")]
async fn the_claimed_issuer_picks_its_own_audiences_and_leeway_by_exact_match() {
    let key_a = SigningKeyFor::new("users-key");
    let key_b = SigningKeyFor::new("partners-key");
    let a = JwksServer::with_keys(&[&key_a.0]).await;
    let b = JwksServer::with_keys(&[&key_b.0]).await;
    let toml = format!(
        r#"
        [[issuer]]
        name = "users"
        issuer = "{}"
        jwks_uri = "{}"
        audiences = ["api", "shared"]

        [[issuer]]
        name = "partners"
        issuer = "{}"
        jwks_uri = "{}"
        audiences = ["partner-api", "shared"]
        leeway_seconds = 0
        "#,
        a.issuer(),
        a.jwks_uri(),
        b.issuer(),
        b.jwks_uri()
    );
    let authorizer = Authorizer::from_config(config_file(&toml, &[])).unwrap();
    authorizer.refresh_keys(Trigger::Init).await;
    let at = now();
    let decide = |key: &SigningKeyFor, claims: Value| {
        let event = token_event(&format!("Bearer {}", key.0.sign(&claims).unwrap()));
        let authorizer = &authorizer;
        async move {
            let mut out = Vec::new();
            authorizer.authorize_at(&event, at, &mut out).await
        }
    };
    let token =
        |iss: &str, aud: Value, exp: u64| json!({"iss": iss, "sub": "s", "aud": aud, "exp": exp});
    let (users, partners) = (a.issuer(), b.issuer());
    let cases: Vec<(&SigningKeyFor, Value, Result<usize, Reject>)> = vec![
        (&key_a, token(&users, json!("api"), at + 9), Ok(0)),
        (
            &key_b,
            token(&partners, json!(["x", "partner-api"]), at + 9),
            Ok(1),
        ),
        (&key_a, token(&users, json!("shared"), at + 9), Ok(0)),
        (&key_b, token(&partners, json!("shared"), at + 9), Ok(1)),
        (
            &key_a,
            token(&users, json!("partner-api"), at + 9),
            Err(Reject::BadAudience),
        ),
        (
            &key_b,
            token(&partners, json!(["api"]), at + 9),
            Err(Reject::BadAudience),
        ),
        // Each issuer's own leeway: 5 s by default, 0 for partners.
        (&key_a, token(&users, json!("api"), at - 2), Ok(0)),
        (
            &key_b,
            token(&partners, json!("shared"), at - 2),
            Err(Reject::Expired),
        ),
        // Exact match only: no trailing-slash, case or prefix normalisation.
        (
            &key_a,
            token(users.trim_end_matches('/'), json!("api"), at + 9),
            Err(Reject::UnknownIssuer),
        ),
        (
            &key_a,
            token(&users.to_uppercase(), json!("api"), at + 9),
            Err(Reject::UnknownIssuer),
        ),
        (
            &key_a,
            token(&format!("{users}x"), json!("api"), at + 9),
            Err(Reject::UnknownIssuer),
        ),
        (
            &key_a,
            json!({"iss": 42, "sub": "s", "aud": "api", "exp": at + 9}),
            Err(Reject::InvalidClaim),
        ),
        (
            &key_a,
            json!({"sub": "s", "aud": "api", "exp": at + 9}),
            Err(Reject::UnknownIssuer),
        ),
    ];
    for (key, claims, want) in cases {
        let decision = decide(key, claims.clone()).await;
        match want {
            Ok(issuer) => {
                assert_eq!(decision.outcome, Outcome::Allow, "{claims}: {decision:?}");
                assert_eq!(decision.issuer, Some(issuer), "{claims}");
            }
            Err(reason) => assert_eq!(decision.reject, Some(reason), "{claims}"),
        }
    }
    assert_eq!(
        (a.hits(), b.hits()),
        (1, 1),
        "unknown issuers cost no fetch"
    );
}
