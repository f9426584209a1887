//! One issuer's introspection settings (RFC 7662): as written (the environment's `INTROSPECT*`
//! variables, or an issuer's `[issuer.introspection]` table in `CONFIG_FILE`), then checked.

use super::field::{Field, Report};
use super::transport::is_loopback;
use reqwest::Url;
use std::fmt;
use std::time::Duration;

/// When tokens are sent to the issuer's introspection endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IntrospectMode {
    /// Never (the default): only JWTs, verified locally.
    #[default]
    Off,
    /// Tokens that are not JWTs (opaque, reference tokens) are introspected; JWTs are verified
    /// locally only.
    Opaque,
    /// Opaque tokens are introspected, and JWTs are verified locally and then introspected too
    /// (to see revocations); route rules with `introspect = true` can narrow this to their routes.
    Always,
}

impl IntrospectMode {
    pub(crate) fn parse(value: &str) -> Result<Self, String> {
        match value {
            "off" => Ok(IntrospectMode::Off),
            "opaque" => Ok(IntrospectMode::Opaque),
            "always" => Ok(IntrospectMode::Always),
            _ => Err(format!("{value:?}: use `off`, `opaque` or `always`")),
        }
    }
}

/// The client secret: shown as `***` by `Debug`, so that no log of the configuration holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub(crate) String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where `INTROSPECTION_CLIENT_SECRET_ARN` says the client secret is kept: read at start-up
/// through the AWS Parameters and Secrets Lambda Extension (`crate::introspection::extension`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtensionSecret {
    /// A Secrets Manager secret, by name or ARN: its `SecretString`.
    SecretsManager(String),
    /// `ssm:<name>`: a Parameter Store parameter (name or ARN), a SecureString decrypted.
    Parameter(String),
}

impl ExtensionSecret {
    fn parse(value: &str) -> Result<Self, String> {
        let (kind, id) = match value.strip_prefix("ssm:") {
            Some(name) => (ExtensionSecret::Parameter as fn(String) -> Self, name),
            None => (ExtensionSecret::SecretsManager as fn(String) -> Self, value),
        };
        if id.is_empty() || id.chars().any(char::is_whitespace) {
            return Err(format!(
                "{value:?}: use a Secrets Manager secret id or ARN, or ssm:<parameter name>"
            ));
        }
        Ok(kind(id.to_owned()))
    }
}

/// The checked settings of one issuer's introspection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntrospectionSettings {
    /// `INTROSPECT`.
    pub mode: IntrospectMode,
    /// `INTROSPECTION_ENDPOINT`; `None`: discovered from the issuer's metadata.
    pub endpoint: Option<Url>,
    /// `INTROSPECTION_CLIENT_ID`.
    pub client_id: String,
    /// `INTROSPECTION_CLIENT_SECRET`, or the content of `INTROSPECTION_CLIENT_SECRET_FILE`.
    pub client_secret: Secret,
    /// `INTROSPECTION_CLIENT_SECRET_ARN`: where the secret is to be read at start-up; `None`
    /// once read into `client_secret` (`crate::introspection::extension::resolve`).
    pub client_secret_from: Option<ExtensionSecret>,
    /// `INTROSPECTION_CACHE_SECONDS`: how long an active answer is used (never beyond the
    /// token's `exp`): the longest a revocation can go unseen.
    pub cache_ttl: Duration,
    /// `INTROSPECTION_FAIL_OPEN`: with the endpoint unavailable, locally verified JWTs are
    /// served (and counted) in `always` mode. Opaque tokens are always refused.
    pub fail_open: bool,
    /// `INTROSPECTION_TIMEOUT_MS`: the whole call, connect to last byte.
    pub timeout: Duration,
    /// `INTROSPECTION_MAX_CALLS_PER_SECOND`: calls for tokens not in the cache, per issuer and
    /// instance; the excess is refused (`introspection_rate_limited`).
    pub max_calls_per_second: u32,
}

