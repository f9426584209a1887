//! One authorization, from the raw event bytes to the answer API Gateway gets.
//!
//! The pipeline: event → `Bearer` token → three segments → header → key (lock-free lookup; an
//! unknown kid triggers a shared, rate-limited refresh) → signature → claims → policy. Decoding
//! happens in stack buffers and parsing borrows from them, so a typical token costs no heap
//! allocation until the caller serializes the answer.

use crate::claims::{self, MAX_CONTEXT_CLAIMS, Rules};
use crate::config::{Config, HttpApiResponse, RejectMode};
use crate::events::{self, EventKind};
use crate::fetcher::{ClientError, Fetcher};
use crate::keyset::{Fingerprint, VerifyingKey};
use crate::policy::{self, Grant, MethodArn};
use crate::refresher::{KeyStore, Schedule};
use crate::reject::Reject;
use crate::token::{self, DecodeBuf, Header, Segments};
use crate::verified::{TokenDigest, VerifiedTokens};
use arrayvec::ArrayString;
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// What became of an authorization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A policy that allows the called route was written.
    Allow,
    /// A policy that denies the called route was written (a route rule, or `REJECT_MODE=deny`).
    Deny,
    /// Nothing was written: answer the Lambda error `Unauthorized`.
    Unauthorized,
}

impl Outcome {
    /// The metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::Unauthorized => "unauthorized",
        }
    }
}

/// The decision, with what logs and metrics need. `kid` and `sub` are copied (truncated) into
/// fixed buffers so that no log field borrows from, or allocates for, the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Allow, Deny or Unauthorized.
    pub outcome: Outcome,
    /// Why the token was refused, if it was.
    pub reject: Option<Reject>,
    /// The event's kind, once known.
    pub event: Option<EventKind>,
    /// The token's `kid`, once parsed (untrusted when the token was refused).
    pub kid: ArrayString<64>,
    /// The token's `sub`, only once the token is verified.
    pub sub: ArrayString<128>,
    /// The signature check was answered by the verified-token cache (a metric).
    pub cache_hit: bool,
}

impl Decision {
    fn new() -> Self {
        Decision {
            outcome: Outcome::Unauthorized,
            reject: None,
            event: None,
            kid: ArrayString::new(),
            sub: ArrayString::new(),
            cache_hit: false,
        }
    }
}

/// The authorizer: configuration, claim rules and keys, shared by every invocation.
pub struct Authorizer {
    config: Arc<Config>,
    rules: Rules,
    keys: Arc<KeyStore>,
    verified: VerifiedTokens,
}

impl Authorizer {
    /// An authorizer over an existing key store.
    pub fn new(config: Arc<Config>, keys: Arc<KeyStore>) -> Self {
        Authorizer {
            rules: Rules::from_config(&config),
            verified: VerifiedTokens::new(config.verified_token_cache_size),
            config,
            keys,
        }
    }

    /// An authorizer with its own key store, which is empty until refreshed (see
    /// [`KeyStore::refresh`]) or until the first token asks for a key.
    ///
    /// # Errors
    /// [`ClientError`] when the HTTP client for the JWKS cannot be built.
    pub fn from_config(config: Config) -> Result<Self, ClientError> {
        let keys = KeyStore::new(Fetcher::new(&config)?, Schedule::from_config(&config));
        Ok(Authorizer::new(Arc::new(config), Arc::new(keys)))
    }

    /// The key store, to refresh it at start-up and to spawn its refresher.
    pub fn keys(&self) -> &Arc<KeyStore> {
        &self.keys
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
        tracing::info!(
            outcome = decision.outcome.as_str(),
            reason = decision.reject.map(Reject::as_str),
            event = decision.event.map(EventKind::as_str),
            kid = decision.kid.as_str(),
            sub = decision.sub.as_str(),
            latency_us = latency.as_micros() as u64,
            "authorization"
        );
        crate::metrics::record_decision(&decision, latency);
        decision
    }

