//! What the fuzz targets share: an issuer with fixed keys (committed in `keys/`, so that the seed
//! tokens stay valid), a JWKS server on 127.0.0.1 for it, authorizers built the way Lambda builds
//! them (`Config::from_lookup` + `Authorizer::from_config` + a real fetch), and the oracles that
//! judge an answer without trusting the code under test.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_authorizer::issuer::{SigningKey, jwks};
use jwt_authorizer::{Algorithm, Authorizer, Config, Decision, Outcome, Trigger};
use rsa::pkcs8::DecodePrivateKey;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::Duration;

/// `iss` of every token the fuzz issuer signs.
pub const ISSUER: &str = "https://issuer.fuzz.example/";
/// The audience the authorizers accept.
pub const AUDIENCE: &str = "https://api.example.com";
/// The fixed "now" of every authorization (2027-01-15): answers do not change with the clock.
pub const NOW: u64 = 1_800_000_000;
/// The leeway the authorizers use (the default).
pub const LEEWAY: f64 = 5.0;
/// The kid of the RS256 key.
pub const RSA_KID: &str = "fuzz-rs256";
/// The kid of the EdDSA key.
pub const ED_KID: &str = "fuzz-eddsa";
/// The method ARN of the events the targets build.
pub const METHOD_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/pets";

const RSA_PEM: &str = include_str!("../keys/fuzz-rs256.pem");
const ED_PEM: &str = include_str!("../keys/fuzz-eddsa.pem");

/// An authorizer with its keys loaded, and a runtime to drive it.
pub struct Fixture {
    /// Drives `authorize_at` (a fetch only happens for the first unknown kid: the cooldown is an hour).
    pub runtime: tokio::runtime::Runtime,
    /// The authorizer under test.
    pub authorizer: Authorizer,
}

impl Fixture {
    /// Authorizes `event` at [`NOW`]; checks the answer is JSON exactly when one is due.
    pub fn authorize(&self, event: &[u8]) -> (Decision, Vec<u8>) {
        let mut out = Vec::new();
        let decision = self
            .runtime
            .block_on(self.authorizer.authorize_at(event, NOW, &mut out));
        if decision.outcome == Outcome::Unauthorized {
            assert!(out.is_empty(), "Unauthorized, yet an answer was written");
            assert!(decision.reject.is_some(), "Unauthorized without a reason");
        } else {
            serde_json::from_slice::<serde_json::Value>(&out).unwrap_or_else(|e| {
                panic!(
                    "the answer is not JSON ({e}): {}",
                    String::from_utf8_lossy(&out)
                )
            });
        }
        (decision, out)
    }
}

/// The RS256 issuer key's public half, for the independent oracle.
pub fn rsa_public_key() -> &'static rsa::RsaPublicKey {
    static KEY: OnceLock<rsa::RsaPublicKey> = OnceLock::new();
    KEY.get_or_init(|| {
        rsa::RsaPrivateKey::from_pkcs8_pem(RSA_PEM)
            .expect("keys/fuzz-rs256.pem is a PKCS#8 RSA key")
            .to_public_key()
    })
}

/// The RS256 authorizer: RS256 only, route rules and context claims on, keys fetched from
/// `/rsa.json` on the local JWKS server.
pub fn rsa_fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| fixture("/rsa.json", "RS256"))
}

/// The EdDSA authorizer (cheap signatures, so a target can sign whatever payload it is given).
pub fn ed_fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| fixture("/ed.json", "EdDSA"))
}

/// The EdDSA key pair, to sign fuzzed payloads.
pub fn ed_key_pair() -> &'static aws_lc_rs::signature::Ed25519KeyPair {
    static KEY: OnceLock<aws_lc_rs::signature::Ed25519KeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        let der = pem_der(ED_PEM);
        aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .expect("keys/fuzz-eddsa.pem is a PKCS#8 Ed25519 key")
    })
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("PEM body is base64")
}

fn fixture(path: &str, algorithms: &str) -> Fixture {
    let base = jwks_server();
    let vars = [
        ("TOKEN_ISSUER", ISSUER.to_owned()),
        ("JWKS_URI", format!("{base}{path}")),
        ("AUDIENCE", AUDIENCE.to_owned()),
        ("ALLOWED_ALGORITHMS", algorithms.to_owned()),
        ("JWKS_KID_MISS_COOLDOWN_SECONDS", "3600".to_owned()),
        ("JWKS_REFRESH_INTERVAL_SECONDS", "86400".to_owned()),
        ("JWKS_MIN_REFRESH_INTERVAL_SECONDS", "86400".to_owned()),
        (
            "ROUTE_SCOPES",
            "POST /pets=write:pets; DELETE /pets/{petId}=admin".to_owned(),
        ),
        ("CONTEXT_CLAIMS", "email,org".to_owned()),
        // Route rules and HTTP API events: policy answers, right under the cache for every route
        // (simple ones would need `$context.routeKey` in the identity source).
        ("HTTP_API_RESPONSE", "policy".to_owned()),
    ];
    let config = Config::from_lookup(|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    })
    .expect("the fuzz configuration is valid");
    let authorizer = Authorizer::from_config(config).expect("the HTTP client builds");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(authorizer.refresh_keys(Trigger::Init));
    assert_eq!(
        authorizer.issuers()[0].keys().keys().len(),
        1,
        "the fuzz key was loaded"
    );
    Fixture {
        runtime,
        authorizer,
    }
}

