//! The configuration as a user sees it: what is accepted, and every problem named.

use super::*;
use crate::algorithm::Algorithm;
use reqwest::Url;
use std::collections::HashMap;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

#[test]
fn the_tutorials_three_variables_are_enough() {
    let c = config(&[
        ("TOKEN_ISSUER", "https://tenant.auth0.com/"),
        ("JWKS_URI", "https://tenant.auth0.com/.well-known/jwks.json"),
        ("AUDIENCE", "https://api.example.com"),
    ])
    .unwrap();
    let [issuer] = &c.issuers[..] else {
        panic!("one issuer")
    };
    assert_eq!(issuer.issuer, "https://tenant.auth0.com/");
    assert_eq!(issuer.name, "tenant.auth0.com");
    assert_eq!(issuer.audiences, ["https://api.example.com"]);
    assert_eq!(issuer.algorithms, [Algorithm::RS256]);
    assert_eq!(issuer.cognito, None);
    assert_eq!(c.resource_mode, ResourceMode::Stage);
    assert_eq!(c.reject_mode, RejectMode::Unauthorized);
    assert_eq!(c.max_token_bytes, 16384);
}

#[test]
fn without_jwks_uri_keys_are_discovered_from_the_issuer() {
    let c = config(&[
        ("TOKEN_ISSUER", "https://tenant.auth0.com/"),
        ("AUDIENCE", "a, b ,"),
    ])
    .unwrap();
    assert_eq!(
        c.issuers[0].jwks,
        JwksSource::Discovery(
            Url::parse("https://tenant.auth0.com/.well-known/openid-configuration").unwrap()
        )
    );
    assert_eq!(c.issuers[0].audiences, ["a", "b"]);
}

