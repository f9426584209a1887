//! Sender-constrained tokens tried locally, through the real binary: `authorizer token
//! --dpop-key` and `--client-cert` bind tokens, `authorizer proof` makes DPoP proofs for curl,
//! and `authorizer serve --api http` passes them to the authorizer as API Gateway does.
//! Everything the tools write is checked here against the RFCs, independently of the crate.
#![cfg(feature = "local")]

mod support;
use support::b64;
use support::serve::Serve;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use std::path::Path;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_authorizer");

/// Runs the binary with `args`: its exit code, stdout and stderr.
async fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_clear()
        .output()
        .await
        .expect("run authorizer");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Runs the binary with `args` and returns the one line it printed.
async fn line(args: &[&str]) -> String {
    let (code, stdout, stderr) = run(args).await;
    assert_eq!(code, 0, "{args:?}: {stderr}");
    stdout.trim_end().to_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A compact JWS's header and payload as JSON, and its signature's bytes.
fn decode(jws: &str) -> (Value, Value, Vec<u8>) {
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(parts.len(), 3, "{jws}");
    let json = |part: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap();
    (
        json(parts[0]),
        json(parts[1]),
        URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
    )
}

fn sha256_b64(bytes: &[u8]) -> String {
    b64(digest(&SHA256, bytes).as_ref())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread")]
async fn token_binds_to_a_dpop_key_and_proof_makes_rfc_9449_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let (issuer_key, dpop_key) = (dir.path().join("issuer.pem"), dir.path().join("dpop.pem"));
    let token = line(&[
        "token",
        "--key",
        path(&issuer_key),
        "--dpop-key",
        path(&dpop_key),
    ])
    .await;
    // The key is made once, private to its owner, and reused.
    assert!(dpop_key.is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dpop_key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = line(&[
        "token",
        "--key",
        path(&issuer_key),
        "--dpop-key",
        path(&dpop_key),
    ])
    .await;
    let (_, claims, _) = decode(&token);
    let jkt = claims["cnf"]["jkt"].as_str().expect("cnf.jkt").to_owned();
    assert_eq!(decode(&again).1["cnf"], claims["cnf"], "one key, one jkt");

    let url = "https://api.example.com:8443/prod/pets/1?page=2#top";
    let args = [
        "proof",
        "--key",
        path(&dpop_key),
        "--method",
        "PATCH",
        "--url",
        url,
        "--token",
        &token,
    ];
    let proof = line(&args).await;
    let (header, proof_claims, signature) = decode(&proof);
    // RFC 9449 §4.2: the header is `typ`, `alg` and the public `jwk`, with no private member.
    assert_eq!(header["typ"], "dpop+jwt");
    assert_eq!(header["alg"], "ES256");
    let jwk = header["jwk"].as_object().unwrap();
    let mut members: Vec<&str> = jwk.keys().map(String::as_str).collect();
    members.sort_unstable();
    assert_eq!(members, ["crv", "kty", "x", "y"], "{jwk:?}");
    // RFC 7638 §3: the JWK's thumbprint is the token's `cnf.jkt`.
    let canonical = format!(
        r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
        jwk["crv"].as_str().unwrap(),
        jwk["kty"].as_str().unwrap(),
        jwk["x"].as_str().unwrap(),
        jwk["y"].as_str().unwrap()
    );
    assert_eq!(sha256_b64(canonical.as_bytes()), jkt);
    // The claims: the method as given, the URL without query and fragment, the token's hash.
    assert_eq!(proof_claims["htm"], "PATCH");
    assert_eq!(
        proof_claims["htu"],
        "https://api.example.com:8443/prod/pets/1"
    );
    assert_eq!(proof_claims["ath"], sha256_b64(token.as_bytes()));
    let iat = proof_claims["iat"].as_u64().unwrap();
    assert!(iat.abs_diff(now()) <= 5, "iat {iat}");
    let jti = URL_SAFE_NO_PAD
        .decode(proof_claims["jti"].as_str().unwrap())
        .unwrap();
    assert!(jti.len() * 8 >= 96, "a jti of at least 96 random bits");
    // The ES256 signature (R || S, RFC 7518 §3.4) verifies with the key in the header.
    let mut point = vec![0x04];
    for member in ["x", "y"] {
        point.extend(
            URL_SAFE_NO_PAD
                .decode(jwk[member].as_str().unwrap())
                .unwrap(),
        );
    }
    let input = proof.rsplit_once('.').unwrap().0;
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        &point,
    )
    .verify(input.as_bytes(), &signature)
    .expect("the proof's signature verifies with its jwk");
    // Each proof is new.
    let (_, other, _) = decode(&line(&args).await);
    assert_ne!(other["jti"], proof_claims["jti"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn token_binds_to_a_client_certificate_by_its_sha256_thumbprint() {
    let dir = tempfile::tempdir().unwrap();
    let issuer_key = dir.path().join("issuer.pem");
    let certified =
        rcgen::generate_simple_self_signed(vec!["client.example.com".to_owned()]).unwrap();
    let cert = dir.path().join("client.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    // RFC 8705 §3.1: base64url SHA-256 of the certificate's DER.
    let expected = sha256_b64(certified.cert.der());
    for flag in ["--client-cert", "--cnf-x5t"] {
        let token = line(&["token", "--key", path(&issuer_key), flag, path(&cert)]).await;
        let (_, claims, _) = decode(&token);
        assert_eq!(claims["cnf"], serde_json::json!({ "x5t#S256": expected }));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tools_refuse_what_would_never_be_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (issuer_key, dpop_key) = (dir.path().join("issuer.pem"), dir.path().join("dpop.pem"));
    let (issuer, dpop) = (path(&issuer_key), path(&dpop_key));
    let not_a_cert = dir.path().join("not-a-cert.pem");
    std::fs::write(&not_a_cert, "hello").unwrap();
    let refusals: [(Vec<&str>, &str); 8] = [
        // `proof` never makes a key: no token could be bound to it.
        (
            vec![
                "proof",
                "--key",
                dpop,
                "--url",
                "https://a.example/x",
                "--token",
                "t",
            ],
            "authorizer token --dpop-key",
        ),
        (
            vec![
                "token",
                "--key",
                issuer,
                "--dpop-key",
                dpop,
                "--client-cert",
                dpop,
            ],
            "cannot be used with",
        ),
        (
            vec![
                "token",
                "--key",
                issuer,
                "--dpop-key",
                dpop,
                "--claim",
                "cnf={}",
            ],
            "both set `cnf`",
        ),
        (
            vec!["token", "--key", issuer, "--client-cert", path(&not_a_cert)],
            "not one PEM CERTIFICATE",
        ),
        // The authorizer rebuilds `htu` with https: a proof for http:// could never match.
        (
            vec![
                "proof",
                "--key",
                dpop,
                "--url",
                "http://127.0.0.1:3000/pets",
                "--token",
                "t",
            ],
            "https://127.0.0.1:PORT",
        ),
        (
            vec![
                "proof",
                "--key",
                dpop,
                "--url",
                "https://a.example/x",
                "--token",
                "DPoP t",
            ],
            "without `DPoP ` or `Bearer `",
        ),
        (
            vec![
                "proof",
                "--key",
                dpop,
                "--method",
                "GET /x",
                "--url",
                "https://a.example/x",
                "--token",
                "t",
            ],
            "HTTP method",
        ),
        (
            vec![
                "proof",
                "--key",
                dpop,
                "--url",
                "https://u:p@a.example/x",
                "--token",
                "t",
            ],
            "https://127.0.0.1:PORT",
        ),
    ];
    // Refused before anything is written.
    let unused = dir.path().join("unused.pem");
    let (code, _, _) = run(&[
        "token",
        "--key",
        issuer,
        "--dpop-key",
        path(&unused),
        "--claim",
        "cnf={}",
    ])
    .await;
    assert_eq!(code, 2);
    assert!(!unused.exists(), "no key made for a refused token");
    // After the first refusal, a key exists for the later `proof` calls.
    for (i, (args, says)) in refusals.iter().enumerate() {
        if i == 1 {
            line(&["token", "--key", issuer, "--dpop-key", dpop]).await;
        }
        let (code, _, stderr) = run(args).await;
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// `serve --api http` with the embedded issuer, a token bound to a new DPoP key, and a way to
/// make proofs for its URLs.
struct DpopClient {
    serve: Serve,
    token: String,
    key: tempfile::TempDir,
}

impl DpopClient {
    async fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let key = tempfile::tempdir().unwrap();
        let issuer_key = key.path().join("issuer.pem");
        let mut all = vec!["--api", "http", "--key", path(&issuer_key)];
        all.extend_from_slice(args);
        let serve = Serve::start(&all, env).await;
        let dpop_key = key.path().join("dpop.pem");
        let token = line(&[
            "token",
            "--key",
            path(&issuer_key),
            "--iss",
            serve.issuer(),
            "--dpop-key",
            path(&dpop_key),
        ])
        .await;
        DpopClient { serve, token, key }
    }

    /// `authorizer proof` for `GET {path}` on the gateway: https, as the authorizer rebuilds it.
    async fn proof(&self, path_: &str) -> String {
        let url = format!("{}{path_}", self.serve.base.replace("http://", "https://"));
        let key = self.key.path().join("dpop.pem");
        line(&[
            "proof",
            "--key",
            path(&key),
            "--url",
            &url,
            "--token",
            &self.token,
        ])
        .await
    }

    /// `GET {path}` with this authorization scheme and, if given, the `DPoP` header.
    async fn get(&self, path_: &str, scheme: &str, proof: Option<&str>) -> u16 {
        let mut request = self
            .serve
            .http
            .get(format!("{}{path_}", self.serve.base))
            .header("authorization", format!("{scheme} {}", self.token));
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        request.send().await.unwrap().status().as_u16()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_accepts_a_dpop_bound_token_with_a_fresh_proof_once() {
    let client = DpopClient::start(&["--cache-ttl", "0"], &[]).await;
    let proof = client.proof("/pets").await;
    assert_eq!(client.get("/pets", "DPoP", Some(&proof)).await, 200);
    // The same proof again: refused by the replay check.
    assert_eq!(client.get("/pets", "DPoP", Some(&proof)).await, 401);
    // No proof, or the token as a bearer token: refused.
    assert_eq!(client.get("/pets", "DPoP", None).await, 401);
    assert_eq!(client.get("/pets", "Bearer", None).await, 401);
    // A proof for another URL: refused.
    let other = client.proof("/pets/1").await;
    assert_eq!(client.get("/pets", "DPoP", Some(&other)).await, 401);
    // A fresh proof: accepted.
    let fresh = client.proof("/pets/1").await;
    assert_eq!(client.get("/pets/1", "DPoP", Some(&fresh)).await, 200);

    let logs = client.serve.logs();
    for reason in ["replayed_proof", "missing_proof", "proof_mismatch"] {
        assert!(logs.contains(reason), "{reason}: {logs}");
    }
    // Neither the token nor a proof is ever logged.
    for secret in [&client.token, &proof, &fresh] {
        let signature = secret.rsplit('.').next().unwrap();
        assert!(!logs.contains(signature), "{logs}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_result_cache_on_a_replay_is_answered_from_the_cache_and_serve_says_so() {
    // API Gateway's cache keyed by the Authorization header alone: once allowed, the token
    // passes without any proof until the TTL ends. `serve` does what API Gateway does, and warns.
    let client = DpopClient::start(&["--cache-ttl", "300"], &[]).await;
    let proof = client.proof("/pets").await;
    assert_eq!(client.get("/pets", "DPoP", Some(&proof)).await, 200);
    assert_eq!(client.get("/pets", "DPoP", Some(&proof)).await, 200);
    assert_eq!(client.get("/pets", "DPoP", None).await, 200);
    let logs = client.serve.logs();
    assert!(logs.contains("--cache-ttl 0"), "{logs}");

    // The proof in the identity source: no proof is 401 at the gateway, and each fresh proof is a
    // cache miss; the very same request replayed still comes from the cache.
    let identity = (
        "IDENTITY_SOURCE",
        "$request.header.Authorization,$request.header.DPoP",
    );
    let client = DpopClient::start(&["--cache-ttl", "300"], &[identity]).await;
    let proof = client.proof("/pets").await;
    assert_eq!(client.get("/pets", "DPoP", Some(&proof)).await, 200);
    assert_eq!(client.get("/pets", "DPoP", None).await, 401);
    assert_eq!(client.get("/pets", "DPoP", Some(&proof)).await, 200);
    assert_eq!(client.serve.calls().await, 1);
    let fresh = client.proof("/pets").await;
    assert_eq!(client.get("/pets", "DPoP", Some(&fresh)).await, 200);
    assert_eq!(client.serve.calls().await, 2);
    let logs = client.serve.logs();
    assert!(logs.contains("replayed within"), "{logs}");
}
