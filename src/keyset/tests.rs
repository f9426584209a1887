//! The JWKS parser on its own: which keys are used, for which algorithms, and why the others are
//! skipped. Each test names the rule it pins; the skip reasons are asserted exactly, so that a key
//! skipped for another reason (or not skipped) fails the test.

use super::*;
use crate::issuer::SigningKey;
use serde_json::{Value, json};
use std::sync::OnceLock;

const RS256_ONLY: &[Algorithm] = &[Algorithm::RS256];

fn rsa() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(Algorithm::RS256, "rsa").unwrap())
}

fn p256() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(Algorithm::ES256, "ec").unwrap())
}

/// The key's public JWK without its `alg`, so that only `kty` (and `crv`) say what it is for.
fn jwk_without_alg(key: &SigningKey) -> Value {
    let mut jwk = serde_json::to_value(key.jwk()).unwrap();
    jwk.as_object_mut().unwrap().remove("alg");
    jwk
}

fn with(mut jwk: Value, changes: Value) -> Value {
    for (name, value) in changes.as_object().unwrap() {
        jwk[name] = value.clone();
    }
    jwk
}

/// The algorithms a JWK's key verifies, or why it is skipped.
fn one(jwk: Value, allowed: &[Algorithm]) -> Result<Vec<Algorithm>, &'static str> {
    let jwk: Jwk = serde_json::from_value(jwk).expect("a JWK jsonwebtoken reads");
    VerifyingKey::from_jwk(&jwk, allowed).map(|key| key.algorithms().collect())
}

/// An RSA modulus of exactly `bits` bits (not a real key: the size check comes before any use).
fn modulus(bits: usize) -> String {
    let mut n = vec![0xffu8; bits.div_ceil(8)];
    n[0] = 0xff >> (n.len() * 8 - bits);
    URL_SAFE_NO_PAD.encode(n)
}

#[test]
fn a_key_verifies_only_the_allowed_algorithms_of_its_own_type() {
    let all = &Algorithm::ALL[..];
    assert_eq!(
        one(jwk_without_alg(rsa()), all),
        Ok(vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512
        ])
    );
    assert_eq!(
        one(jwk_without_alg(p256()), all),
        Ok(vec![Algorithm::ES256])
    );
    // An RSA key where only EC algorithms are allowed is of no use, and the other way round.
    assert_eq!(
        one(
            jwk_without_alg(rsa()),
            &[Algorithm::ES256, Algorithm::EdDSA]
        ),
        Err("no allowed algorithm for this key")
    );
    assert_eq!(
        one(jwk_without_alg(p256()), RS256_ONLY),
        Err("no allowed algorithm for this key")
    );
}

#[test]
fn a_token_whose_alg_is_for_another_key_type_is_refused_as_a_mismatch() {
    let document = json!({ "keys": [jwk_without_alg(rsa()), jwk_without_alg(p256())] });
    let allowed = [Algorithm::RS256, Algorithm::ES256];
    let (keys, _) = KeySet::from_jwks(document.to_string().as_bytes(), &allowed).unwrap();
    let message = b"header.payload";
    let rsa_key = keys.find("rsa").unwrap();
    let ec_key = keys.find("ec").unwrap();
    // An ES256 header naming the RSA key, and an RS256 header naming the EC key.
    assert_eq!(
        rsa_key.verify(Algorithm::ES256, message, &[0; 64]),
        Err(Reject::KeyAlgMismatch)
    );
    assert_eq!(
        ec_key.verify(Algorithm::RS256, message, &[0; 256]),
        Err(Reject::KeyAlgMismatch)
    );
    assert_eq!(
        rsa_key.verify(Algorithm::RS256, message, &[0; 256]),
        Err(Reject::BadSignature)
    );
}

#[test]
fn a_jwk_alg_restricts_the_key_to_that_algorithm() {
    let rs384 = with(jwk_without_alg(rsa()), json!({"alg": "RS384"}));
    assert_eq!(
        one(rs384.clone(), &[Algorithm::RS256, Algorithm::RS384]),
        Ok(vec![Algorithm::RS384])
    );
    assert_eq!(
        one(rs384, RS256_ONLY),
        Err("no allowed algorithm for this key")
    );
    // An `alg` of the wrong key type leaves the key nothing to verify.
    let es256_rsa = with(jwk_without_alg(rsa()), json!({"alg": "ES256"}));
    assert_eq!(
        one(es256_rsa, &Algorithm::ALL),
        Err("no allowed algorithm for this key")
    );
    for alg in ["HS256", "RSA-OAEP"] {
        let jwk = with(jwk_without_alg(rsa()), json!({ "alg": alg }));
        assert_eq!(
            one(jwk, &Algorithm::ALL),
            Err("`alg` is not a signature algorithm we verify"),
            "{alg}"
        );
    }
}

