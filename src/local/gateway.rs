//! The gateway: what API Gateway does in front of a REST API with a Lambda TOKEN authorizer, or
//! of an HTTP API with a Lambda authorizer (`--api http`).
//!
//! Per request: read the identity source values (REST: the credential header; HTTP API: every
//! source of `IDENTITY_SOURCE`, `$context.routeKey` among them; one missing → 401 without calling
//! the authorizer), check the credential against the token validation regex if one is configured
//! (REST only; mismatch → 401 without calling the authorizer), look the values up in the result
//! cache, otherwise call the in-process [`Authorizer`] with a TOKEN or payload 2.0 event, and
//! evaluate the cached answer (a policy, or a simple yes or no for every route) against this
//! request's methodArn. Allowed requests reach the backend, which answers with the authorizer's
//! `principalId` and `context` added as the `x-authorizer-principal` and `x-authorizer-context`
//! response headers (where a real API would map `$context.authorizer.*` into the integration).

use super::cache::AuthCache;
use super::iam::{Policy, Verdict};
use crate::config::HttpApiResponse;
use crate::handler::Authorizer;
use crate::identity::{IdentitySource, Source};
use crate::report::Outcome;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use regex::Regex;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// What the gateway counts.
#[derive(Default, Debug)]
pub(crate) struct Counters {
    /// Calls of the in-process authorizer (cache misses).
    pub(crate) authorizer_calls: AtomicU64,
    /// Requests answered from the result cache.
    pub(crate) cache_hits: AtomicU64,
    /// Requests that reached the backend.
    pub(crate) allowed: AtomicU64,
    /// 403 by a matching Deny statement.
    pub(crate) explicit_deny: AtomicU64,
    /// 403 for lack of a matching Allow.
    pub(crate) implicit_deny: AtomicU64,
    /// 401 answers, whatever the cause.
    pub(crate) unauthorized: AtomicU64,
    /// 401 without an identity source.
    pub(crate) missing_identity: AtomicU64,
    /// 401 because the identity did not match the token validation regex.
    pub(crate) regex_mismatch: AtomicU64,
    /// 500: the authorizer's answer was not a policy.
    pub(crate) errors: AtomicU64,
    /// Requests passed through with `--no-auth`.
    pub(crate) no_auth: AtomicU64,
}

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

/// Which API Gateway `serve` emulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Api {
    /// A REST API with a Lambda `TOKEN` authorizer: the credential header is the cache key.
    Rest,
    /// An HTTP API with a Lambda authorizer (payload 2.0): the answer is simple or a policy
    /// (`HTTP_API_RESPONSE`), cached under the values of `IDENTITY_SOURCE`.
    Http,
}

/// The gateway's authorization state, shared by every request.
pub(crate) struct Gateway {
    /// `None` with `--no-auth`.
    pub(crate) authorizer: Option<Arc<Authorizer>>,
    pub(crate) api: Api,
    pub(crate) token_regex: Option<Regex>,
    pub(crate) cache: AuthCache,
    /// `{ARN_API}/{stage}/`.
    pub(crate) arn_prefix: String,
    /// The stage, for `$context.stage`.
    pub(crate) stage: String,
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

    /// Whether `serve` can read every identity source of an HTTP API authorizer.
    ///
    /// # Errors
    /// The source it cannot emulate.
    pub(crate) fn check_identity_source(identity: &IdentitySource) -> Result<(), String> {
        match identity.sources().iter().find(|s| match s {
            Source::Header(_) | Source::Query(_) => false,
            Source::Context(name) => name != "routeKey" && name != "stage",
            Source::StageVariable(_) => true,
        }) {
            Some(source) => Err(format!(
                "IDENTITY_SOURCE: `serve --api http` emulates headers, query string parameters, \
                 $context.routeKey and $context.stage, not {source}"
            )),
            None => Ok(()),
        }
    }

