//! Every token rule, accepted or rejected as stated, against a real JWKS server on 127.0.0.1.

mod support;

use jwt_authorizer::issuer::SigningKey;
use jwt_authorizer::{Algorithm, Outcome, Reject};
use serde_json::{Value, json};
use support::*;

async fn setup() -> (JwksServer, jwt_authorizer::Authorizer, &'static SigningKey) {
    let key = rsa_key("main-key");
    let server = JwksServer::with_keys(&[key]).await;
    let authorizer = authorizer_for(&server, &[]);
    (server, authorizer, key)
}

async fn assert_rejected(authorizer: &jwt_authorizer::Authorizer, token: &str, reason: Reject) {
    let (decision, answer) = authorize(authorizer, token).await;
    assert_eq!(decision.outcome, Outcome::Unauthorized, "{decision:?}");
    assert_eq!(decision.reject, Some(reason), "{decision:?}");
    assert_eq!(
        answer, None,
        "nothing but `Unauthorized` reaches the caller"
    );
}

fn with(claims: &Value, changes: Value) -> Value {
    let mut claims = claims.clone();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

#[tokio::test]
async fn a_valid_auth0_style_token_gets_a_stage_wide_allow_policy() {
    let (server, authorizer, key) = setup().await;
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    let (decision, answer) = authorize(&authorizer, &token).await;
    assert_eq!(decision.outcome, Outcome::Allow);
    assert_eq!(decision.sub.as_str(), "auth0|alice");
    assert_eq!(decision.kid.as_str(), "main-key");
    assert_eq!(
        answer.unwrap(),
        json!({
            "principalId": "auth0|alice",
            "policyDocument": {"Version": "2012-10-17", "Statement": [{
                "Action": "execute-api:Invoke", "Effect": "Allow",
                "Resource": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/*/*"
            }]},
            "context": {"scope": "openid read:pets"}
        })
    );
}

#[tokio::test]
async fn alg_none_and_hmac_with_the_public_key_are_refused() {
    let (server, authorizer, key) = setup().await;
    let claims = good_claims(&server.issuer());
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "kid": "main-key"}).to_string()),
        b64(claims.to_string())
    );
    assert_rejected(&authorizer, &unsigned, Reject::Malformed).await;
    let none_with_signature = format!("{unsigned}c2ln");
    assert_rejected(&authorizer, &none_with_signature, Reject::AlgNotAllowed).await;

    // The classic key-confusion attack: HS256 keyed with the issuer's public key.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("main-key".into());
    let secret = jsonwebtoken::EncodingKey::from_secret(public_key_pem(key).as_bytes());
    let hmac = jsonwebtoken::encode(&header, &claims, &secret).unwrap();
    assert_rejected(&authorizer, &hmac, Reject::AlgNotAllowed).await;
}

#[tokio::test]
async fn tampered_tokens_and_a_wrong_key_with_the_right_kid_fail_the_signature() {
    let (server, authorizer, key) = setup().await;
    let claims = good_claims(&server.issuer());
    let token = key.sign(&claims).unwrap();
    let parts: Vec<&str> = token.split('.').collect();

    let admin = b64(with(&claims, json!({"sub": "admin"})).to_string());
    assert_rejected(
        &authorizer,
        &format!("{}.{admin}.{}", parts[0], parts[2]),
        Reject::BadSignature,
    )
    .await;

    let mut signature = parts[2].as_bytes().to_vec();
    signature[10] = if signature[10] == b'A' { b'B' } else { b'A' };
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        String::from_utf8(signature).unwrap()
    );
    assert_rejected(&authorizer, &tampered, Reject::BadSignature).await;

    let impostor = SigningKey::generate(Algorithm::RS256, "main-key").unwrap();
    assert_rejected(
        &authorizer,
        &impostor.sign(&claims).unwrap(),
        Reject::BadSignature,
    )
    .await;
}

#[tokio::test]
async fn header_rules_kid_and_crit() {
    let (server, authorizer, key) = setup().await;
    let claims = good_claims(&server.issuer());
    let no_kid = sign_raw(key, &json!({"alg": "RS256", "typ": "JWT"}), &claims);
    assert_rejected(&authorizer, &no_kid, Reject::MissingKid).await;
    let crit = sign_raw(
        key,
        &json!({"alg": "RS256", "kid": "main-key", "crit": ["exp"], "exp": 1}),
        &claims,
    );
    assert_rejected(&authorizer, &crit, Reject::UnsupportedCrit).await;
    let fine = sign_raw(
        key,
        &json!({"alg": "RS256", "kid": "main-key", "typ": "at+jwt"}),
        &claims,
    );
    assert_eq!(
        authorize(&authorizer, &fine).await.0.outcome,
        Outcome::Allow
    );
    let unknown = sign_raw(key, &json!({"alg": "RS256", "kid": "nobody"}), &claims);
    assert_rejected(&authorizer, &unknown, Reject::UnknownKid).await;
}

#[tokio::test]
async fn claim_rules() {
    let (server, authorizer, key) = setup().await;
    let claims = good_claims(&server.issuer());
    let now = now();
    let cases = [
        (json!({"exp": now - 60}), Reject::Expired),
        (json!({"nbf": now + 600}), Reject::NotYetValid),
        (json!({"iat": now + 600}), Reject::NotYetValid),
        (json!({"exp": null}), Reject::MissingClaim),
        (
            json!({"exp": (now + 600).to_string()}),
            Reject::InvalidClaim,
        ),
        (
            json!({"aud": "https://other.example.com"}),
            Reject::BadAudience,
        ),
        (
            json!({"aud": ["https://other.example.com", "x"]}),
            Reject::BadAudience,
        ),
        (json!({"aud": []}), Reject::BadAudience),
        (json!({"aud": null}), Reject::BadAudience),
        (
            json!({"iss": "https://evil.example.com/"}),
            Reject::UnknownIssuer,
        ),
        (
            json!({"iss": server.issuer().trim_end_matches('/')}),
            Reject::UnknownIssuer,
        ),
        (json!({"sub": null}), Reject::MissingClaim),
    ];
    for (change, reason) in cases {
        let token = key.sign(&with(&claims, change.clone())).unwrap();
        let (decision, answer) = authorize(&authorizer, &token).await;
        assert_eq!(decision.reject, Some(reason), "{change}");
        assert_eq!(answer, None);
    }
    // An audience string and a leeway-covered expiry are fine.
    for change in [
        json!({"aud": AUDIENCE}),
        json!({"exp": now - 2}),
        json!({"nbf": now + 2}),
    ] {
        let token = key.sign(&with(&claims, change.clone())).unwrap();
        assert_eq!(
            authorize(&authorizer, &token).await.0.outcome,
            Outcome::Allow,
            "{change}"
        );
    }
}

#[tokio::test]
async fn framing_rules() {
    let (server, authorizer, key) = setup().await;
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let framing: [(String, Reject); 6] = [
        (format!("{}.{}", parts[0], parts[1]), Reject::Malformed),
        (
            format!("{token}.{}.{}", parts[1], parts[2]),
            Reject::Malformed,
        ),
        (
            format!("{}.{}!.{}", parts[0], parts[1], parts[2]),
            Reject::Malformed,
        ),
        // `{}`: no `iss`, so no issuer's keys are even looked at.
        (
            format!("{}.{}.{}", parts[0], "e30", parts[2]),
            Reject::UnknownIssuer,
        ),
        (
            format!("{}.{}.{}=", parts[0], parts[1], parts[2]),
            Reject::Malformed,
        ),
        (
            format!("x{}.{}.{}", parts[0], parts[1], parts[2]),
            Reject::Malformed,
        ),
    ];
    for (bad, reason) in framing {
        assert_rejected(&authorizer, &bad, reason).await;
    }
    let huge_claims = with(
        &good_claims(&server.issuer()),
        json!({"padding": "x".repeat(17_000)}),
    );
    assert_rejected(
        &authorizer,
        &key.sign(&huge_claims).unwrap(),
        Reject::TokenTooLarge,
    )
    .await;

    for (authorization, reason) in [
        (String::new(), Reject::MissingToken),
        (format!("Basic {token}"), Reject::Malformed),
        (format!("Bearer  {token}"), Reject::Malformed),
        (token.clone(), Reject::Malformed),
    ] {
        let (decision, _) = authorize_event(&authorizer, &token_event(&authorization)).await;
        assert_eq!(decision.reject, Some(reason), "{authorization:.20}");
    }
    let (decision, _) =
        authorize_event(&authorizer, &token_event(&format!("bEaReR {token}"))).await;
    assert_eq!(decision.outcome, Outcome::Allow);
}

/// Every segment must be canonical base64url before any header or claim rule is looked at, so a
/// malformed token is refused as `Malformed` whatever else is wrong with it; and a token the
/// verified-token cache knows lends nothing to one that differs from it, even in the unused bits
/// of its signature's last character.
#[tokio::test]
async fn malformed_segments_are_refused_first_beside_a_cached_token() {
    let (server, cached, key) = setup().await;
    let uncached = authorizer_for(&server, &[("VERIFIED_TOKEN_CACHE_SIZE", "0")]);
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let (header, payload, signature) = (parts[0], parts[1], parts[2]);
    // An RSA-2048 signature is 342 characters: the last one carries 4 unused bits, which a
    // canonical encoding leaves at zero (`A`, `Q`, `g`, `w`); the next character sets one.
    let (rest, last) = signature.split_at(signature.len() - 1);
    let next = match last {
        "A" => "B",
        "Q" => "R",
        "g" => "h",
        "w" => "x",
        _ => unreachable!("canonical: {last}"),
    };
    let non_canonical = format!("{rest}{next}");
    let none = b64(r#"{"alg":"none","kid":"main-key"}"#);
    let cases = [
        (
            format!("{none}.{payload}.{signature}"),
            Reject::AlgNotAllowed,
        ),
        (format!("{none}.{payload}!.{signature}"), Reject::Malformed),
        (
            format!("{none}.{payload}.{non_canonical}"),
            Reject::Malformed,
        ),
        (format!("{none}.{payload}.{signature}!"), Reject::Malformed),
        (
            format!("{header}.{payload}.{non_canonical}"),
            Reject::Malformed,
        ),
        (
            format!("{header}.{payload}.{signature}*"),
            Reject::Malformed,
        ),
        // One more (canonical) character: 257 bytes, which the key does not verify.
        (
            format!("{header}.{payload}.{signature}A"),
            Reject::BadSignature,
        ),
    ];
    for authorizer in [&cached, &uncached] {
        for _ in 0..2 {
            let (decision, _) = authorize(authorizer, &token).await;
            assert_eq!(decision.outcome, Outcome::Allow);
        }
        for (bad, reason) in &cases {
            assert_rejected(authorizer, bad, *reason).await;
        }
    }
    let (decision, _) = authorize(&cached, &token).await;
    assert!(decision.cache_hit, "the token itself is still known");
}

#[tokio::test]
async fn keys_the_issuer_should_not_use_are_skipped() {
    let good = rsa_key("good");
    let short = short_rsa_jwk_and_token("short-1024");
    let enc = rsa_key("enc-key");
    let mut enc_jwk = serde_json::to_value(enc.jwk()).unwrap();
    enc_jwk["use"] = json!("enc");
    let mut rs384_jwk = serde_json::to_value(rsa_key("rs384-key").jwk()).unwrap();
    rs384_jwk["alg"] = json!("RS384");
    let jwks = json!({"keys": [serde_json::to_value(good.jwk()).unwrap(), short.0, enc_jwk, rs384_jwk,
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}, {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"}]});
    let server = JwksServer::start(jwks.to_string()).await;
    let authorizer = authorizer_for(&server, &[("ALLOWED_ALGORITHMS", "RS256,RS384")]);
    let claims = good_claims(&server.issuer());

    assert_eq!(
        authorize(&authorizer, &good.sign(&claims).unwrap())
            .await
            .0
            .outcome,
        Outcome::Allow
    );
    assert_rejected(&authorizer, &short.1(&claims), Reject::UnknownKid).await;
    assert_rejected(&authorizer, &enc.sign(&claims).unwrap(), Reject::UnknownKid).await;
    assert_rejected(
        &authorizer,
        &rsa_key("rs384-key").sign(&claims).unwrap(),
        Reject::KeyAlgMismatch,
    )
    .await;
    let keys = authorizer.issuers()[0].keys().keys();
    assert_eq!(keys.kids().collect::<Vec<_>>(), ["good", "rs384-key"]);
}

/// A 1024-bit RSA key's JWK, and a signer of RS256 tokens with it (aws-lc-rs will not make one).
fn short_rsa_jwk_and_token(kid: &'static str) -> (Value, impl Fn(&Value) -> String) {
    use rsa::pkcs1v15::SigningKey as Pkcs1Signer;
    use rsa::signature::{SignatureEncoding, Signer};
    use rsa::traits::PublicKeyParts;
    let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
    let jwk = json!({"kty": "RSA", "kid": kid, "use": "sig",
        "n": b64(private.n().to_bytes_be()), "e": b64(private.e().to_bytes_be())});
    let signer = Pkcs1Signer::<rsa::sha2::Sha256>::new(private);
    let sign = move |claims: &Value| {
        let message = format!(
            "{}.{}",
            b64(json!({"alg": "RS256", "kid": kid}).to_string()),
            b64(claims.to_string())
        );
        format!(
            "{message}.{}",
            b64(signer.sign(message.as_bytes()).to_bytes())
        )
    };
    (jwk, sign)
}

#[tokio::test]
async fn other_algorithms_are_accepted_only_when_listed() {
    let es = SigningKey::generate(Algorithm::ES256, "es").unwrap();
    let ed = SigningKey::generate(Algorithm::EdDSA, "ed").unwrap();
    let ps = SigningKey::generate(Algorithm::PS256, "ps").unwrap();
    let es384 = SigningKey::generate(Algorithm::ES384, "es384").unwrap();
    let keys = [&es, &ed, &ps, &es384];
    let server = JwksServer::with_keys(&keys).await;
    let claims = good_claims(&server.issuer());
    let strict = authorizer_for(&server, &[]);
    for key in keys {
        assert_rejected(&strict, &key.sign(&claims).unwrap(), Reject::AlgNotAllowed).await;
    }
    let open = authorizer_for(
        &server,
        &[("ALLOWED_ALGORITHMS", "ES256, EdDSA, PS256, ES384")],
    );
    for key in keys {
        assert_eq!(
            authorize(&open, &key.sign(&claims).unwrap())
                .await
                .0
                .outcome,
            Outcome::Allow,
            "{}",
            key.alg()
        );
    }
}

/// Regression (fuzz target `claims`): a signed payload with invalid UTF-8 in a claim we do not
/// read was allowed, because serde_json skips unread members without checking their UTF-8. A
/// JWT claims set is UTF-8 JSON (RFC 7519 §7.2); so is a JOSE header (RFC 7515 §5.2).
#[tokio::test]
async fn a_signed_token_that_is_not_utf8_json_is_refused() {
    let (server, authorizer, key) = setup().await;
    let claims = good_claims(&server.issuer()).to_string();
    let header = json!({"alg": "RS256", "kid": "main-key"}).to_string();
    let fine = sign_bytes(key, header.as_bytes(), claims.as_bytes());
    assert_eq!(
        authorize(&authorizer, &fine).await.0.outcome,
        Outcome::Allow
    );
    let mut payload = claims.clone().into_bytes();
    payload.splice(1..1, *b"\"azp\":\"client-\xf9\xf9\",");
    let bad_payload = sign_bytes(key, header.as_bytes(), &payload);
    assert_rejected(&authorizer, &bad_payload, Reject::Malformed).await;
    let mut bad_header = header.into_bytes();
    bad_header.splice(1..1, *b"\"typ\":\"\xff\",");
    let bad_header = sign_bytes(key, &bad_header, claims.as_bytes());
    assert_rejected(&authorizer, &bad_header, Reject::Malformed).await;
}

#[tokio::test]
async fn claims_required_by_the_environment_must_be_present() {
    let key = rsa_key("required");
    let server = JwksServer::with_keys(&[key]).await;
    let authorizer = authorizer_for(&server, &[("REQUIRED_CLAIMS", "email, org_id")]);
    let claims = with(
        &good_claims(&server.issuer()),
        json!({"email": "a@example.com", "org_id": "org-1"}),
    );
    assert_eq!(
        authorize(&authorizer, &key.sign(&claims).unwrap())
            .await
            .0
            .outcome,
        Outcome::Allow
    );
    for missing in ["email", "org_id"] {
        let without = with(&claims, json!({ missing: null }));
        assert_rejected(
            &authorizer,
            &key.sign(&without).unwrap(),
            Reject::MissingClaim,
        )
        .await;
    }
    // Without REQUIRED_CLAIMS the same token passes: the variable is what refuses it.
    let lenient = authorizer_for(&server, &[]);
    let without = with(&claims, json!({"email": null, "org_id": null}));
    assert_eq!(
        authorize(&lenient, &key.sign(&without).unwrap())
            .await
            .0
            .outcome,
        Outcome::Allow
    );
}

/// RFC 7515 §4.1.1 and RFC 8725 §3.1: the key must be of the type the header's `alg` needs. An
/// ES256 header naming an RSA key (and the other way round) is refused before any verification.
#[tokio::test]
async fn a_header_alg_for_another_key_type_than_the_named_key_is_refused() {
    let rsa = rsa_key("mismatch-rsa");
    let ec = SigningKey::generate(Algorithm::ES256, "mismatch-ec").unwrap();
    let server = JwksServer::with_keys(&[rsa, &ec]).await;
    let authorizer = authorizer_for(&server, &[("ALLOWED_ALGORITHMS", "RS256,ES256")]);
    let claims = good_claims(&server.issuer());
    // The EC key's signature under a header that names the RSA key, and vice versa.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(rsa.kid().to_owned());
    let es256_naming_rsa = ec.sign_with_header(&header, &claims).unwrap();
    assert_rejected(&authorizer, &es256_naming_rsa, Reject::KeyAlgMismatch).await;
    let rs256_naming_ec = sign_raw(rsa, &json!({"alg": "RS256", "kid": ec.kid()}), &claims);
    assert_rejected(&authorizer, &rs256_naming_ec, Reject::KeyAlgMismatch).await;
    for key in [rsa, &ec] {
        assert_eq!(
            authorize(&authorizer, &key.sign(&claims).unwrap())
                .await
                .0
                .outcome,
            Outcome::Allow
        );
    }
    assert_eq!(server.hits(), 1, "a mismatch is no reason to fetch");
}

/// The most claims a configuration may keep raw (`MAX_CAPTURED_CLAIMS`, 16, with `cnf` always
/// kept beside them in a fixed array) all reach the answer's context, the last one too.
/// (cargo-mutants: with one slot fewer, or none for `cnf`, nothing else noticed.)
#[tokio::test]
async fn the_most_context_claims_allowed_all_reach_the_answer() {
    let key = rsa_key("many-claims");
    let server = JwksServer::with_keys(&[key]).await;
    // 14 claims of the token and `scp` in the context, and `scope` (a scope claim, always
    // passed): 16 captured.
    let names: Vec<String> = (0..14).map(|i| format!("claim{i}")).collect();
    let context_claims = format!("{},scp", names.join(","));
    let authorizer = authorizer_for(&server, &[("CONTEXT_CLAIMS", &context_claims)]);
    let mut claims = good_claims(&server.issuer());
    let mut context = json!({"scope": "openid read:pets", "scp": "admin"});
    for (i, name) in names.iter().enumerate() {
        claims[name] = json!(format!("value {i}"));
        context[name] = json!(format!("value {i}"));
    }
    claims["scp"] = json!("admin");
    let (decision, answer) = authorize(&authorizer, &key.sign(&claims).unwrap()).await;
    assert_eq!(decision.outcome, Outcome::Allow, "{decision:?}");
    assert_eq!(answer.unwrap()["context"], context);
}
