//! Configuration, read once from the environment at start-up and checked as a whole: every problem
//! is reported at once, each naming its variable and how to fix it.

use crate::algorithm::Algorithm;
use crate::claims::MAX_CONTEXT_CLAIMS;
use crate::policy::{ResourceMode, RouteRule};
use reqwest::Url;
use std::fmt;
use std::net::IpAddr;
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

/// The authorizer's configuration. Built once, then shared read-only.
#[derive(Clone, Debug)]
pub struct Config {
    /// `TOKEN_ISSUER`: the exact `iss` tokens must carry.
    pub issuer: String,
    /// `JWKS_URI`, or discovery from the issuer.
    pub jwks: JwksSource,
    /// `AUDIENCE`: a token must name at least one of these in `aud`.
    pub audiences: Vec<String>,
    /// `ALLOWED_ALGORITHMS`.
    pub algorithms: Vec<Algorithm>,
    /// `CLOCK_SKEW_LEEWAY_SECONDS`, applied to `exp`, `nbf` and `iat`.
    pub leeway_seconds: u64,
    /// `MAX_TOKEN_BYTES`: longer tokens are refused before any parsing.
    pub max_token_bytes: usize,
    /// `JWKS_REFRESH_INTERVAL_SECONDS`: the longest a key set is used before it is fetched again.
    pub refresh_interval: Duration,
    /// `JWKS_MIN_REFRESH_INTERVAL_SECONDS`: the shortest refresh interval a `Cache-Control: max-age`
    /// can ask for, and the wait before retrying a failed refresh.
    pub min_refresh_interval: Duration,
    /// `JWKS_KID_MISS_COOLDOWN_SECONDS`: after a fetch that did not find a token's `kid`, further
    /// unknown kids wait this long before they may cause another fetch.
    pub kid_miss_cooldown: Duration,
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
    /// `ROUTE_SCOPES`: routes that need scopes.
    pub route_rules: Vec<RouteRule>,
    /// `CONTEXT_CLAIMS`: claims copied into the authorizer context besides `scope`.
    pub context_claims: Vec<String>,
    /// `REJECT_MODE`.
    pub reject_mode: RejectMode,
    /// `HTTP_API_RESPONSE`.
    pub http_api_response: HttpApiResponse,
    /// `VERIFIED_TOKEN_CACHE_SIZE`: how many verified tokens to remember (0: off).
    pub verified_token_cache_size: usize,
}

