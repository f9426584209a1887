//! The routes the authorizer knows, each a Cedar action (`get /pets/{petId}`) and an IAM resource
//! pattern (`GET/pets/*`): from `CEDAR_ROUTES` (`GET /pets; GET /pets/{petId}`) or an OpenAPI 3
//! document (`API_DEFINITION`, JSON or YAML).
//!
//! A cache miss evaluates every known route and writes one policy for all of them: Allow on the
//! permitted routes' patterns and Deny on the others' (see [`Statements`]). IAM's `*` spans `/`,
//! so a pattern can cover another route's paths (`GET/pets/*` covers `GET /pets/1/photos`): a Deny
//! that would cover a permitted route is left out, and that route is then denied by having no Allow.

use crate::policy::{MethodArn, Segment, wildcard_match};
use std::path::Path;

/// The HTTP methods a route may name (`ANY`: every method, as API Gateway's `ANY` method).
const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "ANY",
];

/// One route of the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// `GET`, ..., or `ANY`.
    pub method: String,
    /// The path template as API Gateway writes it: `/pets/{petId}`.
    pub template: String,
    /// The Cedar action id, as Verified Permissions' API-linked policy stores name it: the method
    /// in lower case, a space, the template (`get /pets/{petId}`).
    pub action: String,
    /// The IAM resource pattern after `{api}/{stage}/`: `GET/pets/*` (`*/...` for `ANY`).
    pub pattern: String,
    /// A path of this route, for checking what a set of patterns answers for it: each parameter
    /// is `x` (`x/x` for a greedy one).
    sample: String,
}

impl Route {
    /// A route from its method and path template.
    ///
    /// # Errors
    /// What is wrong with the method or the path.
    pub fn new(method: &str, template: &str) -> Result<Self, String> {
        let method = method.trim().to_ascii_uppercase();
        let method = if method == "*" || method == "X-AMAZON-APIGATEWAY-ANY-METHOD" {
            "ANY".to_owned()
        } else {
            method
        };
        if !METHODS.contains(&method.as_str()) {
            return Err(format!("unknown method {method:?}"));
        }
        let template = template.trim();
        if !template.starts_with('/') || template.contains(char::is_whitespace) {
            return Err(format!("the path {template:?} must start with `/`"));
        }
        let segments: Vec<&str> = template[1..].split('/').collect();
        let mut pattern_path = Vec::with_capacity(segments.len());
        let mut sample_path = Vec::with_capacity(segments.len());
        for (i, segment) in segments.iter().enumerate() {
            match Segment::of(segment) {
                Segment::Literal(_) if segment.contains(['{', '}', '*', '?']) => {
                    return Err(format!(
                        "{template:?}: a segment is a literal or a whole `{{parameter}}`"
                    ));
                }
                Segment::Greedy if i + 1 != segments.len() => {
                    return Err(format!(
                        "{template:?}: `{{name+}}` must be the last segment"
                    ));
                }
                Segment::Literal(literal) => {
                    pattern_path.push(literal);
                    sample_path.push(literal);
                }
                Segment::Parameter => {
                    pattern_path.push("*");
                    sample_path.push("x");
                }
                Segment::Greedy => {
                    pattern_path.push("*");
                    sample_path.push("x/x");
                }
            }
        }
        let iam_method = if method == "ANY" { "*" } else { &method };
        Ok(Route {
            action: format!("{} {template}", method.to_ascii_lowercase()),
            pattern: format!("{iam_method}/{}", pattern_path.join("/")),
            sample: format!("{method}/{}", sample_path.join("/")),
            template: template.to_owned(),
            method,
        })
    }

    /// How well this route matches a call of `method` on the concrete `path` (a method ARN's,
    /// without its leading `/`): `None` when it does not; otherwise higher is more specific, so
    /// that the route API Gateway would pick wins (literal segments over parameters over a
    /// greedy parameter, a method over `ANY`).
    fn matches(&self, method: &str, path: &str) -> Option<u32> {
        if self.method != "ANY" && !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        let mut score = u32::from(self.method != "ANY");
        let mut called = path.split('/');
        for segment in self.template[1..].split('/') {
            match Segment::of(segment) {
                Segment::Greedy => {
                    return called.next().filter(|s| !s.is_empty()).map(|_| score);
                }
                Segment::Parameter => {
                    called.next().filter(|s| !s.is_empty())?;
                    score += 2;
                }
                Segment::Literal(literal) => {
                    if called.next()? != literal {
                        return None;
                    }
                    score += 4;
                }
            }
        }
        called.next().is_none().then_some(score)
    }
}

