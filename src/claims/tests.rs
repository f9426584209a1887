use super::*;
use crate::config::Config;
use std::collections::HashMap;

const NOW: u64 = 1_800_000_000;

fn config_with(vars: &[(&str, &str)]) -> Config {
    let mut map: HashMap<String, String> = [
        ("TOKEN_ISSUER", "https://tenant.auth0.com/"),
        ("AUDIENCE", "https://api.example.com,other"),
        ("CONTEXT_CLAIMS", "email,sub"),
    ]
    .iter()
    .chain(vars)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    map.retain(|_, v| !v.is_empty());
    Config::from_lookup(|name| map.get(name).cloned()).unwrap()
}

/// A configuration of several issuers, from a TOML `CONFIG_FILE`.
fn config_file(toml: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("issuers.toml");
    std::fs::write(&path, toml).unwrap();
    let path = path.to_str().unwrap().to_owned();
    Config::from_lookup(|name| (name == "CONFIG_FILE").then(|| path.clone())).unwrap()
}

/// What the authorizer does with a payload once its signature verified: picks the issuer by the
/// exact `iss`, then validates with that issuer's rules. Returns the issuer's index. Both steps
/// are the `Authorizer`'s own (`check_claims_at`), built from `config` as `authorize` builds them.
fn check_with(config: &Config, json: &str) -> Result<usize, Reject> {
    let authorizer = crate::handler::Authorizer::from_config(config.clone()).unwrap();
    authorizer.check_claims_at(json.as_bytes(), NOW)
}

