//! A Lambda Runtime API on 127.0.0.1: the four endpoints a custom runtime talks to
//! (`invocation/next`, `invocation/{id}/response`, `invocation/{id}/error`, `init/error`), with a
//! queue of events and a record of every answer, so the real binary can run as it does in Lambda.
//! Also the two Extensions API endpoints an internal extension uses (`extension/register`, and
//! `extension/event/next`, which is never answered: the extension subscribes to nothing).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

/// One answer the function posted.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The request id it answers.
    pub request_id: String,
    /// `response`, `error` or `init_error`.
    pub kind: &'static str,
    /// The body it posted.
    pub body: String,
    /// When it arrived.
    pub at: Instant,
}

struct Shared {
    extensions: Mutex<Vec<String>>,
    events: Mutex<VecDeque<(String, Vec<u8>)>>,
    queued: Notify,
    answers: mpsc::UnboundedSender<Answer>,
    /// When the function first asked for an event: the end of its init.
    first_next: Mutex<Option<Instant>>,
}

/// The Runtime API server.
pub struct RuntimeApi {
    shared: Arc<Shared>,
    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    answers: mpsc::UnboundedReceiver<Answer>,
    next_id: u64,
}

impl RuntimeApi {
    /// Starts the server on a fresh port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            extensions: Mutex::default(),
            events: Mutex::default(),
            queued: Notify::new(),
            answers: tx,
            first_next: Mutex::default(),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .route("/2020-01-01/extension/register", post(register_extension))
            .route(
                "/2020-01-01/extension/event/next",
                get(std::future::pending::<()>),
            )
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        RuntimeApi {
            shared,
            address,
            answers: rx,
            next_id: 0,
        }
    }

    /// Queues an event; returns its request id.
    pub fn push(&mut self, event: Vec<u8>) -> String {
        self.next_id += 1;
        let id = format!("req-{:08}", self.next_id);
        self.shared
            .events
            .lock()
            .unwrap()
            .push_back((id.clone(), event));
        self.shared.queued.notify_one();
        id
    }

    /// The names of the extensions registered so far.
    pub fn extensions(&self) -> Vec<String> {
        self.shared.extensions.lock().unwrap().clone()
    }

    /// When the function first asked for an event (`invocation/next`): the end of its init, as
    /// Lambda's Init Duration counts it.
    pub fn first_next(&self) -> Option<Instant> {
        *self.shared.first_next.lock().unwrap()
    }

    /// The next answer, or `None` after `timeout`.
    pub async fn answer(&mut self, timeout: Duration) -> Option<Answer> {
        tokio::time::timeout(timeout, self.answers.recv())
            .await
            .ok()
            .flatten()
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    shared
        .first_next
        .lock()
        .unwrap()
        .get_or_insert_with(Instant::now);
    let (id, event) = loop {
        let notified = shared.queued.notified();
        if let Some(item) = shared.events.lock().unwrap().pop_front() {
            break item;
        }
        notified.await;
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 30_000;
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
    headers.insert(
        "lambda-runtime-deadline-ms",
        deadline.to_string().parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:authorizer"
            .parse()
            .unwrap(),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000".parse().unwrap(),
    );
    headers.insert("content-type", "application/json".parse().unwrap());
    (headers, event)
}

async fn register_extension(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let name = headers
        .get("lambda-extension-name")
        .and_then(|n| n.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut extensions = shared.extensions.lock().unwrap();
    extensions.push(name);
    let mut answer = HeaderMap::new();
    answer.insert(
        "lambda-extension-identifier",
        format!("ext-{}", extensions.len()).parse().unwrap(),
    );
    answer.insert("content-type", "application/json".parse().unwrap());
    (
        answer,
        r#"{"functionName":"authorizer","functionVersion":"$LATEST","handler":"bootstrap"}"#,
    )
}

fn record(shared: &Shared, request_id: String, kind: &'static str, body: Bytes) -> StatusCode {
    let body = String::from_utf8_lossy(&body).into_owned();
    let _ = shared.answers.send(Answer {
        request_id,
        kind,
        body,
        at: Instant::now(),
    });
    StatusCode::ACCEPTED
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    record(&shared, id, "response", body)
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    record(&shared, id, "error", body)
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    record(&shared, String::new(), "init_error", body)
}

/// The environment Lambda gives a function, for `AWS_LAMBDA_RUNTIME_API` at `address`.
pub fn lambda_environment(address: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", address.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", "authorizer".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
    ]
}

/// Starts the real binary as a Lambda function under `api`, trusting `server`'s keys (the
/// tutorial's three variables), with extra variables.
pub fn spawn_function(
    api: &RuntimeApi,
    server: &super::JwksServer,
    extra: &[(&str, &str)],
) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_authorizer"))
        .env_clear()
        .envs(lambda_environment(&api.address))
        .env("TOKEN_ISSUER", server.issuer())
        .env("JWKS_URI", server.jwks_uri())
        .env("AUDIENCE", super::AUDIENCE)
        .envs(extra.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the authorizer binary starts")
}

/// Stops a function started under the Runtime API and returns what it wrote on stdout, with the
/// lines that are JSON documents parsed.
pub async fn stop_and_read_stdout(
    child: &mut tokio::process::Child,
) -> (String, Vec<serde_json::Value>) {
    use tokio::io::AsyncReadExt;
    child.start_kill().unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .await
        .unwrap();
    let documents = stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    (stdout, documents)
}

/// The `field` (`reason`, `policy`, ...) of each `authorization` log line among `documents`, in
/// order; lines without it are left out.
pub fn authorization_field<'a>(documents: &'a [serde_json::Value], field: &str) -> Vec<&'a str> {
    documents
        .iter()
        .filter(|line| line["fields"]["message"] == "authorization")
        .filter_map(|line| line["fields"][field].as_str())
        .collect()
}

/// The release Lambda binary the cold-start benches start: `AUTHORIZER_BIN`, else
/// `release/authorizer` under the target directory. Exits with a hint (`build`, the cargo line
/// that makes it) when there is none.
pub fn release_binary(build: &str) -> std::path::PathBuf {
    if let Some(binary) = std::env::var_os("AUTHORIZER_BIN") {
        return binary.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let binary = target.join("release/authorizer");
    if !binary.is_file() {
        eprintln!(
            "no release binary at {}: run `{build}` first",
            binary.display()
        );
        std::process::exit(2);
    }
    binary
}
