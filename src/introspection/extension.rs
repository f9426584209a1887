//! The introspection client secret read at start-up through the AWS Parameters and Secrets
//! Lambda Extension (`INTROSPECTION_CLIENT_SECRET_ARN`), so that it never sits in the function's
//! environment.
//!
//! The extension, a Lambda layer, serves on `localhost:$PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`
//! (2773 by default): `GET /secretsmanager/get?secretId=<id>` answers Secrets Manager's
//! `GetSecretValue` JSON (`SecretString`), and `GET /systemsmanager/parameters/get?name=<name>
//! &withDecryption=true` answers Parameter Store's `GetParameter` JSON (`Parameter.Value`). Each
//! request carries `X-Aws-Parameters-Secrets-Token: $AWS_SESSION_TOKEN`, the function's own
//! credentials' token, which the extension checks so that no other process can read through it.
//!
//! We ask 127.0.0.1 only (never a name a resolver or a proxy could send elsewhere), with a time
//! limit and a size limit, and refuse to start when the secret cannot be read: an authorizer that
//! cannot authenticate to the introspection endpoint would refuse every introspected token. No
//! message holds the secret, nor the extension's answer (it holds the secret).

use crate::config::{Config, ExtensionSecret, Secret};
use std::time::{Duration, Instant};

/// The extension's port when `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` is unset.
pub const DEFAULT_PORT: u16 = 2773;
/// The whole read, retries included: at init the extension may still be starting (external
/// extensions start beside the runtime), so a refused connection is retried until then.
pub const TIMEOUT: Duration = Duration::from_secs(3);
/// A secret's answer beyond this is refused (Secrets Manager's limit is 64 KiB of secret, the
/// JSON around it is small).
pub const MAX_BODY: usize = 80 * 1024;
const RETRY_EVERY: Duration = Duration::from_millis(50);

/// Why the secret could not be read. Its text names the variable and the secret's id, never the
/// secret nor the extension's answer.
#[derive(Debug, thiserror::Error)]
#[error(
    "INTROSPECTION_CLIENT_SECRET_ARN (introspection.client_secret_arn): {id} cannot be read through the AWS Parameters and Secrets Lambda Extension on 127.0.0.1:{port}: {why}"
)]
pub struct ExtensionError {
    id: String,
    port: String,
    why: String,
}

/// Reads every issuer's `INTROSPECTION_CLIENT_SECRET_ARN` into its client secret, `env` giving
/// `AWS_SESSION_TOKEN` and `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`.
///
/// # Errors
/// [`ExtensionError`] for the first secret that cannot be read.
pub async fn resolve(
    config: &mut Config,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(), ExtensionError> {
    for issuer in &mut config.issuers {
        let settings = &mut issuer.introspection;
        let Some(from) = settings.client_secret_from.take() else {
            continue;
        };
        settings.client_secret = Secret(read(&from, &env).await?);
    }
    Ok(())
}

async fn read(
    from: &ExtensionSecret,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<String, ExtensionError> {
    let (id, path, query) = match from {
        ExtensionSecret::SecretsManager(id) => {
            (id, "/secretsmanager/get", vec![("secretId", id.as_str())])
        }
        ExtensionSecret::Parameter(name) => (
            name,
            "/systemsmanager/parameters/get",
            vec![("name", name.as_str()), ("withDecryption", "true")],
        ),
    };
    let port_text = env("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT");
    let fail = |why: String| ExtensionError {
        id: id.clone(),
        port: port_text
            .clone()
            .unwrap_or_else(|| DEFAULT_PORT.to_string()),
        why,
    };
    let port = match &port_text {
        None => DEFAULT_PORT,
        Some(text) => text.trim().parse::<u16>().map_err(|_| {
            fail("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT is not a port number".into())
        })?,
    };
    let token = env("AWS_SESSION_TOKEN")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            fail("AWS_SESSION_TOKEN is not set (the extension requires it; Lambda sets it)".into())
        })?;
    let url = reqwest::Url::parse_with_params(&format!("http://127.0.0.1:{port}{path}"), &query)
        .map_err(|e| fail(format!("bad URL: {e}")))?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(TIMEOUT)
        .build()
        .map_err(|e| fail(format!("no HTTP client: {e}")))?;
    let deadline = Instant::now() + TIMEOUT;
    let body = tokio::time::timeout_at(deadline.into(), async {
        loop {
            let sent = client
                .get(url.clone())
                .header("X-Aws-Parameters-Secrets-Token", &token)
                .send()
                .await;
            match sent {
                Ok(response) => return fetch_body(response).await,
                // The extension may not listen yet at init: try again until the deadline.
                Err(e) if e.is_connect() => tokio::time::sleep(RETRY_EVERY).await,
                Err(e) => return Err(format!("request failed: {}", e.without_url())),
            }
        }
    })
    .await
    .map_err(|_| fail(format!("no answer within {} ms", TIMEOUT.as_millis())))?
    .map_err(&fail)?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|_| fail("the answer is not JSON (content not shown)".into()))?;
    let secret = match from {
        ExtensionSecret::SecretsManager(_) => value.get("SecretString"),
        ExtensionSecret::Parameter(_) => value.get("Parameter").and_then(|p| p.get("Value")),
    };
    match secret.and_then(serde_json::Value::as_str) {
        Some(secret) if !secret.is_empty() => Ok(secret.to_owned()),
        _ => Err(fail(match from {
            ExtensionSecret::SecretsManager(_) => {
                "the answer has no SecretString (a binary secret is not supported)".into()
            }
            ExtensionSecret::Parameter(_) => "the answer has no Parameter.Value".into(),
        })),
    }
}

/// The body of a 200 answer, up to [`MAX_BODY`]; any other status is a failure (its body, which
/// may echo the request, is not read).
async fn fetch_body(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let status = response.status();
    if !status.is_success() {
        return Err(format!(
            "HTTP {status} (is the extension layer added, and may the function's role read it?)"
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("answer cut short: {}", e.without_url()))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("the answer is over {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
