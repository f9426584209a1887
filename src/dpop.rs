//! DPoP proofs (RFC 9449): the JWS a client signs for each request with the key its access token
//! is bound to (`cnf.jkt`), checked as RFC 9449 §4.3 lists, plus the access-token binding of
//! §7.1 (`ath`, and the key's RFC 7638 thumbprint against `cnf.jkt`).
//!
//! Everything here parses attacker-controlled bytes: every failure is a typed [`Reject`], never a
//! panic, and nothing of the proof is logged.

use crate::algorithm::{Algorithm, KeyKind};
use crate::json::CowStr;
use crate::report::Reject;
use crate::token::{self, DecodeBuf};
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use quick_cache::sync::{Cache, GuardResult};
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::borrow::Cow;

/// The asymmetric algorithms a proof may use (RFC 9449 §4.3 check 5: "an asymmetric digital
/// signature algorithm", never `none` nor a MAC).
pub(crate) const PROOF_ALGORITHMS: [Algorithm; 5] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::EdDSA,
];

/// Longest proof accepted: an RSA-4096 `jwk` and signature fit in well under this.
const MAX_PROOF_BYTES: usize = 8 * 1024;

/// Longest `jti` accepted (RFC 9449 §4.2 asks for 96 bits of randomness; a UUID is 36 bytes).
const MAX_JTI_BYTES: usize = 256;

/// The request a proof must be for, read from the event.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Request<'a> {
    /// The HTTP method.
    pub(crate) method: &'a str,
    /// The host the client called (API Gateway's `domainName`).
    pub(crate) domain: &'a str,
    /// The path as the client sent it.
    pub(crate) path: &'a str,
}

/// A proof that passed every check but the replay check: what the replay cache needs.
#[derive(Debug)]
pub(crate) struct Checked {
    /// SHA-256 of the key's thumbprint and the `jti`: one client's `jti` never collides with
    /// another's.
    replay_key: [u8; 32],
}

/// What a DPoP proof must satisfy beyond its own validity.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Expected<'a> {
    /// The request it was sent with.
    pub(crate) request: Request<'a>,
    /// The access token it was sent with (for `ath`).
    pub(crate) access_token: &'a str,
    /// The token's `cnf.jkt`.
    pub(crate) jkt: &'a str,
    /// Now, seconds since the epoch.
    pub(crate) now: u64,
    /// How old a proof may be, seconds.
    pub(crate) max_age: u64,
    /// The issuer's clock-skew leeway, seconds.
    pub(crate) leeway: u64,
}

