//! A broken or hostile issuer, seen from outside: the real binary (`authorizer serve`, external
//! issuer) in front of a scripted JWKS server on 127.0.0.1, for each fault of issue #8. Through
//! every fault: tokens whose keys are cached keep working; a token that needs a fetch is answered
//! 401 within the fetch timeout plus a margin; each failed refresh attempt is counted once in
//! `/metrics` and logged once (attempts follow the clock, not the requests); memory stays bounded;
//! and the next healthy refresh recovers. (`tests/key_refresh.rs` covers the same faults in-process.)
#![cfg(feature = "local")]

mod support;

use jwt_authorizer::issuer::SigningKey;
use jwt_authorizer::{Outcome, Reject, Trigger};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::serve::Serve;
use support::*;

/// `JWKS_TIMEOUT_MS` of these tests.
const TIMEOUT: Duration = Duration::from_millis(400);
/// What a request may take beyond the fetch timeout (a debug binary on a shared machine).
const MARGIN: Duration = Duration::from_millis(1500);
/// Failure labels of `jwks_refreshes{result}`.
const FAILURES: [&str; 6] = [
    "http_error",
    "bad_status",
    "too_large",
    "timeout",
    "discovery",
    "invalid_jwks",
];

struct Fault {
    what: &'static str,
    /// `None`: the server is stopped (connection refused).
    mode: Option<Mode>,
    /// The `result` labels this fault may be counted under.
    results: &'static [&'static str],
    /// The requests each failed attempt makes, when the fault fixes it.
    requests_per_attempt: Option<usize>,
}

