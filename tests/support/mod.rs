//! A scriptable JWKS issuer on 127.0.0.1 for the integration tests: real HTTP, real keys, and the
//! faults a real issuer has (errors, slowness, outages, junk).
#![allow(dead_code)] // Each test binary uses a different part of the support code.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jwt_authorizer::issuer::{SigningKey, jwks};
use jwt_authorizer::{Algorithm, Authorizer, Config};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;

pub mod binding;
pub mod dpop;
pub mod introspection;
pub mod invoke;
pub mod runtime_api;
pub mod serve;
pub mod tls;

/// How the JWKS endpoint answers.
#[derive(Clone, Debug)]
pub enum Mode {
    /// The current JWKS document, with `Cache-Control` if set.
    Serve,
    /// An error status with a short body.
    Status(u16),
    /// 200 with this body (HTML, invalid JSON, ...).
    Body(String),
    /// The JWKS, after this delay.
    Delay(Duration),
    /// A body of this many bytes.
    Huge(usize),
    /// The JWKS trickled one byte per interval.
    Trickle(Duration),
    /// A redirect to itself, forever.
    RedirectLoop,
    /// This many redirects (each to the JWKS URI with `?hop=N`), then the JWKS.
    Redirects(usize),
    /// A redirect to this URL.
    RedirectTo(String),
    /// Headers, then a body that never ends.
    Endless,
    /// The JWKS, once the test lets a request through (`notify_one`, one request each): a
    /// fetch held in flight for exactly as long as the test needs.
    Gated(Arc<tokio::sync::Notify>),
}

struct Shared {
    jwks: Mutex<String>,
    mode: Mutex<Mode>,
    cache_control: Mutex<Option<String>>,
    discovery: Mutex<Option<Value>>,
    hits: AtomicUsize,
    base: String,
}

/// A JWKS (and OIDC discovery) server on 127.0.0.1.
pub struct JwksServer {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    /// Starts serving `jwks` on a fresh port. The listener is bound before this returns.
    pub async fn start(jwks: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().unwrap());
        Self::serve(listener, base, jwks)
    }

    /// Starts serving `jwks` over HTTPS with a certificate from `ca`.
    pub async fn start_tls(jwks: String, ca: &tls::TestCa) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let base = format!("https://{}", listener.local_addr().unwrap());
        Self::serve(ca.listener(listener), base, jwks)
    }

    fn serve<L>(listener: L, base: String, jwks: String) -> Self
    where
        L: axum::serve::Listener,
        L::Addr: std::fmt::Debug,
    {
        let shared = Arc::new(Shared {
            jwks: Mutex::new(jwks),
            mode: Mutex::new(Mode::Serve),
            cache_control: Mutex::new(None),
            discovery: Mutex::new(None),
            hits: AtomicUsize::new(0),
            base,
        });
        let app = Router::new()
            .route("/.well-known/jwks.json", get(serve_jwks))
            .route("/.well-known/openid-configuration", get(serve_discovery))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        JwksServer { shared, task }
    }

    /// Starts serving the public halves of `keys`.
    pub async fn with_keys(keys: &[&SigningKey]) -> Self {
        Self::start(jwks(keys.iter().copied())).await
    }

    /// `http://127.0.0.1:PORT/`, the issuer these tests use.
    pub fn issuer(&self) -> String {
        format!("{}/", self.shared.base)
    }

    /// The JWKS URI.
    pub fn jwks_uri(&self) -> String {
        format!("{}/.well-known/jwks.json", self.shared.base)
    }

    /// Publishes another key set.
    pub fn publish(&self, keys: &[&SigningKey]) {
        *self.shared.jwks.lock().unwrap() = jwks(keys.iter().copied());
    }

    /// Publishes a raw JWKS document.
    pub fn publish_raw(&self, document: impl Into<String>) {
        *self.shared.jwks.lock().unwrap() = document.into();
    }

    /// Changes how the JWKS endpoint answers.
    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    /// Sends this `Cache-Control` with the JWKS.
    pub fn set_cache_control(&self, value: &str) {
        *self.shared.cache_control.lock().unwrap() = Some(value.to_owned());
    }

    /// Answers OIDC discovery with this document instead of the server's own issuer and JWKS URI.
    pub fn set_discovery(&self, document: Value) {
        *self.shared.discovery.lock().unwrap() = Some(document);
    }

    /// How many requests the JWKS endpoint got.
    pub fn hits(&self) -> usize {
        self.shared.hits.load(Ordering::SeqCst)
    }

    /// Stops the server: connections are then refused.
    pub fn stop(&self) {
        self.task.abort();
    }
}

