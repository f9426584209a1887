//! The gateway: what API Gateway does in front of a REST API with a Lambda TOKEN authorizer.
//!
//! Per request: take the identity source (the `Authorization` header; none → 401 without calling
//! the authorizer), check it against the token validation regex if one is configured (mismatch →
//! 401 without calling the authorizer), look the identity up in the result cache, otherwise call
//! the in-process [`Authorizer`] with a TOKEN event, and evaluate the policy against this
//! request's methodArn. Allowed requests reach the backend, which answers with the authorizer's
//! `principalId` and `context` added as the `x-authorizer-principal` and `x-authorizer-context`
//! response headers (where a real API would map `$context.authorizer.*` into the integration).

use super::admin::Counters;
use super::cache::AuthCache;
use super::iam::{Policy, Verdict};
use crate::handler::{Authorizer, Outcome};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use regex::Regex;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// The response header carrying the authorizer's `principalId`.
pub const PRINCIPAL_HEADER: &str = "x-authorizer-principal";
/// The response header carrying the authorizer's `context` object as JSON.
pub const CONTEXT_HEADER: &str = "x-authorizer-context";

/// The region, account and API id of the emulated API, as they appear in its methodArns.
pub const ARN_API: &str = "arn:aws:execute-api:local:000000000000:local-api";

/// The principal and context of an allowed request, also put in the request's extensions for the
/// backend.
#[derive(Clone, Debug)]
pub struct AuthorizerContext {
    /// `principalId`.
    pub principal_id: String,
    /// The `context` object as JSON, if the authorizer returned one.
    pub context: Option<String>,
}

/// The gateway's authorization state, shared by every request.
pub(crate) struct Gateway {
    /// `None` with `--no-auth`.
    pub(crate) authorizer: Option<Arc<Authorizer>>,
    pub(crate) token_regex: Option<Regex>,
    pub(crate) cache: AuthCache,
    /// `{ARN_API}/{stage}/`.
    pub(crate) arn_prefix: String,
    pub(crate) counters: Arc<Counters>,
}

impl Gateway {
    /// The methodArn of a call: `arn:aws:execute-api:local:000000000000:local-api/{stage}/{METHOD}/{path}`.
    pub(crate) fn method_arn(&self, method: &str, path: &str) -> String {
        let path = path.strip_prefix('/').unwrap_or(path);
        let mut arn = String::with_capacity(self.arn_prefix.len() + method.len() + 1 + path.len());
        arn.push_str(&self.arn_prefix);
        arn.push_str(method);
        arn.push('/');
        arn.push_str(path);
        arn
    }
}

/// The authorization middleware, wrapped around every route of the API.
pub(crate) async fn authorize(
    State(gateway): State<Arc<Gateway>>,
    mut request: Request,
    next: Next,
) -> Response {
    let counters = &gateway.counters;
    let Some(authorizer) = &gateway.authorizer else {
        counters.no_auth.fetch_add(1, Ordering::Relaxed);
        return next.run(request).await;
    };
    // API Gateway's identity source: exactly one non-empty `Authorization` header.
    let mut values = request.headers().get_all(AUTHORIZATION).iter();
    let identity = match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok().filter(|v| !v.trim().is_empty()),
        _ => None,
    };
    let Some(identity) = identity else {
        counters.missing_identity.fetch_add(1, Ordering::Relaxed);
        return unauthorized(counters);
    };
    if let Some(regex) = &gateway.token_regex
        && !regex.is_match(identity)
    {
        counters.regex_mismatch.fetch_add(1, Ordering::Relaxed);
        return unauthorized(counters);
    }
    let identity = identity.to_owned();
    let arn = gateway.method_arn(request.method().as_str(), request.uri().path());

    let now = Instant::now();
    let policy = match gateway.cache.get(&identity, now) {
        Some(policy) => {
            counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            policy
        }
        None => {
            counters.authorizer_calls.fetch_add(1, Ordering::Relaxed);
            let event = serde_json::json!({
                "type": "TOKEN",
                "authorizationToken": identity,
                "methodArn": arn,
            });
            let event = serde_json::to_vec(&event).expect("a JSON value serializes");
            let mut out = Vec::with_capacity(512);
            let decision = authorizer.authorize(&event, &mut out).await;
            if decision.outcome == Outcome::Unauthorized {
                // Not cached: every request with a refused token reaches the authorizer again.
                return unauthorized(counters);
            }
            match Policy::parse(&out) {
                Ok(policy) => {
                    let policy = Arc::new(policy);
                    gateway.cache.insert(&identity, policy.clone(), now);
                    policy
                }
                Err(error) => {
                    tracing::error!(%error, "the authorizer's answer is not a usable policy");
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    return gateway_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "AuthorizerConfigurationException",
                        r#"{"message":null}"#,
                    );
                }
            }
        }
    };

    match policy.evaluate(&arn) {
        Verdict::Allow => {}
        Verdict::ExplicitDeny => {
            counters.explicit_deny.fetch_add(1, Ordering::Relaxed);
            return gateway_error(
                StatusCode::FORBIDDEN,
                "AccessDeniedException",
                r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#,
            );
        }
        Verdict::ImplicitDeny => {
            counters.implicit_deny.fetch_add(1, Ordering::Relaxed);
            return gateway_error(
                StatusCode::FORBIDDEN,
                "AccessDeniedException",
                r#"{"Message":"User is not authorized to access this resource"}"#,
            );
        }
    }
    counters.allowed.fetch_add(1, Ordering::Relaxed);
    let context = AuthorizerContext {
        principal_id: policy.principal_id().to_owned(),
        context: policy.context().map(str::to_owned),
    };
    request.extensions_mut().insert(context);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // Header values cannot hold control characters; a principal or context with them is left out.
    if let Ok(value) = HeaderValue::from_bytes(policy.principal_id().as_bytes()) {
        headers.insert(HeaderName::from_static(PRINCIPAL_HEADER), value);
    }
    if let Some(Ok(value)) = policy
        .context()
        .map(|c| HeaderValue::from_bytes(c.as_bytes()))
    {
        headers.insert(HeaderName::from_static(CONTEXT_HEADER), value);
    }
    response
}

/// What API Gateway answers for a route or method the API does not define.
pub(crate) async fn missing_route() -> Response {
    gateway_error(
        StatusCode::FORBIDDEN,
        "MissingAuthenticationTokenException",
        r#"{"message":"Missing Authentication Token"}"#,
    )
}

fn unauthorized(counters: &Counters) -> Response {
    counters.unauthorized.fetch_add(1, Ordering::Relaxed);
    gateway_error(
        StatusCode::UNAUTHORIZED,
        "UnauthorizedException",
        r#"{"message":"Unauthorized"}"#,
    )
}

/// One of API Gateway's own answers: its JSON body and `x-amzn-ErrorType`.
fn gateway_error(status: StatusCode, error_type: &'static str, body: &'static str) -> Response {
    (
        status,
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (
                HeaderName::from_static("x-amzn-errortype"),
                HeaderValue::from_static(error_type),
            ),
        ],
        body,
    )
        .into_response()
}
