//! OAuth 2.0 token introspection (RFC 7662): asking the issuer whether a token is still active,
//! for opaque (reference) tokens, and for JWTs where the configuration asks (to see revocations,
//! RFC 7009).
//!
//! One [`Introspector`] per issuer that introspects: its client ([`client`]), its memory of
//! answers ([`cache`]: keyed digests, never tokens; bounded; active answers until the earlier of
//! `exp` and `INTROSPECTION_CACHE_SECONDS`, inactive ones briefly), one call per token at a time
//! whatever the concurrency (later askers await the call in flight), and a budget of calls per
//! second for tokens it does not hold: a flood of made-up opaque tokens costs the issuer at most
//! that many calls, and the excess is refused at once as `introspection_rate_limited`.
//!
//! The layers: the settings are configuration (`crate::config::IntrospectionSettings`);
//! [`response`] (the strict reading of an answer) imports nothing of the crate; [`client`] does
//! the HTTP; this module ties them together; the handler decides when to ask and checks an active answer's claims
//! exactly as a JWT's.

pub mod cache;
pub mod client;
pub mod extension;
pub mod response;

use crate::clock::Clock;
use crate::config::{Config, IssuerConfig};
pub use crate::config::{IntrospectMode, IntrospectionSettings};
use crate::fetcher::{ClientError, Fetcher};
use crate::report::{IntrospectionCall, Lookup, Observer, Reject};
use cache::{Answers, Budget, Digest};
use client::{Client, Failure};
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
pub use response::Verdict;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How many answers one issuer's cache holds (about 200 bytes each, plus the claims of active
/// answers): a flood of distinct tokens evicts, it does not grow memory.
pub const CACHE_CAPACITY: usize = 10_000;
/// The longest an inactive answer is remembered: long enough to spare the endpoint a token
/// repeated in a burst, short enough that a token activated late (`nbf`) is not refused for long.
pub const INACTIVE_TTL: Duration = Duration::from_secs(5);

/// What introspection says about a token.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// Active: the response's claims (a JSON object), to check as a JWT's.
    Active(Arc<str>),
    /// Not active (revoked, expired, unknown): refuse (`token_inactive`).
    Inactive,
    /// No valid answer (endpoint down, slow, or answering junk): refuse
    /// (`introspection_unavailable`), or serve a locally verified JWT when failing open.
    Unavailable(Failure),
    /// A token not in the cache, beyond the issuer's calls per second: refused at once
    /// (`introspection_rate_limited`), no call made.
    RateLimited,
}

/// The introspector of the configuration's introspecting issuer (at most one), with its index.
///
/// # Errors
/// [`ClientError`] when its HTTP client or its cache cannot be set up.
pub fn for_config(
    config: &Config,
    observer: Arc<dyn Observer>,
    clock: Arc<dyn Clock>,
) -> Result<Option<(usize, Introspector)>, ClientError> {
    let Some((index, issuer)) = config
        .issuers
        .iter()
        .enumerate()
        .find(|(_, i)| i.introspection.mode != IntrospectMode::Off)
    else {
        return Ok(None);
    };
    let timeout = issuer.introspection.timeout;
    // No redirects: one would carry the token and our client credentials to another place.
    let http = Fetcher::builder(&config.transport)?
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()?;
    let reporter = Reporter {
        issuer: index,
        observer,
    };
    let introspector =
        Introspector::new(http, issuer, config.transport.allow_http, reporter, clock)
            .map_err(|e| ClientError::Introspection(e.to_string()))?;
    Ok(introspector.map(|i| (index, i)))
}

/// Whether a token has the shape of a compact JWS (three segments, the first a base64url JSON
/// object: `e` is the first character of every base64url encoding of `{`). Anything else is an
/// opaque token, for introspection. A token of this shape that is not a valid JWT is refused as
/// `malformed` by the JWT path, never introspected.
pub fn looks_like_jwt(token: &str) -> bool {
    token.starts_with('e') && memchr::memchr_iter(b'.', token.as_bytes()).count() == 2
}

/// The refusal for an answer that is not `Active`.
pub fn refusal(answer: &Answer) -> Reject {
    match answer {
        Answer::Inactive => Reject::TokenInactive,
        Answer::RateLimited => Reject::IntrospectionRateLimited,
        Answer::Unavailable(_) | Answer::Active(_) => Reject::IntrospectionUnavailable,
    }
}

type Call = Shared<BoxFuture<'static, Result<Verdict, Failure>>>;

/// One issuer's introspection.
pub struct Introspector {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    mode: IntrospectMode,
    fail_open: bool,
    cache_ttl: Duration,
    client: Client,
    answers: Answers,
    /// The calls in flight, by token digest: at most one per token.
    inflight: Mutex<HashMap<Digest, Call>>,
    budget: Budget,
    reporter: Reporter,
    /// The clock of cache lifetimes and the call budget.
    clock: Arc<dyn Clock>,
}

/// Who hears of this issuer's lookups and calls (metrics).
pub struct Reporter {
    /// The issuer's index in the configuration.
    pub issuer: usize,
    /// The authorizer's observer.
    pub observer: Arc<dyn Observer>,
}

impl Reporter {
    fn lookup(&self, lookup: Lookup) {
        self.observer.introspection_lookup(self.issuer, lookup);
    }
}

/// Why introspection cannot be set up (a start-up error).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// No OS randomness to key the cache with.
    #[error("no OS randomness to key the introspection cache of issuer {0:?}")]
    NoRandomness(String),
}

