//! The trusted issuers: one from `TOKEN_ISSUER`, `JWKS_URI` and `AUDIENCE` (with the optional
//! variables of the single-issuer form), or those of `CONFIG_FILE`; and the per-issuer defaults
//! that the environment gives every issuer of the file.

use super::file;
use super::sources::{Vars, parse_bool, parse_bounded, split_list};
use super::spec::{COOLDOWN_MAX, Field, INTERVAL_MAX, IssuerSpec, LEEWAY_MAX, parse_algorithms};
use super::variables::VARIABLES;
use crate::algorithm::Algorithm;
use crate::claims::{IssuerClaims, TokenUse};
use crate::policy::RouteRule;
use reqwest::Url;
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
    pub(super) fn from_vars(vars: &mut Vars<'_>) -> Self {
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

/// The issuers, from `CONFIG_FILE` when it is set (with its route rules), else the single issuer
/// of the environment.
pub(super) fn read_issuers(
    vars: &mut Vars<'_>,
    defaults: &IssuerDefaults,
    allow_http: bool,
) -> (Vec<IssuerConfig>, Vec<RouteRule>) {
    let Some(path) = vars.get("CONFIG_FILE") else {
        let issuer = env_issuer(vars, defaults, allow_http);
        return (issuer.into_iter().collect(), Vec::new());
    };
    for variable in ENV_ISSUER_VARIABLES {
        if vars.get(variable).is_some() {
            vars.problem(
                variable,
                "CONFIG_FILE lists the issuers: unset this variable or CONFIG_FILE".to_owned(),
            );
        }
    }
    match file::read(Path::new(&path), defaults, allow_http) {
        Ok(file) => (file.issuers, file.routes),
        Err(messages) => {
            for message in messages {
                vars.problem("CONFIG_FILE", message);
            }
            (Vec::new(), Vec::new())
        }
    }
}

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
        let variable = field.variable();
        let message = match (field, message.as_str()) {
            (Field::Issuer | Field::Audiences, "is required") => {
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
