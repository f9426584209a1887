//! One trusted issuer, as checked: whose tokens are accepted, with which keys and rules.

use super::introspection::IntrospectionSettings;
use crate::algorithm::Algorithm;
use crate::claims::{IssuerClaims, TokenUse};
use reqwest::Url;
use std::path::PathBuf;
use std::time::Duration;

/// Where the issuer's signing keys come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwksSource {
    /// `JWKS_URI`, used as given.
    Uri(Url),
    /// No `JWKS_URI`: read `jwks_uri` from `{TOKEN_ISSUER}/.well-known/openid-configuration`.
    Discovery(Url),
}

/// One trusted issuer: whose tokens are accepted, with which keys and rules.
#[derive(Clone, Debug)]
pub struct IssuerConfig {
    /// The issuer's name in metrics and logs (`ISSUER_NAME`, or the file's `name`; default: the
    /// issuer URL's host). Never the raw `iss` of a token.
    pub name: String,
    /// `TOKEN_ISSUER`: the exact `iss` tokens must carry.
    pub issuer: String,
    /// `JWKS_URI`, or discovery from the issuer.
    pub jwks: JwksSource,
    /// `AUDIENCE`: a token must name at least one of these in `aud`. For a Cognito user pool: the
    /// app client ids, matched against `client_id` (access tokens) or `aud` (ID tokens).
    pub audiences: Vec<String>,
    /// `ALLOWED_ALGORITHMS`.
    pub algorithms: Vec<Algorithm>,
    /// `CLOCK_SKEW_LEEWAY_SECONDS`, applied to `exp`, `nbf` and `iat`.
    pub leeway_seconds: u64,
    /// `REQUIRED_CLAIMS`: claims a token must carry besides `exp` and `sub`.
    pub required_claims: Vec<String>,
    /// `JWKS_REFRESH_INTERVAL_SECONDS`: the longest a key set is used before it is fetched again.
    pub refresh_interval: Duration,
    /// `JWKS_MIN_REFRESH_INTERVAL_SECONDS`: the shortest refresh interval a `Cache-Control: max-age`
    /// can ask for, and the wait before retrying a failed refresh.
    pub min_refresh_interval: Duration,
    /// `JWKS_KID_MISS_COOLDOWN_SECONDS`: after a fetch that did not find a token's `kid`, further
    /// unknown kids wait this long before they may cause another fetch.
    pub kid_miss_cooldown: Duration,
    /// `TOKEN_USE`: set for an Amazon Cognito user pool, whose tokens carry `token_use`.
    pub cognito: Option<TokenUse>,
    /// `JWKS_FILE` (the file's `jwks_file`): a JWKS bundled with the deployment, used from init
    /// so that a cold start waits for no fetch, then refreshed by the usual rules.
    pub jwks_file: Option<PathBuf>,
    /// `REQUIRE_SENDER_CONSTRAINT` (the file's `require_sender_constraint`): tokens without a
    /// `cnf` claim (neither DPoP- nor certificate-bound) are refused.
    pub require_sender_constraint: bool,
    /// `INTROSPECT` and the `INTROSPECTION_*` variables (the file's `[issuer.introspection]`):
    /// whether and how tokens are introspected (RFC 7662).
    pub introspection: IntrospectionSettings,
    /// The file's `groups_claim`: the claim whose strings are the principal's Cedar groups
    /// (default `CEDAR_GROUPS_CLAIM`, else `cognito:groups` for a user pool, `groups` otherwise).
    pub groups_claim: Option<String>,
}

impl IssuerConfig {
    /// What this issuer asks of its tokens' claims.
    pub(crate) fn claim_rules(&self) -> IssuerClaims<'_> {
        IssuerClaims {
            leeway_seconds: self.leeway_seconds,
            cognito: self.cognito,
            audiences: &self.audiences,
            required_claims: &self.required_claims,
            require_sender_constraint: self.require_sender_constraint,
        }
    }
}