#[test]
fn every_problem_is_reported_at_once_naming_its_variable() {
    let err = config(&[
        ("JWKS_URI", "http://keys.example.com/jwks.json"),
        ("ALLOWED_ALGORITHMS", "RS256,HS256"),
        ("CLOCK_SKEW_LEEWAY_SECONDS", "-1"),
        ("POLICY_RESOURCE", "everything"),
        ("ROUTE_SCOPES", "GET=read"),
        ("CONTEXT_CLAIMS", "email,scope"),
    ])
    .unwrap_err();
    let vars: Vec<_> = err.problems.iter().map(|p| p.variable).collect();
    assert_eq!(
        vars,
        [
            "TOKEN_ISSUER",
            "JWKS_URI",
            "AUDIENCE",
            "ALLOWED_ALGORITHMS",
            "CLOCK_SKEW_LEEWAY_SECONDS",
            "POLICY_RESOURCE",
            "ROUTE_SCOPES",
            "CONTEXT_CLAIMS"
        ]
    );
    let text = err.to_string();
    assert!(text.contains("TOKEN_ISSUER: is not set"), "{text}");
    assert!(text.contains("HS256"), "{text}");
    assert!(text.contains("https"), "{text}");
    let many: Vec<String> = (0..17).map(|i| format!("c{i}")).collect();
    let err = config(&[
        ("TOKEN_ISSUER", "https://i/"),
        ("AUDIENCE", "a"),
        ("CONTEXT_CLAIMS", &many.join(",")),
    ]);
    assert_eq!(err.unwrap_err().problems[0].variable, "CONTEXT_CLAIMS");
    let err = config(&[
        ("TOKEN_ISSUER", "https://i/"),
        ("AUDIENCE", "a"),
        ("CONTEXT_CLAIMS", "sub,email,sub"),
    ])
    .unwrap_err();
    assert_eq!(
        err.to_string().lines().nth(1).map(str::trim),
        Some(r#"CONTEXT_CLAIMS: "sub,email,sub": `sub` is named twice"#)
    );
}

#[test]
fn a_min_refresh_above_the_refresh_interval_is_reported_once_on_its_variable() {
    let err = config(&[
        ("TOKEN_ISSUER", "https://i/"),
        ("AUDIENCE", "a"),
        ("JWKS_REFRESH_INTERVAL_SECONDS", "30"),
        ("JWKS_MIN_REFRESH_INTERVAL_SECONDS", "60"),
    ])
    .unwrap_err();
    let vars: Vec<_> = err.problems.iter().map(|p| p.variable).collect();
    assert_eq!(vars, ["JWKS_MIN_REFRESH_INTERVAL_SECONDS"]);
}

#[test]
fn plain_http_is_only_for_loopback_unless_allowed() {
    let base = [("TOKEN_ISSUER", "http://127.0.0.1:9/"), ("AUDIENCE", "a")];
    assert!(config(&base).is_ok());
    let remote = [
        ("TOKEN_ISSUER", "http://issuer.example/"),
        ("AUDIENCE", "a"),
    ];
    assert!(config(&remote).is_err());
    let allowed = [remote[0], remote[1], ("JWKS_ALLOW_HTTP", "true")];
    assert!(config(&allowed).is_ok());
    assert!(is_loopback(&Url::parse("http://[::1]:8080/").unwrap()));
    assert!(is_loopback(&Url::parse("http://localhost/").unwrap()));
    assert!(!is_loopback(&Url::parse("http://127.example/").unwrap()));
}

fn file(name: &str, text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap().to_owned();
    (dir, path)
}

#[test]
fn a_cognito_pool_by_env_checks_client_ids_and_skips_discovery() {
    let c = config(&[
        (
            "TOKEN_ISSUER",
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
        ),
        ("TOKEN_USE", "access"),
        ("AUDIENCE", "client-a,client-b"),
    ])
    .unwrap();
    let issuer = &c.issuers[0];
    assert_eq!(issuer.cognito, Some(TokenUse::Access));
    assert_eq!(issuer.audiences, ["client-a", "client-b"]);
    assert_eq!(
        issuer.jwks,
        JwksSource::Uri(
            Url::parse(
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/.well-known/jwks.json"
            )
            .unwrap()
        )
    );
    let err = config(&[
        ("TOKEN_ISSUER", "https://i/"),
        ("AUDIENCE", "a"),
        ("TOKEN_USE", "refresh"),
    ])
    .unwrap_err();
    assert_eq!(err.problems[0].variable, "TOKEN_USE");
}

#[test]
fn a_config_file_lists_issuers_with_their_own_settings() {
    let (_dir, path) = file(
        "issuers.toml",
        r#"
        [[issuer]]
        name = "users"
        issuer = "https://tenant.eu.auth0.com/"
        audiences = ["https://api.example.com"]
        leeway_seconds = 30
        kid_miss_cooldown_seconds = 60
        require_sender_constraint = true

        [[issuer]]
        name = "machines"
        user_pool_id = "eu-west-1_AbC123"
        token_use = "access"
        client_ids = ["4kbvq1p2example"]
        algorithms = ["RS256", "ES256"]

        [[route]]
        route = "DELETE /pets/{petId}"
        issuers = ["machines"]
        claims = { "cognito:groups" = "admins" }
        "#,
    );
    let c = config(&[
        ("CONFIG_FILE", &path),
        ("JWKS_REFRESH_INTERVAL_SECONDS", "300"),
        ("ROUTE_SCOPES", "POST /pets=write:pets"),
    ])
    .unwrap();
    let [users, machines] = &c.issuers[..] else {
        panic!("two issuers")
    };
    assert_eq!(users.leeway_seconds, 30);
    assert_eq!(users.kid_miss_cooldown, Duration::from_secs(60));
    assert!(users.require_sender_constraint);
    assert!(!machines.require_sender_constraint);
    // Settings an issuer leaves out come from the environment's.
    assert_eq!(users.refresh_interval, Duration::from_secs(300));
    assert_eq!(machines.leeway_seconds, 5);
    assert_eq!(
        machines.issuer,
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
    );
    assert_eq!(machines.algorithms, [Algorithm::RS256, Algorithm::ES256]);
    assert_eq!(c.route_rules.len(), 2);
    assert_eq!(c.route_rules[1].issuers, ["machines"]);
    assert_eq!(
        c.route_rules[1].claims,
        [("cognito:groups".to_owned(), vec!["admins".to_owned()])]
    );
    assert_eq!(
        c.captured_claims(),
        ["cognito:groups", "scope", "scp", "cnf"]
    );

    let (_dir, json) = file(
        "issuers.json",
        r#"{"issuers": [{"issuer": "https://a.example/", "audiences": ["x"]}]}"#,
    );
    let c = config(&[("CONFIG_FILE", &json)]).unwrap();
    assert_eq!(c.issuers[0].name, "a.example");
}

#[test]
fn config_file_problems_name_the_file_the_issuer_and_the_field() {
    let (_dir, path) = file(
        "bad.toml",
        r#"
        [[issuer]]
        name = "users"
        issuer = "https://users.example/"

        [[issuer]]
        name = "machines"
        user_pool_id = "not-a-pool"
        token_use = "access"
        client_ids = ["c"]
        leeway_seconds = 9999

        [[issuer]]
        name = "again"
        issuer = "http://evil.example/"
        audiences = ["a"]

        [[route]]
        route = "GET /pets"
        issuers = ["nobody"]
        scopes = ["read"]
        "#,
    );
    let err = config(&[("CONFIG_FILE", &path), ("AUDIENCE", "x")]).unwrap_err();
    let text = err.to_string();
    for expected in [
        "AUDIENCE: CONFIG_FILE lists the issuers",
        r#"bad.toml: issuer "users": audiences: is required"#,
        r#"bad.toml: issuer "machines": user_pool_id: "not-a-pool""#,
        r#"bad.toml: issuer "machines": leeway_seconds: 9999"#,
        r#"bad.toml: issuer "again": issuer: http://evil.example/"#,
        r#"bad.toml: route "GET /pets": issuers: "nobody""#,
    ] {
        assert!(text.contains(expected), "{expected:?} not in\n{text}");
    }

    let (_dir, typo) = file("typo.toml", "[[issuer]]\naudience = [\"a\"]\n");
    let text = config(&[("CONFIG_FILE", &typo)]).unwrap_err().to_string();
    assert!(
        text.contains("typo.toml") && text.contains("audience"),
        "{text}"
    );

    let (_dir, twice) = file(
        "twice.toml",
        r#"
        [[issuer]]
        issuer = "https://same.example/"
        audiences = ["a"]
        [[issuer]]
        name = "other"
        issuer = "https://same.example/"
        audiences = ["b"]
        "#,
    );
    let text = config(&[("CONFIG_FILE", &twice)]).unwrap_err().to_string();
    assert!(text.contains("each `iss` selects one issuer"), "{text}");
    let missing = config(&[("CONFIG_FILE", "/nonexistent/issuers.toml")]).unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("/nonexistent/issuers.toml: cannot be read")
    );
}

