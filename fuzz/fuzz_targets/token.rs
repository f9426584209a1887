//! The token framing: `Bearer` scheme, the three segments, base64url and the JOSE header.
#![no_main]

use jwt_authorizer::Algorithm;
use jwt_authorizer::token::{DecodeBuf, bearer_token, parse_header, split};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(authorization) = std::str::from_utf8(data) else {
        return;
    };
    // A bare token is tried too, so the corpus need not start with `Bearer `.
    let token = bearer_token(authorization).unwrap_or(authorization);
    let Ok(segments) = split(token) else {
        return;
    };
    // The segments are the token's own bytes, in order.
    assert_eq!(
        format!(
            "{}.{}.{}",
            segments.header, segments.payload, segments.signature
        ),
        token
    );
    assert_eq!(
        segments.signing_input,
        format!("{}.{}", segments.header, segments.payload)
    );
    let mut header_buf = DecodeBuf::<64>::default();
    let Ok(header) = header_buf.decode(segments.header) else {
        return;
    };
    let header = header.to_vec();
    for allowed in [&Algorithm::ALL[..1], &Algorithm::ALL[..]] {
        if let Ok(parsed) = parse_header(&header, allowed) {
            assert!(
                allowed.contains(&parsed.alg),
                "{parsed:?} not in {allowed:?}"
            );
        }
    }
    let mut buf = DecodeBuf::<16>::default();
    let _ = buf.decode(segments.payload);
    let _ = buf.decode(segments.signature);
});