impl Introspector {
    /// The introspector of one issuer, or `None` when its `INTROSPECT` is `off`. `http` must not
    /// follow redirects; `reporter` hears of every lookup and call.
    ///
    /// # Errors
    /// [`SetupError`] when the cache cannot be keyed.
    pub fn new(
        http: reqwest::Client,
        issuer: &IssuerConfig,
        allow_http: bool,
        reporter: Reporter,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<Self>, SetupError> {
        let settings = &issuer.introspection;
        if settings.mode == IntrospectMode::Off {
            return Ok(None);
        }
        let answers = Answers::new(CACHE_CAPACITY)
            .ok_or_else(|| SetupError::NoRandomness(issuer.name.clone()))?;
        Ok(Some(Introspector {
            inner: Arc::new(Inner {
                name: issuer.name.clone(),
                mode: settings.mode,
                fail_open: settings.fail_open,
                cache_ttl: settings.cache_ttl,
                client: Client::new(http, &issuer.issuer, settings, allow_http),
                answers,
                inflight: Mutex::new(HashMap::new()),
                budget: Budget::new(settings.max_calls_per_second, clock.now()),
                reporter,
                clock,
            }),
        }))
    }

    /// `INTROSPECT`.
    pub fn mode(&self) -> IntrospectMode {
        self.inner.mode
    }

    /// `INTROSPECTION_FAIL_OPEN`.
    pub fn fail_open(&self) -> bool {
        self.inner.fail_open
    }

    /// How many answers the cache holds.
    pub fn cached(&self) -> usize {
        self.inner.answers.len()
    }

    /// Counts a locally verified JWT served while introspection was unavailable.
    pub fn record_fail_open(&self) {
        let reporter = &self.inner.reporter;
        reporter.observer.introspection_fail_open(reporter.issuer);
    }

    /// The cached answer for `token` (a hit, counted), or `None`: the hot path, without a
    /// future to box, so that a cached opaque token allocates nothing (tests/allocations.rs).
    pub fn cached_answer(&self, token: &str) -> Option<Answer> {
        let inner = &self.inner;
        let verdict = inner
            .answers
            .get(inner.answers.digest(token), inner.clock.now())?;
        inner.reporter.lookup(Lookup::Hit);
        Some(verdict.into())
    }

    /// What the issuer says about `token`: from the cache, from the call in flight for it, or
    /// from a new call if the budget allows one.
    pub async fn introspect(&self, token: &str) -> Answer {
        let inner = &self.inner;
        let now = inner.clock.now();
        let digest = inner.answers.digest(token);
        if let Some(verdict) = inner.answers.get(digest, now) {
            inner.reporter.lookup(Lookup::Hit);
            return verdict.into();
        }
        let call = {
            let mut inflight = inner.inflight.lock().expect("not poisoned");
            match inflight.get(&digest) {
                Some(call) => {
                    inner.reporter.lookup(Lookup::Shared);
                    call.clone()
                }
                None => {
                    if !inner.budget.try_take(now) {
                        inner.reporter.lookup(Lookup::RateLimited);
                        return Answer::RateLimited;
                    }
                    inner.reporter.lookup(Lookup::Miss);
                    let call = Inner::call(self.inner.clone(), digest, token.to_owned())
                        .boxed()
                        .shared();
                    inflight.insert(digest, call.clone());
                    call
                }
            }
        };
        match call.await {
            Ok(verdict) => verdict.into(),
            Err(failure) => Answer::Unavailable(failure),
        }
    }
}

impl From<Verdict> for Answer {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Active { claims, .. } => Answer::Active(claims),
            Verdict::Inactive => Answer::Inactive,
        }
    }
}

impl Inner {
    /// The one call for a token; whoever awaits it drives it. Its answer is cached before the
    /// call leaves the in-flight table, so that no asker in between misses both.
    async fn call(inner: Arc<Inner>, digest: Digest, token: String) -> Result<Verdict, Failure> {
        /// Takes the call out of the in-flight table however it ends, even when every asker
        /// gave up (the future is dropped): the next asker then makes a new call.
        struct Done<'a>(&'a Inner, Digest);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                if let Ok(mut inflight) = self.0.inflight.lock() {
                    inflight.remove(&self.1);
                }
            }
        }
        let _done = Done(&inner, digest);
        let started = Instant::now();
        // RFC 7662 §2.1: `token_type_hint` from RFC 7009 §2.1's registry; every token we are
        // given is an access token.
        let result = inner.client.introspect(&token, "access_token").await;
        drop(token);
        let elapsed = started.elapsed();
        let now = inner.clock.now();
        let label = match &result {
            Ok(Verdict::Active { .. }) => "active",
            Ok(Verdict::Inactive) => "inactive",
            Err(failure) => failure.as_str(),
        };
        inner
            .reporter
            .observer
            .introspection_call(&IntrospectionCall {
                issuer: inner.reporter.issuer,
                result: label,
                elapsed,
            });
        match &result {
            Ok(verdict) => {
                let ttl = inner.ttl(verdict, SystemTime::now());
                inner.answers.insert(digest, verdict.clone(), ttl, now);
            }
            Err(failure) => tracing::warn!(
                issuer = %inner.name,
                result = failure.as_str(),
                "introspection failed"
            ),
        }
        result
    }

    /// How long an answer may be used: an active one until the earlier of the token's `exp`
    /// (RFC 7662 §4: a response MUST NOT be cached beyond its `exp`) and
    /// `INTROSPECTION_CACHE_SECONDS`; an inactive one [`INACTIVE_TTL`] at most.
    fn ttl(&self, verdict: &Verdict, now: SystemTime) -> Duration {
        match verdict {
            Verdict::Inactive => self.cache_ttl.min(INACTIVE_TTL),
            Verdict::Active { exp: None, .. } => self.cache_ttl,
            Verdict::Active { exp: Some(exp), .. } => {
                let now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
                let left = Duration::try_from_secs_f64(exp - now.as_secs_f64()).unwrap_or_default();
                self.cache_ttl.min(left)
            }
        }
    }
}
