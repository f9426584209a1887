//! The answer under Cedar policies: every known route's decision, evaluated at a cache miss (or
//! remembered by the verified-token cache), compiled into the one policy API Gateway caches.

use super::Authorizer;
#[cfg(feature = "cedar")]
use super::{Call, Verified};
#[cfg(feature = "cedar")]
use crate::policy::{self, Grant};
#[cfg(feature = "cedar")]
use crate::report::{Decision, Outcome, Reject};
#[cfg(feature = "cedar")]
use std::sync::Arc;

/// What the verified-token cache remembered beside the key: the Cedar decisions, if any.
#[cfg(feature = "cedar")]
pub(super) type Remembered = Option<Arc<crate::cedar::Compiled>>;
#[cfg(not(feature = "cedar"))]
pub(super) type Remembered = NothingRemembered;

/// Without the `cedar` feature the cache keeps only the key.
#[cfg(not(feature = "cedar"))]
#[derive(Clone, Copy, Default)]
pub(super) struct NothingRemembered;

impl Authorizer {
    /// Whether the answer depends on the route called (route rules or Cedar policies): an HTTP
    /// API simple response then needs the route key in the cache key.
    pub(super) fn decides_per_route(&self) -> bool {
        #[cfg(feature = "cedar")]
        let cedar = self.config.cedar.is_some();
        #[cfg(not(feature = "cedar"))]
        let cedar = false;
        cedar || !self.config.route_rules.is_empty()
    }

    /// Whether the verified-token cache's `lookup` says this key verified this token; fills
    /// `remembered` with what it kept beside it.
    #[inline]
    pub(super) fn cached(
        lookup: &crate::verified::Lookup,
        key: &crate::keyset::VerifyingKey,
        remembered: &mut Remembered,
    ) -> bool {
        #[cfg(feature = "cedar")]
        {
            match lookup.verified_by(key) {
                Some(compiled) => {
                    *remembered = compiled;
                    true
                }
                None => false,
            }
        }
        #[cfg(not(feature = "cedar"))]
        {
            let NothingRemembered = *remembered;
            lookup.verified_by(key)
        }
    }

    /// The answer under Cedar policies: every known route's decision (remembered by the
    /// verified-token cache, or evaluated now and remembered), the called route's verdict, and
    /// one policy for all routes.
    #[cfg(feature = "cedar")]
    pub(super) fn answer_cedar(
        &self,
        cedar: CedarCall<'_>,
        grant: &Grant<'_>,
        call: Call<'_>,
        out: &mut Vec<u8>,
        decision: &mut Decision,
    ) -> Result<Outcome, Reject> {
        let engine = cedar.engine;
        let fresh = cedar.verified.remembered.is_none();
        let (verdict, known, compiled) = if engine.per_request() {
            // Policies read the request: the called route alone, now (see `cedar::context`).
            let (payload, issuer) = (cedar.verified.payload, cedar.issuer);
            let (verdict, known) = engine.decide_request(issuer, payload, call.arn, call.route)?;
            (verdict, known, None)
        } else {
            let compiled = match cedar.verified.remembered {
                Some(compiled) => compiled,
                None => Arc::new(engine.compile(cedar.issuer, cedar.verified.payload)?),
            };
            let known = engine.routes().called(call.arn, call.route);
            let verdict = match known {
                Some(route) => compiled.verdicts()[route],
                None => {
                    let action = crate::cedar::action_of_call(call.arn, call.route);
                    engine.decide_one(cedar.issuer, cedar.verified.payload, &action)?
                }
            };
            (verdict, known, Some(compiled))
        };
        let rules = &self.config.route_rules;
        let allowed = if call.simple {
            let allowed = verdict.permitted && !grant.denies_called_route(rules);
            policy::write_simple(out, allowed, Some(grant));
            allowed
        } else {
            // A per-request decision covers the called method ARN alone, whatever the mode.
            let (mode, compiled) = match &compiled {
                Some(compiled) => (self.config.resource_mode, &**compiled),
                None => (
                    policy::ResourceMode::Method,
                    &crate::cedar::Compiled::default(),
                ),
            };
            let called = (verdict, known);
            crate::cedar::write_policy(out, grant, mode, rules, engine, compiled, called)
        };
        match (cedar.verified.remember, compiled) {
            (Some((digest, key)), Some(compiled)) if fresh => {
                self.verified.remember_compiled(digest, key, compiled);
            }
            // Per request: the signature is remembered, never a decision.
            (Some((digest, key)), None) if !decision.cache_hit => {
                self.verified.remember(digest, key);
            }
            _ => {}
        }
        // Logged and counted (`cedar_denials`) by the observer, with the decision.
        if !verdict.permitted {
            decision.policy = Some(engine.policy_id(verdict.policy));
        }
        Ok(if allowed {
            Outcome::Allow
        } else {
            Outcome::Deny
        })
    }
}

/// What a Cedar answer needs of the verification.
#[cfg(feature = "cedar")]
pub(super) struct CedarCall<'a> {
    pub(super) engine: &'a crate::cedar::Engine,
    pub(super) issuer: usize,
    pub(super) verified: Verified<'a>,
}
