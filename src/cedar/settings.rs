//! The Cedar settings: the variables `CEDAR_POLICIES`, `CEDAR_SCHEMA`, `CEDAR_NAMESPACE`,
//! `CEDAR_ROUTES`, `API_DEFINITION` and `CEDAR_GROUPS_CLAIM`, or the `[cedar]` table of
//! `CONFIG_FILE` (with `groups_claim` per issuer), turned into an [`Engine`] at start-up.

use super::Engine;
use super::context;
use super::expr::conditions;
use super::load::{self, Loaded};
use super::model::{IssuerModel, Model};
use super::routes::{self, Route, Routes};
use cedar_policy::{Effect, Entities, EntityUid, Schema};
use cedar_policy_core::extensions::Extensions;
use serde::Deserialize;
use std::path::Path;

/// The variables, in the order of problems: each problem names one.
pub const ENV_VARIABLES: [&str; 6] = [
    "CEDAR_POLICIES",
    "CEDAR_SCHEMA",
    "CEDAR_NAMESPACE",
    "CEDAR_ROUTES",
    "API_DEFINITION",
    "CEDAR_GROUPS_CLAIM",
];

/// The `[cedar]` table of `CONFIG_FILE`: the same settings under shorter names.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    policies: Option<String>,
    schema: Option<String>,
    namespace: Option<String>,
    #[serde(default)]
    routes: Vec<String>,
    api_definition: Option<String>,
    groups_claim: Option<String>,
}

/// What the request model needs of a configured issuer.
pub struct CedarIssuer<'a> {
    /// Its name in metrics and logs.
    pub name: &'a str,
    /// Its exact `iss`.
    pub issuer: &'a str,
    /// An Amazon Cognito user pool.
    pub cognito: bool,
    /// Its own groups claim (the file's `groups_claim`).
    pub groups_claim: Option<&'a str>,
}

