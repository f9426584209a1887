//! What reaches the logs, read from the real binary's output: `invoke` (the CLI), `serve` (the
//! local gateway) and Lambda mode (under a Runtime API on 127.0.0.1). No segment of any token,
//! allowed or refused, is ever printed (G5), and what the logs get of an attacker's `kid` and of a
//! `sub` is cut at 64 and 128 bytes, however long they are.

mod support;

use serde_json::json;
use std::process::Stdio;
use std::time::Duration;
use support::runtime_api::{RuntimeApi, spawn_function};
use support::*;
use tokio::io::AsyncReadExt;

/// Runs `authorizer invoke` on `event` (read from stdin) with debug logging; returns its exit
/// code, stdout and stderr.
async fn invoke(
    server: &JwksServer,
    extra: &[(&str, &str)],
    event: Vec<u8>,
) -> (i32, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_authorizer"))
        .args(["invoke", "--event", "-"])
        .env_clear()
        .env("TOKEN_ISSUER", server.issuer())
        .env("JWKS_URI", server.jwks_uri())
        .env("AUDIENCE", AUDIENCE)
        .env("RUST_LOG", "debug")
        .envs(extra.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&event).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The tokens of these tests: allowed, expired and malformed (a payload that is not JSON).
fn tokens(server: &JwksServer) -> Vec<(&'static str, String)> {
    let key = rsa_key("logs");
    let allowed = key.sign(&good_claims(&server.issuer())).unwrap();
    let mut claims = good_claims(&server.issuer());
    claims["exp"] = json!(now() - 3600);
    let expired = key.sign(&claims).unwrap();
    let header = allowed.split('.').next().unwrap();
    let signature = allowed.rsplit('.').next().unwrap();
    let malformed = format!("{header}.{}.{signature}", b64("not JSON at all"));
    vec![
        ("allowed", allowed),
        ("expired", expired),
        ("malformed", malformed),
    ]
}

/// Asserts that no segment of `token` appears in `output`.
fn assert_not_logged(what: &str, token: &str, output: &str) {
    for (i, segment) in token.split('.').enumerate() {
        assert!(
            !output.contains(segment),
            "{what}: segment {i} of the token is in the output:\n{output}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_segment_of_a_token_reaches_the_output_of_invoke() {
    let server = JwksServer::with_keys(&[rsa_key("logs")]).await;
    for (what, token) in tokens(&server) {
        let (code, stdout, stderr) =
            invoke(&server, &[], token_event(&format!("Bearer {token}"))).await;
        assert_eq!(
            code,
            if what == "allowed" { 0 } else { 1 },
            "{what}: {stderr}"
        );
        assert!(
            stderr.contains("authorization"),
            "{what}: a decision was logged"
        );
        assert_not_logged(what, &token, &format!("{stdout}\n{stderr}"));
    }
}

#[cfg(feature = "local")]
#[tokio::test(flavor = "multi_thread")]
async fn no_segment_of_a_token_reaches_the_output_of_serve() {
    let server = JwksServer::with_keys(&[rsa_key("logs")]).await;
    let (issuer, jwks_uri) = (server.issuer(), server.jwks_uri());
    let serve = support::serve::Serve::start(
        &["--cache-ttl", "0"],
        &[
            ("TOKEN_ISSUER", issuer.as_str()),
            ("JWKS_URI", jwks_uri.as_str()),
            ("AUDIENCE", AUDIENCE),
        ],
    )
    .await;
    let tokens = tokens(&server);
    for (what, token) in &tokens {
        let status = serve
            .get("/pets", Some(&format!("Bearer {token}")))
            .await
            .status;
        assert_eq!(status, if *what == "allowed" { 200 } else { 401 }, "{what}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let output = format!("{}\n{}", serve.stdout.lock().unwrap(), serve.logs());
    // At `info`, a line per refusal (the expired and the malformed token); none per Allow.
    assert!(output.matches("authorization").count() >= 2, "{output}");
    for (what, token) in &tokens {
        assert_not_logged(what, token, &output);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_segment_of_a_token_reaches_the_output_of_the_lambda_function() {
    let server = JwksServer::with_keys(&[rsa_key("logs")]).await;
    let mut api = RuntimeApi::start().await;
    let mut child = spawn_function(&api, &server, &[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]);
    let tokens = tokens(&server);
    for (_, token) in &tokens {
        api.push(token_event(&format!("Bearer {token}")));
    }
    for (what, _) in &tokens {
        let answer = api
            .answer(Duration::from_secs(20))
            .await
            .expect("an answer");
        let kind = if *what == "allowed" {
            "response"
        } else {
            "error"
        };
        assert_eq!(answer.kind, kind, "{what}");
    }
    child.start_kill().unwrap();
    let mut output = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .await
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .await
        .unwrap();
    assert!(output.matches("authorization").count() >= 3, "{output}");
    for (what, token) in &tokens {
        assert_not_logged(what, token, &output);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_eight_kilobyte_kid_and_a_sixty_four_kilobyte_sub_are_cut_in_the_logs() {
    let key = rsa_key("logs");
    let server = JwksServer::with_keys(&[key]).await;
    let claims = good_claims(&server.issuer());

    let long_kid = sign_raw(
        key,
        &json!({"alg": "RS256", "kid": "k".repeat(8 << 10)}),
        &claims,
    );
    let (code, _, stderr) = invoke(&server, &[], token_event(&format!("Bearer {long_kid}"))).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("unknown_kid"), "{stderr}");
    assert!(
        stderr.contains(&"k".repeat(64)) && !stderr.contains(&"k".repeat(65)),
        "the kid is logged, cut at 64 bytes:\n{stderr}"
    );

    let mut claims = claims;
    claims["sub"] = json!("s".repeat(64 << 10));
    let long_sub = key.sign(&claims).unwrap();
    let (code, stdout, stderr) = invoke(
        &server,
        &[("MAX_TOKEN_BYTES", "1048576")],
        token_event(&format!("Bearer {long_sub}")),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&"s".repeat(64 << 10)),
        "the principal is the whole sub"
    );
    assert!(
        stderr.contains(&"s".repeat(128)) && !stderr.contains(&"s".repeat(129)),
        "the sub is logged, cut at 128 bytes:\n{}",
        &stderr[..stderr.len().min(4096)]
    );
}

/// The cut at 64 and 128 bytes falls inside a two-byte character: the logs get the characters
/// before it, never half of one, and the authorization is answered as usual.
#[tokio::test(flavor = "multi_thread")]
async fn a_kid_and_a_sub_cut_inside_a_character_are_logged_up_to_that_character() {
    let key = rsa_key("logs");
    let server = JwksServer::with_keys(&[key]).await;
    let claims = good_claims(&server.issuer());

    // Bytes 63 and 64 of the kid are one `é`.
    let kid = format!("{}é{}", "k".repeat(63), "k".repeat(100));
    let token = sign_raw(key, &json!({"alg": "RS256", "kid": kid}), &claims);
    let (code, _, stderr) = invoke(&server, &[], token_event(&format!("Bearer {token}"))).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("unknown_kid"), "{stderr}");
    assert!(
        stderr.contains(&"k".repeat(63)) && !stderr.contains('é'),
        "the kid is logged up to the character at the cut:\n{stderr}"
    );

    // Bytes 127 and 128 of the sub are one `é`.
    let mut claims = claims;
    claims["sub"] = json!(format!("{}é{}", "s".repeat(127), "s".repeat(100)));
    let token = key.sign(&claims).unwrap();
    let (code, stdout, stderr) =
        invoke(&server, &[], token_event(&format!("Bearer {token}"))).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains('é'),
        "the principal is the whole sub: {stdout}"
    );
    assert!(
        stderr.contains(&"s".repeat(127)) && !stderr.contains('é'),
        "the sub is logged up to the character at the cut:\n{stderr}"
    );
}
