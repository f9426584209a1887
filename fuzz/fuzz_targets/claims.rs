//! Claims: the input is a token payload, which this target signs with the issuer's EdDSA key, so
//! every input reaches the claim parser and rules. Invariant: nothing is allowed unless the
//! payload is UTF-8 JSON whose `exp`, `nbf`, `iat`, `iss`, `aud` and `sub`, read by plain serde,
//! are as the rules demand, and the answer's `principalId` is exactly `sub`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    jwt_authorizer_fuzz::check_claims(data);
});
