//! The Lambda sink: CloudWatch Embedded Metric Format (EMF) documents on stdout, which CloudWatch
//! Logs turns into metrics with no agent, sidecar or API call.
//!
//! # Why our own recorder and not `metrics_cloudwatch_embedded`
//! That crate (0.10, the well-kept one) was measured inadequate for an authorizer that aggregates:
//! it keeps at most 100 histogram values between flushes, logs an error and drops the rest; it
//! writes every value instead of aggregating them into EMF `Values`/`Counts`; and its default
//! feature pulls `lambda_http` into a function that never serves HTTP. What we need is small: a
//! registry written once at start-up, atomics per handle, and a writer. So:
//!
//! - counters and gauges are `AtomicU64`s; a flush swaps each counter to 0 and reports the delta;
//! - a histogram is a fixed array of atomic buckets, log-linear (exact below 32, then 16 buckets per
//!   power of two: at most 1/32 ≈ 3% off), plus exact `Min`, `Max`, `Sum` and `Count`. Recording a
//!   value is a few atomic operations and never allocates, however many values a window holds. A
//!   flush reports the non-empty buckets as EMF `Values`/`Counts` (merged down to 100 pairs, the
//!   EMF limit per metric), so CloudWatch computes percentiles from them;
//! - one document per label set: its labels are dimensions, rolled up by prefix (for
//!   `authorizations{outcome, reason}`: `[service, outcome, reason]`, `[service, outcome]`,
//!   `[service]`) so a dashboard can graph totals and per-outcome rates without metric math.
//!
//! # Flushing
//! `METRICS_FLUSH_INTERVAL_SECONDS=N` (default 60) aggregates over windows: a window opens when an
//! invocation ends with nothing pending, and the first invocation after it has lasted N seconds
//! writes it (one document per label set, before that invocation is authorized, so the window
//! holds only what happened within its N seconds and is stamped with its start). What is pending
//! when Lambda shuts the environment down is written on SIGTERM (see `crate::shutdown`). A busy
//! function thus writes a few documents a minute whatever its traffic: about 1.4 KB per window
//! instead of about 1.4 KB per invocation. `0` writes after every invocation, with the request id
//! as the `function_request_id` property (the key Powertools uses in its logs), for per-request
//! correlation at that cost (see the README's cost table).

mod histogram;

use ::metrics::{
    Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use histogram::Buckets;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The EMF limit of metrics per document.
pub const MAX_METRICS_PER_DOCUMENT: usize = 100;
/// The EMF limit of dimensions per dimension set.
pub const MAX_DIMENSIONS: usize = 30;
/// The EMF limit of values per metric.
pub const MAX_VALUES: usize = 100;

/// The default aggregation window: CloudWatch's standard resolution, so aggregating loses none.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(60);

/// The variables this sink reads at start-up: name, default, meaning.
pub const VARIABLES: [(&str, &str, &str); 3] = [
    (
        "METRICS_NAMESPACE",
        "JwtAuthorizer",
        "CloudWatch namespace of the EMF metrics (Lambda)",
    ),
    (
        "METRICS_SERVICE",
        "(function name)",
        "Value of the `service` dimension (default AWS_LAMBDA_FUNCTION_NAME)",
    ),
    (
        "METRICS_FLUSH_INTERVAL_SECONDS",
        "60",
        "N: EMF aggregated over N-second windows (written on the first invocation after, and on shutdown); 0: documents after every invocation (about 1.4 KB each)",
    ),
];

/// What the EMF sink needs to know, from the environment at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmfConfig {
    /// CloudWatch namespace.
    pub namespace: String,
    /// The `service` dimension's value.
    pub service: String,
    /// The function's name, a property of every document.
    pub function_name: Option<String>,
    /// The aggregation window; zero: flush after every invocation.
    pub flush_interval: Duration,
}

/// A bad `METRICS_*` variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct EmfConfigError {
    /// The variable.
    pub variable: &'static str,
    /// What is wrong and how to fix it.
    pub problem: String,
}

