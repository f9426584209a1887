//! Cedar policies (`CEDAR_POLICIES` and its companions, or `CONFIG_FILE`'s `[cedar]` table),
//! loaded and validated with the rest of the configuration, so that their problems are reported
//! with every other one.

use super::answer::Answer;
#[cfg(feature = "cedar")]
use super::answer::{HttpApiResponse, SIMPLE_NEEDS_ROUTE_KEY};
use super::issuer::IssuerConfig;
use super::sources::Vars;

/// The loaded policies, when the configuration names any.
#[cfg(feature = "cedar")]
pub type CedarPolicies = Option<std::sync::Arc<crate::cedar::Engine>>;

/// Without the `cedar` feature there is nothing to load.
#[cfg(not(feature = "cedar"))]
pub type CedarPolicies = ();

/// Loads the policies named by the variables or by `table` (the file's path as shown, and its
/// `[cedar]` table).
#[cfg(feature = "cedar")]
pub(super) fn read(
    vars: &mut Vars<'_>,
    table: Option<(String, serde_json::Value)>,
    issuers: &[IssuerConfig],
    answer: &Answer,
) -> CedarPolicies {
    let cedar_issuers: Vec<_> = issuers
        .iter()
        .map(|issuer| crate::cedar::CedarIssuer {
            name: &issuer.name,
            issuer: &issuer.issuer,
            cognito: issuer.cognito.is_some(),
            groups_claim: issuer.groups_claim.as_deref(),
        })
        .collect();
    let lookup = |name: &str| vars.get(name);
    let from_file = table.is_some();
    let engine = crate::cedar::from_settings(&lookup, table, &cedar_issuers, &answer.scope_claims);
    let engine = match engine {
        Ok(engine) => engine.map(std::sync::Arc::new),
        Err(problems) => {
            for (variable, message) in problems {
                vars.problem(variable, message);
            }
            None
        }
    };
    // A decision that reads the request is right for that request alone, while API Gateway
    // applies the answer it caches per token to every call (see `cedar::context`).
    if let Some(engine) = &engine
        && answer.resource_mode != crate::policy::ResourceMode::Method
    {
        let variable = if from_file {
            "CONFIG_FILE"
        } else {
            "CEDAR_POLICIES"
        };
        for (id, attribute) in engine.request_reads() {
            let read = if attribute.is_empty() {
                "the whole context".to_owned()
            } else {
                format!("context.{attribute}")
            };
            vars.problem(
                variable,
                format!(
                    "policy {id:?} reads {read}, which differs per request, while API Gateway \
                     caches one answer per token for every route: set POLICY_RESOURCE=method (and \
                     the authorizer's result TTL to 0) to have such policies evaluated at every \
                     request"
                ),
            );
        }
    }
    // Cedar decisions differ per route, as route rules' do (the same check as theirs).
    if engine.is_some()
        && answer.route_rules.is_empty()
        && vars.get("HTTP_API_RESPONSE").is_some()
        && answer.http_api_response == HttpApiResponse::Simple
        && answer.identity_source.route_key_index().is_none()
    {
        vars.problem("HTTP_API_RESPONSE", SIMPLE_NEEDS_ROUTE_KEY.to_owned());
    }
    engine
}

/// Refuses Cedar settings in a build without Cedar.
#[cfg(not(feature = "cedar"))]
pub(super) fn read(
    vars: &mut Vars<'_>,
    table: Option<(String, serde_json::Value)>,
    _: &[IssuerConfig],
    _: &Answer,
) -> CedarPolicies {
    if vars.get("CEDAR_POLICIES").is_some() || table.is_some() {
        vars.problem(
            "CEDAR_POLICIES",
            "this build has no Cedar support: build with `--features cedar`".to_owned(),
        );
    }
}
