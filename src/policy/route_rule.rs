//! Route rules: the scopes and claims a route needs, and which called routes a rule covers
//! (route templates, greedy routes and the normalised paths a backend may read).

use super::{Grant, MethodArn, Segment, wildcard_match};
use crate::json::{CowStr, RawJson};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use std::fmt;

/// A route that needs scopes or claims: from `ROUTE_SCOPES` (`GET /pets/{petId}=read:pets`) or a
/// `[[route]]` table of `CONFIG_FILE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRule {
    /// `GET`, `POST`, ... or `*` for any method.
    pub method: String,
    /// The resource path without its leading `/`, path parameters turned into `*`.
    pub path: String,
    /// The resource path without its leading `/`, as written (`pets/{petId}`).
    pub template: String,
    /// The names of the issuers whose tokens the rule applies to; empty: every issuer's.
    pub issuers: Vec<String>,
    /// Every one of these scopes is needed.
    pub scopes: Vec<String>,
    /// Every one of these claims must contain every listed value (see [`claim_contains`]).
    pub claims: Vec<(String, Vec<String>)>,
    /// `introspect = true` (CONFIG_FILE): under `INTROSPECT=always`, tokens are introspected for
    /// this rule's routes; with such rules, only for them, when the answer covers the called
    /// route alone (see `Authorizer::introspects_jwt`).
    pub introspect: bool,
}

impl RouteRule {
    /// Parses `METHOD /path=scope [scope ...]`; `{param}` segments match any value, `ANY` or `*` any method.
    ///
    /// # Errors
    /// A message saying what is wrong with the rule.
    pub fn parse(rule: &str) -> Result<Self, String> {
        let bad =
            |why: &str| format!("rule {rule:?}: {why}; write `GET /pets/{{petId}}=read:pets`");
        let (route, scopes) = rule.split_once('=').ok_or_else(|| bad("no `=`"))?;
        let scopes: Vec<String> = scopes.split_whitespace().map(str::to_owned).collect();
        if scopes.is_empty() {
            return Err(bad("no scope"));
        }
        RouteRule::new(route, scopes, Vec::new(), Vec::new()).map_err(|why| bad(&why))
    }

    /// A rule for `METHOD /path` that tokens of `issuers` (all, when empty) satisfy only with every
    /// scope of `scopes` and every value of `claims`.
    ///
    /// # Errors
    /// A message saying what is wrong with the rule.
    pub fn new(
        route: &str,
        scopes: Vec<String>,
        issuers: Vec<String>,
        claims: Vec<(String, Vec<String>)>,
    ) -> Result<Self, String> {
        Self::build(route, scopes, issuers, claims, false)
    }

    /// A rule as [`RouteRule::new`] whose routes are also introspected under `INTROSPECT=always`
    /// (`introspect = true`); it may need nothing else.
    ///
    /// # Errors
    /// A message saying what is wrong with the rule.
    pub fn introspecting(
        route: &str,
        scopes: Vec<String>,
        issuers: Vec<String>,
        claims: Vec<(String, Vec<String>)>,
    ) -> Result<Self, String> {
        Self::build(route, scopes, issuers, claims, true)
    }

    fn build(
        route: &str,
        scopes: Vec<String>,
        issuers: Vec<String>,
        claims: Vec<(String, Vec<String>)>,
        introspect: bool,
    ) -> Result<Self, String> {
        let (method, path) = route
            .trim()
            .split_once(' ')
            .ok_or("no method and path, as in `GET /pets/{petId}`")?;
        let method = method.trim().to_ascii_uppercase();
        let known = [
            "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY", "*",
        ];
        if !known.contains(&method.as_str()) {
            return Err(format!("unknown method {method:?}"));
        }
        let path = path.trim();
        if !path.starts_with('/') || path.contains(char::is_whitespace) {
            return Err("the path must start with `/`".into());
        }
        let template = path[1..].to_owned();
        // API Gateway's path variables are whole segments (`/pets/{petId}`, `/{proxy+}`): a
        // segment such as `v{version}` is not a route API Gateway can have, so a rule on it would
        // cover no call and guard nothing. Refused, rather than silently never applied.
        if let Some(segment) = template.split('/').find(|s| Segment::of(s).is_malformed()) {
            return Err(format!(
                "the path segment {segment:?} is not a route's: a path variable is a whole \
                 segment, `{{name}}` or `{{name+}}`"
            ));
        }
        let path = template
            .split('/')
            .map(|segment| match Segment::of(segment) {
                Segment::Literal(literal) => literal,
                Segment::Parameter | Segment::Greedy => "*",
            })
            .collect::<Vec<_>>()
            .join("/");
        if !introspect && scopes.is_empty() && claims.iter().all(|(_, values)| values.is_empty()) {
            return Err(
                "needs no scope and no claim value; add `scopes`, `claims` or `introspect = true`"
                    .into(),
            );
        }
        if claims.iter().any(|(name, _)| name.is_empty()) {
            return Err("a claim name is empty".into());
        }
        let method = if method == "ANY" {
            "*".to_owned()
        } else {
            method
        };
        Ok(RouteRule {
            method,
            path,
            template,
            issuers,
            scopes,
            claims,
            introspect,
        })
    }

