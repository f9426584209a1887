//! `authorizer dashboards deploy` against a real AWS API emulator: `moto_server` (PyPI
//! `moto[server]`, installed by `.ci/run`) on 127.0.0.1, reached through `AWS_ENDPOINT_URL`; the
//! dashboard is read back with GetDashboard. Needs `--features dashboards`.
#![cfg(feature = "dashboards")]

use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Starts moto_server on a port it picks itself (`-p 0`: no bind-then-drop race) and returns it
/// with its URL; `None` when moto is not installed and cannot be.
async fn moto() -> Option<(Child, String)> {
    let installed = || {
        std::process::Command::new("python3")
            .args(["-c", "import moto.server"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !installed() {
        let _ = std::process::Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "moto[server]"])
            .status();
        if !installed() {
            return None;
        }
    }
    let mut child = Command::new("python3")
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.split("Running on ").nth(1) {
                return Some(url.trim().to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .expect("moto_server prints the address it listens on");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Some((child, url))
}

fn deploy(endpoint: &str, credentials: bool, home: &std::path::Path) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_authorizer"));
    command
        .args([
            "dashboards",
            "deploy",
            "--function",
            "auth-fn",
            "--api",
            "PetStore",
            "--stage",
            "prod",
            "--region",
            "eu-west-1",
            "--name",
            "jwt-authorizer",
        ])
        .env_clear()
        .env("HOME", home)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"));
    if credentials {
        command
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing");
    }
    command.output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_puts_the_dashboard_and_get_dashboard_reads_it_back() {
    let Some((_moto, endpoint)) = moto().await else {
        // In CI (`CI=true`, as `.ci/run` and CI services set it) a missing emulator is a failure,
        // not a pass in disguise.
        let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        assert!(
            !in_ci,
            "moto_server is not installed and `python3 -m pip install 'moto[server]'` failed (CI is set)"
        );
        eprintln!(
            "SKIPPED: moto_server is not installed and `python3 -m pip install 'moto[server]'` failed"
        );
        return;
    };
    let home = tempfile::tempdir().unwrap();

    let missing = deploy(&endpoint, false, home.path());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(stderr.contains("no AWS credentials"), "{stderr}");

    let done = deploy(&endpoint, true, home.path());
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(String::from_utf8_lossy(&done.stdout).contains("dashboard jwt-authorizer deployed"));

    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudwatch::config::Region::new("eu-west-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build();
    let client = aws_sdk_cloudwatch::Client::from_conf(config);
    let got = client
        .get_dashboard()
        .dashboard_name("jwt-authorizer")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(got.dashboard_body().unwrap()).unwrap();
    let rendered = jwt_authorizer::metrics::render_cloudwatch_dashboard(
        &jwt_authorizer::metrics::DashboardParams {
            function: "auth-fn".into(),
            api: "PetStore".into(),
            stage: "prod".into(),
            region: "eu-west-1".into(),
            namespace: "JwtAuthorizer".into(),
            service: "auth-fn".into(),
        },
    )
    .unwrap();
    assert_eq!(
        body,
        serde_json::from_str::<serde_json::Value>(&rendered).unwrap()
    );
}