/// Checks a proof (the `DPoP` header's value) against what it must prove, up to the replay
/// check, which is the caller's (see [`Replays`]), done last so that an invalid proof cannot
/// use up a `jti`.
///
/// # Errors
/// [`Reject::BadProof`] for a proof that is not a valid DPoP proof (RFC 9449 §4.3 checks 2 to 7);
/// [`Reject::ProofMismatch`] for a valid proof of another request, access token or key (checks 8,
/// 9 and 12, and §6.1); [`Reject::StaleProof`] for an `iat` outside the window (check 11).
pub(crate) fn check(proof: &str, expected: &Expected<'_>) -> Result<Checked, Reject> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(Reject::BadProof);
    }
    // Check 2: a well-formed compact JWS (three segments of canonical base64url).
    let segments = token::split(proof).map_err(|_| Reject::BadProof)?;
    let mut header_buf = DecodeBuf::<1024>::default();
    let mut payload_buf = DecodeBuf::<512>::default();
    let mut signature_buf = DecodeBuf::<512>::default();
    let header = header_buf
        .decode(segments.header)
        .map_err(|_| Reject::BadProof)?;
    let header: ProofHeader<'_> = serde_json::from_slice(header).map_err(|_| Reject::BadProof)?;
    // Check 4: `typ` is `dpop+jwt` (a media type: compared without case, RFC 7515 §4.1.9).
    if !header.typ.0.eq_ignore_ascii_case("dpop+jwt") || header.crit.is_some() {
        return Err(Reject::BadProof);
    }
    // Check 5: an asymmetric algorithm from the allow-list; `none` and HMAC are not in it.
    let alg = Algorithm::from_jose(&header.alg.0)
        .filter(|alg| PROOF_ALGORITHMS.contains(alg))
        .ok_or(Reject::BadProof)?;
    // Check 7: the `jwk` is a public key, of the algorithm's type.
    let key = PublicKey::from_jwk(&header.jwk, alg)?;
    // Check 6: the signature verifies with that key.
    let signature = signature_buf
        .decode(segments.signature)
        .map_err(|_| Reject::BadProof)?;
    key.verify(alg, segments.signing_input.as_bytes(), signature)?;

    // Check 3: the claims `jti`, `htm`, `htu`, `iat` (and `ath`, as the proof comes with an
    // access token, §4.2) are there with the right types.
    let claims = payload_buf
        .decode(segments.payload)
        .map_err(|_| Reject::BadProof)?;
    let claims: ProofClaims<'_> = serde_json::from_slice(claims).map_err(|_| Reject::BadProof)?;
    let jti = claims.jti.0;
    if jti.is_empty() || jti.len() > MAX_JTI_BYTES || !claims.iat.is_finite() {
        return Err(Reject::BadProof);
    }
    // Check 8: `htm` is the request's method (methods are case-sensitive, RFC 9110 §9.1).
    if claims.htm.0 != expected.request.method {
        return Err(Reject::ProofMismatch);
    }
    // Check 9: `htu` is the request's URI, without query and fragment.
    if !htu_matches(&claims.htu.0, &expected.request) {
        return Err(Reject::ProofMismatch);
    }
    // Check 11: `iat` within the window, both ways, with the leeway (§11.1).
    let (now, iat) = (expected.now as f64, claims.iat);
    let leeway = expected.leeway as f64;
    if iat > now + leeway || iat + (expected.max_age as f64) + leeway < now {
        return Err(Reject::StaleProof);
    }
    // Check 12: `ath` is the base64url SHA-256 of the access token (§4.2, §7.1).
    let ath = digest(&SHA256, expected.access_token.as_bytes());
    if !b64_equals(&claims.ath.0, ath.as_ref()) {
        return Err(Reject::ProofMismatch);
    }
    // §6.1 and §7.1: the proof's key is the one the token is bound to.
    let thumbprint = key.thumbprint(&header.jwk);
    if !b64_equals(expected.jkt, &thumbprint) {
        return Err(Reject::ProofMismatch);
    }
    let mut replay = Vec::with_capacity(32 + jti.len());
    replay.extend_from_slice(&thumbprint);
    replay.extend_from_slice(jti.as_bytes());
    let replay_key = digest(&SHA256, &replay)
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes");
    Ok(Checked { replay_key })
}

/// The `jti`s of the proofs this instance accepted (RFC 9449 §11.1), bounded.
///
/// Per instance: each Lambda execution environment (and each `serve` process) has its own. A
/// proof replayed to another concurrent instance is not detected there; within its `iat` window
/// (`DPOP_PROOF_MAX_AGE_SECONDS` plus the leeway) a captured proof could be replayed once per
/// instance, for the same method and URL, with the same token. Bounded: under a flood of more
/// distinct valid proofs than its size within a window (each needs the client's private key)
/// the oldest are forgotten early.
pub(crate) struct Replays {
    seen: Cache<[u8; 32], ()>,
}

impl Replays {
    /// A cache of `capacity` proofs.
    pub(crate) fn new(capacity: usize) -> Self {
        Replays {
            seen: Cache::new(capacity.max(1)),
        }
    }

    /// Records the proof; `false` when this instance saw it before.
    pub(crate) fn first_use(&self, proof: &Checked) -> bool {
        match self.seen.get_value_or_guard(&proof.replay_key, None) {
            GuardResult::Guard(guard) => {
                let _ = guard.insert(());
                true
            }
            GuardResult::Value(()) | GuardResult::Timeout => false,
        }
    }
}

/// A proof's JOSE header (RFC 9449 §4.2): `typ`, `alg` and `jwk` required.
#[derive(Deserialize)]
struct ProofHeader<'a> {
    #[serde(borrow)]
    typ: CowStr<'a>,
    #[serde(borrow)]
    alg: CowStr<'a>,
    #[serde(borrow)]
    jwk: Jwk<'a>,
    crit: Option<IgnoredAny>,
}

