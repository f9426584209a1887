//! The issuer's keys, parsed once per refresh into ready-to-verify aws-lc-rs keys, and the
//! synchronous lookup the hot path does on them.

use crate::algorithm::{Algorithm, KeyKind};
use crate::report::Reject;
use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::path::Path;
use std::time::Instant;

/// Smallest RSA modulus accepted: 2048 bits (NIST SP 800-131A; RFC 7518 §3.3).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted: 8192 bits (beyond it a verify costs milliseconds).
pub const MAX_RSA_BITS: usize = 8192;

/// One usable signing key of the issuer.
pub struct VerifyingKey {
    kid: Box<str>,
    /// SHA-256 of the key type, public key bytes and the algorithms it verifies: tells a key
    /// apart from another one that reuses its `kid`, or the same key republished for another
    /// `alg`.
    fingerprint: Fingerprint,
    /// One pre-parsed key per algorithm it may verify: the JWK's own `alg` if it names one,
    /// otherwise every allowed algorithm of its key type.
    verifiers: Vec<(Algorithm, ParsedPublicKey)>,
}

/// A key's identity: SHA-256 over its type, public key material and the algorithms it verifies
/// (what the verified-token cache may vouch for).
pub type Fingerprint = [u8; 32];

impl VerifyingKey {
    /// The key's fingerprint.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithms this key verifies.
    pub fn algorithms(&self) -> impl Iterator<Item = Algorithm> + '_ {
        self.verifiers.iter().map(|(alg, _)| *alg)
    }

    /// Verifies `signature` over `message` with `alg`.
    ///
    /// # Errors
    /// [`Reject::KeyAlgMismatch`] when this key is not for `alg`; [`Reject::BadSignature`] when the
    /// signature does not verify.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> Result<(), Reject> {
        let (_, key) = self
            .verifiers
            .iter()
            .find(|(a, _)| *a == alg)
            .ok_or(Reject::KeyAlgMismatch)?;
        key.verify_sig(message, signature)
            .map_err(|_| Reject::BadSignature)
    }
}

/// A JWK we did not use, and why; logged once per refresh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedKey {
    /// The key's `kid`, if it had one.
    pub kid: Option<String>,
    /// Why it was not used.
    pub why: &'static str,
}

/// Why a JWKS document was refused as a whole (the keys we have are kept).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// Not a JSON object with a `keys` array.
    #[error("the JWKS is not a JSON object with a \"keys\" array")]
    NotAJwks,
    /// No key in it can verify any allowed algorithm.
    #[error("the JWKS has no usable signing key (skipped: {0})")]
    NoUsableKey(String),
}

/// A parsed key set, swapped in whole on every refresh.
pub struct KeySet {
    keys: Vec<VerifyingKey>,
    fetched_at: Option<Instant>,
}

impl KeySet {
    /// The set we start with before the first fetch: it finds nothing.
    pub fn empty() -> Self {
        KeySet {
            keys: Vec::new(),
            fetched_at: None,
        }
    }

    /// Parses a JWKS document, keeping each key that can verify one of `allowed`.
    /// Keys that cannot (encryption keys, short RSA moduli, unknown types, no `kid`, an `alg`
    /// outside the allow-list, bad base64) are skipped and listed.
    ///
    /// # Errors
    /// [`JwksError`] when the document is not a JWKS or leaves no usable key.
    pub fn from_jwks(
        json: &[u8],
        allowed: &[Algorithm],
    ) -> Result<(KeySet, Vec<SkippedKey>), JwksError> {
        #[derive(Deserialize)]
        struct Document<'a> {
            #[serde(borrow)]
            keys: Vec<&'a RawValue>,
        }
        let document: Document<'_> =
            serde_json::from_slice(json).map_err(|_| JwksError::NotAJwks)?;
        let mut keys = Vec::with_capacity(document.keys.len());
        let mut skipped = Vec::new();
        for raw in document.keys {
            match serde_json::from_str::<Jwk>(raw.get()) {
                Ok(jwk) => match VerifyingKey::from_jwk(&jwk, allowed) {
                    Ok(key) => keys.push(key),
                    Err(why) => skipped.push(SkippedKey {
                        kid: jwk.common.key_id.clone(),
                        why,
                    }),
                },
                Err(_) => skipped.push(SkippedKey {
                    kid: None,
                    why: "not a JWK we can read",
                }),
            }
        }
        if keys.is_empty() {
            let list = skipped
                .iter()
                .map(|s| format!("{}: {}", s.kid.as_deref().unwrap_or("(no kid)"), s.why))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(JwksError::NoUsableKey(if list.is_empty() {
                "none".into()
            } else {
                list
            }));
        }
        Ok((
            KeySet {
                keys,
                fetched_at: Some(Instant::now()),
            },
            skipped,
        ))
    }

    /// Reads and parses a JWKS file (`JWKS_FILE`), as [`KeySet::from_jwks`].
    ///
    /// # Errors
    /// A message saying what is wrong with the file (unreadable, not a JWKS, no usable key).
    pub fn from_jwks_file(
        path: &Path,
        allowed: &[Algorithm],
    ) -> Result<(KeySet, Vec<SkippedKey>), String> {
        let json = std::fs::read(path).map_err(|e| format!("cannot be read: {e}"))?;
        KeySet::from_jwks(&json, allowed).map_err(|e| e.to_string())
    }

    /// The key with this `kid`. With duplicate kids, the first usable one in the document wins.
    #[inline]
    pub fn find(&self, kid: &str) -> Option<&VerifyingKey> {
        // A JWKS holds a handful of keys: a linear scan beats hashing.
        self.keys.iter().find(|k| &*k.kid == kid)
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key (nothing fetched yet).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// When this set was fetched; `None` for the initial empty set.
    pub fn fetched_at(&self) -> Option<Instant> {
        self.fetched_at
    }

    /// The key ids, for logs and health reports.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid())
    }
}

