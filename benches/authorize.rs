//! The cost of one authorization beside its floor, one RSA-2048 signature check.
//!
//! `cargo bench --bench authorize`. Every case runs the real pipeline on a real TOKEN event, with
//! keys fetched once from a JWKS server on 127.0.0.1 at set-up.

#[cfg(feature = "cedar")]
#[path = "authorize/cedar.rs"]
mod cedar;
#[cfg(feature = "cedar")]
#[path = "authorize/cedar_set.rs"]
mod cedar_set;
#[path = "../tests/support/mod.rs"]
mod support;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::jwk::AlgorithmParameters;
use jwt_authorizer::{Authorizer, Decision, Outcome, Reject, Trigger};
use serde_json::json;
use std::hint::black_box;
use support::*;

/// Runs an authorization that never suspends (keys cached, kid misses in the penalty box) in one
/// poll, so the figures hold no executor overhead.
fn authorize_now(authorizer: &Authorizer, event: &[u8], now: u64, out: &mut Vec<u8>) -> Decision {
    poll_now(authorizer.authorize_at(event, now, out))
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = rsa_key("bench");
    let server = runtime.block_on(JwksServer::with_keys(&[key]));
    let authorizer = authorizer_for(
        &server,
        &[
            ("JWKS_KID_MISS_COOLDOWN_SECONDS", "3600"),
            ("VERIFIED_TOKEN_CACHE_SIZE", "0"),
        ],
    );
    let cached = authorizer_for(&server, &[]);
    runtime.block_on(authorizer.refresh_keys(Trigger::Init));
    runtime.block_on(cached.refresh_keys(Trigger::Init));
    let now = now();
    let claims = good_claims(&server.issuer());
    let token = key.sign(&claims).unwrap();
    let event = |token: &str| token_event(&format!("Bearer {token}"));

    // The floor: the same signature check with a key parsed ahead of time.
    let AlgorithmParameters::RSA(rsa) = &key.jwk().algorithm else {
        unreachable!()
    };
    let (n, e) = (
        URL_SAFE_NO_PAD.decode(&rsa.n).unwrap(),
        URL_SAFE_NO_PAD.decode(&rsa.e).unwrap(),
    );
    let public = RsaPublicKeyComponents {
        n: &n[..],
        e: &e[..],
    }
    .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
    .unwrap();
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    c.bench_function("floor/rsa_verify", |b| {
        b.iter(|| {
            public
                .verify_sig(black_box(signing_input.as_bytes()), black_box(&signature))
                .unwrap()
        })
    });

    let mut out = Vec::with_capacity(1024);
    let good = event(&token);
    assert_eq!(
        authorize_now(&authorizer, &good, now, &mut out).outcome,
        Outcome::Allow
    );
    c.bench_function("authorize/token_event", |b| {
        b.iter(|| authorize_now(&authorizer, black_box(&good), now, &mut out))
    });

    assert_eq!(
        authorize_now(&cached, &good, now, &mut out).outcome,
        Outcome::Allow
    );
    assert_eq!(cached.verified_tokens(), 1);
    c.bench_function("authorize/cache_hit", |b| {
        b.iter(|| authorize_now(&cached, black_box(&good), now, &mut out))
    });

    // An opaque token (INTROSPECT=opaque) whose active answer the introspection cache holds,
    // beside `authorize/cache_hit`: the token's keyed digest, the cache lookup, and the answer's
    // claims checked as a JWT's and written as the policy. The one call to the endpoint (on
    // 127.0.0.1) is made at set-up.
    let endpoint = runtime.block_on(support::introspection::IntrospectionServer::start());
    let introspecting = authorizer_for(
        &server,
        &[
            ("INTROSPECT", "opaque"),
            ("INTROSPECTION_ENDPOINT", &endpoint.endpoint()),
            ("INTROSPECTION_CLIENT_ID", support::introspection::CLIENT_ID),
            (
                "INTROSPECTION_CLIENT_SECRET",
                support::introspection::CLIENT_SECRET,
            ),
            ("INTROSPECTION_CACHE_SECONDS", "3600"),
        ],
    );
    let opaque_token = "2YotnFZFEjr1zCsicMWpAAbench-opaque-token-0001";
    endpoint.activate(
        opaque_token,
        json!({
            "iss": server.issuer(),
            "sub": "auth0|alice",
            "aud": AUDIENCE,
            "client_id": "mobile-app",
            "scope": "openid read:pets",
            "iat": now - 10,
            "exp": now + 7200,
            "token_type": "Bearer",
        }),
    );
    let opaque = event(opaque_token);
    assert_eq!(
        runtime
            .block_on(introspecting.authorize_at(&opaque, now, &mut out))
            .outcome,
        Outcome::Allow
    );
    assert_eq!(endpoint.calls(), 1);
    c.bench_function("introspection/cache_hit", |b| {
        b.iter(|| authorize_now(&introspecting, black_box(&opaque), now, &mut out))
    });
    assert_eq!(endpoint.calls(), 1, "every iteration was a cache hit");

    #[cfg(feature = "cedar")]
    cedar::benches(c, &server, key);

    // Sender-constrained tokens, beside `authorize/cache_hit`: the access token's signature is
    // answered by the verified-token cache, so what is added is the binding check. DPoP: one
    // ES256 verify of the proof, its parsing, the thumbprint, `ath`, `htu` and the replay cache
    // (each iteration gets a fresh proof, made outside the timing).
    let proof_key = support::dpop::ProofKey::generate();
    let mut bound_claims = claims.clone();
    bound_claims["cnf"] = json!({"jkt": proof_key.thumbprint()});
    let bound = key.sign(&bound_claims).unwrap();
    let url = "https://abcdef123.execute-api.us-east-1.amazonaws.com/prod/pets/1";
    let dpop_event = |proof: &str| {
        serde_json::to_vec(&json!({
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/pets/1",
            "resource": "/pets/{petId}",
            "httpMethod": "GET",
            "headers": {"Authorization": format!("DPoP {bound}"), "DPoP": proof},
            "requestContext": {
                "domainName": "abcdef123.execute-api.us-east-1.amazonaws.com",
                "path": "/prod/pets/1",
            },
        }))
        .unwrap()
    };
    let first = dpop_event(&proof_key.proof("GET", url, &bound, now));
    assert_eq!(
        authorize_now(&cached, &first, now, &mut out).outcome,
        Outcome::Allow
    );
    c.bench_function("dpop/valid_proof", |b| {
        b.iter_batched(
            || dpop_event(&proof_key.proof("GET", url, &bound, now)),
            |event| authorize_now(&cached, black_box(&event), now, &mut out),
            criterion::BatchSize::SmallInput,
        )
    });

    // mTLS: the certificate's PEM decoded, its SHA-256 compared with `x5t#S256`.
    let certified =
        rcgen::generate_simple_self_signed(vec!["client.example.com".to_owned()]).unwrap();
    let thumbprint = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, certified.cert.der());
    let mut cert_claims = claims.clone();
    cert_claims["cnf"] = json!({"x5t#S256": URL_SAFE_NO_PAD.encode(thumbprint.as_ref())});
    let cert_bound = key.sign(&cert_claims).unwrap();
    let mtls_event = serde_json::to_vec(&json!({
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/pets/1",
        "resource": "/pets/{petId}",
        "httpMethod": "GET",
        "headers": {"Authorization": format!("Bearer {cert_bound}")},
        "requestContext": {"identity": {"clientCert": {"clientCertPem": certified.cert.pem()}}},
    }))
    .unwrap();
    assert_eq!(
        authorize_now(&cached, &mtls_event, now, &mut out).outcome,
        Outcome::Allow
    );
    c.bench_function("mtls/bound", |b| {
        b.iter(|| authorize_now(&cached, black_box(&mtls_event), now, &mut out))
    });

    // The cost metrics add to an authorization: one counter from the outcome × reason table, the
    // latency histogram, and the cache-hit counter, against the EMF recorder Lambda uses.
    let recorder = jwt_authorizer::metrics::emf::EmfRecorder::default();
    let handles = jwt_authorizer::metrics::Metrics::register(&recorder, &cached.issuer_names());
    let sink = recorder.sink(
        jwt_authorizer::metrics::emf::EmfConfig::from_lookup(|_| None).expect("defaults are valid"),
    );
    let decision = authorize_now(&cached, &good, now, &mut out);
    let latency = std::time::Duration::from_micros(180);
    c.bench_function("metrics/record_decision", |b| {
        b.iter(|| handles.record_decision(black_box(&decision), black_box(latency)))
    });
    // What a flush per invocation adds (METRICS_FLUSH_INTERVAL_SECONDS=0), written to memory.
    let mut emf = Vec::with_capacity(4096);
    c.bench_function("metrics/emf_flush_per_invocation", |b| {
        b.iter(|| {
            handles.record_decision(&decision, latency);
            emf.clear();
            sink.flush(Some("req-0001"), std::time::SystemTime::now(), &mut emf)
                .expect("memory writes succeed");
        })
    });

    let mut expired_claims = claims.clone();
    expired_claims["exp"] = json!(now - 3600);
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 10;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let rejects = [
        ("reject/malformed", event("not-a-jwt"), Reject::Malformed),
        (
            "reject/unknown_kid",
            event(&sign_raw(
                key,
                &json!({"alg": "RS256", "kid": "unknown"}),
                &claims,
            )),
            Reject::UnknownKid,
        ),
        (
            "reject/expired",
            event(&key.sign(&expired_claims).unwrap()),
            Reject::Expired,
        ),
        (
            "reject/bad_signature",
            event(std::str::from_utf8(&tampered).unwrap()),
            Reject::BadSignature,
        ),
    ];
    for (id, bad, reason) in &rejects {
        // The first unknown kid costs one fetch; the penalty box answers the rest.
        runtime.block_on(authorizer.authorize_at(bad, now, &mut out));
        assert_eq!(
            authorize_now(&authorizer, bad, now, &mut out).reject,
            Some(*reason),
            "{id}"
        );
        c.bench_function(id, |b| {
            b.iter(|| authorize_now(&authorizer, black_box(bad), now, &mut out))
        });
    }
}

criterion_group!(authorize, benches);
criterion_main!(authorize);