#[test]
fn the_kid_miss_cooldown_is_at_least_a_second() {
    let c = config(&[
        ("TOKEN_ISSUER", "https://tenant.auth0.com/"),
        ("AUDIENCE", "a"),
        ("JWKS_KID_MISS_COOLDOWN_SECONDS", "0"),
    ])
    .unwrap();
    assert_eq!(c.issuers[0].kid_miss_cooldown, Duration::from_secs(1));
}

#[test]
fn every_issuer_field_names_a_key_of_the_file_and_a_variable_of_the_environment() {
    // The file's keys are the members of `IssuerSpec`: serde lists them for an unknown one.
    let error = toml::from_str::<spec::IssuerSpec>("unknown = 1").unwrap_err();
    let table = toml::from_str::<introspection::IntrospectionSpec>("unknown = 1").unwrap_err();
    for field in field::Field::ALL {
        assert!(
            error.to_string().contains(&format!("`{}`", field.key())),
            "{field:?}: {error}"
        );
    }
    for field in field::Field::INTROSPECTION {
        let key = field.key().strip_prefix("introspection.").unwrap();
        assert!(
            table.to_string().contains(&format!("`{key}`")),
            "{field:?}: {table}"
        );
    }
    for field in field::Field::ALL
        .into_iter()
        .chain(field::Field::INTROSPECTION)
    {
        assert!(
            VARIABLES.iter().any(|(v, ..)| *v == field.variable()),
            "{field:?}"
        );
    }
}

#[test]
fn requiring_bound_tokens_warns_unless_the_cache_key_holds_the_proof() {
    let base = [
        ("TOKEN_ISSUER", "https://tenant.auth0.com/"),
        ("JWKS_URI", "https://tenant.auth0.com/.well-known/jwks.json"),
        ("AUDIENCE", "https://api.example.com"),
    ];
    let with = |extra: &[(&str, &str)]| {
        let mut vars = base.to_vec();
        vars.extend_from_slice(extra);
        config(&vars).unwrap().sender_constraint_cache_warning()
    };
    assert_eq!(with(&[]), None);
    let warning = with(&[("REQUIRE_SENDER_CONSTRAINT", "true")]).expect("a warning");
    assert!(warning.contains("TTL is 0"), "{warning}");
    assert!(
        warning.contains("$request.header.Authorization"),
        "{warning}"
    );
    let proof_in_key = (
        "IDENTITY_SOURCE",
        "method.request.header.Authorization,method.request.header.DPoP",
    );
    assert_eq!(
        with(&[("REQUIRE_SENDER_CONSTRAINT", "true"), proof_in_key]),
        None
    );
}
