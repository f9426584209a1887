//! What the embedded issuer remembers about the tokens it issued, so that it can answer
//! introspection (RFC 7662) and revocation (RFC 7009): the opaque tokens it minted, and the JWTs
//! revoked before their `exp`.
//!
//! An opaque token is 32 random bytes, base64url (43 characters, no `.`): nothing can be read
//! from it, so the issuer keeps what it said (`sub`, `scope`, `aud`, `exp`, `client_id`, ...)
//! under the token's SHA-256, as production servers do, never the token itself. A JWT carries its
//! claims, so only the `jti`s of revoked ones are kept, until their `exp`. Both tables are
//! bounded: expired entries are dropped when one fills up, and a table still full refuses.

use super::dev_issuer::TokenSpec;
use crate::introspection::looks_like_jwt;
use crate::issuer::SigningKey;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

/// The most opaque tokens remembered at once (a few hundred bytes each).
pub const MAX_OPAQUE_TOKENS: usize = 100_000;
/// The most revoked JWTs remembered at once.
pub const MAX_REVOKED_JWTS: usize = 100_000;

/// A table is full of unexpired entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

/// Why a token could not be minted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MintError {
    /// [`MAX_OPAQUE_TOKENS`] unexpired tokens are remembered already.
    Full,
    /// The system's random generator failed.
    Random,
}

/// One opaque token, as minted.
struct Minted {
    subject: String,
    scope: String,
    audiences: Vec<String>,
    client_id: String,
    issued_at: i64,
    expires_at: i64,
    jti: String,
    extra: Vec<(String, Value)>,
}

/// The members of an introspection answer the issuer manages itself: a `--claim` cannot replace
/// them (an `active` from a claim would contradict the answer).
const MANAGED: [&str; 6] = ["active", "iss", "exp", "iat", "client_id", "token_type"];

/// The embedded issuer's memory of its tokens.
pub(crate) struct Tokens {
    issuer: String,
    verifier: DecodingKey,
    validation: Validation,
    opaque: Mutex<HashMap<[u8; 32], Minted>>,
    /// Revoked JWTs: `jti` → `exp`.
    revoked: Mutex<HashMap<String, i64>>,
}

impl Tokens {
    /// The memory of the issuer `issuer` signing with `key`.
    pub(crate) fn new(key: &SigningKey, issuer: &str) -> Result<Self, jsonwebtoken::errors::Error> {
        // The embedded issuer's keys are RSA (`dev_issuer::load_or_generate`).
        let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
        // The signature only: times are checked below against the caller's clock, and `aud` is
        // the resource server's business (RFC 7662 §2.2 returns it for the caller to check).
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        Ok(Tokens {
            issuer: issuer.to_owned(),
            verifier: DecodingKey::from_jwk(key.jwk())?,
            validation,
            opaque: Mutex::new(HashMap::new()),
            revoked: Mutex::new(HashMap::new()),
        })
    }

