//! A development issuer: a signing key, its public JWK, and tokens minted with it. It backs
//! `authorizer serve`'s embedded issuer and `authorizer token`, and the tests' issuers.
//! Nothing here is on the verification path.

use crate::algorithm::Algorithm;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{EncodingKey, Header};
use serde::Serialize;

/// Why a signing key could not be made, loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    /// Key generation failed in the crypto library.
    #[error("could not generate a {0} key")]
    Generate(Algorithm),
    /// The PEM file is not a private key of the expected type.
    #[error("not a PKCS#8 PEM private key for {alg}: {why}")]
    BadKey {
        /// The algorithm the key was loaded for.
        alg: Algorithm,
        /// What was wrong.
        why: String,
    },
    /// Signing failed.
    #[error("could not sign the token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// A private signing key with its `kid`.
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Jwk,
    pem: String,
}

impl SigningKey {
    /// Generates a key for `alg`: RSA-2048 for the RS and PS algorithms, P-256 or P-384 for ES, Ed25519 for EdDSA.
    ///
    /// # Errors
    /// [`IssuerError::Generate`] if the crypto library fails.
    pub fn generate(alg: Algorithm, kid: impl Into<String>) -> Result<Self, IssuerError> {
        let failed = |_| IssuerError::Generate(alg);
        let pkcs8: Vec<u8> = match alg {
            Algorithm::ES256 => EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            Algorithm::ES384 => EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            Algorithm::EdDSA => Ed25519KeyPair::generate()
                .and_then(|k| k.to_pkcs8v1())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            _ => aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .and_then(|k| AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&k))
                .map_err(failed)?
                .as_ref()
                .to_vec(),
        };
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8));
        Self::from_pem(pem.as_bytes(), alg, kid)
    }

    /// Loads a PKCS#8 PEM private key (or a PKCS#1 `RSA PRIVATE KEY`) for `alg`.
    ///
    /// # Errors
    /// [`IssuerError::BadKey`] when the PEM is not a private key of the right type.
    pub fn from_pem(
        pem: &[u8],
        alg: Algorithm,
        kid: impl Into<String>,
    ) -> Result<Self, IssuerError> {
        let bad = |e: jsonwebtoken::errors::Error| IssuerError::BadKey {
            alg,
            why: e.to_string(),
        };
        let encoding = match alg.key_kind() {
            crate::algorithm::KeyKind::Rsa => EncodingKey::from_rsa_pem(pem),
            crate::algorithm::KeyKind::P256 | crate::algorithm::KeyKind::P384 => {
                EncodingKey::from_ec_pem(pem)
            }
            crate::algorithm::KeyKind::Ed25519 => EncodingKey::from_ed_pem(pem),
        }
        .map_err(bad)?;
        let mut jwk = Jwk::from_encoding_key(&encoding, jwt_alg(alg)).map_err(bad)?;
        let kid = kid.into();
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(SigningKey {
            kid,
            alg,
            encoding,
            jwk,
            pem: String::from_utf8_lossy(pem).into_owned(),
        })
    }

    /// The key id put in tokens' headers and in the JWK.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The signing algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public JWK (with `kid`, `use: sig` and `alg`).
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// The private key as PEM, to save with `--key` and reuse.
    pub fn private_key_pem(&self) -> &str {
        &self.pem
    }

    /// Signs `claims` with this key, `kid` and `alg` in the header.
    ///
    /// # Errors
    /// [`IssuerError::Sign`] if serialization or signing fails.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, IssuerError> {
        let mut header = Header::new(jwt_alg(self.alg));
        header.kid = Some(self.kid.clone());
        self.sign_with_header(&header, claims)
    }

    /// Signs `claims` under a header of the caller's making (tests use it for odd headers).
    ///
    /// # Errors
    /// [`IssuerError::Sign`] if serialization or signing fails.
    pub fn sign_with_header(
        &self,
        header: &Header,
        claims: &impl Serialize,
    ) -> Result<String, IssuerError> {
        Ok(jsonwebtoken::encode(header, claims, &self.encoding)?)
    }
}

/// The JWKS document publishing these keys' public halves.
pub fn jwks<'a>(keys: impl IntoIterator<Item = &'a SigningKey>) -> String {
    let set = JwkSet {
        keys: keys.into_iter().map(|k| k.jwk.clone()).collect(),
    };
    serde_json::to_string(&set).expect("a JWK set serializes")
}

fn jwt_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
    alg.as_str()
        .parse()
        .expect("every supported algorithm is a jsonwebtoken algorithm")
}
