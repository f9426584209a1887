//! Every route's decision from one evaluation of each policy's conditions.
//!
//! A token's routes share the principal, its entities, the resource and the context: only the
//! action differs. Asking Cedar once per route evaluates every policy once per route (400
//! evaluations for 20 routes and 20 policies). But a policy's scope is simple enough to decide
//! without Cedar: which routes its action and resource constraints match is fixed at start-up
//! (the resource is the API, the action a known route), and whether its principal constraint
//! admits a token is a comparison with the token's user and groups. What is left are the
//! conditions (`when`, `unless`): when none reads `action`, a policy's conditions hold, or not,
//! whatever the route. So at start-up each conditional policy's conditions become one Cedar
//! expression (`when {a} unless {b}` is `a && !b`, as Cedar joins them), policies that repeat a
//! condition (the same `unless` on many routes) share it, and at a cache miss Cedar evaluates the
//! conditions of the policies whose scope admits the token, each once; a set of policies on
//! groups alone never asks Cedar. Each route then combines them as Cedar does: denied by a
//! satisfied `forbid` that matches it, else permitted by a satisfied `permit` that matches it,
//! else denied. (Cedar's authorizer would rebuild each policy's condition and assemble a response
//! on every call: twice the work of evaluating the expressions.)
//!
//! This is exact. Cedar evaluates a policy's scope before its conditions, so a policy whose scope
//! does not match a request is not satisfied and cannot err on it; a policy whose conditions err
//! is skipped for every route alike. The scope is decided on the entities the model builds: the
//! principal `{ns}::User::"{prefix}|{sub}"`, whose parents, the groups, are not entities of their
//! own, so `principal in e` holds for the principal itself and its groups alone; and the resource,
//! an entity with no parents. A condition that errs, or gives no `true`, is not satisfied, as Cedar
//! skips a policy whose evaluation errs. When a policy's conditions read `action`, none of this
//! holds, and the engine asks Cedar once per route ([`Sweep::new`] gives `None`).

use super::expr::{conditions, is_var};
use super::model::Model;
use super::uses::Uses;
use cedar_policy::{
    ActionConstraint, Effect, Entities, EntityUid, Policy, PrincipalConstraint, ResourceConstraint,
};
use cedar_policy_core::ast::{self, Expr, Var};
use cedar_policy_core::evaluator::Evaluator;
use cedar_policy_core::extensions::Extensions;

/// The policies' scopes decided, and their conditions to evaluate.
pub struct Sweep {
    /// Every distinct condition, as one expression.
    conditions: Vec<Expr>,
    /// By the engine's policy index.
    policies: Vec<Swept>,
    routes: usize,
    /// What the conditions read: the model a token needs for them.
    pub uses: Uses,
}

/// One policy's scope, decided.
struct Swept {
    permit: bool,
    principal: Principal,
    /// Whether its action and resource constraints match each known route.
    routes: Vec<bool>,
    /// Its conditions, by index into [`Sweep::conditions`] (`None`: it has none).
    condition: Option<usize>,
}

/// A principal constraint, as the model's principal can meet it.
#[derive(Debug, PartialEq, Eq)]
enum Principal {
    Any,
    /// No user of the model meets it (another entity type).
    Never,
    /// The user with this id (`{prefix}|{sub}`).
    User(String),
    /// A member of the group with this id (`{prefix}|{group}`).
    Group(String),
}

/// A token's principal: what its scope is decided on.
pub struct Who<'a> {
    /// The issuer's principal prefix.
    pub prefix: &'a str,
    /// The token's subject.
    pub sub: &'a str,
    /// The token's groups, as the groups claim names them.
    pub groups: &'a [&'a str],
}

impl Who<'_> {
    /// Whether `id` is `{prefix}|{name}`.
    fn names(&self, id: &str, name: &str) -> bool {
        id.strip_prefix(self.prefix)
            .and_then(|rest| rest.strip_prefix('|'))
            == Some(name)
    }
}

impl Principal {
    fn of(constraint: PrincipalConstraint, model: &Model) -> Self {
        let user = |t: &cedar_policy::EntityTypeName| t == model.user_type();
        let entity = |e: EntityUid| {
            let id = e.id().unescaped().to_owned();
            if user(e.type_name()) {
                Principal::User(id)
            } else if e.type_name() == model.group_type() {
                Principal::Group(id)
            } else {
                Principal::Never
            }
        };
        match constraint {
            PrincipalConstraint::Any => Principal::Any,
            PrincipalConstraint::Is(t) if user(&t) => Principal::Any,
            // The principal is a user: it equals no group.
            PrincipalConstraint::Eq(e) if user(e.type_name()) => entity(e),
            PrincipalConstraint::In(e) => entity(e),
            PrincipalConstraint::IsIn(t, e) if user(&t) => entity(e),
            PrincipalConstraint::Is(_)
            | PrincipalConstraint::Eq(_)
            | PrincipalConstraint::IsIn(..) => Principal::Never,
        }
    }

