//! `authorizer serve --introspect` end to end (issue 19): the embedded issuer mints opaque tokens
//! (`authorizer token --opaque`), answers introspection (RFC 7662) and revocation (RFC 7009) on
//! 127.0.0.1, and the gateway's authorizer asks it. What a user does with curl, done over real
//! HTTP against the real binary.
#![cfg(feature = "local")]

mod support;
use support::serve::Serve;

use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_authorizer");
/// What a request may take beyond a configured time (a debug binary on a shared machine).
const MARGIN: Duration = Duration::from_millis(1500);

/// `authorizer token --key KEY ARGS...`: its exit code, stdout and stderr.
async fn token_command(key: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("token")
        .arg("--key")
        .arg(key)
        .args(args)
        .env_clear()
        .output()
        .await
        .expect("run authorizer token");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// `authorizer token --opaque`: one opaque token of the running `serve`.
async fn mint_opaque(serve: &Serve, key: &Path, args: &[&str]) -> String {
    let mut all = vec!["--iss", serve.issuer(), "--opaque"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = token_command(key, &all).await;
    assert_eq!(code, 0, "authorizer token --opaque failed: {stderr}");
    stdout.trim().to_owned()
}

/// The dev client's secret, as the banner prints it.
fn secret(serve: &Serve) -> String {
    serve
        .banner
        .lines()
        .find_map(|l| l.strip_prefix("dev client (client_secret_basic): dev-client secret "))
        .expect("the banner names the dev client's secret")
        .trim()
        .to_owned()
}

/// What `curl -u dev-client:SECRET -d token=... URL` sends: a form, HTTP Basic.
async fn post_form(
    serve: &Serve,
    path: &str,
    credentials: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, String) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut request = serve
        .http
        .post(format!("{}{path}", serve.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some((id, secret)) = credentials {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.expect("the issuer answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

async fn introspect(serve: &Serve, token: &str) -> Value {
    let secret = secret(serve);
    let (status, headers, body) = post_form(
        serve,
        "/oauth/introspect",
        Some(("dev-client", &secret)),
        &[("token", token)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "application/json");
    serde_json::from_str(&body).unwrap()
}

async fn revoke(serve: &Serve, token: &str) {
    let secret = secret(serve);
    let (status, _, body) = post_form(
        serve,
        "/oauth/revoke",
        Some(("dev-client", &secret)),
        &[("token", token)],
    )
    .await;
    assert_eq!((status, body.as_str()), (200, ""));
}

/// Requests `/pets` until it is refused, failing if that takes `limit` or longer.
async fn until_refused(serve: &Serve, bearer: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let answer = serve.get("/pets", Some(bearer)).await;
        if answer.status == 401 {
            return started.elapsed();
        }
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(
            started.elapsed() < limit,
            "still allowed {:?} after the revocation",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The sum of the series of `name` whose labels contain every one of `labels`.
async fn metric(serve: &Serve, name: &str, labels: &[&str]) -> f64 {
    let text = serve
        .http
        .get(format!("{}/metrics", serve.admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn an_opaque_token_works_until_revoked_with_curl_and_stops_within_the_cache_time() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("dev-key.pem");
    let cache = Duration::from_secs(2);
    let serve = Serve::start(
        &[
            "--key",
            key.to_str().unwrap(),
            "--introspect",
            "--cache-ttl",
            "0",
        ],
        &[("INTROSPECTION_CACHE_SECONDS", "2")],
    )
    .await;
    let token = mint_opaque(&serve, &key, &["--sub", "ann", "--scope", "read:pets"]).await;
    assert_eq!(token.len(), 43, "256 random bits, base64url: {token}");
    assert!(!token.contains('.'), "not JWT-shaped: {token}");
    let bearer = format!("Bearer {token}");

    let pets = serve.get("/pets", Some(&bearer)).await;
    assert_eq!(pets.status, 200, "{}", pets.body);
    assert_eq!(pets.headers["x-authorizer-principal"], "ann");
    // What the authorizer checked, as the issuer remembers it.
    let answer = introspect(&serve, &token).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["sub"], "ann");
    assert_eq!(answer["scope"], "read:pets");
    assert_eq!(answer["aud"], "https://pets.example.com");
    assert_eq!(answer["client_id"], "dev-client");
    assert_eq!(answer["iss"], serve.issuer());
    let exp = answer["exp"].as_i64().unwrap();
    assert!(
        (3500..=3700).contains(&(exp - support::now() as i64)),
        "{exp}"
    );

    // Repeated requests are answered from the authorizer's cache: one call to the issuer. That
    // cache is what delays a revocation.
    for _ in 0..5 {
        assert_eq!(serve.get("/pets", Some(&bearer)).await.status, 200);
    }
    assert_eq!(
        metric(&serve, "introspection_calls_total", &["result=\"active\""]).await,
        1.0
    );

    let revoked_at = Instant::now();
    revoke(&serve, &token).await;
    assert_eq!(introspect(&serve, &token).await, json!({"active": false}));
    let took = until_refused(&serve, &bearer, cache + MARGIN).await;
    eprintln!("refused {took:?} after the revocation (cache {cache:?})");
    assert!(revoked_at.elapsed() >= took);
    assert_eq!(serve.get("/pets", Some(&bearer)).await.status, 401);
    let logs = serve.logs();
    assert!(logs.contains("\"token_inactive\""), "{logs}");
    assert!(!logs.contains(&token), "no token in the logs");
    assert!(!logs.contains(&secret(&serve)), "no secret in the logs");
}

#[tokio::test]
async fn the_dev_issuers_endpoints_keep_the_musts_of_rfc_7662_and_rfc_7009() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("dev-key.pem");
    let serve = Serve::start(&["--key", key.to_str().unwrap(), "--introspect"], &[]).await;
    let secret = secret(&serve);
    let client = Some(("dev-client", secret.as_str()));
    let token = mint_opaque(&serve, &key, &["--claim", r#"groups=["admins"]"#]).await;

    // RFC 7662 §2.1: the endpoint MUST require authorization; §2.3: 401 when the client's
    // credentials are missing or wrong, with RFC 6749 §5.2's challenge.
    for credentials in [
        None,
        Some(("dev-client", "wrong")),
        Some(("other", secret.as_str())),
    ] {
        for path in ["/oauth/introspect", "/oauth/revoke", "/oauth/token"] {
            let (status, headers, body) =
                post_form(&serve, path, credentials, &[("token", &token)]).await;
            assert_eq!(status, 401, "{path} {credentials:?}: {body}");
            assert!(body.contains("\"invalid_client\""), "{body}");
            assert!(
                headers["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .starts_with("Basic ")
            );
        }
    }
    assert_eq!(
        introspect(&serve, &token).await["active"],
        true,
        "not revoked by those"
    );

    // RFC 7662 §2.1: `token` REQUIRED; a hint that does not match MUST NOT hide the token.
    let (status, _, body) = post_form(&serve, "/oauth/introspect", client, &[]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"invalid_request\""));
    let (status, _, body) = post_form(
        &serve,
        "/oauth/introspect",
        client,
        &[("token", &token), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["groups"], json!(["admins"]), "--claim is answered");
    // RFC 6749 §3.2: a parameter MUST NOT be repeated; POST with a form only.
    let (status, _, _) = post_form(
        &serve,
        "/oauth/introspect",
        client,
        &[("token", &token), ("token", "other")],
    )
    .await;
    assert_eq!(status, 400);
    let as_json = serve
        .http
        .post(format!("{}/oauth/introspect", serve.base))
        .basic_auth("dev-client", Some(&secret))
        .header("content-type", "application/json")
        .body(format!(r#"{{"token":"{token}"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(as_json.status(), 400);
    let get = serve
        .http
        .get(format!("{}/oauth/introspect?token={token}", serve.base))
        .basic_auth("dev-client", Some(&secret))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);

    // RFC 7662 §2.2: an unknown or expired token is `active: false` and nothing more.
    assert_eq!(
        introspect(&serve, "never-issued").await,
        json!({"active": false})
    );
    let expired = mint_opaque(&serve, &key, &["--ttl", "-1"]).await;
    assert_eq!(introspect(&serve, &expired).await, json!({"active": false}));
    assert_eq!(
        serve
            .get("/pets", Some(&format!("Bearer {expired}")))
            .await
            .status,
        401
    );

    // RFC 7009 §2.2: 200 for a token the server does not know, and for one revoked already;
    // §2.1: `token` REQUIRED.
    revoke(&serve, "never-issued").await;
    revoke(&serve, &token).await;
    revoke(&serve, &token).await;
    let (status, _, body) = post_form(&serve, "/oauth/revoke", client, &[]).await;
    assert_eq!(status, 400, "{body}");

    // RFC 8414 §2: the endpoints are in the issuer's metadata (where the authorizer found them).
    let metadata: Value = serve
        .http
        .get(format!("{}/.well-known/openid-configuration", serve.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|text| serde_json::from_str(&text).unwrap())
        .unwrap();
    let base = &serve.base;
    assert_eq!(
        metadata["introspection_endpoint"],
        format!("{base}/oauth/introspect")
    );
    assert_eq!(
        metadata["revocation_endpoint"],
        format!("{base}/oauth/revoke")
    );
    assert_eq!(metadata["token_endpoint"], format!("{base}/oauth/token"));
}

#[tokio::test]
async fn under_introspect_always_a_revoked_jwt_stops_working_and_its_siblings_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("dev-key.pem");
    let cache = Duration::from_secs(1);
    let serve = Serve::start(
        &["--key", key.to_str().unwrap(), "--cache-ttl", "0"],
        &[
            ("INTROSPECT", "always"),
            ("INTROSPECTION_CACHE_SECONDS", "1"),
        ],
    )
    .await;
    let jwt = serve.token.clone().expect("the banner's JWT");
    let (code, sibling, stderr) = token_command(&key, &["--iss", serve.issuer()]).await;
    assert_eq!(code, 0, "{stderr}");
    let sibling = format!("Bearer {}", sibling.trim());
    assert_eq!(serve.get("/pets", Some(&serve.bearer())).await.status, 200);
    assert_eq!(serve.get("/pets", Some(&sibling)).await.status, 200);
    assert_eq!(introspect(&serve, &jwt).await["sub"], "dev-user");

    revoke(&serve, &jwt).await;
    until_refused(&serve, &serve.bearer(), cache + MARGIN).await;
    assert_eq!(serve.get("/pets", Some(&sibling)).await.status, 200);
    assert!(serve.logs().contains("\"token_inactive\""));
}

#[tokio::test]
async fn token_opaque_says_what_to_do_when_serve_cannot_issue() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("dev-key.pem");
    let plain = Serve::start(&["--key", key.to_str().unwrap()], &[]).await;
    let (code, stdout, stderr) = token_command(&key, &["--iss", plain.issuer(), "--opaque"]).await;
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.contains("--introspect"), "{stderr}");
    assert!(!plain.banner.contains("OPAQUE"), "{}", plain.banner);

    // Another key is another dev client: its secret is refused.
    let introspecting = Serve::start(&["--introspect"], &[]).await;
    let (code, _, stderr) =
        token_command(&key, &["--iss", introspecting.issuer(), "--opaque"]).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("--key"), "{stderr}");
}

#[tokio::test]
async fn an_opaque_token_bound_with_token_dpop_key_carries_cnf_and_is_refused_without_a_proof() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("dev-key.pem");
    let dpop = dir.path().join("dpop.pem");
    let serve = Serve::start(&["--key", key.to_str().unwrap(), "--introspect"], &[]).await;
    let token = mint_opaque(&serve, &key, &["--dpop-key", dpop.to_str().unwrap()]).await;
    // RFC 9449 §6.2: the introspection answer carries the key's thumbprint as `cnf.jkt`.
    let answer = introspect(&serve, &token).await;
    let jkt = answer["cnf"]["jkt"].as_str().expect("cnf.jkt");
    assert_eq!(jkt.len(), 43, "a base64url SHA-256 thumbprint: {jkt}");
    let refused = serve.get("/pets", Some(&format!("Bearer {token}"))).await;
    assert_eq!(refused.status, 401);
    assert!(
        serve.logs().contains("\"missing_proof\""),
        "{}",
        serve.logs()
    );
}
