//! What the answer holds and how API Gateway may cache it: the policy's resource, the route
//! rules, the claims passed to the backend, the answer formats, and the identity source that
//! keys the cache.

use super::sources::{Vars, split_list};
use crate::claims::MAX_CAPTURED_CLAIMS;
use crate::identity::IdentitySource;
use crate::policy::{ResourceMode, RouteRule};

/// What a refused token gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectMode {
    /// The Lambda error `Unauthorized`: API Gateway answers 401. Counts as a failed invocation.
    Unauthorized,
    /// A Deny policy: API Gateway answers 403, and the invocation succeeds (no error alarms).
    Deny,
}

/// The answer format for HTTP API (payload 2.0) events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpApiResponse {
    /// `{"isAuthorized": bool, "context": {..}}` (the authorizer has "simple responses" enabled).
    Simple,
    /// The same IAM policy as REST APIs.
    Policy,
}

/// Why simple responses and route rules need the route key in the identity source.
pub(crate) const SIMPLE_NEEDS_ROUTE_KEY: &str = "simple responses are cached per identity source, \
     and route rules make the answer differ per route: set HTTP_API_RESPONSE=policy (and turn \
     simple responses off on the authorizer), or add $context.routeKey to the authorizer's \
     identity source and to IDENTITY_SOURCE";

/// What to say at start-up when an issuer requires sender-constrained tokens but API Gateway's
/// cache key (the identity source) lacks the DPoP proof. API Gateway answers a cache hit without
/// calling the authorizer: keyed by the `Authorization` header alone, a cached Allow lets a
/// DPoP-bound token through with any proof or none, and a certificate-bound one over any client
/// certificate the API trusts, until the TTL ends. The authorizer cannot see the TTL; with a TTL
/// of 0 (or certificate-bound tokens only) this is expected, hence a warning, not a refusal.
pub(crate) fn sender_constraint_cache_warning(
    require_sender_constraint: bool,
    identity: &IdentitySource,
) -> Option<String> {
    (require_sender_constraint && !identity.holds_dpop_proof()).then(|| {
        format!(
            "REQUIRE_SENDER_CONSTRAINT is set, and API Gateway caches the authorizer's answers \
             under the identity source ({identity}), which does not hold the DPoP proof: unless \
             the authorizer's result TTL is 0, a cached Allow lets a bound token through without \
             its proof (DPoP) or over another client's certificate (mutual TLS) until the TTL \
             ends. Set the TTL to 0 on routes with bound tokens; on DPoP-only routes also add \
             the DPoP header ($request.header.DPoP, REST: method.request.header.DPoP) to the \
             authorizer's identity source and to IDENTITY_SOURCE"
        )
    })
}

/// The answer's settings, as read (see the fields of `Config` of the same names).
pub(super) struct Answer {
    pub(super) resource_mode: ResourceMode,
    pub(super) route_rules: Vec<RouteRule>,
    pub(super) context_claims: Vec<String>,
    pub(super) reject_mode: RejectMode,
    pub(super) http_api_response: HttpApiResponse,
    pub(super) identity_source: IdentitySource,
    pub(super) scope_claims: Vec<String>,
    pub(super) usage_identifier_claim: Option<String>,
}

impl Answer {
    /// Reads the answer's variables; `file_routes` are the route rules of `CONFIG_FILE`, which
    /// come after those of `ROUTE_SCOPES`.
    pub(super) fn from_vars(vars: &mut Vars<'_>, file_routes: Vec<RouteRule>) -> Self {
        let resource_mode = vars.parse("POLICY_RESOURCE", ResourceMode::Stage, |v| match v {
            "stage" => Ok(ResourceMode::Stage),
            "method" => Ok(ResourceMode::Method),
            _ => Err("use `stage` or `method`".to_owned()),
        });
        let mut route_rules = route_scopes(vars);
        route_rules.extend(file_routes);
        let context_claims = vars.parse("CONTEXT_CLAIMS", Vec::new(), |v| {
            let claims = split_list(v, ',');
            if claims.len() > MAX_CAPTURED_CLAIMS {
                Err(format!("name at most {MAX_CAPTURED_CLAIMS} claims"))
            } else if claims.iter().any(|c| c == "scope") {
                Err("`scope` is always passed; leave it out".to_owned())
            } else if let Some(twice) = claims
                .iter()
                .enumerate()
                .find_map(|(i, claim)| claims[..i].contains(claim).then_some(claim))
            {
                Err(format!("`{twice}` is named twice"))
            } else {
                Ok(claims)
            }
        });
        let reject_mode = vars.parse("REJECT_MODE", RejectMode::Unauthorized, |v| match v {
            "unauthorized" => Ok(RejectMode::Unauthorized),
            "deny" => Ok(RejectMode::Deny),
            _ => Err("use `unauthorized` or `deny`".to_owned()),
        });
        let http_api_response =
            vars.parse("HTTP_API_RESPONSE", HttpApiResponse::Simple, |v| match v {
                "simple" => Ok(HttpApiResponse::Simple),
                "policy" => Ok(HttpApiResponse::Policy),
                _ => Err("use `simple` or `policy`".to_owned()),
            });
        let identity_source = vars.parse(
            "IDENTITY_SOURCE",
            IdentitySource::default(),
            IdentitySource::parse,
        );
        // A simple response is a yes or no for the called route: under route rules, API Gateway
        // may only cache it per route. Refused here when chosen explicitly; the default is
        // refused per HTTP API event instead (`unsafe_cache_key`), so that REST-only deployments
        // with route rules need not set it.
        if vars.get("HTTP_API_RESPONSE").is_some()
            && http_api_response == HttpApiResponse::Simple
            && !route_rules.is_empty()
            && identity_source.route_key_index().is_none()
        {
            vars.problem("HTTP_API_RESPONSE", SIMPLE_NEEDS_ROUTE_KEY.to_owned());
        }
        let scope_claims = vars.parse("SCOPE_CLAIMS", vec!["scope".into(), "scp".into()], |v| {
            let claims = split_list(v, ',');
            if claims.is_empty() {
                Err("name at least one claim, as in `scope,scp`".to_owned())
            } else {
                Ok(claims)
            }
        });
        let usage_identifier_claim = vars
            .get("USAGE_IDENTIFIER_CLAIM")
            .map(|c| c.trim().to_owned());
        Answer {
            resource_mode,
            route_rules,
            context_claims,
            reject_mode,
            http_api_response,
            identity_source,
            scope_claims,
            usage_identifier_claim,
        }
    }
}

/// The rules of `ROUTE_SCOPES`. Each bad rule is reported once, in the rule's own words (it
/// quotes itself): not after the whole value, which for a single rule is the same text again.
fn route_scopes(vars: &mut Vars<'_>) -> Vec<RouteRule> {
    let mut rules = Vec::new();
    let value = vars.get("ROUTE_SCOPES").unwrap_or_default();
    for rule in value.split(';').map(str::trim).filter(|r| !r.is_empty()) {
        match RouteRule::parse(rule) {
            Ok(rule) => rules.push(rule),
            Err(message) => vars.problem("ROUTE_SCOPES", message),
        }
    }
    rules
}