    /// Authorizes one event at time `now` (seconds since the epoch), without logging.
    pub async fn authorize_at(&self, event: &[u8], now: u64, out: &mut Vec<u8>) -> Decision {
        let mut decision = Decision::new();
        let event = match events::parse(event) {
            Ok(event) => event,
            Err(reject) => {
                decision.reject = Some(reject);
                return decision;
            }
        };
        decision.event = Some(event.kind);
        let arn = MethodArn::parse(&event.arn);
        let verified = match arn {
            Some(arn) => {
                self.verify(event.authorization.as_deref(), arn, now, out, &mut decision)
                    .await
            }
            None => Err(Reject::BadEvent),
        };
        match verified {
            Ok(outcome) => decision.outcome = outcome,
            Err(reject) => {
                decision.reject = Some(reject);
                decision.outcome = match (self.config.reject_mode, arn) {
                    (RejectMode::Deny, Some(arn)) => {
                        if event.kind == EventKind::HttpV2
                            && self.config.http_api_response == HttpApiResponse::Simple
                        {
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

    async fn verify(
        &self,
        authorization: Option<&str>,
        arn: MethodArn<'_>,
        now: u64,
        out: &mut Vec<u8>,
        decision: &mut Decision,
    ) -> Result<Outcome, Reject> {
        let raw = token::bearer_token(authorization.ok_or(Reject::MissingToken)?)?;
        if raw.len() > self.config.max_token_bytes {
            return Err(Reject::TokenTooLarge);
        }
        let segments = token::split(raw)?;
        // Sized for RSA-8192 signatures and typical headers and claims; larger ones spill to the heap.
        let mut header_buf = DecodeBuf::<512>::default();
        let mut payload_buf = DecodeBuf::<2048>::default();
        let mut signature_buf = DecodeBuf::<1024>::default();
        let header =
            token::parse_header(header_buf.decode(segments.header)?, &self.config.algorithms)?;
        truncate_into(&mut decision.kid, &header.kid);
        // Only a well-formed token may trigger a refresh of a stale key set: junk costs the
        // issuer nothing.
        self.keys.refresh_if_stale().await;
        let digest = self.verified.digest(raw);
        let (verified_by, cache_hit) = self
            .check_signature(&header, &segments, &mut signature_buf, digest.as_ref())
            .await?;
        decision.cache_hit = cache_hit;

        let claims = claims::parse(payload_buf.decode(segments.payload)?, &self.rules)?;
        claims::validate(&claims, &self.rules, now)?;
        let principal = claims.sub.as_deref().unwrap_or_default();
        truncate_into(&mut decision.sub, principal);

        let mut context: [(&str, Option<&RawValue>); MAX_CONTEXT_CLAIMS] =
            [("", None); MAX_CONTEXT_CLAIMS];
        for ((slot, name), value) in context
            .iter_mut()
            .zip(&self.rules.context_claims)
            .zip(claims.context)
        {
            *slot = (name.as_str(), value);
        }
        let grant = Grant {
            principal,
            arn,
            scope: claims.scope.as_deref(),
            context: &context[..self.rules.context_claims.len()],
        };
        let denied = grant.denies_called_route(&self.config.route_rules);
        if decision.event == Some(EventKind::HttpV2)
            && self.config.http_api_response == HttpApiResponse::Simple
        {
            policy::write_simple(out, !denied, Some(&grant));
        } else {
            policy::write_policy(
                out,
                &grant,
                self.config.resource_mode,
                &self.config.route_rules,
            );
        }
        if let Some(digest) = digest
            && !cache_hit
        {
            self.verified.remember(digest, verified_by);
        }
        Ok(if denied {
            Outcome::Deny
        } else {
            Outcome::Allow
        })
    }

    /// Checks the signature with the key named by `kid` (or finds it verified in the cache) and
    /// returns that key's fingerprint, and whether the cache answered. An unknown kid triggers the
    /// shared, rate-limited refresh.
    async fn check_signature(
        &self,
        header: &Header<'_>,
        segments: &Segments<'_>,
        signature_buf: &mut DecodeBuf<1024>,
        digest: Option<&TokenDigest>,
    ) -> Result<(Fingerprint, bool), Reject> {
        // The signature is only decoded when it has to be checked: a cache hit skips both.
        let mut verify = |key: &VerifyingKey| {
            if digest.is_some_and(|d| self.verified.was_verified_by(d, key)) {
                return Ok((*key.fingerprint(), true));
            }
            let signature = signature_buf.decode(segments.signature)?;
            key.verify(header.alg, segments.signing_input.as_bytes(), signature)?;
            Ok((*key.fingerprint(), false))
        };
        // The guard is dropped before any await: lookups never hold the key set across a fetch.
        let found = self.keys.keys().find(&header.kid).map(&mut verify);
        if let Some(verified) = found {
            return verified;
        }
        self.keys.refresh_for_unknown_kid(&header.kid).await;
        let keys = self.keys.keys();
        match keys.find(&header.kid) {
            Some(key) => verify(key),
            None if keys.is_empty() => Err(Reject::JwksUnavailable),
            None => Err(Reject::UnknownKid),
        }
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