/// A problem, with the variable it is reported under.
pub type SettingProblem = (&'static str, String);

/// Builds the engine from the variables (`get`) or `CONFIG_FILE`'s `[cedar]` table (`file`:
/// its path as shown, and the table); `None` when neither names policies.
///
/// # Errors
/// Every problem, each under its variable (`CONFIG_FILE` for the table's).
pub fn from_settings(
    get: &dyn Fn(&str) -> Option<String>,
    file: Option<(String, serde_json::Value)>,
    issuers: &[CedarIssuer<'_>],
    scope_claims: &[String],
) -> Result<Option<Engine>, Vec<SettingProblem>> {
    let mut problems: Vec<SettingProblem> = Vec::new();
    let (settings, source) = read(get, file, &mut problems).ok_or_else(|| problems.clone())?;
    let Some(policies) = &settings.policies else {
        for (variable, set) in [
            ("CEDAR_SCHEMA", settings.schema.is_some()),
            ("CEDAR_ROUTES", !settings.routes.is_empty()),
            ("API_DEFINITION", settings.api_definition.is_some()),
        ] {
            if set {
                let message = "needs CEDAR_POLICIES (policies)".to_owned();
                problems.push((source.variable(variable), message));
            }
        }
        return if problems.is_empty() {
            Ok(None)
        } else {
            Err(problems)
        };
    };

    let loaded = load::load(
        Path::new(policies),
        settings.schema.as_deref().map(Path::new),
    );
    let Loaded {
        policies,
        schema,
        mut warnings,
    } = match loaded {
        Ok(loaded) => loaded,
        Err(found) => {
            // A schema's problems are its variable's; the policies' and the validator's, the policies'.
            for message in found {
                let about_schema = settings
                    .schema
                    .as_deref()
                    .is_some_and(|s| message.starts_with(s));
                let variable = if about_schema {
                    "CEDAR_SCHEMA"
                } else {
                    "CEDAR_POLICIES"
                };
                problems.push((source.variable(variable), message));
            }
            return Err(problems);
        }
    };
    let list = route_list(&settings, schema.as_ref(), source, &mut problems);
    let namespace = match &settings.namespace {
        Some(namespace) => namespace.clone(),
        None => schema.as_ref().map(schema_namespace).unwrap_or_default(),
    };
    // Verified Permissions' authorizer names the API `{namespace}::Application::"{namespace}"`.
    let application = if namespace.is_empty() {
        "Application"
    } else {
        &namespace
    };
    let model = match Model::new(&namespace, application) {
        Ok(model) => Some(model),
        Err(message) => {
            problems.push((source.variable("CEDAR_NAMESPACE"), message));
            None
        }
    };
    let actions = match schema.as_ref().map(Schema::action_entities) {
        Some(Ok(actions)) => actions,
        Some(Err(e)) => {
            problems.push((source.variable("CEDAR_SCHEMA"), e.to_string()));
            Entities::empty()
        }
        None => Entities::empty(),
    };
    let written: Vec<&cedar_policy::Policy> = policies.policies().collect();
    let request_reads = request_reads(&written, source, &mut problems);
    let (Some(model), true) = (model, problems.is_empty()) else {
        return Err(problems);
    };

    let routes = Routes::new(list);
    let route_actions: Vec<EntityUid> = routes
        .list()
        .iter()
        .map(|r| model.action(&r.action))
        .collect();
    warnings.extend(lints(
        &routes,
        &route_actions,
        &policies,
        schema.as_ref(),
        &actions,
    ));
    let issuers = issuers
        .iter()
        .map(|issuer| issuer_model(issuer, settings.groups_claim.as_deref(), scope_claims))
        .collect();
    let ids = policies
        .policies()
        .map(|p| &*Box::leak(AsRef::<str>::as_ref(p.id()).to_owned().into_boxed_str()))
        .collect();
    let sweep = super::sweep::Sweep::new(&written, &route_actions, &actions, &model);
    let extensions = if written
        .iter()
        .filter_map(|policy| conditions(policy))
        .any(super::expr::calls_extension)
    {
        Extensions::all_available()
    } else {
        Extensions::none()
    };
    // Whole policies test ancestry in their scopes (`principal in`, `action in`).
    let uses = super::uses::Uses {
        ancestry: true,
        ..super::uses::Uses::of(written.iter().filter_map(|policy| conditions(policy)))
    };
    Ok(Some(Engine {
        policies,
        actions,
        model,
        routes,
        route_actions,
        issuers,
        ids,
        extensions,
        warnings,
        request_reads,
        sweep,
        uses,
    }))
}

/// The policies that read the request's context (`pathParameters`, or the whole record), by id
/// (the configuration then asks for `POLICY_RESOURCE=method`). A read of anything else is a
/// problem: the context holds nothing else, and Cedar skips a policy whose evaluation fails, so a
/// `forbid` reading it would never apply.
fn request_reads(
    written: &[&cedar_policy::Policy],
    source: Source,
    problems: &mut Vec<SettingProblem>,
) -> Vec<(String, String)> {
    let mut reads = Vec::new();
    for policy in written {
        let id: &str = policy.id().as_ref();
        let read = conditions(policy).map(context::request_reads);
        for attribute in read.into_iter().flatten() {
            if attribute == context::PATH_PARAMETERS || attribute == context::WHOLE {
                reads.push((id.to_owned(), attribute));
            } else {
                problems.push((
                    source.variable("CEDAR_POLICIES"),
                    format!(
                        "policy {id:?} reads context.{attribute}: the context holds `token` (the \
                         token's claims) and, for policies evaluated per request, \
                         `pathParameters`; nothing else of the request"
                    ),
                ));
            }
        }
    }
    reads
}

/// Where the settings came from: what a problem is reported under.
#[derive(Clone, Copy)]
enum Source {
    /// The variables: each problem under its own.
    Environment,
    /// `CONFIG_FILE`'s `[cedar]` table: every problem under `CONFIG_FILE`.
    File,
}

impl Source {
    fn variable(self, variable: &'static str) -> &'static str {
        match self {
            Source::Environment => variable,
            Source::File => "CONFIG_FILE",
        }
    }
}

/// The settings as written, from the variables or the table; `None` when the table is not one.
fn read(
    get: &dyn Fn(&str) -> Option<String>,
    file: Option<(String, serde_json::Value)>,
    problems: &mut Vec<SettingProblem>,
) -> Option<(FileSettings, Source)> {
    let Some((shown, table)) = file else {
        let settings = FileSettings {
            policies: get("CEDAR_POLICIES"),
            schema: get("CEDAR_SCHEMA"),
            namespace: get("CEDAR_NAMESPACE"),
            routes: get("CEDAR_ROUTES").into_iter().collect(),
            api_definition: get("API_DEFINITION"),
            groups_claim: get("CEDAR_GROUPS_CLAIM"),
        };
        return Some((settings, Source::Environment));
    };
    for variable in ENV_VARIABLES {
        if get(variable).is_some() {
            let message = "CONFIG_FILE has a [cedar] table: set it there, or remove the table";
            problems.push((variable, message.to_owned()));
        }
    }
    match FileSettings::deserialize(table) {
        Ok(settings) => Some((settings, Source::File)),
        Err(e) => {
            problems.push(("CONFIG_FILE", format!("{shown}: [cedar]: {e}")));
            None
        }
    }
}

/// The API's routes: `CEDAR_ROUTES` and `API_DEFINITION`'s, else the schema's actions.
fn route_list(
    settings: &FileSettings,
    schema: Option<&Schema>,
    source: Source,
    problems: &mut Vec<SettingProblem>,
) -> Vec<Route> {
    let mut list: Vec<Route> = Vec::new();
    for item in &settings.routes {
        match routes::parse_list(item) {
            Ok(mut found) => list.append(&mut found),
            Err(found) => {
                let variable = source.variable("CEDAR_ROUTES");
                problems.extend(found.into_iter().map(|p| (variable, p)));
            }
        }
    }
    if let Some(path) = &settings.api_definition {
        match routes::from_openapi(Path::new(path)) {
            Ok((mut found, _title)) => list.append(&mut found),
            Err(found) => {
                let variable = source.variable("API_DEFINITION");
                problems.extend(found.into_iter().map(|p| (variable, p)));
            }
        }
    }
    // An API-linked policy store's schema names an action per route: the routes, when none are given.
    if list.is_empty()
        && problems.is_empty()
        && let Some(schema) = schema
    {
        list.extend(schema.actions().filter_map(|a| {
            let (method, path) = a.id().unescaped().split_once(' ')?;
            Route::new(method, path).ok()
        }));
    }
    if list.is_empty() && problems.is_empty() {
        problems.push((
            source.variable("CEDAR_ROUTES"),
            "Cedar policies need the API's routes: set CEDAR_ROUTES (`GET /pets; POST /pets`) or \
             API_DEFINITION (an OpenAPI 3 document), or give a schema whose actions are routes \
             (`get /pets`)"
                .to_owned(),
        ));
    }
    list
}

/// The namespace of the schema's actions, when they all share one.
fn schema_namespace(schema: &Schema) -> String {
    let mut namespaces = schema.actions().map(|a| a.type_name().namespace());
    let first = namespaces.next().unwrap_or_default();
    if namespaces.all(|n| n == first) {
        first
    } else {
        String::new()
    }
}

/// The principal prefix and groups claim of an issuer, as Verified Permissions sets them: a
/// Cognito user pool's id and `cognito:groups`; otherwise the issuer's name and `groups`.
fn issuer_model(
    issuer: &CedarIssuer<'_>,
    groups_claim: Option<&str>,
    scopes: &[String],
) -> IssuerModel {
    let cognito = issuer.cognito;
    let prefix = if cognito {
        issuer
            .issuer
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned()
    } else {
        issuer.name.to_owned()
    };
    let default_groups = if cognito { "cognito:groups" } else { "groups" };
    IssuerModel {
        prefix,
        groups_claim: issuer
            .groups_claim
            .or(groups_claim)
            .unwrap_or(default_groups)
            .to_owned(),
        scope_claims: scopes.to_vec(),
    }
}

/// What `policy check` points out besides the validator's warnings: routes no policy can permit,
/// routes the schema has no action for, and routes an IAM policy cannot tell apart.
fn lints(
    routes: &Routes,
    route_actions: &[EntityUid],
    policies: &cedar_policy::PolicySet,
    schema: Option<&Schema>,
    actions: &Entities,
) -> Vec<String> {
    let mut lints = Vec::new();
    let permits: Vec<_> = policies
        .policies()
        .filter(|p| p.effect() == Effect::Permit)
        .map(cedar_policy::Policy::action_constraint)
        .collect();
    for (route, action) in routes.list().iter().zip(route_actions) {
        if !permits
            .iter()
            .any(|permit| super::sweep::matches(permit, action, actions))
        {
            lints.push(format!(
                "route {:?}: no policy permits it (every call is denied)",
                route.action
            ));
        }
        if let Some(schema) = schema
            && !schema.actions().any(|a| a == action)
        {
            lints.push(format!(
                "route {:?}: the schema has no action {action}, so no validated policy names it",
                route.action
            ));
        }
    }
    for route in routes.ambiguous() {
        lints.push(format!(
            "route {:?}: its IAM pattern {:?} covers other routes' paths and theirs cover its \
             own, so a cached policy may answer it wrongly when it is denied and they are \
             permitted (the route called is always answered right; use TTL 0 for such APIs)",
            route.action, route.pattern
        ));
    }
    lints
}