    /// Mints an opaque token for `client_id` as `spec` says (its `issuer` is ours, whatever the
    /// spec's), at `now` (seconds since the epoch).
    pub(crate) fn mint(
        &self,
        spec: &TokenSpec,
        client_id: &str,
        now: i64,
    ) -> Result<String, MintError> {
        // 256 random bits: unguessable (RFC 6749 §10.10 asks that the probability of guessing a
        // token be negligible), and with no `.` never taken for a JWT.
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| MintError::Random)?;
        let token = base64_url(&bytes);
        let mut jti = [0u8; 12];
        aws_lc_rs::rand::fill(&mut jti).map_err(|_| MintError::Random)?;
        let minted = Minted {
            subject: spec.subject.clone(),
            scope: spec.scope.trim().to_owned(),
            audiences: spec.audiences.clone(),
            client_id: client_id.to_owned(),
            issued_at: now,
            expires_at: now.saturating_add(spec.ttl_seconds),
            jti: base64_url(&jti),
            extra: spec.extra.clone(),
        };
        let mut opaque = self.opaque.lock().expect("not poisoned");
        if opaque.len() >= MAX_OPAQUE_TOKENS {
            opaque.retain(|_, m| m.expires_at > now);
            if opaque.len() >= MAX_OPAQUE_TOKENS {
                return Err(MintError::Full);
            }
        }
        opaque.insert(digest(&token), minted);
        Ok(token)
    }

    /// The introspection answer for `token` at `now` (RFC 7662 §2.2): its claims with
    /// `"active": true`, or `None` when it is not active: unknown, expired, not yet valid,
    /// revoked, or a JWT whose signature is not ours.
    pub(crate) fn introspect(&self, token: &str, now: i64) -> Option<Value> {
        if looks_like_jwt(token) {
            return self.introspect_jwt(token, now);
        }
        let opaque = self.opaque.lock().expect("not poisoned");
        let minted = opaque.get(&digest(token)).filter(|m| m.expires_at > now)?;
        let mut answer = Map::new();
        answer.insert("iss".into(), json!(self.issuer));
        answer.insert("sub".into(), json!(minted.subject));
        answer.insert(
            "aud".into(),
            match minted.audiences.as_slice() {
                [one] => json!(one),
                many => json!(many),
            },
        );
        if !minted.scope.is_empty() {
            answer.insert("scope".into(), json!(minted.scope));
        }
        answer.insert("jti".into(), json!(minted.jti));
        for (name, value) in &minted.extra {
            if !MANAGED.contains(&name.as_str()) {
                answer.insert(name.clone(), value.clone());
            }
        }
        answer.insert("client_id".into(), json!(minted.client_id));
        answer.insert("token_type".into(), json!("Bearer"));
        answer.insert("iat".into(), json!(minted.issued_at));
        answer.insert("exp".into(), json!(minted.expires_at));
        answer.insert("active".into(), json!(true));
        Some(Value::Object(answer))
    }

    /// A JWT is active when its signature is ours, it is within `nbf`..`exp`, and its `jti` was
    /// not revoked. Its answer is its own claims.
    fn introspect_jwt(&self, token: &str, now: i64) -> Option<Value> {
        let mut claims = self.verified(token)?;
        let time = |name: &str| claims.get(name).and_then(Value::as_i64);
        let exp = time("exp")?;
        if exp <= now || time("nbf").is_some_and(|nbf| nbf > now) {
            return None;
        }
        let jti = claims.get("jti").and_then(Value::as_str);
        if jti.is_some_and(|jti| self.revoked.lock().expect("not poisoned").contains_key(jti)) {
            return None;
        }
        claims.insert("token_type".into(), json!("Bearer"));
        claims.insert("active".into(), json!(true));
        Some(Value::Object(claims))
    }

    /// Revokes `token` (RFC 7009 §2.1: "the token cannot be used again after the revocation"):
    /// an opaque token is forgotten; a JWT's `jti` is remembered until its `exp`. Unknown,
    /// expired and foreign tokens need nothing (RFC 7009 §2.2 answers 200 for them too).
    ///
    /// # Errors
    /// [`Full`] when [`MAX_REVOKED_JWTS`] unexpired JWTs are revoked already (RFC 7009 §2.2.1:
    /// a 503 tells the client the token may still be valid).
    pub(crate) fn revoke(&self, token: &str, now: i64) -> Result<(), Full> {
        if !looks_like_jwt(token) {
            self.opaque
                .lock()
                .expect("not poisoned")
                .remove(&digest(token));
            return Ok(());
        }
        let Some(claims) = self.verified(token) else {
            return Ok(());
        };
        let (Some(jti), Some(exp)) = (
            claims.get("jti").and_then(Value::as_str),
            claims.get("exp").and_then(Value::as_i64),
        ) else {
            // Without a `jti` a JWT cannot be told apart from its siblings, and without an
            // `exp` it would have to be remembered forever; the authorizer refuses the latter.
            return Ok(());
        };
        if exp <= now {
            return Ok(());
        }
        let mut revoked = self.revoked.lock().expect("not poisoned");
        if revoked.len() >= MAX_REVOKED_JWTS && !revoked.contains_key(jti) {
            revoked.retain(|_, exp| *exp > now);
            if revoked.len() >= MAX_REVOKED_JWTS {
                return Err(Full);
            }
        }
        revoked.insert(jti.to_owned(), exp);
        Ok(())
    }

    /// The claims of a JWT signed with our key.
    fn verified(&self, token: &str) -> Option<Map<String, Value>> {
        jsonwebtoken::decode::<Map<String, Value>>(token, &self.verifier, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

fn digest(token: &str) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::Algorithm;

    const ISSUER: &str = "http://127.0.0.1:3000/";

    fn spec(ttl_seconds: i64) -> TokenSpec {
        TokenSpec {
            issuer: "ignored".into(),
            audiences: vec!["https://pets.example.com".into()],
            subject: "ann".into(),
            scope: "read:pets ".into(),
            ttl_seconds,
            extra: vec![
                ("groups".into(), json!(["admins"])),
                ("active".into(), json!(false)),
                ("exp".into(), json!(1)),
            ],
        }
    }

    fn tokens() -> (SigningKey, Tokens) {
        let key = SigningKey::generate(Algorithm::RS256, "dev").unwrap();
        let tokens = Tokens::new(&key, ISSUER).unwrap();
        (key, tokens)
    }

    #[test]
    fn an_opaque_token_is_random_not_a_jwt_and_answered_until_its_exp() {
        let (_, tokens) = tokens();
        let now = 1_700_000_000;
        let token = tokens.mint(&spec(60), "dev-client", now).unwrap();
        assert_eq!(token.len(), 43);
        assert!(!looks_like_jwt(&token) && !token.contains('.'));
        assert_ne!(token, tokens.mint(&spec(60), "dev-client", now).unwrap());
        let answer = tokens.introspect(&token, now + 59).unwrap();
        assert_eq!(answer["active"], true);
        assert_eq!(answer["iss"], ISSUER);
        assert_eq!(answer["sub"], "ann");
        assert_eq!(answer["scope"], "read:pets");
        assert_eq!(answer["aud"], "https://pets.example.com");
        assert_eq!(answer["client_id"], "dev-client");
        assert_eq!(answer["exp"], now + 60);
        assert_eq!(answer["groups"], json!(["admins"]));
        assert_eq!(tokens.introspect(&token, now + 60), None, "expired");
        assert_eq!(tokens.introspect("unknown", now), None);
        // Nothing of the token is kept: the table holds digests.
        let opaque = tokens.opaque.lock().unwrap();
        assert!(opaque.contains_key(&digest(&token)));
    }

    #[test]
    fn a_revoked_opaque_token_is_inactive_and_unknown_tokens_revoke_quietly() {
        let (_, tokens) = tokens();
        let now = 1_700_000_000;
        let token = tokens.mint(&spec(60), "dev-client", now).unwrap();
        assert_eq!(tokens.revoke(&token, now), Ok(()));
        assert_eq!(tokens.introspect(&token, now), None);
        assert_eq!(tokens.revoke(&token, now), Ok(()), "again");
        assert_eq!(tokens.revoke("never-minted", now), Ok(()));
    }

    #[test]
    fn our_jwts_are_active_until_revoked_or_expired_and_others_never() {
        let (key, tokens) = tokens();
        let now = 1_700_000_000;
        let jwt = |exp: i64, jti: &str| {
            key.sign(&json!({"iss": ISSUER, "sub": "ann", "exp": exp, "jti": jti}))
                .unwrap()
        };
        let token = jwt(now + 60, "a");
        let sibling = jwt(now + 60, "b");
        let answer = tokens.introspect(&token, now).unwrap();
        assert_eq!(
            (answer["active"].clone(), answer["sub"].clone()),
            (json!(true), json!("ann"))
        );
        assert_eq!(tokens.introspect(&jwt(now, "c"), now), None, "expired");
        let other = SigningKey::generate(Algorithm::RS256, "dev").unwrap();
        let foreign = other
            .sign(&json!({"sub": "ann", "exp": now + 60, "jti": "a"}))
            .unwrap();
        assert_eq!(tokens.introspect(&foreign, now), None, "not our signature");
        assert_eq!(tokens.revoke(&foreign, now), Ok(()));
        assert!(
            tokens.introspect(&token, now).is_some(),
            "a foreign jti revokes nothing"
        );
        tokens.revoke(&token, now).unwrap();
        assert_eq!(tokens.introspect(&token, now), None);
        assert!(tokens.introspect(&sibling, now).is_some());
    }

    #[test]
    fn a_full_table_drops_expired_entries_then_refuses() {
        let (key, tokens) = tokens();
        let now = 1_700_000_000;
        {
            let mut revoked = tokens.revoked.lock().unwrap();
            for i in 0..MAX_REVOKED_JWTS {
                revoked.insert(i.to_string(), if i == 0 { now } else { now + 60 });
            }
        }
        let jwt = |jti: &str| {
            key.sign(&json!({"sub": "ann", "exp": now + 60, "jti": jti}))
                .unwrap()
        };
        assert_eq!(
            tokens.revoke(&jwt("x"), now),
            Ok(()),
            "the expired one made room"
        );
        assert_eq!(tokens.revoke(&jwt("y"), now), Err(Full));
        assert_eq!(tokens.revoke(&jwt("x"), now), Ok(()), "already revoked");
    }
}
