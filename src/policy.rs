//! The answer API Gateway gets: an IAM policy (or an HTTP API simple response) written straight into
//! a reused buffer from borrowed parts.
//!
//! API Gateway caches an authorizer's policy per token and applies it to every route of the API.
//! So by default the Allow covers the whole stage (`{api}/{stage}/*/*`), and route scope rules add
//! an explicit Deny for every configured route the token lacks scopes for: the cached policy is
//! then right for every route, not only the one that happened to be called first.

use crate::json::CowStr;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::value::RawValue;
use std::fmt;

/// Which resource an Allow statement covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceMode {
    /// `arn:..:{api}/{stage}/*/*`: every method of the stage. Correct under API Gateway's cache.
    Stage,
    /// Only the called `methodArn`. With the policy cache on, other routes answer 403 for the
    /// cache TTL (the classic bug of the Node.js sample): use with `TTL 0` or per-route identity.
    Method,
}

/// A route that needs scopes or claims: from `ROUTE_SCOPES` (`GET /pets/{petId}=read:pets`) or a
/// `[[route]]` table of `CONFIG_FILE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRule {
    /// `GET`, `POST`, ... or `*` for any method.
    pub method: String,
    /// The resource path without its leading `/`, path parameters turned into `*`.
    pub path: String,
    /// The names of the issuers whose tokens the rule applies to; empty: every issuer's.
    pub issuers: Vec<String>,
    /// Every one of these scopes is needed.
    pub scopes: Vec<String>,
    /// Every one of these claims must contain every listed value (see [`claim_contains`]).
    pub claims: Vec<(String, Vec<String>)>,
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
        let path = path[1..]
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') && segment.ends_with('}') {
                    "*"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        if scopes.is_empty() && claims.iter().all(|(_, values)| values.is_empty()) {
            return Err("needs no scope and no claim value; add `scopes` or `claims`".into());
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
            issuers,
            scopes,
            claims,
        })
    }

    /// Whether a grant meets this rule: the rule does not apply to the grant's issuer, or the token
    /// has every scope and claim value it needs.
    pub fn is_satisfied_by(&self, grant: &Grant<'_>) -> bool {
        if !self.issuers.is_empty() && !self.issuers.iter().any(|i| i == grant.issuer) {
            return true;
        }
        let granted = grant.scope.unwrap_or("");
        let has_scopes = self
            .scopes
            .iter()
            .all(|needed| granted.split(' ').any(|s| s == needed));
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
}

/// Whether a claim holds `value`: a string equal to it or with it among its space-separated words
/// (like `scope`), or an array with it as one of its strings (like `cognito:groups`).
pub fn claim_contains(claim: &RawValue, value: &str) -> bool {
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

/// A method (or route) ARN, split into the parts a policy needs:
/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{method}/{path}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MethodArn<'a> {
    /// The whole ARN as API Gateway sent it.
    pub full: &'a str,
    /// `arn:aws:execute-api:{region}:{account}:{api}`.
    pub api: &'a str,
    /// The stage (`$default` for HTTP APIs' default stage).
    pub stage: &'a str,
    /// The HTTP method.
    pub method: &'a str,
    /// The resource path without its leading `/` (empty for the root).
    pub path: &'a str,
}

impl<'a> MethodArn<'a> {
    /// Splits an `execute-api` ARN; `None` if it is not one.
    pub fn parse(full: &'a str) -> Option<Self> {
        let mut colons = full.match_indices(':').map(|(i, _)| i);
        let service_start = colons.nth(1)? + 1;
        let service_end = colons.next()?;
        if &full[service_start..service_end] != "execute-api" || !full.starts_with("arn:") {
            return None;
        }
        let resource_start = colons.nth(1)? + 1;
        let resource = &full[resource_start..];
        let mut parts = resource.splitn(4, '/');
        let api_id = parts.next().filter(|s| !s.is_empty())?;
        let stage = parts.next().filter(|s| !s.is_empty())?;
        let method = parts.next().filter(|s| !s.is_empty())?;
        let path = parts.next().unwrap_or("");
        Some(MethodArn {
            full,
            api: &full[..resource_start + api_id.len()],
            stage,
            method,
            path,
        })
    }
}

/// IAM's string wildcards: `*` matches any run of characters (`/` included), `?` any one character.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if let Some((star, matched)) = backtrack {
            pi = star + 1;
            ti = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// What a successful verification grants, all borrowed from the event and the token.
pub struct Grant<'a> {
    /// The token's `sub`, API Gateway's `principalId`.
    pub principal: &'a str,
    /// The ARN that was called.
    pub arn: MethodArn<'a>,
    /// The name of the token's issuer.
    pub issuer: &'a str,
    /// The token's `scope` claim.
    pub scope: Option<&'a str>,
    /// Configured claims for the context, by name; `None` where the token lacks the claim.
    pub context: &'a [(&'a str, Option<&'a RawValue>)],
    /// Every claim kept from the token (the context's first), by name, for route rules.
    pub claims: &'a [(&'a str, Option<&'a RawValue>)],
}

impl Grant<'_> {
    /// Whether the route rules deny the route that was called.
    pub fn denies_called_route(&self, rules: &[RouteRule]) -> bool {
        rules
            .iter()
            .any(|r| r.covers(self.arn.method, self.arn.path) && !r.is_satisfied_by(self))
    }
}

