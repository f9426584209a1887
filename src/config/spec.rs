//! The rules of one issuer: its settings as written (in `CONFIG_FILE` or the environment),
//! checked into an [`IssuerConfig`], every problem reported against the field it is about; and
//! the defaults the environment gives every issuer.

use super::field::{Field, Report};
use super::introspection::IntrospectionSpec;
use super::issuer::{IssuerConfig, JwksSource};
use super::sources::{Vars, parse_bool, parse_bounded, split_list};
use super::transport::check_transport;
use crate::algorithm::Algorithm;
use crate::claims::TokenUse;
use reqwest::Url;
use std::path::PathBuf;
use std::time::Duration;

/// The longest `leeway_seconds`.
pub(super) const LEEWAY_MAX: u64 = 300;
/// The longest refresh interval (and minimum refresh interval).
pub(super) const INTERVAL_MAX: u64 = 86_400;
/// The longest kid-miss cooldown.
pub(super) const COOLDOWN_MAX: u64 = 3600;

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
    pub(crate) introspection: Option<IntrospectionSpec>,
    pub(crate) groups_claim: Option<String>,
}

/// The refresh timing of an issuer, in seconds, once checked.
struct Intervals {
    leeway: u64,
    refresh: u64,
    min_refresh: u64,
    cooldown: u64,
}

impl IssuerSpec {
    /// Checks the settings, reporting each problem with the field it is about; settings not given
    /// come from `defaults`. `None` when anything was reported.
    pub(crate) fn check(
        self,
        defaults: &IssuerDefaults,
        allow_http: bool,
        problem: Report<'_>,
    ) -> Option<IssuerConfig> {
        let mut reported = 0;
        let report = &mut |field: Field, message: String| {
            reported += 1;
            problem(field, message);
        };
        let cognito = self.cognito(report);
        let issuer = self.issuer(report);
        let issuer_url = issuer
            .as_deref()
            .and_then(|issuer| match Url::parse(issuer) {
                Ok(url) if matches!(url.scheme(), "https" | "http") => Some(url),
                _ => {
                    report(Field::Issuer, format!("{issuer:?} is not an http(s) URL"));
                    None
                }
            });
        let jwks = self.jwks(issuer_url.as_ref(), cognito, allow_http, report);
        let audiences = self.audiences(cognito, report);
        let algorithms = match &self.algorithms {
            Some(names) => parse_algorithms(names).unwrap_or_else(|message| {
                report(Field::Algorithms, message);
                Vec::new()
            }),
            None => defaults.algorithms.clone(),
        };
        let intervals = self.intervals(defaults, report);
        let required_claims = self.required_claims.unwrap_or_default();
        if required_claims.iter().any(|c| c.trim().is_empty()) {
            report(Field::RequiredClaims, "a claim name is empty".into());
        }
        let name = match (self.name, &issuer_url) {
            (Some(name), _) => Some(name),
            (None, Some(url)) => url.host_str().map(str::to_owned),
            (None, None) => None,
        };
        if let Some(name) = &name
            && let Err(message) = check_name(name)
        {
            report(Field::Name, message);
        }
        // Read (and its keys checked) when the authorizer is built; here only that it is a file.
        let jwks_file = self.jwks_file.map(PathBuf::from);
        if let Some(path) = &jwks_file
            && !path.is_file()
        {
            let message = format!("{} is not a readable file", path.display());
            report(Field::JwksFile, message);
        }
        let introspection = self
            .introspection
            .unwrap_or_default()
            .check(allow_http, report);
        if reported > 0 {
            return None;
        }
        Some(IssuerConfig {
            introspection,
            groups_claim: self.groups_claim,
            name: name?,
            issuer: issuer?,
            jwks: jwks?,
            audiences: audiences?,
            algorithms,
            leeway_seconds: intervals.leeway,
            required_claims,
            refresh_interval: Duration::from_secs(intervals.refresh),
            min_refresh_interval: Duration::from_secs(intervals.min_refresh),
            kid_miss_cooldown: Duration::from_secs(intervals.cooldown),
            cognito,
            jwks_file,
            require_sender_constraint: self
                .require_sender_constraint
                .unwrap_or(defaults.require_sender_constraint),
        })
    }

    /// The `token_use` of a Cognito user pool; settings only a pool has need it.
    fn cognito(&self, report: Report<'_>) -> Option<TokenUse> {
        match self.token_use.as_deref().map(TokenUse::parse) {
            Some(Ok(kind)) => Some(kind),
            Some(Err(message)) => {
                report(Field::TokenUse, message);
                None
            }
            None => {
                if self.user_pool_id.is_some() {
                    let message = "is required for a Cognito user pool: `access`, `id` or `any`";
                    report(Field::TokenUse, message.into());
                }
                if self.client_ids.is_some() {
                    let message = "are for Cognito user pools: set token_use, or use audiences";
                    report(Field::ClientIds, message.into());
                }
                None
            }
        }
    }