impl EmfConfig {
    /// Reads `METRICS_NAMESPACE`, `METRICS_SERVICE`, `METRICS_FLUSH_INTERVAL_SECONDS` and
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    ///
    /// # Errors
    /// Every bad variable, each naming itself.
    pub fn from_env() -> Result<Self, Vec<EmfConfigError>> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// As [`EmfConfig::from_env`], from any lookup (for tests).
    ///
    /// # Errors
    /// Every bad variable, each naming itself.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<EmfConfigError>> {
        let mut problems = Vec::new();
        let function_name = get("AWS_LAMBDA_FUNCTION_NAME");
        let namespace = get("METRICS_NAMESPACE").unwrap_or_else(|| "JwtAuthorizer".to_owned());
        // CloudWatch: 1 to 255 characters of [0-9A-Za-z.\-_/#: ], and `AWS/` is reserved.
        if namespace.len() > 255
            || !namespace
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-_/#: ".contains(&b))
            || namespace.starts_with("AWS/")
        {
            problems.push(EmfConfigError {
                variable: "METRICS_NAMESPACE",
                problem:
                    "use 1 to 255 of A-Z a-z 0-9 . - _ / # : and space, not starting with AWS/"
                        .to_owned(),
            });
        }
        let service = get("METRICS_SERVICE")
            .or_else(|| function_name.clone())
            .unwrap_or_else(|| "authorizer".to_owned());
        // A dimension value: 1 to 1024 characters, no control characters, not starting with ':'.
        if service.chars().count() > 1024
            || service.chars().any(char::is_control)
            || service.starts_with(':')
        {
            problems.push(EmfConfigError {
                variable: "METRICS_SERVICE",
                problem: "use 1 to 1024 printable characters, not starting with ':'".to_owned(),
            });
        }
        let flush_interval = match get("METRICS_FLUSH_INTERVAL_SECONDS") {
            None => DEFAULT_FLUSH_INTERVAL,
            Some(value) => match value.trim().parse::<u32>() {
                Ok(seconds) => Duration::from_secs(seconds.into()),
                Err(_) => {
                    problems.push(EmfConfigError {
                        variable: "METRICS_FLUSH_INTERVAL_SECONDS",
                        problem: format!(
                            "{value:?} is not a whole number of seconds (0 flushes after every invocation)"
                        ),
                    });
                    Duration::ZERO
                }
            },
        };
        if problems.is_empty() {
            Ok(EmfConfig {
                namespace,
                service,
                function_name,
                flush_interval,
            })
        } else {
            Err(problems)
        }
    }
}

/// Installing the global recorder failed.
#[derive(Debug, thiserror::Error)]
#[error("a metrics recorder is already installed in this process; install exactly one sink")]
pub struct AlreadyInstalled;

/// Installs an [`EmfRecorder`] as the global recorder; register the crate's handles with
/// [`super::install_handles`] once the configuration is loaded.
///
/// # Errors
/// [`AlreadyInstalled`] when another recorder was installed first.
pub fn install(config: EmfConfig) -> Result<EmfSink, AlreadyInstalled> {
    let recorder = EmfRecorder::default();
    let sink = recorder.sink(config);
    ::metrics::set_global_recorder(recorder).map_err(|_| AlreadyInstalled)?;
    Ok(sink)
}

#[derive(Clone)]
enum Storage {
    Counter(Arc<AtomicU64>),
    Gauge(Arc<AtomicU64>),
    Histogram(Arc<Buckets>),
}

struct Entry {
    key: Key,
    storage: Storage,
}

#[derive(Default)]
struct Registry {
    entries: Mutex<Entries>,
    units: Mutex<Vec<(KeyName, Unit)>>,
}

/// The registered metrics, in registration order (the order they are written in).
#[derive(Default)]
struct Entries {
    list: Vec<Entry>,
    /// Each key's place in `list`: a few hundred keys are registered at start-up (more with
    /// Cedar policies), and a scan of the list for each was quadratic.
    index: HashMap<Key, usize>,
}

/// A `metrics` recorder whose handles are atomics; pair it with its [`EmfSink`] to write them.
/// Registering takes a lock and may allocate; recording does neither.
#[derive(Clone, Default)]
pub struct EmfRecorder {
    registry: Arc<Registry>,
}

impl EmfRecorder {
    /// The sink that writes what this recorder holds.
    pub fn sink(&self, config: EmfConfig) -> EmfSink {
        EmfSink {
            registry: self.registry.clone(),
            config,
            epoch: Instant::now(),
            last_flush_ms: AtomicU64::new(0),
            window_opened_ms: AtomicU64::new(0),
            window_opened_unix_ms: AtomicU64::new(0),
        }
    }

    fn register(&self, key: &Key, make: impl FnOnce() -> Storage) -> Storage {
        let mut entries = self
            .registry
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(&at) = entries.index.get(key) {
            return entries.list[at].storage.clone();
        }
        let storage = make();
        let at = entries.list.len();
        entries.index.insert(key.clone(), at);
        entries.list.push(Entry {
            key: key.clone(),
            storage: storage.clone(),
        });
        storage
    }

    fn describe(&self, key: KeyName, unit: Option<Unit>) {
        if let Some(unit) = unit {
            let mut units = self
                .registry
                .units
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            units.retain(|(k, _)| *k != key);
            units.push((key, unit));
        }
    }
}

