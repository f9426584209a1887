//! How keys are fetched: the time and size limits of every JWKS and discovery request, the TLS
//! roots, and where plain http is allowed.

use super::sources::{Vars, parse_bool, parse_bounded};
use reqwest::Url;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The settings of the HTTP client that fetches keys.
#[derive(Clone, Debug)]
pub struct Transport {
    /// `JWKS_TIMEOUT_MS`: the whole JWKS (or discovery) request, connect to last byte.
    pub timeout: Duration,
    /// `JWKS_MAX_BYTES`: larger JWKS bodies are refused.
    pub max_bytes: usize,
    /// `JWKS_ALLOW_HTTP`: allow `http://` JWKS URIs on non-loopback hosts (never do this in production).
    pub allow_http: bool,
    /// `JWKS_CA_FILE`: extra PEM root certificates to trust for the JWKS endpoint.
    pub ca_file: Option<PathBuf>,
}

impl Transport {
    /// Reads `JWKS_TIMEOUT_MS`, `JWKS_MAX_BYTES`, `JWKS_ALLOW_HTTP` and `JWKS_CA_FILE`.
    pub(super) fn from_vars(vars: &mut Vars<'_>) -> Self {
        let allow_http = vars.parse("JWKS_ALLOW_HTTP", false, parse_bool);
        let timeout_ms = vars.parse("JWKS_TIMEOUT_MS", 3000, |v| parse_bounded(v, 50, 60_000));
        let max_bytes = vars.parse("JWKS_MAX_BYTES", 1 << 20, |v| {
            parse_bounded(v, 1024, 64 << 20)
        });
        let ca_file = vars.get("JWKS_CA_FILE").map(PathBuf::from);
        if let Some(path) = &ca_file
            && !path.is_file()
        {
            vars.problem(
                "JWKS_CA_FILE",
                format!("{} is not a readable file", path.display()),
            );
        }
        Transport {
            timeout: Duration::from_millis(timeout_ms),
            max_bytes,
            allow_http,
            ca_file,
        }
    }
}

/// `https` is required for keys, except on loopback (local issuers, tests) or when explicitly allowed.
pub(super) fn check_transport(url: &Url, allow_http: bool) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "{url} is plain http: keys must come over https (set JWKS_ALLOW_HTTP=true only for a trusted network)"
        )),
        other => Err(format!("{url} has scheme {other:?}; use https")),
    }
}

/// Whether a URL's host is this machine.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}