    /// The exact `iss`: given, or a user pool's.
    fn issuer(&self, report: Report<'_>) -> Option<String> {
        match (&self.user_pool_id, &self.issuer) {
            (Some(_), Some(_)) => {
                let message = "set either user_pool_id or issuer, not both";
                report(Field::Issuer, message.into());
                None
            }
            (Some(pool), None) => cognito_issuer(pool)
                .map_err(|message| report(Field::UserPoolId, message))
                .ok(),
            (None, Some(issuer)) => Some(issuer.clone()),
            (None, None) => {
                report(Field::Issuer, "is required".into());
                None
            }
        }
    }

    /// Where the keys come from, over a transport the settings allow.
    fn jwks(
        &self,
        issuer: Option<&Url>,
        cognito: Option<TokenUse>,
        allow_http: bool,
        report: Report<'_>,
    ) -> Option<JwksSource> {
        let jwks = match &self.jwks_uri {
            Some(uri) => match Url::parse(uri) {
                Ok(url) => JwksSource::Uri(url),
                Err(e) => {
                    report(Field::JwksUri, format!("{uri:?} is not a URL: {e}"));
                    return None;
                }
            },
            // A user pool's keys are at a fixed place: no discovery round trip at cold start.
            None => {
                let suffix = match cognito {
                    Some(_) => "/.well-known/jwks.json",
                    None => "/.well-known/openid-configuration",
                };
                let base = issuer?.as_str().trim_end_matches('/');
                let url = Url::parse(&format!("{base}{suffix}"))
                    .expect("a valid URL with a path appended");
                match cognito {
                    Some(_) => JwksSource::Uri(url),
                    None => JwksSource::Discovery(url),
                }
            }
        };
        let (field, url) = match &jwks {
            JwksSource::Uri(url) => (Field::JwksUri, url),
            JwksSource::Discovery(url) => (Field::Issuer, url),
        };
        if let Err(message) = check_transport(url, allow_http) {
            report(field, message);
        }
        Some(jwks)
    }

    /// The accepted audiences, or a user pool's app client ids.
    fn audiences(&self, cognito: Option<TokenUse>, report: Report<'_>) -> Option<Vec<String>> {
        let non_empty = |list: &Option<Vec<String>>| list.clone().filter(|l| !l.is_empty());
        // A bad token_use was reported: which list it needed is unknown.
        if self.token_use.is_some() && cognito.is_none() {
            return None;
        }
        match (
            cognito,
            non_empty(&self.audiences),
            non_empty(&self.client_ids),
        ) {
            (Some(_), None, Some(ids)) | (None, Some(ids), None) => Some(ids),
            (Some(_), Some(_), _) => {
                let message = "a Cognito user pool's tokens are checked against client_ids; \
                               remove audiences";
                report(Field::Audiences, message.into());
                None
            }
            (Some(_), None, None) => {
                let message = "is required: the pool's app client ids";
                report(Field::ClientIds, message.into());
                None
            }
            (None, None, _) => {
                report(Field::Audiences, "is required".into());
                None
            }
            // Reported by `cognito`: client ids without a token_use.
            (None, Some(_), Some(_)) => None,
        }
    }

    /// The leeway and the refresh timing, each within its bounds.
    fn intervals(&self, defaults: &IssuerDefaults, report: Report<'_>) -> Intervals {
        let mut seconds = |field, value: Option<u64>, default, max| match value {
            Some(v) if v <= max => v,
            Some(v) => {
                report(field, format!("{v}: use a whole number from 0 to {max}"));
                default
            }
            None => default,
        };
        let leeway = seconds(
            Field::LeewaySeconds,
            self.leeway_seconds,
            defaults.leeway_seconds,
            LEEWAY_MAX,
        );
        let refresh = seconds(
            Field::RefreshIntervalSeconds,
            self.refresh_interval_seconds,
            defaults.refresh_seconds,
            INTERVAL_MAX,
        )
        .max(1);
        let min_refresh = seconds(
            Field::MinRefreshIntervalSeconds,
            self.min_refresh_interval_seconds,
            defaults.min_refresh_seconds,
            INTERVAL_MAX,
        )
        .max(1);
        // Floored at 1 s: 0 would open the penalty box for good, and every made-up kid would
        // cost the issuer a fetch.
        let cooldown = seconds(
            Field::KidMissCooldownSeconds,
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
                Field::MinRefreshIntervalSeconds,
                format!("{min_refresh} is more than the refresh interval ({refresh})"),
            );
        }
        Intervals {
            leeway,
            refresh,
            min_refresh,
            cooldown,
        }
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
    } else if name == crate::report::NO_ISSUER {
        Err(format!(
            "{name:?} is reserved for tokens of unknown issuers"
        ))
    } else {
        Ok(())
    }
}

pub(super) fn parse_algorithms(names: &[String]) -> Result<Vec<Algorithm>, String> {
    if names.is_empty() {
        return Err("name at least one algorithm".into());
    }
    names
        .iter()
        .map(|a| a.trim().parse::<Algorithm>().map_err(|e| e.to_string()))
        .collect()
}
