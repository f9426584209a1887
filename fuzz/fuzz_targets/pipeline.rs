//! The whole pipeline, from event bytes to the answer, with the issuer's RS256 key loaded from a
//! real JWKS fetch. Invariants: never a panic; an answer is written (and is JSON) exactly when the
//! outcome is not Unauthorized; and nothing is allowed (or route-denied, which also means
//! "verified") unless the event carries a token signed by the loaded key, as checked by an
//! independent RSA implementation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    jwt_authorizer_fuzz::check_pipeline(data);
});
