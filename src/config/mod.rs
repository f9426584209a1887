//! Configuration, read once from the environment at start-up and checked as a whole: every problem
//! is reported at once, each naming its variable and how to fix it.

mod file;

use crate::algorithm::Algorithm;
use crate::claims::{MAX_CAPTURED_CLAIMS, is_registered_claim};
use crate::identity::IdentitySource;
use crate::policy::{ResourceMode, RouteRule};
use reqwest::Url;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the issuer's signing keys come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwksSource {
    /// `JWKS_URI`, used as given.
    Uri(Url),
    /// No `JWKS_URI`: read `jwks_uri` from `{TOKEN_ISSUER}/.well-known/openid-configuration`.
    Discovery(Url),
}

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

/// What a Cognito user pool's tokens must be (`token_use`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenUse {
    /// Access tokens: `token_use` is `access`, `client_id` one of the client ids.
    Access,
    /// ID tokens: `token_use` is `id`, `aud` one of the client ids.
    Id,
    /// Either, each checked as above.
    Any,
}

impl TokenUse {
    fn parse(value: &str) -> Result<Self, String> {
        match value {
            "access" => Ok(TokenUse::Access),
            "id" => Ok(TokenUse::Id),
            "any" => Ok(TokenUse::Any),
            _ => Err(format!("{value:?}: use `access`, `id` or `any`")),
        }
    }
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
    /// The file's `groups_claim`: the claim whose strings are the principal's Cedar groups
    /// (default `CEDAR_GROUPS_CLAIM`, else `cognito:groups` for a user pool, `groups` otherwise).
    pub groups_claim: Option<String>,
}

/// The authorizer's configuration. Built once, then shared read-only.
#[derive(Clone, Debug)]
pub struct Config {
    /// The trusted issuers: one from `TOKEN_ISSUER`, `JWKS_URI` and `AUDIENCE`, or those of
    /// `CONFIG_FILE`. Their `issuer`s and names are distinct.
    pub issuers: Vec<IssuerConfig>,
    /// `MAX_TOKEN_BYTES`: longer tokens are refused before any parsing.
    pub max_token_bytes: usize,
    /// `JWKS_TIMEOUT_MS`: the whole JWKS (or discovery) request, connect to last byte.
    pub jwks_timeout: Duration,
    /// `JWKS_MAX_BYTES`: larger JWKS bodies are refused.
    pub jwks_max_bytes: usize,
    /// `JWKS_ALLOW_HTTP`: allow `http://` JWKS URIs on non-loopback hosts (never do this in production).
    pub allow_http: bool,
    /// `JWKS_CA_FILE`: extra PEM root certificates to trust for the JWKS endpoint.
    pub jwks_ca_file: Option<PathBuf>,
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
    /// `CEDAR_POLICIES` and its companions (or `CONFIG_FILE`'s `[cedar]`): the loaded policies.
    #[cfg(feature = "cedar")]
    pub cedar: Option<std::sync::Arc<crate::cedar::Engine>>,
}

