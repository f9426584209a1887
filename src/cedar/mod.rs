//! Cedar policies, evaluated in the authorizer and compiled into the one cached IAM policy
//! (issue 18; feature `cedar`).
//!
//! At start-up: the policies (`CEDAR_POLICIES`) and the schema (`CEDAR_SCHEMA`) are read and
//! validated ([`load`]), and the routes gathered ([`routes`]: `CEDAR_ROUTES`, `API_DEFINITION`).
//! At a cache miss: the token becomes a principal with groups and attributes ([`model`]), every
//! known route is evaluated, and the answer is one IAM policy with an Allow for the permitted
//! routes and a Deny for the others ([`routes::Statements`]), right for whichever route API Gateway
//! applies it to from its cache. The verified-token cache keeps the [`Compiled`] decisions beside
//! the key that verified the token, so a hit evaluates nothing.
//!
//! Policies that read the request ([`context`]: `context.pathParameters`) are evaluated per
//! request instead, for the called route alone, and only where the answer covers the called
//! method ARN alone (`POLICY_RESOURCE=method`).
//!
//! Nothing here calls the network: Verified Permissions' own Lambda authorizer calls its service
//! at every cache miss; this one evaluates the same kind of policies in-process.

mod answer;
pub mod context;
mod expr;
mod load;
pub mod model;
pub mod routes;
mod settings;
mod sweep;
mod uses;
mod yaml;

pub use answer::{compile_and_write, write_policy};
pub use settings::{CedarIssuer, ENV_VARIABLES, from_settings};

use crate::policy::MethodArn;
use crate::report::Reject;
use cedar_policy::{Authorizer, Decision, Entities, EntityUid, PolicyId, PolicySet, Request};
use cedar_policy_core::ast;
use cedar_policy_core::extensions::Extensions;
use model::{IssuerModel, Model, TokenClaims};
use routes::Routes;
use std::fmt;
use uses::Uses;

/// The label of a denial that no `forbid` decided: no `permit` applied.
pub const NO_PERMIT: &str = "none";

/// The loaded policies and everything a decision needs, built once at start-up.
pub struct Engine {
    policies: PolicySet,
    /// The schema's action entities (action groups), added to every request's entities.
    actions: Entities,
    model: Model,
    routes: Routes,
    /// The action of each route, in the order of `routes`.
    route_actions: Vec<EntityUid>,
    /// Each configured issuer's principal prefix and groups claim, by issuer index.
    issuers: Vec<IssuerModel>,
    /// Every policy id, leaked once at start-up: `'static` metric labels.
    ids: Vec<&'static str>,
    /// Cedar's extension functions, or none when no policy calls one: their tables cost about
    /// 2 million instructions to build, on first use (a cold start's).
    extensions: &'static Extensions<'static>,
    /// Validator warnings and lints, shown by `policy check` and logged at start-up.
    warnings: Vec<String>,
    /// The policies that read the request's context, by id, with the attribute read
    /// ([`context::WHOLE`]: the whole record): evaluated per request when there are any.
    request_reads: Vec<(String, String)>,
    /// Every route decided by one evaluation of each policy's conditions (`None`: a policy reads
    /// `action`, and each route is asked in turn).
    sweep: Option<sweep::Sweep>,
    /// What the policies read of a token, scopes and all: the model built to evaluate them
    /// whole (per route, or per request). The sweep has its own.
    uses: Uses,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("policies", &self.ids)
            .field("routes", &self.routes.list().len())
            .finish_non_exhaustive()
    }
}

/// The decision on one route, for the answer and for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The route is permitted.
    pub permitted: bool,
    /// The policy that decided: for a denial, the first `forbid` that applied (`None`: no
    /// `permit` applied); for a permit, the first `permit`. An index into the engine's ids.
    pub policy: Option<u16>,
}

/// The decisions on every known route for one token: what the verified-token cache keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Compiled {
    verdicts: Vec<Verdict>,
}

impl Compiled {
    /// The decision on each route, in the order of [`Engine::routes`].
    pub fn verdicts(&self) -> &[Verdict] {
        &self.verdicts
    }

    fn permitted(&self) -> Vec<bool> {
        self.verdicts.iter().map(|v| v.permitted).collect()
    }
}

