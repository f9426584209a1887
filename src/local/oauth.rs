//! The embedded issuer's OAuth endpoints, to try opaque tokens and revocation with `serve`
//! alone (`serve --introspect`, or `INTROSPECT` set):
//!
//! - `POST /oauth/token`: the client credentials grant (RFC 6749 §4.4), minting opaque tokens
//!   ([`super::tokens`]); `authorizer token --opaque` calls it.
//! - `POST /oauth/introspect`: token introspection (RFC 7662 §2), for the opaque tokens and for
//!   the JWTs of the issuer's key. The authorizer of `serve` finds it in the issuer's metadata.
//! - `POST /oauth/revoke`: token revocation (RFC 7009 §2).
//!
//! One client may call them: `dev-client`, authenticated with `client_secret_basic` (RFC 6749
//! §2.3.1). Its secret is derived from the issuer's private key, so that `serve --key FILE` and
//! `token --key FILE --opaque` agree on it without being told, as they agree on the `kid`.

use super::LocalError;
use super::dev_issuer::TokenSpec;
use super::tokens::{MintError, Tokens};
use crate::issuer::SigningKey;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The one client of the embedded issuer's endpoints.
pub const CLIENT_ID: &str = "dev-client";
/// The token endpoint.
pub const TOKEN_PATH: &str = "/oauth/token";
/// The introspection endpoint.
pub const INTROSPECT_PATH: &str = "/oauth/introspect";
/// The revocation endpoint.
pub const REVOKE_PATH: &str = "/oauth/revoke";

/// The dev client's secret for the issuer signing with `key`: an HMAC of a fixed label under the
/// private key, base64url (so that `curl -u dev-client:SECRET` needs no encoding).
pub fn client_secret(key: &SigningKey) -> String {
    let mac = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA256,
        key.private_key_pem().as_bytes(),
    );
    let tag = aws_lc_rs::hmac::sign(&mac, b"jwt-authorizer serve: the dev client's secret");
    URL_SAFE_NO_PAD.encode(tag.as_ref())
}

/// The endpoints' members of the issuer's metadata (RFC 8414 §2), where the authorizer
/// discovers the introspection endpoint.
pub(crate) fn metadata(base: &str) -> Value {
    json!({
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "introspection_endpoint": format!("{base}{INTROSPECT_PATH}"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "revocation_endpoint": format!("{base}{REVOKE_PATH}"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic"],
    })
}

/// `serve` with its embedded issuer, introspecting against it: `--introspect` (INTROSPECT=opaque,
/// or INTROSPECT's value), or INTROSPECT set.
pub(super) struct Introspecting {
    mode: String,
    secret: String,
}

impl Introspecting {
    /// `None` when introspection stays off.
    pub(super) fn new(flag: bool, mode: Option<String>, key: &SigningKey) -> Option<Self> {
        let mode = match mode {
            Some(mode) if mode != "off" => mode,
            _ if flag => "opaque".to_owned(),
            _ => return None,
        };
        Some(Introspecting {
            mode,
            secret: client_secret(key),
        })
    }

    /// The value of an introspection variable for the authorizer, `None` for the others: the
    /// dev client's credentials, and the endpoint left to discovery from the issuer's metadata,
    /// as at a real issuer.
    pub(super) fn variable(&self, name: &str) -> Option<Option<String>> {
        match name {
            "INTROSPECT" => Some(Some(self.mode.clone())),
            "INTROSPECTION_CLIENT_ID" => Some(Some(CLIENT_ID.to_owned())),
            "INTROSPECTION_CLIENT_SECRET" => Some(Some(self.secret.clone())),
            "INTROSPECTION_CLIENT_SECRET_FILE" | "INTROSPECTION_ENDPOINT" => Some(None),
            _ => None,
        }
    }
}

/// The endpoints' state.
pub(crate) struct Oauth {
    tokens: Tokens,
    secret: String,
    issuer: String,
    /// The `aud` of a token requested without one.
    audience: String,
}

impl Oauth {
    pub(crate) fn new(key: &SigningKey, issuer: &str, audience: &str) -> Result<Self, LocalError> {
        let tokens = Tokens::new(key, issuer)
            .map_err(|e| LocalError::Sign(crate::issuer::IssuerError::Sign(e)))?;
        Ok(Oauth {
            tokens,
            secret: client_secret(key),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    /// Mints an opaque token in-process (the one the banner prints).
    pub(crate) fn mint(&self, spec: &TokenSpec) -> Result<String, LocalError> {
        self.tokens
            .mint(spec, CLIENT_ID, unix_now())
            .map_err(|_| LocalError::Random)
    }

    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }

    /// RFC 6749 §2.3.1: `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`.
    /// The secret is compared in constant time.
    fn authenticated(&self, headers: &HeaderMap) -> bool {
        let Some(credentials) = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|v| STANDARD.decode(v.trim()).ok())
        else {
            return false;
        };
        let Some((id, secret)) = credentials
            .iter()
            .position(|&b| b == b':')
            .map(|at| (&credentials[..at], &credentials[at + 1..]))
        else {
            return false;
        };
        let decode = |part: &[u8]| -> Vec<u8> {
            url::form_urlencoded::parse(&[b"x=", part].concat())
                .next()
                .map(|(_, v)| v.into_owned().into_bytes())
                .unwrap_or_default()
        };
        decode(id) == CLIENT_ID.as_bytes()
            && aws_lc_rs::constant_time::verify_slices_are_equal(
                &decode(secret),
                self.secret.as_bytes(),
            )
            .is_ok()
    }
}

pub(crate) fn routes(oauth: Arc<Oauth>) -> Router {
    Router::new()
        .route(TOKEN_PATH, post(token))
        .route(INTROSPECT_PATH, post(introspect))
        .route(REVOKE_PATH, post(revoke))
        .with_state(oauth)
}

/// An error response (RFC 6749 §5.2, which RFC 7662 §2.3 and RFC 7009 §2.2.1 use too).
#[derive(Debug)]
enum Refusal {
    /// Missing or wrong client credentials: 401 with a `WWW-Authenticate` challenge for the
    /// scheme the client must use (RFC 6749 §5.2).
    InvalidClient,
    /// A required parameter missing, a repeated one, or not a form.
    InvalidRequest(&'static str),
    UnsupportedGrantType,
    /// The issuer remembers as many tokens as it may.
    Unavailable,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, error, description) = match self {
            Refusal::InvalidClient => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "authenticate as dev-client with HTTP Basic (the secret is in serve's banner)",
            ),
            Refusal::InvalidRequest(why) => (StatusCode::BAD_REQUEST, "invalid_request", why),
            Refusal::UnsupportedGrantType => (
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only grant_type=client_credentials",
            ),
            Refusal::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the issuer remembers as many tokens as it may; retry later",
            ),
        };
        let body = json!({"error": error, "error_description": description});
        let mut response = (status, no_store(), axum::Json(body)).into_response();
        if matches!(self, Refusal::InvalidClient) {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"authorizer serve\""),
            );
        }
        response
    }
}

