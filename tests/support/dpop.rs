//! DPoP proofs as a client makes them (RFC 9449 §4.2), written here with aws-lc-rs directly and
//! independently of the authorizer's checker: an ES256 key, its public JWK and RFC 7638
//! thumbprint, and proofs with any header or claims.

use super::b64;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

/// A client's ES256 proof key.
pub struct ProofKey {
    pair: EcdsaKeyPair,
    x: String,
    y: String,
}

impl ProofKey {
    /// A fresh P-256 key.
    pub fn generate() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        // SEC 1 uncompressed: 0x04, x, y.
        let point = pair.public_key().as_ref().to_vec();
        ProofKey {
            x: b64(&point[1..33]),
            y: b64(&point[33..65]),
            pair,
        }
    }

    /// The public JWK.
    pub fn jwk(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": self.x, "y": self.y})
    }

    /// The RFC 7638 thumbprint, the token's `cnf.jkt`: the required members in lexicographic
    /// order, no whitespace, SHA-256, base64url.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            self.x, self.y
        );
        b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()).as_ref())
    }

    /// Signs `header` and `claims` as a compact JWS with this key.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let signature = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", b64(signature.as_ref()))
    }

    /// The header of a proof of this key.
    pub fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()})
    }

    /// A proof for `method url`, sent with `token`, made at `iat`.
    pub fn proof(&self, method: &str, url: &str, token: &str, iat: u64) -> String {
        self.sign(&self.header(), &claims(method, url, token, iat))
    }
}

/// The claims of a proof for `method url` sent with `token`, made at `iat`, with a fresh `jti`.
pub fn claims(method: &str, url: &str, token: &str, iat: u64) -> Value {
    json!({
        "jti": format!("{:032x}", rand::random::<u128>()),
        "htm": method,
        "htu": url,
        "iat": iat,
        "ath": ath(token),
    })
}

/// `ath`: the base64url SHA-256 of the access token.
pub fn ath(token: &str) -> String {
    b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref())
}