/// Every variable the authorizer reads, with its default and meaning; printed by `--help`.
pub const VARIABLES: &[(&str, &str, &str)] = &[
    (
        "CONFIG_FILE",
        "(none)",
        "TOML or JSON file of several issuers and route rules (see README); replaces TOKEN_ISSUER, JWKS_URI, AUDIENCE",
    ),
    (
        "TOKEN_ISSUER",
        "(required)",
        "Exact `iss` of accepted tokens, e.g. https://tenant.auth0.com/ (keep the trailing slash)",
    ),
    (
        "JWKS_URI",
        "(discovered)",
        "The issuer's JWKS; when unset, read from TOKEN_ISSUER's .well-known/openid-configuration",
    ),
    (
        "AUDIENCE",
        "(required)",
        "Accepted `aud` value(s), comma-separated (the Auth0 API identifier); with TOKEN_USE: the Cognito app client ids",
    ),
    (
        "ISSUER_NAME",
        "(issuer host)",
        "The issuer's name in metrics and logs",
    ),
    (
        "TOKEN_USE",
        "(none)",
        "Amazon Cognito user pool tokens: access, id or any (checks token_use, and client_id or aud against AUDIENCE)",
    ),
    (
        "REQUIRED_CLAIMS",
        "(none)",
        "Claims every token must carry besides exp and sub, comma-separated (null counts as missing)",
    ),
    (
        "ALLOWED_ALGORITHMS",
        "RS256",
        "Comma-separated: RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA",
    ),
    (
        "CLOCK_SKEW_LEEWAY_SECONDS",
        "5",
        "Leeway for exp, nbf and iat",
    ),
    (
        "REQUIRE_SENDER_CONSTRAINT",
        "false",
        "Refuse tokens without a `cnf` claim (DPoP or certificate binding); bound tokens are always checked (see README \"Sender-constrained tokens\")",
    ),
    (
        "DPOP_PROOF_MAX_AGE_SECONDS",
        "60",
        "How old a DPoP proof may be (by its iat), plus the leeway; a proof from the future beyond the leeway is refused too",
    ),
    (
        "DPOP_REPLAY_CACHE_SIZE",
        "10000",
        "How many DPoP proof jti values one instance remembers to refuse replays (per instance, not shared)",
    ),
    (
        "MAX_TOKEN_BYTES",
        "16384",
        "Longer tokens are refused before parsing",
    ),
    (
        "JWKS_REFRESH_INTERVAL_SECONDS",
        "600",
        "Longest time a key set is used before it is fetched again",
    ),
    (
        "JWKS_MIN_REFRESH_INTERVAL_SECONDS",
        "60",
        "Floor for Cache-Control max-age, and retry delay after a failed refresh",
    ),
    (
        "JWKS_KID_MISS_COOLDOWN_SECONDS",
        "10",
        "After a fetch that did not find a kid, unknown kids cause no fetch for this long (at least 1 s: 0 counts as 1)",
    ),
    (
        "VERIFIED_TOKEN_CACHE_SIZE",
        "10000",
        "How many verified tokens to remember, so a token seen again skips the signature check (0: off)",
    ),
    (
        "JWKS_TIMEOUT_MS",
        "3000",
        "Whole JWKS / discovery request time limit",
    ),
    ("JWKS_MAX_BYTES", "1048576", "Largest JWKS body accepted"),
    (
        "JWKS_ALLOW_HTTP",
        "false",
        "Allow http:// JWKS on non-loopback hosts (loopback is always allowed)",
    ),
    (
        "JWKS_CA_FILE",
        "(none)",
        "PEM file of extra root certificates trusted for the JWKS endpoint",
    ),
    (
        "POLICY_RESOURCE",
        "stage",
        "stage: Allow arn:..:{api}/{stage}/*/* (right for API Gateway's policy cache); method: only the called methodArn",
    ),
    (
        "ROUTE_SCOPES",
        "(none)",
        "Routes that need scopes, `;`-separated: `GET /pets=read:pets; POST /pets=write:pets`",
    ),
    (
        "CONTEXT_CLAIMS",
        "(none)",
        "Claims passed to the backend in the authorizer context, comma-separated (scope is always passed)",
    ),
    (
        "REJECT_MODE",
        "unauthorized",
        "unauthorized: Lambda error `Unauthorized` (401); deny: a Deny policy (403, no Lambda error)",
    ),
    (
        "HTTP_API_RESPONSE",
        "simple",
        "HTTP API (payload 2.0) answers: simple ({isAuthorized, context}) or policy. With route rules, simple needs $context.routeKey in IDENTITY_SOURCE",
    ),
    (
        "IDENTITY_SOURCE",
        "$request.header.Authorization",
        "The authorizer's identity sources as set in API Gateway, comma-separated; the first header or query parameter holds the token",
    ),
    (
        "SCOPE_CLAIMS",
        "scope,scp",
        "Claims read as scopes, comma-separated, the first present wins (Auth0 RBAC: permissions); a space-separated string or an array",
    ),
    (
        "USAGE_IDENTIFIER_CLAIM",
        "(none)",
        "Claim answered as usageIdentifierKey, for REST usage plans (API key source AUTHORIZER); tokens without it are refused",
    ),
    // Cold start and cost (issue 16).
    (
        "JWKS_FILE",
        "(none)",
        "A JWKS file (bundled, or in a layer) used from init, so no cold start waits for the issuer; refreshed from JWKS_URI as usual",
    ),
    // Cedar policies (issue 18, feature `cedar`).
    (
        "CEDAR_POLICIES",
        "(none)",
        "A .cedar file, or a folder of them: Cedar policies evaluated for every known route at a cache miss and compiled into the one cached policy",
    ),
    (
        "CEDAR_SCHEMA",
        "(none)",
        "A Cedar schema (human format, or JSON by .json) the policies are validated against at start-up",
    ),
    (
        "CEDAR_NAMESPACE",
        "(the schema's)",
        "Namespace of the User, UserGroup, Application and Action types, as in Verified Permissions (PetStore)",
    ),
    (
        "CEDAR_ROUTES",
        "(none)",
        "The API's routes, `;`-separated: `GET /pets; GET /pets/{petId}` (besides API_DEFINITION's; default: the schema's actions)",
    ),
    (
        "API_DEFINITION",
        "(none)",
        "An OpenAPI 3 document (YAML, or JSON by .json) whose operations are the API's routes",
    ),
    (
        "CEDAR_GROUPS_CLAIM",
        "groups",
        "The claim whose strings are the principal's groups (Cognito user pools: cognito:groups)",
    ),
];

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

        let allow_http = vars.parse("JWKS_ALLOW_HTTP", false, parse_bool);
        let defaults = IssuerDefaults::from_vars(&mut vars);
        let mut file_cedar = None;
        let (issuers, file_routes) = match vars.get("CONFIG_FILE") {
            Some(path) => {
                for variable in ENV_ISSUER_VARIABLES {
                    if vars.get(variable).is_some() {
                        vars.problem(
                            variable,
                            "CONFIG_FILE lists the issuers: unset this variable or CONFIG_FILE"
                                .to_owned(),
                        );
                    }
                }
                match file::read(Path::new(&path), &defaults, allow_http) {
                    Ok(file) => {
                        file_cedar = file.cedar.map(|table| (path.clone(), table));
                        (file.issuers, file.routes)
                    }
                    Err(messages) => {
                        for message in messages {
                            vars.problem("CONFIG_FILE", message);
                        }
                        (Vec::new(), Vec::new())
                    }
                }
            }
            None => {
                let issuer = env_issuer(&mut vars, &defaults, allow_http);
                (issuer.into_iter().collect(), Vec::new())
            }
        };
        let max_token_bytes = vars.parse("MAX_TOKEN_BYTES", 16 * 1024, |v| {
            parse_bounded(v, 256, 1 << 20)
        });
        let timeout_ms = vars.parse("JWKS_TIMEOUT_MS", 3000, |v| parse_bounded(v, 50, 60_000));
        let jwks_max_bytes = vars.parse("JWKS_MAX_BYTES", 1 << 20, |v| {
            parse_bounded(v, 1024, 64 << 20)
        });
        let jwks_ca_file = vars.get("JWKS_CA_FILE").map(PathBuf::from);
        if let Some(path) = &jwks_ca_file
            && !path.is_file()
        {
            vars.problem(
                "JWKS_CA_FILE",
                format!("{} is not a readable file", path.display()),
            );
        }
        let resource_mode = vars.parse("POLICY_RESOURCE", ResourceMode::Stage, |v| match v {
            "stage" => Ok(ResourceMode::Stage),
            "method" => Ok(ResourceMode::Method),
            _ => Err("use `stage` or `method`".to_owned()),
        });
        // Each bad rule is reported once, in the rule's own words (it quotes itself): not after
        // the whole value, which for a single rule is the same text again.
        let mut route_rules = Vec::new();
        let rules = vars.get("ROUTE_SCOPES").unwrap_or_default();
        for rule in rules.split(';').map(str::trim).filter(|r| !r.is_empty()) {
            match RouteRule::parse(rule) {
                Ok(rule) => route_rules.push(rule),
                Err(message) => vars.problem("ROUTE_SCOPES", message),
            }
        }
        route_rules.extend(file_routes);
        let context_claims = vars.parse("CONTEXT_CLAIMS", Vec::new(), |v| {
            let claims = split_list(v, ',');
            if claims.len() > MAX_CAPTURED_CLAIMS {
                Err(format!("name at most {MAX_CAPTURED_CLAIMS} claims"))
            } else if claims.iter().any(|c| c == "scope") {
                Err("`scope` is always passed; leave it out".to_owned())
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
        let verified_token_cache_size = vars.parse("VERIFIED_TOKEN_CACHE_SIZE", 10_000, |v| {
            parse_bounded(v, 0, 1_000_000)
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
        let dpop_proof_max_age = vars.parse("DPOP_PROOF_MAX_AGE_SECONDS", 60, |v| {
            parse_bounded(v, 1, 3600)
        });
        let dpop_replay_cache_size = vars.parse("DPOP_REPLAY_CACHE_SIZE", 10_000, |v| {
            parse_bounded(v, 16, 1_000_000)
        });

        #[cfg(feature = "cedar")]
        let cedar = {
            let lookup = |name: &str| vars.get(name);
            match crate::cedar::from_settings(&lookup, file_cedar, &issuers, &scope_claims) {
                Ok(engine) => engine.map(std::sync::Arc::new),
                Err(problems) => {
                    for (variable, message) in problems {
                        vars.problem(variable, message);
                    }
                    None
                }
            }
        };
        // Cedar decisions differ per route, as route rules' do (see the check above).
        #[cfg(feature = "cedar")]
        if cedar.is_some()
            && route_rules.is_empty()
            && vars.get("HTTP_API_RESPONSE").is_some()
            && http_api_response == HttpApiResponse::Simple
            && identity_source.route_key_index().is_none()
        {
            vars.problem("HTTP_API_RESPONSE", SIMPLE_NEEDS_ROUTE_KEY.to_owned());
        }
        #[cfg(not(feature = "cedar"))]
        if vars.get("CEDAR_POLICIES").is_some() || file_cedar.is_some() {
            vars.problem(
                "CEDAR_POLICIES",
                "this build has no Cedar support: build with `--features cedar`".to_owned(),
            );
        }
        let config = Config {
            issuers,
            max_token_bytes,
            jwks_timeout: Duration::from_millis(timeout_ms),
            jwks_max_bytes,
            allow_http,
            jwks_ca_file,
            resource_mode,
            route_rules,
            context_claims,
            reject_mode,
            http_api_response,
            verified_token_cache_size,
            identity_source,
            scope_claims,
            usage_identifier_claim,
            dpop_proof_max_age: Duration::from_secs(dpop_proof_max_age),
            dpop_replay_cache_size,
            #[cfg(feature = "cedar")]
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

    /// The claims the authorizer keeps from a token's payload besides the registered ones it
    /// always reads: the context claims first (in their order), then those that route rules,
    /// required claims, scope claims and the usage identifier claim name.
    pub fn captured_claims(&self) -> Vec<String> {
        let mut claims = self.context_claims.clone();
        let named = self
            .route_rules
            .iter()
            .flat_map(|r| r.claims.iter().map(|(name, _)| name))
            .chain(self.issuers.iter().flat_map(|i| &i.required_claims))
            .filter(|name| !is_registered_claim(name))
            // Read raw even when registered (`client_id`): a scope or usage claim may be of any type.
            .chain(&self.scope_claims)
            .chain(&self.usage_identifier_claim);
        for name in named {
            if !claims.contains(name) {
                claims.push(name.clone());
            }
        }
        if !claims.iter().any(|c| c == crate::claims::CNF) {
            claims.push(crate::claims::CNF.to_owned());
        }
        claims
    }
}

/// Why simple responses and route rules need the route key in the identity source.
pub(crate) const SIMPLE_NEEDS_ROUTE_KEY: &str = "simple responses are cached per identity source, \
     and route rules make the answer differ per route: set HTTP_API_RESPONSE=policy (and turn \
     simple responses off on the authorizer), or add $context.routeKey to the authorizer's \
     identity source and to IDENTITY_SOURCE";

/// The issuer variables of the three-variable set-up; `CONFIG_FILE` replaces them.
const ENV_ISSUER_VARIABLES: [&str; 7] = [
    "TOKEN_ISSUER",
    "JWKS_URI",
    "AUDIENCE",
    "ISSUER_NAME",
    "TOKEN_USE",
    "REQUIRED_CLAIMS",
    "JWKS_FILE",
];

/// Per-issuer settings read from the environment: the single issuer's, and the defaults of every
/// `CONFIG_FILE` issuer that does not set its own.
#[derive(Clone, Debug)]
pub(crate) struct IssuerDefaults {
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) leeway_seconds: u64,
    pub(crate) refresh_seconds: u64,
    pub(crate) min_refresh_seconds: u64,
    pub(crate) kid_miss_cooldown_seconds: u64,
    pub(crate) require_sender_constraint: bool,
}

impl IssuerDefaults {
    fn from_vars(vars: &mut Vars<'_>) -> Self {
        let algorithms = vars.parse("ALLOWED_ALGORITHMS", vec![Algorithm::RS256], |v| {
            parse_algorithms(&split_list(v, ','))
        });
        let leeway_seconds = vars.parse("CLOCK_SKEW_LEEWAY_SECONDS", 5, |v| {
            parse_bounded(v, 0, LEEWAY_MAX)
        });
        let refresh_seconds = vars.parse("JWKS_REFRESH_INTERVAL_SECONDS", 600, |v| {
            parse_bounded(v, 1, INTERVAL_MAX)
        });
        let min_refresh_seconds = vars.parse("JWKS_MIN_REFRESH_INTERVAL_SECONDS", 60, |v| {
            parse_bounded(v, 1, INTERVAL_MAX)
        });
        if min_refresh_seconds > refresh_seconds {
            vars.problem(
                "JWKS_MIN_REFRESH_INTERVAL_SECONDS",
                format!(
                    "{min_refresh_seconds} is more than JWKS_REFRESH_INTERVAL_SECONDS ({refresh_seconds})"
                ),
            );
        }
        let kid_miss_cooldown_seconds = vars.parse("JWKS_KID_MISS_COOLDOWN_SECONDS", 10, |v| {
            parse_bounded(v, 0, COOLDOWN_MAX)
        });
        let require_sender_constraint = vars.parse("REQUIRE_SENDER_CONSTRAINT", false, parse_bool);
        IssuerDefaults {
            require_sender_constraint,
            algorithms,
            leeway_seconds,
            refresh_seconds,
            min_refresh_seconds,
            kid_miss_cooldown_seconds,
        }
    }
}

const LEEWAY_MAX: u64 = 300;
const INTERVAL_MAX: u64 = 86_400;
const COOLDOWN_MAX: u64 = 3600;

/// The single issuer of `TOKEN_ISSUER`, `JWKS_URI` and `AUDIENCE` (and its optional variables).
fn env_issuer(
    vars: &mut Vars<'_>,
    defaults: &IssuerDefaults,
    allow_http: bool,
) -> Option<IssuerConfig> {
    let token_use = vars.get("TOKEN_USE");
    let audience = vars.get("AUDIENCE").map(|v| split_list(&v, ','));
    let (audiences, client_ids) = match token_use {
        Some(_) => (None, audience),
        None => (audience, None),
    };
    let spec = IssuerSpec {
        name: vars.get("ISSUER_NAME"),
        issuer: vars.get("TOKEN_ISSUER"),
        jwks_uri: vars.get("JWKS_URI"),
        audiences,
        client_ids,
        token_use,
        required_claims: vars.get("REQUIRED_CLAIMS").map(|v| split_list(&v, ',')),
        jwks_file: vars.get("JWKS_FILE"),
        ..IssuerSpec::default()
    };
    spec.check(defaults, allow_http, &mut |field, message| {
        let variable = match field {
            "name" => "ISSUER_NAME",
            "issuer" | "user_pool_id" => "TOKEN_ISSUER",
            "jwks_uri" => "JWKS_URI",
            "token_use" => "TOKEN_USE",
            "required_claims" => "REQUIRED_CLAIMS",
            "algorithms" => "ALLOWED_ALGORITHMS",
            "leeway_seconds" => "CLOCK_SKEW_LEEWAY_SECONDS",
            "refresh_interval_seconds" => "JWKS_REFRESH_INTERVAL_SECONDS",
            "min_refresh_interval_seconds" => "JWKS_MIN_REFRESH_INTERVAL_SECONDS",
            "kid_miss_cooldown_seconds" => "JWKS_KID_MISS_COOLDOWN_SECONDS",
            "jwks_file" => "JWKS_FILE",
            _ => "AUDIENCE",
        };
        let message = match (variable, message.as_str()) {
            ("TOKEN_ISSUER" | "AUDIENCE", "is required") => {
                let hint = VARIABLES
                    .iter()
                    .find(|(v, ..)| *v == variable)
                    .map_or("", |(.., h)| h);
                format!("is not set ({hint})")
            }
            _ => message,
        };
        vars.problem(variable, message);
    })
}

/// One issuer's settings as written, in `CONFIG_FILE` or the environment, before they are checked.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IssuerSpec {
    pub(crate) name: Option<String>,
    pub(crate) issuer: Option<String>,
    pub(crate) jwks_uri: Option<String>,
    pub(crate) audiences: Option<Vec<String>>,
    pub(crate) algorithms: Option<Vec<String>>,
    pub(crate) leeway_seconds: Option<u64>,
    pub(crate) required_claims: Option<Vec<String>>,
    pub(crate) refresh_interval_seconds: Option<u64>,
    pub(crate) min_refresh_interval_seconds: Option<u64>,
    pub(crate) kid_miss_cooldown_seconds: Option<u64>,
    pub(crate) user_pool_id: Option<String>,
    pub(crate) token_use: Option<String>,
    pub(crate) client_ids: Option<Vec<String>>,
    pub(crate) jwks_file: Option<String>,
    pub(crate) require_sender_constraint: Option<bool>,
    pub(crate) groups_claim: Option<String>,
}

impl IssuerSpec {
    /// Checks the settings, reporting each problem with the field it is about; settings not given
    /// come from `defaults`.
    pub(crate) fn check(
        self,
        defaults: &IssuerDefaults,
        allow_http: bool,
        problem: &mut dyn FnMut(&'static str, String),
    ) -> Option<IssuerConfig> {
        let mut reported = 0;
        let mut report = |field: &'static str, message: String| {
            reported += 1;
            problem(field, message);
        };
        let cognito = match self.token_use.as_deref().map(TokenUse::parse) {
            Some(Ok(kind)) => Some(kind),
            Some(Err(message)) => {
                report("token_use", message);
                None
            }
            None => {
                if self.user_pool_id.is_some() {
                    report(
                        "token_use",
                        "is required for a Cognito user pool: `access`, `id` or `any`".into(),
                    );
                }
                if self.client_ids.is_some() {
                    report(
                        "client_ids",
                        "are for Cognito user pools: set token_use, or use audiences".into(),
                    );
                }
                None
            }
        };
        let issuer = match (&self.user_pool_id, self.issuer) {
            (Some(_), Some(_)) => {
                report(
                    "issuer",
                    "set either user_pool_id or issuer, not both".into(),
                );
                None
            }
            (Some(pool), None) => match cognito_issuer(pool) {
                Ok(issuer) => Some(issuer),
                Err(message) => {
                    report("user_pool_id", message);
                    None
                }
            },
            (None, Some(issuer)) => Some(issuer),
            (None, None) => {
                report("issuer", "is required".into());
                None
            }
        };
        let issuer_url = issuer
            .as_deref()
            .and_then(|issuer| match Url::parse(issuer) {
                Ok(url) if matches!(url.scheme(), "https" | "http") => Some(url),
                _ => {
                    report("issuer", format!("{issuer:?} is not an http(s) URL"));
                    None
                }
            });
        let jwks = match &self.jwks_uri {
            Some(uri) => match Url::parse(uri) {
                Ok(url) => Some(JwksSource::Uri(url)),
                Err(e) => {
                    report("jwks_uri", format!("{uri:?} is not a URL: {e}"));
                    None
                }
            },
            // A user pool's keys are at a fixed place: no discovery round trip at cold start.
            None => issuer_url.as_ref().map(|issuer| {
                let suffix = match cognito {
                    Some(_) => "/.well-known/jwks.json",
                    None => "/.well-known/openid-configuration",
                };
                let url = Url::parse(&format!(
                    "{}{suffix}",
                    issuer.as_str().trim_end_matches('/')
                ))
                .expect("a valid URL with a path appended");
                match cognito {
                    Some(_) => JwksSource::Uri(url),
                    None => JwksSource::Discovery(url),
                }
            }),
        };
        if let Some(source) = &jwks {
            let (field, url) = match source {
                JwksSource::Uri(url) => ("jwks_uri", url),
                JwksSource::Discovery(url) => ("issuer", url),
            };
            if let Err(message) = check_transport(url, allow_http) {
                report(field, message);
            }
        }
        let non_empty = |list: Option<Vec<String>>| list.filter(|l| !l.is_empty());
        // A bad token_use was reported: which list it needed is unknown.
        let token_use_invalid = self.token_use.is_some() && cognito.is_none();
        let audiences = match (
            cognito,
            non_empty(self.audiences),
            non_empty(self.client_ids),
        ) {
            _ if token_use_invalid => None,
            (Some(_), None, Some(ids)) | (None, Some(ids), None) => Some(ids),
            (Some(_), Some(_), _) => {
                report(
                    "audiences",
                    "a Cognito user pool's tokens are checked against client_ids; remove audiences"
                        .into(),
                );
                None
            }
            (Some(_), None, None) => {
                report(
                    "client_ids",
                    "is required: the pool's app client ids".into(),
                );
                None
            }
            (None, None, _) => {
                report("audiences", "is required".into());
                None
            }
            (None, Some(_), Some(_)) => None,
        };
        let algorithms = match self.algorithms {
            Some(names) => parse_algorithms(&names).unwrap_or_else(|message| {
                report("algorithms", message);
                Vec::new()
            }),
            None => defaults.algorithms.clone(),
        };
        let mut seconds = |field, value: Option<u64>, default, max| match value {
            Some(v) if v <= max => v,
            Some(v) => {
                report(field, format!("{v}: use a whole number from 0 to {max}"));
                default
            }
            None => default,
        };
        let leeway_seconds = seconds(
            "leeway_seconds",
            self.leeway_seconds,
            defaults.leeway_seconds,
            LEEWAY_MAX,
        );
        let refresh = seconds(
            "refresh_interval_seconds",
            self.refresh_interval_seconds,
            defaults.refresh_seconds,
            INTERVAL_MAX,
        )
        .max(1);
        let min_refresh = seconds(
            "min_refresh_interval_seconds",
            self.min_refresh_interval_seconds,
            defaults.min_refresh_seconds,
            INTERVAL_MAX,
        )
        .max(1);
        // Floored at 1 s: 0 would open the penalty box for good, and every made-up kid would
        // cost the issuer a fetch.
        let cooldown = seconds(
            "kid_miss_cooldown_seconds",
            self.kid_miss_cooldown_seconds,
            defaults.kid_miss_cooldown_seconds,
            COOLDOWN_MAX,
        )
        .max(1);
        // Both from the environment: already reported there.
        let own_interval =
            self.refresh_interval_seconds.is_some() || self.min_refresh_interval_seconds.is_some();
        if min_refresh > refresh && own_interval {
            report(
                "min_refresh_interval_seconds",
                format!("{min_refresh} is more than the refresh interval ({refresh})"),
            );
        }
        let required_claims = self.required_claims.unwrap_or_default();
        if required_claims.iter().any(|c| c.trim().is_empty()) {
            report("required_claims", "a claim name is empty".into());
        }
        let name = match (self.name, &issuer_url) {
            (Some(name), _) => Some(name),
            (None, Some(url)) => url.host_str().map(str::to_owned),
            (None, None) => None,
        };
        if let Some(name) = &name
            && let Err(message) = check_name(name)
        {
            report("name", message);
        }
        // Read (and its keys checked) when the authorizer is built; here only that it is a file.
        let jwks_file = self.jwks_file.map(PathBuf::from);
        if let Some(path) = &jwks_file
            && !path.is_file()
        {
            report(
                "jwks_file",
                format!("{} is not a readable file", path.display()),
            );
        }
        if reported > 0 {
            return None;
        }
        Some(IssuerConfig {
            name: name?,
            issuer: issuer?,
            jwks: jwks?,
            audiences: audiences?,
            algorithms,
            leeway_seconds,
            required_claims,
            refresh_interval: Duration::from_secs(refresh),
            min_refresh_interval: Duration::from_secs(min_refresh),
            kid_miss_cooldown: Duration::from_secs(cooldown),
            cognito,
            jwks_file,
            require_sender_constraint: self
                .require_sender_constraint
                .unwrap_or(defaults.require_sender_constraint),
            groups_claim: self.groups_claim,
        })
    }
}

/// `https://cognito-idp.{region}.amazonaws.com/{userPoolId}` for a pool id like `eu-west-1_AbC123`.
fn cognito_issuer(pool: &str) -> Result<String, String> {
    let valid = pool.split_once('_').is_some_and(|(region, id)| {
        region.split('-').count() >= 3
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    if !valid {
        return Err(format!(
            "{pool:?} is not a user pool id like `eu-west-1_AbC123`"
        ));
    }
    let region = &pool[..pool.find('_').expect("checked above")];
    Ok(format!("https://cognito-idp.{region}.amazonaws.com/{pool}"))
}

/// An issuer's name is a metric dimension and a log field: short, plain, and not `none` (the
/// dimension of tokens whose issuer is unknown).
fn check_name(name: &str) -> Result<(), String> {
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if name.is_empty() || name.len() > 64 || !plain {
        Err(format!(
            "{name:?}: use 1 to 64 letters, digits, `-`, `_` or `.`"
        ))
    } else if name == crate::metrics::NO_ISSUER {
        Err(format!(
            "{name:?} is reserved for tokens of unknown issuers"
        ))
    } else {
        Ok(())
    }
}

fn parse_algorithms(names: &[String]) -> Result<Vec<Algorithm>, String> {
    if names.is_empty() {
        return Err("name at least one algorithm".into());
    }
    names
        .iter()
        .map(|a| a.trim().parse::<Algorithm>().map_err(|e| e.to_string()))
        .collect()
}

/// `https` is required for keys, except on loopback (local issuers, tests) or when explicitly allowed.
fn check_transport(url: &Url, allow_http: bool) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "{url} is plain http: keys must come over https (set JWKS_ALLOW_HTTP=true only for a trusted network)"
        )),
        other => Err(format!("{url} has scheme {other:?}; use https")),
    }
}

/// Whether a URL's host is this machine.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn split_list(value: &str, separator: char) -> Vec<String> {
    value
        .split(separator)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err("use true or false".to_owned()),
    }
}

