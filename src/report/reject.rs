//! Why a token was refused: one fieldless variant per reason, counted in metrics and logged, while
//! the caller only ever learns `Unauthorized`.

use std::fmt;

/// The reason an authorization was refused.
///
/// Fieldless and `Copy` on purpose: a reject never carries attacker-controlled text (nothing to
/// allocate, nothing to leak into logs), and `Result<_, Reject>` stays one byte wide.
/// Variants are grouped by the pipeline stage that produces them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reject {
    // Event and token framing.
    /// The event could not be read as an API Gateway authorizer event.
    BadEvent,
    /// No token: no `authorizationToken`, no `Authorization` header, or an empty one.
    MissingToken,
    /// The token is longer than `MAX_TOKEN_BYTES`; refused before any parsing.
    TokenTooLarge,
    /// Not `Bearer <compact JWS>`: wrong scheme, wrong segment count, bad base64url or bad JSON.
    Malformed,
    /// API Gateway would cache the answer under a key that does not hold what the answer depends
    /// on: an HTTP API event's `identitySource` values do not match `IDENTITY_SOURCE`, or a simple
    /// response under route rules would be cached without the route key. A configuration problem,
    /// refused before the token is read.
    UnsafeCacheKey,

    // Header.
    /// `alg` is not in the allow-list (this includes `none` and every HMAC algorithm).
    AlgNotAllowed,
    /// The header has no `kid`.
    MissingKid,
    /// The header has a `crit` parameter; we implement no JWS extension (RFC 7515 §4.1.11).
    UnsupportedCrit,

    // Issuer and key lookup.
    /// The token's unverified `iss` is none of the configured issuers (or absent): refused before
    /// any key lookup or network request.
    UnknownIssuer,
    /// No key in the issuer's JWKS has this `kid`, even after a refresh.
    UnknownKid,
    /// The key with this `kid` cannot verify this `alg` (other key type, or the JWK's own `alg` differs).
    KeyAlgMismatch,
    /// The issuer's JWKS could not be fetched and no key is cached.
    JwksUnavailable,

    // Signature.
    /// The signature does not verify with the issuer's key.
    BadSignature,

    // Claims. The payload is parsed before the signature check (its `iss` picks the keys), so
    // `invalid_claim` can come from an unverified token; the others are checked once the signature
    // is valid, so they can be trusted.
    /// A registered claim has the wrong JSON type (e.g. `exp` as a string) or is duplicated.
    InvalidClaim,
    /// A required claim (`exp`, `sub`) is absent.
    MissingClaim,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    NotYetValid,
    /// A Cognito token's `token_use` is not the configured kind (`access` or `id`), or absent.
    WrongTokenUse,
    /// No `aud` value is one of the issuer's audiences (Cognito: `client_id` or `aud` is not one
    /// of the app client ids).
    BadAudience,
    /// `USAGE_IDENTIFIER_CLAIM` is set and the token lacks that claim (or it is not a string).
    MissingUsageIdentifier,

    // Sender constraint (RFC 9449 DPoP, RFC 8705 mutual TLS), checked once the token is verified.
    /// The token's issuer requires sender-constrained tokens (`require_sender_constraint`,
    /// `REQUIRE_SENDER_CONSTRAINT`) and the token has no `cnf` claim.
    BindingRequired,
    /// The token's `cnf` is not one confirmation method this authorizer checks (`jkt` or
    /// `x5t#S256`), or the `DPoP` scheme came with a token that is not DPoP-bound
    /// (RFC 9449 §7.1).
    UnsupportedBinding,
    /// A bound token without its proof: as `Bearer`, in a `TOKEN` event, without a `DPoP` header,
    /// or without a client certificate (RFC 9449 §7.1, RFC 8705 §3).
    MissingProof,
    /// The DPoP proof is not a valid proof: malformed, wrong `typ`, an `alg` outside the
    /// allow-list, a `jwk` that is not a public key, a bad signature, or `DPoP` sent twice
    /// (RFC 9449 §4.3 checks 1 to 7).
    BadProof,
    /// The DPoP proof is valid but for another request or key: `htm`, `htu`, `ath`, or the key's
    /// thumbprint differs from `cnf.jkt` (RFC 9449 §4.3 checks 8 to 12, §7.1).
    ProofMismatch,
    /// The DPoP proof's `iat` is outside the accepted window (RFC 9449 §4.3 check 11, §11.1).
    StaleProof,
    /// The DPoP proof's `jti` was already seen by this instance (RFC 9449 §11.1).
    ReplayedProof,
    /// The client certificate of a certificate-bound token cannot be read (RFC 8705 §3).
    BadCertificate,
    /// The client certificate is not the one the token is bound to (RFC 8705 §3.1).
    CertificateMismatch,

    // Introspection (RFC 7662), for opaque tokens, and for JWTs under `INTROSPECT=always`.
    /// The issuer's introspection endpoint answered `"active": false`: revoked, expired or unknown
    /// (RFC 7662 §2.2).
    TokenInactive,
    /// The introspection endpoint gave no valid RFC 7662 answer: down, slower than
    /// `INTROSPECTION_TIMEOUT_MS`, an error status, a body over the size limit, not JSON, or
    /// `active` missing or not a boolean. Fail closed (unless `INTROSPECTION_FAIL_OPEN` serves a
    /// locally verified JWT).
    IntrospectionUnavailable,
    /// A token not in the introspection cache, beyond the issuer's
    /// `INTROSPECTION_MAX_CALLS_PER_SECOND`: refused without a call (a flood of made-up opaque
    /// tokens must not become a flood of calls).
    IntrospectionRateLimited,
}

