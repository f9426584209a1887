//! Fetching the issuer's JWKS over HTTP: bounded in time and size, https only (but for loopback),
//! with OIDC discovery when no `JWKS_URI` is configured.

use crate::algorithm::Algorithm;
use crate::config::{IssuerConfig, JwksSource, Transport, is_loopback};
use crate::keyset::{JwksError, KeySet, SkippedKey};
use reqwest::Url;
use reqwest::header::{ACCEPT, CACHE_CONTROL, HeaderMap};
use std::sync::Mutex;
use std::time::Duration;

/// Why a fetch failed. The keys we have are kept, and the fetch is retried later.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connection, TLS or protocol failure (or a refused redirect).
    #[error("request to {url} failed: {source}")]
    Http {
        /// The URL requested.
        url: Url,
        /// The underlying error.
        source: reqwest::Error,
    },
    /// A non-2xx answer.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL requested.
        url: Url,
        /// The status code.
        status: u16,
    },
    /// The body exceeded `JWKS_MAX_BYTES`.
    #[error("{url} sent more than {limit} bytes")]
    TooLarge {
        /// The URL requested.
        url: Url,
        /// The configured limit.
        limit: usize,
    },
    /// The whole request took longer than `JWKS_TIMEOUT_MS`.
    #[error("{url} did not answer within {0:?}", .timeout)]
    Timeout {
        /// The URL requested.
        url: Url,
        /// The configured limit.
        timeout: Duration,
    },
    /// The discovery document has no usable `jwks_uri`, or names another issuer.
    #[error("OIDC discovery at {url}: {why}")]
    Discovery {
        /// The discovery URL.
        url: Url,
        /// What was wrong.
        why: String,
    },
    /// The body is not a usable JWKS.
    #[error("{url}: {source}")]
    Jwks {
        /// The URL requested.
        url: Url,
        /// What was wrong.
        source: JwksError,
    },
}

impl FetchError {
    /// A short, stable label for metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            FetchError::Http { .. } => "http_error",
            FetchError::Status { .. } => "bad_status",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Timeout { .. } => "timeout",
            FetchError::Discovery { .. } => "discovery",
            FetchError::Jwks { .. } => "invalid_jwks",
        }
    }
}

/// A fetched and parsed key set, with what the issuer said about caching it.
pub struct Fetched {
    /// The parsed keys.
    pub keys: KeySet,
    /// Keys of the document we could not use.
    pub skipped: Vec<SkippedKey>,
    /// `Cache-Control: max-age`, if the issuer sent one.
    pub max_age: Option<Duration>,
}

/// Fetches the JWKS of one issuer.
pub struct Fetcher {
    client: reqwest::Client,
    source: JwksSource,
    issuer: String,
    /// The `jwks_uri` found by discovery, kept once found.
    discovered: Mutex<Option<Url>>,
    algorithms: Vec<Algorithm>,
    timeout: Duration,
    max_bytes: usize,
}

