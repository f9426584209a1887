//! The whole pipeline, from event bytes to the answer, with the issuer's RS256 key loaded from a
//! real JWKS fetch. Invariants: never a panic; an answer is written (and is JSON) exactly when the
//! outcome is not Unauthorized; and nothing is allowed (or route-denied, which also means
//! "verified") unless the event carries a token signed by the loaded key, as checked by an
//! independent RSA implementation.
#![no_main]

use jwt_authorizer::Outcome;
use jwt_authorizer_fuzz::{json_strings, raw_tokens, rsa_fixture, signed_by_rsa_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The Lambda runtime reads the event as a `RawValue`, which refuses invalid UTF-8: nothing
    // else reaches the handler (the first run of this target found that the event parser itself
    // skips unread fields without checking their UTF-8).
    if std::str::from_utf8(data).is_err() {
        return;
    }
    let (decision, _) = rsa_fixture().authorize(data);
    if decision.outcome != Outcome::Unauthorized {
        let mut candidates = raw_tokens(data);
        candidates.extend(json_strings(data).unwrap_or_default());
        assert!(
            candidates.iter().any(|s| signed_by_rsa_key(s)),
            "{decision:?} for an event without a token signed by the issuer's key: {}",
            String::from_utf8_lossy(data)
        );
    }
});