/// Parses a `;`-separated route list: `GET /pets; POST /pets; GET /pets/{petId}`.
///
/// # Errors
/// One message per bad route.
pub fn parse_list(list: &str) -> Result<Vec<Route>, Vec<String>> {
    let mut routes = Vec::new();
    let mut problems = Vec::new();
    for item in list.split(';').map(str::trim).filter(|r| !r.is_empty()) {
        let parsed = item
            .split_once(' ')
            .ok_or_else(|| "write `METHOD /path`, as in `GET /pets/{petId}`".to_owned())
            .and_then(|(method, path)| Route::new(method, path));
        match parsed {
            Ok(route) => routes.push(route),
            Err(why) => problems.push(format!("route {item:?}: {why}")),
        }
    }
    if problems.is_empty() {
        Ok(routes)
    } else {
        Err(problems)
    }
}

/// The routes of an OpenAPI 3 document (JSON, or YAML unless the name ends in `.json`): every
/// operation of `paths`, with API Gateway's `x-amazon-apigateway-any-method` as `ANY`; and the
/// document's `info.title`.
///
/// # Errors
/// Messages naming the file and what is wrong.
pub fn from_openapi(path: &Path) -> Result<(Vec<Route>, Option<String>), Vec<String>> {
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|e| vec![format!("{shown}: cannot be read: {e}")])?;
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let document = if json {
        serde_json::from_str(&text).map_err(|e| vec![format!("{shown}: {e}")])?
    } else {
        super::yaml::to_json(&text).map_err(|e| vec![format!("{shown}: {e}")])?
    };
    routes_of_document(&document).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| format!("{shown}: {p}"))
            .collect()
    })
}

/// The routes and title of a parsed OpenAPI document.
fn routes_of_document(
    document: &serde_json::Value,
) -> Result<(Vec<Route>, Option<String>), Vec<String>> {
    let version = document.get("openapi").and_then(|v| v.as_str());
    if !version.is_some_and(|v| v.starts_with("3.")) {
        return Err(vec![
            "is not an OpenAPI 3 document (no `openapi: 3.x` member)".to_owned(),
        ]);
    }
    let Some(paths) = document.get("paths").and_then(|p| p.as_object()) else {
        return Err(vec!["has no `paths` object".to_owned()]);
    };
    let mut routes = Vec::new();
    let mut problems = Vec::new();
    for (template, item) in paths {
        let Some(item) = item.as_object() else {
            problems.push(format!("paths.{template}: is not an object"));
            continue;
        };
        for method in item.keys() {
            let upper = method.to_ascii_uppercase();
            let known = METHODS.contains(&upper.as_str()) && upper != "ANY";
            if !known && method != "x-amazon-apigateway-any-method" {
                continue; // `parameters`, `summary`, `servers`, other extensions
            }
            match Route::new(method, template) {
                Ok(route) => routes.push(route),
                Err(why) => problems.push(format!("paths.{template}.{method}: {why}")),
            }
        }
    }
    if routes.is_empty() && problems.is_empty() {
        problems.push("`paths` has no operation".to_owned());
    }
    let title = document
        .pointer("/info/title")
        .and_then(|t| t.as_str())
        .map(str::to_owned);
    if problems.is_empty() {
        Ok((routes, title))
    } else {
        Err(problems)
    }
}

/// The known routes.
#[derive(Clone, Debug, Default)]
pub struct Routes {
    list: Vec<Route>,
}

impl Routes {
    /// The routes, duplicates (same method and template) dropped.
    pub fn new(routes: impl IntoIterator<Item = Route>) -> Self {
        let mut list: Vec<Route> = Vec::new();
        for route in routes {
            if !list.iter().any(|r| r.action == route.action) {
                list.push(route);
            }
        }
        Routes { list }
    }

    /// The routes, in order.
    pub fn list(&self) -> &[Route] {
        &self.list
    }

