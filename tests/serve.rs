//! `authorizer serve` end to end: the real binary on free ports, real HTTP, real keys.
#![cfg(feature = "local")]

mod support;
use support::serve::Serve;
use support::*;

use serde_json::Value;
use std::time::Duration;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_authorizer");
const TUTORIAL_REGEX: &str = r"^Bearer [-0-9a-zA-z\.]*$";
const EXPLICIT_DENY: &str =
    r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#;
const IMPLICIT_DENY: &str = r#"{"Message":"User is not authorized to access this resource"}"#;
const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;

/// `authorizer token --key KEY ARGS...`: the tokens, one per line.
async fn mint(key: &std::path::Path, args: &[&str]) -> Vec<String> {
    let out = Command::new(BIN)
        .arg("token")
        .arg("--key")
        .arg(key)
        .args(args)
        .env_clear()
        .output()
        .await
        .expect("run authorizer token");
    assert!(
        out.status.success(),
        "authorizer token failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|t| format!("Bearer {t}"))
        .collect()
}

async fn mint_one(key: &std::path::Path, args: &[&str]) -> String {
    mint(key, args).await.remove(0)
}

#[tokio::test]
async fn every_route_answers_200_401_and_403_like_api_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("dev-key.pem");
    let key_arg = key.to_str().unwrap();
    let scopes = "GET /pets=read:pets; GET /pets/{petId}=read:pets; POST /pets=write:pets";
    let serve = Serve::start(&["--key", key_arg], &[("ROUTE_SCOPES", scopes)]).await;
    assert!(key.is_file(), "serve --key writes a new key");
    let reader = serve.bearer();
    let writer = mint_one(&key, &["--iss", serve.issuer(), "--scope", "write:pets"]).await;
    let pet = r#"{"type":"cat","price":12.5}"#;

    // 200 with the authorizer context passed on.
    let list = serve.get("/pets", Some(&reader)).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let pets: Value = serde_json::from_str(&list.body).unwrap();
    assert_eq!(pets[0]["type"], "dog");
    assert_eq!(list.headers["x-authorizer-principal"], "dev-user");
    let context: Value =
        serde_json::from_slice(list.headers["x-authorizer-context"].as_bytes()).unwrap();
    assert_eq!(context["scope"], "read:pets");
    let one = serve.get("/pets/1", Some(&reader)).await;
    assert_eq!(
        (one.status, one.body.as_str()),
        (200, r#"{"id":1,"type":"dog","price":249.99}"#)
    );
    assert_eq!(serve.get("/pets/999", Some(&reader)).await.status, 404);
    let created = serve
        .request("POST", "/pets", Some(&writer), Some(pet))
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let created: Value = serde_json::from_str(&created.body).unwrap();
    assert_eq!(created["pet"]["type"], "cat");
    let bad = serve
        .request("POST", "/pets", Some(&writer), Some(r#"{"type":"#))
        .await;
    assert_eq!(bad.status, 400);
    let no_price = serve
        .request("POST", "/pets", Some(&writer), Some(r#"{"type":"cat"}"#))
        .await;
    assert_eq!(no_price.status, 400);

    for (method, path, body) in [
        ("GET", "/pets", None),
        ("GET", "/pets/1", None),
        ("POST", "/pets", Some(pet)),
    ] {
        // 401: no token, and a token that is not one.
        let none = serve.request(method, path, None, body).await;
        assert_eq!((none.status, none.body.as_str()), (401, UNAUTHORIZED));
        let junk = serve
            .request(method, path, Some("Bearer not.a.token"), body)
            .await;
        assert_eq!(
            (junk.status, junk.body.as_str()),
            (401, UNAUTHORIZED),
            "{method} {path}"
        );
        // 403: the scope rule's explicit Deny, for the token lacking the scope.
        let lacking = if method == "POST" { &reader } else { &writer };
        let denied = serve.request(method, path, Some(lacking), body).await;
        assert_eq!(
            (denied.status, denied.body.as_str()),
            (403, EXPLICIT_DENY),
            "{method} {path}"
        );
    }

    // Routes the API does not define get API Gateway's answer, without authorization.
    let missing = serve.get("/cats", Some(&reader)).await;
    assert_eq!(missing.status, 403);
    assert!(missing.body.contains("Missing Authentication Token"));
    let other_method = serve
        .request("DELETE", "/pets/1", Some(&reader), None)
        .await;
    assert_eq!(other_method.status, 403);
}

#[tokio::test]
async fn reject_mode_deny_turns_refused_tokens_into_403() {
    let serve = Serve::start(&[], &[("REJECT_MODE", "deny")]).await;
    let refused = serve.get("/pets", Some("Bearer not.a.token")).await;
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (403, EXPLICIT_DENY)
    );
    // Without an identity source the authorizer is never called: still 401.
    assert_eq!(serve.get("/pets", None).await.status, 401);
    assert_eq!(serve.get("/pets", Some(&serve.bearer())).await.status, 200);
}

#[tokio::test]
async fn the_cache_answers_repeat_requests_until_its_ttl_expires() {
    let serve = Serve::start(&["--cache-ttl", "1"], &[]).await;
    let token = serve.bearer();
    for _ in 0..3 {
        assert_eq!(serve.get("/pets", Some(&token)).await.status, 200);
    }
    assert_eq!(serve.get("/pets/2", Some(&token)).await.status, 200);
    assert_eq!(serve.calls().await, 1, "one call, then the cache");
    assert_eq!(serve.health().await["cache_hits"], 3);

    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(serve.get("/pets", Some(&token)).await.status, 200);
    assert_eq!(serve.calls().await, 2, "the entry expired after 1 s");

    // Refused tokens are not cached: each one reaches the authorizer.
    for _ in 0..2 {
        assert_eq!(serve.get("/pets", Some("Bearer a.b.c")).await.status, 401);
    }
    assert_eq!(serve.calls().await, 4);
}

#[tokio::test]
async fn with_the_cache_off_every_request_calls_the_authorizer() {
    let serve = Serve::start(&["--cache-ttl", "0"], &[]).await;
    for _ in 0..3 {
        assert_eq!(serve.get("/pets", Some(&serve.bearer())).await.status, 200);
    }
    assert_eq!(serve.calls().await, 3);
}

/// The bug the core's stage-wide default avoids: API Gateway caches the policy per token and
/// evaluates it for every route, so a policy that allows only the called method breaks the others.
#[tokio::test]
async fn a_cached_method_policy_breaks_other_routes_while_the_stage_policy_works_on_all() {
    let method = Serve::start(&[], &[("POLICY_RESOURCE", "method")]).await;
    let token = method.bearer();
    assert_eq!(method.get("/pets", Some(&token)).await.status, 200);
    let other = method.get("/pets/1", Some(&token)).await;
    assert_eq!((other.status, other.body.as_str()), (403, IMPLICIT_DENY));
    let post = method.post_pet(Some(&token)).await;
    assert_eq!(post.status, 403);
    assert_eq!(
        method.calls().await,
        1,
        "the cached policy was re-evaluated"
    );

    let stage = Serve::start(&[], &[]).await;
    let token = stage.bearer();
    assert_eq!(stage.get("/pets", Some(&token)).await.status, 200);
    assert_eq!(stage.get("/pets/1", Some(&token)).await.status, 200);
    let post = stage.post_pet(Some(&token)).await;
    assert_eq!(post.status, 200);
    assert_eq!(stage.calls().await, 1);

    // Route rules stay right under the cache: their Deny statements cover the other routes too.
    let rules = Serve::start(&[], &[("ROUTE_SCOPES", "POST /pets=write:pets")]).await;
    let token = rules.bearer();
    assert_eq!(rules.get("/pets", Some(&token)).await.status, 200);
    let post = rules.post_pet(Some(&token)).await;
    assert_eq!((post.status, post.body.as_str()), (403, EXPLICIT_DENY));
    assert_eq!(rules.calls().await, 1);
}

#[tokio::test]
async fn the_token_regex_refuses_without_calling_the_authorizer() {
    let serve = Serve::start(&["--token-regex", TUTORIAL_REGEX], &[]).await;
    for identity in [
        "Basic dXNlcjpwYXNz",
        "Bearer abc def",
        "Bearer a$b",
        "bearer x",
    ] {
        let answer = serve.get("/pets", Some(identity)).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (401, UNAUTHORIZED),
            "{identity}"
        );
    }
    assert_eq!(serve.calls().await, 0);
    assert_eq!(serve.get("/pets", Some(&serve.bearer())).await.status, 200);
    assert_eq!(serve.calls().await, 1);
    let metrics = reqwest::get(format!("{}/metrics", serve.admin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains(r#"gateway_unauthorized_before_authorizer_total{reason="regex_mismatch"} 4"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn dev_issuer_tokens_are_accepted_and_other_keys_tokens_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("dev-key.pem");
    let serve = Serve::start(&["--key", key.to_str().unwrap(), "--cache-ttl", "0"], &[]).await;
    let iss = serve.issuer().to_owned();
    let kid = serve.health().await["keys"]["kids"][0]
        .as_str()
        .unwrap()
        .to_owned();

    let tokens = mint(&key, &["--iss", &iss, "--count", "3"]).await;
    assert_eq!(tokens.len(), 3);
    assert!(
        tokens[0] != tokens[1] && tokens[1] != tokens[2],
        "distinct tokens"
    );
    for token in &tokens {
        assert_eq!(serve.get("/pets", Some(token)).await.status, 200);
    }

    let foreign = dir.path().join("foreign.pem");
    std::fs::write(&foreign, rsa_key("foreign").private_key_pem()).unwrap();
    for (what, token) in [
        ("a foreign key", mint_one(&foreign, &["--iss", &iss]).await),
        (
            "a foreign key under our kid",
            mint_one(&foreign, &["--iss", &iss, "--kid", &kid]).await,
        ),
        (
            "an unknown kid",
            mint_one(&key, &["--iss", &iss, "--kid", "nope"]).await,
        ),
        (
            "an expired token",
            mint_one(&key, &["--iss", &iss, "--ttl", "-600"]).await,
        ),
        (
            "another audience",
            mint_one(&key, &["--iss", &iss, "--aud", "https://other.example"]).await,
        ),
        (
            "another issuer",
            mint_one(&key, &["--iss", "http://127.0.0.1:1/"]).await,
        ),
    ] {
        let answer = serve.get("/pets", Some(&token)).await;
        assert_eq!(answer.status, 401, "{what}: {}", answer.body);
    }

    // The same key file on a restart: its tokens still pass.
    drop(serve);
    let again = Serve::start(&["--key", key.to_str().unwrap()], &[]).await;
    let token = mint_one(&key, &["--iss", again.issuer()]).await;
    assert_eq!(again.get("/pets", Some(&token)).await.status, 200);
}

#[tokio::test]
async fn an_external_issuers_key_rotation_is_picked_up_through_the_gateway() {
    let (k1, k2) = (rsa_key("rot-1"), rsa_key("rot-2"));
    let jwks = JwksServer::with_keys(&[k1]).await;
    let issuer = jwks.issuer();
    let jwks_uri = jwks.jwks_uri();
    let env = [
        ("TOKEN_ISSUER", issuer.as_str()),
        ("JWKS_URI", jwks_uri.as_str()),
        ("AUDIENCE", AUDIENCE),
        ("JWKS_KID_MISS_COOLDOWN_SECONDS", "1"),
    ];
    let serve = Serve::start(&["--cache-ttl", "0"], &env).await;
    assert!(
        serve.issuer.as_deref() == Some(issuer.as_str()),
        "{:?}",
        serve.issuer
    );
    let health = serve.health().await;
    assert_eq!(health["auth"], "external");
    assert_eq!(health["keys"]["kids"], serde_json::json!(["rot-1"]));
    let old = format!("Bearer {}", k1.sign(&good_claims(&issuer)).unwrap());
    let new = format!("Bearer {}", k2.sign(&good_claims(&issuer)).unwrap());
    assert_eq!(serve.get("/pets", Some(&old)).await.status, 200);
    assert_eq!(serve.get("/pets", Some(&new)).await.status, 401);

    jwks.publish(&[k2]);
    // The penalty box (at least a second) holds the kid's next fetch back.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let answer = serve.get("/pets", Some(&new)).await;
    assert_eq!(answer.status, 200, "{}\n{}", answer.body, serve.logs());
    assert_eq!(
        serve.get("/pets", Some(&old)).await.status,
        401,
        "k1 is gone"
    );
    assert_eq!(
        serve.health().await["keys"]["kids"],
        serde_json::json!(["rot-2"])
    );
}

#[tokio::test]
async fn healthz_reports_the_key_set_and_metrics_are_prometheus_text() {
    let serve = Serve::start(&[], &[]).await;
    let response = reqwest::get(format!("{}/healthz", serve.admin))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let health: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(health["status"], "ready");
    assert_eq!(health["auth"], "embedded");
    assert_eq!(health["keys"]["count"], 1);
    assert!(health["keys"]["age_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(health["keys"]["issuer"], serve.issuer());

    let discovery: Value = reqwest::get(format!(
        "{}.well-known/openid-configuration",
        serve.issuer()
    ))
    .await
    .unwrap()
    .text()
    .await
    .map(|t| serde_json::from_str(&t).unwrap())
    .unwrap();
    assert_eq!(discovery["issuer"], serve.issuer());
    let jwks: Value = reqwest::get(discovery["jwks_uri"].as_str().unwrap())
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "RSA");

    serve.get("/pets", Some(&serve.bearer())).await;
    let response = reqwest::get(format!("{}/metrics", serve.admin))
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains("# TYPE gateway_authorizer_calls_total counter"),
        "{text}"
    );
    assert!(text.contains("gateway_authorizer_calls_total 1"), "{text}");
    assert!(
        text.contains(r#"gateway_requests_total{result="allow"} 1"#),
        "{text}"
    );
    // Blank lines between metric families are valid exposition format.
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (name, value) = line.rsplit_once(' ').unwrap();
        assert!(!name.is_empty() && value.parse::<f64>().is_ok(), "{line}");
    }
}

#[tokio::test]
async fn no_auth_lets_every_request_through() {
    let serve = Serve::start(&["--no-auth"], &[]).await;
    assert!(serve.token.is_none());
    assert_eq!(serve.get("/pets", None).await.status, 200);
    assert_eq!(serve.get("/pets/3", Some("junk")).await.status, 200);
    let health = serve.health().await;
    assert_eq!(
        (health["status"].as_str(), health["auth"].as_str()),
        (Some("ready"), Some("off"))
    );
}

#[tokio::test]
async fn request_bodies_and_headers_are_limited() {
    let serve = Serve::start(&["--no-auth"], &[]).await;
    let big = format!(r#"{{"type":"{}","price":1}}"#, "x".repeat(100 * 1024));
    assert_eq!(
        serve
            .request("POST", "/pets", None, Some(&big))
            .await
            .status,
        413
    );
    let huge_header = format!("Bearer {}", "a".repeat(40 * 1024));
    assert_eq!(serve.get("/pets", Some(&huge_header)).await.status, 431);
    assert_eq!(serve.get("/pets", None).await.status, 200, "still serving");
}

#[tokio::test]
async fn a_taken_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--no-auth",
            "--admin-listen",
            "127.0.0.1:0",
            "--listen",
            &addr,
        ])
        .env_clear()
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&addr) && stderr.contains("--listen"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_invalid_configuration_is_a_clear_error() {
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .env_clear()
        .env("TOKEN_ISSUER", "https://issuer.example/")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("AUDIENCE: is not set"), "{stderr}");
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_stops_the_server_gracefully() {
    let mut serve = Serve::start(&[], &[]).await;
    assert_eq!(serve.get("/pets", Some(&serve.bearer())).await.status, 200);
    let pid = serve.child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(15), serve.child.wait())
        .await
        .expect("serve exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}\n{}", serve.logs());
}
