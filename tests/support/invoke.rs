//! The real binary's `authorizer invoke`, as a user runs it: an event on stdin, the answer on
//! stdout, the logs on stderr, and the exit status.

use super::{AUDIENCE, JwksServer};
use std::process::Stdio;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// What one `invoke` printed, and its exit status.
pub struct Run {
    /// 0 with an answer, 1 with `Unauthorized`, 2 when it cannot run.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The answer on stdout, parsed.
    pub fn answer(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: {} / {}", self.stdout, self.stderr))
    }
}

/// The environment of an authorizer trusting `server`, with `extra` variables.
pub fn env_for(server: &JwksServer, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![
        ("TOKEN_ISSUER".to_owned(), server.issuer()),
        ("JWKS_URI".to_owned(), server.jwks_uri()),
        ("AUDIENCE".to_owned(), AUDIENCE.to_owned()),
    ];
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env
}

/// Runs `authorizer invoke` on `event` (written to its stdin) with only `env` (and `PATH`) set.
pub async fn invoke<K, V>(env: &[(K, V)], event: impl AsRef<[u8]>) -> Run
where
    K: AsRef<std::ffi::OsStr>,
    V: AsRef<std::ffi::OsStr>,
{
    let mut child = Command::new(env!("CARGO_BIN_EXE_authorizer"))
        .args(["invoke", "--event", "-"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(event.as_ref()).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
