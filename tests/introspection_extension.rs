//! The introspection client secret read at start-up through the AWS Parameters and Secrets
//! Lambda Extension (`INTROSPECTION_CLIENT_SECRET_ARN`, issue 19), through the real binary: a
//! fake extension on 127.0.0.1 that checks `X-Aws-Parameters-Secrets-Token` as the real one
//! does, and answers Secrets Manager's and Parameter Store's JSON.
#![cfg(feature = "local")]

mod support;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::introspection::{CLIENT_ID, CLIENT_SECRET, IntrospectionServer};
use support::invoke::{Run, env_for, invoke};
use support::*;

/// The function's session token: the extension answers only requests that carry it.
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE-session-token";
const SECRET_ARN: &str =
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:authorizer/introspection-AbCdEf";
const PARAMETER: &str = "/authorizer/introspection/client-secret";
/// A secret whose answer is larger than the authorizer reads.
const HUGE_SECRET: &str = "authorizer/huge";

struct Extension {
    /// Requests received, with the right token or not.
    requests: AtomicUsize,
}

async fn secrets_manager(
    State(ext): State<Arc<Extension>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    ext.requests.fetch_add(1, Ordering::SeqCst);
    if headers
        .get("X-Aws-Parameters-Secrets-Token")
        .is_none_or(|v| v != SESSION_TOKEN)
    {
        return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
    }
    let id = query.get("secretId").map(String::as_str);
    let secret = match id {
        Some(SECRET_ARN) => CLIENT_SECRET.to_owned(),
        Some(HUGE_SECRET) => "x".repeat(200 * 1024),
        _ => return (StatusCode::BAD_REQUEST, "ResourceNotFoundException").into_response(),
    };
    axum::Json(json!({
        "ARN": SECRET_ARN,
        "Name": "authorizer/introspection",
        "VersionId": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
        "SecretString": secret,
        "VersionStages": ["AWSCURRENT"],
        "CreatedDate": "2026-12-01T10:00:00.000Z",
    }))
    .into_response()
}

async fn parameter_store(
    State(ext): State<Arc<Extension>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    ext.requests.fetch_add(1, Ordering::SeqCst);
    if headers
        .get("X-Aws-Parameters-Secrets-Token")
        .is_none_or(|v| v != SESSION_TOKEN)
    {
        return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
    }
    if query.get("name").map(String::as_str) != Some(PARAMETER)
        || query.get("withDecryption").map(String::as_str) != Some("true")
    {
        return (StatusCode::BAD_REQUEST, "ParameterNotFound").into_response();
    }
    axum::Json(json!({
        "Parameter": {
            "ARN": format!("arn:aws:ssm:eu-west-1:123456789012:parameter{PARAMETER}"),
            "Name": PARAMETER,
            "Type": "SecureString",
            "Value": CLIENT_SECRET,
            "Version": 3,
            "DataType": "text",
        },
        "ResultMetadata": {},
    }))
    .into_response()
}

/// Starts the fake extension on 127.0.0.1; its port.
async fn start_extension() -> (Arc<Extension>, u16) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let ext = Arc::new(Extension {
        requests: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/secretsmanager/get", get(secrets_manager))
        .route("/systemsmanager/parameters/get", get(parameter_store))
        .with_state(ext.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (ext, port)
}

fn extension_env(
    jwks: &JwksServer,
    endpoint: &IntrospectionServer,
    port: u16,
    secret: &str,
    token: &str,
) -> Vec<(String, String)> {
    env_for(
        jwks,
        &[
            ("INTROSPECT", "opaque"),
            ("INTROSPECTION_ENDPOINT", &endpoint.endpoint()),
            ("INTROSPECTION_CLIENT_ID", CLIENT_ID),
            ("INTROSPECTION_CLIENT_SECRET_ARN", secret),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", &port.to_string()),
            ("AWS_SESSION_TOKEN", token),
        ],
    )
}

fn assert_no_secret(run: &Run) {
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains(CLIENT_SECRET), "the secret is shown: {text}");
        assert!(
            !text.contains(SESSION_TOKEN),
            "the session token is shown: {text}"
        );
    }
}

