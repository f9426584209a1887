//! The binary in Lambda mode: started with `AWS_LAMBDA_RUNTIME_API` and no subcommand, against a
//! Runtime API on 127.0.0.1, it answers an Allow on the response endpoint and `Unauthorized` on
//! the error endpoint, and logs JSON lines.

mod support;

use serde_json::Value;
use std::time::Duration;
use support::runtime_api::{RuntimeApi, spawn_function, stop_and_read_stdout};
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_lambda_loop_answers_on_the_runtime_api() {
    let key = rsa_key("lambda");
    let server = JwksServer::with_keys(&[key]).await;
    let mut api = RuntimeApi::start().await;
    let mut child = spawn_function(&api, &server, &[]);

    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    let allowed = api.push(token_event(&format!("Bearer {token}")));
    let refused = api.push(token_event("Bearer not.a.token"));
    let missing = api.push(token_event(""));

    let first = api
        .answer(Duration::from_secs(20))
        .await
        .expect("an answer to the first event");
    assert_eq!(
        (first.request_id.as_str(), first.kind),
        (allowed.as_str(), "response"),
        "{first:?}"
    );
    let policy: Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(policy["principalId"], "auth0|alice");
    assert_eq!(policy["policyDocument"]["Statement"][0]["Effect"], "Allow");

    for id in [refused, missing] {
        let answer = api.answer(Duration::from_secs(10)).await.unwrap();
        assert_eq!(
            (answer.request_id.as_str(), answer.kind),
            (id.as_str(), "error")
        );
        let error: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(error["errorMessage"], "Unauthorized");
        assert_eq!(error["errorType"], "Unauthorized");
    }
    assert_eq!(server.hits(), 1, "keys fetched once, at init");

    let (stdout, documents) = stop_and_read_stdout(&mut child).await;
    let decisions: Vec<&Value> = documents
        .iter()
        .filter(|line| line["fields"]["message"] == "authorization")
        .collect();
    assert_eq!(
        decisions.len(),
        2,
        "one JSON log line per refusal, none per Allow:\n{stdout}"
    );
    assert_eq!(decisions[0]["fields"]["reason"], "malformed");
    assert_eq!(decisions[1]["fields"]["reason"], "missing_token");
    assert!(
        !stdout.contains(&token[..40]),
        "the token never reaches the logs"
    );
}

/// Fuzz finding (target `pipeline`): `events::parse` skips the fields it does not read without
/// checking their UTF-8, so an event with invalid UTF-8 in, say, `multiValueHeaders` still gets
/// its token's answer from the handler. In Lambda such an event never reaches the handler: the
/// runtime reads it as a `RawValue`, which refuses invalid UTF-8. This pins that guarantee (the
/// fuzz target relies on it) and that the loop goes on.
#[tokio::test(flavor = "multi_thread")]
async fn an_event_that_is_not_utf8_is_an_error_and_the_loop_goes_on() {
    let key = rsa_key("lambda-utf8");
    let server = JwksServer::with_keys(&[key]).await;
    let mut api = RuntimeApi::start().await;
    let mut child = spawn_function(&api, &server, &[]);
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    let good = token_event(&format!("Bearer {token}"));
    let mut not_utf8 = good.clone();
    let at = not_utf8.len() - 1;
    not_utf8.splice(at..at, *b",\"x\":\"\xff\xfe\"");
    let bad = api.push(not_utf8);
    let then = api.push(good);
    for (id, kind) in [(bad, "error"), (then, "response")] {
        let answer = api
            .answer(Duration::from_secs(20))
            .await
            .expect("an answer");
        assert_eq!(
            (answer.request_id.as_str(), answer.kind),
            (id.as_str(), kind),
            "{answer:?}"
        );
    }
    stop_and_read_stdout(&mut child).await;
}