/// A proof's claims (RFC 9449 §4.2); `nonce` is not used (server nonces are out of scope).
#[derive(Deserialize)]
struct ProofClaims<'a> {
    #[serde(borrow)]
    jti: CowStr<'a>,
    #[serde(borrow)]
    htm: CowStr<'a>,
    #[serde(borrow)]
    htu: CowStr<'a>,
    iat: f64,
    #[serde(borrow)]
    ath: CowStr<'a>,
}

/// The members of a proof's `jwk` that matter: the public ones of each key type, and every
/// private one, whose presence refuses the proof (RFC 9449 §4.3 check 7; RFC 7518 §6.2.2, §6.3.2,
/// §6.4; RFC 8037 §2).
#[derive(Deserialize)]
struct Jwk<'a> {
    #[serde(borrow)]
    kty: CowStr<'a>,
    #[serde(borrow)]
    crv: Option<CowStr<'a>>,
    #[serde(borrow)]
    x: Option<CowStr<'a>>,
    #[serde(borrow)]
    y: Option<CowStr<'a>>,
    #[serde(borrow)]
    n: Option<CowStr<'a>>,
    #[serde(borrow)]
    e: Option<CowStr<'a>>,
    d: Option<IgnoredAny>,
    p: Option<IgnoredAny>,
    q: Option<IgnoredAny>,
    dp: Option<IgnoredAny>,
    dq: Option<IgnoredAny>,
    qi: Option<IgnoredAny>,
    oth: Option<IgnoredAny>,
    k: Option<IgnoredAny>,
}

impl Jwk<'_> {
    fn has_private_members(&self) -> bool {
        self.d.is_some()
            || self.p.is_some()
            || self.q.is_some()
            || self.dp.is_some()
            || self.dq.is_some()
            || self.qi.is_some()
            || self.oth.is_some()
            || self.k.is_some()
    }
}

/// A proof's public key, decoded from its `jwk`.
enum PublicKey {
    /// An EC point (SEC 1 uncompressed) or an Ed25519 key.
    Point(KeyKind, Vec<u8>),
    /// RSA `n` and `e`.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

impl PublicKey {
    fn from_jwk(jwk: &Jwk<'_>, alg: Algorithm) -> Result<Self, Reject> {
        if jwk.has_private_members() {
            return Err(Reject::BadProof);
        }
        let member = |value: &Option<CowStr<'_>>| -> Result<Vec<u8>, Reject> {
            let text = value.as_ref().ok_or(Reject::BadProof)?;
            // Canonical base64url without padding only: the thumbprint hashes these very
            // strings (RFC 7638 §3), so two spellings of one key must not both pass.
            URL_SAFE_NO_PAD
                .decode(text.0.as_bytes())
                .map_err(|_| Reject::BadProof)
        };
        let kind = alg.key_kind();
        let crv = jwk.crv.as_ref().map(|c| c.0.as_ref());
        match (jwk.kty.0.as_ref(), crv, kind) {
            ("EC", Some("P-256"), KeyKind::P256) | ("EC", Some("P-384"), KeyKind::P384) => {
                let width = if kind == KeyKind::P256 { 32 } else { 48 };
                let (x, y) = (member(&jwk.x)?, member(&jwk.y)?);
                if x.len() != width || y.len() != width || jwk.n.is_some() || jwk.e.is_some() {
                    return Err(Reject::BadProof);
                }
                let mut point = Vec::with_capacity(1 + 2 * width);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Ok(PublicKey::Point(kind, point))
            }
            ("OKP", Some("Ed25519"), KeyKind::Ed25519) => {
                let x = member(&jwk.x)?;
                if x.len() != 32 || jwk.y.is_some() || jwk.n.is_some() || jwk.e.is_some() {
                    return Err(Reject::BadProof);
                }
                Ok(PublicKey::Point(kind, x))
            }
            ("RSA", None, KeyKind::Rsa) => {
                if jwk.x.is_some() || jwk.y.is_some() {
                    return Err(Reject::BadProof);
                }
                Ok(PublicKey::Rsa {
                    n: member(&jwk.n)?,
                    e: member(&jwk.e)?,
                })
            }
            _ => Err(Reject::BadProof),
        }
    }

    fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> Result<(), Reject> {
        let verified = match self {
            PublicKey::Point(_, bytes) => {
                UnparsedPublicKey::new(alg.verification(), bytes).verify(message, signature)
            }
            PublicKey::Rsa { n, e } => {
                let params = alg.rsa_parameters().ok_or(Reject::BadProof)?;
                RsaPublicKeyComponents { n, e }.verify(params, message, signature)
            }
        };
        verified.map_err(|_| Reject::BadProof)
    }

    /// The RFC 7638 SHA-256 thumbprint: the required members only, in lexicographic order, no
    /// whitespace (§3.2, §3.3). The member values were checked to be canonical base64url (or a
    /// known curve name), so they need no JSON escaping.
    fn thumbprint(&self, jwk: &Jwk<'_>) -> [u8; 32] {
        let text = |value: &Option<CowStr<'_>>| {
            value
                .as_ref()
                .map_or(Cow::Borrowed(""), |v| v.0.clone())
                .into_owned()
        };
        let canonical = match self {
            PublicKey::Point(KeyKind::Ed25519, _) => {
                format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, text(&jwk.x))
            }
            PublicKey::Point(_, _) => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                text(&jwk.crv),
                text(&jwk.x),
                text(&jwk.y)
            ),
            PublicKey::Rsa { .. } => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                text(&jwk.e),
                text(&jwk.n)
            ),
        };
        digest(&SHA256, canonical.as_bytes())
            .as_ref()
            .try_into()
            .expect("SHA-256 is 32 bytes")
    }
}

/// Whether `encoded` is the canonical base64url (no padding) of `bytes`.
fn b64_equals(encoded: &str, bytes: &[u8]) -> bool {
    URL_SAFE_NO_PAD
        .decode(encoded.as_bytes())
        .is_ok_and(|decoded| decoded == bytes)
}

/// RFC 9449 §4.3 check 9: `htu` is the request's URI without query and fragment, compared after
/// syntax-based and scheme-based normalisation (RFC 3986 §6.2.2, §6.2.3): case of the scheme and
/// host, the default port, dot segments, and percent-encoding (case of hex digits, unreserved
/// characters decoded). API Gateway serves `https` on port 443 only.
pub(crate) fn htu_matches(htu: &str, request: &Request<'_>) -> bool {
    let Ok(claimed) = url::Url::parse(htu) else {
        return false;
    };
    let Ok(called) = url::Url::parse(&format!("https://{}{}", request.domain, request.path)) else {
        return false;
    };
    claimed.scheme() == "https"
        && claimed.username().is_empty()
        && claimed.password().is_none()
        // API Gateway's `domainName` has no port; `serve`'s has its listener's.
        && claimed.port() == called.port()
        && claimed.host_str().is_some()
        && claimed.host_str() == called.host_str()
        && normalize_percent(claimed.path()) == normalize_percent(called.path())
}

