//! The authorizer event parser (REST TOKEN and REQUEST, HTTP API payload 2.0).
#![no_main]

use jwt_authorizer::events::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = parse(data) else {
        return;
    };
    // What is read comes out of the event's strings. (Unread fields are skipped without checking
    // their UTF-8 or escapes; in Lambda the runtime has validated the UTF-8 already.)
    let Some(strings) = jwt_authorizer_fuzz::json_strings(data) else {
        return;
    };
    assert!(
        strings.iter().any(|s| *s == event.arn),
        "the ARN is a string of the event"
    );
    if let Some(authorization) = &event.authorization {
        assert!(
            strings.iter().any(|s| s == authorization),
            "the Authorization value is a string of the event"
        );
    }
});
