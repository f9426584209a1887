//! Property tests: whatever arrives, the handler answers without panicking, and nothing that is not
//! a token signed by the issuer's key is ever allowed. Signed tokens with arbitrary claims are
//! judged by a reference model of the claim rules, written here from RFC 7519 and the README
//! rather than taken from the code under test.

mod support;

use jwt_authorizer::{Authorizer, Decision, Outcome, Reject};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::OnceLock;
use support::*;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    authorizer: Authorizer,
    _server: JwksServer,
    /// The time of every authorization, so that the model and the authorizer agree on "now".
    now: u64,
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
            now: now(),
        }
    })
}

fn decide(event: &[u8]) -> Decision {
    let f = fixture();
    let mut out = Vec::new();
    let decision = f
        .runtime
        .block_on(f.authorizer.authorize_at(event, f.now, &mut out));
    if decision.outcome == Outcome::Unauthorized {
        assert!(out.is_empty());
    } else {
        serde_json::from_slice::<serde_json::Value>(&out).expect("answers are JSON");
    }
    decision
}

fn outcome(event: &[u8]) -> Outcome {
    decide(event).outcome
}

fn bearer(token: &str) -> Vec<u8> {
    token_event(&format!("Bearer {token}"))
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
    fn random_well_framed_tokens_are_never_allowed(
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

    /// Valid claims of the configured issuer, with a signature that is not the issuer's over
    /// exactly this header and payload: each is refused as `bad_signature` of that issuer (not
    /// earlier, for another reason).
    #[test]
    fn well_framed_tokens_without_the_issuers_signature_are_never_allowed(
        claims in valid_claims(),
        forgery in forgery(),
    ) {
        let token = forge(&claims, &forgery);
        let decision = decide(&bearer(&token));
        prop_assert_eq!(decision.outcome, Outcome::Unauthorized, "{:?}", forgery);
        prop_assert_eq!(decision.reject, Some(Reject::BadSignature), "{:?}", forgery);
        prop_assert_eq!(decision.issuer, Some(0));
        // The same claims with the issuer's own signature pass: the forgery is what refused it.
        let genuine = rsa_key("prop").sign(&claims).unwrap();
        prop_assert_eq!(decide(&bearer(&genuine)).outcome, Outcome::Allow);
    }

    /// About half of the claim sets are valid, the others have one claim changed to something
    /// arbitrary; signed by the issuer, each is allowed exactly when the reference model says so.
    #[test]
    fn signed_tokens_with_arbitrary_claims_are_allowed_exactly_when_valid(
        claims in claims_with_one_change(),
    ) {
        let token = rsa_key("prop").sign(&claims).unwrap();
        let decision = decide(&bearer(&token));
        let expected = model_allows(&claims, fixture().now);
        prop_assert_eq!(
            decision.outcome == Outcome::Allow,
            expected,
            "{} ({:?})",
            claims,
            decision.reject
        );
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

/// A signature that is not the issuer's over the token's own header and payload.
#[derive(Clone, Debug)]
enum Forgery {
    /// Another RSA key's signature, under the issuer's kid.
    ForeignKey,
    /// Random bytes of any length but zero (an empty signature segment is `malformed`).
    Random(Vec<u8>),
    /// The issuer's signature with one bit flipped.
    FlippedBit(usize),
    /// The issuer's signature of other claims.
    OtherClaims,
    /// The issuer's signature, then the header changed (`typ` added).
    ChangedHeader,
    /// The issuer's signature, then one claim changed (`sub`).
    ChangedClaim(String),
}

fn forgery() -> impl Strategy<Value = Forgery> {
    prop_oneof![
        Just(Forgery::ForeignKey),
        prop::collection::vec(any::<u8>(), 1..600).prop_map(Forgery::Random),
        (0..2048usize).prop_map(Forgery::FlippedBit),
        Just(Forgery::OtherClaims),
        Just(Forgery::ChangedHeader),
        "[a-z0-9|]{1,12}".prop_map(Forgery::ChangedClaim),
    ]
}

fn forge(claims: &Value, forgery: &Forgery) -> String {
    let key = rsa_key("prop");
    let header = json!({"alg": "RS256", "kid": "prop"}).to_string();
    let payload = claims.to_string();
    let genuine = sign_bytes(key, header.as_bytes(), payload.as_bytes());
    let (signing_input, signature) = genuine.rsplit_once('.').unwrap();
    match forgery {
        Forgery::ForeignKey => sign_bytes(
            rsa_key("prop-foreign"),
            header.as_bytes(),
            payload.as_bytes(),
        ),
        Forgery::Random(bytes) => format!("{signing_input}.{}", b64(bytes)),
        Forgery::FlippedBit(bit) => {
            use base64::Engine;
            let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(signature)
                .unwrap();
            bytes[bit / 8] ^= 1 << (bit % 8);
            format!("{signing_input}.{}", b64(bytes))
        }
        Forgery::OtherClaims => {
            let mut other = claims.clone();
            other["jti"] = json!("another token");
            let elsewhere = sign_bytes(key, header.as_bytes(), other.to_string().as_bytes());
            let (_, signature) = elsewhere.rsplit_once('.').unwrap();
            format!("{signing_input}.{signature}")
        }
        Forgery::ChangedHeader => {
            let header = json!({"alg": "RS256", "kid": "prop", "typ": "JWT"}).to_string();
            format!("{}.{}.{signature}", b64(header), b64(&payload))
        }
        Forgery::ChangedClaim(sub) => {
            let mut changed = claims.clone();
            let sub = if changed["sub"] == json!(sub) {
                format!("{sub}!")
            } else {
                sub.clone()
            };
            changed["sub"] = json!(sub);
            format!("{}.{}.{signature}", b64(&header), b64(changed.to_string()))
        }
    }
}

/// Claims that pass every rule of the fixture's issuer at the fixture's time, in the shapes
/// issuers send (audience as a string or an array, optional `nbf` and `iat`, extra claims).
fn valid_claims() -> impl Strategy<Value = Value> {
    let f = fixture();
    let (issuer, now) = (f._server.issuer(), f.now as i64);
    let aud = prop::sample::select(vec![
        json!(AUDIENCE),
        json!([AUDIENCE, "x"]),
        json!(["x", AUDIENCE]),
    ]);
    (
        aud,
        "[^\\x00]{1,16}",
        -4i64..100_000,
        prop::option::of(-100_000i64..5),
        prop::option::of(-100_000i64..5),
        prop::option::of(".{0,16}"),
    )
        .prop_map(move |(aud, sub, exp, nbf, iat, email)| {
            let mut claims = json!({"iss": issuer, "sub": sub, "aud": aud, "exp": now + exp});
            if let Some(nbf) = nbf {
                claims["nbf"] = json!(now + nbf);
            }
            if let Some(iat) = iat {
                claims["iat"] = json!(now + iat);
            }
            if let Some(email) = email {
                claims["email"] = json!(email);
            }
            claims
        })
}

/// Valid claims, half of the time with one registered claim removed or replaced by an arbitrary
/// value (which may or may not break it: the model decides).
fn claims_with_one_change() -> impl Strategy<Value = Value> {
    let f = fixture();
    let (issuer, now) = (f._server.issuer(), f.now as i64);
    let value = prop_oneof![
        Just(None),
        Just(Some(json!(null))),
        any::<bool>().prop_map(|b| Some(json!(b))),
        any::<i64>().prop_map(|n| Some(json!(n))),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Some(json!(f))),
        ".{0,8}".prop_map(|s| Some(json!(s))),
        (-10i64..10).prop_map(move |d| Some(json!(now + d))),
        (-10i64..10).prop_map(move |d| Some(json!(now as f64 + d as f64 + 0.5))),
        Just(Some(json!(now + 3600))),
        Just(Some(json!((now + 3600).to_string()))),
        Just(Some(json!(issuer.clone()))),
        Just(Some(json!(issuer.trim_end_matches('/')))),
        Just(Some(json!(issuer.to_uppercase()))),
        Just(Some(json!(AUDIENCE))),
        Just(Some(json!([AUDIENCE, "x"]))),
        Just(Some(json!([AUDIENCE, 1]))),
        Just(Some(json!(["x"]))),
        Just(Some(json!([]))),
        Just(Some(json!({"aud": AUDIENCE}))),
    ];
    let name = prop::sample::select(vec!["iss", "sub", "aud", "exp", "nbf", "iat"]);
    (valid_claims(), any::<bool>(), name, value).prop_map(|(mut claims, change, name, value)| {
        if change {
            match value {
                Some(value) => claims[name] = value,
                None => {
                    claims.as_object_mut().unwrap().remove(name);
                }
            }
        }
        claims
    })
}

/// The claim rules of the fixture's issuer (default leeway of 5 s), from RFC 7519 §4.1 and the
/// README, independent of the code under test: `iss` exactly the issuer; `sub` a non-empty
/// string; `aud` the audience, or an array of strings holding it; `exp` a number with
/// `now < exp + leeway`; `nbf` and `iat`, when present, numbers at most `now + leeway`.
fn model_allows(claims: &Value, now: u64) -> bool {
    const LEEWAY: f64 = 5.0;
    let now = now as f64;
    let issuer = fixture()._server.issuer();
    let number = |name: &str| claims.get(name).map(Value::as_f64);
    let iss = claims.get("iss").and_then(Value::as_str) == Some(issuer.as_str());
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    let aud = match claims.get("aud") {
        Some(Value::String(aud)) => aud == AUDIENCE,
        Some(Value::Array(auds)) => {
            auds.iter().all(Value::is_string) && auds.iter().any(|a| a == AUDIENCE)
        }
        _ => false,
    };
    let exp = matches!(number("exp"), Some(Some(exp)) if now < exp + LEEWAY);
    let not_before = |name: &str| match number(name) {
        None => true,
        Some(Some(at)) => at <= now + LEEWAY,
        Some(None) => false,
    };
    iss && sub && aud && exp && not_before("nbf") && not_before("iat")
}
