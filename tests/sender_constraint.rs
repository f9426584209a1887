//! Sender-constrained tokens (RFC 9449 DPoP, RFC 8705 mutual TLS) through the real binary
//! (`authorizer invoke`): a token whose `cnf` binds it is accepted only with its proof.

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::binding::{
    API, DOMAIN, URL, client_certificate, dpop_event, mtls_event, request_event,
};
use support::dpop::{self, ProofKey};
use support::invoke::{Run, env_for, invoke};
use support::runtime_api::{RuntimeApi, authorization_field, spawn_function, stop_and_read_stdout};
use support::*;

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

/// An issuer, a client's proof key and a token bound to it.
async fn dpop_bound() -> (JwksServer, ProofKey, String) {
    let key = ProofKey::generate();
    let (server, token) = issuer_and_token(json!({"cnf": {"jkt": key.thumbprint()}})).await;
    (server, key, token)
}

#[tokio::test]
async fn a_valid_dpop_proof_is_accepted_on_rest_and_http_api_events() {
    let (server, key, token) = dpop_bound().await;
    let env = env_for(&server, &[]);
    let proof = key.proof("GET", URL, &token, now());
    allowed(&invoke(&env, &dpop_event(&token, &proof)).await);

    // HTTP API payload 2.0: `rawPath` and `requestContext.http.method`; the stage is `$default`.
    let url = format!("https://{DOMAIN}/pets/1");
    let proof = key.proof("POST", &url, &token, now());
    let event = serde_json::to_vec(&json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": format!("{API}/$default/POST/pets/1"),
        "routeKey": "POST /pets/{petId}",
        "rawPath": "/pets/1",
        "rawQueryString": "debug=1",
        "headers": {"authorization": format!("DPoP {token}"), "dpop": proof, "host": DOMAIN},
        "requestContext": {"domainName": DOMAIN, "http": {"method": "POST", "path": "/pets/1"}},
    }))
    .unwrap();
    let run = invoke(&env, &event).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.answer()["isAuthorized"], true, "{}", run.stdout);
}

#[tokio::test]
async fn a_proof_for_another_method_or_url_is_refused() {
    let (server, key, token) = dpop_bound().await;
    let env = env_for(&server, &[]);
    let at = now();
    let run = |proof: String| {
        let env = env.clone();
        let event = dpop_event(&token, &proof);
        async move { invoke(&env, &event).await }
    };
    refused(
        &run(key.proof("POST", URL, &token, at)).await,
        "proof_mismatch",
    );
    for url in [
        format!("https://{DOMAIN}/prod/pets/2"),
        format!("https://{DOMAIN}/pets/1"),
        "https://evil.example.com/prod/pets/1".to_owned(),
        format!("http://{DOMAIN}/prod/pets/1"),
    ] {
        refused(
            &run(key.proof("GET", &url, &token, at)).await,
            "proof_mismatch",
        );
    }
    // Query and fragment are ignored, and case of scheme and host, and the default port.
    let same = format!(
        "HTTPS://{}:443/prod/pets/1?page=2#top",
        DOMAIN.to_uppercase()
    );
    allowed(&run(key.proof("GET", &same, &token, at)).await);
}

#[tokio::test]
async fn a_proof_of_another_key_is_refused() {
    let (server, key, token) = dpop_bound().await;
    let env = env_for(&server, &[]);
    // Another client's valid proof: its key is not the one the token is bound to.
    let other = ProofKey::generate();
    let proof = other.proof("GET", URL, &token, now());
    refused(
        &invoke(&env, &dpop_event(&token, &proof)).await,
        "proof_mismatch",
    );
    // The bound key's JWK, signed by another key.
    let forged = other.sign(&key.header(), &dpop::claims("GET", URL, &token, now()));
    refused(
        &invoke(&env, &dpop_event(&token, &forged)).await,
        "bad_proof",
    );
}

#[tokio::test]
async fn a_stale_or_future_proof_is_refused() {
    let (server, key, token) = dpop_bound().await;
    let env = env_for(&server, &[("DPOP_PROOF_MAX_AGE_SECONDS", "30")]);
    // The window is 30 s, plus the default leeway of 5 s.
    for iat in [now() - 60, now() + 60] {
        let proof = key.proof("GET", URL, &token, iat);
        refused(
            &invoke(&env, &dpop_event(&token, &proof)).await,
            "stale_proof",
        );
    }
    let proof = key.proof("GET", URL, &token, now() - 25);
    allowed(&invoke(&env, &dpop_event(&token, &proof)).await);
}

