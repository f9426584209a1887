//! Abuse: what an attacker who controls the token and the request can throw at the authorizer.
//! Floods of random kids, huge headers, deeply nested JSON, 10,000 audiences and 64 KB claims each
//! get the right answer (almost always `Unauthorized`), cost the issuer no JWKS traffic beyond the
//! kid-miss cooldown, and grow no cache. Work per request is shown in benchmarks, not timed here:
//! these tests bound counts and sizes.

mod support;

use jwt_authorizer::issuer::SigningKey;
use jwt_authorizer::{Algorithm, Outcome, Reject};
use serde_json::{Value, json};
use std::sync::Arc;
use support::*;

/// A token with this header and claims and a signature nobody made: what an attacker sends for
/// free (no key, no signing cost).
fn forged(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string()),
        b64(claims.to_string()),
        b64([7u8; 256])
    )
}

/// `[[[ ... ]]]`, `depth` deep.
fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_random_kids_costs_one_fetch_per_cooldown_and_fills_no_cache() {
    let key = rsa_key("abuse-flood");
    let server = JwksServer::with_keys(&[key]).await;
    let authorizer = Arc::new(authorizer_for(
        &server,
        &[("JWKS_KID_MISS_COOLDOWN_SECONDS", "3600")],
    ));
    let claims = good_claims(&server.issuer());
    let good = key.sign(&claims).unwrap();
    assert_eq!(
        authorize(&authorizer, &good).await.0.outcome,
        Outcome::Allow
    );
    assert_eq!((server.hits(), authorizer.verified_tokens()), (1, 1));

    // 5,000 distinct kids, 500 at a time concurrently.
    for round in 0..10 {
        let tasks: Vec<_> = (0..500)
            .map(|i| {
                let token = forged(
                    &json!({"alg": "RS256", "kid": format!("random-{round}-{i}-{}", now())}),
                    &claims,
                );
                let authorizer = authorizer.clone();
                tokio::spawn(async move { authorize(&authorizer, &token).await })
            })
            .collect();
        for task in tasks {
            let (decision, answer) = task.await.unwrap();
            assert_eq!(decision.reject, Some(Reject::UnknownKid));
            assert_eq!(answer, None);
        }
    }
    assert_eq!(
        server.hits(),
        2,
        "5,000 unknown kids: one shared kid-miss fetch, then the cooldown"
    );
    assert_eq!(
        authorizer.verified_tokens(),
        1,
        "refused tokens are never remembered"
    );
    assert_eq!(
        authorizer.issuers()[0].keys().keys().len(),
        1,
        "the key set is the issuer's"
    );
    // The issuer's own tokens are still answered from the cached keys.
    assert_eq!(
        authorize(&authorizer, &good).await.0.outcome,
        Outcome::Allow
    );
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn the_verified_token_cache_stays_within_its_configured_size() {
    let key = SigningKey::generate(Algorithm::EdDSA, "abuse-ed").unwrap();
    let server = JwksServer::with_keys(&[&key]).await;
    let authorizer = authorizer_for(
        &server,
        &[
            ("ALLOWED_ALGORITHMS", "EdDSA"),
            ("VERIFIED_TOKEN_CACHE_SIZE", "64"),
        ],
    );
    let mut claims = good_claims(&server.issuer());
    for i in 0..1000 {
        claims["jti"] = json!(i);
        let token = key.sign(&claims).unwrap();
        assert_eq!(
            authorize(&authorizer, &token).await.0.outcome,
            Outcome::Allow
        );
        assert!(
            authorizer.verified_tokens() <= 64,
            "{} tokens remembered after {i}",
            authorizer.verified_tokens()
        );
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn huge_tokens_and_headers_are_refused_and_cost_the_issuer_nothing() {
    let key = rsa_key("abuse-huge");
    let server = JwksServer::with_keys(&[key]).await;
    let authorizer = authorizer_for(&server, &[("JWKS_KID_MISS_COOLDOWN_SECONDS", "3600")]);
    let claims = good_claims(&server.issuer());
    assert_eq!(
        authorize(&authorizer, &key.sign(&claims).unwrap())
            .await
            .0
            .outcome,
        Outcome::Allow
    );
    let hits = server.hits();

    // Over MAX_TOKEN_BYTES (16 KiB by default): refused before any parsing, whatever is inside.
    let padding = "x".repeat(64 << 10);
    for header in [
        json!({"alg": "RS256", "kid": key.kid(), "x": padding}),
        json!({"alg": "RS256", "kid": padding}),
    ] {
        let (decision, _) = authorize(&authorizer, &forged(&header, &claims)).await;
        assert_eq!(decision.reject, Some(Reject::TokenTooLarge));
    }
    // A 4 MiB Authorization value in a REQUEST event with 10,000 other headers.
    let mut headers: serde_json::Map<String, Value> = (0..10_000)
        .map(|i| (format!("x-junk-{i}"), json!("y".repeat(32))))
        .collect();
    headers.insert(
        "Authorization".into(),
        json!(format!("Bearer {}", "a".repeat(4 << 20))),
    );
    let event = json!({"type": "REQUEST", "methodArn": METHOD_ARN, "headers": headers});
    let (decision, _) = authorize_event(&authorizer, &event.to_string().into_bytes()).await;
    assert_eq!(decision.reject, Some(Reject::TokenTooLarge));

    // Under the limit, an 8 KiB kid: one kid-miss fetch, and what the logs get of it is truncated.
    let long_kid = forged(
        &json!({"alg": "RS256", "kid": "k".repeat(8 << 10)}),
        &claims,
    );
    for _ in 0..100 {
        let (decision, _) = authorize(&authorizer, &long_kid).await;
        assert_eq!(decision.reject, Some(Reject::UnknownKid));
        assert!(decision.kid.len() <= 64);
    }
    // Many header fields, then the real kid: a bad signature, found without any fetch.
    let mut header = json!({"alg": "RS256", "kid": key.kid()});
    for i in 0..500 {
        header[format!("f{i}")] = json!(i);
    }
    let (decision, _) = authorize(&authorizer, &forged(&header, &claims)).await;
    assert_eq!(decision.reject, Some(Reject::BadSignature));
    assert_eq!(
        server.hits(),
        hits + 1,
        "only the first unknown kid fetched"
    );
    assert_eq!(authorizer.verified_tokens(), 1);
}

/// `MAX_TOKEN_BYTES` is the longest token that is read: a token of exactly that many bytes is
/// answered, and the same token under a limit one byte lower is refused unread.
#[tokio::test]
async fn a_token_of_exactly_max_token_bytes_is_read_and_one_byte_over_is_not() {
    let key = rsa_key("abuse-limit");
    let server = JwksServer::with_keys(&[key]).await;
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    let exact = token.len().to_string();
    let at_limit = authorizer_for(&server, &[("MAX_TOKEN_BYTES", &exact)]);
    let (decision, _) = authorize(&at_limit, &token).await;
    assert_eq!(
        decision.outcome,
        Outcome::Allow,
        "{} bytes: {decision:?}",
        token.len()
    );

    let one_less = (token.len() - 1).to_string();
    let under = authorizer_for(&server, &[("MAX_TOKEN_BYTES", &one_less)]);
    let (decision, _) = authorize(&under, &token).await;
    assert_eq!(decision.reject, Some(Reject::TokenTooLarge));
    assert_eq!(
        server.hits(),
        1,
        "the refused token cost the issuer nothing"
    );
}

#[tokio::test]
async fn deeply_nested_json_in_the_event_header_and_payload_gets_the_right_answer_without_overflow()
{
    let key = rsa_key("abuse-nest");
    let server = JwksServer::with_keys(&[key]).await;
    let authorizer = authorizer_for(
        &server,
        &[("MAX_TOKEN_BYTES", "1048576"), ("CONTEXT_CLAIMS", "org")],
    );
    let claims = good_claims(&server.issuer());
    let good = key.sign(&claims).unwrap();
    // Fields we do not read are skipped without recursion, at any depth; fields we do read are
    // typed, and serde_json's recursion limit (128) refuses deep values there. Either way, no
    // depth overflows the stack (this test would abort), and the answer is the token's.
    for depth in [129, 10_000, 200_000] {
        let deep = nested(depth);
        let event = format!(
            r#"{{"type":"TOKEN","authorizationToken":"Bearer {good}","methodArn":"{METHOD_ARN}","x":{deep}}}"#
        );
        let (decision, _) = authorize_event(&authorizer, event.as_bytes()).await;
        assert_eq!(
            decision.outcome,
            Outcome::Allow,
            "event junk, depth {depth}"
        );

        let event = format!(
            r#"{{"type":"REQUEST","methodArn":"{METHOD_ARN}","headers":{{"x":{deep},"Authorization":"Bearer {good}"}}}}"#
        );
        let (decision, _) = authorize_event(&authorizer, event.as_bytes()).await;
        assert_eq!(
            decision.outcome,
            Outcome::Allow,
            "header junk, depth {depth}"
        );

        let event =
            format!(r#"{{"version":"2.0","routeArn":"{METHOD_ARN}","identitySource":{deep}}}"#);
        let (decision, _) = authorize_event(&authorizer, event.as_bytes()).await;
        assert_eq!(
            decision.reject,
            Some(Reject::BadEvent),
            "identitySource, depth {depth}"
        );

        let header = format!(r#"{{"alg":"RS256","kid":"{}","x":{deep}}}"#, key.kid());
        let token = format!(
            "{}.{}.{}",
            b64(&header),
            b64(claims.to_string()),
            b64([7u8; 256])
        );
        let (decision, _) = authorize(&authorizer, &token).await;
        assert_eq!(
            decision.reject,
            Some(Reject::BadSignature),
            "JOSE header, depth {depth}"
        );

        let payload = claims
            .to_string()
            .replacen('{', &format!(r#"{{"aud":{deep},"#), 1);
        let (decision, answer) = authorize(&authorizer, &sign_raw_payload(key, &payload)).await;
        assert_eq!(
            decision.outcome,
            Outcome::Unauthorized,
            "aud, depth {depth}"
        );
        assert_eq!(answer, None);
    }
    // A deep context claim is passed through as its JSON text, bounded by MAX_TOKEN_BYTES.
    for depth in [100, 10_000] {
        let mut payload: Value = claims.clone();
        payload.as_object_mut().unwrap().remove("org");
        let payload =
            payload
                .to_string()
                .replacen('{', &format!(r#"{{"org":{},"#, nested(depth)), 1);
        let (decision, answer) = authorize(&authorizer, &sign_raw_payload(key, &payload)).await;
        assert_eq!(
            decision.outcome,
            Outcome::Allow,
            "context claim, depth {depth}"
        );
        assert_eq!(answer.unwrap()["context"]["org"], json!(nested(depth)));
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn ten_thousand_audiences_get_the_right_answer_and_are_not_remembered_when_refused() {
    let key = rsa_key("abuse-aud");
    let server = JwksServer::with_keys(&[key]).await;
    let mut claims = good_claims(&server.issuer());
    let mut audiences: Vec<String> = (0..10_000)
        .map(|i| format!("https://api-{i}.example.com"))
        .collect();
    claims["aud"] = json!(audiences);
    let none_of_ours = key.sign(&claims).unwrap();
    audiences.push(AUDIENCE.to_owned());
    claims["aud"] = json!(audiences);
    let ours_last = key.sign(&claims).unwrap();
    assert!(none_of_ours.len() > 256 << 10);

    // By default such a token is over MAX_TOKEN_BYTES: refused unread.
    let strict = authorizer_for(&server, &[]);
    assert_eq!(
        authorize(&strict, &ours_last).await.0.reject,
        Some(Reject::TokenTooLarge)
    );
    // With room for it, the audiences are checked: refused, or allowed when ours is among them.
    let roomy = authorizer_for(&server, &[("MAX_TOKEN_BYTES", "1048576")]);
    for _ in 0..3 {
        let (decision, answer) = authorize(&roomy, &none_of_ours).await;
        assert_eq!(decision.reject, Some(Reject::BadAudience));
        assert_eq!(answer, None);
    }
    assert_eq!(
        roomy.verified_tokens(),
        0,
        "a refused token is not remembered"
    );
    let (decision, answer) = authorize(&roomy, &ours_last).await;
    assert_eq!(decision.outcome, Outcome::Allow);
    assert!(
        answer.unwrap().to_string().len() < 2048,
        "the audiences are not copied into the answer"
    );
}

#[tokio::test]
async fn sixty_four_kilobyte_claims_are_refused_by_default_and_answered_in_bounds_when_allowed() {
    let key = rsa_key("abuse-64k");
    let server = JwksServer::with_keys(&[key]).await;
    let mut claims = good_claims(&server.issuer());
    claims["blob"] = json!("b".repeat(64 << 10));
    claims["email"] = json!(format!("{}@example.com", "e".repeat(64 << 10)));
    let token = key.sign(&claims).unwrap();

    let strict = authorizer_for(&server, &[("CONTEXT_CLAIMS", "email")]);
    assert_eq!(
        authorize(&strict, &token).await.0.reject,
        Some(Reject::TokenTooLarge)
    );
    let roomy = authorizer_for(
        &server,
        &[("MAX_TOKEN_BYTES", "1048576"), ("CONTEXT_CLAIMS", "email")],
    );
    let (decision, answer) = authorize(&roomy, &token).await;
    assert_eq!(decision.outcome, Outcome::Allow);
    let answer = answer.unwrap();
    // Only what CONTEXT_CLAIMS names reaches the backend; the 64 KB `blob` does not.
    assert_eq!(answer["context"]["email"], claims["email"]);
    assert!(answer.get("blob").is_none() && answer["context"].get("blob").is_none());
    assert!(answer.to_string().len() < (64 << 10) + 2048);
    assert!(decision.sub.len() <= 128);

    // A 64 KB `sub` is the principal: copied in full into the answer, truncated in the logs.
    claims["sub"] = json!("s".repeat(64 << 10));
    let (decision, answer) = authorize(&roomy, &key.sign(&claims).unwrap()).await;
    assert_eq!(decision.outcome, Outcome::Allow);
    assert_eq!(answer.unwrap()["principalId"], claims["sub"]);
    assert_eq!(decision.sub.len(), 128);
}

fn sign_raw_payload(key: &SigningKey, payload: &str) -> String {
    let header = json!({"alg": "RS256", "kid": key.kid()}).to_string();
    sign_bytes(key, header.as_bytes(), payload.as_bytes())
}
