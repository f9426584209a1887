//! The `authorizer serve` sink: the `metrics-exporter-prometheus` recorder, without its own HTTP
//! listener (the admin listener serves `GET /metrics` with [`render`]).

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// How often queued histogram samples are folded into their buckets, scrape or no scrape.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Buckets for `*_us` histograms: an authorization takes tens of microseconds from the
/// verified-token cache, hundreds with an RSA check, and milliseconds only when it waits for a
/// JWKS fetch.
pub const MICROSECOND_BUCKETS: [f64; 18] = [
    10.0,
    25.0,
    50.0,
    75.0,
    100.0,
    150.0,
    200.0,
    300.0,
    500.0,
    750.0,
    1_000.0,
    2_000.0,
    5_000.0,
    10_000.0,
    50_000.0,
    100_000.0,
    500_000.0,
    1_000_000.0,
];

/// Buckets for `*_ms` histograms (JWKS fetches, init).
pub const MILLISECOND_BUCKETS: [f64; 14] = [
    1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0,
    30_000.0,
];

/// Installing the Prometheus recorder failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The builder refused its settings.
    #[error("cannot build the Prometheus recorder: {0}")]
    Build(#[from] BuildError),
    /// The upkeep thread could not be started.
    #[error("cannot start the metrics upkeep thread: {0}")]
    Upkeep(std::io::Error),
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder as the global recorder (counters get `_total`) and returns the
/// handle that renders the text; register the crate's handles with [`super::install_handles`]
/// once the configuration is loaded. A second call returns the first handle.
///
/// # Errors
/// [`InstallError`] when another recorder (e.g. the EMF one) is already installed.
pub fn install() -> Result<PrometheusHandle, InstallError> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets_for_metric(Matcher::Suffix("_us".to_owned()), &MICROSECOND_BUCKETS)?
        .set_buckets_for_metric(Matcher::Suffix("_ms".to_owned()), &MILLISECOND_BUCKETS)?
        .install_recorder()?;
    // `install_recorder` leaves upkeep to the caller, and every histogram sample stays queued
    // until it runs: a `serve` that nobody scrapes grew by ~17 bytes per request, without bound
    // (found by loadtest/soak). A plain thread, so upkeep does not depend on the runtime.
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            }
        })
        .map_err(InstallError::Upkeep)?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// The Prometheus text of everything recorded, with the key sets' gauges brought up to date;
/// `None` until [`install`] ran.
pub fn render(authorizer: Option<&crate::Authorizer>) -> Option<String> {
    let handle = HANDLE.get()?;
    if let Some(authorizer) = authorizer {
        authorizer.observe_keys();
    }
    handle.run_upkeep();
    Some(handle.render())
}