/// A minimal HTTP/1.1 server on 127.0.0.1 answering `/rsa.json` and `/ed.json` with the fuzz
/// issuer's JWKS documents; started once per process.
fn jwks_server() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let rsa = SigningKey::from_pem(RSA_PEM.as_bytes(), Algorithm::RS256, RSA_KID).unwrap();
        let ed = SigningKey::from_pem(ED_PEM.as_bytes(), Algorithm::EdDSA, ED_KID).unwrap();
        let (rsa_jwks, ed_jwks) = (jwks([&rsa]), jwks([&ed]));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = if request.starts_with(b"GET /ed.json ") {
                    &ed_jwks
                } else {
                    &rsa_jwks
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        base
    })
}

/// Every string (keys and values, duplicates included) of a JSON document, or `None` when it is
/// not JSON: where a token could hide in an event.
pub fn json_strings(json: &[u8]) -> Option<Vec<String>> {
    struct Strings<'a>(&'a mut Vec<String>);
    impl<'de> DeserializeSeed<'de> for Strings<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Strings<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_str<E>(self, v: &str) -> Result<(), E> {
            self.0.push(v.to_owned());
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Strings(&mut *self.0))?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while map.next_key_seed(Strings(&mut *self.0))?.is_some() {
                map.next_value_seed(Strings(&mut *self.0))?;
            }
            Ok(())
        }
    }
    let mut strings = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(json);
    Strings(&mut strings).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(strings)
}

/// Whether `value` (`Bearer <JWS>` or a bare JWS) carries an RS256 signature by the fuzz issuer's
/// key, checked with the pure-Rust `rsa` crate rather than aws-lc-rs.
pub fn signed_by_rsa_key(value: &str) -> bool {
    use rsa::signature::Verifier;
    let token = match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => &value[7..],
        _ => value,
    };
    let Some((signing_input, signature)) = token.rsplit_once('.') else {
        return false;
    };
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature.as_slice()) else {
        return false;
    };
    let verifier = rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(rsa_public_key().clone());
    verifier
        .verify(signing_input.as_bytes(), &signature)
        .is_ok()
}

/// Every run of three dot-separated base64url segments in `bytes`: the tokens an event carries
/// without JSON escapes (`json_strings` finds the escaped ones).
pub fn raw_tokens(bytes: &[u8]) -> Vec<String> {
    let mut tokens = Vec::new();
    let alphabet = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    for run in bytes.split(|b| !alphabet(b)) {
        let segments: Vec<&[u8]> = run.split(|b| *b == b'.').collect();
        for window in segments.windows(3) {
            tokens.push(String::from_utf8_lossy(&window.join(&b'.')).into_owned());
        }
    }
    tokens
}

/// base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A REST `TOKEN` event carrying `Bearer {token}` (the token must be base64url and dots).
pub fn token_event(token: &str) -> Vec<u8> {
    format!(
        r#"{{"type":"TOKEN","authorizationToken":"Bearer {token}","methodArn":"{METHOD_ARN}"}}"#
    )
    .into_bytes()
}

// The targets' checks, one function per target: `fuzz_targets/*.rs` feed them libFuzzer's
// inputs, and `tests/fuzz_corpus.rs` of the main crate replays the committed seeds (regressions
// included) through the very same functions on stable Rust, in every `cargo test`.

/// Target `token`: the framing (`Bearer`, three segments, base64url) and the JOSE header.
pub fn check_token(data: &[u8]) {
    use jwt_authorizer::token::{DecodeBuf, bearer_token, parse_header, split};
    let Ok(authorization) = std::str::from_utf8(data) else {
        return;
    };
    // A bare token is tried too, so the corpus need not start with `Bearer `.
    let token = bearer_token(authorization).unwrap_or(authorization);
    let Ok(segments) = split(token) else {
        return;
    };
    // The segments are the token's own bytes, in order.
    assert_eq!(
        format!(
            "{}.{}.{}",
            segments.header, segments.payload, segments.signature
        ),
        token
    );
    assert_eq!(
        segments.signing_input,
        format!("{}.{}", segments.header, segments.payload)
    );
    let mut header_buf = DecodeBuf::<64>::default();
    let Ok(header) = header_buf.decode(segments.header) else {
        return;
    };
    let header = header.to_vec();
    for allowed in [&Algorithm::ALL[..1], &Algorithm::ALL[..]] {
        if let Ok(parsed) = parse_header(&header, allowed) {
            assert!(
                allowed.contains(&parsed.alg),
                "{parsed:?} not in {allowed:?}"
            );
        }
    }
    let mut buf = DecodeBuf::<16>::default();
    let _ = buf.decode(segments.payload);
    let _ = buf.decode(segments.signature);
}

