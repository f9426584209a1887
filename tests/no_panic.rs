//! Property tests: whatever arrives, the handler answers without panicking, and nothing that is not
//! a token signed by the issuer's key is ever allowed.

mod support;

use jwt_authorizer::{Authorizer, Outcome};
use proptest::prelude::*;
use serde_json::json;
use std::sync::OnceLock;
use support::*;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    authorizer: Authorizer,
    _server: JwksServer,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = runtime.block_on(JwksServer::with_keys(&[rsa_key("prop")]));
        let authorizer = authorizer_for(&server, &[("ALLOWED_ALGORITHMS", "RS256,ES256,EdDSA")]);
        Fixture {
            runtime,
            authorizer,
            _server: server,
        }
    })
}

fn outcome(event: &[u8]) -> Outcome {
    let f = fixture();
    let mut out = Vec::new();
    let decision = f
        .runtime
        .block_on(f.authorizer.authorize_at(event, now(), &mut out));
    if decision.outcome == Outcome::Unauthorized {
        assert!(out.is_empty());
    } else {
        serde_json::from_slice::<serde_json::Value>(&out).expect("answers are JSON");
    }
    decision.outcome
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{0,64}",
        any::<Vec<u8>>().prop_map(b64),
        prop::sample::select(vec!["", "e30", "bnVsbA", "W10", "eyJhbGciOiJub25lIn0"])
            .prop_map(String::from),
    ]
}

fn header_json() -> impl Strategy<Value = String> {
    let alg = prop::sample::select(vec![
        "RS256", "none", "HS256", "ES256", "EdDSA", "rs256", "",
    ]);
    let kid = prop_oneof![Just("prop".to_string()), "[a-z0-9]{0,12}"];
    (alg, kid, any::<bool>(), any::<bool>()).prop_map(|(alg, kid, crit, with_kid)| {
        let mut header = json!({"alg": alg});
        if with_kid {
            header["kid"] = json!(kid);
        }
        if crit {
            header["crit"] = json!(["b64"]);
        }
        header.to_string()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_authorization_values_are_never_allowed(value in any::<String>()) {
        prop_assert_eq!(outcome(&token_event(&value)), Outcome::Unauthorized);
        prop_assert_eq!(outcome(&token_event(&format!("Bearer {value}"))), Outcome::Unauthorized);
    }

    #[test]
    fn arbitrary_bytes_as_an_event_are_never_allowed(bytes in any::<Vec<u8>>()) {
        prop_assert_eq!(outcome(&bytes), Outcome::Unauthorized);
    }

    #[test]
    fn well_framed_tokens_without_the_issuers_signature_are_never_allowed(
        header in header_json(),
        payload in any::<String>(),
        signature in segment(),
        extra in prop::collection::vec(segment(), 0..3),
    ) {
        let mut token = format!("{}.{}.{}", b64(&header), b64(&payload), signature);
        for s in extra {
            token.push('.');
            token.push_str(&s);
        }
        prop_assert_eq!(outcome(&token_event(&format!("Bearer {token}"))), Outcome::Unauthorized);
    }

    #[test]
    fn signed_tokens_with_arbitrary_claims_never_panic(claims in arbitrary_claims()) {
        let token = rsa_key("prop").sign(&claims).unwrap();
        let result = outcome(&token_event(&format!("Bearer {token}")));
        let issuer = fixture()._server.issuer();
        let valid = claims.get("iss") == Some(&json!(issuer))
            && claims.get("aud").is_some_and(|a| *a == json!(AUDIENCE) || *a == json!([AUDIENCE, "x"]))
            && claims.get("exp").and_then(|e| e.as_f64()).is_some_and(|e| e > now() as f64)
            && claims.get("sub").and_then(|s| s.as_str()).is_some_and(|s| !s.is_empty());
        if result == Outcome::Allow {
            prop_assert!(valid, "allowed {claims}");
        }
    }

    #[test]
    fn arbitrary_event_shapes_are_handled(
        kind in prop::sample::select(vec!["TOKEN", "REQUEST", "token", "X"]),
        version in prop::option::of(prop::sample::select(vec!["1.0", "2.0"])),
        header_name in "[A-Za-z-]{0,16}",
        header_value in any::<String>(),
        arn in prop_oneof![Just(METHOD_ARN.to_string()), any::<String>()],
    ) {
        let mut event = json!({"type": kind, "methodArn": arn, "routeArn": arn,
            "headers": {header_name: header_value}, "identitySource": [header_value]});
        if let Some(v) = version {
            event["version"] = json!(v);
        }
        prop_assert_eq!(outcome(&serde_json::to_vec(&event).unwrap()), Outcome::Unauthorized);
    }
}

fn arbitrary_claims() -> impl Strategy<Value = serde_json::Value> {
    let issuer = fixture()._server.issuer();
    let value = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(|b| json!(b)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,8}".prop_map(|s| json!(s)),
        Just(json!(AUDIENCE)),
        Just(json!([AUDIENCE, "x"])),
        Just(json!(now() + 600)),
        Just(json!(issuer.clone())),
    ];
    let names = prop::sample::select(vec![
        "iss", "sub", "aud", "exp", "nbf", "iat", "scope", "email", "x",
    ]);
    prop::collection::btree_map(names, value, 0..9).prop_map(|map| {
        serde_json::Value::Object(map.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    })
}
