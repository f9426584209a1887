//! The call to the introspection endpoint (RFC 7662 §2.1), bounded in time and size, and the
//! endpoint's discovery from the issuer's metadata (RFC 8414 §2, OpenID Connect Discovery).

use super::response::{self, Invalid, Verdict};
use crate::config::IntrospectionSettings;
use crate::config::is_loopback;
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use std::sync::Mutex;
use std::time::Duration;

/// The largest introspection response read: an answer is a few hundred bytes of claims.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Why a call gave no verdict. Each is a refusal (or, with `INTROSPECTION_FAIL_OPEN`, a locally
/// verified JWT served); none is cached, so the next request asks again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Connection, TLS or protocol failure.
    Http,
    /// The call took longer than `INTROSPECTION_TIMEOUT_MS`.
    Timeout,
    /// A status other than 200; 401 and 403 mean our client credentials were refused (RFC 7662
    /// §2.3).
    Status,
    /// The body exceeded [`MAX_RESPONSE_BYTES`].
    TooLarge,
    /// Not an RFC 7662 response.
    Invalid(Invalid),
    /// No endpoint configured and none found in the issuer's metadata.
    Discovery,
}

impl Failure {
    /// The metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Failure::Http => "http_error",
            Failure::Timeout => "timeout",
            Failure::Status => "bad_status",
            Failure::TooLarge => "too_large",
            Failure::Invalid(Invalid::ContentType) => "not_json",
            Failure::Invalid(Invalid::NotJson) => "invalid_json",
            Failure::Invalid(Invalid::NotIntrospection) => "invalid_response",
            Failure::Discovery => "discovery",
        }
    }
}

/// Calls one issuer's introspection endpoint.
pub struct Client {
    http: reqwest::Client,
    issuer: String,
    /// The configured endpoint, or the one discovery found (kept once found).
    endpoint: Mutex<Option<Url>>,
    /// `Basic base64(urlencode(id) ":" urlencode(secret))`, marked sensitive.
    authorization: HeaderValue,
    timeout: Duration,
    allow_http: bool,
}

impl Client {
    /// A client over `http` (which must not follow redirects: a redirect would carry the token
    /// and our credentials elsewhere).
    pub fn new(
        http: reqwest::Client,
        issuer: &str,
        settings: &IntrospectionSettings,
        allow_http: bool,
    ) -> Self {
        Client {
            http,
            issuer: issuer.to_owned(),
            endpoint: Mutex::new(settings.endpoint.clone()),
            authorization: basic_authorization(&settings.client_id, &settings.client_secret.0),
            timeout: settings.timeout,
            allow_http,
        }
    }