    /// The values of the identity sources for a request, in order, as API Gateway reads them;
    /// `None` when one is missing or empty (API Gateway then answers 401 without calling the
    /// authorizer). A REST `TOKEN` authorizer has one: the credential header.
    fn identity_values(&self, request: &Request, route_key: &str) -> Option<Vec<String>> {
        let identity = &self.authorizer.as_ref()?.config().identity_source;
        let header = |name: &str| {
            // Exactly one non-empty value.
            let mut values = request.headers().get_all(name).iter();
            match (values.next(), values.next()) {
                (Some(value), None) => value.to_str().ok().filter(|v| !v.trim().is_empty()),
                _ => None,
            }
            .map(str::to_owned)
        };
        let value = |source: &Source| match source {
            Source::Header(name) => header(name),
            Source::Query(name) => query_parameters(request)
                .into_iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v)
                .filter(|v| !v.is_empty()),
            Source::Context(name) if name == "routeKey" => Some(route_key.to_owned()),
            Source::Context(_) => Some(self.stage.clone()),
            Source::StageVariable(_) => None,
        };
        match self.api {
            Api::Rest => value(identity.credential()).map(|v| vec![v]),
            Api::Http => identity.sources().iter().map(value).collect(),
        }
    }

    /// The authorizer event for a request: a `TOKEN` event, or an HTTP API payload 2.0.
    fn event(&self, request: &Request, arn: &str, route_key: &str, identity: &[String]) -> Vec<u8> {
        let event = match self.api {
            Api::Rest => serde_json::json!({
                "type": "TOKEN",
                "authorizationToken": identity[0],
                "methodArn": arn,
            }),
            Api::Http => {
                let mut headers = serde_json::Map::new();
                for (name, value) in request.headers() {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    // API Gateway joins repeated headers with commas.
                    match headers.get_mut(name.as_str()) {
                        Some(serde_json::Value::String(joined)) => {
                            joined.push(',');
                            joined.push_str(&value);
                        }
                        _ => {
                            headers.insert(name.as_str().to_owned(), value.into());
                        }
                    }
                }
                let query: serde_json::Map<_, _> = query_parameters(request)
                    .into_iter()
                    .map(|(k, v)| (k, v.into()))
                    .collect();
                let (method, path) = (request.method().as_str(), request.uri().path());
                serde_json::json!({
                    "version": "2.0",
                    "type": "REQUEST",
                    "routeArn": arn,
                    "identitySource": identity,
                    "routeKey": route_key,
                    "rawPath": path,
                    "rawQueryString": request.uri().query().unwrap_or_default(),
                    "headers": headers,
                    "queryStringParameters": query,
                    "requestContext": {
                        "accountId": "000000000000",
                        "apiId": "local-api",
                        // The host the client called, as API Gateway passes it (a DPoP proof's
                        // `htu` is checked against it).
                        "domainName": request
                            .headers()
                            .get(axum::http::header::HOST)
                            .and_then(|h| h.to_str().ok())
                            .unwrap_or_default(),
                        "http": {"method": method, "path": path, "protocol": "HTTP/1.1"},
                        "routeKey": route_key,
                        "stage": self.stage,
                    },
                })
            }
        };
        serde_json::to_vec(&event).expect("a JSON value serializes")
    }

    /// The gateway's own refusals, in each API's words.
    fn unauthorized(&self) -> Response {
        self.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        match self.api {
            Api::Rest => gateway_error(
                StatusCode::UNAUTHORIZED,
                Some("UnauthorizedException"),
                r#"{"message":"Unauthorized"}"#,
            ),
            Api::Http => gateway_error(
                StatusCode::UNAUTHORIZED,
                None,
                r#"{"message":"Unauthorized"}"#,
            ),
        }
    }

    fn forbidden(&self, verdict: Verdict) -> Response {
        let counter = match verdict {
            Verdict::ExplicitDeny => &self.counters.explicit_deny,
            _ => &self.counters.implicit_deny,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        match (self.api, verdict) {
            (Api::Http, _) => {
                gateway_error(StatusCode::FORBIDDEN, None, r#"{"message":"Forbidden"}"#)
            }
            (Api::Rest, Verdict::ExplicitDeny) => gateway_error(
                StatusCode::FORBIDDEN,
                Some("AccessDeniedException"),
                r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#,
            ),
            (Api::Rest, _) => gateway_error(
                StatusCode::FORBIDDEN,
                Some("AccessDeniedException"),
                r#"{"Message":"User is not authorized to access this resource"}"#,
            ),
        }
    }
}

/// A request's query string parameters, decoded (the last value of a repeated one wins, as in
/// API Gateway's `queryStringParameters` for REST).
fn query_parameters(request: &Request) -> Vec<(String, String)> {
    let query = request.uri().query().unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
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
    // The route as the API defines it (`GET /pets/{petId}`): this middleware runs after routing.
    let route_key = format!(
        "{} {}",
        request.method(),
        request
            .extensions()
            .get::<MatchedPath>()
            .map_or(request.uri().path(), MatchedPath::as_str)
    );
    let Some(identity) = gateway.identity_values(&request, &route_key) else {
        counters.missing_identity.fetch_add(1, Ordering::Relaxed);
        return gateway.unauthorized();
    };
    // A REST TOKEN authorizer's token validation expression.
    if let Some(regex) = &gateway.token_regex
        && gateway.api == Api::Rest
        && !regex.is_match(&identity[0])
    {
        counters.regex_mismatch.fetch_add(1, Ordering::Relaxed);
        return gateway.unauthorized();
    }
    let arn = gateway.method_arn(request.method().as_str(), request.uri().path());
    // API Gateway's cache key: the identity source values, whatever else the request holds.
    let cache_key = identity.join("\n");

    let now = Instant::now();
    let policy = match gateway.cache.get(&cache_key, now) {
        Some(policy) => {
            counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            policy
        }
        None => {
            counters.authorizer_calls.fetch_add(1, Ordering::Relaxed);
            let event = gateway.event(&request, &arn, &route_key, &identity);
            let mut out = Vec::with_capacity(512);
            let decision = authorizer.authorize(&event, &mut out).await;
            if decision.outcome == Outcome::Unauthorized {
                // Not cached: every request with a refused token reaches the authorizer again.
                return gateway.unauthorized();
            }
            let simple = gateway.api == Api::Http
                && authorizer.config().http_api_response == HttpApiResponse::Simple;
            let parsed = if simple {
                Policy::from_simple(&out)
            } else {
                Policy::parse(&out)
            };
            match parsed {
                Ok(policy) => {
                    let policy = Arc::new(policy);
                    if gateway.cache.enabled() && carries_dpop(&request) {
                        warn_dpop_cached(&authorizer.config().identity_source);
                    }
                    gateway.cache.insert(&cache_key, policy.clone(), now);
                    policy
                }
                Err(error) => {
                    tracing::error!(%error, "the authorizer's answer is not a usable policy");
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    return gateway_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        Some("AuthorizerConfigurationException"),
                        r#"{"message":null}"#,
                    );
                }
            }
        }
    };

    match policy.evaluate(&arn) {
        Verdict::Allow => {}
        verdict => return gateway.forbidden(verdict),
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

/// Whether a request presents a DPoP-bound token (the `DPoP` scheme or a `DPoP` header).
fn carries_dpop(request: &Request) -> bool {
    let headers = request.headers();
    headers.contains_key("dpop")
        || headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.get(..5).is_some_and(|s| s.eq_ignore_ascii_case("dpop ")))
}

/// Says, once, what caching an answer for a DPoP request means: API Gateway (and so `serve`)
/// answers later requests from the cache without calling the authorizer, so no proof is checked
/// for them. A DPoP proof changes with every request; only a TTL of 0 checks each one.
fn warn_dpop_cached(identity: &IdentitySource) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        if identity.holds_dpop_proof() {
            tracing::warn!(
                identity_source = %identity,
                "an answer for a DPoP request is cached under the token and its proof: the same \
                 request replayed within the TTL is answered from the cache, without the replay \
                 check (API Gateway does the same); run with --cache-ttl 0 (in API Gateway: the \
                 authorizer's result TTL 0)"
            );
        } else {
            tracing::warn!(
                identity_source = %identity,
                "an answer for a DPoP request is cached without its proof: until the TTL ends, \
                 this token is let through with any proof or none (API Gateway does the same); run \
                 with --cache-ttl 0 (in API Gateway: the authorizer's result TTL 0)"
            );
        }
    });
}

/// What API Gateway answers for a route or method the API does not define.
pub(crate) async fn missing_route() -> Response {
    gateway_error(
        StatusCode::FORBIDDEN,
        Some("MissingAuthenticationTokenException"),
        r#"{"message":"Missing Authentication Token"}"#,
    )
}

/// One of API Gateway's own answers: its JSON body and, from REST APIs, `x-amzn-ErrorType`.
fn gateway_error(
    status: StatusCode,
    error_type: Option<&'static str>,
    body: &'static str,
) -> Response {
    let mut response = (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response();
    if let Some(error_type) = error_type {
        response.headers_mut().insert(
            HeaderName::from_static("x-amzn-errortype"),
            HeaderValue::from_static(error_type),
        );
    }
    response
}
