//! One authorization, from the raw event bytes to the answer API Gateway gets.
//!
//! The pipeline: event → `Bearer` token → three segments → header → payload → issuer (by the
//! unverified `iss`, exact match) → that issuer's key (lock-free lookup; an unknown kid triggers a
//! shared, rate-limited refresh of that issuer's keys only) → signature → claims → policy.
//! Decoding happens in stack buffers and parsing borrows from them, so a typical token costs no
//! heap allocation until the caller serializes the answer.

mod cedar;
mod introspect;
mod setup;

pub use setup::Wiring;

#[cfg(feature = "cedar")]
use cedar::CedarCall;
#[cfg(not(feature = "cedar"))]
use cedar::NothingRemembered;
use cedar::Remembered;

use crate::algorithm::Algorithm;
use crate::binding::{self, SenderChecks};
use crate::claims::{self, CAPTURE_SLOTS, IssuerRules, Rules};
use crate::config::{Config, HttpApiResponse, RejectMode};
use crate::events::{self, EventKind, Possession};
use crate::introspection::{self, Introspector};
use crate::json::RawJson;

use crate::policy::{self, Grant, MethodArn};
use crate::refresher::KeyStore;
use crate::report::{Decision, Observer, Outcome, Reject, Trigger};
use crate::token::{self, DecodeBuf, Scheme};
use crate::verified::{Lookup, VerifiedTokens};
use arrayvec::{ArrayString, ArrayVec};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// One trusted issuer: its claim rules and its own key store, refresher and penalty box, so that
/// an outage or a kid flood at one issuer never slows another.
pub struct TrustedIssuer {
    name: String,
    issuer: String,
    algorithms: Vec<Algorithm>,
    rules: IssuerRules,
    keys: Arc<KeyStore>,
}

impl TrustedIssuer {
    /// The name in metrics and logs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The exact `iss` of its tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Its key store.
    pub fn keys(&self) -> &Arc<KeyStore> {
        &self.keys
    }
}

/// The authorizer: configuration, claim rules and each issuer's keys, shared by every invocation.
pub struct Authorizer {
    config: Arc<Config>,
    rules: Rules,
    issuers: Vec<TrustedIssuer>,
    /// Every issuer's algorithms: the header check before the issuer is known.
    algorithms: Vec<Algorithm>,
    verified: VerifiedTokens,
    senders: SenderChecks,
    /// The issuer (its index) whose introspection endpoint is asked, if any (at most one: an
    /// opaque token names no issuer).
    introspector: Option<(usize, Introspector)>,
    /// Told of every decision (metrics); key stores tell it of their refreshes.
    observer: Arc<dyn Observer>,
}

impl Authorizer {
    /// The trusted issuers, in configuration order.
    pub fn issuers(&self) -> &[TrustedIssuer] {
        &self.issuers
    }

    /// The fetch at init, every issuer at once: awaited for an issuer without keys, in the
    /// background for one whose keys came from `JWKS_FILE` (see [`KeyStore::refresh_at_init`]).
    pub async fn refresh_keys_at_init(&self) {
        futures_util::future::join_all(self.issuers.iter().map(|i| i.keys.refresh_at_init())).await;
    }

    /// Refreshes every issuer's keys at once (or waits for refreshes in flight).
    pub async fn refresh_keys(&self, trigger: Trigger) {
        futures_util::future::join_all(self.issuers.iter().map(|i| i.keys.refresh(trigger))).await;
    }

    /// Spawns each issuer's background refresher on the current runtime.
    pub fn spawn_refreshers(&self) -> Vec<tokio::task::JoinHandle<()>> {
        self.issuers
            .iter()
            .map(|i| tokio::spawn(i.keys.clone().run_refresher()))
            .collect()
    }

    /// Tells the observer how many keys each issuer's set holds and how old it is (call before
    /// metrics are written out: the age grows between refreshes).
    pub fn observe_keys(&self) {
        for (index, issuer) in self.issuers.iter().enumerate() {
            let set = issuer.keys.keys();
            let age = set.fetched_at().map(|fetched| fetched.elapsed());
            self.observer.keys(index, set.len(), age);
        }
    }