impl Recorder for EmfRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        match self.register(key, || Storage::Counter(Arc::default())) {
            Storage::Counter(a) => Counter::from_arc(a),
            // The same name registered as another kind: record nowhere rather than panic.
            _ => Counter::noop(),
        }
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        // NaN until set: a gauge nobody set is not reported.
        let unset = || Storage::Gauge(Arc::new(AtomicU64::new(f64::NAN.to_bits())));
        match self.register(key, unset) {
            Storage::Gauge(a) => Gauge::from_arc(a),
            _ => Gauge::noop(),
        }
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        match self.register(key, || Storage::Histogram(Arc::default())) {
            Storage::Histogram(a) => Histogram::from_arc(a),
            _ => Histogram::noop(),
        }
    }
}

// Keep `CounterFn` in scope for `AtomicU64` handles (the impl lives in `metrics`).
const _: fn(&AtomicU64) = |a| CounterFn::increment(a, 0);

/// Writes what the recorder holds as EMF documents.
pub struct EmfSink {
    registry: Arc<Registry>,
    config: EmfConfig,
    epoch: Instant,
    /// Milliseconds after `epoch` of the last flush, plus one (0: never flushed).
    last_flush_ms: AtomicU64,
    /// Milliseconds after `epoch`, plus one, when the open window opened (0: none is open).
    window_opened_ms: AtomicU64,
    /// The same moment in milliseconds since the Unix epoch: the window's documents' timestamp.
    window_opened_unix_ms: AtomicU64,
}

/// A label set, in registration order.
type Labels = Vec<(String, String)>;

/// One metric's value in a document.
struct Sample {
    name: String,
    unit: &'static str,
    value: Value,
}

impl EmfSink {
    /// The configuration.
    pub fn config(&self) -> &EmfConfig {
        &self.config
    }

    /// Call before authorizing an invocation: with an aggregation window that has lasted its
    /// interval, writes it to stdout (`observe` first brings gauges up to date).
    pub fn before_invocation(&self, observe: impl FnOnce()) {
        if self.config.flush_interval.is_zero() || !self.due() {
            return;
        }
        observe();
        self.write(None, self.window_start());
    }

    /// Call after every invocation: without an aggregation window, writes its documents (with
    /// the request id) to stdout; with one, opens a window if none is open.
    pub fn after_invocation(&self, request_id: &str, observe: impl FnOnce()) {
        if self.config.flush_interval.is_zero() {
            observe();
            self.write(Some(request_id), SystemTime::now());
        } else if self.window_opened_ms.load(Ordering::Relaxed) == 0 {
            self.window_opened_unix_ms
                .store(unix_ms(SystemTime::now()), Ordering::Relaxed);
            self.window_opened_ms
                .store(self.now_ms(), Ordering::Relaxed);
        }
    }

    /// Call when the process is about to end (SIGTERM in Lambda, or the runtime loop's end):
    /// writes the open window, or what init recorded if nothing was ever written.
    pub fn shutdown(&self, observe: impl FnOnce()) {
        let pending = self.window_opened_ms.load(Ordering::Relaxed) != 0
            || self.last_flush_ms.load(Ordering::Relaxed) == 0;
        if !pending {
            return;
        }
        observe();
        self.write(None, self.window_start());
    }

    /// Whether a flush is due now: always without an aggregation window; with one, when a
    /// window is open and has lasted the interval.
    pub fn due(&self) -> bool {
        let window = self.config.flush_interval.as_millis() as u64;
        if window == 0 {
            return true;
        }
        let opened = self.window_opened_ms.load(Ordering::Relaxed);
        opened != 0 && self.now_ms().saturating_sub(opened) >= window
    }

