//! Keeping the key set fresh: an `ArcSwap` the hot path reads without locks, single-flight
//! refreshes, a penalty box for unknown kids, stale-on-error, and the interval task.
//!
//! Lambda freezes the process between invocations, so the interval task only runs while an
//! invocation does. That is why every authorization also checks the set's age (one clock read and
//! one atomic load) and, when the set is stale, starts a refresh beside itself and answers with the
//! keys it has (only an empty set is waited for); and why the task sleeps until the next due time
//! instead of using a `tokio::time::interval`, which would fire missed ticks in a burst after a
//! thaw.
//!
//! Where such a refresh finishes: on the runtime, beside the invocation that started it. If the
//! answer goes out first, Lambda freezes the process with the fetch in flight, and the fetch
//! carries on when the next invocation thaws it, bounded by `JWKS_TIMEOUT_MS` (a connection the
//! freeze broke fails, and the set is retried after `JWKS_MIN_REFRESH_INTERVAL_SECONDS`, keeping
//! the keys we have). Until it ends, later stale checks start no second one.

use crate::clock::{Clock, SystemClock};
use crate::config::IssuerConfig;
use crate::fetcher::{Fetched, Fetcher};
use crate::keyset::KeySet;
use crate::report::{Attempt, Observer, Trigger, Unobserved};
use arc_swap::{ArcSwap, Guard};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The timing rules of the key store.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// The longest a set is used before being fetched again.
    pub refresh_interval: Duration,
    /// The shortest interval `Cache-Control: max-age` may ask for; also the retry delay after a failure.
    pub min_refresh_interval: Duration,
    /// How long unknown kids cause no fetch after a fetch that did not find one.
    pub kid_miss_cooldown: Duration,
}

impl Schedule {
    /// The schedule an issuer's configuration asks for.
    pub fn for_issuer(issuer: &IssuerConfig) -> Self {
        Schedule {
            refresh_interval: issuer.refresh_interval,
            min_refresh_interval: issuer.min_refresh_interval,
            kid_miss_cooldown: issuer.kid_miss_cooldown,
        }
    }
}

/// The issuer's keys and everything that keeps them fresh.
pub struct KeyStore {
    current: ArcSwap<KeySet>,
    fetcher: Fetcher,
    schedule: Schedule,
    /// Held while a fetch is in flight: concurrent refreshes wait for it instead of fetching again.
    in_flight: Mutex<()>,
    /// Set while a stale refresh started by an authorization runs beside it: one at a time.
    refreshing_beside: AtomicBool,
    /// Counts fetch attempts, so a waiter can tell that a fetch happened while it waited.
    attempts: AtomicU64,
    /// Milliseconds since `epoch` when the set is next due for a refresh.
    next_due_ms: AtomicU64,
    /// Milliseconds since `epoch` until which unknown kids cause no fetch (the penalty box).
    kid_miss_blocked_until_ms: AtomicU64,
    /// The clock of intervals and cooldowns, and its reading when the store was made.
    clock: Arc<dyn Clock>,
    epoch: Instant,
    /// Told of every fetch attempt (metrics), besides the log line each gets.
    observer: Arc<dyn Observer>,
    /// Which configured issuer's keys these are (metrics and logs).
    issuer: usize,
    issuer_name: Arc<str>,
}

impl KeyStore {
    /// An empty store; nothing is fetched until [`KeyStore::refresh`] or a first token asks.
    pub fn new(fetcher: Fetcher, schedule: Schedule) -> Self {
        KeyStore {
            current: ArcSwap::from_pointee(KeySet::empty()),
            fetcher,
            schedule,
            in_flight: Mutex::new(()),
            refreshing_beside: AtomicBool::new(false),
            attempts: AtomicU64::new(0),
            next_due_ms: AtomicU64::new(0),
            kid_miss_blocked_until_ms: AtomicU64::new(0),
            clock: Arc::new(SystemClock),
            epoch: Instant::now(),
            observer: Arc::new(Unobserved),
            issuer: 0,
            issuer_name: Arc::from(""),
        }
    }

    /// Names the issuer (its index in the configuration, and its name) for metrics and logs.
    pub fn for_issuer(mut self, index: usize, name: &str) -> Self {
        self.issuer = index;
        self.issuer_name = Arc::from(name);
        self
    }

