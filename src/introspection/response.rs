//! An introspection endpoint's answer, read strictly: anything that is not a valid RFC 7662
//! response is a failure (and so a refusal), never an active token.

use serde::Deserialize;
use std::sync::Arc;

/// What the endpoint said about a token.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// `"active": true`: the response body, a JSON object of claims with the JWT claim names
    /// (RFC 7662 §2.2), checked on every use exactly as a JWT's claims are.
    Active {
        /// The whole response body.
        claims: Arc<str>,
        /// Its `exp`, when it has one.
        exp: Option<f64>,
    },
    /// `"active": false`: revoked, expired, unknown, or not for us (RFC 7662 §2.2).
    Inactive,
}

/// Why a response is not a valid RFC 7662 answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Not `application/json` (RFC 7662 §2.2).
    ContentType,
    /// Not UTF-8 JSON, or not an object.
    NotJson,
    /// `active` missing, not a boolean, repeated, or another member of the wrong type.
    NotIntrospection,
}

/// The members read here: `active` (REQUIRED, a boolean, RFC 7662 §2.2) and `exp` (bounds the
/// cache: RFC 7662 §4). `deny_unknown_fields` is not set: §2.2 allows any other member. serde's
/// derive refuses a repeated `active` (`duplicate field`), so two readings cannot disagree.
#[derive(Deserialize)]
struct Wire {
    active: bool,
    #[serde(default)]
    exp: Option<f64>,
}

/// Reads a response body with its `Content-Type`.
///
/// # Errors
/// [`Invalid`] when it is not an RFC 7662 introspection response.
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Verdict, Invalid> {
    // RFC 7662 §2.2: "The server responds with a JSON object [RFC7159] in
    // "application/json" format". Parameters (`; charset=utf-8`) are allowed.
    let media_type = content_type
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(Invalid::ContentType);
    }
    let text = std::str::from_utf8(body).map_err(|_| Invalid::NotJson)?;
    if text.trim_start().as_bytes().first() != Some(&b'{') {
        return Err(Invalid::NotJson);
    }
    let wire: Wire = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Invalid::NotIntrospection,
        _ => Invalid::NotJson,
    })?;
    if !wire.active {
        return Ok(Verdict::Inactive);
    }
    Ok(Verdict::Active {
        claims: Arc::from(text.trim()),
        exp: wire.exp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: Option<&str> = Some("application/json; charset=utf-8");

    #[test]
    fn active_must_be_a_boolean_present_once() {
        assert_eq!(parse(JSON, br#"{"active":false}"#), Ok(Verdict::Inactive));
        let active = parse(JSON, br#"{"active":true,"sub":"a","exp":9}"#).unwrap();
        assert!(matches!(active, Verdict::Active { exp: Some(9.0), .. }));
        for bad in [
            r#"{"sub":"a"}"#,
            r#"{"active":"true"}"#,
            r#"{"active":1}"#,
            r#"{"active":null}"#,
            r#"{"active":false,"active":true}"#,
            r#"{"active":true,"exp":"soon"}"#,
        ] {
            assert_eq!(
                parse(JSON, bad.as_bytes()),
                Err(Invalid::NotIntrospection),
                "{bad}"
            );
        }
    }

    #[test]
    fn anything_but_a_json_object_is_refused() {
        for bad in ["", "[]", "true", "{", "<html>", "{\"active\":true} x"] {
            assert_eq!(parse(JSON, bad.as_bytes()), Err(Invalid::NotJson), "{bad}");
        }
        assert_eq!(parse(JSON, b"{\"active\":\xff}"), Err(Invalid::NotJson));
        assert_eq!(
            parse(Some("text/html"), br#"{"active":true}"#),
            Err(Invalid::ContentType)
        );
        assert_eq!(
            parse(None, br#"{"active":true}"#),
            Err(Invalid::ContentType)
        );
    }
}
