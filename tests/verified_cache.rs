//! The verified-token cache: a repeat costs no signature check, yet never outlives the key that
//! verified it, and never admits a refused token.

mod support;

use jwt_authorizer::issuer::SigningKey;
use jwt_authorizer::{Algorithm, Outcome, Reject};
use std::time::Duration;
use support::*;

const FAST_REFRESH: [(&str, &str); 2] = [
    ("JWKS_REFRESH_INTERVAL_SECONDS", "1"),
    ("JWKS_MIN_REFRESH_INTERVAL_SECONDS", "1"),
];

#[tokio::test]
async fn only_fully_authorized_tokens_are_remembered() {
    let key = rsa_key("vc-admit");
    let server = JwksServer::with_keys(&[key]).await;
    let authorizer = authorizer_for(&server, &[]);
    let mut claims = good_claims(&server.issuer());
    let good = key.sign(&claims).unwrap();
    for (i, hit) in [false, true, true].into_iter().enumerate() {
        let (decision, _) = authorize(&authorizer, &good).await;
        assert_eq!(
            (decision.outcome, decision.cache_hit),
            (Outcome::Allow, hit),
            "authorization {i}: the repeats are answered by the cache"
        );
    }
    assert_eq!(authorizer.verified_tokens(), 1);

    claims["aud"] = serde_json::json!("someone-else");
    let wrong_audience = key.sign(&claims).unwrap();
    for _ in 0..2 {
        let (decision, _) = authorize(&authorizer, &wrong_audience).await;
        assert_eq!(
            (decision.reject, decision.cache_hit),
            (Some(Reject::BadAudience), false),
            "a refused token is verified again every time"
        );
    }
    assert_eq!(
        authorizer.verified_tokens(),
        1,
        "a signature-valid token with wrong claims is not remembered"
    );

    let off = authorizer_for(&server, &[("VERIFIED_TOKEN_CACHE_SIZE", "0")]);
    for _ in 0..2 {
        let (decision, _) = authorize(&off, &good).await;
        assert_eq!(
            (decision.outcome, decision.cache_hit),
            (Outcome::Allow, false)
        );
    }
    assert_eq!(off.verified_tokens(), 0);
}

#[tokio::test]
async fn claims_are_still_checked_on_a_cache_hit() {
    let key = rsa_key("vc-exp");
    let server = JwksServer::with_keys(&[key]).await;
    let authorizer = authorizer_for(&server, &[("CLOCK_SKEW_LEEWAY_SECONDS", "0")]);
    let mut claims = good_claims(&server.issuer());
    claims["exp"] = serde_json::json!(now() + 2);
    let short_lived = key.sign(&claims).unwrap();
    assert_eq!(
        authorize(&authorizer, &short_lived).await.0.outcome,
        Outcome::Allow
    );
    // Three seconds later, by the token's clock.
    let event = token_event(&format!("Bearer {short_lived}"));
    let decision = authorizer
        .authorize_at(&event, now() + 3, &mut Vec::new())
        .await;
    assert_eq!(
        (decision.cache_hit, decision.reject),
        (true, Some(Reject::Expired)),
        "the signature check is a cache hit, and the claims are checked all the same"
    );
}

#[tokio::test]
async fn a_cached_token_stops_working_when_its_key_leaves_the_key_set() {
    let (old, new) = (rsa_key("vc-old"), rsa_key("vc-new"));
    let server = JwksServer::with_keys(&[old, new]).await;
    let (authorizer, clock) = authorizer_with_clock(&server, &FAST_REFRESH);
    let token = old.sign(&good_claims(&server.issuer())).unwrap();
    assert_eq!(
        authorize(&authorizer, &token).await.0.outcome,
        Outcome::Allow
    );
    let (decision, _) = authorize(&authorizer, &token).await;
    assert_eq!(
        (decision.outcome, decision.cache_hit),
        (Outcome::Allow, true)
    );

    server.publish(&[new]);
    clock.advance(Duration::from_secs(1));
    authorize_while_stale(&authorizer, &token).await;
    assert_eq!(
        authorize(&authorizer, &token).await.0.reject,
        Some(Reject::UnknownKid)
    );
}

#[tokio::test]
async fn a_kid_reused_for_new_key_material_does_not_inherit_cached_verifications() {
    let original = rsa_key("vc-reused");
    let server = JwksServer::with_keys(&[original]).await;
    let (authorizer, clock) = authorizer_with_clock(&server, &FAST_REFRESH);
    let token = original.sign(&good_claims(&server.issuer())).unwrap();
    assert_eq!(
        authorize(&authorizer, &token).await.0.outcome,
        Outcome::Allow
    );
    let (decision, _) = authorize(&authorizer, &token).await;
    assert_eq!(
        (decision.outcome, decision.cache_hit),
        (Outcome::Allow, true)
    );

    let replacement = SigningKey::generate(Algorithm::RS256, "vc-reused").unwrap();
    server.publish(&[&replacement]);
    clock.advance(Duration::from_secs(1));
    authorize_while_stale(&authorizer, &token).await;
    let (decision, _) = authorize(&authorizer, &token).await;
    assert_eq!(
        (decision.reject, decision.cache_hit),
        (Some(Reject::BadSignature), false),
        "the cached verification is not the new key's"
    );
}
