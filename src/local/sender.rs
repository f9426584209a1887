//! The client's side of sender-constrained tokens, to try them with curl: a DPoP key kept in a
//! file, the `cnf` claim `authorizer token` puts in a token bound to that key or to a client
//! certificate, and the DPoP proofs `authorizer proof` prints.
//!
//! Written from the RFCs, not from the checker in `crate::dpop`: the tests hold the two against
//! each other and against an independent client (tests/support/dpop.rs).

use super::LocalError;
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Why a DPoP key, a client certificate or a proof's request cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    /// The DPoP key file is not an EC P-256 private key.
    #[error(
        "DPoP key {}: not a PKCS#8 PEM EC P-256 private key (use a file written by `authorizer token --dpop-key FILE`)",
        path.display()
    )]
    BadKey {
        /// The file.
        path: PathBuf,
    },
    /// The DPoP key file does not exist (`proof` never makes one: no token would be bound to it).
    #[error(
        "DPoP key {}: no such file; mint a token bound to a new key first with `authorizer token --dpop-key {}`",
        path.display(), path.display()
    )]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The client certificate file is not one PEM certificate.
    #[error("client certificate {}: not one PEM CERTIFICATE", path.display())]
    BadCertificate {
        /// The file.
        path: PathBuf,
    },
    /// `--claim cnf=...` beside `--dpop-key` or `--client-cert`.
    #[error("--claim cnf=... and --dpop-key/--client-cert both set `cnf`: use one")]
    TwoBindings,
    /// `--url` is not an absolute `https` URL.
    #[error(
        "--url {0:?}: give the absolute https URL the request goes to. The authorizer rebuilds it as https://{{domainName}}{{path}} (API Gateway serves HTTPS only); for `serve`, that is https://127.0.0.1:PORT/... although curl calls http://"
    )]
    BadUrl(String),
    /// `--method` is not an HTTP method token.
    #[error(
        "--method {0:?}: give the request's HTTP method, as in GET (methods are case-sensitive)"
    )]
    BadMethod(String),
    /// `--token` holds a scheme or whitespace.
    #[error("--token: give the access token alone, without `DPoP ` or `Bearer `")]
    BadToken,
}

/// A client's DPoP key: EC P-256, for ES256 proofs.
pub struct DpopKey {
    pair: EcdsaKeyPair,
    /// The public point's coordinates, base64url.
    x: String,
    y: String,
}

impl DpopKey {
    /// Reads the key in `path` (PKCS#8 PEM).
    ///
    /// # Errors
    /// [`SenderError::NoKey`] when the file does not exist, [`LocalError::KeyFile`] when it cannot
    /// be read, [`SenderError::BadKey`] when it is not an EC P-256 private key.
    pub fn load(path: &Path) -> Result<Self, LocalError> {
        if !path.exists() {
            return Err(SenderError::NoKey {
                path: path.to_owned(),
            }
            .into());
        }
        let text = std::fs::read(path).map_err(|source| LocalError::KeyFile {
            path: path.to_owned(),
            source,
        })?;
        let bad = || SenderError::BadKey {
            path: path.to_owned(),
        };
        let block = pem::parse(&text).map_err(|_| bad())?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, block.contents())
            .map_err(|_| bad())?;
        Ok(Self::from_pair(pair))
    }

    /// The key in `path`, or a new one written there (mode 0600) when the file does not exist;
    /// `true` when it was made.
    ///
    /// # Errors
    /// As [`DpopKey::load`], and [`LocalError::KeyFile`] when the new key cannot be written.
    pub fn load_or_generate(path: &Path) -> Result<(Self, bool), LocalError> {
        if path.exists() {
            return Ok((Self::load(path)?, false));
        }
        let generate = || {
            EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|pair| pair.to_pkcs8v1().map(|der| (pair, der)))
        };
        let (pair, pkcs8) = generate().map_err(|_| LocalError::Random)?;
        let text = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.as_ref().to_vec()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
            .open(path)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .map_err(|source| LocalError::KeyFile {
                path: path.to_owned(),
                source,
            })?;
        Ok((Self::from_pair(pair), true))
    }

    fn from_pair(pair: EcdsaKeyPair) -> Self {
        // SEC 1 uncompressed point: 0x04, then x and y, 32 bytes each (RFC 7518 §6.2.1.2, .3).
        let point = pair.public_key().as_ref();
        let (x, y) = (b64(&point[1..33]), b64(&point[33..65]));
        DpopKey { pair, x, y }
    }

    /// The public key as a JWK (RFC 7518 §6.2.1): its required members only, no private one
    /// (RFC 9449 §4.2: the `jwk` header "MUST NOT contain a private key").
    pub fn jwk(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": self.x, "y": self.y})
    }

    /// The JWK SHA-256 thumbprint, a bound token's `cnf.jkt` (RFC 9449 §6.1): the required
    /// members of an EC key in lexicographic order, without whitespace (RFC 7638 §3.2, §3.3),
    /// hashed with SHA-256 and base64url-encoded.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            self.x, self.y
        );
        b64(digest(&SHA256, canonical.as_bytes()).as_ref())
    }

    /// A DPoP proof (RFC 9449 §4.2) for `method url`, sent with `access_token`, made at `iat`.
    ///
    /// # Errors
    /// [`LocalError::Random`] when the random generator fails.
    pub fn proof(
        &self,
        method: &str,
        url: &url::Url,
        access_token: &str,
        iat: u64,
    ) -> Result<String, LocalError> {
        // §4.2: `typ` "dpop+jwt", an asymmetric `alg` (ES256: ECDSA P-256 SHA-256, RFC 7518
        // §3.4), and the public key in `jwk`.
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()});
        // §4.2 `jti`: "at least 96 bits of pseudorandom data"; 128 here.
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::fill(&mut jti).map_err(|_| LocalError::Random)?;
        // §4.2 `htu`: the target URI "without query and fragment parts".
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        let claims = json!({
            "jti": b64(&jti),
            "htm": method,
            "htu": htu.as_str(),
            "iat": iat,
            // §4.2 `ath`: base64url SHA-256 of the ASCII access token, required with one (§7.1).
            "ath": b64(digest(&SHA256, access_token.as_bytes()).as_ref()),
        });
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        // A fixed-width R || S signature, as JWS ES256 has it (RFC 7518 §3.4).
        let signature = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .map_err(|_| LocalError::Random)?;
        Ok(format!("{input}.{}", b64(signature.as_ref())))
    }
}