/// Why the key sources could not be set up: the HTTP client, or a pre-loaded key set (a
/// start-up error).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `JWKS_CA_FILE` could not be read or holds no PEM certificate.
    #[error("JWKS_CA_FILE {path}: {why}")]
    CaFile {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
    /// `JWKS_FILE` (or a `jwks_file`) could not be read or holds no usable key.
    #[error("JWKS_FILE {path}: {why}")]
    JwksFile {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
    /// Introspection could not be set up.
    #[error("token introspection: {0}")]
    Introspection(String),
    /// reqwest refused the configuration.
    #[error("cannot build the HTTP client: {0}")]
    Build(#[from] reqwest::Error),
}

impl Fetcher {
    /// The HTTP client every issuer's fetcher shares (one connection pool, one TLS set-up).
    ///
    /// # Errors
    /// [`ClientError`] when `JWKS_CA_FILE` is unreadable or the TLS set-up fails.
    pub fn client(transport: &Transport) -> Result<reqwest::Client, ClientError> {
        let allow_http = transport.allow_http;
        // Redirects are followed a few times, and only to places we would have accepted as the
        // JWKS URI itself: a redirect must not downgrade the keys to plain http.
        // `previous()` holds every URL requested so far, the JWKS URI included: the n-th redirect
        // sees n of them (as in reqwest's own `Policy::limited`).
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > 3 {
                attempt.error("more than 3 redirects")
            } else if attempt.url().scheme() == "https" || allow_http || is_loopback(attempt.url())
            {
                attempt.follow()
            } else {
                attempt.error("redirect to plain http refused")
            }
        });
        Ok(Self::builder(transport)?.redirect(redirects).build()?)
    }

    /// The client set-up every HTTP client of the authorizer shares: user agent, time limits,
    /// connection pool, and the roots of `JWKS_CA_FILE`; without a redirect policy.
    ///
    /// # Errors
    /// [`ClientError`] when `JWKS_CA_FILE` is unreadable.
    pub(crate) fn builder(transport: &Transport) -> Result<reqwest::ClientBuilder, ClientError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("jwt-authorizer/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(transport.timeout)
            .timeout(transport.timeout)
            .pool_idle_timeout(Duration::from_secs(50));
        if let Some(path) = &transport.ca_file {
            let ca_error = |why: String| ClientError::CaFile {
                path: path.display().to_string(),
                why,
            };
            let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ca_error(e.to_string()))?;
            if certs.is_empty() {
                return Err(ca_error("no PEM certificate in it".into()));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(builder)
    }

    /// The fetcher of one issuer's keys, over a [`Fetcher::client`].
    pub fn new(client: reqwest::Client, transport: &Transport, issuer: &IssuerConfig) -> Self {
        Fetcher {
            client,
            source: issuer.jwks.clone(),
            issuer: issuer.issuer.clone(),
            discovered: Mutex::new(None),
            algorithms: issuer.algorithms.clone(),
            timeout: transport.timeout,
            max_bytes: transport.max_bytes,
        }
    }

    /// Fetches and parses the key set.
    ///
    /// # Errors
    /// [`FetchError`] for any failure; nothing is retried here.
    pub async fn fetch(&self) -> Result<Fetched, FetchError> {
        let url = self.jwks_uri().await?;
        let (body, headers) = self.get(&url).await?;
        let (keys, skipped) = KeySet::from_jwks(&body, &self.algorithms)
            .map_err(|source| FetchError::Jwks { url, source })?;
        Ok(Fetched {
            keys,
            skipped,
            max_age: max_age(&headers),
        })
    }

    async fn jwks_uri(&self) -> Result<Url, FetchError> {
        let discovery = match &self.source {
            JwksSource::Uri(url) => return Ok(url.clone()),
            JwksSource::Discovery(url) => url,
        };
        if let Some(url) = self.discovered.lock().expect("not poisoned").clone() {
            return Ok(url);
        }
        #[derive(serde::Deserialize)]
        struct Discovery {
            issuer: Option<String>,
            jwks_uri: Option<String>,
        }
        let (body, _) = self.get(discovery).await?;
        let bad = |why: String| FetchError::Discovery {
            url: discovery.clone(),
            why,
        };
        let document: Discovery = serde_json::from_slice(&body)
            .map_err(|e| bad(format!("not a discovery document: {e}")))?;
        // OpenID Connect Discovery 1.0 §4.3 (and RFC 8414 §3.3 for OAuth metadata): the
        // document's `issuer` MUST be identical to the issuer it was fetched for, or it MUST NOT
        // be used. A document without one cannot show that it speaks for this issuer.
        match &document.issuer {
            Some(issuer) if *issuer == self.issuer => {}
            Some(issuer) => {
                return Err(bad(format!(
                    "it names issuer {issuer:?}, not the configured issuer {:?} (OpenID Connect \
                     Discovery 4.3)",
                    self.issuer
                )));
            }
            None => {
                return Err(bad(format!(
                    "it names no issuer; it must name the configured issuer {:?} (OpenID Connect \
                     Discovery 4.3)",
                    self.issuer
                )));
            }
        }
        let jwks_uri = document.jwks_uri.ok_or_else(|| bad("no jwks_uri".into()))?;
        let url = Url::parse(&jwks_uri).map_err(|e| bad(format!("jwks_uri {jwks_uri:?}: {e}")))?;
        if url.scheme() != "https" && !is_loopback(&url) && url.scheme() != discovery.scheme() {
            return Err(bad(format!("jwks_uri {url} is not https")));
        }
        *self.discovered.lock().expect("not poisoned") = Some(url.clone());
        Ok(url)
    }

    /// GETs a URL, refusing bodies over the size bound and answers slower than the timeout
    /// (which covers a body trickled byte by byte, and one that never ends).
    async fn get(&self, url: &Url) -> Result<(Vec<u8>, HeaderMap), FetchError> {
        let timeout = || FetchError::Timeout {
            url: url.clone(),
            timeout: self.timeout,
        };
        let request = async {
            // The client's own timeout is the same as ours and usually fires first: report it as
            // the timeout it is, not as an HTTP error (the metric label and the log say which).
            let http = |source: reqwest::Error| {
                if source.is_timeout() {
                    timeout()
                } else {
                    FetchError::Http {
                        url: url.clone(),
                        source,
                    }
                }
            };
            let mut response = self
                .client
                .get(url.clone())
                .header(ACCEPT, "application/json")
                .send()
                .await
                .map_err(http)?;
            let status = response.status();
            if !status.is_success() {
                return Err(FetchError::Status {
                    url: url.clone(),
                    status: status.as_u16(),
                });
            }
            let too_large = || FetchError::TooLarge {
                url: url.clone(),
                limit: self.max_bytes,
            };
            if response
                .content_length()
                .is_some_and(|len| len > self.max_bytes as u64)
            {
                return Err(too_large());
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(http)? {
                if body.len() + chunk.len() > self.max_bytes {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok((body, response.headers().clone()))
        };
        tokio::time::timeout(self.timeout, request)
            .await
            .unwrap_or_else(|_| Err(timeout()))
    }
}

/// `max-age` from a `Cache-Control` header (`no-store` and `no-cache` count as 0).
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(CACHE_CONTROL)?.to_str().ok()?;
    value.split(',').map(str::trim).find_map(|directive| {
        if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("no-cache")
        {
            return Some(Duration::ZERO);
        }
        let (name, seconds) = directive.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| {
                seconds
                    .trim()
                    .trim_matches('"')
                    .parse()
                    .ok()
                    .map(Duration::from_secs)
            })
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reads_max_age_from_cache_control() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(CACHE_CONTROL, HeaderValue::from_static(v));
            max_age(&h)
        };
        assert_eq!(
            with("public, max-age=15, stale-while-revalidate=15"),
            Some(Duration::from_secs(15))
        );
        assert_eq!(with("MAX-AGE = \"600\""), Some(Duration::from_secs(600)));
        assert_eq!(with("no-store"), Some(Duration::ZERO));
        assert_eq!(with("public"), None);
        assert_eq!(with("max-age=soon"), None);
        assert_eq!(max_age(&HeaderMap::new()), None);
    }
}
