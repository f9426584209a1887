//! Cold start with Cedar policies (issue 18): one release binary started under a Lambda Runtime
//! API on 127.0.0.1 with `CEDAR_POLICIES` (20 policies over 20 routes, the set of
//! `cedar/compile_20_routes`) and without, in turn, run after run, each a whole process:
//!
//! - init: from `exec` to the first `invocation/next` (what Lambda reports as Init Duration: the
//!   policies are read, parsed and checked there);
//! - first answer: from `exec` to the first invocation's answer (the JWKS fetched over HTTP on
//!   loopback, one RSA check and, with the policies, the 20 routes compiled).
//!
//! ```sh
//! cargo build --release --no-default-features --features cedar --bin authorizer
//! cargo bench --bench cedar_cold_start     # RUNS=30 per configuration by default
//! ```
//!
//! `AUTHORIZER_BIN` names another build. `cargo bench` builds its own profile into
//! `target/release/` and may replace the Lambda build there: to compare builds, build this
//! harness first (`cargo bench --bench cedar_cold_start --no-run`), then the Lambda builds (copy
//! each aside), and run the harness's executable with `AUTHORIZER_BIN`, alternating builds.

#[path = "authorize/cedar_set.rs"]
#[allow(dead_code)] // the groups-only set is `benches/authorize.rs`'s alone
mod cedar_set;
#[path = "../tests/support/mod.rs"]
mod support;

use serde_json::json;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::runtime_api::{RuntimeApi, lambda_environment, release_binary};
use support::*;
use tokio::process::Command;

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let binary = release_binary(
        "cargo build --release --no-default-features --features cedar --bin authorizer",
    );
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let key = rsa_key("cedar-cold");
    let server = JwksServer::with_keys(&[key]).await;
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("bench.cedar");
    std::fs::write(&policies, cedar_set::policies()).unwrap();
    let cedar: Vec<(&str, String)> = vec![
        ("ISSUER_NAME", "bench".into()),
        ("CEDAR_POLICIES", policies.display().to_string()),
        ("CEDAR_ROUTES", cedar_set::routes()),
        ("CEDAR_NAMESPACE", "Bench".into()),
    ];
    let mut claims = good_claims(&server.issuer());
    claims["groups"] = json!(["readers", "pets-admins"]);
    let event = token_event(&format!("Bearer {}", key.sign(&claims).unwrap()));

    // (init, first answer) per run, without and with the policies.
    let mut samples: [(Vec<Duration>, Vec<Duration>); 2] = Default::default();
    for run in 0..runs * 2 {
        let with_policies = run % 2 == 1;
        let mut api = RuntimeApi::start().await;
        api.push(event.clone());
        let mut command = Command::new(&binary);
        command
            .env_clear()
            .envs(lambda_environment(&api.address))
            .env("AWS_LAMBDA_LOG_LEVEL", "warn")
            .env("TOKEN_ISSUER", server.issuer())
            .env("JWKS_URI", server.jwks_uri())
            .env("AUDIENCE", AUDIENCE);
        if with_policies {
            command.envs(cedar.iter().map(|(k, v)| (k, v)));
        }
        let started = Instant::now();
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let answer = api
            .answer(Duration::from_secs(10))
            .await
            .expect("the first invocation is answered");
        assert_eq!(answer.kind, "response", "{answer:?}");
        assert!(answer.body.contains("Allow"), "{}", answer.body);
        let init = api.first_next().expect("the runtime asked for an event");
        let (inits, firsts) = &mut samples[usize::from(with_policies)];
        inits.push(init.duration_since(started));
        firsts.push(answer.at.duration_since(started));
        child.kill().await.unwrap();
    }
    let [
        (mut init_without, mut first_without),
        (mut init_with, mut first_with),
    ] = samples;
    let (iw, iwo) = (median(&mut init_with), median(&mut init_without));
    let (fw, fwo) = (median(&mut first_with), median(&mut first_without));
    println!(
        "cold_start/init: without policies {:.2} ms, with 20 policies {:.2} ms (median of {runs} runs each, interleaved): {:+.2} ms",
        ms(iwo),
        ms(iw),
        ms(iw) - ms(iwo)
    );
    println!(
        "cold_start/first_answer: without policies {:.2} ms, with 20 policies {:.2} ms: {:+.2} ms",
        ms(fwo),
        ms(fw),
        ms(fw) - ms(fwo)
    );
    println!(
        "binary: {} ({} bytes)",
        binary.display(),
        std::fs::metadata(&binary).unwrap().len()
    );
}