fn parse_bounded<T>(value: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    match value.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!("use a whole number from {min} to {max}")),
    }
}

/// Collects problems while reading variables, so that all are reported together.
struct Vars<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<Problem>,
}

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).map(|v| v.trim().to_owned())
    }

    fn problem(&mut self, variable: &'static str, message: String) {
        self.problems.push(Problem { variable, message });
    }

    fn parse<T>(
        &mut self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        match self.get(name) {
            None => default,
            Some(value) => parse(&value).unwrap_or_else(|message| {
                self.problem(name, format!("{value:?}: {message}"));
                default
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn the_tutorials_three_variables_are_enough() {
        let c = config(&[
            ("TOKEN_ISSUER", "https://tenant.auth0.com/"),
            ("JWKS_URI", "https://tenant.auth0.com/.well-known/jwks.json"),
            ("AUDIENCE", "https://api.example.com"),
        ])
        .unwrap();
        let [issuer] = &c.issuers[..] else {
            panic!("one issuer")
        };
        assert_eq!(issuer.issuer, "https://tenant.auth0.com/");
        assert_eq!(issuer.name, "tenant.auth0.com");
        assert_eq!(issuer.audiences, ["https://api.example.com"]);
        assert_eq!(issuer.algorithms, [Algorithm::RS256]);
        assert_eq!(issuer.cognito, None);
        assert_eq!(c.resource_mode, ResourceMode::Stage);
        assert_eq!(c.reject_mode, RejectMode::Unauthorized);
        assert_eq!(c.max_token_bytes, 16384);
    }

    #[test]
    fn without_jwks_uri_keys_are_discovered_from_the_issuer() {
        let c = config(&[
            ("TOKEN_ISSUER", "https://tenant.auth0.com/"),
            ("AUDIENCE", "a, b ,"),
        ])
        .unwrap();
        assert_eq!(
            c.issuers[0].jwks,
            JwksSource::Discovery(
                Url::parse("https://tenant.auth0.com/.well-known/openid-configuration").unwrap()
            )
        );
        assert_eq!(c.issuers[0].audiences, ["a", "b"]);
    }

    #[test]
    fn every_problem_is_reported_at_once_naming_its_variable() {
        let err = config(&[
            ("JWKS_URI", "http://keys.example.com/jwks.json"),
            ("ALLOWED_ALGORITHMS", "RS256,HS256"),
            ("CLOCK_SKEW_LEEWAY_SECONDS", "-1"),
            ("POLICY_RESOURCE", "everything"),
            ("ROUTE_SCOPES", "GET=read"),
            ("CONTEXT_CLAIMS", "email,scope"),
        ])
        .unwrap_err();
        let vars: Vec<_> = err.problems.iter().map(|p| p.variable).collect();
        assert_eq!(
            vars,
            [
                "TOKEN_ISSUER",
                "JWKS_URI",
                "AUDIENCE",
                "ALLOWED_ALGORITHMS",
                "CLOCK_SKEW_LEEWAY_SECONDS",
                "POLICY_RESOURCE",
                "ROUTE_SCOPES",
                "CONTEXT_CLAIMS"
            ]
        );
        let text = err.to_string();
        assert!(text.contains("TOKEN_ISSUER: is not set"), "{text}");
        assert!(text.contains("HS256"), "{text}");
        assert!(text.contains("https"), "{text}");
        let many: Vec<String> = (0..17).map(|i| format!("c{i}")).collect();
        let err = config(&[
            ("TOKEN_ISSUER", "https://i/"),
            ("AUDIENCE", "a"),
            ("CONTEXT_CLAIMS", &many.join(",")),
        ]);
        assert_eq!(err.unwrap_err().problems[0].variable, "CONTEXT_CLAIMS");
    }

    #[test]
    fn a_min_refresh_above_the_refresh_interval_is_reported_once_on_its_variable() {
        let err = config(&[
            ("TOKEN_ISSUER", "https://i/"),
            ("AUDIENCE", "a"),
            ("JWKS_REFRESH_INTERVAL_SECONDS", "30"),
            ("JWKS_MIN_REFRESH_INTERVAL_SECONDS", "60"),
        ])
        .unwrap_err();
        let vars: Vec<_> = err.problems.iter().map(|p| p.variable).collect();
        assert_eq!(vars, ["JWKS_MIN_REFRESH_INTERVAL_SECONDS"]);
    }

    #[test]
    fn plain_http_is_only_for_loopback_unless_allowed() {
        let base = [("TOKEN_ISSUER", "http://127.0.0.1:9/"), ("AUDIENCE", "a")];
        assert!(config(&base).is_ok());
        let remote = [
            ("TOKEN_ISSUER", "http://issuer.example/"),
            ("AUDIENCE", "a"),
        ];
        assert!(config(&remote).is_err());
        let allowed = [remote[0], remote[1], ("JWKS_ALLOW_HTTP", "true")];
        assert!(config(&allowed).is_ok());
        assert!(is_loopback(&Url::parse("http://[::1]:8080/").unwrap()));
        assert!(is_loopback(&Url::parse("http://localhost/").unwrap()));
        assert!(!is_loopback(&Url::parse("http://127.example/").unwrap()));
    }

    fn file(name: &str, text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let path = path.to_str().unwrap().to_owned();
        (dir, path)
    }

    #[test]
    fn a_cognito_pool_by_env_checks_client_ids_and_skips_discovery() {
        let c = config(&[
            (
                "TOKEN_ISSUER",
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
            ),
            ("TOKEN_USE", "access"),
            ("AUDIENCE", "client-a,client-b"),
        ])
        .unwrap();
        let issuer = &c.issuers[0];
        assert_eq!(issuer.cognito, Some(TokenUse::Access));
        assert_eq!(issuer.audiences, ["client-a", "client-b"]);
        assert_eq!(
            issuer.jwks,
            JwksSource::Uri(
                Url::parse(
                    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/.well-known/jwks.json"
                )
                .unwrap()
            )
        );
        let err = config(&[
            ("TOKEN_ISSUER", "https://i/"),
            ("AUDIENCE", "a"),
            ("TOKEN_USE", "refresh"),
        ])
        .unwrap_err();
        assert_eq!(err.problems[0].variable, "TOKEN_USE");
    }

    #[test]
    fn a_config_file_lists_issuers_with_their_own_settings() {
        let (_dir, path) = file(
            "issuers.toml",
            r#"
            [[issuer]]
            name = "users"
            issuer = "https://tenant.eu.auth0.com/"
            audiences = ["https://api.example.com"]
            leeway_seconds = 30
            kid_miss_cooldown_seconds = 60
            require_sender_constraint = true

            [[issuer]]
            name = "machines"
            user_pool_id = "eu-west-1_AbC123"
            token_use = "access"
            client_ids = ["4kbvq1p2example"]
            algorithms = ["RS256", "ES256"]

            [[route]]
            route = "DELETE /pets/{petId}"
            issuers = ["machines"]
            claims = { "cognito:groups" = "admins" }
            "#,
        );
        let c = config(&[
            ("CONFIG_FILE", &path),
            ("JWKS_REFRESH_INTERVAL_SECONDS", "300"),
            ("ROUTE_SCOPES", "POST /pets=write:pets"),
        ])
        .unwrap();
        let [users, machines] = &c.issuers[..] else {
            panic!("two issuers")
        };
        assert_eq!(users.leeway_seconds, 30);
        assert_eq!(users.kid_miss_cooldown, Duration::from_secs(60));
        assert!(users.require_sender_constraint);
        assert!(!machines.require_sender_constraint);
        // Settings an issuer leaves out come from the environment's.
        assert_eq!(users.refresh_interval, Duration::from_secs(300));
        assert_eq!(machines.leeway_seconds, 5);
        assert_eq!(
            machines.issuer,
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
        );
        assert_eq!(machines.algorithms, [Algorithm::RS256, Algorithm::ES256]);
        assert_eq!(c.route_rules.len(), 2);
        assert_eq!(c.route_rules[1].issuers, ["machines"]);
        assert_eq!(
            c.route_rules[1].claims,
            [("cognito:groups".to_owned(), vec!["admins".to_owned()])]
        );
        assert_eq!(
            c.captured_claims(),
            ["cognito:groups", "scope", "scp", "cnf"]
        );

        let (_dir, json) = file(
            "issuers.json",
            r#"{"issuers": [{"issuer": "https://a.example/", "audiences": ["x"]}]}"#,
        );
        let c = config(&[("CONFIG_FILE", &json)]).unwrap();
        assert_eq!(c.issuers[0].name, "a.example");
    }

    #[test]
    fn config_file_problems_name_the_file_the_issuer_and_the_field() {
        let (_dir, path) = file(
            "bad.toml",
            r#"
            [[issuer]]
            name = "users"
            issuer = "https://users.example/"

            [[issuer]]
            name = "machines"
            user_pool_id = "not-a-pool"
            token_use = "access"
            client_ids = ["c"]
            leeway_seconds = 9999

            [[issuer]]
            name = "again"
            issuer = "http://evil.example/"
            audiences = ["a"]

            [[route]]
            route = "GET /pets"
            issuers = ["nobody"]
            scopes = ["read"]
            "#,
        );
        let err = config(&[("CONFIG_FILE", &path), ("AUDIENCE", "x")]).unwrap_err();
        let text = err.to_string();
        for expected in [
            "AUDIENCE: CONFIG_FILE lists the issuers",
            r#"bad.toml: issuer "users": audiences: is required"#,
            r#"bad.toml: issuer "machines": user_pool_id: "not-a-pool""#,
            r#"bad.toml: issuer "machines": leeway_seconds: 9999"#,
            r#"bad.toml: issuer "again": issuer: http://evil.example/"#,
            r#"bad.toml: route "GET /pets": issuers: "nobody""#,
        ] {
            assert!(text.contains(expected), "{expected:?} not in\n{text}");
        }

        let (_dir, typo) = file("typo.toml", "[[issuer]]\naudience = [\"a\"]\n");
        let text = config(&[("CONFIG_FILE", &typo)]).unwrap_err().to_string();
        assert!(
            text.contains("typo.toml") && text.contains("audience"),
            "{text}"
        );

        let (_dir, twice) = file(
            "twice.toml",
            r#"
            [[issuer]]
            issuer = "https://same.example/"
            audiences = ["a"]
            [[issuer]]
            name = "other"
            issuer = "https://same.example/"
            audiences = ["b"]
            "#,
        );
        let text = config(&[("CONFIG_FILE", &twice)]).unwrap_err().to_string();
        assert!(text.contains("each `iss` selects one issuer"), "{text}");
        let missing = config(&[("CONFIG_FILE", "/nonexistent/issuers.toml")]).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("/nonexistent/issuers.toml: cannot be read")
        );
    }

    #[test]
    fn the_kid_miss_cooldown_is_at_least_a_second() {
        let c = config(&[
            ("TOKEN_ISSUER", "https://tenant.auth0.com/"),
            ("AUDIENCE", "a"),
            ("JWKS_KID_MISS_COOLDOWN_SECONDS", "0"),
        ])
        .unwrap();
        assert_eq!(c.issuers[0].kid_miss_cooldown, Duration::from_secs(1));
    }
}