    /// Asks the endpoint about `token` (RFC 7662 §2.1).
    ///
    /// # Errors
    /// [`Failure`] for anything but a valid introspection response.
    pub async fn introspect(&self, token: &str, hint: &'static str) -> Result<Verdict, Failure> {
        let call = async {
            let endpoint = self.endpoint().await?;
            // RFC 7662 §2.1: POST, `application/x-www-form-urlencoded`, `token` REQUIRED and
            // `token_type_hint` OPTIONAL.
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("token", token)
                .append_pair("token_type_hint", hint)
                .finish();
            let response = self
                .http
                .post(endpoint)
                .header(AUTHORIZATION, self.authorization.clone())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(ACCEPT, "application/json")
                .body(body)
                .send()
                .await
                .map_err(http_failure)?;
            if response.status() != reqwest::StatusCode::OK {
                if matches!(response.status().as_u16(), 401 | 403) {
                    tracing::error!(
                        issuer = %self.issuer,
                        status = response.status().as_u16(),
                        "the introspection endpoint refused our client credentials \
                         (INTROSPECTION_CLIENT_ID / INTROSPECTION_CLIENT_SECRET)"
                    );
                }
                return Err(Failure::Status);
            }
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = read_bounded(response).await?;
            response::parse(content_type.as_deref(), &body).map_err(Failure::Invalid)
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or(Err(Failure::Timeout))
    }

    /// The endpoint: configured, or found in the issuer's metadata (OpenID Connect Discovery
    /// first, then RFC 8414's `oauth-authorization-server`), whose `issuer` must be ours
    /// (RFC 8414 §3.3, OpenID Connect Discovery §4.3).
    async fn endpoint(&self) -> Result<Url, Failure> {
        if let Some(url) = self.endpoint.lock().expect("not poisoned").clone() {
            return Ok(url);
        }
        for metadata in metadata_urls(&self.issuer) {
            match self.discover(&metadata).await {
                Ok(url) => {
                    *self.endpoint.lock().expect("not poisoned") = Some(url.clone());
                    return Ok(url);
                }
                Err(why) => {
                    tracing::warn!(issuer = %self.issuer, url = %metadata, why, "no introspection endpoint here");
                }
            }
        }
        Err(Failure::Discovery)
    }

    async fn discover(&self, metadata: &Url) -> Result<Url, String> {
        #[derive(serde::Deserialize)]
        struct Metadata {
            issuer: Option<String>,
            introspection_endpoint: Option<String>,
        }
        let response = self
            .http
            .get(metadata.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status().as_u16()));
        }
        let body = read_bounded(response)
            .await
            .map_err(|f| f.as_str().to_owned())?;
        let document: Metadata =
            serde_json::from_slice(&body).map_err(|e| format!("not a metadata document: {e}"))?;
        if document.issuer.as_deref() != Some(self.issuer.as_str()) {
            return Err(format!(
                "it names issuer {:?}, not {:?} (RFC 8414 §3.3)",
                document.issuer, self.issuer
            ));
        }
        let endpoint = document
            .introspection_endpoint
            .ok_or("no introspection_endpoint (RFC 8414 §2)")?;
        let url = Url::parse(&endpoint).map_err(|e| format!("{endpoint:?}: {e}"))?;
        if url.scheme() == "https"
            || (url.scheme() == "http" && (self.allow_http || is_loopback(&url)))
        {
            Ok(url)
        } else {
            Err(format!("{url} is not https (RFC 7662 §4)"))
        }
    }
}

/// Where an issuer's metadata may be: `{issuer}/.well-known/openid-configuration` (OpenID
/// Connect Discovery §4), then `/.well-known/oauth-authorization-server{path}` (RFC 8414 §3.1).
fn metadata_urls(issuer: &str) -> Vec<Url> {
    let Ok(url) = Url::parse(issuer) else {
        return Vec::new();
    };
    let path = url.path().trim_end_matches('/').to_owned();
    let mut urls = Vec::new();
    let mut oidc = url.clone();
    oidc.set_path(&format!("{path}/.well-known/openid-configuration"));
    urls.push(oidc);
    let mut oauth = url;
    oauth.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    urls.push(oauth);
    urls
}

/// `client_secret_basic`: RFC 6749 §2.3.1 encodes the client id and secret with
/// `application/x-www-form-urlencoded` before they become HTTP Basic's user and password
/// (RFC 7617), so that a `:` in the id cannot split it.
fn basic_authorization(id: &str, secret: &str) -> HeaderValue {
    use base64::Engine;
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let credentials = format!("{}:{}", encode(id), encode(secret));
    let value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    );
    let mut value = HeaderValue::from_str(&value).expect("base64 is a valid header value");
    value.set_sensitive(true);
    value
}

fn http_failure(error: reqwest::Error) -> Failure {
    if error.is_timeout() {
        Failure::Timeout
    } else {
        Failure::Http
    }
}

/// Reads a body of at most [`MAX_RESPONSE_BYTES`], refusing a longer one as soon as it shows.
async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, Failure> {
    if response
        .content_length()
        .is_some_and(|len| len > MAX_RESPONSE_BYTES as u64)
    {
        return Err(Failure::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(http_failure)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(Failure::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_secret_basic_form_encodes_id_and_secret_first() {
        // RFC 6749 §2.3.1: a `:`, a space, `+` and `/` are form-encoded before base64.
        use base64::Engine;
        let value = basic_authorization("my:client", "se cret+/");
        assert!(value.is_sensitive());
        let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(decoded, b"my%3Aclient:se+cret%2B%2F");
    }

    #[test]
    fn metadata_is_looked_for_where_oidc_and_rfc_8414_put_it() {
        let urls: Vec<String> = metadata_urls("https://id.example/tenant/")
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            urls,
            [
                "https://id.example/tenant/.well-known/openid-configuration",
                "https://id.example/.well-known/oauth-authorization-server/tenant",
            ]
        );
    }
}