/// Percent-encoding normalisation (RFC 3986 §6.2.2.1, §6.2.2.2): hex digits in upper case, and
/// encoded unreserved characters decoded.
fn normalize_percent(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(i + 1).and_then(|b| (*b as char).to_digit(16)),
                bytes.get(i + 2).and_then(|b| (*b as char).to_digit(16)),
            )
        {
            let byte = (high * 16 + low) as u8;
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                out.push(byte as char);
            } else {
                out.push('%');
                out.push_str(&format!("{byte:02X}"));
            }
            i += 3;
        } else {
            // `url` has parsed the path: anything else is ASCII already.
            out.push(bytes[i] as char);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &'static str) -> Request<'static> {
        Request {
            method: "GET",
            domain: "abcdef123.execute-api.us-east-1.amazonaws.com",
            path,
        }
    }

    #[test]
    fn htu_is_compared_after_normalisation_without_query_and_fragment() {
        let called = request("/prod/pets/1");
        for same in [
            "https://abcdef123.execute-api.us-east-1.amazonaws.com/prod/pets/1",
            "HTTPS://ABCDEF123.execute-api.us-east-1.amazonaws.com/prod/pets/1",
            "https://abcdef123.execute-api.us-east-1.amazonaws.com:443/prod/pets/1",
            "https://abcdef123.execute-api.us-east-1.amazonaws.com/prod/pets/1?x=1#f",
            "https://abcdef123.execute-api.us-east-1.amazonaws.com/prod/./pets/../pets/1",
            "https://abcdef123.execute-api.us-east-1.amazonaws.com/prod/%70ets/1",
        ] {
            assert!(htu_matches(same, &called), "{same}");
        }
        for other in [
            "http://abcdef123.execute-api.us-east-1.amazonaws.com/prod/pets/1",
            "https://other.execute-api.us-east-1.amazonaws.com/prod/pets/1",
            "https://abcdef123.execute-api.us-east-1.amazonaws.com:8443/prod/pets/1",
            "https://abcdef123.execute-api.us-east-1.amazonaws.com/prod/pets/2",
            "https://abcdef123.execute-api.us-east-1.amazonaws.com/pets/1",
            "https://u@abcdef123.execute-api.us-east-1.amazonaws.com/prod/pets/1",
            "/prod/pets/1",
            "",
        ] {
            assert!(!htu_matches(other, &called), "{other}");
        }
        let encoded = request("/prod/a%2fb");
        assert!(htu_matches(
            "https://abcdef123.execute-api.us-east-1.amazonaws.com/prod/a%2Fb",
            &encoded
        ));
        assert!(!htu_matches(
            "https://abcdef123.execute-api.us-east-1.amazonaws.com/prod/a/b",
            &encoded
        ));
    }

    /// A valid proof of a fresh ES256 key for `GET` on [`request`]`("/prod/pets/1")` with the
    /// access token `a.b.c`, and what it is checked against.
    fn valid_proof() -> (String, String) {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let point = pair.public_key().as_ref();
        let (x, y) = (b64(&point[1..33]), b64(&point[33..]));
        let header = format!(
            r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}"}}}}"#
        );
        let claims = format!(
            r#"{{"jti":"j-1","htm":"GET","htu":"https://abcdef123.execute-api.us-east-1.amazonaws.com/prod/pets/1","iat":1000,"ath":"{}"}}"#,
            b64(digest(&SHA256, b"a.b.c").as_ref())
        );
        let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let signature = pair.sign(&rng, input.as_bytes()).unwrap();
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let jkt = b64(digest(&SHA256, canonical.as_bytes()).as_ref());
        (format!("{input}.{}", b64(signature.as_ref())), jkt)
    }

    fn expected(jkt: &str) -> Expected<'_> {
        Expected {
            request: request("/prod/pets/1"),
            access_token: "a.b.c",
            jkt,
            now: 1010,
            max_age: 60,
            leeway: 5,
        }
    }

    #[test]
    fn a_valid_proof_passes() {
        let (proof, jkt) = valid_proof();
        assert!(check(&proof, &expected(&jkt)).is_ok());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            /// Any text is refused, without a panic.
            #[test]
            fn arbitrary_text_is_refused(text in any::<String>()) {
                let (_, jkt) = valid_proof();
                prop_assert!(check(&text, &expected(&jkt)).is_err());
            }

            /// Any one-byte change to a valid proof (header, claims or signature) refuses it.
            #[test]
            fn a_changed_proof_is_refused(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
                let (proof, jkt) = valid_proof();
                let mut bytes = proof.into_bytes();
                let at = at.index(bytes.len());
                prop_assume!(bytes[at] != byte);
                bytes[at] = byte;
                let changed = String::from_utf8_lossy(&bytes);
                prop_assert!(check(&changed, &expected(&jkt)).is_err());
            }
        }
    }

    #[test]
    fn the_replay_cache_accepts_a_proof_once() {
        let replays = Replays::new(16);
        let proof = Checked {
            replay_key: [7; 32],
        };
        assert!(replays.first_use(&proof));
        assert!(!replays.first_use(&proof));
        assert!(replays.first_use(&Checked {
            replay_key: [8; 32]
        }));
    }

    /// A flood of distinct valid proofs costs a bounded memory: the oldest are forgotten.
    #[test]
    fn the_replay_cache_holds_at_most_its_capacity() {
        let replays = Replays::new(16);
        for n in 0..10_000u32 {
            let mut replay_key = [0; 32];
            replay_key[..4].copy_from_slice(&n.to_le_bytes());
            assert!(replays.first_use(&Checked { replay_key }));
        }
        assert!(
            replays.seen.len() <= 16,
            "{} proofs held",
            replays.seen.len()
        );
    }
}
