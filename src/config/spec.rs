//! The rules of one issuer: its settings as written (in `CONFIG_FILE` or the environment),
//! checked into an [`IssuerConfig`], every problem reported against the field it is about.

use super::issuer::{IssuerConfig, IssuerDefaults, JwksSource};
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

/// A field of an issuer's settings that a problem can be about. It knows its key in `CONFIG_FILE`
/// and its variable in the single-issuer environment, so that no problem can be blamed on the
/// wrong one (both matches are exhaustive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Name,
    Issuer,
    UserPoolId,
    JwksUri,
    Audiences,
    ClientIds,
    TokenUse,
    RequiredClaims,
    Algorithms,
    LeewaySeconds,
    RefreshIntervalSeconds,
    MinRefreshIntervalSeconds,
    KidMissCooldownSeconds,
    JwksFile,
}

impl Field {
    /// Every field, in the order of [`IssuerSpec`]'s members (`require_sender_constraint`, a
    /// boolean, has no problem to report).
    #[cfg(test)]
    pub(crate) const ALL: [Field; 14] = [
        Field::Name,
        Field::Issuer,
        Field::JwksUri,
        Field::Audiences,
        Field::Algorithms,
        Field::LeewaySeconds,
        Field::RequiredClaims,
        Field::RefreshIntervalSeconds,
        Field::MinRefreshIntervalSeconds,
        Field::KidMissCooldownSeconds,
        Field::UserPoolId,
        Field::TokenUse,
        Field::ClientIds,
        Field::JwksFile,
    ];

    /// The field's key in `CONFIG_FILE`.
    pub(crate) const fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Issuer => "issuer",
            Field::UserPoolId => "user_pool_id",
            Field::JwksUri => "jwks_uri",
            Field::Audiences => "audiences",
            Field::ClientIds => "client_ids",
            Field::TokenUse => "token_use",
            Field::RequiredClaims => "required_claims",
            Field::Algorithms => "algorithms",
            Field::LeewaySeconds => "leeway_seconds",
            Field::RefreshIntervalSeconds => "refresh_interval_seconds",
            Field::MinRefreshIntervalSeconds => "min_refresh_interval_seconds",
            Field::KidMissCooldownSeconds => "kid_miss_cooldown_seconds",
            Field::JwksFile => "jwks_file",
        }
    }

    /// The environment variable that sets it for the single issuer (a user pool's id is given
    /// as its `TOKEN_ISSUER` URL, and its client ids as `AUDIENCE`).
    pub(crate) const fn variable(self) -> &'static str {
        match self {
            Field::Name => "ISSUER_NAME",
            Field::Issuer | Field::UserPoolId => "TOKEN_ISSUER",
            Field::JwksUri => "JWKS_URI",
            Field::Audiences | Field::ClientIds => "AUDIENCE",
            Field::TokenUse => "TOKEN_USE",
            Field::RequiredClaims => "REQUIRED_CLAIMS",
            Field::Algorithms => "ALLOWED_ALGORITHMS",
            Field::LeewaySeconds => "CLOCK_SKEW_LEEWAY_SECONDS",
            Field::RefreshIntervalSeconds => "JWKS_REFRESH_INTERVAL_SECONDS",
            Field::MinRefreshIntervalSeconds => "JWKS_MIN_REFRESH_INTERVAL_SECONDS",
            Field::KidMissCooldownSeconds => "JWKS_KID_MISS_COOLDOWN_SECONDS",
            Field::JwksFile => "JWKS_FILE",
        }
    }
}

/// A problem with one field: where it is reported is the caller's choice (a variable, or the
/// file, the issuer and the key).
pub(super) type Report<'a> = &'a mut dyn FnMut(Field, String);

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
        if reported > 0 {
            return None;
        }
        Some(IssuerConfig {
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