    /// Which known route was called: by the route template the event names (REQUEST and HTTP API
    /// events), else by matching the ARN's method and path against every template.
    pub fn called(&self, arn: MethodArn<'_>, route: Option<(&str, &str)>) -> Option<usize> {
        if let Some((method, template)) = route
            && method != "$default"
        {
            let found = self
                .list
                .iter()
                .position(|r| r.method.eq_ignore_ascii_case(method) && r.template == template);
            if found.is_some() {
                return found;
            }
        }
        self.list
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.matches(arn.method, arn.path).map(|score| (score, i)))
            .max_by_key(|&(score, i)| (score, std::cmp::Reverse(i)))
            .map(|(_, i)| i)
    }

    /// Routes that a cached policy may answer wrongly: the route's pattern covers another
    /// route's paths (so its Deny is left out when that route is permitted), and another route's
    /// pattern covers its paths (so that route's Allow lets it through). `GET /{kind}/photos`
    /// beside `GET /pets/{petId}/photos` and `GET /{kind}/{id}` is one. The policy is always
    /// right for the route called; for such a route called later from the cache, maybe not.
    pub fn ambiguous(&self) -> Vec<&Route> {
        self.list
            .iter()
            .filter(|route| {
                let mut others = self.list.iter().filter(|o| o.action != route.action);
                let covers = others
                    .clone()
                    .any(|o| wildcard_match(&route.pattern, &o.sample));
                covers && others.any(|o| wildcard_match(&o.pattern, &route.sample))
            })
            .collect()
    }
}

/// The two statements of a compiled policy, as IAM resource patterns after `{api}/{stage}/`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Statements<'r> {
    /// Allowed: the permitted routes' patterns.
    pub allow: Vec<&'r str>,
    /// Denied: the other routes' patterns, except those that would cover a permitted route.
    pub deny: Vec<&'r str>,
}

impl<'r> Statements<'r> {
    /// The statements for `permitted[i]`, the decision on route `i`. A Deny that covers a
    /// permitted route's path is left out (IAM's explicit Deny would win over that route's
    /// Allow); the route it was for is then denied by having no Allow, unless a permitted
    /// route's pattern covers it too (see [`Routes::indistinct_pairs`]).
    pub fn compile(routes: &'r Routes, permitted: &[bool]) -> Self {
        let mut statements = Statements::default();
        for (route, &allowed) in routes.list.iter().zip(permitted) {
            if allowed {
                statements.allow.push(&route.pattern);
            } else {
                let covers_permitted = routes
                    .list
                    .iter()
                    .zip(permitted)
                    .any(|(other, &ok)| ok && wildcard_match(&route.pattern, &other.sample));
                if !covers_permitted {
                    statements.deny.push(&route.pattern);
                }
            }
        }
        statements.allow.dedup();
        statements.deny.dedup();
        statements
    }

    /// What IAM answers for a call of `method_path` (`GET/pets/1`): explicit Deny wins, then
    /// Allow, else (no statement) deny.
    pub fn allows(&self, method_path: &str) -> bool {
        !self.deny.iter().any(|p| wildcard_match(p, method_path))
            && self.allow.iter().any(|p| wildcard_match(p, method_path))
    }

    /// Drops the Deny patterns that cover a call that is permitted, so that the route called is
    /// always answered right.
    pub fn keep_permitted(&mut self, method_path: &str) {
        self.deny.retain(|p| !wildcard_match(p, method_path));
    }