    /// The issuers' names, in configuration order.
    pub fn issuer_names(&self) -> Vec<&str> {
        self.issuers.iter().map(TrustedIssuer::name).collect()
    }

    /// How many tokens the verified-token cache holds.
    pub fn verified_tokens(&self) -> usize {
        self.verified.len()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Authorizes one event at the current time and logs the decision. The answer is written to
    /// `out` unless the outcome is [`Outcome::Unauthorized`].
    pub async fn authorize(&self, event: &[u8], out: &mut Vec<u8>) -> Decision {
        let started = Instant::now();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let decision = self.authorize_at(event, now, out).await;
        let latency = started.elapsed();
        let issuer = decision.issuer.map(|i| self.issuers[i].name());
        crate::logging::decision(&decision, issuer, latency);
        self.observer.decision(&decision, latency);
        decision
    }

    /// Authorizes one event at time `now` (seconds since the epoch), without logging.
    pub async fn authorize_at(&self, event: &[u8], now: u64, out: &mut Vec<u8>) -> Decision {
        let mut decision = Decision::new();
        // Borrowed where it was parsed, rather than moved (copied) out of the `Result`.
        let parsed = events::parse_with(event, &self.config.identity_source);
        let event = match &parsed {
            Ok(event) => event,
            &Err(reject) => {
                if reject == Reject::UnsafeCacheKey {
                    explain_unsafe_cache_key(&self.config, UnsafeCache::IdentityMismatch);
                }
                decision.reject = Some(reject);
                return decision;
            }
        };
        decision.event = Some(event.kind);
        let simple = event.kind == EventKind::HttpV2
            && self.config.http_api_response == HttpApiResponse::Simple;
        let arn = MethodArn::parse(&event.arn);
        let verified = match arn {
            // A simple response is a yes or no for this route alone: under route rules API
            // Gateway may only cache it per route.
            Some(_) if simple && self.decides_per_route() && !event.cached_per_route => {
                explain_unsafe_cache_key(&self.config, UnsafeCache::SimpleWithoutRouteKey);
                Err(Reject::UnsafeCacheKey)
            }
            Some(arn) => {
                let call = Call {
                    authorization: event.authorization.as_deref(),
                    arn,
                    route: event.route(),
                    simple,
                    possession: &event.possession,
                };
                self.verify(call, now, out, &mut decision).await
            }
            None => Err(Reject::BadEvent),
        };
        match verified {
            Ok(outcome) => decision.outcome = outcome,
            Err(reject) => {
                decision.reject = Some(reject);
                decision.outcome = match (self.config.reject_mode, arn) {
                    (RejectMode::Deny, Some(arn)) => {
                        if simple {
                            policy::write_simple(out, false, None);
                        } else {
                            policy::write_deny_all(out, arn);
                        }
                        Outcome::Deny
                    }
                    _ => Outcome::Unauthorized,
                };
            }
        }
        decision
    }

    /// Verifies the token in a synchronous pass; when that pass needs the issuer's keys
    /// refreshed, awaits the refresh and runs the pass again. The decode buffers live on the
    /// pass's stack, not in this future, which stays small: moving it costs no 3.5 KiB copy, and
    /// the refreshes (rare) are boxed for the same reason.
    async fn verify(
        &self,
        call: Call<'_>,
        now: u64,
        out: &mut Vec<u8>,
        decision: &mut Decision,
    ) -> Result<Outcome, Reject> {
        if let Some((index, introspector)) = &self.introspector
            && let Some(Ok((scheme, raw))) = call.authorization.map(token::credential)
            && raw.len() <= self.config.max_token_bytes
            && !introspection::looks_like_jwt(raw)
        {
            decision.issuer = Some(*index);
            let answer = match introspector.cached_answer(raw) {
                Some(answer) => answer,
                None => Box::pin(introspector.introspect(raw)).await,
            };
            let claims = match answer {
                introspection::Answer::Active(claims) => claims,
                other => return Err(introspection::refusal(&other)),
            };
            let token = (scheme, raw);
            return self.verify_introspected(*index, &claims, token, call, now, out, decision);
        }
        let mut refreshed = Refreshed::default();
        loop {
            match self.verify_now(call, now, out, decision, refreshed) {
                Ok(outcome) => return self.recheck(&call, outcome, out, decision).await,
                Err(Step::Reject(reject)) => return Err(reject),
                Err(Step::Wait(Wait::Stale(issuer))) => {
                    Box::pin(self.issuers[issuer].keys.refresh_if_stale()).await;
                    refreshed.stale = true;
                }
                Err(Step::Wait(Wait::UnknownKid(issuer, kid))) => {
                    Box::pin(self.issuers[issuer].keys.refresh_for_unknown_kid(&kid)).await;
                    refreshed.kid = true;
                }
            }
        }
    }

    /// One synchronous pass over the token: the answer, or the refresh it must wait for first.
    fn verify_now(
        &self,
        call: Call<'_>,
        now: u64,
        out: &mut Vec<u8>,
        decision: &mut Decision,
        refreshed: Refreshed,
    ) -> Result<Outcome, Step> {
        let (scheme, raw) = token::credential(call.authorization.ok_or(Reject::MissingToken)?)?;
        if raw.len() > self.config.max_token_bytes {
            return Err(Reject::TokenTooLarge.into());
        }
        // Every segment is checked to be canonical base64url before anything is parsed, as
        // `token::split` does, so that a malformed token is refused as `Malformed` whatever else
        // is wrong with it: the header and payload by decoding them, the signature by
        // `check_segment`, unless the verified-token cache knows the token. A token it knows is
        // byte for byte one that was verified, whose signature passed this check then.
        let segments = token::frame(raw)?;
        // Sized for RSA-8192 signatures and typical headers and claims; larger ones spill to the heap.
        let mut header_buf = DecodeBuf::<512>::default();
        let mut payload_buf = DecodeBuf::<2048>::default();
        let mut signature_buf = DecodeBuf::<1024>::default();
        let header = header_buf.decode(segments.header)?;
        // Unverified until the signature is checked, but only its `iss` is used before that: to
        // pick the issuer whose keys must verify it.
        let payload = payload_buf.decode(segments.payload)?;
        let lookup = self.verified.lookup(raw);
        if !lookup.as_ref().is_some_and(Lookup::is_known) {
            token::check_segment(segments.signature)?;
        }
        let header = token::parse_header(header, &self.algorithms)?;
        truncate_into(&mut decision.kid, &header.kid);
        // Borrowed where they were parsed: moved out of the `Result`, the claims (close to half a
        // kilobyte) were copied.
        let parsed = claims::parse(payload, &self.rules);
        let claims = parsed.as_ref().map_err(|&reject| reject)?;
        let index = self.issuer_of(claims)?;
        decision.issuer = Some(index);
        let issuer = &self.issuers[index];
        if !issuer.algorithms.contains(&header.alg) {
            return Err(Reject::AlgNotAllowed.into());
        }
        let keys = issuer.keys.keys();
        // Only a well-formed token of a known issuer may trigger a refresh of a stale key set:
        // junk costs the issuer nothing. With keys in hand the refresh runs beside this request,
        // which answers with them; only an empty set (or no runtime to refresh on) is waited for.
        if !refreshed.stale
            && issuer.keys.is_stale()
            && (keys.is_empty() || !issuer.keys.refresh_stale_beside())
        {
            return Err(Step::Wait(Wait::Stale(index)));
        }
        let mut remembered = Remembered::default();
        // The signature is only decoded when it has to be checked: a cache hit skips both.
        let (verified_by, cache_hit) = match keys.find(&header.kid) {
            Some(key)
                if lookup
                    .as_ref()
                    .is_some_and(|l| Self::cached(l, key, &mut remembered)) =>
            {
                (*key.fingerprint(), true)
            }
            Some(key) => {
                let signature = signature_buf.decode(segments.signature)?;
                key.verify(header.alg, segments.signing_input.as_bytes(), signature)?;
                (*key.fingerprint(), false)
            }
            // An unknown kid: the issuer's shared, rate-limited refresh, then one more look;
            // during the cooldown (a flood of made-up kids) a refusal at once.
            None if !refreshed.kid && !issuer.keys.in_kid_miss_cooldown() => {
                return Err(Step::Wait(Wait::UnknownKid(index, header.kid.to_string())));
            }
            None if keys.is_empty() => return Err(Reject::JwksUnavailable.into()),
            None => return Err(Reject::UnknownKid.into()),
        };
        drop(keys);
        decision.cache_hit = cache_hit;
        let verified = Verified {
            payload,
            remembered,
            remember: lookup.map(|l| (l.digest(), verified_by)),
        };
        Ok(self.grant(
            index,
            claims,
            (scheme, raw),
            verified,
            call,
            now,
            out,
            decision,
        )?)
    }

    /// The issuer a token names: the one whose `iss` is the token's, exactly (after JSON
    /// unescaping, nothing else: no case folding, no trailing-slash rule). Its keys must verify
    /// the token and its rules check the claims.
    fn issuer_of(&self, claims: &claims::Claims<'_>) -> Result<usize, Reject> {
        claims
            .iss
            .as_deref()
            .and_then(|iss| self.issuers.iter().position(|i| i.issuer == iss))
            .ok_or(Reject::UnknownIssuer)
    }

    /// The claim checks of a payload whose signature verified, as `authorize` runs them: parsed
    /// with the authorizer's rules, the issuer picked by [`Authorizer::issuer_of`], then that
    /// issuer's rules at `now`. Returns the issuer's index. For the claim rules' unit tests,
    /// which then need no keys or signed tokens.
    #[cfg(test)]
    pub(crate) fn check_claims_at(&self, payload: &[u8], now: u64) -> Result<usize, Reject> {
        let claims = claims::parse(payload, &self.rules)?;
        let index = self.issuer_of(&claims)?;
        claims::validate(&claims, &self.issuers[index].rules, now).map(|()| index)
    }

    /// Checks a verified token's claims (a JWT's, or an active introspection answer's) with the
    /// rules of the `index`-th issuer, writes the answer, and has the verified-token cache
    /// remember the token (with its Cedar decisions).
    #[allow(clippy::too_many_arguments)]
    fn grant(
        &self,
        index: usize,
        claims: &claims::Claims<'_>,
        (scheme, raw): (Scheme, &str),
        verified: Verified<'_>,
        call: Call<'_>,
        now: u64,
        out: &mut Vec<u8>,
        decision: &mut Decision,
    ) -> Result<Outcome, Reject> {
        let issuer = &self.issuers[index];
        claims::validate(claims, &issuer.rules, now)?;
        // A sender-constrained token needs its proof on every request: the verified-token
        // cache above only ever skips the access token's own signature check.
        let token = binding::Token {
            scheme,
            raw,
            cnf: claims.cnf(&self.rules),
        };
        self.senders
            .check(token, &issuer.rules, call.possession, now)?;
        let scopes = claims.scopes(&self.rules)?;
        let usage_identifier = claims.usage_identifier(&self.rules)?;
        let principal = claims.sub.as_deref().unwrap_or_default();
        truncate_into(&mut decision.sub, principal);

        // Each captured claim beside its name, on the stack; only the slots in use are written.
        let mut captured = ArrayVec::<(&str, Option<RawJson>), CAPTURE_SLOTS>::new();
        for (name, value) in self.rules.captured.iter().zip(&claims.captured) {
            captured.push((name.as_str(), *value));
        }
        let grant = Grant {
            principal,
            arn: call.arn,
            route: call.route,
            issuer: &issuer.name,
            scope: scopes.as_ref(),
            usage_identifier: usage_identifier.as_deref(),
            context: &captured[..self.config.context_claims.len()],
            claims: &captured,
        };
        #[cfg(feature = "cedar")]
        if let Some(engine) = &self.config.cedar {
            let cedar = CedarCall {
                engine,
                issuer: index,
                verified,
            };
            return self.answer_cedar(cedar, &grant, call, out, decision);
        }
        #[cfg(not(feature = "cedar"))]
        let NothingRemembered = verified.remembered;
        if let Some((digest, key)) = verified.remember
            && !decision.cache_hit
        {
            self.verified.remember(digest, key);
        }
        let denied = grant.denies_called_route(&self.config.route_rules);
        if call.simple {
            policy::write_simple(out, !denied, Some(&grant));
        } else {
            policy::write_policy(
                out,
                &grant,
                self.config.resource_mode,
                &self.config.route_rules,
            );
        }
        Ok(if denied {
            Outcome::Deny
        } else {
            Outcome::Allow
        })
    }
}

/// What the verification of a token leaves for its answer.
struct Verified<'a> {
    /// The token's decoded payload (verified), or an introspection answer's claims: what Cedar
    /// policies read.
    #[cfg_attr(not(feature = "cedar"), allow(dead_code))]
    payload: &'a [u8],
    /// What the verified-token cache held beside the key (Cedar decisions).
    remembered: Remembered,
    /// The token's digest and the key that verified it, when the verified-token cache is on.
    remember: Option<(crate::verified::TokenDigest, crate::keyset::Fingerprint)>,
}

