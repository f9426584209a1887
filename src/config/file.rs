//! `CONFIG_FILE`: several issuers and route rules in one TOML or JSON file, checked as a whole.
//! Every problem names the file, the issuer (or route) and the field.

use super::issuer::IssuerConfig;
use super::spec::{IssuerDefaults, IssuerSpec};
use crate::claims::MAX_ISSUERS;
use crate::policy::RouteRule;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// What a configuration file holds, once checked.
pub(crate) struct ConfigFile {
    pub(crate) issuers: Vec<IssuerConfig>,
    pub(crate) routes: Vec<RouteRule>,
    /// The `[cedar]` table, checked by `crate::cedar` (issue 18).
    pub(crate) cedar: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default, alias = "issuers")]
    issuer: Vec<IssuerSpec>,
    #[serde(default, alias = "routes")]
    route: Vec<RouteSpec>,
    #[serde(default)]
    cedar: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    route: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    issuers: Vec<String>,
    #[serde(default)]
    claims: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    introspect: bool,
}

/// A claim value a route needs: one, or several (all needed).
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// Reads and checks the file: `.json` files are JSON, anything else TOML.
///
/// # Errors
/// Every problem found, each naming the file, the issuer or route, and the field.
pub(crate) fn read(
    path: &Path,
    defaults: &IssuerDefaults,
    allow_http: bool,
) -> Result<ConfigFile, Vec<String>> {
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|e| vec![format!("{shown}: cannot be read: {e}")])?;
    let spec: FileSpec = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        serde_json::from_str(&text).map_err(|e| vec![format!("{shown}: {e}")])?
    } else {
        toml::from_str(&text).map_err(|e| vec![format!("{shown}: {}", e.to_string().trim_end())])?
    };

    let mut problems = Vec::new();
    if spec.issuer.is_empty() {
        problems.push(format!("{shown}: lists no issuer; add an [[issuer]] table"));
    }
    if spec.issuer.len() > MAX_ISSUERS {
        problems.push(format!("{shown}: lists more than {MAX_ISSUERS} issuers"));
    }
    let mut issuers: Vec<IssuerConfig> = Vec::new();
    // Every issuer's name as the file gives it (its `name`, or its URL's host), broken or not: a
    // route naming an issuer whose own settings are wrong is not also "not an issuer of this file".
    let mut written_names: Vec<String> = Vec::new();
    for (i, issuer) in spec.issuer.into_iter().enumerate() {
        let written_name = issuer.name.clone().or_else(|| {
            let url = url::Url::parse(issuer.issuer.as_deref()?).ok()?;
            url.host_str().map(str::to_owned)
        });
        written_names.extend(written_name);
        let label = match (&issuer.name, &issuer.issuer, &issuer.user_pool_id) {
            (Some(name), ..) => format!("issuer {name:?}"),
            (None, Some(iss), _) => format!("issuer {iss:?}"),
            (None, None, Some(pool)) => format!("issuer {pool:?}"),
            (None, None, None) => format!("issuer #{}", i + 1),
        };
        let checked = issuer.check(defaults, allow_http, &mut |field, message| {
            problems.push(format!("{shown}: {label}: {}: {message}", field.key()));
        });
        let Some(checked) = checked else { continue };
        if let Some(other) = issuers.iter().find(|o| o.issuer == checked.issuer) {
            problems.push(format!(
                "{shown}: {label}: issuer: {:?} is also issuer {:?}'s: each `iss` selects one issuer",
                checked.issuer, other.name
            ));
        } else if issuers.iter().any(|o| o.name == checked.name) {
            problems.push(format!(
                "{shown}: {label}: name: {:?} names another issuer too; set distinct names",
                checked.name
            ));
        } else {
            issuers.push(checked);
        }
    }

    let mut routes = Vec::new();
    for route in spec.route {
        let label = format!("route {:?}", route.route);
        for name in &route.issuers {
            if !written_names.contains(name) {
                problems.push(format!(
                    "{shown}: {label}: issuers: {name:?} is not the name of an issuer of this file"
                ));
            }
        }
        let claims = route
            .claims
            .into_iter()
            .map(|(name, values)| match values {
                OneOrMany::One(value) => (name, vec![value]),
                OneOrMany::Many(values) => (name, values),
            })
            .collect();
        let rule = if route.introspect {
            RouteRule::introspecting(&route.route, route.scopes, route.issuers, claims)
        } else {
            RouteRule::new(&route.route, route.scopes, route.issuers, claims)
        };
        match rule {
            Ok(rule) => routes.push(rule),
            Err(message) => problems.push(format!("{shown}: {label}: {message}")),
        }
    }
    if problems.is_empty() {
        Ok(ConfigFile {
            issuers,
            routes,
            cedar: spec.cedar,
        })
    } else {
        Err(problems)
    }
}