    /// Reads intervals and cooldowns from `clock` (by default, the system's).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.epoch = clock.now();
        self.clock = clock;
        self
    }

    /// The index of the issuer whose keys these are.
    pub fn issuer_index(&self) -> usize {
        self.issuer
    }

    /// Reports every fetch attempt to `observer` (by default, to none: only the log line).
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// The current key set, without locking or allocating.
    #[inline]
    pub fn keys(&self) -> Guard<Arc<KeySet>> {
        self.current.load()
    }

    /// Whether the set is due for a refresh (older than its interval, and no attempt failed recently).
    #[inline]
    pub fn is_stale(&self) -> bool {
        self.now_ms() >= self.next_due_ms.load(Ordering::Relaxed)
    }

    /// Starts from a key set read from a file (`JWKS_FILE`) instead of the empty one: it answers
    /// from init, and counts as fresh for the refresh interval, like a fetched set. Call
    /// [`KeyStore::refresh_at_init`] next, which fetches without making anyone wait.
    pub fn preload(&self, keys: KeySet) {
        let due = self.now_ms() + self.schedule.refresh_interval.as_millis() as u64;
        self.current.store(Arc::new(keys));
        self.next_due_ms.store(due, Ordering::Relaxed);
    }

    /// The fetch at init: awaited when the store is empty (nothing could be answered without
    /// it); with pre-loaded keys, spawned on the current runtime so that no answer the file can
    /// give waits for the issuer. A token whose kid the file lacks waits for that fetch (the
    /// usual kid-miss rule), and the background fetch's failure leaves the file's keys in use and
    /// a retry after the minimum interval (the usual stale-on-error rule).
    pub async fn refresh_at_init(self: &Arc<Self>) {
        if self.keys().is_empty() {
            self.refresh(Trigger::Init).await;
        } else {
            let store = self.clone();
            tokio::spawn(async move { store.refresh(Trigger::Init).await });
        }
    }

    /// Refreshes now, or waits for the refresh already in flight. A failure keeps the keys we have.
    pub async fn refresh(&self, trigger: Trigger) {
        let seen = self.attempts.load(Ordering::Acquire);
        let _flight = self.in_flight.lock().await;
        if self.attempts.load(Ordering::Acquire) == seen {
            self.fetch_and_swap(trigger).await;
        }
    }

    /// Refreshes a stale set unless a refresh is already in flight, in which case the current
    /// (stale but valid) keys are used rather than waiting.
    pub async fn refresh_if_stale(&self) {
        if !self.is_stale() {
            return;
        }
        if let Ok(_flight) = self.in_flight.try_lock()
            && self.is_stale()
        {
            self.fetch_and_swap(Trigger::Stale).await;
        }
    }

    /// Starts [`KeyStore::refresh_if_stale`] on the current tokio runtime and returns at once, so
    /// that an authorization holding valid (if stale) keys need not wait for the issuer. A single
    /// flight: while one such refresh runs, this starts no other. Returns `false` when there is
    /// no runtime to start it on (the caller then refreshes inline).
    pub fn refresh_stale_beside(self: &Arc<Self>) -> bool {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        if self.refreshing_beside.swap(true, Ordering::AcqRel) {
            return true;
        }
        let store = self.clone();
        runtime.spawn(async move {
            // Cleared however the refresh ends, so that a later stale check can start another.
            struct Done<'a>(&'a AtomicBool);
            impl Drop for Done<'_> {
                fn drop(&mut self) {
                    self.0.store(false, Ordering::Release);
                }
            }
            let _done = Done(&store.refreshing_beside);
            store.refresh_if_stale().await;
        });
        true
    }

    /// Called when a token names a kid the current set lacks: fetches at once (sharing a fetch
    /// already in flight), unless a recent kid-miss fetch already failed to find a kid, in which
    /// case nothing is fetched until the cooldown ends. Look the kid up again afterwards.
    pub async fn refresh_for_unknown_kid(&self, kid: &str) {
        if self.in_kid_miss_cooldown() {
            return;
        }
        let seen = self.attempts.load(Ordering::Acquire);
        let _flight = self.in_flight.lock().await;
        if self.attempts.load(Ordering::Acquire) == seen {
            // No fetch happened while we waited: ours is the one.
            if self.now_ms() < self.kid_miss_blocked_until_ms.load(Ordering::Relaxed) {
                return;
            }
            self.fetch_and_swap(Trigger::KidMiss).await;
            if self.keys().find(kid).is_none() {
                let until = self.now_ms() + self.schedule.kid_miss_cooldown.as_millis() as u64;
                self.kid_miss_blocked_until_ms
                    .store(until, Ordering::Relaxed);
            }
        }
    }

    /// Whether unknown kids cause no fetch now (the penalty box is closed): callers can refuse an
    /// unknown kid at once, without waiting for [`KeyStore::refresh_for_unknown_kid`].
    #[inline]
    pub fn in_kid_miss_cooldown(&self) -> bool {
        self.now_ms() < self.kid_miss_blocked_until_ms.load(Ordering::Relaxed)
    }

    /// The background refresher: sleeps until the set is due, refreshes, repeats. Spawn it on the
    /// runtime that serves requests; it never returns.
    pub async fn run_refresher(self: Arc<Self>) {
        loop {
            let due = self.next_due_ms.load(Ordering::Relaxed);
            let wait = due.saturating_sub(self.now_ms());
            if wait > 0 {
                self.clock.sleep(Duration::from_millis(wait)).await;
            }
            // This cannot spin: every fetch attempt, ours or another's, moves the due time at
            // least a second on (the minimum refresh interval, which is also the retry delay).
            if self.is_stale() {
                self.refresh(Trigger::Interval).await;
            }
        }
    }

    /// The number of fetch attempts so far (successful or not).
    pub fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::Acquire)
    }

    /// Must be called with `in_flight` held.
    async fn fetch_and_swap(&self, trigger: Trigger) {
        let started = Instant::now();
        let result = self.fetcher.fetch().await;
        self.attempts.fetch_add(1, Ordering::Release);
        let now = self.now_ms();
        let schedule = &self.schedule;
        let outcome = match result {
            Ok(Fetched {
                keys,
                skipped,
                max_age,
            }) => {
                for skipped in &skipped {
                    tracing::warn!(
                        issuer = &*self.issuer_name,
                        kid = skipped.kid.as_deref(),
                        why = skipped.why,
                        "JWKS key not used"
                    );
                }
                let interval = max_age
                    .unwrap_or(schedule.refresh_interval)
                    .clamp(schedule.min_refresh_interval, schedule.refresh_interval);
                let count = keys.len();
                self.current.store(Arc::new(keys));
                self.next_due_ms
                    .store(now + interval.as_millis() as u64, Ordering::Relaxed);
                Ok(count)
            }
            Err(error) => {
                // Say what is true: with no keys yet there is nothing to keep, and every token
                // of this issuer is refused until a fetch succeeds.
                if self.keys().is_empty() {
                    tracing::warn!(
                        issuer = &*self.issuer_name,
                        trigger = trigger.as_str(),
                        %error,
                        "JWKS fetch failed; no keys yet, so this issuer's tokens are refused \
                         (jwks_unavailable) until a fetch succeeds"
                    );
                } else {
                    tracing::warn!(
                        issuer = &*self.issuer_name,
                        trigger = trigger.as_str(),
                        %error,
                        "JWKS refresh failed; keeping the keys we have"
                    );
                }
                let retry = now + schedule.min_refresh_interval.as_millis() as u64;
                self.next_due_ms.store(retry, Ordering::Relaxed);
                Err(error.as_str())
            }
        };
        let attempt = Attempt {
            issuer: self.issuer,
            issuer_name: self.issuer_name.clone(),
            trigger,
            result: outcome,
            elapsed: started.elapsed(),
        };
        log_attempt(&attempt);
        self.observer.refresh(&attempt);
    }

    fn now_ms(&self) -> u64 {
        self.clock
            .now()
            .saturating_duration_since(self.epoch)
            .as_millis() as u64
    }
}

/// A successful fetch's log line (a failure's was written where it happened).
fn log_attempt(attempt: &Attempt) {
    if let Ok(keys) = attempt.result {
        tracing::info!(
            issuer = &*attempt.issuer_name,
            trigger = attempt.trigger.as_str(),
            keys,
            elapsed_ms = attempt.elapsed.as_millis() as u64,
            "JWKS refreshed"
        );
    }
}