/// The `cnf` claim (RFC 7800 §3.1) of a token bound to the DPoP key in `dpop_key` (created when
/// missing, said on stderr) or to the certificate in `client_cert`; `None` for neither.
///
/// # Errors
/// The errors of [`DpopKey::load_or_generate`] and [`certificate_thumbprint`].
pub(crate) fn confirmation(
    dpop_key: Option<&Path>,
    client_cert: Option<&Path>,
) -> Result<Option<Value>, LocalError> {
    if let Some(path) = dpop_key {
        let (key, made) = DpopKey::load_or_generate(path)?;
        if made {
            eprintln!(
                "authorizer token: wrote a new DPoP key to {}",
                path.display()
            );
        }
        return Ok(Some(json!({ "jkt": key.thumbprint() })));
    }
    match client_cert {
        // RFC 8705 §3.1: the confirmation method `x5t#S256`.
        Some(path) => Ok(Some(json!({ "x5t#S256": certificate_thumbprint(path)? }))),
        None => Ok(None),
    }
}

/// A certificate's `x5t#S256`: the base64url SHA-256 of its DER encoding (RFC 8705 §3.1).
///
/// # Errors
/// [`LocalError::KeyFile`] when the file cannot be read, [`SenderError::BadCertificate`] when it
/// is not one PEM certificate.
pub fn certificate_thumbprint(path: &Path) -> Result<String, LocalError> {
    let text = std::fs::read_to_string(path).map_err(|source| LocalError::KeyFile {
        path: path.to_owned(),
        source,
    })?;
    // The checker's own reading of `clientCertPem`, so that what is minted is what it accepts.
    let der = crate::mtls::certificate_der(&text).map_err(|_| SenderError::BadCertificate {
        path: path.to_owned(),
    })?;
    Ok(b64(digest(&SHA256, &der).as_ref()))
}

/// `authorizer proof`'s command line.
#[derive(Clone, Debug, clap::Args)]
pub struct ProofArgs {
    /// The DPoP key (EC P-256, PKCS#8 PEM), as written by `authorizer token --dpop-key FILE`.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The request's HTTP method (`htm`), case-sensitive.
    #[arg(long, default_value = "GET")]
    pub method: String,
    /// The URL the request goes to (`htu`; query and fragment are left out). Always `https`: for
    /// `serve`, https://127.0.0.1:PORT/... although curl calls http://.
    #[arg(long)]
    pub url: String,
    /// The access token the proof is sent with (`ath`), without its scheme.
    #[arg(long)]
    pub token: String,
}

/// Writes the DPoP proof `authorizer proof` asks for to `out`, on one line.
///
/// # Errors
/// [`LocalError`] when the key cannot be read or an argument cannot be used.
pub fn proof(args: &ProofArgs, out: &mut impl Write) -> Result<(), LocalError> {
    let url = url::Url::parse(&args.url)
        .ok()
        // The authorizer refuses an `htu` with user information (`dpop::htu_matches`).
        .filter(|url| {
            url.scheme() == "https"
                && url.host_str().is_some()
                && url.username().is_empty()
                && url.password().is_none()
        })
        .ok_or_else(|| SenderError::BadUrl(args.url.clone()))?;
    // RFC 9110 §9.1: a method is a token.
    let token_chars = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if args.method.is_empty() || !args.method.bytes().all(token_chars) {
        return Err(SenderError::BadMethod(args.method.clone()).into());
    }
    if args.token.is_empty() || args.token.contains(char::is_whitespace) {
        return Err(SenderError::BadToken.into());
    }
    let key = DpopKey::load(&args.key)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let proof = key.proof(&args.method, &url, &args.token, now)?;
    // A closed pipe is not an error (as for `authorizer token`).
    let _ = writeln!(out, "{proof}");
    Ok(())
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
