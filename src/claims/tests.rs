use super::*;

const NOW: u64 = 1_800_000_000;

fn rules() -> Rules {
    Rules {
        issuer: "https://tenant.auth0.com/".into(),
        audiences: vec!["https://api.example.com".into(), "other".into()],
        leeway_seconds: 5,
        context_claims: vec!["email".into(), "sub".into()],
    }
}

fn check(json: &str) -> Result<(), Reject> {
    let rules = rules();
    let claims = parse(json.as_bytes(), &rules)?;
    validate(&claims, &rules, NOW)
}

fn token(extra: &str) -> String {
    format!(
        r#"{{"iss":"https://tenant.auth0.com/","sub":"auth0|1","aud":"https://api.example.com","exp":{},"iat":{}{extra}}}"#,
        NOW + 60,
        NOW - 1
    )
}

#[test]
fn a_typical_auth0_access_token_is_valid_and_borrowed() {
    let rules = rules();
    let json = format!(
        r#"{{"iss":"https://tenant.auth0.com/","sub":"auth0|1","aud":["https://api.example.com","https://tenant.auth0.com/userinfo"],"iat":{},"exp":{},"azp":"x","scope":"openid read:pets","email":"a@b.c"}}"#,
        NOW - 10,
        NOW + 3600
    );
    let claims = parse(json.as_bytes(), &rules).unwrap();
    assert_eq!(validate(&claims, &rules, NOW), Ok(()));
    assert!(matches!(claims.sub, Some(Cow::Borrowed("auth0|1"))));
    assert!(matches!(
        claims.scope,
        Some(Cow::Borrowed("openid read:pets"))
    ));
    assert_eq!(claims.context[0].map(RawValue::get), Some(r#""a@b.c""#));
    assert_eq!(claims.context[1].map(RawValue::get), Some(r#""auth0|1""#));
}

#[test]
fn lifetime_rules_honour_the_leeway() {
    assert_eq!(check(&token("")), Ok(()));
    let at = |exp: u64| {
        format!(r#"{{"iss":"https://tenant.auth0.com/","sub":"s","aud":"other","exp":{exp}}}"#)
    };
    assert_eq!(check(&at(NOW - 6)), Err(Reject::Expired));
    assert_eq!(check(&at(NOW - 5)), Err(Reject::Expired));
    assert_eq!(check(&at(NOW - 4)), Ok(()));
    assert_eq!(
        check(&token(&format!(r#","nbf":{}"#, NOW + 6))),
        Err(Reject::NotYetValid)
    );
    assert_eq!(check(&token(&format!(r#","nbf":{}"#, NOW + 5))), Ok(()));
    let future_iat = format!(
        r#"{{"iss":"https://tenant.auth0.com/","sub":"s","aud":"other","exp":{},"iat":{}}}"#,
        NOW + 99,
        NOW + 60
    );
    assert_eq!(check(&future_iat), Err(Reject::NotYetValid));
    assert_eq!(
        check(r#"{"iss":"https://tenant.auth0.com/","sub":"s","aud":"other"}"#),
        Err(Reject::MissingClaim)
    );
}

#[test]
fn numeric_dates_must_be_numbers() {
    let string_exp = format!(
        r#"{{"iss":"https://tenant.auth0.com/","sub":"s","aud":"other","exp":"{}"}}"#,
        NOW + 60
    );
    assert_eq!(check(&string_exp), Err(Reject::InvalidClaim));
    assert_eq!(check(&token(r#","nbf":true"#)), Err(Reject::InvalidClaim));
    assert_eq!(check(&token(r#","iat":null"#)), Err(Reject::InvalidClaim));
    // Fractional dates are numbers too (RFC 7519 NumericDate).
    assert_eq!(check(&token(r#","nbf":1.5"#)), Ok(()));
}

#[test]
fn issuer_must_match_exactly() {
    for iss in [
        r#""https://tenant.auth0.com""#,
        r#""https://evil.auth0.com/""#,
        "42",
    ] {
        let json = format!(
            r#"{{"iss":{iss},"sub":"s","aud":"other","exp":{}}}"#,
            NOW + 60
        );
        let want = if iss == "42" {
            Reject::InvalidClaim
        } else {
            Reject::BadIssuer
        };
        assert_eq!(check(&json), Err(want), "{iss}");
    }
    let no_iss = format!(r#"{{"sub":"s","aud":"other","exp":{}}}"#, NOW + 60);
    assert_eq!(check(&no_iss), Err(Reject::BadIssuer));
}

#[test]
fn audience_is_a_string_or_an_array_of_strings() {
    let with_aud = |aud: &str| {
        format!(
            r#"{{"iss":"https://tenant.auth0.com/","sub":"s","aud":{aud},"exp":{}}}"#,
            NOW + 60
        )
    };
    assert_eq!(check(&with_aud(r#""other""#)), Ok(()));
    assert_eq!(check(&with_aud(r#"["x","other"]"#)), Ok(()));
    assert_eq!(check(&with_aud(r#""wrong""#)), Err(Reject::BadAudience));
    assert_eq!(check(&with_aud(r#"["x","y"]"#)), Err(Reject::BadAudience));
    assert_eq!(check(&with_aud("[]")), Err(Reject::BadAudience));
    assert_eq!(check(&with_aud("[1]")), Err(Reject::InvalidClaim));
    assert_eq!(check(&with_aud("{}")), Err(Reject::InvalidClaim));
    let many: Vec<String> = (0..10_000).map(|i| format!("\"aud{i}\"")).collect();
    assert_eq!(
        check(&with_aud(&format!("[{}]", many.join(",")))),
        Err(Reject::BadAudience)
    );
    let no_aud = format!(
        r#"{{"iss":"https://tenant.auth0.com/","sub":"s","exp":{}}}"#,
        NOW + 60
    );
    assert_eq!(check(&no_aud), Err(Reject::BadAudience));
}

#[test]
fn repeated_claims_and_non_objects_are_refused() {
    assert_eq!(
        check(&token(r#","aud":"other""#)),
        Err(Reject::InvalidClaim)
    );
    assert_eq!(
        check(&token(r#","email":"a","email":"b""#)),
        Err(Reject::InvalidClaim)
    );
    assert_eq!(check("[1,2]"), Err(Reject::Malformed));
    assert_eq!(check("{"), Err(Reject::Malformed));
    assert_eq!(check(&format!("{} x", token(""))), Err(Reject::Malformed));
}

#[test]
fn escaped_strings_are_decoded_not_compared_raw() {
    let json = format!(
        r#"{{"iss":"https:\/\/tenant.auth0.com\/","sub":"s","aud":"oth\u0065r","exp":{}}}"#,
        NOW + 60
    );
    assert_eq!(check(&json), Ok(()));
}

#[test]
fn principal_is_required() {
    let no_sub = format!(
        r#"{{"iss":"https://tenant.auth0.com/","aud":"other","exp":{}}}"#,
        NOW + 60
    );
    assert_eq!(check(&no_sub), Err(Reject::MissingClaim));
    let empty_sub = format!(
        r#"{{"iss":"https://tenant.auth0.com/","sub":"","aud":"other","exp":{}}}"#,
        NOW + 60
    );
    assert_eq!(check(&empty_sub), Err(Reject::MissingClaim));
}
