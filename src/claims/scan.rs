//! The fast path of [`parse`](super::parse): reads the claims of the tokens issuers actually
//! sign with a [`Scanner`], and leaves anything it is not sure serde_json reads the same way (an
//! escape in a string it keeps, a repeated claim, a claim of an unexpected type, a number that is
//! not a plain integer) to the serde_json path, the reference.

use super::{CAPTURED_BIT0, Claims, Field, IssuerSet, Rules, Seen, issuers_accepting};
use crate::json::Scanner;
use std::borrow::Cow;

/// Reads a payload (already checked to be UTF-8), or gives up with `None`.
pub(super) fn scan<'a>(json: &'a str, rules: &Rules) -> Option<Claims<'a>> {
    let mut scanner = Scanner::new(json.as_bytes());
    let mut claims = Claims::default();
    // One bit per registered claim and per captured claim (from bit 16), as the serde path keeps.
    let mut seen: Seen = 0;
    if !scanner.open(b'{')? {
        loop {
            let name = scanner.key()?;
            let field = Field::from_name(name);
            let slot = rules.slot_of(name, field);
            let bits = field.map_or(0, |f| 1 << f as u32)
                | slot.map_or(0, |s| 1 << (CAPTURED_BIT0 + s as u32));
            if seen & bits != 0 {
                return None; // a repeated claim, which the serde path refuses
            }
            seen |= bits;
            match (field, slot) {
                (None, None) => scanner.skip_value()?,
                (Some(field), None) => read(&mut scanner, field, &mut claims, &rules.audiences)?,
                (field, Some(slot)) => {
                    let raw = scanner.raw_value(json)?;
                    claims.captured[slot] = Some(raw);
                    if let Some(field) = field {
                        let mut value = Scanner::new(raw.get().as_bytes());
                        read(&mut value, field, &mut claims, &rules.audiences)?;
                    }
                }
            }
            if scanner.comma_or_end(b'}')? {
                break;
            }
        }
    }
    scanner.at_end().then_some(claims)
}

/// Reads one registered claim into its field of `claims`.
fn read<'a>(
    scanner: &mut Scanner<'a>,
    field: Field,
    claims: &mut Claims<'a>,
    audiences: &[(String, IssuerSet)],
) -> Option<()> {
    let mut string = || scanner.string().map(Cow::Borrowed);
    match field {
        Field::Iss => claims.iss = Some(string()?),
        Field::Sub => claims.sub = Some(string()?),
        Field::ClientId => claims.client_id = Some(string()?),
        Field::TokenUse => claims.token_use = Some(string()?),
        // serde_json reads an integer as a u64 and f64's visitor converts it with `as`.
        Field::Exp => claims.exp = Some(scanner.integer()? as f64),
        Field::Nbf => claims.nbf = Some(scanner.integer()? as f64),
        Field::Iat => claims.iat = Some(scanner.integer()? as f64),
        Field::Aud => claims.aud = Some(audience(scanner, audiences)?),
    }
    Some(())
}

/// `aud`, a string or an array of strings, as the set of issuers accepting one of its values.
fn audience(scanner: &mut Scanner<'_>, audiences: &[(String, IssuerSet)]) -> Option<IssuerSet> {
    if scanner.peek()? == b'"' {
        return Some(issuers_accepting(audiences, scanner.string()?));
    }
    let mut issuers = 0;
    if !scanner.open(b'[')? {
        loop {
            issuers |= issuers_accepting(audiences, scanner.string()?);
            if scanner.comma_or_end(b']')? {
                break;
            }
        }
    }
    Some(issuers)
}

#[cfg(test)]
mod tests {
    use super::super::serde_reader::parse_with_serde;
    use super::*;
    use crate::json::arbitrary::{damage, object, text, value};
    use proptest::prelude::*;
    use serde_json::Value;

    /// Two audiences of two issuers, and `email` and `scope` captured for the context, `cnf`, and
    /// `sub`, a registered claim that is captured too.
    fn rules() -> Rules {
        let captured: Vec<String> = ["email", "scope", "cnf", "sub"].map(str::to_owned).into();
        Rules {
            audiences: vec![("api".to_owned(), 0b01), ("client".to_owned(), 0b10)],
            captured_fields: super::super::captured_fields(&captured),
            captured,
            scope_slots: vec![1],
            usage_slot: None,
            cnf_slot: 2,
        }
    }

    /// What the scanner read, or `None`, beside what serde_json reads, both as text (`Claims`
    /// has no `PartialEq`).
    fn both(json: &str, rules: &Rules) -> (Option<String>, String) {
        (
            scan(json, rules).map(|claims| format!("{claims:?}")),
            format!("{:?}", parse_with_serde(json, rules)),
        )
    }

    const AUTH0: &str = r#"{"iss":"https://tenant.auth0.com/","sub":"auth0|1","aud":["api","https://tenant.auth0.com/userinfo"],"iat":1800000000,"exp":1800003600,"azp":"x","scope":"openid read:pets","email":"a@b.c","permissions":["read:pets"],"https://x/roles":{"a":[1,2.5,null]}}"#;
    const COGNITO_ACCESS: &str = r#"{"sub":"aaaa-bbbb","cognito:groups":["admin"],"iss":"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X","version":2,"client_id":"client","origin_jti":"j","token_use":"access","scope":"aws.cognito.signin.user.admin","auth_time":1800000000,"exp":1800003600,"iat":1800000000,"jti":"k","username":"u"}"#;

