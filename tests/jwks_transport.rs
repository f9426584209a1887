//! How the keys travel: https (a TLS issuer on 127.0.0.1 whose CA the authorizer is told to
//! trust), redirects that may neither downgrade to plain http nor go on for ever, and OIDC
//! discovery that may not point the keys at plain http. Loopback is exempt from the https rule,
//! so the plain-http targets here are a name that is not loopback: the request must be refused
//! before anything is resolved or sent, which the error says.

mod support;

use jwt_authorizer::{Authorizer, Config, FetchError, Fetcher, Outcome, Reject};
use serde_json::json;
use std::collections::HashMap;
use support::tls::TestCa;
use support::*;

/// A plain-http JWKS URI on a host that is not loopback (never contacted: `.invalid` does not
/// resolve, RFC 6761 §6.4).
const PLAIN_HTTP_JWKS: &str = "http://jwks.example.invalid/.well-known/jwks.json";

/// A TLS issuer, and the file of its CA certificate.
async fn tls_issuer() -> (JwksServer, TestCa, tempfile::NamedTempFile) {
    let ca = TestCa::new();
    let server = JwksServer::start_tls(jwt_authorizer::issuer::jwks([rsa_key("tls")]), &ca).await;
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), &ca.ca_pem).unwrap();
    (server, ca, ca_file)
}

fn fetcher(config: &Config) -> Fetcher {
    Fetcher::new(
        Fetcher::client(&config.transport).unwrap(),
        &config.transport,
        &config.issuers[0],
    )
}

/// The error and every error it was caused by, as text.
fn causes(error: &FetchError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(" <- ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn a_redirect_from_https_to_plain_http_is_refused() {
    let (server, _ca, ca_file) = tls_issuer().await;
    let config = config_for(
        &server,
        &[("JWKS_CA_FILE", ca_file.path().to_str().unwrap())],
    );
    let fetcher = fetcher(&config);
    assert!(
        fetcher.fetch().await.is_ok(),
        "the TLS issuer itself is fine"
    );

    server.set_mode(Mode::RedirectTo(PLAIN_HTTP_JWKS.into()));
    let error = fetcher
        .fetch()
        .await
        .err()
        .expect("a downgrade fails the fetch");
    assert_eq!(error.as_str(), "http_error", "{error}");
    assert!(
        causes(&error).contains("redirect to plain http refused"),
        "refused by the redirect policy, not by the network: {}",
        causes(&error)
    );

    // Through the authorizer: no keys, so no Allow.
    let authorizer = Authorizer::from_config(config).unwrap();
    let token = rsa_key("tls").sign(&good_claims(&server.issuer())).unwrap();
    assert_eq!(
        authorize(&authorizer, &token).await.0.reject,
        Some(Reject::JwksUnavailable)
    );
}

#[tokio::test]
async fn at_most_three_redirects_are_followed() {
    let server = JwksServer::with_keys(&[rsa_key("hops")]).await;
    let fetcher = fetcher(&config_for(&server, &[]));
    server.set_mode(Mode::Redirects(3));
    assert!(
        fetcher.fetch().await.is_ok(),
        "three redirects are followed"
    );
    assert_eq!(server.hits(), 4, "the JWKS URI and three redirects");

    server.set_mode(Mode::Redirects(4));
    let error = fetcher
        .fetch()
        .await
        .err()
        .expect("a fourth redirect fails");
    assert!(
        causes(&error).contains("more than 3 redirects"),
        "{}",
        causes(&error)
    );
    assert_eq!(
        server.hits(),
        4 + 4,
        "the JWKS URI and three redirects; the fourth is not followed"
    );

    // A redirect loop ends at the same bound (reqwest's own default would follow 10).
    server.set_mode(Mode::RedirectLoop);
    let error = fetcher.fetch().await.err().expect("a loop fails");
    assert!(
        causes(&error).contains("more than 3 redirects"),
        "{}",
        causes(&error)
    );
    assert_eq!(server.hits(), 8 + 4);
}

/// Discovery without `JWKS_URI`, from a TLS issuer whose discovery document is `document`.
fn discovering(server: &JwksServer, ca_file: &tempfile::NamedTempFile) -> Config {
    let vars = HashMap::from([
        ("TOKEN_ISSUER", server.issuer()),
        ("AUDIENCE", AUDIENCE.to_owned()),
        ("JWKS_CA_FILE", ca_file.path().to_str().unwrap().to_owned()),
    ]);
    Config::from_lookup(|name| vars.get(name).cloned()).unwrap()
}

#[tokio::test]
async fn discovery_over_https_may_not_name_a_plain_http_jwks_uri() {
    let (server, _ca, ca_file) = tls_issuer().await;
    let config = discovering(&server, &ca_file);
    let token = rsa_key("tls").sign(&good_claims(&server.issuer())).unwrap();

    server.set_discovery(json!({"issuer": server.issuer(), "jwks_uri": PLAIN_HTTP_JWKS}));
    let error = fetcher(&config)
        .fetch()
        .await
        .err()
        .expect("a plain-http jwks_uri fails discovery");
    assert_eq!(error.as_str(), "discovery", "{}", causes(&error));
    assert!(
        causes(&error).contains("is not https"),
        "{}",
        causes(&error)
    );
    let authorizer = Authorizer::from_config(config.clone()).unwrap();
    assert_eq!(
        authorize(&authorizer, &token).await.0.reject,
        Some(Reject::JwksUnavailable)
    );
    assert_eq!(server.hits(), 0);

    // The same document naming the https JWKS URI is followed.
    server.set_discovery(json!({"issuer": server.issuer(), "jwks_uri": server.jwks_uri()}));
    let authorizer = Authorizer::from_config(config).unwrap();
    assert_eq!(
        authorize(&authorizer, &token).await.0.outcome,
        Outcome::Allow
    );
    assert_eq!(server.hits(), 1);
}