/// Every variable the authorizer reads, with its default and meaning; printed by `--help`.
pub const VARIABLES: &[(&str, &str, &str)] = &[
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
        "Accepted `aud` value(s), comma-separated (the Auth0 API identifier)",
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
        "After a fetch that did not find a kid, unknown kids cause no fetch for this long",
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
        "HTTP API (payload 2.0) answers: simple ({isAuthorized, context}) or policy",
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
    /// Empty values count as unset.
    ///
    /// # Errors
    /// A [`ConfigError`] listing every missing or invalid variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut vars = Vars {
            lookup: &|name| lookup(name).filter(|v| !v.trim().is_empty()),
            problems: Vec::new(),
        };

        let issuer = vars.required("TOKEN_ISSUER");
        let issuer_url = issuer
            .as_deref()
            .and_then(|issuer| match Url::parse(issuer) {
                Ok(url) if matches!(url.scheme(), "https" | "http") => Some(url),
                _ => {
                    vars.problem("TOKEN_ISSUER", format!("{issuer:?} is not an http(s) URL"));
                    None
                }
            });
        let allow_http = vars.parse("JWKS_ALLOW_HTTP", false, parse_bool);
        let jwks = match vars.get("JWKS_URI") {
            Some(uri) => match Url::parse(&uri) {
                Ok(url) => Some(JwksSource::Uri(url)),
                Err(e) => {
                    vars.problem("JWKS_URI", format!("{uri:?} is not a URL: {e}"));
                    None
                }
            },
            None => issuer_url.map(|issuer| {
                let mut base = issuer.as_str().trim_end_matches('/').to_owned();
                base.push_str("/.well-known/openid-configuration");
                JwksSource::Discovery(Url::parse(&base).expect("a valid URL with a path appended"))
            }),
        };
        if let Some(source) = &jwks {
            let (variable, url) = match source {
                JwksSource::Uri(url) => ("JWKS_URI", url),
                JwksSource::Discovery(url) => ("TOKEN_ISSUER", url),
            };
            if let Err(message) = check_transport(url, allow_http) {
                vars.problem(variable, message);
            }
        }
        let audiences = vars.required("AUDIENCE").map(|v| split_list(&v, ','));
        let algorithms = vars.parse("ALLOWED_ALGORITHMS", vec![Algorithm::RS256], |v| {
            split_list(v, ',')
                .iter()
                .map(|a| a.parse::<Algorithm>().map_err(|e| e.to_string()))
                .collect()
        });
        let leeway_seconds =
            vars.parse("CLOCK_SKEW_LEEWAY_SECONDS", 5, |v| parse_bounded(v, 0, 300));
        let max_token_bytes = vars.parse("MAX_TOKEN_BYTES", 16 * 1024, |v| {
            parse_bounded(v, 256, 1 << 20)
        });
        let refresh = vars.parse("JWKS_REFRESH_INTERVAL_SECONDS", 600, |v| {
            parse_bounded(v, 1, 86_400)
        });
        let min_refresh = vars.parse("JWKS_MIN_REFRESH_INTERVAL_SECONDS", 60, |v| {
            parse_bounded(v, 1, 86_400)
        });
        if min_refresh > refresh {
            vars.problem(
                "JWKS_MIN_REFRESH_INTERVAL_SECONDS",
                format!("{min_refresh} is more than JWKS_REFRESH_INTERVAL_SECONDS ({refresh})"),
            );
        }
        let cooldown = vars.parse("JWKS_KID_MISS_COOLDOWN_SECONDS", 10, |v| {
            parse_bounded(v, 0, 3600)
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
        let route_rules = vars.parse("ROUTE_SCOPES", Vec::new(), |v| {
            v.split(';')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(RouteRule::parse)
                .collect()
        });
        let context_claims = vars.parse("CONTEXT_CLAIMS", Vec::new(), |v| {
            let claims = split_list(v, ',');
            if claims.len() > MAX_CONTEXT_CLAIMS {
                Err(format!("name at most {MAX_CONTEXT_CLAIMS} claims"))
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

        match (issuer, jwks, audiences) {
            (Some(issuer), Some(jwks), Some(audiences)) if vars.problems.is_empty() => Ok(Config {
                issuer,
                jwks,
                audiences,
                algorithms,
                leeway_seconds,
                max_token_bytes,
                refresh_interval: Duration::from_secs(refresh),
                min_refresh_interval: Duration::from_secs(min_refresh),
                kid_miss_cooldown: Duration::from_secs(cooldown),
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
            }),
            _ => {
                let order = |p: &Problem| VARIABLES.iter().position(|(v, ..)| *v == p.variable);
                vars.problems.sort_by_key(order);
                Err(ConfigError {
                    problems: vars.problems,
                })
            }
        }
    }
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

    fn required(&mut self, name: &'static str) -> Option<String> {
        let value = self.get(name);
        if value.is_none() {
            let hint = VARIABLES
                .iter()
                .find(|(v, ..)| *v == name)
                .map_or("", |(.., h)| h);
            self.problem(name, format!("is not set ({hint})"));
        }
        value
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
        assert_eq!(c.issuer, "https://tenant.auth0.com/");
        assert_eq!(c.audiences, ["https://api.example.com"]);
        assert_eq!(c.algorithms, [Algorithm::RS256]);
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
            c.jwks,
            JwksSource::Discovery(
                Url::parse("https://tenant.auth0.com/.well-known/openid-configuration").unwrap()
            )
        );
        assert_eq!(c.audiences, ["a", "b"]);
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
}