    /// Whether these statements answer every route's sample path as decided.
    pub fn agrees_with(&self, routes: &Routes, permitted: &[bool]) -> bool {
        routes
            .list
            .iter()
            .zip(permitted)
            .all(|(route, &allowed)| self.allows(&route.sample) == allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(list: &str) -> Routes {
        Routes::new(parse_list(list).unwrap())
    }

    #[test]
    fn a_route_is_an_action_named_like_verified_permissions_and_an_iam_pattern() {
        let route = Route::new("get", "/pets/{petId}").unwrap();
        assert_eq!(route.action, "get /pets/{petId}");
        assert_eq!(route.pattern, "GET/pets/*");
        let any = Route::new("x-amazon-apigateway-any-method", "/admin/{proxy+}").unwrap();
        assert_eq!(
            (any.action.as_str(), any.pattern.as_str()),
            ("any /admin/{proxy+}", "*/admin/*")
        );
        assert_eq!(Route::new("GET", "/").unwrap().pattern, "GET/");
        for (method, path) in [
            ("FETCH", "/pets"),
            ("GET", "pets"),
            ("GET", "/pets/{a+}/x"),
            ("GET", "/pets/a*"),
        ] {
            assert!(Route::new(method, path).is_err(), "{method} {path}");
        }
        let err = parse_list("GET /pets; /pets; DELETE").unwrap_err();
        assert_eq!(err.len(), 2, "{err:?}");
    }

    #[test]
    fn the_called_route_is_the_template_the_event_names_or_the_most_specific_match() {
        let r = routes("GET /pets; GET /pets/{petId}; GET /pets/mine; ANY /{proxy+}; POST /pets");
        let arn = |full: &'static str| MethodArn::parse(full).unwrap();
        let base = "arn:aws:execute-api:us-east-1:1:api/prod/";
        let at = |s: &str| format!("{base}{s}");
        let called = |path: &str, route| {
            let full = at(path);
            r.called(arn(Box::leak(full.into_boxed_str())), route)
                .map(|i| r.list()[i].action.clone())
        };
        assert_eq!(called("GET/pets", None).as_deref(), Some("get /pets"));
        assert_eq!(
            called("GET/pets/7", None).as_deref(),
            Some("get /pets/{petId}")
        );
        assert_eq!(
            called("GET/pets/mine", None).as_deref(),
            Some("get /pets/mine")
        );
        assert_eq!(
            called("GET/pets/7/photos", None).as_deref(),
            Some("any /{proxy+}")
        );
        assert_eq!(
            called("DELETE/pets", None).as_deref(),
            Some("any /{proxy+}")
        );
        assert_eq!(
            called("GET/pets/mine", Some(("GET", "/pets/{petId}"))).as_deref(),
            Some("get /pets/{petId}"),
            "the event's template wins"
        );
        let none = routes("GET /pets");
        assert_eq!(
            none.called(arn("arn:aws:execute-api:r:1:api/prod/GET/cats"), None),
            None
        );
    }

    #[test]
    fn statements_allow_what_is_permitted_and_deny_the_rest_without_covering_a_permitted_route() {
        let r =
            routes("GET /pets; GET /pets/{petId}; GET /pets/{petId}/photos; DELETE /pets/{petId}");
        let permitted = [true, false, true, false];
        let s = Statements::compile(&r, &permitted);
        assert_eq!(s.allow, ["GET/pets", "GET/pets/*/photos"]);
        // `GET/pets/*` would deny `GET /pets/1/photos` too: left out, that route has no Allow.
        assert_eq!(s.deny, ["DELETE/pets/*"]);
        assert!(s.agrees_with(&r, &permitted));
        assert!(!s.allows("GET/pets/1") && s.allows("GET/pets/1/photos"));

        let reverse = [true, true, false, false];
        let s = Statements::compile(&r, &reverse);
        assert_eq!(s.deny, ["GET/pets/*/photos", "DELETE/pets/*"]);
        assert!(s.agrees_with(&r, &reverse));
        assert!(r.ambiguous().is_empty());

        let tangled = routes("GET /{kind}/photos; GET /pets/{petId}/photos; GET /{kind}/{id}");
        let ambiguous: Vec<_> = tangled
            .ambiguous()
            .iter()
            .map(|r| r.action.as_str())
            .collect();
        assert_eq!(ambiguous, ["get /{kind}/photos"]);
        let s = Statements::compile(&tangled, &[false, true, true]);
        assert!(
            !s.agrees_with(&tangled, &[false, true, true]),
            "IAM cannot say this"
        );
    }

    #[test]
    fn an_openapi_document_lists_its_operations() {
        let doc = serde_json::json!({
            "openapi": "3.0.1",
            "info": {"title": "PetStore"},
            "paths": {
                "/pets": {"get": {}, "post": {}, "parameters": []},
                "/pets/{petId}": {"get": {}, "x-amazon-apigateway-any-method": {}},
            }
        });
        let (routes, title) = routes_of_document(&doc).unwrap();
        let actions: Vec<_> = routes.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "get /pets",
                "post /pets",
                "get /pets/{petId}",
                "any /pets/{petId}"
            ]
        );
        assert_eq!(title.as_deref(), Some("PetStore"));
        assert!(routes_of_document(&serde_json::json!({"swagger": "2.0"})).is_err());
    }
}
