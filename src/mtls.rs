//! Certificate-bound access tokens (RFC 8705 §3): the client certificate API Gateway passes from
//! a mutual TLS handshake must be the one the token's `cnf["x5t#S256"]` names.
//!
//! API Gateway has already checked the certificate against the API's truststore and completed
//! the handshake (so the caller holds its private key); what is left is that it is *this*
//! certificate.

use crate::report::Reject;
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Checks the client certificate (`clientCertPem`) against the token's `x5t#S256`: the
/// base64url SHA-256 of the certificate's DER encoding (RFC 8705 §3.1).
///
/// # Errors
/// [`Reject::BadCertificate`] when the PEM holds no single certificate;
/// [`Reject::CertificateMismatch`] when it is another certificate.
pub(crate) fn check(client_cert_pem: &str, x5t_s256: &str) -> Result<(), Reject> {
    let der = certificate_der(client_cert_pem)?;
    let thumbprint = digest(&SHA256, &der);
    let bound = URL_SAFE_NO_PAD.decode(x5t_s256.as_bytes());
    match bound {
        Ok(bound) if bound == thumbprint.as_ref() => Ok(()),
        _ => Err(Reject::CertificateMismatch),
    }
}

/// The DER of the one `CERTIFICATE` in a PEM text (RFC 7468 §5), checked to be a DER
/// `SEQUENCE` that spans it exactly (an X.509 certificate is one, RFC 5280 §4.1). Also how
/// `authorizer token --client-cert` reads the certificate it binds a token to.
pub(crate) fn certificate_der(pem_text: &str) -> Result<Vec<u8>, Reject> {
    let blocks = pem::parse_many(pem_text).map_err(|_| Reject::BadCertificate)?;
    let [block] = &blocks[..] else {
        return Err(Reject::BadCertificate);
    };
    if block.tag() != "CERTIFICATE" || !is_one_der_sequence(block.contents()) {
        return Err(Reject::BadCertificate);
    }
    Ok(block.contents().to_vec())
}

/// Whether `der` is exactly one DER `SEQUENCE` (tag, definite length, contents).
fn is_one_der_sequence(der: &[u8]) -> bool {
    let [0x30, first, rest @ ..] = der else {
        return false;
    };
    let (length, contents) = match *first {
        short @ 0..=0x7f => (usize::from(short), rest),
        long @ 0x81..=0x84 => {
            let octets = usize::from(long & 0x7f);
            let Some((length, contents)) = rest.split_at_checked(octets) else {
                return false;
            };
            // DER: the shortest form, no leading zero octet.
            if length[0] == 0 || (octets == 1 && length[0] < 0x80) {
                return false;
            }
            let length = length
                .iter()
                .fold(0usize, |n, b| (n << 8) | usize::from(*b));
            (length, contents)
        }
        _ => return false,
    };
    contents.len() == length
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_framing_is_checked() {
        assert!(is_one_der_sequence(&[0x30, 0x00]));
        assert!(is_one_der_sequence(&[0x30, 0x02, 0x05, 0x00]));
        assert!(!is_one_der_sequence(&[0x30, 0x03, 0x05, 0x00]));
        assert!(!is_one_der_sequence(&[0x31, 0x00]));
        assert!(!is_one_der_sequence(&[0x30, 0x81, 0x02, 0x05, 0x00]));
        assert!(!is_one_der_sequence(&[0x30, 0x82, 0x00]));
        assert!(!is_one_der_sequence(&[]));
    }

    #[test]
    fn a_malformed_certificate_is_refused() {
        for pem in [
            "",
            "not a certificate",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
        ] {
            assert_eq!(check(pem, "abc"), Err(Reject::BadCertificate), "{pem}");
        }
    }
}
