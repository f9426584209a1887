//! The authorizer event parser (REST TOKEN and REQUEST, HTTP API payload 2.0).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    jwt_authorizer_fuzz::check_event(data);
});