impl Reject {
    /// Every reason, for registering metrics and for exhaustive tests.
    pub const ALL: [Reject; 32] = [
        Reject::BadEvent,
        Reject::MissingToken,
        Reject::TokenTooLarge,
        Reject::Malformed,
        Reject::UnsafeCacheKey,
        Reject::AlgNotAllowed,
        Reject::MissingKid,
        Reject::UnsupportedCrit,
        Reject::UnknownIssuer,
        Reject::UnknownKid,
        Reject::KeyAlgMismatch,
        Reject::JwksUnavailable,
        Reject::BadSignature,
        Reject::InvalidClaim,
        Reject::MissingClaim,
        Reject::Expired,
        Reject::NotYetValid,
        Reject::WrongTokenUse,
        Reject::BadAudience,
        Reject::MissingUsageIdentifier,
        Reject::BindingRequired,
        Reject::UnsupportedBinding,
        Reject::MissingProof,
        Reject::BadProof,
        Reject::ProofMismatch,
        Reject::StaleProof,
        Reject::ReplayedProof,
        Reject::BadCertificate,
        Reject::CertificateMismatch,
        Reject::TokenInactive,
        Reject::IntrospectionUnavailable,
        Reject::IntrospectionRateLimited,
    ];

    /// The stable snake_case label used in logs and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reject::BadEvent => "bad_event",
            Reject::MissingToken => "missing_token",
            Reject::TokenTooLarge => "token_too_large",
            Reject::Malformed => "malformed",
            Reject::UnsafeCacheKey => "unsafe_cache_key",
            Reject::AlgNotAllowed => "alg_not_allowed",
            Reject::MissingKid => "missing_kid",
            Reject::UnsupportedCrit => "unsupported_crit",
            Reject::UnknownIssuer => "unknown_issuer",
            Reject::UnknownKid => "unknown_kid",
            Reject::KeyAlgMismatch => "key_alg_mismatch",
            Reject::JwksUnavailable => "jwks_unavailable",
            Reject::BadSignature => "bad_signature",
            Reject::InvalidClaim => "invalid_claim",
            Reject::MissingClaim => "missing_claim",
            Reject::Expired => "expired",
            Reject::NotYetValid => "not_yet_valid",
            Reject::WrongTokenUse => "wrong_token_use",
            Reject::BadAudience => "bad_audience",
            Reject::MissingUsageIdentifier => "missing_usage_identifier",
            Reject::BindingRequired => "binding_required",
            Reject::UnsupportedBinding => "unsupported_binding",
            Reject::MissingProof => "missing_proof",
            Reject::BadProof => "bad_proof",
            Reject::ProofMismatch => "proof_mismatch",
            Reject::StaleProof => "stale_proof",
            Reject::ReplayedProof => "replayed_proof",
            Reject::BadCertificate => "bad_certificate",
            Reject::CertificateMismatch => "certificate_mismatch",
            Reject::TokenInactive => "token_inactive",
            Reject::IntrospectionUnavailable => "introspection_unavailable",
            Reject::IntrospectionRateLimited => "introspection_rate_limited",
        }
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one answer every reject becomes: API Gateway turns exactly this Lambda error message into
/// a 401. The reason is deliberately dropped here.
pub const UNAUTHORIZED: &str = "Unauthorized";

impl From<Reject> for lambda_runtime::Diagnostic {
    fn from(_: Reject) -> Self {
        lambda_runtime::Diagnostic {
            error_type: UNAUTHORIZED.to_owned(),
            error_message: UNAUTHORIZED.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for reason in Reject::ALL {
            let label = reason.as_str();
            assert!(seen.insert(label), "duplicate label {label}");
            assert!(label.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }

    #[test]
    fn every_reason_becomes_the_same_lambda_error() {
        for reason in Reject::ALL {
            let diagnostic = lambda_runtime::Diagnostic::from(reason);
            assert_eq!(diagnostic.error_message, "Unauthorized");
            assert_eq!(diagnostic.error_type, "Unauthorized");
        }
    }
}