/// Every refusal reason the handler can reach, one Runtime API event each, through the real
/// binary: each is posted on the error endpoint with exactly Lambda's `Unauthorized` document
/// (API Gateway's 401), byte for byte the same whatever the reason; the reason reaches the log only.
#[tokio::test(flavor = "multi_thread")]
async fn every_refusal_reason_is_the_same_unauthorized_error_on_the_runtime_api() {
    use jwt_authorizer::issuer::SigningKey;
    use jwt_authorizer::{Algorithm, Reject};
    use serde_json::json;

    let rsa = rsa_key("lambda-reasons");
    let ec = SigningKey::generate(Algorithm::ES256, "lambda-reasons-ec").unwrap();
    let main = JwksServer::with_keys(&[rsa, &ec]).await;
    let pool = JwksServer::with_keys(&[rsa]).await;
    let down = JwksServer::with_keys(&[rsa]).await;
    down.stop();
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        format!(
            r#"
            [[issuer]]
            name = "main"
            issuer = "{}"
            jwks_uri = "{}"
            audiences = ["{AUDIENCE}"]
            algorithms = ["RS256", "ES256"]

            [[issuer]]
            name = "pool"
            issuer = "{}"
            jwks_uri = "{}"
            token_use = "access"
            client_ids = ["app-client"]

            [[issuer]]
            name = "down"
            issuer = "{}"
            jwks_uri = "{}"
            audiences = ["{AUDIENCE}"]
            "#,
            main.issuer(),
            main.jwks_uri(),
            pool.issuer(),
            pool.jwks_uri(),
            down.issuer(),
            down.jwks_uri()
        ),
    )
    .unwrap();

    let issuer = main.issuer();
    let good = good_claims(&issuer);
    let with = |change: serde_json::Value| {
        let mut claims = good.clone();
        for (name, value) in change.as_object().unwrap() {
            match value {
                serde_json::Value::Null => drop(claims.as_object_mut().unwrap().remove(name)),
                value => claims[name] = value.clone(),
            }
        }
        claims
    };
    let header = |header: serde_json::Value| sign_raw(rsa, &header, &good);
    let bearer = |token: &str| token_event(&format!("Bearer {token}"));
    let genuine = rsa.sign(&good).unwrap();
    let (signed, signature) = genuine.rsplit_once('.').unwrap();
    let mut es256_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    es256_header.kid = Some(rsa.kid().to_owned());

    let events: Vec<(Reject, Vec<u8>)> = vec![
        (
            Reject::BadEvent,
            serde_json::to_vec(&json!({"type": "TOKEN", "authorizationToken": format!("Bearer {genuine}"), "methodArn": "not-an-arn"})).unwrap(),
        ),
        (Reject::MissingToken, token_event("")),
        (Reject::TokenTooLarge, bearer(&"a".repeat(17_000))),
        (Reject::Malformed, bearer("not.a.token")),
        (Reject::AlgNotAllowed, bearer(&header(json!({"alg": "HS256", "kid": rsa.kid()})))),
        (Reject::MissingKid, bearer(&header(json!({"alg": "RS256"})))),
        (
            Reject::UnsupportedCrit,
            bearer(&header(json!({"alg": "RS256", "kid": rsa.kid(), "crit": ["exp"], "exp": 1}))),
        ),
        (
            Reject::UnknownIssuer,
            bearer(&rsa.sign(&with(json!({"iss": "https://elsewhere.example/"}))).unwrap()),
        ),
        (Reject::UnknownKid, bearer(&header(json!({"alg": "RS256", "kid": "nobody"})))),
        (
            Reject::KeyAlgMismatch,
            bearer(&ec.sign_with_header(&es256_header, &good).unwrap()),
        ),
        (
            Reject::JwksUnavailable,
            bearer(&rsa.sign(&with(json!({"iss": down.issuer()}))).unwrap()),
        ),
        (
            Reject::BadSignature,
            bearer(&format!("{signed}.{}", &signature.replacen(&signature[..4], "AAAA", 1))),
        ),
        (
            Reject::InvalidClaim,
            bearer(&rsa.sign(&with(json!({"exp": (now() + 600).to_string()}))).unwrap()),
        ),
        (Reject::MissingClaim, bearer(&rsa.sign(&with(json!({"sub": null}))).unwrap())),
        (Reject::Expired, bearer(&rsa.sign(&with(json!({"exp": now() - 600}))).unwrap())),
        (
            Reject::NotYetValid,
            bearer(&rsa.sign(&with(json!({"nbf": now() + 600}))).unwrap()),
        ),
        (
            Reject::WrongTokenUse,
            bearer(&rsa.sign(&with(json!({"iss": pool.issuer(), "token_use": "id"}))).unwrap()),
        ),
        (
            Reject::BadAudience,
            bearer(&rsa.sign(&with(json!({"aud": "https://other.example.com"}))).unwrap()),
        ),
        (
            // Two identity source values where IDENTITY_SOURCE names one.
            Reject::UnsafeCacheKey,
            serde_json::to_vec(&json!({
                "version": "2.0",
                "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/GET/pets",
                "routeKey": "GET /pets",
                "identitySource": [format!("Bearer {genuine}"), "GET /pets"],
            }))
            .unwrap(),
        ),
        (
            Reject::MissingUsageIdentifier,
            bearer(&rsa.sign(&with(json!({"azp": null}))).unwrap()),
        ),
    ];
    let reached: std::collections::HashSet<Reject> = events.iter().map(|(r, _)| *r).collect();
    // The sender-constraint reasons (DPoP proofs, client certificates) go through the real binary
    // in tests/sender_constraint.rs (`invoke`, and this Runtime API for replays).
    let sender_constraint = [
        Reject::BindingRequired,
        Reject::UnsupportedBinding,
        Reject::MissingProof,
        Reject::BadProof,
        Reject::ProofMismatch,
        Reject::StaleProof,
        Reject::ReplayedProof,
        Reject::BadCertificate,
        Reject::CertificateMismatch,
    ];
    // The introspection reasons go through the real binary in tests/introspection.rs.
    let introspection = [
        Reject::TokenInactive,
        Reject::IntrospectionUnavailable,
        Reject::IntrospectionRateLimited,
    ];
    for reason in Reject::ALL {
        let elsewhere = sender_constraint.contains(&reason) || introspection.contains(&reason);
        assert!(
            reached.contains(&reason) != elsewhere,
            "{reason}: an event here, or one in tests/sender_constraint.rs or tests/introspection.rs"
        );
    }

    let mut api = RuntimeApi::start().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_authorizer"))
        .env_clear()
        .envs(support::runtime_api::lambda_environment(&api.address))
        .env("CONFIG_FILE", config.path())
        .env("JWKS_TIMEOUT_MS", "500")
        .env("USAGE_IDENTIFIER_CLAIM", "azp")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let ids: Vec<String> = events
        .iter()
        .map(|(_, event)| api.push(event.clone()))
        .collect();
    for ((reason, _), id) in events.iter().zip(&ids) {
        let answer = api
            .answer(Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("{reason}: no answer"));
        assert_eq!(
            (
                answer.request_id.as_str(),
                answer.kind,
                answer.body.as_str()
            ),
            (
                id.as_str(),
                "error",
                r#"{"errorType":"Unauthorized","errorMessage":"Unauthorized"}"#
            ),
            "{reason}"
        );
    }
    let (stdout, _) = stop_and_read_stdout(&mut child).await;
    for (reason, _) in &events {
        assert!(
            stdout.contains(&format!(r#""reason":"{reason}""#)),
            "the log names the reason {reason}:\n{stdout}"
        );
    }
}
