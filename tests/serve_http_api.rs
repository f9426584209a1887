//! `authorizer serve --api http`: an HTTP API with a Lambda authorizer and API Gateway's result
//! cache, keyed by the identity source values. One token, several routes, both answers checked.
#![cfg(feature = "local")]

mod support;
use support::serve::Serve;

const FORBIDDEN: &str = r#"{"message":"Forbidden"}"#;
const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;
const RULES: (&str, &str) = ("ROUTE_SCOPES", "POST /pets=write:pets");

#[tokio::test]
async fn simple_answers_are_cached_per_route_when_the_identity_source_holds_the_route_key() {
    let identity = (
        "IDENTITY_SOURCE",
        "$request.header.Authorization,$context.routeKey",
    );
    let serve = Serve::start(&["--api", "http"], &[RULES, identity]).await;
    let reader = serve.bearer(); // read:pets only
    assert_eq!(serve.get("/pets", Some(&reader)).await.status, 200);
    let post = serve.post_pet(Some(&reader)).await;
    assert_eq!((post.status, post.body.as_str()), (403, FORBIDDEN));
    // Both answers now come from the cache, each for its own route.
    assert_eq!(serve.get("/pets", Some(&reader)).await.status, 200);
    assert_eq!(serve.post_pet(Some(&reader)).await.status, 403);
    assert_eq!(serve.calls().await, 2);
}

#[tokio::test]
async fn a_simple_answer_cached_under_the_token_alone_is_refused_under_route_rules() {
    let serve = Serve::start(&["--api", "http"], &[RULES]).await;
    let reader = serve.bearer();
    // A yes for GET /pets cached under the token would open POST /pets too: refused, and said why.
    let get = serve.get("/pets", Some(&reader)).await;
    assert_eq!((get.status, get.body.as_str()), (401, UNAUTHORIZED));
    assert_eq!(serve.post_pet(Some(&reader)).await.status, 401);
    let logs = serve.logs();
    assert!(logs.contains("unsafe_cache_key"), "{logs}");
    assert!(logs.contains("$context.routeKey"), "{logs}");
}

#[tokio::test]
async fn policy_answers_cached_under_the_token_are_right_for_every_route() {
    let serve = Serve::start(
        &["--api", "http"],
        &[RULES, ("HTTP_API_RESPONSE", "policy")],
    )
    .await;
    let reader = serve.bearer();
    assert_eq!(serve.get("/pets", Some(&reader)).await.status, 200);
    // From the cache: the one policy denies POST /pets and allows the rest.
    let post = serve.post_pet(Some(&reader)).await;
    assert_eq!((post.status, post.body.as_str()), (403, FORBIDDEN));
    assert_eq!(serve.get("/pets/1", Some(&reader)).await.status, 200);
    assert_eq!(serve.calls().await, 1);
}

#[tokio::test]
async fn the_credential_verified_is_the_identity_source_value_the_cache_keeps() {
    let serve = Serve::start(
        &["--api", "http"],
        &[("IDENTITY_SOURCE", "$request.header.X-Token")],
    )
    .await;
    let valid = serve.bearer();
    let junk = "Bearer junk-that-would-be-the-cache-key";
    let request = |token: &str, authorization: &str| {
        serve
            .http
            .get(format!("{}/pets", serve.base))
            .header("x-token", token.to_owned())
            .header("authorization", authorization.to_owned())
            .send()
    };
    // A valid Authorization header beside a junk cache key: refused.
    let refused = request(junk, &valid).await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(request(junk, &valid).await.unwrap().status(), 401);
    // The cache key holds the valid token: allowed, then served from the cache.
    assert_eq!(request(&valid, junk).await.unwrap().status(), 200);
    assert_eq!(request(&valid, junk).await.unwrap().status(), 200);
    assert_eq!(serve.calls().await, 3);
    // No value for the identity source: 401 from the gateway, the authorizer is not called.
    assert_eq!(serve.get("/pets", Some(&valid)).await.status, 401);
    assert_eq!(serve.calls().await, 3);
}