    const COGNITO_ID: &str = r#"{"sub":"aaaa-bbbb","aud":"client","email_verified":true,"token_use":"id","auth_time":1800000000,"iss":"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X","cognito:username":"u","exp":1800003600,"iat":1800000000,"email":"a@b.c"}"#;

    #[test]
    fn reads_real_issuers_tokens_without_copying() {
        for json in [AUTH0, COGNITO_ACCESS, COGNITO_ID] {
            let (fast, reference) = both(json, &rules());
            assert_eq!(fast.map(|fast| format!("Ok({fast})")), Some(reference));
        }
        let claims = scan(AUTH0, &rules()).unwrap();
        assert!(matches!(
            claims.iss,
            Some(Cow::Borrowed("https://tenant.auth0.com/"))
        ));
        assert_eq!(claims.aud, Some(0b01));
        assert_eq!(
            (claims.iat, claims.exp),
            (Some(1.8e9), Some(1_800_003_600.0))
        );
        assert_eq!(claims.captured[0].map(|raw| raw.get()), Some(r#""a@b.c""#));
        assert_eq!(
            claims.captured[1].map(|raw| raw.get()),
            Some(r#""openid read:pets""#)
        );
        assert!(matches!(
            claims.scopes(&rules()),
            Ok(Some(super::super::Scopes::Words(Cow::Borrowed(
                "openid read:pets"
            ))))
        ));
        let cognito = scan(COGNITO_ACCESS, &rules()).unwrap();
        assert_eq!(cognito.token_use.as_deref(), Some("access"));
        assert_eq!(cognito.client_id.as_deref(), Some("client"));
        assert_eq!(cognito.aud, None);
        assert_eq!(scan(COGNITO_ID, &rules()).unwrap().aud, Some(0b10));
    }

    #[test]
    fn leaves_what_it_is_unsure_of_to_serde_json() {
        for json in [
            r#"{"iss":"https:\/\/tenant.auth0.com\/"}"#,
            r#"{"s\u0075b":"x"}"#,
            r#"{"exp":1,"exp":2}"#,
            r#"{"email":1,"email":2}"#,
            r#"{"exp":1800000000.0}"#,
            r#"{"exp":18e8}"#,
            r#"{"exp":-1}"#,
            r#"{"exp":12345678901234567890}"#,
            r#"{"exp":"1800000000"}"#,
            r#"{"exp":null}"#,
            r#"{"aud":7}"#,
            r#"{"aud":["api",7]}"#,
            r#"{"sub":null}"#,
            r#"{"x":01}"#,
            r#"{"x":1} {}"#,
            r#"[]"#,
        ] {
            assert_eq!(both(json, &rules()).0, None, "{json}");
        }
        let fallback = super::super::parse(br#"{"iss":"a\/b","exp":1.5e9}"#, &rules()).unwrap();
        assert_eq!(
            (fallback.iss.as_deref(), fallback.exp),
            (Some("a/b"), Some(1.5e9))
        );
    }

    /// Strings and claim names a payload has.
    const COMMON: &[&str] = &[
        "iss",
        "sub",
        "aud",
        "exp",
        "nbf",
        "iat",
        "scope",
        "client_id",
        "token_use",
        "email",
        "api",
        "client",
        "access",
        "id",
    ];

    /// A claim: a name and any value, or a registered claim with a value of its usual type.
    fn member() -> impl Strategy<Value = (String, Value)> {
        let name = prop::sample::select(COMMON).prop_map(str::to_owned);
        prop_oneof![
            (text(COMMON), value(COMMON)),
            (name.clone(), text(COMMON).prop_map(Value::from)),
            (name.clone(), (0..=u64::MAX >> 1).prop_map(Value::from)),
            (
                name,
                prop::collection::vec(text(COMMON), 0..3).prop_map(Value::from)
            ),
        ]
    }

    /// What the scanner says must be what serde_json says.
    fn check(json: &[u8]) -> Result<(), TestCaseError> {
        let Ok(json) = std::str::from_utf8(json) else {
            return Ok(()); // `parse` refuses it before either path
        };
        if let (Some(fast), reference) = both(json, &rules()) {
            prop_assert_eq!(format!("Ok({fast})"), reference, "{}", json);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        #[test]
        fn agrees_with_serde_json_on_generated_claims(members in prop::collection::vec(member(), 0..8)) {
            check(object(&members).as_bytes())?;
        }

        #[test]
        fn agrees_with_serde_json_on_damaged_claims(members in prop::collection::vec(member(), 0..8), at in any::<prop::sample::Index>(), byte in any::<u8>(), op in 0..3u8) {
            let mut json = object(&members).into_bytes();
            damage(&mut json, at, byte, op);
            check(&json)?;
        }

        #[test]
        fn agrees_with_serde_json_on_damaged_tokens(which in 0..3usize, at in any::<prop::sample::Index>(), byte in any::<u8>(), op in 0..3u8) {
            let mut json = [AUTH0, COGNITO_ACCESS, COGNITO_ID][which].as_bytes().to_vec();
            damage(&mut json, at, byte, op);
            check(&json)?;
        }
    }
}