    /// Whether a grant meets this rule: the rule does not apply to the grant's issuer, or the token
    /// has every scope and claim value it needs.
    pub fn is_satisfied_by(&self, grant: &Grant<'_>) -> bool {
        if !self.issuers.is_empty() && !self.issuers.iter().any(|i| i == grant.issuer) {
            return true;
        }
        let has_scopes = self
            .scopes
            .iter()
            .all(|needed| grant.scope.is_some_and(|s| s.contains(needed)));
        has_scopes
            && self.claims.iter().all(|(name, values)| {
                let claim = grant
                    .claims
                    .iter()
                    .find(|(n, _)| n == name)
                    .and_then(|(_, value)| *value);
                values
                    .iter()
                    .all(|v| claim.is_some_and(|c| claim_contains(c, v)))
            })
    }

    /// Whether this rule covers a call of `method` on `path` (as they appear in a method ARN).
    pub fn covers(&self, method: &str, path: &str) -> bool {
        wildcard_match(&self.method, method) && wildcard_match(&self.path, path)
    }

    /// Whether this rule covers a call of `arn` through the route template `(method, path)` that
    /// the event names (`("GET", "/pets/{petId}")`, `("ANY", "/{proxy+}")`, `("$default", "")`).
    ///
    /// A template is what API Gateway matched, so a rule on it holds whatever trailing slash, case
    /// or encoding the request used. A greedy route (`{proxy+}`, `ANY`'s method, `$default`)
    /// passes those variants to the backend, which may read `/Admin/` as `/admin`: there the
    /// called path is compared after decoding `%xx`, dropping empty segments and ignoring case,
    /// so that a variant is denied whenever the path it may stand for is.
    pub fn covers_route(&self, arn: MethodArn<'_>, (method, path): (&str, &str)) -> bool {
        if !wildcard_match(&self.method, arn.method) {
            return false;
        }
        let greedy = method == "$default" || path.split('/').any(is_greedy);
        if greedy {
            let called = normalized_path(arn.path);
            return wildcard_match(&self.path.to_ascii_lowercase(), &called);
        }
        let mut route = path.strip_prefix('/').unwrap_or(path).split('/');
        let mut rule = self.template.split('/');
        loop {
            match (route.next(), rule.next()) {
                (None, None) => return true,
                (Some(r), Some(t)) if r == t || (is_parameter(r) && is_parameter(t)) => {}
                (_, Some(t)) if is_greedy(t) => return true,
                _ => return false,
            }
        }
    }
}

/// `{name}`: one path segment.
fn is_parameter(segment: &str) -> bool {
    Segment::of(segment) == Segment::Parameter
}

/// `{name+}`: the rest of the path.
fn is_greedy(segment: &str) -> bool {
    Segment::of(segment) == Segment::Greedy
}

/// A method ARN's path as a backend may read it: `%xx` decoded, empty segments (a trailing or
/// doubled `/`) dropped, ASCII letters in lower case.
fn normalized_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                decoded.push((high * 16 + low) as u8);
                i += 3;
            }
            (b, ..) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded)
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect::<Vec<_>>()
        .join("/")
        .to_ascii_lowercase()
}

/// Whether a claim holds `value`: a string equal to it or with it among its space-separated words
/// (like `scope`), or an array with it as one of its strings (like `cognito:groups`).
pub fn claim_contains(claim: RawJson<'_>, value: &str) -> bool {
    struct Contains<'v>(&'v str);
    impl<'de> Visitor<'de> for Contains<'_> {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or an array of strings")
        }
        fn visit_str<E: de::Error>(self, words: &str) -> Result<bool, E> {
            Ok(words == self.0 || words.split(' ').any(|w| w == self.0))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<bool, A::Error> {
            let mut found = false;
            while let Some(CowStr(item)) = items.next_element::<CowStr<'de>>()? {
                found |= item == self.0;
            }
            Ok(found)
        }
    }
    let mut de = serde_json::Deserializer::from_str(claim.get());
    de.deserialize_any(Contains(value)).unwrap_or(false)
}
