//! `authorizer serve` as a child process on free 127.0.0.1 ports, for the tests that drive it
//! over real HTTP.

use serde_json::Value;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_authorizer");

/// A running `authorizer serve`, killed when dropped.
pub struct Serve {
    pub child: Child,
    pub base: String,
    pub admin: String,
    pub issuer: Option<String>,
    pub token: Option<String>,
    /// The banner, every line up to `authorizer cache:`.
    pub banner: String,
    pub stderr: Arc<Mutex<String>>,
    /// What it printed on stdout after its banner.
    pub stdout: Arc<Mutex<String>>,
    pub http: reqwest::Client,
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Serve {
    /// Starts `serve` on free ports with only `env` in its environment, and reads its banner.
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> Serve {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
            ])
            .args(args)
            .env_clear()
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start authorizer serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut base, mut admin, mut issuer, mut token) = (None, None, None, None);
        let mut banner_text = String::new();
        let banner = async {
            while let Ok(Some(line)) = lines.next_line().await {
                banner_text.push_str(&line);
                banner_text.push('\n');
                let word = |prefix: &str| {
                    line.strip_prefix(prefix)
                        .and_then(|rest| rest.split_whitespace().next())
                        .map(str::to_owned)
                };
                base = base.take().or(word("listening on "));
                admin = admin.take().or(word("admin on "));
                issuer = issuer.take().or(word("issuer "));
                token = token.take().or(word("export TOKEN="));
                if line.starts_with("authorizer cache:") {
                    return true;
                }
            }
            false
        };
        let complete = tokio::time::timeout(Duration::from_secs(60), banner)
            .await
            .unwrap_or(false);
        assert!(
            complete,
            "serve printed no banner; stderr:\n{}",
            stderr.lock().unwrap()
        );
        // Keep draining stdout so that the child never blocks on it.
        let stdout = Arc::new(Mutex::new(String::new()));
        let sink = stdout.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut sink = sink.lock().unwrap();
                sink.push_str(&line);
                sink.push('\n');
            }
        });
        Serve {
            child,
            base: base.expect("a `listening on` line"),
            admin: admin.expect("an `admin on` line"),
            issuer,
            token,
            banner: banner_text,
            stderr,
            stdout,
            http: reqwest::Client::new(),
        }
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await.expect("the gateway answers");
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    /// `POST /pets` with a small valid pet.
    pub async fn post_pet(&self, authorization: Option<&str>) -> Answer {
        self.request(
            "POST",
            "/pets",
            authorization,
            Some(r#"{"type":"cat","price":1}"#),
        )
        .await
    }

    pub async fn get(&self, path: &str, authorization: Option<&str>) -> Answer {
        self.request("GET", path, authorization, None).await
    }

    pub async fn health(&self) -> Value {
        self.http
            .get(format!("{}/healthz", self.admin))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap()
    }

    /// How many times the gateway has called the authorizer.
    pub async fn calls(&self) -> u64 {
        self.health().await["authorizer_calls"].as_u64().unwrap()
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token.as_deref().expect("a printed token"))
    }

    pub fn issuer(&self) -> &str {
        self.issuer.as_deref().expect("an embedded issuer")
    }

    pub fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}
