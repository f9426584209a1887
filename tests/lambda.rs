//! The binary in Lambda mode: started with `AWS_LAMBDA_RUNTIME_API` and no subcommand, against a
//! Runtime API on 127.0.0.1, it answers an Allow on the response endpoint and `Unauthorized` on
//! the error endpoint, and logs JSON lines.

mod support;

use serde_json::Value;
use std::time::Duration;
use support::runtime_api::{RuntimeApi, authorization_field, spawn_function, stop_and_read_stdout};
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
/// One configuration reaches them all: issuers that take plain tokens, one that requires
/// sender-constrained tokens (DPoP proofs and client certificates), and one that introspects every
/// token.
#[tokio::test(flavor = "multi_thread")]
async fn every_refusal_reason_is_the_same_unauthorized_error_on_the_runtime_api() {
    use jwt_authorizer::issuer::SigningKey;
    use jwt_authorizer::{Algorithm, Reject};
    use serde_json::json;
    use support::binding::{URL, client_certificate, dpop_event, mtls_event, request_event};
    use support::dpop::{self, ProofKey};
    use support::introspection::{CLIENT_ID, CLIENT_SECRET, Fault, IntrospectionServer};

    let rsa = rsa_key("lambda-reasons");
    let ec = SigningKey::generate(Algorithm::ES256, "lambda-reasons-ec").unwrap();
    let main = JwksServer::with_keys(&[rsa, &ec]).await;
    let pool = JwksServer::with_keys(&[rsa]).await;
    let down = JwksServer::with_keys(&[rsa]).await;
    down.stop();
    let bound = JwksServer::with_keys(&[rsa]).await;
    let introspected = JwksServer::with_keys(&[rsa]).await;
    // Knows no token: it says inactive, or fails where told to.
    let endpoint = IntrospectionServer::start().await;
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

            [[issuer]]
            name = "bound"
            issuer = "{}"
            jwks_uri = "{}"
            audiences = ["{AUDIENCE}"]
            require_sender_constraint = true

            [[issuer]]
            name = "introspected"
            issuer = "{}"
            jwks_uri = "{}"
            audiences = ["{AUDIENCE}"]
            [issuer.introspection]
            mode = "always"
            endpoint = "{}"
            client_id = "{CLIENT_ID}"
            client_secret = "{CLIENT_SECRET}"
            max_calls_per_second = 2
            "#,
            main.issuer(),
            main.jwks_uri(),
            pool.issuer(),
            pool.jwks_uri(),
            down.issuer(),
            down.jwks_uri(),
            bound.issuer(),
            bound.jwks_uri(),
            introspected.issuer(),
            introspected.jwks_uri(),
            endpoint.endpoint(),
        ),
    )
    .unwrap();

    // A token of `server`'s issuer: the good claims with these changed (`null` removes one).
    let token_of = |server: &JwksServer, change: serde_json::Value| {
        let mut claims = good_claims(&server.issuer());
        for (name, value) in change.as_object().unwrap() {
            match value {
                serde_json::Value::Null => drop(claims.as_object_mut().unwrap().remove(name)),
                value => claims[name] = value.clone(),
            }
        }
        rsa.sign(&claims).unwrap()
    };
    let with = |change: serde_json::Value| token_of(&main, change);
    let good = good_claims(&main.issuer());
    let header = |header: serde_json::Value| sign_raw(rsa, &header, &good);
    let bearer = |token: &str| token_event(&format!("Bearer {token}"));
    let genuine = rsa.sign(&good).unwrap();
    let (signed, signature) = genuine.rsplit_once('.').unwrap();
    let mut es256_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    es256_header.kid = Some(rsa.kid().to_owned());

    // Sender-constrained tokens of the issuer that requires them.
    let proof_key = ProofKey::generate();
    let dpop_bound = token_of(&bound, json!({"cnf": {"jkt": proof_key.thumbprint()}}));
    let proof = |method: &str, iat: u64| proof_key.proof(method, URL, &dpop_bound, iat);
    let (certificate, thumbprint) = client_certificate();
    let (other_certificate, _) = client_certificate();
    let certificate_bound = token_of(&bound, json!({"cnf": {"x5t#S256": thumbprint}}));
    let mut wrong_typ = proof_key.header();
    wrong_typ["typ"] = json!("JWT");
    let unavailable = token_of(&introspected, json!({"sub": "auth0|bob"}));
    endpoint.set_fault_for(&unavailable, Fault::Status(503));
    let replayed = dpop_event(&dpop_bound, &proof("GET", now()));

    let events: Vec<(Reject, Vec<u8>)> = vec![
        (
            Reject::BadEvent,
            serde_json::to_vec(&json!({"type": "TOKEN", "authorizationToken": format!("Bearer {genuine}"), "methodArn": "not-an-arn"})).unwrap(),
        ),
        (Reject::MissingToken, token_event("")),
        (Reject::TokenTooLarge, bearer(&"a".repeat(17_000))),
        // The shape of a JWT, so not an opaque token for introspection.
        (Reject::Malformed, bearer("e.not.json")),
        (Reject::AlgNotAllowed, bearer(&header(json!({"alg": "HS256", "kid": rsa.kid()})))),
        (Reject::MissingKid, bearer(&header(json!({"alg": "RS256"})))),
        (
            Reject::UnsupportedCrit,
            bearer(&header(json!({"alg": "RS256", "kid": rsa.kid(), "crit": ["exp"], "exp": 1}))),
        ),
        (
            Reject::UnknownIssuer,
            bearer(&with(json!({"iss": "https://elsewhere.example/"}))),
        ),
        (Reject::UnknownKid, bearer(&header(json!({"alg": "RS256", "kid": "nobody"})))),
        (
            Reject::KeyAlgMismatch,
            bearer(&ec.sign_with_header(&es256_header, &good).unwrap()),
        ),
        (Reject::JwksUnavailable, bearer(&token_of(&down, json!({})))),
        (
            Reject::BadSignature,
            bearer(&format!("{signed}.{}", &signature.replacen(&signature[..4], "AAAA", 1))),
        ),
        (
            Reject::InvalidClaim,
            bearer(&with(json!({"exp": (now() + 600).to_string()}))),
        ),
        (Reject::MissingClaim, bearer(&with(json!({"sub": null})))),
        (Reject::Expired, bearer(&with(json!({"exp": now() - 600})))),
        (Reject::NotYetValid, bearer(&with(json!({"nbf": now() + 600})))),
        (
            Reject::WrongTokenUse,
            bearer(&token_of(&pool, json!({"token_use": "id"}))),
        ),
        (
            Reject::BadAudience,
            bearer(&with(json!({"aud": "https://other.example.com"}))),
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
        (Reject::MissingUsageIdentifier, bearer(&with(json!({"azp": null})))),
        (Reject::BindingRequired, bearer(&token_of(&bound, json!({})))),
        (
            Reject::UnsupportedBinding,
            bearer(&token_of(&bound, json!({"cnf": {"kid": "key-1"}}))),
        ),
        (
            Reject::MissingProof,
            request_event(json!({"Authorization": format!("DPoP {dpop_bound}")}), json!({})),
        ),
        (
            Reject::BadProof,
            dpop_event(&dpop_bound, &proof_key.sign(&wrong_typ, &dpop::claims("GET", URL, &dpop_bound, now()))),
        ),
        (Reject::ProofMismatch, dpop_event(&dpop_bound, &proof("POST", now()))),
        (Reject::StaleProof, dpop_event(&dpop_bound, &proof("GET", now() - 600))),
        // The same proof was accepted once, first thing (below).
        (Reject::ReplayedProof, replayed.clone()),
        (
            Reject::BadCertificate,
            mtls_event(&certificate_bound, Some("not a certificate")),
        ),
        (
            Reject::CertificateMismatch,
            mtls_event(&certificate_bound, Some(&other_certificate)),
        ),
        // Three tokens introspected in a row, against a budget of two calls a second.
        (Reject::IntrospectionUnavailable, bearer(&unavailable)),
        (Reject::TokenInactive, bearer(&token_of(&introspected, json!({})))),
        // No call left: this third token (another `sub`) is refused without one.
        (
            Reject::IntrospectionRateLimited,
            bearer(&token_of(&introspected, json!({"sub": "auth0|carol"}))),
        ),
    ];
    let reached: std::collections::HashSet<Reject> = events.iter().map(|(r, _)| *r).collect();
    for reason in Reject::ALL {
        assert!(reached.contains(&reason), "{reason}: no event here");
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
    // Both sender constraints accepted, so that each refusal below is for its reason alone.
    let accepted = [
        api.push(replayed),
        api.push(mtls_event(&certificate_bound, Some(&certificate))),
    ];
    for id in accepted {
        let answer = api
            .answer(Duration::from_secs(20))
            .await
            .expect("an answer to a valid proof");
        assert_eq!(
            (answer.request_id.as_str(), answer.kind),
            (id.as_str(), "response"),
            "{answer:?}"
        );
    }
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
    let (stdout, documents) = stop_and_read_stdout(&mut child).await;
    let logged = authorization_field(&documents, "reason");
    let expected: Vec<String> = events
        .iter()
        .map(|(reason, _)| reason.to_string())
        .collect();
    assert_eq!(
        logged, expected,
        "one log line per refusal, naming its reason:\n{stdout}"
    );
    assert_eq!(
        endpoint.calls(),
        2,
        "the rate-limited token was never introspected"
    );
}
