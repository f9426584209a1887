//! Sender-constrained tokens (RFC 9449 DPoP, RFC 8705 mutual TLS) through the real binary
//! (`authorizer invoke`): a token whose `cnf` binds it is accepted only with its proof.

mod support;

use serde_json::{Value, json};
use support::invoke::{Run, env_for, invoke};
use support::*;

const API: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123";
const DOMAIN: &str = "abcdef123.execute-api.us-east-1.amazonaws.com";

/// A REST `REQUEST` event for `GET /pets/1` on stage `prod` with these headers (and request
/// context members).
fn request_event(headers: Value, context: Value) -> Vec<u8> {
    let mut request_context = json!({
        "resourcePath": "/pets/{petId}",
        "httpMethod": "GET",
        "stage": "prod",
        "domainName": DOMAIN,
        "path": "/prod/pets/1",
    });
    for (k, v) in context.as_object().unwrap() {
        request_context[k] = v.clone();
    }
    serde_json::to_vec(&json!({
        "type": "REQUEST",
        "methodArn": format!("{API}/prod/GET/pets/1"),
        "resource": "/pets/{petId}",
        "path": "/pets/1",
        "httpMethod": "GET",
        "headers": headers,
        "requestContext": request_context,
    }))
    .unwrap()
}

/// An issuer, and a token of it with these extra claims.
async fn issuer_and_token(extra: Value) -> (JwksServer, String) {
    let key = rsa_key("sender-constraint");
    let server = JwksServer::with_keys(&[key]).await;
    let mut claims = good_claims(&server.issuer());
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    let token = key.sign(&claims).unwrap();
    (server, token)
}

fn refused(run: &Run, reason: &str) {
    assert_eq!(run.code, 1, "{} / {}", run.stdout, run.stderr);
    assert_eq!(
        run.answer(),
        json!({"errorType": "Unauthorized", "errorMessage": "Unauthorized"})
    );
    assert!(
        run.stderr.contains(&format!("\"{reason}\"")),
        "{reason}: {}",
        run.stderr
    );
}

fn allowed(run: &Run) {
    assert_eq!(run.code, 0, "{} / {}", run.stdout, run.stderr);
    assert_eq!(
        run.answer()["policyDocument"]["Statement"][0]["Effect"],
        "Allow",
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn a_dpop_bound_token_as_a_bearer_token_is_refused_in_every_event_kind() {
    let (server, token) =
        issuer_and_token(json!({"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}))
            .await;
    let env = env_for(&server, &[]);
    let bearer = format!("Bearer {token}");
    refused(&invoke(&env, &token_event(&bearer)).await, "missing_proof");
    let event = request_event(json!({"Authorization": bearer}), json!({}));
    refused(&invoke(&env, &event).await, "missing_proof");
    // A TOKEN event carries one header: it can never carry the proof.
    refused(
        &invoke(&env, &token_event(&format!("DPoP {token}"))).await,
        "missing_proof",
    );
}

#[tokio::test]
async fn a_certificate_bound_token_without_a_certificate_is_refused() {
    let (server, token) = issuer_and_token(
        json!({"cnf": {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}),
    )
    .await;
    let env = env_for(&server, &[]);
    let bearer = format!("Bearer {token}");
    refused(&invoke(&env, &token_event(&bearer)).await, "missing_proof");
    let event = request_event(json!({"Authorization": bearer}), json!({}));
    refused(&invoke(&env, &event).await, "missing_proof");
}

#[tokio::test]
async fn a_cnf_the_authorizer_does_not_understand_is_refused() {
    for cnf in [
        json!({"jwk": {"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}}),
        json!({"kid": "key-1"}),
        json!("jkt"),
        json!(null),
        json!({}),
    ] {
        let (server, token) = issuer_and_token(json!({ "cnf": cnf })).await;
        let env = env_for(&server, &[]);
        let event = request_event(
            json!({"Authorization": format!("Bearer {token}")}),
            json!({}),
        );
        refused(&invoke(&env, &event).await, "unsupported_binding");
    }
}

#[tokio::test]
async fn the_dpop_scheme_is_only_for_dpop_bound_tokens() {
    let (server, token) = issuer_and_token(json!({})).await;
    let env = env_for(&server, &[]);
    let event = request_event(
        json!({"Authorization": format!("DPoP {token}"), "DPoP": "a.b.c"}),
        json!({}),
    );
    refused(&invoke(&env, &event).await, "unsupported_binding");
}

#[tokio::test]
async fn unbound_tokens_are_accepted_unless_the_issuer_requires_binding() {
    let (server, token) = issuer_and_token(json!({})).await;
    let bearer = format!("Bearer {token}");
    let event = request_event(json!({"Authorization": bearer}), json!({}));
    allowed(&invoke(&env_for(&server, &[]), &event).await);
    allowed(&invoke(&env_for(&server, &[]), &token_event(&bearer)).await);

    let required = env_for(&server, &[("REQUIRE_SENDER_CONSTRAINT", "true")]);
    refused(&invoke(&required, &event).await, "binding_required");
    refused(
        &invoke(&required, &token_event(&bearer)).await,
        "binding_required",
    );
}

#[tokio::test]
async fn a_config_file_issuer_can_require_binding() {
    let (server, token) = issuer_and_token(json!({})).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("issuers.toml");
    let file = |required: bool| {
        format!(
            "[[issuer]]\nissuer = \"{}\"\njwks_uri = \"{}\"\naudiences = [\"{AUDIENCE}\"]\nrequire_sender_constraint = {required}\n",
            server.issuer(),
            server.jwks_uri()
        )
    };
    let env = vec![("CONFIG_FILE".to_owned(), path.display().to_string())];
    let event = request_event(
        json!({"Authorization": format!("Bearer {token}")}),
        json!({}),
    );
    std::fs::write(&path, file(true)).unwrap();
    refused(&invoke(&env, &event).await, "binding_required");
    std::fs::write(&path, file(false)).unwrap();
    allowed(&invoke(&env, &event).await);
}
