//! The embedded development issuer: an RSA-2048 key (generated, or kept in a PEM file), its JWKS
//! and OIDC discovery document on the gateway's own listener, and the tokens `authorizer token`
//! mints for it.
//!
//! The `kid` is derived from the key itself (its RFC 7638 thumbprint), so `serve --key FILE` and
//! `token --key FILE` agree on it without being told.

use super::LocalError;
use crate::algorithm::Algorithm;
use crate::issuer::{SigningKey, jwks};
use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use jsonwebtoken::jwk::ThumbprintHash;
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The audience of the embedded issuer when `AUDIENCE` is not set.
pub const DEFAULT_AUDIENCE: &str = "https://pets.example.com";
/// The issuer `authorizer token` puts in tokens by default: `serve`'s on its default port.
pub const DEFAULT_ISSUER: &str = "http://127.0.0.1:3000/";
/// The JWKS path on the gateway's listener.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// The OIDC discovery path on the gateway's listener.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// Where the signing key came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    /// Generated for this run only.
    Generated,
    /// Generated and written to the `--key` file, which did not exist.
    Written,
    /// Read from the `--key` file.
    Loaded,
}

/// Reads an RSA private key (PKCS#8 or PKCS#1 PEM), with its thumbprint `kid` unless one is given.
///
/// # Errors
/// [`LocalError::KeyFile`] when the file cannot be read, [`LocalError::Key`] when it is not an RSA
/// private key.
pub fn load_key(path: &Path, kid: Option<&str>) -> Result<SigningKey, LocalError> {
    let pem = std::fs::read(path).map_err(|source| LocalError::KeyFile {
        path: path.to_owned(),
        source,
    })?;
    key_from_pem(&pem, kid).map_err(|source| LocalError::Key {
        path: path.to_owned(),
        source,
    })
}

/// The `--key` key if the file exists; otherwise a new key, written to it (mode 0600) if given.
///
/// # Errors
/// As [`load_key`], and [`LocalError::KeyFile`] when the new key cannot be written.
pub fn load_or_generate(path: Option<&Path>) -> Result<(SigningKey, KeyOrigin), LocalError> {
    if let Some(path) = path
        && path.exists()
    {
        return Ok((load_key(path, None)?, KeyOrigin::Loaded));
    }
    let generated = SigningKey::generate(Algorithm::RS256, "dev")
        .and_then(|k| key_from_pem(k.private_key_pem().as_bytes(), None))
        .map_err(LocalError::Generate)?;
    let Some(path) = path else {
        return Ok((generated, KeyOrigin::Generated));
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut file| file.write_all(generated.private_key_pem().as_bytes()))
        .map_err(|source| LocalError::KeyFile {
            path: path.to_owned(),
            source,
        })?;
    Ok((generated, KeyOrigin::Written))
}

fn key_from_pem(pem: &[u8], kid: Option<&str>) -> Result<SigningKey, crate::issuer::IssuerError> {
    let key = SigningKey::from_pem(pem, Algorithm::RS256, kid.unwrap_or("dev"))?;
    if kid.is_some() {
        return Ok(key);
    }
    // The thumbprint of an RSA JWK always computes; fall back to a fixed kid rather than fail.
    let kid = match key.jwk().thumbprint(ThumbprintHash::SHA256) {
        Ok(thumbprint) => format!("dev-{}", &thumbprint[..thumbprint.len().min(12)]),
        Err(_) => "dev".to_owned(),
    };
    SigningKey::from_pem(pem, Algorithm::RS256, kid)
}

/// What a minted token says.
#[derive(Clone, Debug)]
pub struct TokenSpec {
    /// `iss`.
    pub issuer: String,
    /// `aud`: a string for one value, an array for several.
    pub audiences: Vec<String>,
    /// `sub`.
    pub subject: String,
    /// `scope`, left out when empty.
    pub scope: String,
    /// Seconds from now to `exp` (negative for an expired token).
    pub ttl_seconds: i64,
    /// More claims (`--claim groups='["admins"]'`), set after the others (so they may replace them).
    pub extra: Vec<(String, Value)>,
}

/// Parses `--claim NAME=VALUE`: the value as JSON when it is JSON (`["admins"]`, `42`, `true`),
/// else as a string.
///
/// # Errors
/// A message when there is no `=` or no name.
pub fn parse_claim(arg: &str) -> Result<(String, Value), String> {
    let (name, value) = arg
        .split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| format!("{arg:?}: write NAME=VALUE, as in groups='[\"admins\"]'"))?;
    let value = serde_json::from_str(value).unwrap_or_else(|_| json!(value));
    Ok((name.to_owned(), value))
}

/// Mints one token. Each carries a random `jti`, so tokens minted in the same second still differ
/// (distinct cache keys for load tests).
///
/// # Errors
/// [`LocalError::Sign`] when signing fails.
pub fn mint(key: &SigningKey, spec: &TokenSpec) -> Result<String, LocalError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let aud = match spec.audiences.as_slice() {
        [one] => json!(one),
        many => json!(many),
    };
    let mut jti = [0u8; 12];
    aws_lc_rs::rand::fill(&mut jti).map_err(|_| LocalError::Random)?;
    let mut claims = json!({
        "iss": spec.issuer,
        "sub": spec.subject,
        "aud": aud,
        "iat": now,
        "exp": now.saturating_add(spec.ttl_seconds),
        "jti": jti.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    });
    if !spec.scope.trim().is_empty()
        && let Value::Object(map) = &mut claims
    {
        map.insert("scope".into(), json!(spec.scope.trim()));
    }
    if let Value::Object(map) = &mut claims {
        for (name, value) in &spec.extra {
            map.insert(name.clone(), value.clone());
        }
    }
    key.sign(&claims).map_err(LocalError::Sign)
}

/// The embedded issuer's documents, served on the gateway's listener.
pub(crate) struct Documents {
    jwks: String,
    discovery: String,
}

impl Documents {
    /// The documents of the issuer signing with `key`; `endpoints` adds members to its metadata
    /// (the OAuth endpoints of `serve --introspect`).
    pub(crate) fn new(key: &SigningKey, issuer: &str, endpoints: Option<Value>) -> Self {
        let base = issuer.trim_end_matches('/');
        let mut discovery = json!({
            "issuer": issuer,
            "jwks_uri": format!("{base}{JWKS_PATH}"),
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
        });
        if let (Value::Object(discovery), Some(Value::Object(endpoints))) =
            (&mut discovery, endpoints)
        {
            discovery.extend(endpoints);
        }
        Documents {
            jwks: jwks([key]),
            discovery: discovery.to_string(),
        }
    }
}

pub(crate) fn routes(documents: Arc<Documents>) -> Router {
    let jwks_docs = documents.clone();
    Router::new()
        .route(
            JWKS_PATH,
            get(move || async move { json_document(jwks_docs.jwks.clone()) }),
        )
        .route(
            DISCOVERY_PATH,
            get(move || async move { json_document(documents.discovery.clone()) }),
        )
}

fn json_document(body: String) -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "public, max-age=600"),
        ],
        body,
    )
}
