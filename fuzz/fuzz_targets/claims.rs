//! Claims: the input is a token payload, which this target signs with the issuer's EdDSA key, so
//! every input reaches the claim parser and rules. Invariant: nothing is allowed unless the
//! payload is UTF-8 JSON whose `exp`, `nbf`, `iat`, `iss`, `aud` and `sub`, read by plain serde,
//! are as the rules demand, and the answer's `principalId` is exactly `sub`.
#![no_main]

use jwt_authorizer::Outcome;
use jwt_authorizer_fuzz::{
    AUDIENCE, ED_KID, ISSUER, LEEWAY, NOW, b64, ed_fixture, ed_key_pair, token_event,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The registered claims. Unread claims are skipped as by the code under test (serde_json does
/// not check lone surrogate escapes there, which JSON's grammar allows).
#[derive(serde::Deserialize)]
struct Registered {
    iss: Option<Value>,
    sub: Option<Value>,
    aud: Option<Value>,
    exp: Option<Value>,
    nbf: Option<Value>,
    iat: Option<Value>,
}

fn number(claim: &Option<Value>) -> Option<f64> {
    claim
        .as_ref()
        .map(|v| v.as_f64().expect("a numeric date is a number"))
}

fuzz_target!(|payload: &[u8]| {
    let key = ed_key_pair();
    let signing_input = format!(
        "{}.{}",
        b64(format!(r#"{{"alg":"EdDSA","kid":"{ED_KID}"}}"#)),
        b64(payload)
    );
    let signature = key.sign(signing_input.as_bytes());
    let token = format!("{signing_input}.{}", b64(signature.as_ref()));
    let (decision, out) = ed_fixture().authorize(&token_event(&token));
    if decision.outcome == Outcome::Unauthorized {
        return;
    }
    let text = std::str::from_utf8(payload).expect("an accepted payload is UTF-8");
    let claims: Registered = serde_json::from_str(text).expect("an accepted payload is JSON");
    let now = NOW as f64;
    assert!(
        number(&claims.exp).is_some_and(|exp| now < exp + LEEWAY),
        "exp: {text}"
    );
    assert!(
        number(&claims.nbf).is_none_or(|nbf| nbf <= now + LEEWAY),
        "nbf: {text}"
    );
    assert!(
        number(&claims.iat).is_none_or(|iat| iat <= now + LEEWAY),
        "iat: {text}"
    );
    assert_eq!(claims.iss, Some(Value::from(ISSUER)), "iss: {text}");
    let audience_ok = match &claims.aud {
        Some(Value::String(aud)) => aud == AUDIENCE,
        Some(Value::Array(auds)) => auds.iter().any(|a| a == AUDIENCE),
        _ => false,
    };
    assert!(audience_ok, "aud: {text}");
    let sub = claims
        .sub
        .as_ref()
        .and_then(Value::as_str)
        .expect("sub is a string");
    assert!(!sub.is_empty());
    let answer: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(answer["principalId"], sub, "principalId is sub exactly");
});
