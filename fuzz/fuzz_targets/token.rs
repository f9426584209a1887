//! The token framing: `Bearer` scheme, the three segments, base64url and the JOSE header.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    jwt_authorizer_fuzz::check_token(data);
});