async fn serve_discovery(State(shared): State<Arc<Shared>>) -> Response {
    if let Some(document) = shared.discovery.lock().unwrap().clone() {
        return axum::Json(document).into_response();
    }
    axum::Json(json!({
        "issuer": format!("{}/", shared.base),
        "jwks_uri": format!("{}/.well-known/jwks.json", shared.base),
    }))
    .into_response()
}

async fn serve_jwks(
    State(shared): State<Arc<Shared>>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    shared.hits.fetch_add(1, Ordering::SeqCst);
    let mode = shared.mode.lock().unwrap().clone();
    let document = shared.jwks.lock().unwrap().clone();
    let json_response = |body: String| {
        let mut response = (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        if let Some(cc) = shared.cache_control.lock().unwrap().as_deref() {
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_str(cc).unwrap());
        }
        response
    };
    match mode {
        Mode::Serve => json_response(document),
        Mode::Status(code) => (StatusCode::from_u16(code).unwrap(), "error").into_response(),
        Mode::Body(body) => json_response(body),
        Mode::Delay(delay) => {
            tokio::time::sleep(delay).await;
            json_response(document)
        }
        Mode::Huge(size) => json_response(" ".repeat(size)),
        Mode::Trickle(every) => {
            let stream = async_stream(document.into_bytes(), every);
            Response::new(Body::from_stream(stream))
        }
        Mode::RedirectLoop => (
            StatusCode::FOUND,
            [(
                header::LOCATION,
                format!("{}/.well-known/jwks.json", shared.base),
            )],
        )
            .into_response(),
        Mode::Redirects(count) => {
            let hop: usize = query
                .as_deref()
                .and_then(|q| q.strip_prefix("hop="))
                .map_or(0, |n| n.parse().unwrap());
            if hop < count {
                let next = format!("{}/.well-known/jwks.json?hop={}", shared.base, hop + 1);
                (StatusCode::FOUND, [(header::LOCATION, next)]).into_response()
            } else {
                json_response(document)
            }
        }
        Mode::RedirectTo(url) => (StatusCode::FOUND, [(header::LOCATION, url)]).into_response(),
        Mode::Endless => {
            let stream = futures_stream_forever();
            Response::new(Body::from_stream(stream))
        }
        Mode::Gated(gate) => {
            gate.notified().await;
            json_response(document)
        }
    }
}

fn async_stream(
    bytes: Vec<u8>,
    every: Duration,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        for b in bytes {
            tokio::time::sleep(every).await;
            if tx.send(Ok(vec![b])).await.is_err() {
                return;
            }
        }
    });
    tokio_stream_from(rx)
}

fn futures_stream_forever()
-> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        while tx.send(Ok(b"{\"keys\":[".repeat(64))).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    tokio_stream_from(rx)
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_core::Stream<Item = T> + Send {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// A key generated once per test binary (RSA key generation takes a while).
pub fn rsa_key(kid: &str) -> &'static SigningKey {
    static KEYS: OnceLock<Mutex<HashMap<String, &'static SigningKey>>> = OnceLock::new();
    let mut keys = KEYS.get_or_init(Default::default).lock().unwrap();
    keys.entry(kid.to_owned()).or_insert_with(|| {
        Box::leak(Box::new(
            SigningKey::generate(Algorithm::RS256, kid).unwrap(),
        ))
    })
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The audience the tests configure.
pub const AUDIENCE: &str = "https://api.example.com";

/// Claims that pass every check against `issuer`.
pub fn good_claims(issuer: &str) -> Value {
    json!({
        "iss": issuer,
        "sub": "auth0|alice",
        "aud": [AUDIENCE, format!("{issuer}userinfo")],
        "iat": now() - 10,
        "exp": now() + 3600,
        "azp": "client-1",
        "scope": "openid read:pets",
    })
}

/// A configuration for `server`, with extra variables.
pub fn config_for(server: &JwksServer, extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("TOKEN_ISSUER".into(), server.issuer()),
        ("JWKS_URI".into(), server.jwks_uri()),
        ("AUDIENCE".into(), AUDIENCE.into()),
        ("JWKS_TIMEOUT_MS".into(), "1000".into()),
    ]);
    for (k, v) in extra {
        vars.insert((*k).into(), (*v).into());
    }
    Config::from_lookup(|name| vars.get(name).cloned()).expect("test configuration is valid")
}

