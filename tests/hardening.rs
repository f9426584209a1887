//! Issue 14's hardening, each through the real binary where it can be seen there: `invoke` on an
//! event, or `serve` over HTTP, against issuers on 127.0.0.1.

mod support;

use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::invoke::invoke;
use support::serve::Serve;
use support::*;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_authorizer");

fn env_for(server: &JwksServer) -> Vec<(&'static str, String)> {
    vec![
        ("TOKEN_ISSUER", server.issuer()),
        ("JWKS_URI", server.jwks_uri()),
        ("AUDIENCE", AUDIENCE.into()),
    ]
}

fn bearer_event(token: &str) -> Vec<u8> {
    token_event(&format!("Bearer {token}"))
}

/// A key's public JWK as JSON, to edit before publishing it.
fn jwk_json(key: &jwt_authorizer::issuer::SigningKey) -> Value {
    serde_json::to_value(key.jwk()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jwks_key_with_an_empty_or_zero_modulus_is_skipped_with_its_reason() {
    let key = rsa_key("good");
    let server = JwksServer::with_keys(&[key]).await;
    let zero = |kid: &str, n: &str| json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": n, "e": "AQAB"});
    server.publish_raw(
        json!({"keys": [zero("zero", "AA"), zero("empty", ""), jwk_json(key)]}).to_string(),
    );
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    let run = invoke(&env_for(&server), bearer_event(&token)).await;
    assert_eq!(
        run.code, 0,
        "the good key still verifies: {}{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.matches("RSA modulus is empty or zero").count() == 2,
        "each bad key is skipped with its reason: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zero_kid_miss_cooldown_is_floored_at_one_second() {
    let key = rsa_key("good");
    let server = JwksServer::with_keys(&[key]).await;
    let env: Vec<(&str, String)> = env_for(&server)
        .into_iter()
        .chain([("JWKS_KID_MISS_COOLDOWN_SECONDS", "0".to_owned())])
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let serve = Serve::start(&[], &env).await;
    assert_eq!(server.hits(), 1, "the start-up fetch");
    let started = Instant::now();
    for i in 0..5 {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(format!("made-up-{i}"));
        let token = key
            .sign_with_header(&header, &good_claims(&server.issuer()))
            .unwrap();
        let answer = serve.get("/pets", Some(&format!("Bearer {token}"))).await;
        assert_eq!(answer.status, 401);
    }
    // One kid-miss fetch, then the penalty box for a second, even with 0 configured (on a slow
    // machine the five requests may span more than one cooldown).
    let cooldowns = started.elapsed().as_secs() as usize + 1;
    assert!(
        server.hits() <= 1 + cooldowns && server.hits() < 6,
        "{} fetches for 5 unknown kids in {:?}",
        server.hits(),
        started.elapsed()
    );
}

/// What a discovery document says about `issuer`.
#[derive(Clone, Copy, Debug)]
enum Names {
    Nothing,
    Another,
    Itself,
}

/// An OIDC discovery server on 127.0.0.1 (its issuer: its own base URL) whose document names the
/// issuer as `names` says; returns the issuer URL.
async fn discovery_server(key: &jwt_authorizer::issuer::SigningKey, names: Names) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer = format!("{base}/");
    let mut document = json!({ "jwks_uri": format!("{base}/jwks.json") });
    match names {
        Names::Nothing => {}
        Names::Another => document["issuer"] = "https://elsewhere.example.com/".into(),
        Names::Itself => document["issuer"] = issuer.clone().into(),
    }
    let jwks = jwt_authorizer::issuer::jwks([key]);
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(document) }),
        )
        .route(
            "/jwks.json",
            axum::routing::get(move || async move { jwks }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    issuer
}

#[tokio::test(flavor = "multi_thread")]
async fn a_discovery_document_must_name_the_configured_issuer() {
    let key = rsa_key("good");
    for names in [Names::Nothing, Names::Another, Names::Itself] {
        let issuer = discovery_server(key, names).await;
        let token = key.sign(&good_claims(&issuer)).unwrap();
        let env = vec![("TOKEN_ISSUER", issuer), ("AUDIENCE", AUDIENCE.to_owned())];
        let run = invoke(&env, bearer_event(&token)).await;
        match names {
            Names::Itself => assert_eq!(run.code, 0, "{}", run.stderr),
            Names::Nothing | Names::Another => {
                assert_eq!(run.code, 1, "a document naming {names:?}: {}", run.stdout);
                assert!(
                    run.stderr.contains("OIDC discovery") && run.stderr.contains("issuer"),
                    "the refusal says why: {}",
                    run.stderr
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_null_claim_does_not_satisfy_required_claims() {
    let key = rsa_key("good");
    let server = JwksServer::with_keys(&[key]).await;
    let mut env = env_for(&server);
    env.push(("REQUIRED_CLAIMS", "tenant".to_owned()));
    for (tenant, code) in [(json!("acme"), 0), (json!(null), 1)] {
        let mut claims = good_claims(&server.issuer());
        claims["tenant"] = tenant.clone();
        let run = invoke(&env, bearer_event(&key.sign(&claims).unwrap())).await;
        assert_eq!(run.code, code, "tenant {tenant}: {}", run.stdout);
        if code == 1 {
            assert!(run.stderr.contains("missing_claim"), "{}", run.stderr);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_republished_under_another_alg_no_longer_verifies_cached_tokens() {
    let key = rsa_key("good");
    let server = JwksServer::with_keys(&[key]).await;
    let mut env: Vec<(&str, String)> = env_for(&server);
    env.push(("ALLOWED_ALGORITHMS", "RS256,PS256".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // No gateway cache: every request reaches the authorizer and its verified-token cache.
    let serve = Serve::start(&["--cache-ttl", "0"], &env).await;
    let bearer = format!(
        "Bearer {}",
        key.sign(&good_claims(&server.issuer())).unwrap()
    );
    assert_eq!(serve.get("/pets", Some(&bearer)).await.status, 200);
    assert_eq!(
        serve.get("/pets", Some(&bearer)).await.status,
        200,
        "a cache hit"
    );

    // The same key material, now for PS256 only (RFC 7517 §4.4: `alg` is the algorithm the key
    // is intended for).
    let mut jwk = jwk_json(key);
    jwk["alg"] = "PS256".into();
    server.publish_raw(json!({ "keys": [jwk] }).to_string());
    // A token with a kid the set lacks makes the authorizer fetch the new set.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("new-kid".into());
    let other = key
        .sign_with_header(&header, &good_claims(&server.issuer()))
        .unwrap();
    assert_eq!(
        serve
            .get("/pets", Some(&format!("Bearer {other}")))
            .await
            .status,
        401
    );
    assert_eq!(server.hits(), 2, "the new set was fetched");

    assert_eq!(
        serve.get("/pets", Some(&bearer)).await.status,
        401,
        "an RS256 token is not verified by a PS256-only key, cached or not: {}",
        serve.logs()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_key_set_is_refreshed_beside_the_request_not_before_it() {
    let key = rsa_key("good");
    let server = JwksServer::with_keys(&[key]).await;
    // As in a thawed Lambda process: no interval task, only the authorizations' own age check.
    let (authorizer, clock) = authorizer_with_clock(
        &server,
        &[
            ("JWKS_REFRESH_INTERVAL_SECONDS", "1"),
            ("JWKS_MIN_REFRESH_INTERVAL_SECONDS", "1"),
            ("JWKS_TIMEOUT_MS", "5000"),
        ],
    );
    authorizer.refresh_keys(jwt_authorizer::Trigger::Init).await;
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    clock.advance(Duration::from_secs(1));
    let delay = Duration::from_secs(3);
    server.set_mode(Mode::Delay(delay));

    for _ in 0..3 {
        let started = Instant::now();
        let (decision, _) = authorize(&authorizer, &token).await;
        assert_eq!(decision.outcome, jwt_authorizer::Outcome::Allow);
        assert!(
            started.elapsed() < delay / 2,
            "answered with the current keys in {:?}, not after the {delay:?} fetch",
            started.elapsed()
        );
    }
    // The refresh finishes beside the requests, once: a single flight, not one per request.
    let keys = authorizer.issuers()[0].keys();
    eventually("the refresh beside the requests", || keys.attempts() == 2).await;
    assert_eq!(server.hits(), 2, "the start-up fetch and one stale refresh");
}

#[tokio::test(flavor = "multi_thread")]
async fn help_variable_table_reads_at_80_columns_with_a_hanging_indent() {
    let output = Command::new(BIN).arg("--help").output().await.unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    let table = &help[help.find("Environment variables:").expect("the table")..];
    for line in table.lines() {
        assert!(
            line.chars().count() <= 80,
            "a line over 80 columns: {line:?}"
        );
    }
    let lines: Vec<&str> = table.lines().skip(1).collect();
    for name in ["TOKEN_ISSUER", "POLICY_RESOURCE"] {
        let first = lines
            .iter()
            .position(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("{name} in the table"));
        let next = lines[first + 1];
        assert!(
            next.starts_with("      "),
            "{name}'s meaning continues on an indented line: {next:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn invoke_exits_2_when_it_cannot_run_and_says_so_in_its_help() {
    let run = Command::new(BIN)
        .args(["invoke", "--event", "/nonexistent/event.json"])
        .env_clear()
        .output()
        .await
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("cannot read the event"));
    let help = Command::new(BIN)
        .args(["invoke", "--help"])
        .output()
        .await
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("2 when it cannot run") && help.contains("the event cannot be read"),
        "{help}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_route_scopes_rule_is_printed_once() {
    let key = rsa_key("good");
    let server = JwksServer::with_keys(&[key]).await;
    let mut env = env_for(&server);
    env.push(("ROUTE_SCOPES", "GET /pets read:pets".to_owned()));
    let run = invoke(&env, b"{}".to_vec()).await;
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.matches("GET /pets read:pets").count(),
        1,
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_issuer_in_config_file_is_reported_once_not_also_as_unknown_to_its_routes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("issuers.toml");
    std::fs::write(
        &path,
        "[[issuer]]\nname = \"users\"\nissuer = \"https://users.example.com/\"\n\n\
         [[route]]\nroute = \"GET /pets\"\nscopes = [\"read:pets\"]\nissuers = [\"users\"]\n\n\
         [[route]]\nroute = \"POST /pets\"\nscopes = [\"write:pets\"]\nissuers = [\"nobody\"]\n",
    )
    .unwrap();
    let run = invoke(
        &[("CONFIG_FILE", path.to_str().unwrap().to_owned())],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains(r#"issuer "users": audiences: is required"#),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr
            .contains(r#""users" is not the name of an issuer"#),
        "the route names an issuer the file has: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(r#""nobody" is not the name of an issuer of this file"#),
        "a name the file lacks is still reported: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_first_fetch_does_not_claim_to_keep_keys_it_does_not_have() {
    let key = rsa_key("good");
    let server = JwksServer::with_keys(&[key]).await;
    server.set_mode(Mode::Status(503));
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    let run = invoke(&env_for(&server), bearer_event(&token)).await;
    assert_eq!(run.code, 1);
    assert!(
        !run.stderr.contains("keeping the keys we have"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("no keys yet"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_logs_one_access_line_per_request_even_when_the_gateway_answers_itself() {
    let serve = Serve::start(&[], &[]).await;
    let bearer = serve.bearer();
    assert_eq!(serve.get("/pets", None).await.status, 401, "no token");
    assert_eq!(serve.get("/pets", Some(&bearer)).await.status, 200);
    assert_eq!(
        serve.get("/pets/1", Some(&bearer)).await.status,
        200,
        "cached"
    );
    assert_eq!(serve.get("/nowhere", Some(&bearer)).await.status, 403);
    // The lines may trail the answers by a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = serve.logs();
    // The embedded issuer's documents are served on the same listener, and logged too.
    let access: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("access") && !l.contains("/.well-known/"))
        .collect();
    assert_eq!(access.len(), 4, "one line per request: {logs}");
    for (line, (path, status)) in access.iter().zip([
        ("/pets", 401),
        ("/pets", 200),
        ("/pets/1", 200),
        ("/nowhere", 403),
    ]) {
        assert!(
            line.contains(path) && line.contains(&status.to_string()),
            "{path} {status}: {line}"
        );
    }
    assert!(
        !logs.contains(&bearer["Bearer ".len()..]),
        "the token never reaches the logs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_warns_when_policy_resource_method_meets_its_cache() {
    let serve = Serve::start(&[], &[("POLICY_RESOURCE", "method")]).await;
    assert!(
        serve.logs().contains("POLICY_RESOURCE=method"),
        "a warning on start: {}",
        serve.logs()
    );
    let quiet = Serve::start(&["--cache-ttl", "0"], &[("POLICY_RESOURCE", "method")]).await;
    assert!(
        !quiet.logs().contains("POLICY_RESOURCE=method"),
        "{}",
        quiet.logs()
    );
}

/// Starts `serve` with the embedded issuer and `--key`, returning its whole banner.
async fn serve_banner(
    key: &std::path::Path,
    env: &[(&str, &str)],
) -> (tokio::process::Child, String) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--key",
        ])
        .arg(key)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = String::new();
    let read = async {
        while let Ok(Some(line)) = lines.next_line().await {
            banner.push_str(&line);
            banner.push('\n');
            if line.starts_with("authorizer cache:") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .unwrap();
    (child, banner)
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_banner_names_a_command_that_exists_and_a_token_like_token_mints() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, banner) = serve_banner(&dir.path().join("dev-key.pem"), &[]).await;
    let more = banner
        .lines()
        .find(|l| l.starts_with("More tokens:"))
        .unwrap_or_else(|| panic!("a `More tokens:` line: {banner}"));
    // PATH is empty here: `authorizer` is not a command this user has.
    assert!(
        more.starts_with(&format!("More tokens: {BIN} token --key ")),
        "the running binary's own path: {more}"
    );
    let token = banner
        .lines()
        .find_map(|l| l.strip_prefix("export TOKEN="))
        .expect("a token");
    let payload: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            token.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let lifetime = payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap();
    assert_eq!(
        lifetime, 3600,
        "the printed token lasts as long as `token`'s default"
    );
    assert!(banner.contains("valid 1 h"), "{banner}");
}

#[test]
fn readme_template_and_samconfig_give_one_http_api_deploy_line() {
    let read = |path: &str| {
        std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    let line = "sam build --template-file http-api.yaml && sam deploy --guided --stack-name jwt-authorizer-http";
    for path in ["README.md", "deploy/http-api.yaml", "deploy/samconfig.toml"] {
        let text = read(path);
        assert!(text.contains(line), "{path} gives the HTTP API deploy line");
        let deploys = text
            .lines()
            .filter(|l| {
                l.contains("sam deploy")
                    && (l.contains("--stack-name") || l.contains("--template-file"))
            })
            .count();
        assert_eq!(deploys, 1, "{path} gives no other HTTP API deploy line");
    }
}
