//! What a Lambda invocation costs besides the authorization, as a user of the real binary sees it
//! under a Runtime API on 127.0.0.1: the bytes it writes (EMF aggregated over a window, written on
//! the first invocation after it and on SIGTERM; no line per Allow; no colour codes in a pipe),
//! the shutdown extension, the background refresher on the current-thread runtime, and
//! `JWKS_FILE` (keys from init, no cold start waiting for the issuer).

mod support;

use serde_json::Value;
use std::time::Duration;
use support::runtime_api::{RuntimeApi, spawn_function};
use support::*;
use tokio::io::AsyncReadExt;

/// Sends SIGTERM (what Lambda sends before retiring an environment with an extension
/// registered), waits for the process to end, and returns its status and what it wrote.
async fn terminate(child: &mut tokio::process::Child) -> (Option<i32>, String, String) {
    let pid = child.id().expect("still running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("the function exits after SIGTERM")
        .unwrap();
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .await
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    (status.code(), stdout, stderr)
}

fn emf_documents(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|doc| doc.get("_aws").is_some())
        .collect()
}

fn sum(docs: &[Value], name: &str, outcome: &str) -> u64 {
    docs.iter()
        .filter(|d| d["outcome"] == outcome)
        .filter_map(|d| d[name].as_u64())
        .sum()
}

