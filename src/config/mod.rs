//! Configuration, read once from the environment at start-up and checked as a whole: every problem
//! is reported at once, each naming its variable (or the file, issuer and field) and how to fix it.
//!
//! In parts: [`sources`] (the variable lookup that collects problems), [`transport`] (how keys are
//! fetched), [`issuers`], [`issuer`] and [`spec`] (the trusted issuers, one as checked, and the
//! rules that check it; [`field`] names what a problem is about), [`file`]
//! (`CONFIG_FILE`), [`cedar`] (Cedar policies), [`introspection`] (an issuer's RFC 7662 settings), [`answer`] (the answer, the route rules and the cache key), and
//! [`variables`] (the table of every variable).

mod answer;
mod cedar;
mod field;
mod file;
mod introspection;
mod issuer;
mod issuers;
mod sources;
mod spec;
mod transport;
mod variables;

pub use crate::claims::TokenUse;
pub(crate) use answer::SIMPLE_NEEDS_ROUTE_KEY;
pub use answer::{HttpApiResponse, RejectMode};
pub use cedar::CedarPolicies;
pub use introspection::{ExtensionSecret, IntrospectMode, IntrospectionSettings, Secret};
pub use issuer::{IssuerConfig, JwksSource};
pub use transport::{Transport, is_loopback};
pub use variables::VARIABLES;

use crate::claims::{CNF, MAX_CAPTURED_CLAIMS, Rules, is_registered_claim};
use crate::identity::IdentitySource;
use crate::policy::{ResourceMode, RouteRule};
use answer::Answer;
use sources::{Vars, parse_bounded};
use spec::IssuerDefaults;
use std::fmt;
use std::time::Duration;

/// The authorizer's configuration. Built once, then shared read-only.
#[derive(Clone, Debug)]
pub struct Config {
    /// The trusted issuers: one from `TOKEN_ISSUER`, `JWKS_URI` and `AUDIENCE`, or those of
    /// `CONFIG_FILE`. Their `issuer`s and names are distinct.
    pub issuers: Vec<IssuerConfig>,
    /// `MAX_TOKEN_BYTES`: longer tokens are refused before any parsing.
    pub max_token_bytes: usize,
    /// How keys are fetched: `JWKS_TIMEOUT_MS`, `JWKS_MAX_BYTES`, `JWKS_ALLOW_HTTP`, `JWKS_CA_FILE`.
    pub transport: Transport,
    /// `POLICY_RESOURCE`: which resource an Allow covers.
    pub resource_mode: ResourceMode,
    /// `ROUTE_SCOPES` and the file's `[[route]]` tables: routes that need scopes or claims.
    pub route_rules: Vec<RouteRule>,
    /// `CONTEXT_CLAIMS`: claims copied into the authorizer context besides `scope`.
    pub context_claims: Vec<String>,
    /// `REJECT_MODE`.
    pub reject_mode: RejectMode,
    /// `HTTP_API_RESPONSE`.
    pub http_api_response: HttpApiResponse,
    /// `VERIFIED_TOKEN_CACHE_SIZE`: how many verified tokens to remember (0: off).
    pub verified_token_cache_size: usize,
    /// `IDENTITY_SOURCE`: the authorizer's identity sources in API Gateway.
    pub identity_source: IdentitySource,
    /// `SCOPE_CLAIMS`: the claims read as scopes, the first present one wins.
    pub scope_claims: Vec<String>,
    /// `USAGE_IDENTIFIER_CLAIM`: the claim answered as `usageIdentifierKey`.
    pub usage_identifier_claim: Option<String>,
    /// `DPOP_PROOF_MAX_AGE_SECONDS`: how old (by its `iat`) a DPoP proof may be, besides the
    /// issuer's leeway (RFC 9449 §4.3 check 11, §11.1).
    pub dpop_proof_max_age: Duration,
    /// `DPOP_REPLAY_CACHE_SIZE`: how many DPoP proof `jti`s this instance remembers.
    pub dpop_replay_cache_size: usize,
    /// `CEDAR_POLICIES` and its companions (or `CONFIG_FILE`'s `[cedar]`): the loaded policies
    /// (`()` in a build without the `cedar` feature).
    pub cedar: CedarPolicies,
}

/// One configuration problem: which variable, and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The environment variable.
    pub variable: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// All problems found in the configuration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Every problem, in the order of [`VARIABLES`].
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration")?;
        for p in &self.problems {
            write!(f, "\n  {}: {}", p.variable, p.message)?;
        }
        Ok(())
    }
}