/// The issuer's clock-skew leeway covers a proof's `iat` too (RFC 9449 §11.1: "reasonable
/// tolerance for clock skew"): a client clock ahead by the leeway is accepted, one second more
/// is not. Through the `Authorizer` at a fixed `now`, so no start-up time blurs the edge.
#[tokio::test]
async fn a_proof_from_a_clock_ahead_by_the_leeway_is_accepted() {
    use jwt_authorizer::{Outcome, Reject};
    let (server, key, token) = dpop_bound().await;
    let authorizer = authorizer_for(&server, &[("CLOCK_SKEW_LEEWAY_SECONDS", "5")]);
    let at = now();
    for (ahead, reject) in [(5, None), (6, Some(Reject::StaleProof))] {
        let proof = key.proof("GET", URL, &token, at + ahead);
        let mut out = Vec::new();
        let decision = authorizer
            .authorize_at(&dpop_event(&token, &proof), at, &mut out)
            .await;
        assert_eq!(decision.reject, reject, "{ahead} s ahead: {decision:?}");
        let outcome = if reject.is_none() {
            Outcome::Allow
        } else {
            Outcome::Unauthorized
        };
        assert_eq!(decision.outcome, outcome, "{ahead} s ahead");
    }
}

#[tokio::test]
async fn a_proof_for_another_access_token_is_refused() {
    let (server, key, token) = dpop_bound().await;
    let env = env_for(&server, &[]);
    let mut claims = dpop::claims("GET", URL, &token, now());
    claims["ath"] = json!(dpop::ath("another.access.token"));
    let proof = key.sign(&key.header(), &claims);
    refused(
        &invoke(&env, &dpop_event(&token, &proof)).await,
        "proof_mismatch",
    );
    // `ath` is required when a proof comes with an access token.
    claims.as_object_mut().unwrap().remove("ath");
    let proof = key.sign(&key.header(), &claims);
    refused(
        &invoke(&env, &dpop_event(&token, &proof)).await,
        "bad_proof",
    );
}

#[tokio::test]
async fn a_proof_with_a_private_key_none_or_hmac_or_another_typ_is_refused() {
    let (server, key, token) = dpop_bound().await;
    let env = env_for(&server, &[]);
    let claims = dpop::claims("GET", URL, &token, now());
    let mut with_private = key.header();
    with_private["jwk"]["d"] = json!(b64([7u8; 32]));
    let mut wrong_typ = key.header();
    wrong_typ["typ"] = json!("JWT");
    let mut no_jwk = key.header();
    no_jwk.as_object_mut().unwrap().remove("jwk");
    for header in [with_private, wrong_typ, no_jwk] {
        let proof = key.sign(&header, &claims);
        refused(
            &invoke(&env, &dpop_event(&token, &proof)).await,
            "bad_proof",
        );
    }
    let body = |alg: &str| {
        format!(
            "{}.{}",
            b64(json!({"typ": "dpop+jwt", "alg": alg, "jwk": key.jwk()}).to_string()),
            b64(claims.to_string())
        )
    };
    let unsigned = format!("{}.", body("none"));
    refused(
        &invoke(&env, &dpop_event(&token, &unsigned)).await,
        "bad_proof",
    );
    // HS256 keyed with the public key's bytes: a MAC is never a proof of possession.
    let input = body("HS256");
    let mac_key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA256,
        key.jwk().to_string().as_bytes(),
    );
    let tag = aws_lc_rs::hmac::sign(&mac_key, input.as_bytes());
    let hmac = format!("{input}.{}", b64(tag.as_ref()));
    refused(&invoke(&env, &dpop_event(&token, &hmac)).await, "bad_proof");
}

#[tokio::test]
async fn a_dpop_bound_token_needs_its_proof_header() {
    let (server, _key, token) = dpop_bound().await;
    let env = env_for(&server, &[]);
    let event = request_event(json!({"Authorization": format!("DPoP {token}")}), json!({}));
    refused(&invoke(&env, &event).await, "missing_proof");
}

