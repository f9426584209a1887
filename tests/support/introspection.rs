//! A scriptable RFC 7662 introspection endpoint (and RFC 7009 revocation) on 127.0.0.1: real
//! HTTP, client authentication checked, and the faults a real endpoint has.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// The client the authorizer must authenticate as. The id has a `:` and the secret a space and
/// a `+`, which RFC 6749 §2.3.1's form-encoding keeps apart.
pub const CLIENT_ID: &str = "authorizer:test";
pub const CLIENT_SECRET: &str = "s3cret value+/";

/// How the endpoint answers.
#[derive(Clone, Debug)]
pub enum Fault {
    /// A valid answer, after `delay`.
    None,
    /// This status and a short JSON error.
    Status(u16),
    /// 200, `application/json`, with this body.
    Json(String),
    /// 200, `text/html`.
    Html,
    /// 200 with a JSON body of this many bytes.
    Huge(usize),
    /// Nothing for this long, then a valid answer.
    Slow(Duration),
}

struct Shared {
    /// Active tokens and their claims (without `active`).
    tokens: Mutex<HashMap<String, Value>>,
    revoked: Mutex<HashSet<String>>,
    fault: Mutex<Fault>,
    /// Faults for these tokens alone, in place of `fault`.
    faults_for: Mutex<HashMap<String, Fault>>,
    delay: Mutex<Duration>,
    calls: AtomicUsize,
    unauthenticated: AtomicUsize,
}

/// The endpoint; `POST /introspect` and `POST /revoke`.
pub struct IntrospectionServer {
    shared: Arc<Shared>,
    base: String,
    task: tokio::task::JoinHandle<()>,
}

impl IntrospectionServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            tokens: Mutex::new(HashMap::new()),
            revoked: Mutex::new(HashSet::new()),
            fault: Mutex::new(Fault::None),
            faults_for: Mutex::new(HashMap::new()),
            delay: Mutex::new(Duration::ZERO),
            calls: AtomicUsize::new(0),
            unauthenticated: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/introspect", post(introspect))
            .route("/revoke", post(revoke))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        IntrospectionServer { shared, base, task }
    }

    pub fn endpoint(&self) -> String {
        format!("{}/introspect", self.base)
    }

    /// Makes `token` active with these claims.
    pub fn activate(&self, token: &str, claims: Value) {
        self.shared
            .tokens
            .lock()
            .unwrap()
            .insert(token.to_owned(), claims);
    }

    /// Revokes `token` (its next introspection says `"active": false`).
    pub fn revoke(&self, token: &str) {
        self.shared.revoked.lock().unwrap().insert(token.to_owned());
    }

    pub fn set_fault(&self, fault: Fault) {
        *self.shared.fault.lock().unwrap() = fault;
    }

    /// Answers every introspection of `token` with this fault, whatever the others get.
    pub fn set_fault_for(&self, token: &str, fault: Fault) {
        self.shared
            .faults_for
            .lock()
            .unwrap()
            .insert(token.to_owned(), fault);
    }

    /// Delays every valid answer (keeps a call in flight).
    pub fn set_delay(&self, delay: Duration) {
        *self.shared.delay.lock().unwrap() = delay;
    }

    /// Introspection requests received (authenticated or not).
    pub fn calls(&self) -> usize {
        self.shared.calls.load(Ordering::SeqCst)
    }

    /// Requests refused for missing or wrong client credentials.
    pub fn unauthenticated(&self) -> usize {
        self.shared.unauthenticated.load(Ordering::SeqCst)
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

/// RFC 6749 §2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`.
fn authenticated(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(value) else {
        return false;
    };
    let decoded = String::from_utf8_lossy(&decoded);
    let Some((id, secret)) = decoded.split_once(':') else {
        return false;
    };
    let decode = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    decode(id) == CLIENT_ID && decode(secret) == CLIENT_SECRET
}

fn form(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

async fn introspect(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    shared.calls.fetch_add(1, Ordering::SeqCst);
    // RFC 7662 §2.1: the endpoint MUST require authorization of its callers.
    if !authenticated(&headers) {
        shared.unauthenticated.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == "application/x-www-form-urlencoded");
    let params = form(&body);
    let Some(token) = params.get("token").filter(|_| is_form) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_request"})),
        )
            .into_response();
    };
    let fault = match shared.faults_for.lock().unwrap().get(token) {
        Some(fault) => fault.clone(),
        None => shared.fault.lock().unwrap().clone(),
    };
    let json = |body: String| {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    };
    match fault {
        Fault::None => {}
        Fault::Status(code) => {
            return (
                StatusCode::from_u16(code).unwrap(),
                axum::Json(json!({"error": "server_error"})),
            )
                .into_response();
        }
        Fault::Json(body) => return json(body),
        Fault::Html => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>Sign in</body></html>",
            )
                .into_response();
        }
        Fault::Huge(size) => {
            return json(format!(r#"{{"active":true,"pad":"{}"}}"#, "x".repeat(size)));
        }
        Fault::Slow(delay) => tokio::time::sleep(delay).await,
    }
    let delay = *shared.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let active = !shared.revoked.lock().unwrap().contains(token);
    let claims = shared.tokens.lock().unwrap().get(token).cloned();
    let answer = match claims {
        Some(Value::Object(mut claims)) if active => {
            claims.insert("active".into(), json!(true));
            Value::Object(claims)
        }
        // RFC 7662 §2.2: an inactive token gets `active` alone.
        _ => json!({"active": false}),
    };
    json(answer.to_string())
}

/// RFC 7009 §2.2: 200 whether or not the token was known.
async fn revoke(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    if !authenticated(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if let Some(token) = form(&body).get("token") {
        shared.revoked.lock().unwrap().insert(token.clone());
    }
    StatusCode::OK.into_response()
}