fn fault(what: &'static str, mode: Mode, results: &'static [&'static str]) -> Fault {
    Fault {
        what,
        mode: Some(mode),
        results,
        requests_per_attempt: None,
    }
}

/// The sum of every `jwks_refreshes` series whose labels include `result="{result}"` (matched
/// loosely, so that added labels such as `issuer` do not matter).
fn refreshes(metrics: &str, result: &str) -> f64 {
    let label = format!("result=\"{result}\"");
    metrics
        .lines()
        .filter(|l| l.starts_with("jwks_refreshes_total{") && l.contains(&label))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

async fn scrape(serve: &Serve) -> String {
    let response = serve
        .http
        .get(format!("{}/metrics", serve.admin))
        .send()
        .await
        .unwrap();
    response.text().await.unwrap()
}

fn failed_attempts(metrics: &str) -> f64 {
    FAILURES.iter().map(|r| refreshes(metrics, r)).sum()
}

fn rss_kib(serve: &Serve) -> u64 {
    let pid = serve.child.id().expect("serve is running");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

async fn timed_get(serve: &Serve, authorization: &str) -> (u16, Duration) {
    let started = Instant::now();
    let status = serve.get("/pets", Some(authorization)).await.status;
    (status, started.elapsed())
}

/// Runs `faults` one after another against one `serve` (with `extra` variables), checking
/// everything the module doc says.
async fn survive(faults: Vec<Fault>, extra: &[(&str, &str)]) {
    let key = rsa_key("fault-main");
    // Two spare keys, published alternately: each fault brings a kid `serve` has not seen yet.
    let spares = [rsa_key("fault-spare-a"), rsa_key("fault-spare-b")];
    let server = JwksServer::with_keys(&[key]).await;
    let (issuer, jwks_uri) = (server.issuer(), server.jwks_uri());
    let timeout_ms = TIMEOUT.as_millis().to_string();
    let serve = Serve::start(
        &["--cache-ttl", "0"],
        &[
            ("TOKEN_ISSUER", issuer.as_str()),
            ("JWKS_URI", jwks_uri.as_str()),
            ("AUDIENCE", AUDIENCE),
            ("JWKS_TIMEOUT_MS", timeout_ms.as_str()),
            ("JWKS_REFRESH_INTERVAL_SECONDS", "1"),
            ("JWKS_MIN_REFRESH_INTERVAL_SECONDS", "1"),
            ("JWKS_KID_MISS_COOLDOWN_SECONDS", "1"),
        ]
        .iter()
        .chain(extra)
        .copied()
        .collect::<Vec<_>>(),
    )
    .await;
    let bearer = |k: &SigningKey| format!("Bearer {}", k.sign(&good_claims(&issuer)).unwrap());
    let cached = bearer(key);
    assert_eq!(serve.get("/pets", Some(&cached)).await.status, 200);
    let rss_before = rss_kib(&serve);

    for (i, fault) in faults.iter().enumerate() {
        let what = fault.what;
        let spare = spares[i % 2];
        let fresh = bearer(spare);
        let metrics = scrape(&serve).await;
        let (failed_before, logged_before) = (
            failed_attempts(&metrics),
            serve.logs().matches("JWKS refresh failed").count(),
        );
        let counted_before: f64 = fault.results.iter().map(|r| refreshes(&metrics, r)).sum();

        server.publish(&[key, spare]);
        let hits_before = server.hits();
        match &fault.mode {
            Some(mode) => server.set_mode(mode.clone()),
            None => server.stop(),
        }
        let started = Instant::now();
        let requests = 20;
        for _ in 0..requests {
            let (status, took) = timed_get(&serve, &cached).await;
            assert_eq!(status, 200, "{what}: a cached key keeps working");
            assert!(took < TIMEOUT + MARGIN, "{what}: cached kid took {took:?}");
            let (status, took) = timed_get(&serve, &fresh).await;
            assert_eq!(status, 401, "{what}: the new key cannot be fetched");
            assert!(
                took < TIMEOUT + MARGIN,
                "{what}: fetch-needing kid took {took:?}"
            );
        }
        // At least one attempt fails under this fault and is counted under its label.
        let deadline = Instant::now() + Duration::from_secs(10);
        let counted = loop {
            let metrics = scrape(&serve).await;
            let counted: f64 = fault.results.iter().map(|r| refreshes(&metrics, r)).sum();
            if counted > counted_before || Instant::now() > deadline {
                break counted - counted_before;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(
            counted >= 1.0,
            "{what}: counted as {:?}\n{}",
            fault.results,
            scrape(&serve).await
        );
        if let Some(per_attempt) = fault.requests_per_attempt {
            // Between attempts (one every second or so, a few ms each), the issuer has seen
            // exactly that many requests per failed attempt.
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let failed = failed_attempts(&scrape(&serve).await) - failed_before;
                let hits = server.hits() - hits_before;
                if hits as f64 == per_attempt as f64 * failed {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{what}: {hits} requests for {failed} failed attempts, not {per_attempt} each"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let window = started.elapsed().as_secs_f64();

        if fault.mode.is_none() {
            // Nothing to recover to on this port: the refused connection is the last fault.
            let failed = failed_attempts(&scrape(&serve).await) - failed_before;
            assert!(
                failed <= 2.0 * window + 3.0,
                "{what}: {failed} attempts in {window:.1} s"
            );
            break;
        }
        // Recovery: the issuer answers again, and the new key works within a refresh or two.
        server.set_mode(Mode::Serve);
        let deadline = Instant::now() + Duration::from_secs(10);
        while serve.get("/pets", Some(&fresh)).await.status != 200 {
            assert!(
                Instant::now() < deadline,
                "{what}: no recovery\n{}",
                serve.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // A failing fetch that was in flight at the switch ends within the timeout; then the
        // counts are still.
        tokio::time::sleep(TIMEOUT + Duration::from_millis(200)).await;
        let failed = failed_attempts(&scrape(&serve).await) - failed_before;
        let logged = serve.logs().matches("JWKS refresh failed").count() - logged_before;
        assert_eq!(
            logged as f64, failed,
            "{what}: one log line per failed attempt"
        );
        assert!(
            failed <= 2.0 * window + 3.0 && failed < requests as f64,
            "{what}: {failed} failed attempts for {} requests in {window:.1} s: attempts must follow the clock",
            2 * requests
        );
    }
    let rss_after = rss_kib(&serve);
    assert!(
        rss_after < rss_before + 16 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_or_erroring_issuer() {
    survive(
        vec![
            fault("HTTP 500", Mode::Status(500), &["bad_status"]),
            fault("HTTP 404", Mode::Status(404), &["bad_status"]),
            // The first request and our 3 redirects (reqwest's own limit would make it 11).
            Fault {
                requests_per_attempt: Some(4),
                ..fault("redirect loop", Mode::RedirectLoop, &["http_error"])
            },
            Fault {
                what: "connection refused",
                mode: None,
                results: &["http_error"],
                requests_per_attempt: None,
            },
        ],
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_issuer_answering_junk() {
    let rsa =
        |kid: &str, n: Value| json!({"kty": "RSA", "kid": kid, "use": "sig", "n": n, "e": "AQAB"});
    let bad_base64 = json!({"keys": [rsa("bad-b64", json!("!!not base64!!"))]}).to_string();
    let missing_fields =
        json!({"keys": [{"kty": "RSA", "kid": "no-n", "e": "AQAB"}, {"kid": "no-kty"}, {}]})
            .to_string();
    survive(
        vec![
            fault(
                "HTML",
                Mode::Body("<html><body>502 Bad Gateway</body></html>".into()),
                &["invalid_jwks"],
            ),
            fault(
                "invalid JSON",
                Mode::Body(r#"{"keys": [{"kty": "#.into()),
                &["invalid_jwks"],
            ),
            fault(
                "empty keys",
                Mode::Body(r#"{"keys": []}"#.into()),
                &["invalid_jwks"],
            ),
            fault("bad base64", Mode::Body(bad_base64), &["invalid_jwks"]),
            fault(
                "missing fields",
                Mode::Body(missing_fields),
                &["invalid_jwks"],
            ),
            fault("20 MB body", Mode::Huge(20 << 20), &["too_large"]),
        ],
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_issuer() {
    survive(
        vec![
            fault(
                "5 s delay",
                Mode::Delay(Duration::from_secs(5)),
                &["timeout"],
            ),
            fault(
                "one byte a second",
                Mode::Trickle(Duration::from_secs(1)),
                &["timeout"],
            ),
            // About 0.5 MB/s, so 4 KiB arrive long before the timeout: only the size bound can end
            // it in time (and the JWKS of these tests fits in 4 KiB).
            fault("a body that never ends", Mode::Endless, &["too_large"]),
        ],
        &[("JWKS_MAX_BYTES", "4096")],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_keys_beside_good_ones_are_logged_once_per_refresh_not_per_request() {
    let key = rsa_key("fault-mixed");
    let jwk = serde_json::to_value(key.jwk()).unwrap();
    let document = json!({"keys": [
        jwk,
        {"kty": "RSA", "kid": "bad-b64", "n": "!!", "e": "AQAB"},
        {"kty": "RSA", "kid": "no-n", "e": "AQAB"},
    ]});
    let server = JwksServer::start(document.to_string()).await;
    let (issuer, jwks_uri) = (server.issuer(), server.jwks_uri());
    let serve = Serve::start(
        &["--cache-ttl", "0"],
        &[
            ("TOKEN_ISSUER", issuer.as_str()),
            ("JWKS_URI", jwks_uri.as_str()),
            ("AUDIENCE", AUDIENCE),
        ],
    )
    .await;
    let token = format!("Bearer {}", key.sign(&good_claims(&issuer)).unwrap());
    for _ in 0..50 {
        assert_eq!(serve.get("/pets", Some(&token)).await.status, 200);
    }
    let metrics = scrape(&serve).await;
    assert_eq!(refreshes(&metrics, "ok"), 1.0, "{metrics}");
    let logs = serve.logs();
    assert_eq!(
        logs.matches("JWKS key not used").count(),
        2,
        "each unusable key logged once, at the one refresh:\n{logs}"
    );
    assert_eq!(logs.matches("JWKS refresh failed").count(), 0);
    // What the logs name is the kid, for the operator to find the key.
    assert!(logs.contains("bad-b64"), "{logs}");
}

#[tokio::test]
async fn with_duplicate_kids_the_first_usable_key_in_the_document_wins() {
    let (first, second) = (rsa_key("dup-first"), rsa_key("dup-second"));
    let as_dup = |k: &SigningKey| {
        let mut jwk = serde_json::to_value(k.jwk()).unwrap();
        jwk["kid"] = json!("dup");
        jwk
    };
    let server =
        JwksServer::start(json!({"keys": [as_dup(first), as_dup(second)]}).to_string()).await;
    let authorizer = authorizer_for(&server, &[]);
    let claims = good_claims(&server.issuer());
    let header = json!({"alg": "RS256", "kid": "dup"});
    let by_first = sign_raw(first, &header, &claims);
    let by_second = sign_raw(second, &header, &claims);
    assert_eq!(
        authorize(&authorizer, &by_first).await.0.outcome,
        Outcome::Allow
    );
    for _ in 0..10 {
        assert_eq!(
            authorize(&authorizer, &by_second).await.0.reject,
            Some(Reject::BadSignature),
            "the kid is known: no other key is tried, and nothing is fetched"
        );
    }
    assert_eq!(server.hits(), 1);

    // The issuer reorders its keys: the next refresh follows.
    server.publish_raw(json!({"keys": [as_dup(second), as_dup(first)]}).to_string());
    authorizer.refresh_keys(Trigger::Interval).await;
    assert_eq!(
        authorize(&authorizer, &by_second).await.0.outcome,
        Outcome::Allow
    );
    assert_eq!(
        authorize(&authorizer, &by_first).await.0.reject,
        Some(Reject::BadSignature)
    );
}
