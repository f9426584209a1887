//! `authorizer serve` exposes the authorizer's metrics at the admin listener's `/metrics`:
//! known traffic, then a scrape with the expected counts.
#![cfg(feature = "local")]

use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_the_traffic_served() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authorizer"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut base, mut admin, mut token) = (None, None, None);
    let banner = async {
        while let Ok(Some(line)) = lines.next_line().await {
            let word = |prefix: &str| {
                line.strip_prefix(prefix)
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_owned)
            };
            base = base.take().or(word("listening on "));
            admin = admin.take().or(word("admin on "));
            token = token.take().or(word("export TOKEN="));
            if line.starts_with("authorizer cache:") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), banner)
        .await
        .expect("serve's banner");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let (base, admin, token) = (base.unwrap(), admin.unwrap(), token.unwrap());
    let token = token.trim_matches(['\'', '"']);
    let http = reqwest::Client::new();
    // The gateway's result cache answers repeats of one token, so only distinct tokens reach the
    // authorizer: one good token and two refused ones.
    let get = |auth: String| {
        http.get(format!("{base}/pets"))
            .header("Authorization", auth)
            .send()
    };
    assert_eq!(get(format!("Bearer {token}")).await.unwrap().status(), 200);
    assert_eq!(
        get("Bearer aaa.bbb.ccc".into()).await.unwrap().status(),
        401
    );
    assert_eq!(
        get("Bearer aaa.bbb.ddd".into()).await.unwrap().status(),
        401
    );

    let text = http
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |series: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{series} in\n{text}"))
    };
    assert_eq!(
        value(r#"authorizations_total{outcome="allow",reason="none"}"#),
        1.0
    );
    assert_eq!(
        value(r#"authorizations_total{outcome="unauthorized",reason="malformed"}"#),
        2.0
    );
    assert_eq!(value("authorization_latency_us_count"), 3.0);
    assert_eq!(value(r#"authorization_latency_us_bucket{le="+Inf"}"#), 3.0);
    assert_eq!(value("jwks_keys"), 1.0);
    assert!(value("jwks_age_seconds") >= 0.0);
    assert_eq!(value("cold_start_total"), 1.0);
    assert!(
        text.contains("# TYPE authorization_latency_us histogram"),
        "{text}"
    );
    assert!(text.contains("gateway_authorizer_calls_total 3"), "{text}");
    assert_eq!(
        text.matches("# TYPE jwks_keys ").count(),
        1,
        "one jwks_keys family"
    );
}
