//! Log lines: which are written, where to, and how they look.
//!
//! In Lambda every byte on stdout and stderr is ingested by CloudWatch Logs and billed (about
//! $0.50 per GB), and at a million authorizations a day a line per request costs more than the
//! requests themselves. So by default an Allow writes nothing (it is counted by the metrics), a
//! refusal writes one line with its reason (never the token), and key refreshes a line each; set
//! `AWS_LAMBDA_LOG_LEVEL=debug` (or `RUST_LOG=debug`) to see a line for every decision.
//!
//! The subscriber reads the variables `lambda_runtime`'s default one reads (Lambda's advanced
//! logging controls set them): the level from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG` (which may
//! also hold per-module directives), else `INFO`; JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON`. One
//! difference: ANSI colour codes only when the stream is a terminal (and `NO_COLOR` is unset). In
//! a file, a pipe or CloudWatch they are noise that costs bytes.
//!
//! No span per invocation: `lambda_runtime::run` wraps every invocation in an INFO span carrying
//! the request id, which with a subscriber installed costs a span's registration, its fields
//! formatted into a `String`, and the filter's bookkeeping on enter and exit, whether or not
//! anything is logged (a profile of benches/lambda_floor.rs put it at the top of what the
//! authorizer adds to the runtime besides the RSA check). The Lambda loop runs without that layer
//! and puts the request id, as `requestId`, on the lines that are written: see [`REQUEST_ID`].

use crate::report::{Decision, Outcome, Reject};
use std::io::IsTerminal;
use std::time::Duration;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

tokio::task_local! {
    /// The Lambda request id of the invocation being served, for its log lines (set by the
    /// Lambda loop with `REQUEST_ID.scope(id, future)`; absent elsewhere).
    pub static REQUEST_ID: String;
}

/// Where log lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output: Lambda, where stdout and stderr both reach CloudWatch Logs.
    Stdout,
    /// Standard error: `invoke` and `serve`, whose stdout carries answers or is left to the user.
    Stderr,
}

/// Which decisions get a line when no level is set (`AWS_LAMBDA_LOG_LEVEL`, `RUST_LOG`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decisions {
    /// Refusals only (Lambda: every line is billed).
    Refusals,
    /// Every decision (`invoke`: one event, and its line is the point).
    All,
}

/// Installs the global `tracing` subscriber for `stream`. Does nothing if one is installed.
pub fn init(stream: Stream, decisions: Decisions) {
    match stream {
        Stream::Stdout => install(std::io::stdout, std::io::stdout().is_terminal(), decisions),
        Stream::Stderr => install(std::io::stderr, std::io::stderr().is_terminal(), decisions),
    }
}

fn install<W>(writer: W, terminal: bool, decisions: Decisions)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let set = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let level = set
        .as_deref()
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let mut filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    if set.is_none() && decisions == Decisions::All {
        filter = filter.add_directive(
            concat!(module_path!(), "=debug")
                .parse()
                .expect("a valid directive"),
        );
    }
    let colour = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_ansi(colour)
        .with_env_filter(filter)
        .with_writer(writer);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Logs one decision: a refusal (Deny or Unauthorized) at `INFO`, an Allow at `DEBUG`. The fields
/// are labels and length-bounded copies from the decision (`kid` untrusted unless allowed, `sub`
/// only once verified), never the token.
pub(crate) fn decision(decision: &Decision, issuer: Option<&str>, latency: Duration) {
    if decision.outcome == Outcome::Allow && !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    if REQUEST_ID
        .try_with(|id| write_decision(decision, issuer, latency, Some(id)))
        .is_err()
    {
        write_decision(decision, issuer, latency, None);
    }
}

fn write_decision(
    decision: &Decision,
    issuer: Option<&str>,
    latency: Duration,
    request_id: Option<&str>,
) {
    let reason = decision.reject.map(Reject::as_str);
    let event = decision.event.map(crate::report::EventKind::as_str);
    let latency_us = latency.as_micros() as u64;
    if decision.outcome == Outcome::Allow {
        tracing::debug!(
            requestId = request_id,
            outcome = decision.outcome.as_str(),
            issuer,
            event,
            kid = decision.kid.as_str(),
            sub = decision.sub.as_str(),
            latency_us,
            "authorization"
        );
    } else {
        tracing::info!(
            requestId = request_id,
            outcome = decision.outcome.as_str(),
            reason,
            issuer,
            event,
            kid = decision.kid.as_str(),
            sub = decision.sub.as_str(),
            policy = decision.policy,
            latency_us,
            "authorization"
        );
    }
}
