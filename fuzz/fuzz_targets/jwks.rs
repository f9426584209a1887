//! The JWKS parser: a document the issuer (or whoever answers at its URL) controls.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    jwt_authorizer_fuzz::check_jwks(data);
});
