//! Every route's decision from one evaluation of each policy.
//!
//! A token's routes share the principal, its entities, the resource and the context: only the
//! action differs. Asking Cedar once per route evaluates every policy once per route (400
//! evaluations for 20 routes and 20 policies, about 23 µs a route). But which routes a policy
//! can apply to is fixed by its action constraint, known at start-up, and a policy whose
//! conditions do not read `action` is satisfied, or not, whatever the route. So at start-up each
//! policy's action constraint is turned into the set of known routes it matches and dropped from
//! the policy, and at a cache miss one request decides the whole token. In that request every
//! policy is a `permit` (the forbids turned round), so that Cedar names every satisfied policy as
//! a reason; then each route combines them as Cedar does: denied by a satisfied `forbid` that
//! matches it, else permitted by a satisfied `permit` that matches it, else denied.
//!
//! This is exact: Cedar evaluates a policy's scope before its conditions, so a policy whose action
//! constraint does not match a route is not satisfied for it and cannot err on it; and a policy
//! that errs is skipped for every route alike. When a policy's conditions read `action`, none of
//! this holds, and the engine asks Cedar once per route ([`Sweep::new`] gives `None`).

use cedar_policy::{
    ActionConstraint, Authorizer, Effect, Entities, EntityUid, Policy, PolicySet, Request,
};
use serde_json::Value;

/// The policies without their action constraints, and the routes each matches.
pub struct Sweep {
    /// Every policy without its action constraint, as a `permit`.
    unconstrained: PolicySet,
    /// By the engine's policy index: a permit, and whether it matches each known route.
    matches: Vec<(bool, Vec<bool>)>,
    routes: usize,
}

impl Sweep {
    /// The sweep of `policies` (in the order of the engine's `ids`, each with its JSON form) over
    /// the known routes' `route_actions`; `None` when a policy's conditions read `action`.
    pub fn new(
        policies: &[(&Policy, Value)],
        route_actions: &[EntityUid],
        actions: &Entities,
    ) -> Option<Self> {
        let mut sweep = Sweep {
            unconstrained: PolicySet::new(),
            matches: Vec::with_capacity(policies.len()),
            routes: route_actions.len(),
        };
        for (policy, est) in policies {
            if est.get("conditions").is_some_and(reads_action) {
                return None;
            }
            let mut est = est.clone();
            est["action"] = serde_json::json!({"op": "All"});
            est["effect"] = serde_json::json!("permit");
            let unconstrained = Policy::from_json(Some(policy.id().clone()), est).ok()?;
            sweep.unconstrained.add(unconstrained).ok()?;
            let permit = policy.effect() == Effect::Permit;
            let matched = route_actions
                .iter()
                .map(|action| matches(policy, action, actions))
                .collect();
            sweep.matches.push((permit, matched));
        }
        Some(sweep)
    }

    /// Every route's verdict, from one request of any action: `index_of` maps a policy id to
    /// the engine's index.
    pub fn verdicts(
        &self,
        request: &Request,
        entities: &Entities,
        authorizer: &Authorizer,
        index_of: impl Fn(&cedar_policy::PolicyId) -> Option<u16>,
    ) -> Vec<super::Verdict> {
        let mut satisfied = vec![false; self.matches.len()];
        let response = authorizer.is_authorized(request, &self.unconstrained, entities);
        for id in response.diagnostics().reason() {
            if let Some(i) = index_of(id) {
                satisfied[usize::from(i)] = true;
            }
        }
        (0..self.routes)
            .map(|route| {
                let applies = |permit: bool| {
                    self.matches
                        .iter()
                        .zip(&satisfied)
                        .position(|((p, m), s)| *p == permit && *s && m[route])
                        .and_then(|i| u16::try_from(i).ok())
                };
                match applies(false) {
                    Some(forbid) => super::Verdict {
                        permitted: false,
                        policy: Some(forbid),
                    },
                    None => {
                        let permit = applies(true);
                        super::Verdict {
                            permitted: permit.is_some(),
                            policy: permit,
                        }
                    }
                }
            })
            .collect()
    }
}

/// Whether a policy's action constraint matches `action`: `action in [a]` is true for `a`
/// itself and for the actions `a` groups (the schema's action entities).
pub fn matches(policy: &Policy, action: &EntityUid, actions: &Entities) -> bool {
    match policy.action_constraint() {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(a) => a == *action,
        ActionConstraint::In(list) => list
            .iter()
            .any(|a| a == action || actions.is_ancestor_of(a, action)),
    }
}

/// Whether an expression (Cedar's JSON form) reads the variable `action`.
fn reads_action(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            map.get("Var").and_then(Value::as_str) == Some("action")
                || map.values().any(reads_action)
        }
        Value::Array(items) => items.iter().any(reads_action),
        _ => false,
    }
}