    fn admits(&self, who: &Who<'_>) -> bool {
        match self {
            Principal::Any => true,
            Principal::Never => false,
            Principal::User(id) => who.names(id, who.sub),
            Principal::Group(id) => who.groups.iter().any(|g| who.names(id, g)),
        }
    }
}

/// Whether a resource constraint admits the model's resource, an entity with no parents (so `in`
/// is equality).
fn admits_resource(constraint: ResourceConstraint, resource: &EntityUid) -> bool {
    match constraint {
        ResourceConstraint::Any => true,
        ResourceConstraint::Eq(e) | ResourceConstraint::In(e) => e == *resource,
        ResourceConstraint::Is(t) => t == *resource.type_name(),
        ResourceConstraint::IsIn(t, e) => t == *resource.type_name() && e == *resource,
    }
}

impl Sweep {
    /// The sweep of `policies` (in the order of the engine's `ids`) over the known routes'
    /// `route_actions`; `None` when a policy's conditions read `action`.
    pub fn new(
        policies: &[&Policy],
        route_actions: &[EntityUid],
        actions: &Entities,
        model: &Model,
    ) -> Option<Self> {
        let mut sweep = Sweep {
            conditions: Vec::new(),
            policies: Vec::with_capacity(policies.len()),
            routes: route_actions.len(),
            uses: Uses::NOTHING,
        };
        let mut distinct: Vec<&Expr> = Vec::new();
        for policy in policies {
            let condition = conditions(policy);
            if condition.is_some_and(|c| c.subexpressions().any(|e| is_var(e, Var::Action))) {
                return None;
            }
            let condition = condition.map(|condition| {
                distinct
                    .iter()
                    .position(|known| *known == condition)
                    .unwrap_or_else(|| {
                        distinct.push(condition);
                        distinct.len() - 1
                    })
            });
            let resource = admits_resource(policy.resource_constraint(), model.resource());
            // Built anew at each call: once per policy.
            let action_constraint = policy.action_constraint();
            sweep.policies.push(Swept {
                permit: policy.effect() == Effect::Permit,
                principal: Principal::of(policy.principal_constraint(), model),
                routes: route_actions
                    .iter()
                    .map(|action| resource && matches(&action_constraint, action, actions))
                    .collect(),
                condition,
            });
        }
        sweep.conditions = distinct.into_iter().cloned().collect();
        sweep.uses = Uses::of(policies.iter().filter_map(|policy| conditions(policy)));
        Some(sweep)
    }

    /// Every route's verdict for the token's principal `who`. `prepare` gives the request and
    /// entities the conditions are evaluated on (any action): it is called only when a policy
    /// whose scope admits `who` has conditions.
    pub fn verdicts<E>(
        &self,
        who: &Who<'_>,
        extensions: &Extensions<'_>,
        prepare: impl FnOnce() -> Result<(ast::Request, Entities), E>,
    ) -> Result<Vec<super::Verdict>, E> {
        let mut applies: Vec<bool> = self
            .policies
            .iter()
            .map(|p| p.principal.admits(who) && p.routes.contains(&true))
            .collect();
        let mut needed = vec![false; self.conditions.len()];
        for (policy, _) in self.policies.iter().zip(&applies).filter(|(_, a)| **a) {
            if let Some(c) = policy.condition {
                needed[c] = true;
            }
        }
        if needed.contains(&true) {
            let (request, entities) = prepare()?;
            // Cedar's own evaluator, as `cedar_policy::eval_expression` runs it, but with the
            // engine's extensions (that function builds all of them).
            let evaluator = Evaluator::new(request, entities.as_ref(), extensions);
            let slots = ast::SlotEnv::new();
            let holds: Vec<bool> = self
                .conditions
                .iter()
                .zip(&needed)
                .map(|(condition, needed)| {
                    *needed
                        && evaluator
                            .interpret(condition, &slots)
                            .is_ok_and(|value| value == ast::Value::from(true))
                })
                .collect();
            for (policy, applies) in self.policies.iter().zip(&mut applies) {
                *applies &= policy.condition.is_none_or(|c| holds[c]);
            }
        }
        let verdicts = (0..self.routes)
            .map(|route| {
                let first = |permit: bool| {
                    self.policies
                        .iter()
                        .zip(&applies)
                        .position(|(p, a)| *a && p.permit == permit && p.routes[route])
                        .and_then(|i| u16::try_from(i).ok())
                };
                match first(false) {
                    Some(forbid) => super::Verdict {
                        permitted: false,
                        policy: Some(forbid),
                    },
                    None => {
                        let permit = first(true);
                        super::Verdict {
                            permitted: permit.is_some(),
                            policy: permit,
                        }
                    }
                }
            })
            .collect();
        Ok(verdicts)
    }
}

/// Whether a policy's action constraint matches `action`: `action in [a]` is true for `a`
/// itself and for the actions `a` groups (the schema's action entities).
pub fn matches(constraint: &ActionConstraint, action: &EntityUid, actions: &Entities) -> bool {
    match constraint {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(a) => a == action,
        ActionConstraint::In(list) => list
            .iter()
            .any(|a| a == action || actions.is_ancestor_of(a, action)),
    }
}