/// An authorizer for `server`.
pub fn authorizer_for(server: &JwksServer, extra: &[(&str, &str)]) -> Authorizer {
    Authorizer::from_config(config_for(server, extra)).unwrap()
}

/// As [`authorizer_for`], with a clock the test moves: refresh intervals, the kid-miss cooldown
/// and cache lifetimes pass when it says so, whatever else the machine is doing.
pub fn authorizer_with_clock(
    server: &JwksServer,
    extra: &[(&str, &str)],
) -> (
    Authorizer,
    std::sync::Arc<jwt_authorizer::clock::ManualClock>,
) {
    let clock = std::sync::Arc::new(jwt_authorizer::clock::ManualClock::new());
    let wiring = jwt_authorizer::Wiring {
        clock: clock.clone(),
        ..jwt_authorizer::Wiring::default()
    };
    let authorizer = Authorizer::wired(config_for(server, extra), wiring).unwrap();
    (authorizer, clock)
}

/// Waits (at most 10 s of real time) until `done` holds: for work that runs beside the test, such
/// as a refresh on the runtime.
pub async fn eventually(what: &str, done: impl Fn() -> bool) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: not within 10 s"));
}

/// The method ARN the TOKEN events carry.
pub const METHOD_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/pets";

/// Authorizes `token` while its issuer's key set is stale: the answer comes from the keys in hand
/// while one refresh runs beside it; returns once that refresh has ended (bounded).
pub async fn authorize_while_stale(
    authorizer: &Authorizer,
    token: &str,
) -> (jwt_authorizer::Decision, Option<Value>) {
    let store = authorizer.issuers()[0].keys();
    let before = store.attempts();
    let answer = authorize(authorizer, token).await;
    tokio::time::timeout(Duration::from_secs(5), async {
        while store.attempts() == before {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "no refresh of the stale key set ended within 5 s of the request: none was started \
             beside it, or it outlived its timeout"
        )
    });
    answer
}

/// A TOKEN event for an `Authorization` value.
pub fn token_event(authorization: &str) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"type": "TOKEN", "authorizationToken": authorization, "methodArn": METHOD_ARN}),
    )
    .unwrap()
}

/// base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs any header and claims, as given, with an RSA key (RS256), for headers that the
/// minting API would not produce (`crit`, `alg: none` with a signature, ...).
pub fn sign_raw(key: &SigningKey, header: &Value, claims: &Value) -> String {
    sign_bytes(
        key,
        &serde_json::to_vec(header).unwrap(),
        &serde_json::to_vec(claims).unwrap(),
    )
}

/// Signs any header and payload bytes (not necessarily JSON) with an RSA key (RS256).
pub fn sign_bytes(key: &SigningKey, header: &[u8], payload: &[u8]) -> String {
    let message = format!("{}.{}", b64(header), b64(payload));
    let der = pem::parse(key.private_key_pem()).unwrap().into_contents();
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).unwrap();
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        message.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{message}.{}", b64(signature))
}

/// The public key of an RSA signing key as a PEM `PUBLIC KEY`: what an attacker can download.
pub fn public_key_pem(key: &SigningKey) -> String {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair;
    let der = pem::parse(key.private_key_pem()).unwrap().into_contents();
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).unwrap();
    let spki = pair.public_key().as_der().unwrap();
    pem::encode(&pem::Pem::new("PUBLIC KEY", spki.as_ref().to_vec()))
}

/// Authorizes a `Bearer` token in a TOKEN event; returns the decision and the answer JSON.
pub async fn authorize(
    authorizer: &Authorizer,
    token: &str,
) -> (jwt_authorizer::Decision, Option<Value>) {
    authorize_event(authorizer, &token_event(&format!("Bearer {token}"))).await
}

/// Authorizes any event; returns the decision and the answer JSON, if one was written.
pub async fn authorize_event(
    authorizer: &Authorizer,
    event: &[u8],
) -> (jwt_authorizer::Decision, Option<Value>) {
    let mut out = Vec::new();
    let decision = authorizer.authorize(event, &mut out).await;
    let answer = (!out.is_empty()).then(|| serde_json::from_slice(&out).expect("answers are JSON"));
    (decision, answer)
}

/// Runs a future that must complete without waiting (an authorization with cached keys) in one
/// poll on this thread: no executor in the way of allocation counts and benchmark figures.
pub fn poll_now<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("this future was expected to complete without waiting"),
    }
}