impl Default for IntrospectionSettings {
    fn default() -> Self {
        IntrospectionSettings {
            mode: IntrospectMode::Off,
            endpoint: None,
            client_id: String::new(),
            client_secret: Secret(String::new()),
            client_secret_from: None,
            cache_ttl: Duration::from_secs(DEFAULT_CACHE_SECONDS),
            fail_open: false,
            timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
            max_calls_per_second: DEFAULT_MAX_CALLS_PER_SECOND,
        }
    }
}

const DEFAULT_CACHE_SECONDS: u64 = 60;
const MAX_CACHE_SECONDS: u64 = 3600;
const DEFAULT_TIMEOUT_MS: u64 = 1000;
const DEFAULT_MAX_CALLS_PER_SECOND: u32 = 50;

/// One issuer's introspection settings as written, before they are checked.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IntrospectionSpec {
    pub(crate) mode: Option<String>,
    pub(crate) endpoint: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<String>,
    pub(crate) client_secret_file: Option<String>,
    pub(crate) client_secret_arn: Option<String>,
    pub(crate) cache_seconds: Option<u64>,
    pub(crate) fail_open: Option<bool>,
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) max_calls_per_second: Option<u32>,
}

impl IntrospectionSpec {
    /// The spec of the environment's single issuer; a value that does not parse is reported
    /// (field name, message) and left unset.
    pub(crate) fn from_env(
        get: impl Fn(&str) -> Option<String>,
        problem: Report<'_>,
    ) -> Option<Self> {
        if Field::INTROSPECTION
            .iter()
            .all(|field| get(field.variable()).is_none())
        {
            return None;
        }
        let mut number = |field: Field| -> Option<u64> {
            let value = get(field.variable())?;
            value.parse().ok().or_else(|| {
                problem(field, format!("{value:?}: use a whole number"));
                None
            })
        };
        let cache_seconds = number(Field::IntrospectionCacheSeconds);
        let timeout_ms = number(Field::IntrospectionTimeoutMs);
        let max_calls = number(Field::IntrospectionMaxCallsPerSecond);
        let fail_open =
            get("INTROSPECTION_FAIL_OPEN").and_then(|v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Some(true),
                "false" | "0" | "no" => Some(false),
                _ => {
                    problem(
                        Field::IntrospectionFailOpen,
                        format!("{v:?}: use true or false"),
                    );
                    None
                }
            });
        Some(IntrospectionSpec {
            mode: get("INTROSPECT"),
            endpoint: get("INTROSPECTION_ENDPOINT"),
            client_id: get("INTROSPECTION_CLIENT_ID"),
            client_secret: get("INTROSPECTION_CLIENT_SECRET"),
            client_secret_file: get("INTROSPECTION_CLIENT_SECRET_FILE"),
            client_secret_arn: get("INTROSPECTION_CLIENT_SECRET_ARN"),
            cache_seconds,
            fail_open,
            timeout_ms,
            max_calls_per_second: max_calls.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        })
    }

    /// Checks the settings; each problem is reported with its field (`introspection.*`).
    pub(crate) fn check(self, allow_http: bool, report: Report<'_>) -> IntrospectionSettings {
        let mut settings = IntrospectionSettings::default();
        if let Some(mode) = &self.mode {
            match IntrospectMode::parse(mode) {
                Ok(mode) => settings.mode = mode,
                Err(message) => report(Field::IntrospectMode, message),
            }
        }
        if let Some(endpoint) = &self.endpoint {
            match Url::parse(endpoint) {
                // RFC 7662 §4: the endpoint MUST be protected by TLS; the token and the client's
                // credentials travel in the request.
                Ok(url)
                    if url.scheme() == "https"
                        || (url.scheme() == "http" && (allow_http || is_loopback(&url))) =>
                {
                    settings.endpoint = Some(url);
                }
                Ok(url) => report(
                    Field::IntrospectionEndpoint,
                    format!("{url} is not https (RFC 7662 §4: tokens and credentials need TLS)"),
                ),
                Err(e) => report(
                    Field::IntrospectionEndpoint,
                    format!("{endpoint:?} is not a URL: {e}"),
                ),
            }
        }
        // A source already reported (unreadable, invalid, or two given) is not also "missing".
        let mut source_reported = false;
        let from_extension = match &self.client_secret_arn {
            None => None,
            Some(_) if self.client_secret.is_some() || self.client_secret_file.is_some() => {
                report(
                    Field::IntrospectionClientSecretArn,
                    "set the secret in one place: INTROSPECTION_CLIENT_SECRET (or its _FILE) or INTROSPECTION_CLIENT_SECRET_ARN, not both".into(),
                );
                source_reported = true;
                None
            }
            Some(value) => ExtensionSecret::parse(value)
                .map_err(|message| {
                    report(Field::IntrospectionClientSecretArn, message);
                    source_reported = true;
                })
                .ok(),
        };
        let secret = match (self.client_secret, &self.client_secret_file) {
            (Some(_), Some(_)) => {
                report(
                    Field::IntrospectionClientSecretFile,
                    "set the secret or its file, not both".into(),
                );
                source_reported = true;
                None
            }
            (Some(secret), None) => Some(secret),
            (None, Some(path)) => match std::fs::read_to_string(path) {
                // A file written by `echo` ends with a newline that is not part of the secret.
                Ok(text) => Some(text.trim_end_matches(['\r', '\n']).to_owned()),
                Err(e) => {
                    report(
                        Field::IntrospectionClientSecretFile,
                        format!("{path} cannot be read: {e}"),
                    );
                    source_reported = true;
                    None
                }
            },
            (None, None) => None,
        };
        let cache_seconds = self.cache_seconds.unwrap_or(DEFAULT_CACHE_SECONDS);
        if cache_seconds > MAX_CACHE_SECONDS {
            report(
                Field::IntrospectionCacheSeconds,
                format!("{cache_seconds}: use a whole number from 0 to {MAX_CACHE_SECONDS}"),
            );
        }
        settings.cache_ttl = Duration::from_secs(cache_seconds.min(MAX_CACHE_SECONDS));
        let timeout_ms = self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if !(50..=30_000).contains(&timeout_ms) {
            report(
                Field::IntrospectionTimeoutMs,
                format!("{timeout_ms}: use a whole number from 50 to 30000"),
            );
        }
        settings.timeout = Duration::from_millis(timeout_ms.clamp(50, 30_000));
        let max_calls = self
            .max_calls_per_second
            .unwrap_or(DEFAULT_MAX_CALLS_PER_SECOND);
        if !(1..=10_000).contains(&max_calls) {
            report(
                Field::IntrospectionMaxCallsPerSecond,
                format!("{max_calls}: use a whole number from 1 to 10000"),
            );
        }
        settings.max_calls_per_second = max_calls.clamp(1, 10_000);
        settings.fail_open = self.fail_open.unwrap_or(false);
        if settings.mode == IntrospectMode::Off {
            return settings;
        }
        // RFC 7662 §2.1: the endpoint MUST require authorization of its callers (to prevent token
        // scanning); we authenticate as a client with `client_secret_basic` (RFC 6749 §2.3.1).
        match (self.client_id, secret) {
            (Some(id), None) if !id.is_empty() && from_extension.is_some() => {
                settings.client_id = id;
                settings.client_secret_from = from_extension;
            }
            (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
                settings.client_id = id;
                settings.client_secret = Secret(secret);
            }
            (None, _) => report(
                Field::IntrospectionClientId,
                "is required to introspect: the endpoint authenticates its callers (RFC 7662 §2.1)"
                    .into(),
            ),
            (Some(id), None) if !id.is_empty() && source_reported => {}
            _ => report(
                Field::IntrospectionClientSecret,
                "is required to introspect: set it, its _FILE or its _ARN variant".into(),
            ),
        }
        settings
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, crate::config::ConfigError> {
        let mut map: HashMap<String, String> = HashMap::from([
            ("TOKEN_ISSUER".into(), "https://id.example/".into()),
            ("AUDIENCE".into(), "api".into()),
        ]);
        map.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn introspection_is_off_unless_asked_and_then_needs_client_credentials() {
        let c = config(&[]).unwrap();
        assert_eq!(c.issuers[0].introspection.mode, super::IntrospectMode::Off);
        let err = config(&[("INTROSPECT", "opaque")]).unwrap_err();
        let vars: Vec<_> = err.problems.iter().map(|p| p.variable).collect();
        assert_eq!(vars, ["INTROSPECTION_CLIENT_ID"]);
        let err = config(&[
            ("INTROSPECT", "sometimes"),
            ("INTROSPECTION_ENDPOINT", "http://id.example/introspect"),
            ("INTROSPECTION_CACHE_SECONDS", "soon"),
            ("INTROSPECTION_MAX_CALLS_PER_SECOND", "0"),
        ])
        .unwrap_err();
        let vars: Vec<_> = err.problems.iter().map(|p| p.variable).collect();
        assert_eq!(
            vars,
            [
                "INTROSPECT",
                "INTROSPECTION_ENDPOINT",
                "INTROSPECTION_CACHE_SECONDS",
                "INTROSPECTION_MAX_CALLS_PER_SECOND"
            ],
            "{err}"
        );
    }

    #[test]
    fn the_secret_is_never_shown() {
        let c = config(&[
            ("INTROSPECT", "always"),
            ("INTROSPECTION_CLIENT_ID", "rs"),
            ("INTROSPECTION_CLIENT_SECRET", "hunter2-secret"),
            ("INTROSPECTION_CACHE_SECONDS", "30"),
        ])
        .unwrap();
        let settings = &c.issuers[0].introspection;
        assert_eq!(settings.client_secret.0, "hunter2-secret");
        assert_eq!(settings.cache_ttl, std::time::Duration::from_secs(30));
        assert!(!format!("{c:?}").contains("hunter2"));
        let err = config(&[
            ("INTROSPECT", "always"),
            ("INTROSPECTION_CLIENT_ID", "rs"),
            ("INTROSPECTION_CLIENT_SECRET", "hunter2-secret"),
            ("INTROSPECTION_CLIENT_SECRET_FILE", "/nonexistent"),
        ])
        .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn the_secret_arn_names_a_secret_or_an_ssm_parameter_and_excludes_the_other_sources() {
        use super::ExtensionSecret;
        let with = |arn: &str| {
            config(&[
                ("INTROSPECT", "opaque"),
                ("INTROSPECTION_CLIENT_ID", "rs"),
                ("INTROSPECTION_CLIENT_SECRET_ARN", arn),
            ])
        };
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rs-AbCdEf";
        let c = with(arn).unwrap();
        let settings = &c.issuers[0].introspection;
        assert_eq!(
            settings.client_secret_from,
            Some(ExtensionSecret::SecretsManager(arn.into()))
        );
        assert_eq!(
            settings.client_secret.0, "",
            "read at start-up, not from the environment"
        );
        let c = with("ssm:/rs/secret").unwrap();
        assert_eq!(
            c.issuers[0].introspection.client_secret_from,
            Some(ExtensionSecret::Parameter("/rs/secret".into()))
        );
        for bad in ["ssm:", "two words"] {
            let err = with(bad).unwrap_err();
            let vars: Vec<_> = err.problems.iter().map(|p| p.variable).collect();
            assert_eq!(vars, ["INTROSPECTION_CLIENT_SECRET_ARN"], "{bad}: {err}");
        }
        let err = config(&[
            ("INTROSPECT", "opaque"),
            ("INTROSPECTION_CLIENT_ID", "rs"),
            ("INTROSPECTION_CLIENT_SECRET", "hunter2-secret"),
            ("INTROSPECTION_CLIENT_SECRET_ARN", arn),
        ])
        .unwrap_err();
        let vars: Vec<_> = err.problems.iter().map(|p| p.variable).collect();
        assert_eq!(vars, ["INTROSPECTION_CLIENT_SECRET_ARN"], "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
