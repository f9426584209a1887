//! Events that carry a sender-constrained token's proof (RFC 9449 DPoP, RFC 8705 mutual TLS), on
//! one REST API's `GET /prod/pets/1`, and the client certificates they carry.

use super::b64;
use serde_json::{Value, json};

pub const API: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123";
pub const DOMAIN: &str = "abcdef123.execute-api.us-east-1.amazonaws.com";
/// The URL a DPoP proof for the events below names (`htu`).
pub const URL: &str = "https://abcdef123.execute-api.us-east-1.amazonaws.com/prod/pets/1";

/// A REST `REQUEST` event for `GET /pets/1` on stage `prod` with these headers (and request
/// context members).
pub fn request_event(headers: Value, context: Value) -> Vec<u8> {
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

/// A REST `REQUEST` event for `GET /prod/pets/1` with `DPoP <token>` and this proof.
pub fn dpop_event(token: &str, proof: &str) -> Vec<u8> {
    request_event(
        json!({"Authorization": format!("DPoP {token}"), "DPoP": proof}),
        json!({}),
    )
}

/// A client certificate, PEM, and its `x5t#S256` (base64url SHA-256 of its DER).
pub fn client_certificate() -> (String, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["client.example.com".to_owned()]).unwrap();
    let der = certified.cert.der();
    let thumbprint = b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der).as_ref());
    (certified.cert.pem(), thumbprint)
}

/// A REST `REQUEST` event over mutual TLS: `Bearer <token>` and this client certificate.
pub fn mtls_event(token: &str, pem: Option<&str>) -> Vec<u8> {
    let context = match pem {
        Some(pem) => json!({"identity": {"sourceIp": "203.0.113.7", "clientCert": {
            "clientCertPem": pem,
            "subjectDN": "CN=client.example.com",
            "serialNumber": "1",
            "validity": {"notBefore": "May 28 12:30:02 2019 GMT", "notAfter": "Aug  5 09:36:04 2031 GMT"},
        }}}),
        None => json!({"identity": {"sourceIp": "203.0.113.7"}}),
    };
    request_event(json!({"Authorization": format!("Bearer {token}")}), context)
}