#[tokio::test]
async fn the_secret_is_read_through_the_extension_and_used_for_client_secret_basic() {
    let jwks = JwksServer::with_keys(&[rsa_key("extension")]).await;
    let endpoint = IntrospectionServer::start().await;
    let issuer = jwks.issuer();
    let mut claims = good_claims(&issuer);
    claims["sub"] = json!("alice");
    endpoint.activate("opaque-alice", claims);
    let (ext, port) = start_extension().await;

    for (source, calls) in [(SECRET_ARN.to_owned(), 1), (format!("ssm:{PARAMETER}"), 2)] {
        let env = extension_env(&jwks, &endpoint, port, &source, SESSION_TOKEN);
        let run = invoke(&env, token_event("Bearer opaque-alice")).await;
        assert_eq!(run.code, 0, "{source}: {}", run.stderr);
        assert_eq!(run.answer()["principalId"], "alice");
        assert_eq!(endpoint.calls(), calls, "{source}");
        assert_eq!(
            endpoint.unauthenticated(),
            0,
            "{source}: client_secret_basic accepted"
        );
        assert_eq!(
            ext.requests.load(Ordering::SeqCst),
            calls,
            "read once, at start-up"
        );
        assert_no_secret(&run);
    }
}

#[tokio::test]
async fn a_secret_that_cannot_be_read_stops_the_start_naming_the_variable() {
    let jwks = JwksServer::with_keys(&[rsa_key("extension")]).await;
    let endpoint = IntrospectionServer::start().await;
    let (ext, port) = start_extension().await;
    let event = token_event("Bearer opaque-alice");

    // The extension refuses a request without the function's session token.
    let env = extension_env(&jwks, &endpoint, port, SECRET_ARN, "someone-elses-token");
    let run = invoke(&env, &event).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("INTROSPECTION_CLIENT_SECRET_ARN"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("401"), "{}", run.stderr);
    assert!(
        ext.requests.load(Ordering::SeqCst) >= 1,
        "the extension was asked"
    );
    assert_no_secret(&run);

    // An unknown secret, an answer over the size limit, no extension listening, no session
    // token: each stops the start, and no introspection call is ever made.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    for (secret, port, token, why) in [
        ("authorizer/unknown", port, SESSION_TOKEN, "400"),
        (HUGE_SECRET, port, SESSION_TOKEN, "over"),
        (SECRET_ARN, closed, SESSION_TOKEN, "no answer within"),
        (SECRET_ARN, port, "", "AWS_SESSION_TOKEN"),
    ] {
        let env = extension_env(&jwks, &endpoint, port, secret, token);
        let run = invoke(&env, &event).await;
        assert_eq!(run.code, 2, "{secret}: {}", run.stderr);
        assert!(
            run.stderr.contains("INTROSPECTION_CLIENT_SECRET_ARN") && run.stderr.contains(why),
            "{secret}: {why}: {}",
            run.stderr
        );
        assert_no_secret(&run);
    }
    assert_eq!(endpoint.calls(), 0);
}

#[tokio::test]
async fn the_secret_arn_and_the_secret_are_a_configuration_problem_together() {
    let jwks = JwksServer::with_keys(&[rsa_key("extension")]).await;
    let endpoint = IntrospectionServer::start().await;
    let mut env = extension_env(&jwks, &endpoint, 9, SECRET_ARN, SESSION_TOKEN);
    env.push(("INTROSPECTION_CLIENT_SECRET".into(), CLIENT_SECRET.into()));
    let run = invoke(&env, token_event("Bearer opaque-alice")).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("INTROSPECTION_CLIENT_SECRET_ARN")
            && run
                .stderr
                .contains("INTROSPECTION_CLIENT_SECRET (or its _FILE)"),
        "{}",
        run.stderr
    );
    assert_no_secret(&run);

    let env = extension_env(&jwks, &endpoint, 9, "ssm:", SESSION_TOKEN);
    let run = invoke(&env, token_event("Bearer opaque-alice")).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("ssm:<parameter name>"),
        "{}",
        run.stderr
    );
}