impl VerifyingKey {
    fn from_jwk(jwk: &Jwk, allowed: &[Algorithm]) -> Result<Self, &'static str> {
        let kid = jwk
            .common
            .key_id
            .as_deref()
            .filter(|k| !k.is_empty())
            .ok_or("no kid")?;
        match &jwk.common.public_key_use {
            None | Some(PublicKeyUse::Signature) => {}
            Some(_) => return Err("`use` is not `sig`"),
        }
        if let Some(ops) = &jwk.common.key_operations
            && !ops.contains(&KeyOperations::Verify)
        {
            return Err("`key_ops` lacks `verify`");
        }
        let jwk_alg = match jwk.common.key_algorithm {
            None => None,
            Some(alg) => {
                Some(jose_algorithm(alg).ok_or("`alg` is not a signature algorithm we verify")?)
            }
        };
        let kind = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => KeyKind::Rsa,
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
                KeyKind::P256
            }
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P384 => {
                KeyKind::P384
            }
            AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
                KeyKind::Ed25519
            }
            AlgorithmParameters::OctetKey(_) => return Err("symmetric key"),
            _ => return Err("unsupported key type or curve"),
        };
        let algorithms: Vec<Algorithm> = allowed
            .iter()
            .copied()
            .filter(|a| a.key_kind() == kind && jwk_alg.is_none_or(|j| j == *a))
            .collect();
        if algorithms.is_empty() {
            return Err("no allowed algorithm for this key");
        }
        let mut material = Vec::new();
        let verifiers = match &jwk.algorithm {
            AlgorithmParameters::RSA(rsa) => {
                let n = b64(&rsa.n)?;
                let e = b64(&rsa.e)?;
                let (n, e) = (strip_leading_zeros(&n), strip_leading_zeros(&e));
                // `"n":"AA"` (a zero modulus) strips to nothing: no key at all, not a short one.
                let Some(first) = n.first() else {
                    return Err("RSA modulus is empty or zero");
                };
                let bits = n.len() * 8 - first.leading_zeros() as usize;
                if bits < MIN_RSA_BITS {
                    return Err("RSA modulus under 2048 bits");
                }
                if bits > MAX_RSA_BITS {
                    return Err("RSA modulus over 8192 bits");
                }
                material.extend_from_slice(b"RSA");
                material.extend_from_slice(&(n.len() as u32).to_be_bytes());
                material.extend_from_slice(n);
                material.extend_from_slice(e);
                let components = RsaPublicKeyComponents { n, e };
                algorithms
                    .iter()
                    .map(|alg| {
                        let params = alg
                            .rsa_parameters()
                            .expect("RSA key kind has RSA parameters");
                        components
                            .to_parsed_public_key(params)
                            .map(|key| (*alg, key))
                            .map_err(|_| "invalid RSA key")
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
            AlgorithmParameters::EllipticCurve(ec) => {
                let (x, y) = (b64(&ec.x)?, b64(&ec.y)?);
                let width = if kind == KeyKind::P256 { 32 } else { 48 };
                if x.len() != width || y.len() != width {
                    return Err("EC coordinates of the wrong length");
                }
                let mut point = Vec::with_capacity(1 + 2 * width);
                point.push(0x04); // SEC 1 uncompressed point
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                material.extend_from_slice(b"EC");
                material.extend_from_slice(&point);
                parse_each(&algorithms, &point)?
            }
            AlgorithmParameters::OctetKeyPair(okp) => {
                let x = b64(&okp.x)?;
                material.extend_from_slice(b"OKP");
                material.extend_from_slice(&x);
                parse_each(&algorithms, &x)?
            }
            _ => unreachable!("key kinds were matched above"),
        };
        // What the key accepts is part of its identity: the same material republished under
        // another `alg` (RFC 7517 §4.4) must not vouch for tokens the old `alg` verified.
        for alg in &algorithms {
            material.extend_from_slice(b"\0");
            material.extend_from_slice(alg.as_str().as_bytes());
        }
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &material);
        let fingerprint = digest.as_ref().try_into().expect("SHA-256 is 32 bytes");
        Ok(VerifyingKey {
            kid: kid.into(),
            fingerprint,
            verifiers,
        })
    }
}

fn parse_each(
    algorithms: &[Algorithm],
    bytes: &[u8],
) -> Result<Vec<(Algorithm, ParsedPublicKey)>, &'static str> {
    algorithms
        .iter()
        .map(|alg| {
            ParsedPublicKey::new(alg.verification(), bytes)
                .map(|key| (*alg, key))
                .map_err(|_| "invalid public key")
        })
        .collect()
}

fn b64(value: &str) -> Result<Vec<u8>, &'static str> {
    // Some issuers pad their JWK members; the values are not signed, so be lenient here.
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| "bad base64url in key")
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn jose_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

// The tests sign with the development issuer's keys.
#[cfg(all(test, feature = "mint"))]
mod tests;
