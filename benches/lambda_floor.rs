//! The authorizer beside the Lambda runtime's own floor (`examples/runtime_floor.rs`): both release
//! binaries under the same Runtime API on 127.0.0.1, run in turn (interleaved, round after round),
//! each measured as a whole process:
//!
//! - cold start: from `exec` to the first answer posted (the JWKS fetched over HTTP on loopback);
//! - CPU per invocation: user + system time of every thread of the process, from
//!   `/proc/PID/task/*/schedstat` (nanoseconds), over 1,000 invocations with distinct tokens then
//!   1,000 with one token (a cache hit), divided by the invocations;
//! - latency per invocation: from queuing the event to the answer arriving, median and p99;
//! - peak RSS (`VmHWM`) after those invocations;
//! - bytes per invocation written to stdout and stderr (what CloudWatch Logs ingests), over the
//!   whole life of the process: init, the invocations, and the shutdown that follows SIGTERM.
//!
//! ```sh
//! cargo build --release --no-default-features --bin authorizer --example runtime_floor
//! cargo bench --bench lambda_floor            # ROUNDS=5, INVOCATIONS=1000 (per phase) by default
//! ```
//!
//! `AUTHORIZER_BIN` and `FLOOR_BIN` name other builds; `BASELINE_BIN` adds a third binary (an
//! older build of the authorizer, say) to the rotation. Each binary is given the same Lambda
//! environment; the authorizer also runs once more per round with per-invocation EMF documents
//! (`METRICS_FLUSH_INTERVAL_SECONDS=0`).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::runtime_api::{RuntimeApi, lambda_environment};
use support::*;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// A binary and the variables that make one configuration of it.
struct Subject {
    name: &'static str,
    binary: PathBuf,
    env: Vec<(&'static str, String)>,
}

/// What one run of a subject measured.
#[derive(Clone, Debug)]
struct Sample {
    cold_start: Duration,
    cpu_per_invocation: Duration,
    /// The same, over the distinct tokens only (a signature check each).
    cpu_distinct: Duration,
    /// The same, over the repeated token only (the verified-token cache).
    cpu_repeated: Duration,
    latency_median: Duration,
    latency_p99: Duration,
    peak_rss_kib: u64,
    bytes_per_invocation: f64,
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn binary(variable: &str, default: &str) -> PathBuf {
    let binary = std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join(default));
    if !binary.is_file() {
        eprintln!(
            "no binary at {} ({variable}): run `cargo build --release --no-default-features \
             --bin authorizer --example runtime_floor` first",
            binary.display()
        );
        std::process::exit(2);
    }
    binary
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU time of every live thread of `pid` (the first field of each thread's schedstat, in ns).
fn cpu_time(pid: u32) -> Duration {
    let mut total = 0u64;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            total += stat
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// Counts the bytes a pipe carries until it closes.
fn count_bytes(
    mut pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        while let Ok(n) = pipe.read(&mut buf).await {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        total
    })
}

/// Sends SIGTERM, as Lambda does before it retires an environment with an extension registered.
async fn terminate(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    // Lambda waits 500 ms after SIGTERM (with internal extensions only) before SIGKILL.
    if tokio::time::timeout(Duration::from_millis(500), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

struct Setup<'a> {
    server: &'a JwksServer,
    distinct: &'a [String],
    invocations: usize,
}

async fn run(subject: &Subject, setup: &Setup<'_>) -> Sample {
    let mut api = RuntimeApi::start().await;
    let event = |token: &str| token_event(&format!("Bearer {token}"));
    api.push(event(&setup.distinct[0]));
    let started = Instant::now();
    let mut child = Command::new(&subject.binary)
        .env_clear()
        .envs(lambda_environment(&api.address))
        .env("TOKEN_ISSUER", setup.server.issuer())
        .env("JWKS_URI", setup.server.jwks_uri())
        .env("AUDIENCE", AUDIENCE)
        .envs(subject.env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let pid = child.id().unwrap();
    let stdout = count_bytes(child.stdout.take().unwrap());
    let stderr = count_bytes(child.stderr.take().unwrap());
    let first = api
        .answer(Duration::from_secs(10))
        .await
        .expect("the first invocation is answered");
    assert_eq!(first.kind, "response", "{}: {first:?}", subject.name);
    let cold_start = first.at.duration_since(started);

    let cpu_before = cpu_time(pid);
    // One at a time, as Lambda sends them to one execution environment: distinct tokens (each a
    // signature check), then one token again and again (the verified-token cache).
    let one = &setup.distinct[1];
    let tokens = setup
        .distinct
        .iter()
        .cycle()
        .skip(1)
        .take(setup.invocations)
        .chain(std::iter::repeat_n(one, setup.invocations));
    let mut latencies = Vec::with_capacity(2 * setup.invocations);
    let mut cpu_half = Duration::ZERO;
    for (i, token) in tokens.enumerate() {
        if i == setup.invocations {
            cpu_half = cpu_time(pid);
        }
        api.push(event(token));
        let queued = Instant::now();
        let answer = api
            .answer(Duration::from_secs(10))
            .await
            .expect("every invocation is answered");
        latencies.push(answer.at.duration_since(queued));
        assert_eq!(answer.kind, "response", "{}: {answer:?}", subject.name);
    }
    let cpu_after = cpu_time(pid);
    let cpu = cpu_after.saturating_sub(cpu_before);
    let cpu_distinct = cpu_half.saturating_sub(cpu_before) / setup.invocations as u32;
    let cpu_repeated = cpu_after.saturating_sub(cpu_half) / setup.invocations as u32;
    let peak_rss_kib = peak_rss_kib(pid);
    terminate(&mut child).await;
    let bytes = stdout.await.unwrap() + stderr.await.unwrap();
    latencies.sort();
    let invocations = latencies.len();
    Sample {
        cold_start,
        cpu_per_invocation: cpu / invocations as u32,
        cpu_distinct,
        cpu_repeated,
        latency_median: latencies[invocations / 2],
        latency_p99: latencies[invocations * 99 / 100],
        peak_rss_kib,
        bytes_per_invocation: bytes as f64 / (invocations + 1) as f64,
    }
}

/// Exec to first answer, with the JWKS endpoint answering after a delay.
async fn cold_start(
    binary: &PathBuf,
    server: &JwksServer,
    token: &str,
    env: &[(&str, String)],
) -> Duration {
    let mut api = RuntimeApi::start().await;
    api.push(token_event(&format!("Bearer {token}")));
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .envs(lambda_environment(&api.address))
        .env("TOKEN_ISSUER", server.issuer())
        .env("JWKS_URI", server.jwks_uri())
        .env("AUDIENCE", AUDIENCE)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let first = api
        .answer(Duration::from_secs(10))
        .await
        .expect("the first invocation is answered");
    assert_eq!(first.kind, "response", "{first:?}");
    let elapsed = first.at.duration_since(started);
    terminate(&mut child).await;
    elapsed
}

fn median<T: Clone + PartialOrd>(values: &[T]) -> T {
    let mut values = values.to_vec();
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2].clone()
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[tokio::main]
async fn main() {
    let rounds = env_number("ROUNDS", 5);
    let invocations = env_number("INVOCATIONS", 1000);
    let floor = Subject {
        name: "floor",
        binary: binary("FLOOR_BIN", "release/examples/runtime_floor"),
        env: vec![],
    };
    let authorizer = binary("AUTHORIZER_BIN", "release/authorizer");
    let mut subjects = vec![
        floor,
        Subject {
            name: "authorizer",
            binary: authorizer.clone(),
            env: vec![],
        },
        Subject {
            name: "authorizer, per-invocation EMF",
            binary: authorizer,
            env: vec![("METRICS_FLUSH_INTERVAL_SECONDS", "0".into())],
        },
    ];
    if let Some(baseline) = std::env::var_os("BASELINE_BIN") {
        subjects.push(Subject {
            name: "baseline",
            binary: PathBuf::from(baseline),
            env: vec![],
        });
    }

    let key = rsa_key("floor");
    let server = JwksServer::with_keys(&[key]).await;
    let claims = good_claims(&server.issuer());
    let distinct: Vec<String> = (0..invocations + 1)
        .map(|i| {
            let mut claims = claims.clone();
            claims["jti"] = serde_json::json!(i);
            key.sign(&claims).unwrap()
        })
        .collect();
    let setup = Setup {
        server: &server,
        distinct: &distinct,
        invocations,
    };

    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); subjects.len()];
    for round in 0..rounds {
        // Rotate the order too, so no subject always runs first after the harness's own work.
        for i in 0..subjects.len() {
            let s = (i + round) % subjects.len();
            samples[s].push(run(&subjects[s], &setup).await);
        }
    }

    println!(
        "{rounds} rounds, interleaved; per run: cold start, then {invocations} distinct tokens and \
         {invocations} repeats of one token, one at a time; medians over the rounds"
    );
    println!(
        "| binary | CPU/invocation | ratio to floor | distinct / repeated token | latency median (p99) | cold start | peak RSS | bytes/invocation |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let floor_cpu: Vec<f64> = samples[0]
        .iter()
        .map(|s| us(s.cpu_per_invocation))
        .collect();
    for (subject, runs) in subjects.iter().zip(&samples) {
        let cpu: Vec<f64> = runs.iter().map(|s| us(s.cpu_per_invocation)).collect();
        // The ratio within each round (the runs closest in time), then the median of those.
        let ratios: Vec<f64> = cpu.iter().zip(&floor_cpu).map(|(a, f)| a / f).collect();
        println!(
            "| {} | {:.1} µs | {:.2}x (rounds: {}) | {:.1} / {:.1} µs | {:.0} µs ({:.0} µs) | {:.1} ms | {:.1} MB | {:.1} |",
            subject.name,
            median(&cpu),
            median(&ratios),
            ratios
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(" "),
            median(&runs.iter().map(|s| us(s.cpu_distinct)).collect::<Vec<_>>()),
            median(&runs.iter().map(|s| us(s.cpu_repeated)).collect::<Vec<_>>()),
            us(median(
                &runs.iter().map(|s| s.latency_median).collect::<Vec<_>>()
            )),
            us(median(
                &runs.iter().map(|s| s.latency_p99).collect::<Vec<_>>()
            )),
            median(&runs.iter().map(|s| s.cold_start).collect::<Vec<_>>()).as_secs_f64() * 1e3,
            median(&runs.iter().map(|s| s.peak_rss_kib).collect::<Vec<_>>()) as f64 / 1024.0,
            median(
                &runs
                    .iter()
                    .map(|s| s.bytes_per_invocation)
                    .collect::<Vec<_>>()
            ),
        );
    }
    for subject in &subjects {
        println!("{}: {}", subject.name, subject.binary.display());
    }

    // JWKS_FILE: cold start against an issuer that answers after JWKS_DELAY_MS (200 by default),
    // without and with the file, interleaved.
    let delay = Duration::from_millis(env_number("JWKS_DELAY_MS", 200) as u64);
    let slow = JwksServer::with_keys(&[key]).await;
    slow.set_mode(Mode::Delay(delay));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), jwt_authorizer::issuer::jwks([key])).unwrap();
    let token = key.sign(&good_claims(&slow.issuer())).unwrap();
    let with_file = [("JWKS_FILE", file.path().display().to_string())];
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..rounds * 2 {
        without.push(cold_start(&subjects[1].binary, &slow, &token, &[]).await);
        with.push(cold_start(&subjects[1].binary, &slow, &token, &with_file).await);
    }
    let ms = |runs: &[Duration]| {
        let mut runs = runs.to_vec();
        runs.sort();
        format!(
            "median {:.1} ms (min {:.1}, max {:.1})",
            runs[runs.len() / 2].as_secs_f64() * 1e3,
            runs[0].as_secs_f64() * 1e3,
            runs[runs.len() - 1].as_secs_f64() * 1e3
        )
    };
    println!(
        "cold start, JWKS endpoint answering after {} ms, {} runs each, interleaved:",
        delay.as_millis(),
        rounds * 2
    );
    println!("  without JWKS_FILE: {}", ms(&without));
    println!("  with JWKS_FILE:    {}", ms(&with));
}