#[test]
fn keys_not_meant_for_verifying_signatures_are_skipped() {
    let base = jwk_without_alg(rsa());
    assert_eq!(
        one(with(base.clone(), json!({"key_ops": ["sign"]})), RS256_ONLY),
        Err("`key_ops` lacks `verify`")
    );
    assert_eq!(
        one(
            with(base.clone(), json!({"key_ops": ["encrypt", "wrapKey"]})),
            RS256_ONLY
        ),
        Err("`key_ops` lacks `verify`")
    );
    assert_eq!(
        one(with(base.clone(), json!({"key_ops": []})), RS256_ONLY),
        Err("`key_ops` lacks `verify`")
    );
    assert_eq!(
        one(
            with(base.clone(), json!({"key_ops": ["verify"]})),
            RS256_ONLY
        ),
        Ok(vec![Algorithm::RS256])
    );
    assert_eq!(
        one(with(base.clone(), json!({"use": "enc"})), RS256_ONLY),
        Err("`use` is not `sig`")
    );
    assert_eq!(
        one(
            json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}),
            RS256_ONLY
        ),
        Err("symmetric key")
    );
}

#[test]
fn rsa_moduli_are_between_2048_and_8192_bits() {
    let sized = |bits: usize| with(jwk_without_alg(rsa()), json!({ "n": modulus(bits) }));
    assert_eq!(
        one(sized(8193), RS256_ONLY),
        Err("RSA modulus over 8192 bits")
    );
    assert_eq!(
        one(sized(16384), RS256_ONLY),
        Err("RSA modulus over 8192 bits")
    );
    assert_eq!(one(sized(8192), RS256_ONLY), Ok(vec![Algorithm::RS256]));
    assert_eq!(
        one(sized(2047), RS256_ONLY),
        Err("RSA modulus under 2048 bits")
    );
    assert_eq!(one(sized(2048), RS256_ONLY), Ok(vec![Algorithm::RS256]));
}

#[test]
fn leading_zeros_and_padding_do_not_make_another_key() {
    let plain = jwk_without_alg(rsa());
    let n = URL_SAFE_NO_PAD
        .decode(plain["n"].as_str().unwrap())
        .unwrap();
    let zero_padded = [vec![0u8; 3], n].concat();
    let padded = format!("{}==", URL_SAFE_NO_PAD.encode(&zero_padded));
    let document =
        json!({ "keys": [with(plain.clone(), json!({"n": padded, "kid": "padded"})), plain] });
    let (keys, skipped) = KeySet::from_jwks(document.to_string().as_bytes(), RS256_ONLY).unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(
        keys.find("padded").unwrap().fingerprint(),
        keys.find("rsa").unwrap().fingerprint(),
        "the same modulus, however it is written, is the same key"
    );
}

#[test]
fn a_kid_reused_for_other_material_has_another_fingerprint() {
    let other = SigningKey::generate(Algorithm::RS256, "rsa").unwrap();
    let parse = |key: &SigningKey| {
        let document = json!({ "keys": [jwk_without_alg(key)] }).to_string();
        let (keys, _) = KeySet::from_jwks(document.as_bytes(), RS256_ONLY).unwrap();
        *keys.find("rsa").unwrap().fingerprint()
    };
    assert_eq!(parse(rsa()), parse(rsa()));
    assert_ne!(parse(rsa()), parse(&other));
    // The same public bytes as an EC key and as an Ed25519 key are told apart by their type too.
    let ed = SigningKey::generate(Algorithm::EdDSA, "ed").unwrap();
    let document = json!({ "keys": [jwk_without_alg(&ed), jwk_without_alg(p256())] });
    let all = &Algorithm::ALL[..];
    let (keys, _) = KeySet::from_jwks(document.to_string().as_bytes(), all).unwrap();
    assert_ne!(
        keys.find("ed").unwrap().fingerprint(),
        keys.find("ec").unwrap().fingerprint()
    );
}

#[test]
fn keys_without_a_kid_or_with_broken_members_are_skipped() {
    let base = jwk_without_alg(rsa());
    let mut no_kid = base.clone();
    no_kid.as_object_mut().unwrap().remove("kid");
    assert_eq!(one(no_kid, RS256_ONLY), Err("no kid"));
    assert_eq!(
        one(with(base.clone(), json!({"kid": ""})), RS256_ONLY),
        Err("no kid")
    );
    assert_eq!(
        one(with(base.clone(), json!({"n": "!!"})), RS256_ONLY),
        Err("bad base64url in key")
    );
    let ec = jwk_without_alg(p256());
    let short_x = URL_SAFE_NO_PAD.encode([1u8; 31]);
    assert_eq!(
        one(with(ec, json!({ "x": short_x })), &[Algorithm::ES256]),
        Err("EC coordinates of the wrong length")
    );
    let unreadable = json!({ "keys": ["not a JWK", base] });
    let (_, skipped) = KeySet::from_jwks(unreadable.to_string().as_bytes(), RS256_ONLY).unwrap();
    assert_eq!(
        skipped,
        [SkippedKey {
            kid: None,
            why: "not a JWK we can read"
        }]
    );
}