/// The decision on one route with every policy that decided it, for `policy explain`.
#[derive(Clone, Debug)]
pub struct Explained {
    /// The route's action (`get /pets/{petId}`).
    pub action: String,
    /// The route is permitted.
    pub permitted: bool,
    /// The policies that decided (the permits that applied, or the forbids that applied).
    pub policies: Vec<String>,
    /// Policies whose evaluation failed (skipped), with the error.
    pub errors: Vec<String>,
}

impl Engine {
    /// The known routes.
    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    /// Validator warnings and lints found at start-up.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether policies read the request's context (`context.pathParameters`): the called route
    /// is then evaluated at every request ([`Engine::decide_request`]), never remembered.
    pub fn per_request(&self) -> bool {
        !self.request_reads.is_empty()
    }

    /// The policies that read the request's context, by id, with the attribute each reads
    /// (empty: the whole record).
    pub fn request_reads(&self) -> &[(String, String)] {
        &self.request_reads
    }

    /// How many policies are loaded.
    pub fn policy_count(&self) -> usize {
        self.ids.len()
    }

    /// A policy id, by [`Verdict::policy`] (`none` for a denial no `forbid` decided).
    pub fn policy_id(&self, policy: Option<u16>) -> &'static str {
        policy.map_or(NO_PERMIT, |i| self.ids[usize::from(i)])
    }

    /// Every id a denial can name: each policy's, and [`NO_PERMIT`].
    pub fn denial_ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.ids.iter().copied().chain([NO_PERMIT])
    }

    /// Evaluates every known route for a verified token of the `issuer`-th issuer.
    ///
    /// # Errors
    /// [`Reject::InvalidClaim`] when the payload has a member twice (or is not an object);
    /// [`Reject::MissingClaim`] without a string `sub`.
    pub fn compile(&self, issuer: usize, payload: &[u8]) -> Result<Compiled, Reject> {
        let claims = TokenClaims::parse(payload)?;
        let verdicts = match (&self.sweep, self.route_actions.first()) {
            (Some(sweep), Some(any)) => {
                let model = self.issuers.get(issuer).ok_or(Reject::UnknownIssuer)?;
                let groups: Vec<&str> = model.groups(&claims).collect();
                let who = sweep::Who {
                    prefix: &model.prefix,
                    sub: claims.sub()?,
                    groups: &groups,
                };
                sweep.verdicts(&who, self.extensions, || {
                    let prepared = self.prepare(issuer, &claims, &sweep.uses)?;
                    // The conditions read no action: any will do. Cedar's own request type
                    // (`cedar-policy`'s `Request::new` builds the extension tables).
                    let known = |uid: &EntityUid| {
                        ast::EntityUIDEntry::known(
                            AsRef::<ast::EntityUID>::as_ref(uid).clone(),
                            None,
                        )
                    };
                    let request = ast::Request::new_unchecked(
                        known(&prepared.principal),
                        known(any),
                        known(self.model.resource()),
                        Some(AsRef::<ast::Context>::as_ref(&prepared.context).clone()),
                    );
                    Ok((request, prepared.entities))
                })?
            }
            _ => {
                let prepared = self.prepare(issuer, &claims, &self.uses)?;
                self.route_actions
                    .iter()
                    .map(|action| self.verdict(&prepared, action))
                    .collect()
            }
        };
        Ok(Compiled { verdicts })
    }

    /// Evaluates one action that is not a known route (a call the route list misses).
    ///
    /// # Errors
    /// As [`Engine::compile`].
    pub fn decide_one(
        &self,
        issuer: usize,
        payload: &[u8],
        action: &str,
    ) -> Result<Verdict, Reject> {
        let claims = TokenClaims::parse(payload)?;
        let request = self.prepare(issuer, &claims, &self.uses)?;
        Ok(self.verdict(&request, &self.model.action(action)))
    }

    /// Evaluates the called route alone, with its path parameters (from the route's template and
    /// the method ARN's path) as `context.pathParameters`: for policies that read the request.
    /// Returns the verdict and the route's index among the known routes, when it is one.
    ///
    /// # Errors
    /// As [`Engine::compile`].
    pub fn decide_request(
        &self,
        issuer: usize,
        payload: &[u8],
        arn: MethodArn<'_>,
        route: Option<(&str, &str)>,
    ) -> Result<(Verdict, Option<usize>), Reject> {
        let claims = TokenClaims::parse(payload)?;
        let prepared = self.prepare(issuer, &claims, &self.uses)?;
        let known = self.routes.called(arn, route);
        let (action, template) = match known {
            Some(i) => (
                self.route_actions[i].clone(),
                Some(self.routes.list()[i].template.as_str()),
            ),
            None => (
                self.model.action(&action_of_call(arn, route)),
                route
                    .filter(|(method, _)| *method != "$default")
                    .map(|(_, t)| t),
            ),
        };
        let parameters = template.map_or_else(Vec::new, |t| context::path_parameters(t, arn.path));
        let record = context::path_parameters_record(&parameters).ok_or(Reject::BadEvent)?;
        let context = prepared
            .context
            .merge([(context::PATH_PARAMETERS.to_owned(), record)])
            .map_err(|_| Reject::BadEvent)?;
        let prepared = Prepared {
            context,
            ..prepared
        };
        Ok((self.verdict(&prepared, &action), known))
    }

    /// Every known route, with the policies that decided each: Cedar asked once per route, with
    /// the whole model, as the reference the faster [`Engine::compile`] agrees with.
    ///
    /// # Errors
    /// As [`Engine::compile`].
    pub fn explain(&self, issuer: usize, claims: &TokenClaims) -> Result<Vec<Explained>, Reject> {
        let request = self.prepare(issuer, claims, &Uses::ALL)?;
        let explained = self
            .routes
            .list()
            .iter()
            .zip(&self.route_actions)
            .map(|(route, action)| {
                let response = self.respond(&request, action);
                Explained {
                    action: route.action.clone(),
                    permitted: response.decision() == Decision::Allow,
                    policies: response
                        .diagnostics()
                        .reason()
                        .map(|id| AsRef::<str>::as_ref(id).to_owned())
                        .collect(),
                    errors: response
                        .diagnostics()
                        .errors()
                        .map(|e| e.to_string())
                        .collect(),
                }
            })
            .collect();
        Ok(explained)
    }

    /// The principal, entities and context of a token, with what `uses` names: what every
    /// route's request shares.
    fn prepare(
        &self,
        issuer: usize,
        claims: &TokenClaims,
        uses: &Uses,
    ) -> Result<Prepared, Reject> {
        let issuer = self.issuers.get(issuer).ok_or(Reject::UnknownIssuer)?;
        let (principal, entities, context) =
            self.model
                .request_parts(issuer, claims, &self.actions, uses, self.extensions)?;
        Ok(Prepared {
            principal,
            entities,
            context,
        })
    }

    fn respond(&self, prepared: &Prepared, action: &EntityUid) -> cedar_policy::Response {
        // Without the schema: a claim the schema types otherwise makes the policies that read it
        // fail (and be skipped), rather than the request (see `model`).
        let request = Request::new(
            prepared.principal.clone(),
            action.clone(),
            self.model.resource().clone(),
            prepared.context.clone(),
            None,
        )
        .expect("requests are not checked against a schema");
        Authorizer::new().is_authorized(&request, &self.policies, &prepared.entities)
    }

    fn verdict(&self, prepared: &Prepared, action: &EntityUid) -> Verdict {
        let response = self.respond(prepared, action);
        let permitted = response.decision() == Decision::Allow;
        // On a denial, `reason` holds the forbids that applied (empty: no permit applied).
        let policy = response
            .diagnostics()
            .reason()
            .next()
            .and_then(|id| self.index_of(id));
        Verdict { permitted, policy }
    }

    fn index_of(&self, id: &PolicyId) -> Option<u16> {
        let id: &str = id.as_ref();
        self.ids
            .iter()
            .position(|known| *known == id)
            .and_then(|i| u16::try_from(i).ok())
    }
}

/// The action of a call that is not a known route: the route template the event names, else the
/// method ARN's method and path (`get /pets/7`).
pub fn action_of_call(arn: MethodArn<'_>, route: Option<(&str, &str)>) -> String {
    match route {
        Some((method, template)) if method != "$default" => {
            format!("{} {template}", method.to_ascii_lowercase())
        }
        _ => format!("{} /{}", arn.method.to_ascii_lowercase(), arn.path),
    }
}

/// What every route's request of one token shares.
struct Prepared {
    principal: EntityUid,
    entities: Entities,
    context: cedar_policy::Context,
}

#[cfg(test)]
mod tests;