impl Config {
    /// Reads and checks the configuration from the process environment.
    ///
    /// # Errors
    /// A [`ConfigError`] listing every missing or invalid variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads and checks the configuration from any variable lookup (the environment, or a test's map).
    /// Empty values count as unset. `CONFIG_FILE`, when set, is read from the file system.
    ///
    /// # Errors
    /// A [`ConfigError`] listing every missing or invalid variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut vars = Vars {
            lookup: &|name| lookup(name).filter(|v| !v.trim().is_empty()),
            problems: Vec::new(),
        };

        let transport = Transport::from_vars(&mut vars);
        let defaults = IssuerDefaults::from_vars(&mut vars);
        let read = issuers::read_issuers(&mut vars, &defaults, transport.allow_http);
        let max_token_bytes = vars.parse("MAX_TOKEN_BYTES", 16 * 1024, |v| {
            parse_bounded(v, 256, 1 << 20)
        });
        let answer = Answer::from_vars(&mut vars, read.routes);
        let issuers = read.issuers;
        // `()` in a build without the `cedar` feature.
        #[cfg_attr(not(feature = "cedar"), allow(clippy::let_unit_value))]
        let cedar = cedar::read(&mut vars, read.cedar_table, &issuers, &answer);
        let verified_token_cache_size = vars.parse("VERIFIED_TOKEN_CACHE_SIZE", 10_000, |v| {
            parse_bounded(v, 0, 1_000_000)
        });
        let dpop_proof_max_age = vars.parse("DPOP_PROOF_MAX_AGE_SECONDS", 60, |v| {
            parse_bounded(v, 1, 3600)
        });
        let dpop_replay_cache_size = vars.parse("DPOP_REPLAY_CACHE_SIZE", 10_000, |v| {
            parse_bounded(v, 16, 1_000_000)
        });

        let config = Config {
            issuers,
            max_token_bytes,
            transport,
            resource_mode: answer.resource_mode,
            route_rules: answer.route_rules,
            context_claims: answer.context_claims,
            reject_mode: answer.reject_mode,
            http_api_response: answer.http_api_response,
            verified_token_cache_size,
            identity_source: answer.identity_source,
            scope_claims: answer.scope_claims,
            usage_identifier_claim: answer.usage_identifier_claim,
            dpop_proof_max_age: Duration::from_secs(dpop_proof_max_age),
            dpop_replay_cache_size,
            cedar,
        };
        // `cnf` is always captured, beside at most `MAX_CAPTURED_CLAIMS` configured claims.
        if config.captured_claims().len() > MAX_CAPTURED_CLAIMS + 1 {
            vars.problem(
                "CONTEXT_CLAIMS",
                format!(
                    "context claims, route rule claims, required claims, scope claims and the \
                     usage identifier claim name more than {MAX_CAPTURED_CLAIMS} distinct claims"
                ),
            );
        }
        // An opaque token names no issuer: only one may be asked about it.
        let introspecting = config
            .issuers
            .iter()
            .filter(|i| i.introspection.mode != IntrospectMode::Off)
            .count();
        if introspecting > 1 {
            vars.problem(
                "CONFIG_FILE",
                "more than one issuer introspects: an opaque token names no issuer, so only one \
                 issuer may set an introspection mode"
                    .to_owned(),
            );
        }
        if vars.problems.is_empty() && !config.issuers.is_empty() {
            Ok(config)
        } else {
            let order = |p: &Problem| VARIABLES.iter().position(|(v, ..)| *v == p.variable);
            vars.problems.sort_by_key(order);
            Err(ConfigError {
                problems: vars.problems,
            })
        }
    }

    /// What to warn of at start-up about API Gateway's cache and sender-constrained tokens:
    /// see `answer::sender_constraint_cache_warning`.
    pub fn sender_constraint_cache_warning(&self) -> Option<String> {
        let required = self.issuers.iter().any(|i| i.require_sender_constraint);
        answer::sender_constraint_cache_warning(required, &self.identity_source)
    }

    /// The payload parser's rules for this configuration.
    pub(crate) fn claim_rules(&self) -> Rules {
        Rules::new(
            self.issuers.iter().map(|i| i.audiences.as_slice()),
            self.captured_claims(),
            &self.scope_claims,
            self.usage_identifier_claim.as_deref(),
        )
    }

    /// The ids of the Cedar policies a denial can name (metric dimensions); none without Cedar.
    pub fn cedar_policy_ids(&self) -> Vec<&'static str> {
        #[cfg(feature = "cedar")]
        if let Some(engine) = &self.cedar {
            return engine.denial_ids().collect();
        }
        Vec::new()
    }

    /// The issuers' names, in configuration order (metric dimensions).
    pub fn issuer_names(&self) -> Vec<&str> {
        self.issuers.iter().map(|i| i.name.as_str()).collect()
    }

    /// The claims the authorizer keeps from a token's payload besides the registered ones it
    /// always reads: the context claims first (in their order), then those that route rules,
    /// required claims, scope claims and the usage identifier claim name.
    pub fn captured_claims(&self) -> Vec<String> {
        let mut claims = self.context_claims.clone();
        // A required claim that is registered is checked on its field. Any other claim is read
        // raw even when registered: route rules look a claim up among the raw ones by name (a
        // rule on `client_id` denied every token while it was not kept), and a scope or usage
        // claim may be of any type.
        let required = self
            .issuers
            .iter()
            .flat_map(|i| &i.required_claims)
            .filter(|name| !is_registered_claim(name));
        let named = self
            .route_rules
            .iter()
            .flat_map(|r| r.claims.iter().map(|(name, _)| name))
            .chain(required)
            .chain(&self.scope_claims)
            .chain(&self.usage_identifier_claim);
        for name in named {
            if !claims.contains(name) {
                claims.push(name.clone());
            }
        }
        if !claims.iter().any(|c| c == CNF) {
            claims.push(CNF.to_owned());
        }
        claims
    }
}

#[cfg(test)]
mod tests;