#[test]
fn a_document_without_a_usable_key_is_refused_with_the_reasons() {
    for junk in ["", "[]", "{}", r#"{"keys": {}}"#, "<html>"] {
        assert!(
            matches!(
                KeySet::from_jwks(junk.as_bytes(), RS256_ONLY),
                Err(JwksError::NotAJwks)
            ),
            "{junk}"
        );
    }
    let document = json!({ "keys": [with(jwk_without_alg(rsa()), json!({"use": "enc"}))] });
    match KeySet::from_jwks(document.to_string().as_bytes(), RS256_ONLY) {
        Err(JwksError::NoUsableKey(why)) => assert_eq!(why, "rsa: `use` is not `sig`"),
        other => panic!("{:?}", other.map(|(k, s)| (k.len(), s))),
    }
    assert_eq!(
        KeySet::from_jwks(br#"{"keys": []}"#, RS256_ONLY).err(),
        Some(JwksError::NoUsableKey("none".into()))
    );
}

#[test]
fn with_duplicate_kids_the_first_usable_key_is_found() {
    let second = SigningKey::generate(Algorithm::RS256, "rsa").unwrap();
    let unusable_first = with(jwk_without_alg(&second), json!({"use": "enc"}));
    let document =
        json!({ "keys": [unusable_first, jwk_without_alg(rsa()), jwk_without_alg(&second)] });
    let (keys, skipped) = KeySet::from_jwks(document.to_string().as_bytes(), RS256_ONLY).unwrap();
    assert_eq!(skipped.len(), 1);
    assert_eq!(keys.len(), 2);
    let expected = KeySet::from_jwks(
        json!({ "keys": [jwk_without_alg(rsa())] })
            .to_string()
            .as_bytes(),
        RS256_ONLY,
    )
    .unwrap()
    .0;
    assert_eq!(
        keys.find("rsa").unwrap().fingerprint(),
        expected.find("rsa").unwrap().fingerprint()
    );
    assert!(keys.find("missing").is_none());
    assert!(KeySet::empty().find("rsa").is_none() && KeySet::empty().fetched_at().is_none());
    assert!(keys.fetched_at().is_some());
}

/// RFC 7517 §4.4: a JWK's `alg` names the one algorithm the key is used with. Each algorithm we
/// verify, named on a key of its type, restricts the key to exactly that algorithm (an `alg` we did
/// not recognise would skip the key instead).
#[test]
fn each_algorithm_a_jwk_may_name_restricts_its_key_to_it() {
    let p384 = SigningKey::generate(Algorithm::ES384, "ec384").unwrap();
    let ed = SigningKey::generate(Algorithm::EdDSA, "ed").unwrap();
    for alg in Algorithm::ALL {
        let key = match alg.key_kind() {
            KeyKind::Rsa => rsa(),
            KeyKind::P256 => p256(),
            KeyKind::P384 => &p384,
            KeyKind::Ed25519 => &ed,
        };
        let jwk = with(jwk_without_alg(key), json!({ "alg": alg.as_str() }));
        assert_eq!(one(jwk, &Algorithm::ALL), Ok(vec![alg]), "{alg:?}");
    }
}

/// Only P-256 and P-384 (`kty: EC`, RFC 7518 §6.2.1.1) and Ed25519 (`kty: OKP`, RFC 8037 §2) are
/// curves we verify with. Any other curve, or a curve named under the other key type, skips the key
/// rather than reading its coordinates as a key of another curve.
#[test]
fn keys_on_curves_we_do_not_verify_with_are_skipped() {
    const UNSUPPORTED: Result<Vec<Algorithm>, &str> = Err("unsupported key type or curve");
    let all = &Algorithm::ALL[..];
    let coordinate = URL_SAFE_NO_PAD.encode([1u8; 66]);
    let p521 =
        json!({ "kty": "EC", "kid": "p521", "crv": "P-521", "x": coordinate, "y": coordinate });
    assert_eq!(one(p521, all), UNSUPPORTED);
    let ed = SigningKey::generate(Algorithm::EdDSA, "ed").unwrap();
    for crv in ["P-256", "P-384"] {
        let okp = with(jwk_without_alg(&ed), json!({ "crv": crv }));
        assert_eq!(one(okp, all), UNSUPPORTED, "OKP {crv}");
    }
    let ec_named_ed25519 = with(jwk_without_alg(p256()), json!({ "crv": "Ed25519" }));
    assert_eq!(one(ec_named_ed25519, all), UNSUPPORTED);
}