/// RFC 6749 §5.1: responses carrying tokens or credentials are not cached.
fn no_store() -> [(axum::http::HeaderName, &'static str); 2] {
    [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")]
}

/// A request's parameters. RFC 6749 §3.2: "Parameters sent without a value MUST be treated as
/// if they were omitted from the request" and "MUST NOT be included more than once"; the
/// `repeatable` ones are our extensions.
struct Params(Vec<(String, String)>);

impl Params {
    fn read(headers: &HeaderMap, body: &[u8], repeatable: &[&str]) -> Result<Self, Refusal> {
        // RFC 7662 §2.1, RFC 7009 §2.1, RFC 6749 §4.4.2: `application/x-www-form-urlencoded`.
        let is_form = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(Refusal::InvalidRequest(
                "send the parameters as application/x-www-form-urlencoded",
            ));
        }
        let mut params: Vec<(String, String)> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if value.is_empty() {
                continue;
            }
            if !repeatable.contains(&name.as_ref()) && params.iter().any(|(n, _)| *n == name) {
                return Err(Refusal::InvalidRequest("a parameter is repeated"));
            }
            params.push((name.into_owned(), value.into_owned()));
        }
        Ok(Params(params))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `POST /oauth/token`: RFC 6749 §4.4.2's request (`grant_type=client_credentials`, `scope`),
/// with the development issuer's extensions: `sub` (default `dev-user`), `aud` (repeatable;
/// default the authorizer's audience), `ttl` (seconds, negative for an expired token, default
/// 3600) and `claims` (a JSON object of more claims, as `token --claim`).
async fn token(State(oauth): State<Arc<Oauth>>, headers: HeaderMap, body: Bytes) -> Response {
    if !oauth.authenticated(&headers) {
        return Refusal::InvalidClient.into_response();
    }
    let spec = match Params::read(&headers, &body, &["aud"]).and_then(|p| oauth.spec(&p)) {
        Ok(spec) => spec,
        Err(refusal) => return refusal.into_response(),
    };
    let token = match oauth.tokens.mint(&spec, CLIENT_ID, unix_now()) {
        Ok(token) => token,
        Err(MintError::Full) => return Refusal::Unavailable.into_response(),
        Err(MintError::Random) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    // RFC 6749 §5.1: `access_token`, `token_type`, `expires_in`, and `scope`.
    let mut answer = json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": spec.ttl_seconds.max(0),
    });
    if !spec.scope.is_empty() {
        answer["scope"] = json!(spec.scope);
    }
    (StatusCode::OK, no_store(), axum::Json(answer)).into_response()
}

impl Oauth {
    fn spec(&self, params: &Params) -> Result<TokenSpec, Refusal> {
        match params.get("grant_type") {
            Some("client_credentials") => {}
            Some(_) => return Err(Refusal::UnsupportedGrantType),
            None => return Err(Refusal::InvalidRequest("grant_type is required")),
        }
        let ttl_seconds = match params.get("ttl") {
            None => super::TOKEN_TTL_SECONDS,
            Some(ttl) => ttl
                .parse::<i64>()
                .ok()
                .filter(|ttl| ttl.unsigned_abs() <= 10 * 365 * 24 * 3600)
                .ok_or(Refusal::InvalidRequest("ttl: seconds, at most ten years"))?,
        };
        let extra = match params.get("claims").map(serde_json::from_str::<Value>) {
            None => Vec::new(),
            Some(Ok(Value::Object(claims))) => claims.into_iter().collect(),
            Some(_) => return Err(Refusal::InvalidRequest("claims: a JSON object")),
        };
        let mut audiences: Vec<String> = params.all("aud").map(str::to_owned).collect();
        if audiences.is_empty() {
            audiences.push(self.audience.clone());
        }
        Ok(TokenSpec {
            issuer: self.issuer.clone(),
            audiences,
            subject: params.get("sub").unwrap_or("dev-user").to_owned(),
            scope: params.get("scope").unwrap_or_default().trim().to_owned(),
            ttl_seconds,
            extra,
        })
    }
}

/// `POST /oauth/introspect` (RFC 7662 §2.1). Client authentication first: §2.1 "the endpoint
/// MUST also require some form of authorization ... to prevent token scanning attacks"; a
/// failure is 401 (§2.3). Then `token` is REQUIRED; `token_type_hint` is only a hint (§2.1: a
/// server that cannot find the token by the hint "MUST extend its search"), so it is ignored.
async fn introspect(State(oauth): State<Arc<Oauth>>, headers: HeaderMap, body: Bytes) -> Response {
    if !oauth.authenticated(&headers) {
        return Refusal::InvalidClient.into_response();
    }
    let params = match Params::read(&headers, &body, &[]) {
        Ok(params) => params,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(token) = params.get("token") else {
        return Refusal::InvalidRequest("token is required").into_response();
    };
    // RFC 7662 §2.2: a JSON object with `active`; for a token that is not active (unknown,
    // expired, revoked) `active: false` alone ("SHOULD NOT include any additional
    // information about an inactive token"), with 200 (§2.3: it is not an error).
    let answer = oauth
        .tokens
        .introspect(token, unix_now())
        .unwrap_or_else(|| json!({"active": false}));
    (StatusCode::OK, no_store(), axum::Json(answer)).into_response()
}

/// `POST /oauth/revoke` (RFC 7009 §2.1): client authentication first, then `token` REQUIRED,
/// `token_type_hint` ignored (§2.1: "An authorization server MAY ignore this parameter"). Every
/// token is issued to the one dev client, so §2.1's check that the token was issued to the
/// client asking always holds. §2.2: 200 whether or not the token was known ("invalid tokens
/// do not cause an error response"), and the body is empty (the client ignores it).
async fn revoke(State(oauth): State<Arc<Oauth>>, headers: HeaderMap, body: Bytes) -> Response {
    if !oauth.authenticated(&headers) {
        return Refusal::InvalidClient.into_response();
    }
    let params = match Params::read(&headers, &body, &[]) {
        Ok(params) => params,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(token) = params.get("token") else {
        return Refusal::InvalidRequest("token is required").into_response();
    };
    match oauth.tokens.revoke(token, unix_now()) {
        Ok(()) => (StatusCode::OK, no_store()).into_response(),
        // RFC 7009 §2.2.1: with 503 "the client must assume the token still exists".
        Err(_) => Refusal::Unavailable.into_response(),
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The banner's lines for opaque tokens and revocation, with an opaque token minted for `spec`.
pub(super) fn banner(
    oauth: &Oauth,
    spec: &TokenSpec,
    base: &str,
    expect_pets: &str,
    settings: &crate::config::IntrospectionSettings,
    args: &super::ServeArgs,
    command: &str,
) -> Result<String, LocalError> {
    let mode = match settings.mode {
        crate::config::IntrospectMode::Always => "always: opaque tokens and JWTs",
        _ => "opaque",
    };
    let token = oauth.mint(spec)?;
    let pets = format!("{base}/pets");
    let revoke = |var: &str| {
        format!(
            "curl -i -u {CLIENT_ID}:{} -d \"token=${var}\" {base}{REVOKE_PATH}",
            oauth.secret()
        )
    };
    let delay = match args.cache_ttl {
        0 => format!("{} s", settings.cache_ttl.as_secs()),
        ttl => format!(
            "{} s + the gateway cache's {ttl} s",
            settings.cache_ttl.as_secs()
        ),
    };
    let mut tries = vec![
        (
            format!("curl -i {pets} -H \"Authorization: Bearer $OPAQUE\""),
            expect_pets.to_owned(),
        ),
        (revoke("OPAQUE"), "200: revoked".to_owned()),
        (
            format!("curl -i {pets} -H \"Authorization: Bearer $OPAQUE\""),
            format!("401 within {delay} (INTROSPECTION_CACHE_SECONDS)"),
        ),
    ];
    if settings.mode == crate::config::IntrospectMode::Always {
        tries.push((revoke("TOKEN"), "200: the JWT above, revoked".to_owned()));
    }
    let mut out = format!(
        "\nIntrospection (INTROSPECT={mode}) against this issuer: POST {base}{INTROSPECT_PATH}, \
         revocation: POST {base}{REVOKE_PATH}, tokens: POST {base}{TOKEN_PATH}\n\
         dev client (client_secret_basic): {CLIENT_ID} secret {}\n\
         An opaque token (sub {}, scope \"{}\", valid {} h):\nexport OPAQUE={token}\n\nTry:\n",
        oauth.secret(),
        spec.subject,
        spec.scope,
        spec.ttl_seconds / 3600,
    );
    let width = tries.iter().map(|(line, _)| line.len()).max().unwrap_or(0);
    for (line, expected) in &tries {
        out.push_str(&format!("  {line:<width$}  # {expected}\n"));
    }
    if let Some(path) = &args.key {
        out.push_str(&format!(
            "More opaque tokens: {command} token --key {} --iss {} --opaque\n",
            path.display(),
            oauth.issuer,
        ));
    }
    Ok(out)
}

/// `authorizer token --opaque`: asks the token endpoint of the `serve` at `args.iss` for
/// `args.count` opaque tokens, authenticated as the dev client of `key`, and writes them to
/// `out`, one per line.
pub(super) async fn request_tokens(
    args: &super::TokenArgs,
    extra: &[(String, Value)],
    key: &SigningKey,
    out: &mut impl std::io::Write,
) -> Result<(), LocalError> {
    let endpoint = format!("{}{TOKEN_PATH}", args.iss.trim_end_matches('/'));
    let failed = |why: String| LocalError::TokenEndpoint(format!("{endpoint}: {why}"));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let secret = client_secret(key);
    let ttl = args.ttl.to_string();
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "client_credentials"),
        ("sub", &args.sub),
        ("ttl", &ttl),
        ("scope", &args.scope),
    ];
    form.extend(args.aud.iter().map(|aud| ("aud", aud.as_str())));
    let claims = Value::Object(extra.iter().cloned().collect()).to_string();
    if !extra.is_empty() {
        form.push(("claims", &claims));
    }
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form)
        .finish();
    #[derive(serde::Deserialize)]
    struct Issued {
        access_token: String,
    }
    for _ in 0..args.count {
        let response = http
            .post(&endpoint)
            .basic_auth(CLIENT_ID, Some(&secret))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .map_err(|e| {
                failed(format!(
                    "{e} (is `authorizer serve --introspect` running there? --iss names it)"
                ))
            })?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let issued = match status {
            200 => serde_json::from_str::<Issued>(&text)
                .map_err(|e| failed(format!("not a token response: {e}")))?,
            401 => {
                return Err(failed(
                    "the issuer refused the dev client: use the --key file `serve` was started with"
                        .into(),
                ));
            }
            // The gateway answers a route it does not have like API Gateway: 403.
            403..=405 => {
                return Err(failed(format!(
                    "HTTP {status}: start `authorizer serve --introspect` (or set INTROSPECT) \
                     for opaque tokens"
                )));
            }
            _ => return Err(failed(format!("HTTP {status}: {text}"))),
        };
        // A closed pipe (`| head`) ends the output early; that is not an error.
        if writeln!(out, "{}", issued.access_token).is_err() {
            break;
        }
    }
    Ok(())
}