fn check(json: &str) -> Result<(), Reject> {
    check_with(&config_with(&[]), json).map(drop)
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
    let config = config_with(&[]);
    let rules = config.claim_rules();
    let json = format!(
        r#"{{"iss":"https://tenant.auth0.com/","sub":"auth0|1","aud":["https://api.example.com","https://tenant.auth0.com/userinfo"],"iat":{},"exp":{},"azp":"x","scope":"openid read:pets","email":"a@b.c"}}"#,
        NOW - 10,
        NOW + 3600
    );
    let claims = parse(json.as_bytes(), &rules).unwrap();
    assert_eq!(check_with(&config, &json), Ok(0));
    assert!(matches!(claims.sub, Some(Cow::Borrowed("auth0|1"))));
    assert!(matches!(
        claims.scopes(&rules),
        Ok(Some(Scopes::Words(Cow::Borrowed("openid read:pets"))))
    ));
    assert_eq!(claims.captured[0].map(RawJson::get), Some(r#""a@b.c""#));
    assert_eq!(claims.captured[1].map(RawJson::get), Some(r#""auth0|1""#));
}

/// Both parsers find a captured claim through `Rules::slot_of`, so their agreement cannot catch
/// a wrong answer of it: its shortcuts (registered claims by bit, others by length and first
/// byte) checked against the names themselves.
#[test]
fn captured_claims_are_found_by_their_exact_name() {
    let config = config_with(&[("SCOPE_CLAIMS", "scope,scp,permissions")]);
    let rules = config.claim_rules();
    let slot = |name: &str| {
        rules
            .slot_of(name, Field::from_name(name))
            .map(|slot| rules.captured[slot].as_str())
    };
    // `sub` is registered and captured (CONTEXT_CLAIMS), `iss` registered only.
    assert_eq!(slot("sub"), Some("sub"));
    assert_eq!(slot("iss"), None);
    for name in ["email", "scope", "scp", "permissions", "cnf"] {
        assert_eq!(slot(name), Some(name));
    }
    // The same length and first byte as a captured name, or a prefix of one.
    for name in ["state", "sco", "scopes", "e", "", "cnF", "Scope"] {
        assert_eq!(slot(name), None, "{name}");
    }
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
fn issuer_must_match_a_configured_one_exactly() {
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
            Reject::UnknownIssuer
        };
        assert_eq!(check(&json), Err(want), "{iss}");
    }
    let no_iss = format!(r#"{{"sub":"s","aud":"other","exp":{}}}"#, NOW + 60);
    assert_eq!(check(&no_iss), Err(Reject::UnknownIssuer));
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
    // What the README says: only claims the authorizer reads are checked for repeats; others are
    // skipped unread.
    assert_eq!(check(&token(r#","unread":1,"unread":2"#)), Ok(()));
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

#[test]
fn each_issuer_accepts_its_own_audiences_only() {
    let config = config_file(
        r#"
        [[issuer]]
        name = "users"
        issuer = "https://users.example/"
        audiences = ["api", "shared"]

        [[issuer]]
        name = "partners"
        issuer = "https://partners.example/"
        audiences = ["partner-api", "shared"]
        leeway_seconds = 0
        "#,
    );
    let token = |iss: &str, aud: &str, exp: u64| {
        format!(r#"{{"iss":"{iss}","sub":"s","aud":{aud},"exp":{exp}}}"#)
    };
    let users = "https://users.example/";
    let partners = "https://partners.example/";
    assert_eq!(
        check_with(&config, &token(users, r#""api""#, NOW + 9)),
        Ok(0)
    );
    assert_eq!(
        check_with(&config, &token(partners, r#"["x","partner-api"]"#, NOW + 9)),
        Ok(1)
    );
    assert_eq!(
        check_with(&config, &token(partners, r#""shared""#, NOW + 9)),
        Ok(1)
    );
    assert_eq!(
        check_with(&config, &token(users, r#""partner-api""#, NOW + 9)),
        Err(Reject::BadAudience)
    );
    assert_eq!(
        check_with(&config, &token(partners, r#"["api"]"#, NOW + 9)),
        Err(Reject::BadAudience)
    );
    // Each issuer's own leeway: 5 s by default, 0 for partners.
    assert_eq!(
        check_with(&config, &token(users, r#""api""#, NOW - 2)),
        Ok(0)
    );
    assert_eq!(
        check_with(&config, &token(partners, r#""shared""#, NOW - 2)),
        Err(Reject::Expired)
    );
    assert_eq!(
        check_with(
            &config,
            &token("https://other.example/", r#""api""#, NOW + 9)
        ),
        Err(Reject::UnknownIssuer)
    );
}

#[test]
fn cognito_tokens_are_checked_by_token_use_and_client_id() {
    let config = config_file(
        r#"
        [[issuer]]
        name = "machines"
        issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
        token_use = "access"
        client_ids = ["client-a"]

        [[issuer]]
        name = "people"
        issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Xyz789"
        token_use = "id"
        client_ids = ["client-b"]
        required_claims = ["email", "cognito:groups"]
        "#,
    );
    let machines = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123";
    let people = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Xyz789";
    let access = |client: &str, token_use: &str| {
        format!(
            r#"{{"iss":"{machines}","sub":"m","client_id":"{client}","token_use":"{token_use}","scope":"pets/read","exp":{}}}"#,
            NOW + 60
        )
    };
    assert_eq!(check_with(&config, &access("client-a", "access")), Ok(0));
    assert_eq!(
        check_with(&config, &access("client-b", "access")),
        Err(Reject::BadAudience)
    );
    assert_eq!(
        check_with(&config, &access("client-a", "id")),
        Err(Reject::WrongTokenUse)
    );
    let no_token_use = format!(
        r#"{{"iss":"{machines}","sub":"m","client_id":"client-a","exp":{}}}"#,
        NOW + 60
    );
    assert_eq!(
        check_with(&config, &no_token_use),
        Err(Reject::WrongTokenUse)
    );

    let id = |aud: &str, extra: &str| {
        format!(
            r#"{{"iss":"{people}","sub":"p","aud":"{aud}","token_use":"id","exp":{}{extra}}}"#,
            NOW + 60
        )
    };
    let full = r#","email":"p@example.com","cognito:groups":["admins"]"#;
    assert_eq!(check_with(&config, &id("client-b", full)), Ok(1));
    assert_eq!(
        check_with(&config, &id("client-a", full)),
        Err(Reject::BadAudience)
    );
    assert_eq!(
        check_with(&config, &id("client-b", r#","email":"p@example.com""#)),
        Err(Reject::MissingClaim)
    );
}

#[test]
fn a_null_claim_is_as_missing_for_required_claims() {
    let config = config_with(&[("REQUIRED_CLAIMS", "tenant, email")]);
    let tenant = |value: &str| token(&format!(r#","tenant":{value},"email":"a@b.c""#));
    assert_eq!(check_with(&config, &tenant(r#""acme""#)), Ok(0));
    assert_eq!(
        check_with(&config, &tenant("[]")),
        Ok(0),
        "present, if empty"
    );
    for null in ["null", " null ", "\nnull"] {
        assert_eq!(
            check_with(&config, &tenant(null)),
            Err(Reject::MissingClaim),
            "tenant {null:?}"
        );
    }
    // `email` is also a context claim: kept raw the same way.
    assert_eq!(
        check_with(&config, &token(r#","tenant":"acme","email":null"#)),
        Err(Reject::MissingClaim)
    );
}

/// `iat` may be up to the leeway in the future, as `nbf` may (RFC 7519 §4.1.6 gives no rule of
/// its own; a clock a little ahead at the issuer must not refuse a fresh token).
#[test]
fn an_issued_at_within_the_leeway_is_accepted() {
    let at = |iat: u64| {
        format!(
            r#"{{"iss":"https://tenant.auth0.com/","sub":"s","aud":"other","exp":{},"iat":{iat}}}"#,
            NOW + 99
        )
    };
    assert_eq!(check(&at(NOW + 5)), Ok(()));
    assert_eq!(check(&at(NOW + 6)), Err(Reject::NotYetValid));
}

/// The scopes route rules are checked against: the first scope claim that is present and not
/// `null`, as a space-separated string (escapes decoded) or an array of strings; anything else
/// refuses the token.
#[test]
fn scopes_are_words_or_a_list_of_strings() {
    let config = config_with(&[("SCOPE_CLAIMS", "scope,scp")]);
    let rules = config.claim_rules();
    let scopes = |claims: &str| {
        let json = format!(r#"{{"sub":"s"{claims}}}"#);
        let claims = parse(json.as_bytes(), &rules).unwrap();
        claims.scopes(&rules).map(|scopes| {
            scopes.map(|scopes| {
                let mut all = Vec::new();
                assert!(scopes.each(|s| {
                    all.push(s.to_owned());
                    true
                }));
                let has = |s: &str| scopes.contains(s);
                (all, ["read:pets", "write:pets", "read", ""].map(has))
            })
        })
    };
    let words = |all: &[&str]| all.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        scopes(r#","scope":"openid read:pets""#),
        Ok(Some((
            words(&["openid", "read:pets"]),
            [true, false, false, false]
        )))
    );
    // Escaped: decoded before it is split.
    assert_eq!(
        scopes(r#","scope":"write:pets\u0020read:pets""#),
        Ok(Some((
            words(&["write:pets", "read:pets"]),
            [true, true, false, false]
        )))
    );
    // `scope` is null: `scp` is read, an array.
    assert_eq!(
        scopes(r#","scope":null,"scp":["read","write:pets"]"#),
        Ok(Some((
            words(&["read", "write:pets"]),
            [false, true, true, false]
        )))
    );
    assert_eq!(scopes(r#","scp":[]"#), Ok(Some((vec![], [false; 4]))));
    assert_eq!(scopes(""), Ok(None));
    for bad in [r#","scp":["read:pets",1]"#, r#","scope":7"#, r#","scp":{}"#] {
        assert_eq!(scopes(bad), Err(Reject::InvalidClaim), "{bad}");
    }
}

/// `USAGE_IDENTIFIER_CLAIM`: the usage plan's API key comes from this claim, a non-empty string.
#[test]
fn the_usage_identifier_is_a_non_empty_string() {
    let config = config_with(&[("USAGE_IDENTIFIER_CLAIM", "azp")]);
    let rules = config.claim_rules();
    let usage = |claims: &str| {
        let json = format!(r#"{{"sub":"s"{claims}}}"#);
        let claims = parse(json.as_bytes(), &rules).unwrap();
        claims
            .usage_identifier(&rules)
            .map(|u| u.map(Cow::into_owned))
    };
    assert_eq!(
        usage(r#","azp":"client-1""#),
        Ok(Some("client-1".to_owned()))
    );
    assert_eq!(
        usage(r#","azp":"client\u002d1""#),
        Ok(Some("client-1".to_owned()))
    );
    for bad in ["", r#","azp":"""#, r#","azp":null"#, r#","azp":7"#] {
        assert_eq!(usage(bad), Err(Reject::MissingUsageIdentifier), "{bad}");
    }
    let unconfigured = config_with(&[]).claim_rules();
    let json = br#"{"sub":"s","azp":"client-1"}"#;
    let claims = parse(json, &unconfigured).unwrap();
    assert_eq!(claims.usage_identifier(&unconfigured), Ok(None));
}

/// The most claims a configuration may keep raw (16, and `cnf`), each in its own slot and on
/// either parser: the serde_json path tells repeated claims apart by a bit per captured slot.
#[test]
fn the_most_captured_claims_are_each_kept_by_both_parsers() {
    let names: Vec<String> = (0..14).map(|i| format!("claim{i}")).collect();
    // With `scope`, a scope claim: 16 captured, and `cnf`. A registered required claim is read
    // into its field, not kept raw, so it does not count.
    let config = config_with(&[
        ("CONTEXT_CLAIMS", &format!("{},scp", names.join(","))),
        ("REQUIRED_CLAIMS", "iat"),
    ]);
    let rules = config.claim_rules();
    assert_eq!(rules.captured.len(), CAPTURE_SLOTS);
    let members: String = names
        .iter()
        .enumerate()
        .map(|(i, name)| format!(r#","{name}":"v{i}""#))
        .collect();
    let cnf = r#","cnf":{"jkt":"x"}"#;
    let fast = token(&format!(r#"{members},"scope":"a","scp":"b"{cnf}"#));
    // An escaped `iss` leaves the payload to serde_json.
    let slow = fast.replace("https://", r"https:\/\/");
    for json in [&fast, &slow] {
        assert_eq!(check_with(&config, json), Ok(0), "{json}");
        let claims = parse(json.as_bytes(), &rules).unwrap();
        for (i, name) in names.iter().enumerate() {
            let slot = rules.captured.iter().position(|c| c == name).unwrap();
            let want = format!(r#""v{i}""#);
            assert_eq!(claims.captured[slot].map(RawJson::get), Some(want.as_str()));
        }
        assert_eq!(claims.cnf(&rules).map(RawJson::get), Some(r#"{"jkt":"x"}"#));
        assert_eq!(claims.exp, Some((NOW + 60) as f64));
    }
}

/// A claim named by `CONTEXT_CLAIMS` and again by another list (here `SCOPE_CLAIMS`; a name twice
/// in `CONTEXT_CLAIMS` itself stops the start) is captured once, in the slot of its first
/// mention, and a registered one is still read for its own check.
#[test]
fn a_claim_named_by_two_lists_is_captured_once() {
    let config = config_with(&[
        ("CONTEXT_CLAIMS", "sub,email"),
        ("SCOPE_CLAIMS", "email,sub"),
    ]);
    let rules = config.claim_rules();
    assert_eq!(config.captured_claims(), ["sub", "email", "cnf"]);
    let json = token(r#","email":"a@b.c""#);
    let claims = parse(json.as_bytes(), &rules).unwrap();
    assert_eq!(claims.captured[0].map(RawJson::get), Some(r#""auth0|1""#));
    assert_eq!(claims.captured[1].map(RawJson::get), Some(r#""a@b.c""#));
    assert_eq!(claims.sub.as_deref(), Some("auth0|1"));
}
