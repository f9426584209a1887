//! Sender-constrained tokens: a token whose `cnf` claim names a key (`jkt`, DPoP, RFC 9449) or a
//! client certificate (`x5t#S256`, mutual TLS, RFC 8705) is accepted only with the proof that the
//! caller holds it. Checked once the token's signature and claims are verified, so that nothing
//! here runs for a token that would be refused anyway, and nothing here runs at all for an
//! ordinary bearer token without `cnf` (one branch).

use crate::claims::IssuerRules;
use crate::dpop::{self, Replays};
use crate::events::Possession;
use crate::json::{CowStr, RawJson};
use crate::mtls;
use crate::report::Reject;
use crate::token::Scheme;
use serde::Deserialize;
use std::borrow::Cow;

/// What a token's `cnf` claim binds it to (RFC 7800 §3.1).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Confirmation<'a> {
    /// `jkt`: the base64url SHA-256 JWK thumbprint (RFC 7638) of the DPoP key (RFC 9449 §6.1).
    DpopKey(Cow<'a, str>),
    /// `x5t#S256`: the base64url SHA-256 of the client certificate's DER (RFC 8705 §3.1).
    Certificate(Cow<'a, str>),
}

impl<'a> Confirmation<'a> {
    /// Reads a raw `cnf` claim. Exactly one confirmation method this authorizer checks, and
    /// nothing else: a `cnf` naming a method we cannot check (`jwk`, `kid`, `jwe`, RFC 7800 §3)
    /// must not be taken as no binding at all (issue 17: "a `cnf` the authorizer does not
    /// understand is refused").
    ///
    /// # Errors
    /// [`Reject::UnsupportedBinding`] for anything else.
    pub(crate) fn parse(cnf: RawJson<'a>) -> Result<Self, Reject> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Cnf<'a> {
            #[serde(borrow)]
            jkt: Option<CowStr<'a>>,
            #[serde(rename = "x5t#S256", borrow)]
            x5t_s256: Option<CowStr<'a>>,
        }
        let cnf: Cnf<'a> =
            serde_json::from_str(cnf.get()).map_err(|_| Reject::UnsupportedBinding)?;
        match (cnf.jkt, cnf.x5t_s256) {
            (Some(CowStr(jkt)), None) if !jkt.is_empty() => Ok(Confirmation::DpopKey(jkt)),
            (None, Some(CowStr(x5t))) if !x5t.is_empty() => Ok(Confirmation::Certificate(x5t)),
            _ => Err(Reject::UnsupportedBinding),
        }
    }
}

/// The checks of sender-constrained tokens, and what they keep between requests: the DPoP
/// proofs already seen.
pub(crate) struct SenderChecks {
    replays: Replays,
    max_age: u64,
}

impl SenderChecks {
    /// Checks that remember `replay_cache_size` DPoP proofs, and accept proofs up to
    /// `proof_max_age` old (`DPOP_REPLAY_CACHE_SIZE`, `DPOP_PROOF_MAX_AGE_SECONDS`).
    pub(crate) fn new(replay_cache_size: usize, proof_max_age: std::time::Duration) -> Self {
        SenderChecks {
            replays: Replays::new(replay_cache_size),
            max_age: proof_max_age.as_secs(),
        }
    }

    /// Checks a verified token's binding: `cnf` is the token's raw `cnf` claim, `scheme` the
    /// `Authorization` scheme it came with, `access_token` the token itself, `possession` what
    /// the request presented besides it.
    ///
    /// # Errors
    /// [`Reject::BindingRequired`] for a token without `cnf` when its issuer requires one;
    /// [`Reject::UnsupportedBinding`] for a `cnf` we cannot check, or the `DPoP` scheme with a
    /// token that is not DPoP-bound (RFC 9449 §7.1); [`Reject::MissingProof`] for a bound token
    /// without its proof; the refusals of [`dpop::check`] and [`mtls::check`];
    /// [`Reject::ReplayedProof`] for a DPoP proof this instance has seen.
    pub(crate) fn check(
        &self,
        token: Token<'_>,
        issuer: &IssuerRules,
        possession: &Possession<'_>,
        now: u64,
    ) -> Result<(), Reject> {
        let Some(cnf) = token.cnf else {
            return match token.scheme {
                // RFC 9449 §7.1: the DPoP scheme is for DPoP-bound tokens only.
                Scheme::Dpop => Err(Reject::UnsupportedBinding),
                Scheme::Bearer if issuer.require_binding() => Err(Reject::BindingRequired),
                Scheme::Bearer => Ok(()),
            };
        };
        match (Confirmation::parse(cnf)?, token.scheme) {
            // RFC 9449 §7.1: a DPoP-bound token presented as a bearer token is refused.
            (Confirmation::DpopKey(_), Scheme::Bearer) => Err(Reject::MissingProof),
            (Confirmation::DpopKey(jkt), Scheme::Dpop) => {
                let proof = possession.dpop.as_deref().ok_or(Reject::MissingProof)?;
                // Without the request it was made for, no proof can be checked.
                let request = match (&possession.method, &possession.domain, &possession.path) {
                    (Some(method), Some(domain), Some(path)) => dpop::Request {
                        method,
                        domain,
                        path,
                    },
                    _ => return Err(Reject::MissingProof),
                };
                let expected = dpop::Expected {
                    request,
                    access_token: token.raw,
                    jkt: &jkt,
                    now,
                    max_age: self.max_age,
                    leeway: issuer.leeway_seconds(),
                };
                let checked = dpop::check(proof, &expected)?;
                // RFC 9449 §11.1: last, so that only a proof that passed everything else
                // uses up its `jti`.
                if self.replays.first_use(&checked) {
                    Ok(())
                } else {
                    Err(Reject::ReplayedProof)
                }
            }
            // RFC 8705 §3: a certificate-bound token is a bearer token sent over mutual TLS.
            (Confirmation::Certificate(x5t), Scheme::Bearer) => {
                let pem = possession
                    .client_cert_pem
                    .as_deref()
                    .ok_or(Reject::MissingProof)?;
                mtls::check(pem, &x5t)
            }
            (Confirmation::Certificate(_), Scheme::Dpop) => Err(Reject::UnsupportedBinding),
        }
    }
}

/// The verified access token, as the binding check needs it.
#[derive(Clone, Copy)]
pub(crate) struct Token<'a> {
    /// The `Authorization` scheme it came with.
    pub(crate) scheme: Scheme,
    /// The compact token (for a DPoP proof's `ath`).
    pub(crate) raw: &'a str,
    /// Its raw `cnf` claim.
    pub(crate) cnf: Option<RawJson<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> RawJson<'_> {
        serde_json::from_str::<&serde_json::value::RawValue>(json)
            .unwrap()
            .into()
    }

    #[test]
    fn cnf_names_exactly_one_method_we_check() {
        assert_eq!(
            Confirmation::parse(raw(r#"{"jkt":"abc"}"#)),
            Ok(Confirmation::DpopKey("abc".into()))
        );
        assert_eq!(
            Confirmation::parse(raw(r#"{"x5t#S256":"abc"}"#)),
            Ok(Confirmation::Certificate("abc".into()))
        );
        for unsupported in [
            "null",
            "{}",
            "[]",
            r#""abc""#,
            r#"{"jkt":""}"#,
            r#"{"jkt":7}"#,
            r#"{"jkt":"a","x5t#S256":"b"}"#,
            r#"{"jkt":"a","jkt":"b"}"#,
            r#"{"jkt":"a","kid":"b"}"#,
            r#"{"jwk":{"kty":"EC"}}"#,
        ] {
            assert_eq!(
                Confirmation::parse(raw(unsupported)),
                Err(Reject::UnsupportedBinding),
                "{unsupported}"
            );
        }
    }
}