#[tokio::test]
async fn a_replayed_proof_is_refused_by_the_same_instance() {
    let (server, key, token) = dpop_bound().await;
    let mut api = RuntimeApi::start().await;
    let mut child = spawn_function(&api, &server, &[]);
    let proof = key.proof("GET", URL, &token, now());
    let first = api.push(dpop_event(&token, &proof));
    let again = api.push(dpop_event(&token, &proof));
    let mut kinds = std::collections::HashMap::new();
    for _ in 0..2 {
        let answer = api
            .answer(Duration::from_secs(20))
            .await
            .expect("an answer");
        kinds.insert(answer.request_id.clone(), answer.kind);
    }
    assert_eq!(kinds[&first], "response");
    assert_eq!(kinds[&again], "error");
    let (stdout, _) = stop_and_read_stdout(&mut child).await;
    assert!(stdout.contains("replayed_proof"), "{stdout}");
}

/// RFC 9449 §11.1: the replay check comes last, so a proof refused for another reason does not
/// use up its `jti`: the client's valid proof with that `jti` is still accepted afterwards, and
/// only a proof that was accepted makes its `jti` a replay.
#[tokio::test]
async fn a_refused_proof_does_not_use_up_its_jti() {
    let (server, key, token) = dpop_bound().await;
    let mut api = RuntimeApi::start().await;
    let mut child = spawn_function(&api, &server, &[]);
    let with_jti = |method: &str, iat: u64| {
        let mut claims = dpop::claims(method, URL, &token, iat);
        claims["jti"] = json!("the-same-jti");
        dpop_event(&token, &key.sign(&key.header(), &claims))
    };
    let events = [
        (with_jti("POST", now()), "error"),
        (with_jti("GET", now() - 600), "error"),
        (with_jti("GET", now()), "response"),
        (with_jti("GET", now()), "error"),
    ];
    let ids: Vec<String> = events.iter().map(|(e, _)| api.push(e.clone())).collect();
    for (id, (_, kind)) in ids.iter().zip(&events) {
        let answer = api
            .answer(Duration::from_secs(20))
            .await
            .expect("an answer");
        assert_eq!((&answer.request_id, answer.kind), (id, *kind), "{answer:?}");
    }
    let (stdout, documents) = stop_and_read_stdout(&mut child).await;
    let reasons = authorization_field(&documents, "reason");
    assert_eq!(
        reasons,
        ["proof_mismatch", "stale_proof", "replayed_proof"],
        "{stdout}"
    );
}

#[tokio::test]
async fn a_certificate_bound_token_needs_its_certificate() {
    let (pem, thumbprint) = client_certificate();
    let (server, token) = issuer_and_token(json!({"cnf": {"x5t#S256": thumbprint}})).await;
    let env = env_for(&server, &[]);
    allowed(&invoke(&env, &mtls_event(&token, Some(&pem))).await);

    let (other, _) = client_certificate();
    refused(
        &invoke(&env, &mtls_event(&token, Some(&other))).await,
        "certificate_mismatch",
    );
    refused(
        &invoke(&env, &mtls_event(&token, None)).await,
        "missing_proof",
    );
    let garbled = pem.replace("MII", "MIJ");
    refused(
        &invoke(&env, &mtls_event(&token, Some(&garbled))).await,
        "bad_certificate",
    );
    refused(
        &invoke(&env, &mtls_event(&token, Some("not a certificate"))).await,
        "bad_certificate",
    );
    // The certificate is not a proof for a token without `cnf`, nor for another token.
    let (server, unbound) = issuer_and_token(json!({})).await;
    allowed(&invoke(&env_for(&server, &[]), &mtls_event(&unbound, Some(&pem))).await);
}