async fn answer_all(api: &mut RuntimeApi, events: usize) {
    for _ in 0..events {
        api.answer(Duration::from_secs(20))
            .await
            .expect("an answer per event");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_metrics_window_is_written_on_sigterm() {
    let key = rsa_key("cost-window");
    let server = JwksServer::with_keys(&[key]).await;
    let mut api = RuntimeApi::start().await;
    let mut child = spawn_function(&api, &server, &[]);
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    for _ in 0..5 {
        api.push(token_event(&format!("Bearer {token}")));
    }
    api.push(token_event("Bearer not.a.token"));
    answer_all(&mut api, 6).await;
    assert_eq!(
        api.extensions(),
        ["jwt-authorizer-shutdown"],
        "the internal extension that makes Lambda send SIGTERM"
    );

    let (status, stdout, _) = terminate(&mut child).await;
    assert_eq!(status, Some(0), "a clean exit after the flush");
    let docs = emf_documents(&stdout);
    // Everything of the window, and only once: written at SIGTERM, not per invocation.
    assert_eq!(sum(&docs, "authorizations", "allow"), 5, "{stdout}");
    assert_eq!(sum(&docs, "authorizations", "unauthorized"), 1, "{stdout}");
    let cold: u64 = docs.iter().filter_map(|d| d["cold_start"].as_u64()).sum();
    assert_eq!(cold, 1);
    let latencies: u64 = docs
        .iter()
        .filter_map(|d| d["authorization_latency_us"]["Count"].as_u64())
        .sum();
    assert_eq!(latencies, 6);
    assert!(
        docs.iter().all(|d| d.get("function_request_id").is_none()),
        "a window is not one request"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_window_is_written_by_the_first_invocation_after_it_and_not_before() {
    let key = rsa_key("cost-window-2");
    let server = JwksServer::with_keys(&[key]).await;
    let mut api = RuntimeApi::start().await;
    let mut child = spawn_function(&api, &server, &[("METRICS_FLUSH_INTERVAL_SECONDS", "1")]);
    let event = token_event(&format!(
        "Bearer {}",
        key.sign(&good_claims(&server.issuer())).unwrap()
    ));
    for _ in 0..3 {
        api.push(event.clone());
    }
    answer_all(&mut api, 3).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // This one writes the first window (three Allows), then opens the next with itself.
    api.push(event.clone());
    answer_all(&mut api, 1).await;
    let (_, stdout, _) = terminate(&mut child).await;
    let docs = emf_documents(&stdout);
    let allows: Vec<u64> = docs
        .iter()
        .filter(|d| d["outcome"] == "allow")
        .filter_map(|d| d["authorizations"].as_u64())
        .collect();
    assert_eq!(allows, [3, 1], "two windows, in order:\n{stdout}");
    let stamps: Vec<u64> = docs
        .iter()
        .filter(|d| d["outcome"] == "allow")
        .map(|d| d["_aws"]["Timestamp"].as_u64().unwrap())
        .collect();
    assert!(
        stamps[1] - stamps[0] >= 1000,
        "each window stamped with its start: {stamps:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn default_output_is_at_most_200_bytes_per_invocation() {
    let key = rsa_key("cost-bytes");
    let server = JwksServer::with_keys(&[key]).await;
    let mut api = RuntimeApi::start().await;
    let mut child = spawn_function(&api, &server, &[]);
    let claims = good_claims(&server.issuer());
    // 1,000 invocations: 900 Allows (100 distinct tokens) and 100 refusals, each logged.
    for i in 0..1000 {
        let event = if i % 10 == 9 {
            token_event("Bearer not.a.token")
        } else {
            let mut claims = claims.clone();
            claims["jti"] = serde_json::json!(i % 100);
            token_event(&format!("Bearer {}", key.sign(&claims).unwrap()))
        };
        api.push(event);
    }
    answer_all(&mut api, 1000).await;
    let (_, stdout, stderr) = terminate(&mut child).await;
    let bytes = stdout.len() + stderr.len();
    assert!(
        bytes <= 200 * 1000,
        "{bytes} bytes for 1,000 invocations:\n{stdout}{stderr}"
    );
    let refusals = stdout
        .lines()
        .filter(|l| l.contains(r#""message":"authorization""#))
        .count();
    assert_eq!(refusals, 100, "one line per refusal, none per Allow");
    assert_eq!(sum(&emf_documents(&stdout), "authorizations", "allow"), 900);
}

#[tokio::test(flavor = "multi_thread")]
async fn text_logs_in_a_pipe_have_no_colour_codes_and_debug_shows_allows() {
    let key = rsa_key("cost-text");
    let server = JwksServer::with_keys(&[key]).await;
    let mut api = RuntimeApi::start().await;
    let mut child = spawn_function(
        &api,
        &server,
        &[
            ("AWS_LAMBDA_LOG_FORMAT", "Text"),
            ("AWS_LAMBDA_LOG_LEVEL", "debug"),
        ],
    );
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    api.push(token_event(&format!("Bearer {token}")));
    api.push(token_event("Bearer not.a.token"));
    answer_all(&mut api, 2).await;
    let (_, stdout, stderr) = terminate(&mut child).await;
    assert!(
        !stdout.contains('\u{1b}') && !stderr.contains('\u{1b}'),
        "no ANSI escape in a pipe:\n{stdout}"
    );
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(" authorization requestId="))
        .collect();
    assert_eq!(lines.len(), 2, "at debug, a line per decision:\n{stdout}");
    assert!(lines[0].starts_with("DEBUG") && lines[0].contains("outcome=\"allow\""));
    assert!(lines[1].starts_with(" INFO") && lines[1].contains("reason=\"malformed\""));
    assert!(!stdout.contains(&token[..40]), "never the token");
}

/// Lambda runs the refresher only while the process is thawed; here it is never frozen, so the
/// interval task must run on its own on the current-thread runtime while the loop waits for events.
#[tokio::test(flavor = "multi_thread")]
async fn the_background_refresher_runs_on_the_current_thread_runtime() {
    let key = rsa_key("cost-refresh");
    let server = JwksServer::with_keys(&[key]).await;
    let mut api = RuntimeApi::start().await;
    let mut child = spawn_function(
        &api,
        &server,
        &[
            ("JWKS_REFRESH_INTERVAL_SECONDS", "1"),
            ("JWKS_MIN_REFRESH_INTERVAL_SECONDS", "1"),
        ],
    );
    api.push(token_event(&format!(
        "Bearer {}",
        key.sign(&good_claims(&server.issuer())).unwrap()
    )));
    answer_all(&mut api, 1).await;
    let after_init = server.hits();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(
        server.hits() >= after_init + 2,
        "interval refreshes while idle: {} then {}",
        after_init,
        server.hits()
    );
    terminate(&mut child).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_jwks_file_the_first_answer_does_not_wait_for_the_issuer() {
    let (bundled, rotated) = (rsa_key("cost-file-a"), rsa_key("cost-file-b"));
    let server = JwksServer::with_keys(&[bundled, rotated]).await;
    // The issuer answers, but only after longer than the test waits for the first answer.
    server.set_mode(Mode::Delay(Duration::from_secs(8)));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), jwt_authorizer::issuer::jwks([bundled])).unwrap();
    let mut api = RuntimeApi::start().await;
    let mut child = spawn_function(
        &api,
        &server,
        &[
            ("JWKS_FILE", file.path().to_str().unwrap()),
            ("JWKS_TIMEOUT_MS", "30000"),
        ],
    );
    let claims = good_claims(&server.issuer());
    let first = api.push(token_event(&format!(
        "Bearer {}",
        bundled.sign(&claims).unwrap()
    )));
    let answer = api
        .answer(Duration::from_secs(4))
        .await
        .expect("answered from the file's keys while the issuer is still silent");
    assert_eq!((answer.request_id, answer.kind), (first, "response"));
    let policy: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(policy["policyDocument"]["Statement"][0]["Effect"], "Allow");
    // The init fetch was made all the same, in the background.
    for _ in 0..50 {
        if server.hits() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(server.hits(), 1, "one fetch at init, in the background");

    // A kid the file lacks waits for that fetch (the usual kid-miss rule), then is answered.
    api.push(token_event(&format!(
        "Bearer {}",
        rotated.sign(&claims).unwrap()
    )));
    let answer = api
        .answer(Duration::from_secs(30))
        .await
        .expect("answered once the issuer's keys arrive");
    assert_eq!(answer.kind, "response", "{answer:?}");
    terminate(&mut child).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jwks_file_without_usable_keys_stops_init_with_a_reason() {
    let server = JwksServer::with_keys(&[rsa_key("cost-file-bad")]).await;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"x"}]}"#,
    )
    .unwrap();
    let api = RuntimeApi::start().await;
    let mut child = spawn_function(
        &api,
        &server,
        &[("JWKS_FILE", file.path().to_str().unwrap())],
    );
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("init stops")
        .unwrap();
    assert_eq!(status.code(), Some(2));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(
        stderr.contains("JWKS_FILE") && stderr.contains("no usable signing key"),
        "{stderr}"
    );
}

#[test]
fn config_file_issuers_take_their_own_jwks_file() {
    let jwks = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        jwks.path(),
        jwt_authorizer::issuer::jwks([rsa_key("cost-cfg")]),
    )
    .unwrap();
    let config = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::fs::write(
        config.path(),
        format!(
            r#"
[[issuer]]
issuer = "https://a.example.com/"
audiences = ["api"]
jwks_file = "{}"

[[issuer]]
issuer = "https://b.example.com/"
audiences = ["api"]
"#,
            jwks.path().display()
        ),
    )
    .unwrap();
    let path = config.path().to_str().unwrap().to_owned();
    let lookup = |name: &str| (name == "CONFIG_FILE").then(|| path.clone());
    let parsed = jwt_authorizer::Config::from_lookup(lookup).unwrap();
    assert_eq!(parsed.issuers[0].jwks_file.as_deref(), Some(jwks.path()));
    assert_eq!(parsed.issuers[1].jwks_file, None);

    std::fs::write(
        config.path(),
        "[[issuer]]\nissuer = \"https://a.example.com/\"\naudiences = [\"api\"]\njwks_file = \"/no/such/jwks.json\"\n",
    )
    .unwrap();
    let error = jwt_authorizer::Config::from_lookup(lookup).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("/no/such/jwks.json is not a readable file"),
        "{error}"
    );
}
