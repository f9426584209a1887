//! The real binary: `authorizer invoke` on the sample events, as a user runs it.

mod support;

use serde_json::Value;
use std::process::Stdio;
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn invoke(env: &[(&str, String)], event_arg: &str, stdin: Option<Vec<u8>>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_authorizer"));
    command
        .args(["invoke", "--event", event_arg])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(&bytes).await.unwrap();
    }
    let output = child.wait_with_output().await.unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn env_for(server: &JwksServer) -> Vec<(&'static str, String)> {
    vec![
        ("TOKEN_ISSUER", server.issuer()),
        ("JWKS_URI", server.jwks_uri()),
        ("AUDIENCE", AUDIENCE.into()),
    ]
}

/// A sample event from events/ with its placeholder token replaced.
fn sample_with_token(name: &str, token: &str) -> tempfile::NamedTempFile {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let placeholder_start = text.find("Bearer ey").unwrap();
    let placeholder_end = placeholder_start + text[placeholder_start..].find('"').unwrap();
    let placeholder = &text[placeholder_start..placeholder_end];
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        text.replace(placeholder, &format!("Bearer {token}")),
    )
    .unwrap();
    file
}

#[tokio::test(flavor = "multi_thread")]
async fn invoke_answers_each_sample_event_like_lambda_would() {
    let key = rsa_key("cli");
    let server = JwksServer::with_keys(&[key]).await;
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    for name in ["token.json", "request.json", "http-api-v2.json"] {
        let event = sample_with_token(name, &token);
        let run = invoke(&env_for(&server), event.path().to_str().unwrap(), None).await;
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        assert_eq!(
            run.stdout.lines().count(),
            1,
            "exactly one JSON document on stdout"
        );
        let answer: Value = serde_json::from_str(&run.stdout).unwrap();
        if name == "http-api-v2.json" {
            assert_eq!(answer["isAuthorized"], true);
        } else {
            assert_eq!(answer["principalId"], "auth0|alice");
            assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Allow");
        }
        assert!(
            run.stderr.contains("authorization"),
            "a decision log line on stderr"
        );
        assert!(
            !run.stderr.contains(&token[..40]),
            "the token never reaches the logs"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn invoke_prints_unauthorized_and_exits_1_for_a_bad_token_read_from_stdin() {
    let key = rsa_key("cli");
    let server = JwksServer::with_keys(&[key]).await;
    let mut claims = good_claims(&server.issuer());
    claims["exp"] = serde_json::json!(now() - 3600);
    let expired = key.sign(&claims).unwrap();
    let run = invoke(
        &env_for(&server),
        "-",
        Some(token_event(&format!("Bearer {expired}"))),
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stdout.trim(),
        r#"{"errorType":"Unauthorized","errorMessage":"Unauthorized"}"#
    );
    assert!(
        run.stderr.contains("expired"),
        "the reason is logged: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invoke_explains_configuration_errors_and_exits_2() {
    let run = invoke(
        &[
            ("AUDIENCE", "x".into()),
            ("ALLOWED_ALGORITHMS", "HS256".into()),
        ],
        "-",
        Some(b"{}".to_vec()),
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("TOKEN_ISSUER: is not set"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("ALLOWED_ALGORITHMS"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn help_lists_every_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_authorizer"))
        .arg("--help")
        .output()
        .await
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for (name, ..) in jwt_authorizer::VARIABLES {
        assert!(help.contains(name), "{name} missing from --help");
    }
    assert!(help.contains("invoke"));
}

#[tokio::test(flavor = "multi_thread")]
async fn token_creates_a_missing_key_and_then_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("issuer.pem");
    let mint = || async {
        let output = Command::new(env!("CARGO_BIN_EXE_authorizer"))
            .args(["token", "--key", key.to_str().unwrap(), "--count", "2"])
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let first = mint().await;
    assert!(key.is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let second = mint().await;
    let tokens: Vec<&str> = first.lines().chain(second.lines()).collect();
    assert_eq!(tokens.len(), 4);
    let header = |token: &str| token.split('.').next().unwrap().to_owned();
    assert!(
        tokens.iter().all(|t| header(t) == header(tokens[0])),
        "one key, one kid"
    );
    assert_ne!(tokens[0], tokens[1], "distinct tokens");
}

#[tokio::test(flavor = "multi_thread")]
async fn invoke_reads_several_issuers_from_config_file_and_names_bad_fields() {
    let key = rsa_key("cli-file");
    let users = JwksServer::with_keys(&[key]).await;
    let partners = JwksServer::with_keys(&[key]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("issuers.toml");
    let write = |partner_audiences: &str| {
        std::fs::write(
            &path,
            format!(
                "[[issuer]]\nname = \"users\"\nissuer = \"{}\"\njwks_uri = \"{}\"\naudiences = [\"{AUDIENCE}\"]\n\n\
                 [[issuer]]\nname = \"partners\"\nissuer = \"{}\"\njwks_uri = \"{}\"\n{partner_audiences}\n",
                users.issuer(),
                users.jwks_uri(),
                partners.issuer(),
                partners.jwks_uri(),
            ),
        )
        .unwrap();
    };
    let env = [
        ("CONFIG_FILE", path.to_str().unwrap().to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
    ];

    write("audiences = [\"partner-api\"]");
    let mut claims = good_claims(&partners.issuer());
    claims["aud"] = "partner-api".into();
    let token = key.sign(&claims).unwrap();
    let run = invoke(&env, "-", Some(token_event(&format!("Bearer {token}")))).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(r#""issuer":"partners""#),
        "the decision is logged with the issuer's name: {}",
        run.stderr
    );
    // Only the issuer the token named was asked for keys... after the start-up fetch of both.
    assert_eq!((users.hits(), partners.hits()), (1, 1));

    write("audience = [\"partner-api\"]");
    let run = invoke(&env, "-", Some(b"{}".to_vec())).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("CONFIG_FILE")
            && run.stderr.contains("issuers.toml")
            && run.stderr.contains("audience"),
        "{}",
        run.stderr
    );
    write("");
    let run = invoke(&env, "-", Some(b"{}".to_vec())).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains(r#"issuers.toml: issuer "partners": audiences: is required"#),
        "{}",
        run.stderr
    );
}
