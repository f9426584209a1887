//! What API Gateway gets back for each event kind and configuration.

mod support;

use jwt_authorizer::{Outcome, Reject};
use serde_json::{Value, json};
use support::*;

fn sample(name: &str, token: &str) -> Vec<u8> {
    let text =
        std::fs::read_to_string(format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let placeholder = serde_json::from_str::<Value>(&text).unwrap();
    let old = placeholder
        .get("authorizationToken")
        .or_else(|| placeholder["headers"].get("Authorization"))
        .or_else(|| placeholder["headers"].get("authorization"))
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    text.replace(&old, &format!("Bearer {token}")).into_bytes()
}

#[tokio::test]
async fn request_events_and_http_api_events_are_authorized() {
    let key = rsa_key("events");
    let server = JwksServer::with_keys(&[key]).await;
    let token = key.sign(&good_claims(&server.issuer())).unwrap();

    let rest = authorizer_for(&server, &[]);
    let (decision, answer) = authorize_event(&rest, &sample("request.json", &token)).await;
    assert_eq!(decision.outcome, Outcome::Allow);
    assert_eq!(
        answer.unwrap()["policyDocument"]["Statement"][0]["Resource"],
        "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/*/*"
    );

    let (decision, answer) = authorize_event(&rest, &sample("http-api-v2.json", &token)).await;
    assert_eq!(decision.outcome, Outcome::Allow);
    assert_eq!(
        answer.unwrap(),
        json!({"isAuthorized": true, "context": {"scope": "openid read:pets"}})
    );

    let policy = authorizer_for(&server, &[("HTTP_API_RESPONSE", "policy")]);
    let (_, answer) = authorize_event(&policy, &sample("http-api-v2.json", &token)).await;
    assert_eq!(
        answer.unwrap()["policyDocument"]["Statement"][0]["Resource"],
        "arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/*/*"
    );
}

#[tokio::test]
async fn route_rules_deny_routes_the_token_lacks_scopes_for_in_the_same_cached_policy() {
    let key = rsa_key("rules");
    let server = JwksServer::with_keys(&[key]).await;
    let authorizer = authorizer_for(
        &server,
        &[
            ("ROUTE_SCOPES", "GET /pets=read:pets; POST /pets=write:pets"),
            ("CONTEXT_CLAIMS", "azp,email"),
        ],
    );
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    let (decision, answer) = authorize(&authorizer, &token).await;
    assert_eq!(
        decision.outcome,
        Outcome::Allow,
        "GET /pets is allowed with read:pets"
    );
    let answer = answer.unwrap();
    assert_eq!(answer["policyDocument"]["Statement"][1]["Effect"], "Deny");
    assert_eq!(
        answer["policyDocument"]["Statement"][1]["Resource"],
        json!(["arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/POST/pets"])
    );
    assert_eq!(
        answer["context"],
        json!({"scope": "openid read:pets", "azp": "client-1"})
    );

    let mut writer_claims = good_claims(&server.issuer());
    writer_claims["scope"] = json!("write:pets");
    let reader = key.sign(&writer_claims).unwrap();
    let (decision, _) = authorize(&authorizer, &reader).await;
    assert_eq!(
        decision.outcome,
        Outcome::Deny,
        "the called GET /pets needs read:pets"
    );

    // With simple responses, HTTP APIs get isAuthorized: false for a denied route.
    let event = serde_json::to_vec(&json!({"version": "2.0", "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:1:api/$default/POST/pets",
        "headers": {"authorization": format!("Bearer {token}")}}))
    .unwrap();
    let (decision, answer) = authorize_event(&authorizer, &event).await;
    assert_eq!(decision.outcome, Outcome::Deny);
    assert_eq!(answer.unwrap()["isAuthorized"], false);
}

#[tokio::test]
async fn method_mode_allows_only_the_called_method() {
    let key = rsa_key("method");
    let server = JwksServer::with_keys(&[key]).await;
    let authorizer = authorizer_for(&server, &[("POLICY_RESOURCE", "method")]);
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    let (_, answer) = authorize(&authorizer, &token).await;
    assert_eq!(
        answer.unwrap()["policyDocument"]["Statement"][0]["Resource"],
        METHOD_ARN
    );
}

#[tokio::test]
async fn deny_mode_answers_a_deny_policy_instead_of_an_error() {
    let key = rsa_key("deny-mode");
    let server = JwksServer::with_keys(&[key]).await;
    let authorizer = authorizer_for(&server, &[("REJECT_MODE", "deny")]);
    let (decision, answer) = authorize(&authorizer, "not.a.token").await;
    assert_eq!(decision.outcome, Outcome::Deny);
    assert_eq!(decision.reject, Some(Reject::Malformed));
    let answer = answer.unwrap();
    assert_eq!(answer["principalId"], "unauthorized");
    assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Deny");
    assert!(
        answer.get("context").is_none(),
        "nothing about the reason leaks"
    );
    // An event without a usable ARN cannot get a policy: it stays an error.
    let (decision, answer) = authorize_event(&authorizer, b"{}").await;
    assert_eq!((decision.outcome, answer), (Outcome::Unauthorized, None));
}

/// IAM's matching of a policy's `Resource` against the called methodArn, the rule both the
/// authorizer's route rules and `serve`'s policy evaluation rely on (`wildcard_match`). The
/// expectations are written by hand from the IAM User Guide ("IAM JSON policy elements:
/// Resource"): `*` matches any combination of zero or more characters, `/` included; `?` exactly
/// one character; everything else literally (no regular expressions) and case-sensitively.
#[test]
fn resource_patterns_match_method_arns_as_iam_documents() {
    const STAGE: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod";
    let cases: &[(&str, &str, bool)] = &[
        ("{S}/*/*", "{S}/GET/pets", true),
        ("{S}/*/*", "{S}/GET/pets/1/photos", true),
        ("{S}/*/*", "{S}/GET/", true),
        ("{S}/*/*", "{S}/GET", false),
        (
            "{S}/*/*",
            "arn:aws:execute-api:us-east-1:123456789012:abcdef123/dev/GET/pets",
            false,
        ),
        ("{S}/GET/pets", "{S}/GET/pets", true),
        ("{S}/GET/pets", "{S}/GET/pets/1", false),
        ("{S}/GET/pets", "{S}/GET/pet", false),
        ("{S}/GET/pets/*", "{S}/GET/pets", false),
        ("{S}/GET/pets/*", "{S}/GET/pets/", true),
        ("{S}/GET/pets/*", "{S}/GET/pets/1/photos", true),
        ("{S}/*/pets", "{S}/GET/pets", true),
        ("{S}/*/pets", "{S}/GET/dogs/pets", true),
        ("{S}/*/pets", "{S}/GET/pets/1", false),
        ("{S}/G?T/pets", "{S}/GET/pets", true),
        ("{S}/G?T/pets", "{S}/GT/pets", false),
        ("{S}/G?T/pets", "{S}/GEET/pets", false),
        ("{S}/???/pets", "{S}/PUT/pets", true),
        ("{S}/???/pets", "{S}/POST/pets", false),
        ("{S}/get/pets", "{S}/GET/pets", false),
        ("{S}/GET/pets.json", "{S}/GET/petsXjson", false),
        ("{S}/GET/[ab]", "{S}/GET/a", false),
        ("{S}/GET/[ab]", "{S}/GET/[ab]", true),
        (
            "arn:aws:execute-api:*:123456789012:abcdef123/*",
            "{S}/GET/pets",
            true,
        ),
        (
            "arn:aws:execute-api:*:999999999999:abcdef123/*",
            "{S}/GET/pets",
            false,
        ),
        ("*", "{S}/GET/pets", true),
        ("*", "", true),
        ("**", "", true),
        ("?", "", false),
        ("a*b*c", "abc", true),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "acb", false),
        ("*a", "ba", true),
        ("*a", "bab", false),
    ];
    for (pattern, arn, expected) in cases {
        let (pattern, arn) = (pattern.replace("{S}", STAGE), arn.replace("{S}", STAGE));
        assert_eq!(
            jwt_authorizer::wildcard_match(&pattern, &arn),
            *expected,
            "{pattern} against {arn}"
        );
    }
}
