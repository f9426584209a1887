//! The trusted issuers: one from `TOKEN_ISSUER`, `JWKS_URI` and `AUDIENCE` (with the optional
//! variables of the single-issuer form), or those of `CONFIG_FILE`.

use super::field::Field;
use super::file;
use super::introspection::IntrospectionSpec;
use super::issuer::IssuerConfig;
use super::sources::{Vars, split_list};
use super::spec::{IssuerDefaults, IssuerSpec};
use super::variables::VARIABLES;
use crate::policy::RouteRule;
use std::path::Path;

/// The issuer variables of the three-variable set-up; `CONFIG_FILE` replaces them.
const ENV_ISSUER_VARIABLES: [&str; 16] = [
    "TOKEN_ISSUER",
    "JWKS_URI",
    "AUDIENCE",
    "ISSUER_NAME",
    "TOKEN_USE",
    "REQUIRED_CLAIMS",
    "JWKS_FILE",
    "INTROSPECT",
    "INTROSPECTION_ENDPOINT",
    "INTROSPECTION_CLIENT_ID",
    "INTROSPECTION_CLIENT_SECRET",
    "INTROSPECTION_CLIENT_SECRET_FILE",
    "INTROSPECTION_CACHE_SECONDS",
    "INTROSPECTION_FAIL_OPEN",
    "INTROSPECTION_TIMEOUT_MS",
    "INTROSPECTION_MAX_CALLS_PER_SECOND",
];

/// What the issuers' source gave: the issuers, and from `CONFIG_FILE` its route rules and its
/// `[cedar]` table (with the file's path as shown).
pub(super) struct Issuers {
    pub(super) issuers: Vec<IssuerConfig>,
    pub(super) routes: Vec<RouteRule>,
    pub(super) cedar_table: Option<(String, serde_json::Value)>,
}

/// The issuers, from `CONFIG_FILE` when it is set, else the single issuer of the environment.
pub(super) fn read_issuers(
    vars: &mut Vars<'_>,
    defaults: &IssuerDefaults,
    allow_http: bool,
) -> Issuers {
    let mut read = Issuers {
        issuers: Vec::new(),
        routes: Vec::new(),
        cedar_table: None,
    };
    let Some(path) = vars.get("CONFIG_FILE") else {
        read.issuers.extend(env_issuer(vars, defaults, allow_http));
        return read;
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
        Ok(file) => {
            read.issuers = file.issuers;
            read.routes = file.routes;
            read.cedar_table = file.cedar.map(|table| (path, table));
        }
        Err(messages) => {
            for message in messages {
                vars.problem("CONFIG_FILE", message);
            }
        }
    }
    read
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
    let mut introspection_problems = Vec::new();
    let introspection = IntrospectionSpec::from_env(|v| vars.get(v), &mut |field, message| {
        introspection_problems.push((field, message));
    });
    let spec = IssuerSpec {
        introspection,
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
    let mut problem = |field: Field, message: String| {
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
    };
    for (field, message) in introspection_problems {
        problem(field, message);
    }
    spec.check(defaults, allow_http, &mut problem)
}