/// A client certificate is the client's identity: no part of it reaches the output, even at debug
/// level, whether it is accepted, another one, or garbled.
#[tokio::test]
async fn no_line_of_a_client_certificate_reaches_the_output() {
    let (pem, thumbprint) = client_certificate();
    let (other, _) = client_certificate();
    let (server, token) = issuer_and_token(json!({"cnf": {"x5t#S256": thumbprint}})).await;
    let env = env_for(&server, &[("RUST_LOG", "debug")]);
    let garbled = pem.replace("MII", "MIJ");
    for (certificate, reason) in [
        (&pem, None),
        (&other, Some("certificate_mismatch")),
        (&garbled, Some("bad_certificate")),
    ] {
        let run = invoke(&env, &mtls_event(&token, Some(certificate))).await;
        match reason {
            None => allowed(&run),
            Some(reason) => refused(&run, reason),
        }
        // Each base64 line of the PEM (a short last one could be in the output by chance).
        let body = certificate
            .lines()
            .filter(|line| !line.starts_with("-----") && line.len() >= 16);
        for line in body {
            assert!(
                !run.stdout.contains(line) && !run.stderr.contains(line),
                "{reason:?}: a line of the certificate is in the output: {}",
                run.stderr
            );
        }
    }
}

/// An HTTP API (payload 2.0) event over mutual TLS: `Bearer <token>`, and the client certificate
/// where HTTP APIs pass it, `requestContext.authentication.clientCert`.
fn http_mtls_event(token: &str, pem: Option<&str>) -> Vec<u8> {
    let mut context = json!({"domainName": DOMAIN, "http": {"method": "GET", "path": "/pets/1"}});
    if let Some(pem) = pem {
        context["authentication"] = json!({"clientCert": {
            "clientCertPem": pem,
            "subjectDN": "CN=client.example.com",
            "issuerDN": "CN=client.example.com",
            "serialNumber": "1",
            "validity": {"notBefore": "May 28 12:30:02 2019 GMT", "notAfter": "Aug  5 09:36:04 2031 GMT"},
        }});
    }
    serde_json::to_vec(&json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": format!("{API}/$default/GET/pets/1"),
        "identitySource": [format!("Bearer {token}")],
        "routeKey": "GET /pets/{petId}",
        "rawPath": "/pets/1",
        "headers": {"authorization": format!("Bearer {token}")},
        "requestContext": context,
    }))
    .unwrap()
}

#[tokio::test]
async fn a_certificate_bound_token_needs_its_certificate_on_http_apis_too() {
    let (pem, thumbprint) = client_certificate();
    let (server, token) = issuer_and_token(json!({"cnf": {"x5t#S256": thumbprint}})).await;
    let env = env_for(&server, &[]);
    let run = invoke(&env, &http_mtls_event(&token, Some(&pem))).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.answer()["isAuthorized"], true, "{}", run.stdout);

    let (other, _) = client_certificate();
    refused(
        &invoke(&env, &http_mtls_event(&token, Some(&other))).await,
        "certificate_mismatch",
    );
    refused(
        &invoke(&env, &http_mtls_event(&token, None)).await,
        "missing_proof",
    );
    refused(
        &invoke(&env, &http_mtls_event(&token, Some("not a certificate"))).await,
        "bad_certificate",
    );
    // REST's place for the certificate is not read on an HTTP API event.
    let mut misplaced: Value = serde_json::from_slice(&http_mtls_event(&token, None)).unwrap();
    misplaced["requestContext"]["identity"] = json!({"clientCert": {"clientCertPem": pem}});
    refused(
        &invoke(&env, &serde_json::to_vec(&misplaced).unwrap()).await,
        "missing_proof",
    );
}

#[tokio::test]
async fn requiring_binding_warns_at_start_unless_the_identity_source_holds_the_proof() {
    let (server, key, token) = dpop_bound().await;
    let event = || dpop_event(&token, &key.proof("GET", URL, &token, now()));
    // API Gateway's cache keyed by the Authorization header alone would let a bound token pass
    // without a proof: said at start, as the authorizer cannot see the TTL.
    let required = env_for(&server, &[("REQUIRE_SENDER_CONSTRAINT", "true")]);
    let run = invoke(&required, &event()).await;
    allowed(&run);
    assert!(run.stderr.contains("result TTL is 0"), "{}", run.stderr);
    // The proof in the identity source (in any position: the DPoP header never holds the token).
    let with_proof = env_for(
        &server,
        &[
            ("REQUIRE_SENDER_CONSTRAINT", "true"),
            (
                "IDENTITY_SOURCE",
                "method.request.header.DPoP,method.request.header.Authorization",
            ),
        ],
    );
    let run = invoke(&with_proof, &event()).await;
    allowed(&run);
    assert!(!run.stderr.contains("result TTL is 0"), "{}", run.stderr);
}
