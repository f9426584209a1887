//! Whole-process cold start: from `exec` of the release binary to its first answered invocation
//! through a Lambda Runtime API on 127.0.0.1, with the JWKS served over HTTPS (a test CA the
//! binary trusts through `JWKS_CA_FILE`), as production issuers serve it. Then the peak RSS after
//! 100,000 authorizations.
//!
//! ```sh
//! cargo build --release --no-default-features      # the Lambda binary
//! cargo bench --bench cold_start                   # RUNS=20, AUTHORIZATIONS=100000 by default
//! ```
//!
//! `AUTHORIZER_BIN=path/to/bootstrap` measures another build, e.g. the one `scripts/package` zips
//! (`cargo bench` itself rebuilds `target/release/authorizer` with the bench profile).

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};
use support::runtime_api::{RuntimeApi, lambda_environment, release_binary};
use support::tls::TestCa;
use support::*;
use tokio::process::Command;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let binary = release_binary("cargo build --release --no-default-features");
    let runs = env_number("RUNS", 20);
    let authorizations = env_number("AUTHORIZATIONS", 100_000);

    let key = rsa_key("cold");
    let ca = TestCa::new();
    let server = JwksServer::start_tls(jwt_authorizer::issuer::jwks([key]), &ca).await;
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), &ca.ca_pem).unwrap();
    let claims = good_claims(&server.issuer());
    let tokens: Vec<String> = (0..1000)
        .map(|i| {
            let mut claims = claims.clone();
            claims["jti"] = serde_json::json!(i);
            key.sign(&claims).unwrap()
        })
        .collect();

    let spawn = |api: &RuntimeApi| {
        Command::new(&binary)
            .env_clear()
            .envs(lambda_environment(&api.address))
            .env("AWS_LAMBDA_LOG_LEVEL", "warn")
            .env("TOKEN_ISSUER", server.issuer())
            .env("JWKS_URI", server.jwks_uri())
            .env("AUDIENCE", AUDIENCE)
            .env("JWKS_CA_FILE", ca_file.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };

    let mut samples = Vec::with_capacity(runs);
    for run in 0..runs {
        let mut api = RuntimeApi::start().await;
        api.push(token_event(&format!(
            "Bearer {}",
            tokens[run % tokens.len()]
        )));
        let started = Instant::now();
        let mut child = spawn(&api);
        let answer = api
            .answer(Duration::from_secs(10))
            .await
            .expect("the first invocation is answered");
        assert_eq!(answer.kind, "response", "{answer:?}");
        samples.push(answer.at.duration_since(started));
        child.kill().await.unwrap();
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "cold_start/first_allow: median {:.1} ms, min {:.1} ms, max {:.1} ms over {runs} runs (JWKS over HTTPS on 127.0.0.1)",
        ms(samples[runs / 2]),
        ms(samples[0]),
        ms(samples[runs - 1])
    );
    println!(
        "binary: {} ({} bytes)",
        binary.display(),
        std::fs::metadata(&binary).unwrap().len()
    );

    let mut api = RuntimeApi::start().await;
    let mut child = spawn(&api);
    let started = Instant::now();
    for i in 0..authorizations {
        api.push(token_event(&format!("Bearer {}", tokens[i % tokens.len()])));
    }
    for _ in 0..authorizations {
        let answer = api
            .answer(Duration::from_secs(10))
            .await
            .expect("every invocation is answered");
        assert_eq!(answer.kind, "response");
    }
    let elapsed = started.elapsed();
    let rss = peak_rss_kib(child.id().unwrap());
    child.kill().await.unwrap();
    println!(
        "steady_state: {authorizations} authorizations ({} distinct tokens) in {:.1} s through the Runtime API; peak RSS {} KiB",
        tokens.len(),
        elapsed.as_secs_f64(),
        rss.map_or("unknown".into(), |r| r.to_string())
    );
}
