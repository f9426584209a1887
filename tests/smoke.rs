mod support;
use support::*;

#[tokio::test]
async fn support_server_serves_a_jwks() {
    let key = rsa_key("k1");
    let server = JwksServer::with_keys(&[key]).await;
    let authorizer = authorizer_for(&server, &[]);
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    let mut out = Vec::new();
    let decision = authorizer
        .authorize(&token_event(&format!("Bearer {token}")), &mut out)
        .await;
    assert_eq!(
        decision.outcome,
        jwt_authorizer::Outcome::Allow,
        "{decision:?}"
    );
    assert_eq!(server.hits(), 1);
}
