//! Where the authorizer asks the issuer about a token (RFC 7662): opaque tokens, answered from
//! their active introspection answer, and locally verified JWTs rechecked under
//! `INTROSPECT=always`.

use super::{Authorizer, Call, Remembered, Verified};
use crate::claims;
use crate::introspection::{self, IntrospectMode};
use crate::report::{Decision, Outcome, Reject};
use crate::token::{self, Scheme};

impl Authorizer {
    /// Answers for an opaque token from its active introspection answer: the answer's claims
    /// (RFC 7662 §2.2 uses the JWT claim names) are checked exactly as a verified JWT's.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn verify_introspected(
        &self,
        index: usize,
        json: &str,
        token: (Scheme, &str),
        call: Call<'_>,
        now: u64,
        out: &mut Vec<u8>,
        decision: &mut Decision,
    ) -> Result<Outcome, Reject> {
        let claims = claims::parse(json.as_bytes(), &self.rules)?;
        // RFC 7662 §2.2 `iss`: when the answer names an issuer, it must be the one we asked.
        if claims
            .iss
            .as_deref()
            .is_some_and(|iss| iss != self.issuers[index].issuer)
        {
            return Err(Reject::UnknownIssuer);
        }
        // Cedar reads the answer's claims as it reads a JWT's payload; nothing is remembered
        // by the verified-token cache (the introspection cache is this token's memory).
        let verified = Verified {
            payload: json.as_bytes(),
            remembered: Remembered::default(),
            remember: None,
        };
        self.grant(index, &claims, token, verified, call, now, out, decision)
    }

    /// Under `INTROSPECT=always`, asks the issuer whether a locally verified JWT is still active
    /// (revocation, RFC 7009); the answer already written is withdrawn when it is not. `call` is
    /// borrowed from `verify`'s future: a copy would grow that future, moved on every request.
    pub(super) async fn recheck(
        &self,
        call: &Call<'_>,
        outcome: Outcome,
        out: &mut Vec<u8>,
        decision: &mut Decision,
    ) -> Result<Outcome, Reject> {
        let Some((index, introspector)) = &self.introspector else {
            return Ok(outcome);
        };
        if introspector.mode() != IntrospectMode::Always
            || decision.issuer != Some(*index)
            || !self.introspects_jwt(*call)
        {
            return Ok(outcome);
        }
        let Some(Ok((_, raw))) = call.authorization.map(token::credential) else {
            return Ok(outcome);
        };
        let answer = Box::pin(introspector.introspect(raw)).await;
        let refusal = match answer {
            introspection::Answer::Active(_) => return Ok(outcome),
            introspection::Answer::Unavailable(_) | introspection::Answer::RateLimited
                if introspector.fail_open() =>
            {
                introspector.record_fail_open();
                return Ok(outcome);
            }
            other => introspection::refusal(&other),
        };
        out.clear();
        decision.sub.clear();
        Err(refusal)
    }

    /// Whether `INTROSPECT=always` applies to this call. Route rules with `introspect = true`
    /// narrow it to their routes, but only where the answer covers the called route alone (a
    /// simple response, or `POLICY_RESOURCE=method`): a stage-wide Allow, which API Gateway may
    /// cache and reuse on any route, is always introspected first.
    pub(super) fn introspects_jwt(&self, call: Call<'_>) -> bool {
        let rules = &self.config.route_rules;
        if !rules.iter().any(|r| r.introspect) {
            return true;
        }
        let route_scoped =
            call.simple || self.config.resource_mode == crate::policy::ResourceMode::Method;
        !route_scoped
            || rules.iter().filter(|r| r.introspect).any(|r| {
                r.covers(call.arn.method, call.arn.path)
                    || call
                        .route
                        .is_some_and(|route| r.covers_route(call.arn, route))
            })
    }
}