/// What a verification needs of the event.
#[derive(Clone, Copy)]
struct Call<'a> {
    /// The credential, `Bearer <token>`.
    authorization: Option<&'a str>,
    /// The ARN that was called.
    arn: MethodArn<'a>,
    /// The route template that was called, when the event names it.
    route: Option<(&'a str, &'a str)>,
    /// The answer is an HTTP API simple response.
    simple: bool,
    /// What the request presented besides the token (sender-constrained tokens).
    possession: &'a Possession<'a>,
}

/// Why an answer would be unsafe under API Gateway's cache (see [`Reject::UnsafeCacheKey`]).
#[derive(Clone, Copy)]
enum UnsafeCache {
    /// The event's `identitySource` values do not match `IDENTITY_SOURCE`.
    IdentityMismatch,
    /// A simple response under route rules, cached without the route key.
    SimpleWithoutRouteKey,
}

/// Logs, once per process and cause, why answers are refused as `unsafe_cache_key`: a
/// configuration problem that every request would otherwise repeat.
fn explain_unsafe_cache_key(config: &Config, why: UnsafeCache) {
    static IDENTITY: std::sync::Once = std::sync::Once::new();
    static SIMPLE: std::sync::Once = std::sync::Once::new();
    match why {
        UnsafeCache::IdentityMismatch => IDENTITY.call_once(|| {
            tracing::error!(
                identity_source = %config.identity_source,
                "refusing HTTP API events (unsafe_cache_key): their identitySource values do not \
                 match IDENTITY_SOURCE; set it to the authorizer's identity sources, in their order"
            );
        }),
        UnsafeCache::SimpleWithoutRouteKey => SIMPLE.call_once(|| {
            tracing::error!(
                "refusing HTTP API events (unsafe_cache_key): {}",
                crate::config::SIMPLE_NEEDS_ROUTE_KEY
            );
        }),
    }
}

/// The refreshes a verification already waited for, so that a pass never asks for one twice.
#[derive(Clone, Copy, Default)]
struct Refreshed {
    stale: bool,
    kid: bool,
}

/// A refresh of an issuer's key set that a verification must wait for.
enum Wait {
    /// The set is older than its refresh interval and empty, or there is no runtime to refresh
    /// it beside the request (refreshed unless a refresh is in flight).
    Stale(usize),
    /// The set has no key with this kid (a rate-limited refresh, shared by concurrent callers).
    UnknownKid(usize, String),
}

/// Why a synchronous pass stopped early: a refusal, or a refresh to wait for.
enum Step {
    Reject(Reject),
    Wait(Wait),
}

impl From<Reject> for Step {
    fn from(reject: Reject) -> Self {
        Step::Reject(reject)
    }
}

/// Copies as much of `value` as fits, cut at a character boundary.
fn truncate_into<const N: usize>(target: &mut ArrayString<N>, value: &str) {
    target.clear();
    let mut end = value.len().min(N);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    target.push_str(&value[..end]);
}