    /// The open window's start, or now.
    fn window_start(&self) -> SystemTime {
        match self.window_opened_unix_ms.load(Ordering::Relaxed) {
            0 => SystemTime::now(),
            ms => UNIX_EPOCH + Duration::from_millis(ms),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// Flushes to stdout in one write. Write errors are logged, never returned to the invocation.
    fn write(&self, request_id: Option<&str>, now: SystemTime) {
        let mut documents = Vec::with_capacity(2048);
        let written = self
            .flush(request_id, now, &mut documents)
            .and_then(|()| io::stdout().lock().write_all(&documents));
        if let Err(error) = written {
            tracing::warn!(%error, "cannot write EMF metrics to stdout");
        }
    }

    /// Writes one EMF document (one line) per label set that has data, and resets counters and
    /// histograms. The request id is a property only without an aggregation window.
    ///
    /// # Errors
    /// Only `out`'s write errors.
    pub fn flush(
        &self,
        request_id: Option<&str>,
        now: SystemTime,
        out: &mut impl Write,
    ) -> io::Result<()> {
        self.last_flush_ms.store(self.now_ms(), Ordering::Relaxed);
        self.window_opened_ms.store(0, Ordering::Relaxed);
        self.window_opened_unix_ms.store(0, Ordering::Relaxed);
        for document in self.documents(request_id, now) {
            serde_json::to_writer(&mut *out, &document)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// The documents a flush would write now (and resets what they report).
    pub fn documents(&self, request_id: Option<&str>, now: SystemTime) -> Vec<Value> {
        let timestamp = unix_ms(now);
        let units = self
            .registry
            .units
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        // Label sets in registration order, each with its samples.
        let mut groups: Vec<(Labels, Vec<Sample>)> = Vec::new();
        let entries = self
            .registry
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for entry in &entries.list {
            let name = entry.key.name();
            let described = units
                .iter()
                .find(|(k, _)| k.as_str() == name)
                .map(|(_, u)| *u);
            let value = match &entry.storage {
                Storage::Counter(c) => match c.swap(0, Ordering::Relaxed) {
                    0 => continue,
                    n => json!(n),
                },
                Storage::Gauge(g) => {
                    let v = f64::from_bits(g.load(Ordering::Relaxed));
                    if !v.is_finite() {
                        continue;
                    }
                    json!(v)
                }
                Storage::Histogram(h) => match h.drain() {
                    None => continue,
                    Some(d) => json!({
                        "Values": d.values, "Counts": d.counts,
                        "Max": d.max, "Min": d.min, "Count": d.count, "Sum": d.sum,
                    }),
                },
            };
            let labels: Vec<(String, String)> = entry
                .key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            let sample = Sample {
                name: name.to_owned(),
                unit: unit_of(name, described, &entry.storage),
                value,
            };
            match groups.iter_mut().find(|(l, _)| *l == labels) {
                Some((_, samples)) => samples.push(sample),
                None => groups.push((labels, vec![sample])),
            }
        }
        drop(entries);
        let mut documents = Vec::new();
        for (labels, samples) in groups {
            for chunk in samples.chunks(MAX_METRICS_PER_DOCUMENT) {
                documents.push(self.document(&labels, chunk, request_id, timestamp));
            }
        }
        documents
    }

    fn document(
        &self,
        labels: &[(String, String)],
        samples: &[Sample],
        request_id: Option<&str>,
        timestamp: u64,
    ) -> Value {
        // `service` plus the labels, rolled up by prefix: [s, a, b], [s, a], [s]. Labels past the
        // EMF limit of 30 dimensions stay properties.
        let mut full = vec!["service".to_owned()];
        full.extend(
            labels
                .iter()
                .take(MAX_DIMENSIONS - 1)
                .map(|(k, _)| k.clone()),
        );
        let dimensions: Vec<Vec<String>> =
            (1..=full.len()).rev().map(|n| full[..n].to_vec()).collect();
        let metrics: Vec<Value> = samples
            .iter()
            .map(|s| json!({"Name": s.name, "Unit": s.unit}))
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": self.config.namespace,
                    "Dimensions": dimensions,
                    "Metrics": metrics,
                }],
            }),
        );
        root.insert("service".to_owned(), json!(self.config.service));
        for (k, v) in labels {
            root.insert(k.clone(), json!(v));
        }
        if let Some(function) = &self.config.function_name {
            root.insert("function_name".to_owned(), json!(function));
        }
        if let (Some(id), true) = (request_id, self.config.flush_interval.is_zero()) {
            root.insert("function_request_id".to_owned(), json!(id));
        }
        for sample in samples {
            root.insert(sample.name.clone(), sample.value.clone());
        }
        Value::Object(root)
    }
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The CloudWatch unit: what the metric was described with, else from the name's suffix.
fn unit_of(name: &str, described: Option<Unit>, storage: &Storage) -> &'static str {
    match described {
        Some(Unit::Microseconds) => return "Microseconds",
        Some(Unit::Milliseconds) => return "Milliseconds",
        Some(Unit::Seconds) => return "Seconds",
        Some(Unit::Count) => return "Count",
        Some(Unit::Bytes) => return "Bytes",
        _ => {}
    }
    if name.ends_with("_us") {
        "Microseconds"
    } else if name.ends_with("_ms") {
        "Milliseconds"
    } else if name.ends_with("_seconds") {
        "Seconds"
    } else if matches!(storage, Storage::Histogram(_)) {
        "None"
    } else {
        "Count"
    }
}

#[cfg(test)]
mod tests;