/// Writes the IAM policy for a grant: Allow on the configured resource, and an explicit Deny on every
/// rule-covered route the token lacks scopes for.
pub fn write_policy(out: &mut Vec<u8>, grant: &Grant<'_>, mode: ResourceMode, rules: &[RouteRule]) {
    let denied = DeniedRoutes { grant, rules };
    let response = PolicyResponse {
        principal: grant.principal,
        allow: Some(match mode {
            ResourceMode::Stage => Resource::Stage(grant.arn),
            ResourceMode::Method => Resource::Exact(grant.arn.full),
        }),
        deny: denied.any().then_some(DenyResource::Routes(denied)),
        context: Some(Context {
            scope: grant.scope,
            claims: grant.context,
        }),
    };
    write_json(out, &response);
}

/// Writes a Deny of the whole stage, the answer for a refused token in `REJECT_MODE=deny`.
pub fn write_deny_all(out: &mut Vec<u8>, arn: MethodArn<'_>) {
    let response = PolicyResponse {
        principal: "unauthorized",
        allow: None,
        deny: Some(DenyResource::Stage(arn)),
        context: None,
    };
    write_json(out, &response);
}

/// Writes an HTTP API simple response.
pub fn write_simple(out: &mut Vec<u8>, authorized: bool, grant: Option<&Grant<'_>>) {
    let response = SimpleResponse {
        authorized,
        context: grant.map(|g| Context {
            scope: g.scope,
            claims: g.context,
        }),
    };
    write_json(out, &response);
}

fn write_json(out: &mut Vec<u8>, value: &impl Serialize) {
    out.clear();
    serde_json::to_writer(&mut *out, value)
        .expect("writing JSON of strings into a Vec cannot fail");
}

struct PolicyResponse<'a> {
    principal: &'a str,
    allow: Option<Resource<'a>>,
    deny: Option<DenyResource<'a>>,
    context: Option<Context<'a>>,
}

impl Serialize for PolicyResponse<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("principalId", self.principal)?;
        map.serialize_entry("policyDocument", &PolicyDocument(self))?;
        if let Some(context) = &self.context {
            map.serialize_entry("context", context)?;
        }
        map.end()
    }
}

struct PolicyDocument<'a, 'b>(&'b PolicyResponse<'a>);

impl Serialize for PolicyDocument<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("Version", "2012-10-17")?;
        map.serialize_entry("Statement", &Statements(self.0))?;
        map.end()
    }
}

struct Statements<'a, 'b>(&'b PolicyResponse<'a>);

impl Serialize for Statements<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        if let Some(allow) = &self.0.allow {
            seq.serialize_element(&Statement {
                effect: "Allow",
                resource: allow,
            })?;
        }
        if let Some(deny) = &self.0.deny {
            seq.serialize_element(&Statement {
                effect: "Deny",
                resource: deny,
            })?;
        }
        seq.end()
    }
}

struct Statement<'r, R> {
    effect: &'static str,
    resource: &'r R,
}

impl<R: Serialize> Serialize for Statement<'_, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("Action", "execute-api:Invoke")?;
        map.serialize_entry("Effect", self.effect)?;
        map.serialize_entry("Resource", self.resource)?;
        map.end()
    }
}

/// One resource ARN, written without building a `String`.
enum Resource<'a> {
    Exact(&'a str),
    Stage(MethodArn<'a>),
}

impl fmt::Display for Resource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Exact(arn) => f.write_str(arn),
            Resource::Stage(arn) => write!(f, "{}/{}/*/*", arn.api, arn.stage),
        }
    }
}

impl Serialize for Resource<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

enum DenyResource<'a> {
    Stage(MethodArn<'a>),
    Routes(DeniedRoutes<'a>),
}

impl Serialize for DenyResource<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DenyResource::Stage(arn) => Resource::Stage(*arn).serialize(s),
            DenyResource::Routes(routes) => routes.serialize(s),
        }
    }
}

/// The routes whose rules the token does not satisfy, as `{api}/{stage}/{method}/{path}` ARNs.
struct DeniedRoutes<'a> {
    grant: &'a Grant<'a>,
    rules: &'a [RouteRule],
}

impl DeniedRoutes<'_> {
    fn iter(&self) -> impl Iterator<Item = &RouteRule> {
        self.rules.iter().filter(|r| !r.is_satisfied_by(self.grant))
    }

    fn any(&self) -> bool {
        self.iter().next().is_some()
    }
}

impl Serialize for DeniedRoutes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct RouteArn<'a>(MethodArn<'a>, &'a RouteRule);
        impl fmt::Display for RouteArn<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "{}/{}/{}/{}",
                    self.0.api, self.0.stage, self.1.method, self.1.path
                )
            }
        }
        let mut seq = s.serialize_seq(None)?;
        for rule in self.iter() {
            seq.serialize_element(&format_args!("{}", RouteArn(self.grant.arn, rule)))?;
        }
        seq.end()
    }
}

/// The authorizer context: `scope`, then the configured claims. API Gateway accepts only strings,
/// numbers and booleans, so objects and arrays are passed as their JSON text and nulls are dropped.
struct Context<'a> {
    scope: Option<&'a str>,
    claims: &'a [(&'a str, Option<&'a RawValue>)],
}

impl Serialize for Context<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if let Some(scope) = self.scope {
            map.serialize_entry("scope", scope)?;
        }
        for (name, value) in self.claims {
            let Some(value) = value else { continue };
            match value.get().as_bytes().first() {
                Some(b'{' | b'[') => map.serialize_entry(name, value.get())?,
                Some(b'n') | None => {}
                _ => map.serialize_entry(name, value)?,
            }
        }
        map.end()
    }
}

struct SimpleResponse<'a> {
    authorized: bool,
    context: Option<Context<'a>>,
}

impl Serialize for SimpleResponse<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("isAuthorized", &self.authorized)?;
        if let Some(context) = &self.context {
            map.serialize_entry("context", context)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests;