/// Target `event`: the authorizer event parser (REST TOKEN and REQUEST, HTTP API payload 2.0).
pub fn check_event(data: &[u8]) {
    use jwt_authorizer::events::parse;
    let Ok(event) = parse(data) else {
        return;
    };
    // What is read comes out of the event's strings. (Unread fields are skipped without checking
    // their UTF-8 or escapes; in Lambda the runtime has validated the UTF-8 already.)
    let Some(strings) = json_strings(data) else {
        return;
    };
    assert!(
        strings.iter().any(|s| *s == event.arn),
        "the ARN is a string of the event"
    );
    if let Some(authorization) = &event.authorization {
        assert!(
            strings.iter().any(|s| s == authorization),
            "the Authorization value is a string of the event"
        );
    }
}

/// Target `jwks`: the JWKS parser, on a document the issuer (or whoever answers) controls.
pub fn check_jwks(data: &[u8]) {
    use jwt_authorizer::KeySet;
    for allowed in [&Algorithm::ALL[..1], &Algorithm::ALL[..]] {
        let Ok((keys, _skipped)) = KeySet::from_jwks(data, allowed) else {
            continue;
        };
        assert!(!keys.is_empty(), "an accepted key set holds a key");
        for kid in keys.kids() {
            assert!(!kid.is_empty(), "every key has a kid");
            let key = keys.find(kid).expect("a listed kid is found");
            assert!(key.algorithms().count() > 0);
            assert!(
                key.algorithms().all(|a| allowed.contains(&a)),
                "a key verifies only allowed algorithms"
            );
        }
    }
}

/// Target `pipeline`: the whole pipeline, judged by an independent RSA implementation.
pub fn check_pipeline(data: &[u8]) {
    // The Lambda runtime reads the event as a `RawValue`, which refuses invalid UTF-8: nothing
    // else reaches the handler (the first run of this target found that the event parser itself
    // skips unread fields without checking their UTF-8).
    if std::str::from_utf8(data).is_err() {
        return;
    }
    let (decision, _) = rsa_fixture().authorize(data);
    if decision.outcome != Outcome::Unauthorized {
        let mut candidates = raw_tokens(data);
        candidates.extend(json_strings(data).unwrap_or_default());
        assert!(
            candidates.iter().any(|s| signed_by_rsa_key(s)),
            "{decision:?} for an event without a token signed by the issuer's key: {}",
            String::from_utf8_lossy(data)
        );
    }
}

/// Target `claims`: the input is a payload, signed with the issuer's EdDSA key, so that every
/// input reaches the claim rules; judged by plain serde.
pub fn check_claims(payload: &[u8]) {
    use serde_json::Value;
    /// The registered claims. Unread claims are skipped as by the code under test (serde_json does
    /// not check lone surrogate escapes there, which JSON's grammar allows).
    #[derive(serde::Deserialize)]
    struct Registered {
        iss: Option<Value>,
        sub: Option<Value>,
        aud: Option<Value>,
        exp: Option<Value>,
        nbf: Option<Value>,
        iat: Option<Value>,
    }

    fn number(claim: &Option<Value>) -> Option<f64> {
        claim
            .as_ref()
            .map(|v| v.as_f64().expect("a numeric date is a number"))
    }
    let key = ed_key_pair();
    let signing_input = format!(
        "{}.{}",
        b64(format!(r#"{{"alg":"EdDSA","kid":"{ED_KID}"}}"#)),
        b64(payload)
    );
    let signature = key.sign(signing_input.as_bytes());
    let token = format!("{signing_input}.{}", b64(signature.as_ref()));
    let (decision, out) = ed_fixture().authorize(&token_event(&token));
    if decision.outcome == Outcome::Unauthorized {
        return;
    }
    let text = std::str::from_utf8(payload).expect("an accepted payload is UTF-8");
    let claims: Registered = serde_json::from_str(text).expect("an accepted payload is JSON");
    let now = NOW as f64;
    assert!(
        number(&claims.exp).is_some_and(|exp| now < exp + LEEWAY),
        "exp: {text}"
    );
    assert!(
        number(&claims.nbf).is_none_or(|nbf| nbf <= now + LEEWAY),
        "nbf: {text}"
    );
    assert!(
        number(&claims.iat).is_none_or(|iat| iat <= now + LEEWAY),
        "iat: {text}"
    );
    assert_eq!(claims.iss, Some(Value::from(ISSUER)), "iss: {text}");
    let audience_ok = match &claims.aud {
        Some(Value::String(aud)) => aud == AUDIENCE,
        Some(Value::Array(auds)) => auds.iter().any(|a| a == AUDIENCE),
        _ => false,
    };
    assert!(audience_ok, "aud: {text}");
    let sub = claims
        .sub
        .as_ref()
        .and_then(Value::as_str)
        .expect("sub is a string");
    assert!(!sub.is_empty());
    let answer: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(answer["principalId"], sub, "principalId is sub exactly");
}
