//! Lambda's shutdown phase: how the runtime learns that its execution environment is retired, so
//! the last metrics window is written instead of lost.
//!
//! Lambda sends the runtime SIGTERM before it retires an environment only when an extension is
//! registered ("Lambda reserves up to 300 ms (500 ms for a runtime with an internal extension)
//! for the runtime process to perform a graceful shutdown", then SIGKILL; see
//! aws-samples/graceful-shutdown-with-aws-lambda and the Extensions API guide). So in Lambda
//! mode the authorizer registers an *internal* extension (one in its own process) that subscribes
//! to no event: `POST /2020-01-01/extension/register` with `{"events":[]}`, then one
//! `GET /2020-01-01/extension/event/next`, which tells Lambda the extension is initialised and is
//! never answered. It costs one idle loopback connection and no wake-up per invocation, and is
//! the same no-op extension `lambda_runtime`'s `spawn_graceful_shutdown_handler` registers; done
//! here over `lambda_runtime`'s own Runtime API client so that an API without the Extensions
//! endpoints (an emulator) is a warning, not a panic at init, and nothing is printed at shutdown.

use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{Client, build_request};
use std::sync::Arc;

/// The extension's name: unique within the function, as Lambda requires.
pub const EXTENSION_NAME: &str = "jwt-authorizer-shutdown";

/// Why the internal extension could not be registered (the authorizer still serves; only the
/// shutdown flush is lost).
#[derive(Debug, thiserror::Error)]
pub enum ExtensionError {
    /// The Runtime API could not be reached or refused the request.
    #[error("Extensions API register: {0}")]
    Register(String),
}

/// Registers the no-op internal extension with the Runtime API at `AWS_LAMBDA_RUNTIME_API`, and
/// spawns the task that keeps its `event/next` request waiting. Call during init, before the
/// runtime loop starts (Lambda accepts registrations only then).
///
/// # Errors
/// [`ExtensionError`] when the API refuses or is not there.
pub async fn register_extension() -> Result<(), ExtensionError> {
    let client = Arc::new(
        Client::builder()
            .build()
            .map_err(|e| ExtensionError::Register(e.to_string()))?,
    );
    let request = build_request()
        .method("POST")
        .uri("/2020-01-01/extension/register")
        .header("Lambda-Extension-Name", EXTENSION_NAME)
        .header("Content-Type", "application/json")
        .body(Body::from(r#"{"events":[]}"#))
        .map_err(|e| ExtensionError::Register(e.to_string()))?;
    let response = client
        .call(request)
        .await
        .map_err(|e| ExtensionError::Register(e.to_string()))?;
    if !response.status().is_success() {
        return Err(ExtensionError::Register(format!(
            "answered HTTP {}",
            response.status()
        )));
    }
    let id = response
        .headers()
        .get("Lambda-Extension-Identifier")
        .and_then(|id| id.to_str().ok())
        .ok_or_else(|| ExtensionError::Register("no Lambda-Extension-Identifier".into()))?
        .to_owned();
    tokio::spawn(async move {
        // Subscribed to nothing, so this is answered only if Lambda has something to say, which
        // it does not; if it ever is, or fails, there is nothing to do but stop waiting.
        let next = build_request()
            .method("GET")
            .uri("/2020-01-01/extension/event/next")
            .header("Lambda-Extension-Identifier", id)
            .body(Body::empty());
        if let Ok(next) = next {
            let _ = client.call(next).await;
        }
    });
    Ok(())
}

/// Spawns a task that, on SIGTERM (or SIGINT), runs `hook` and ends the process with status 0.
///
/// # Errors
/// The signal handlers could not be installed.
pub fn on_termination(hook: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        hook();
        std::process::exit(0);
    });
    Ok(())
}
