//! The answer API Gateway gets: an IAM policy (or an HTTP API simple response) written straight into
//! a reused buffer from borrowed parts.
//!
//! API Gateway caches an authorizer's policy per token and applies it to every route of the API.
//! So by default the Allow covers the whole stage (`{api}/{stage}/*/*`), and route scope rules add
//! an explicit Deny for every configured route the token lacks scopes for: the cached policy is
//! then right for every route, not only the one that happened to be called first.

mod route_rule;
mod template;

pub use route_rule::RouteRule;
pub use template::Segment;

use crate::claims::Scopes;
use crate::json::RawJson;

/// Which resource an Allow statement covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceMode {
    /// `arn:..:{api}/{stage}/*/*`: every method of the stage. Correct under API Gateway's cache.
    Stage,
    /// Only the called `methodArn`. With the policy cache on, other routes answer 403 for the
    /// cache TTL (the classic bug of the Node.js sample): use with `TTL 0` or per-route identity.
    Method,
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
        // Byte scans for the delimiters: ARNs are short, and `str::match_indices`/`splitn` with a
        // char pattern cost more in set-up per match than this whole loop.
        let bytes = full.as_bytes();
        let mut colons = [0; 5];
        let mut found = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if b == b':' {
                colons[found] = i;
                found += 1;
                if found == colons.len() {
                    break;
                }
            }
        }
        if found < colons.len()
            || !full.starts_with("arn:")
            || &full[colons[1] + 1..colons[2]] != "execute-api"
        {
            return None;
        }
        let resource_start = colons[4] + 1;
        // `{api}/{stage}/{method}/{path}`: the first three are non-empty, the path is the rest.
        let slash = |from: usize| {
            bytes[from..]
                .iter()
                .position(|&b| b == b'/')
                .map(|n| from + n)
        };
        let api_end = slash(resource_start).filter(|&end| end > resource_start)?;
        let stage_end = slash(api_end + 1).filter(|&end| end > api_end + 1)?;
        let (method, path) = match slash(stage_end + 1) {
            Some(method_end) => (&full[stage_end + 1..method_end], &full[method_end + 1..]),
            None => (&full[stage_end + 1..], ""),
        };
        if method.is_empty() {
            return None;
        }
        Some(MethodArn {
            full,
            api: &full[..api_end],
            stage: &full[api_end + 1..stage_end],
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
        // `*` first: tried as a literal against a `*` in the text, it left no backtrack point, so
        // `pets/*` did not cover a called `pets/*x` (found by cargo-mutants, issue 21).
        if pi < p.len() && p[pi] == b'*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
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
    /// The route template that was called, when the event names it (see
    /// [`RouteRule::covers_route`]).
    pub route: Option<(&'a str, &'a str)>,
    /// The name of the token's issuer.
    pub issuer: &'a str,
    /// The token's scopes (`SCOPE_CLAIMS`).
    pub scope: Option<&'a Scopes<'a>>,
    /// The `USAGE_IDENTIFIER_CLAIM` value, answered as `usageIdentifierKey`.
    pub usage_identifier: Option<&'a str>,
    /// Configured claims for the context, by name; `None` where the token lacks the claim.
    pub context: &'a [(&'a str, Option<RawJson<'a>>)],
    /// Every claim kept from the token (the context's first), by name, for route rules.
    pub claims: &'a [(&'a str, Option<RawJson<'a>>)],
}

impl Grant<'_> {
    /// Whether the route rules deny the route that was called.
    pub fn denies_called_route(&self, rules: &[RouteRule]) -> bool {
        rules
            .iter()
            .any(|r| self.rule_covers_call(r) && !r.is_satisfied_by(self))
    }

    /// Whether a rule covers the call: by the called ARN, or by the route template the event names.
    fn rule_covers_call(&self, rule: &RouteRule) -> bool {
        rule.covers(self.arn.method, self.arn.path)
            || self
                .route
                .is_some_and(|route| rule.covers_route(self.arn, route))
    }
}

/// Writes the IAM policy for a grant: Allow on the configured resource, and an explicit Deny on every
/// rule-covered route the token lacks scopes for.
pub fn write_policy(out: &mut Vec<u8>, grant: &Grant<'_>, mode: ResourceMode, rules: &[RouteRule]) {
    out.clear();
    out.extend_from_slice(br#"{"principalId":"#);
    write_str(out, grant.principal);
    out.extend_from_slice(POLICY_DOCUMENT);
    out.extend_from_slice(STATEMENT_ALLOW);
    match mode {
        ResourceMode::Stage => write_stage(out, grant.arn),
        ResourceMode::Method => write_str(out, grant.arn.full),
    }
    out.push(b'}');
    let denied = DeniedRoutes { grant, rules };
    denied.write(out);
    out.extend_from_slice(br#"]},"context":"#);
    write_context(out, grant);
    if let Some(key) = grant.usage_identifier {
        out.extend_from_slice(br#","usageIdentifierKey":"#);
        write_str(out, key);
    }
    out.push(b'}');
}

/// Writes a Deny of the whole stage, the answer for a refused token in `REJECT_MODE=deny`.
pub fn write_deny_all(out: &mut Vec<u8>, arn: MethodArn<'_>) {
    out.clear();
    out.extend_from_slice(br#"{"principalId":"unauthorized""#);
    out.extend_from_slice(POLICY_DOCUMENT);
    out.extend_from_slice(STATEMENT_DENY);
    write_stage(out, arn);
    out.extend_from_slice(b"}]}}");
}

/// Writes an HTTP API simple response.
pub fn write_simple(out: &mut Vec<u8>, authorized: bool, grant: Option<&Grant<'_>>) {
    out.clear();
    out.extend_from_slice(if authorized {
        br#"{"isAuthorized":true"#
    } else {
        br#"{"isAuthorized":false"#
    });
    if let Some(grant) = grant {
        out.extend_from_slice(br#","context":"#);
        write_context(out, grant);
    }
    out.push(b'}');
}

// The answers are written by hand, straight into the reused buffer: through serde_json (map and
// sequence serializers, `collect_str` over `fmt::Display` for the ARNs) writing them was 15 % of a
// cached authorization; this is a few `extend_from_slice`s. The output is byte for byte what
// `serde_json::to_writer` wrote (compact, same key order, same escapes); `policy/tests.rs` checks
// the escaping against serde_json's.
pub(crate) const POLICY_DOCUMENT: &[u8] =
    br#","policyDocument":{"Version":"2012-10-17","Statement":["#;
pub(crate) const STATEMENT_ALLOW: &[u8] =
    br#"{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"#;
pub(crate) const STATEMENT_DENY: &[u8] =
    br#"{"Action":"execute-api:Invoke","Effect":"Deny","Resource":"#;

/// `"{api}/{stage}/*/*"`: every method and path of the stage.
pub(crate) fn write_stage(out: &mut Vec<u8>, arn: MethodArn<'_>) {
    out.push(b'"');
    write_str_contents(out, arn.api);
    out.push(b'/');
    write_str_contents(out, arn.stage);
    out.extend_from_slice(br#"/*/*""#);
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

    /// Writes `,{...Deny...}` listing the denied routes, or nothing when no route is denied.
    /// A call denied through its route template (a variant of a rule's path on a greedy route)
    /// that no rule's ARN pattern matches is denied by its own ARN too.
    fn write(&self, out: &mut Vec<u8>) {
        let mut denied = self.iter().peekable();
        if denied.peek().is_none() {
            return;
        }
        let arn = self.grant.arn;
        let call_denied_by_template = self.iter().any(|r| self.grant.rule_covers_call(r))
            && !self.iter().any(|r| r.covers(arn.method, arn.path));
        out.push(b',');
        out.extend_from_slice(STATEMENT_DENY);
        out.push(b'[');
        if call_denied_by_template {
            write_str(out, arn.full);
        }
        for (i, rule) in denied.enumerate() {
            if i > 0 || call_denied_by_template {
                out.push(b',');
            }
            out.push(b'"');
            for (part, sep) in [
                (self.grant.arn.api, b'/'),
                (self.grant.arn.stage, b'/'),
                (rule.method.as_str(), b'/'),
            ] {
                write_str_contents(out, part);
                out.push(sep);
            }
            write_str_contents(out, &rule.path);
            out.push(b'"');
        }
        out.extend_from_slice(b"]}");
    }
}

/// The authorizer context: `scope`, then the configured claims. API Gateway accepts only strings,
/// numbers and booleans, so objects and arrays are passed as their JSON text and nulls are dropped.
/// Strings, numbers and booleans are copied as the token wrote them (they are valid JSON).
pub(crate) fn write_context(out: &mut Vec<u8>, grant: &Grant<'_>) {
    out.push(b'{');
    let mut first = true;
    let mut key = |out: &mut Vec<u8>, name: &str| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        write_str(out, name);
        out.push(b':');
    };
    match grant.scope {
        Some(Scopes::Words(words)) => {
            key(out, "scope");
            write_str(out, words);
        }
        // An array of scopes reaches the backend as the same space-separated string.
        Some(list @ Scopes::List(_)) => {
            key(out, "scope");
            out.push(b'"');
            let mut first = true;
            list.each(|scope| {
                if !std::mem::take(&mut first) {
                    out.push(b' ');
                }
                write_str_contents(out, scope);
                true
            });
            out.push(b'"');
        }
        None => {}
    }
    for (name, value) in grant.context {
        let Some(value) = value else { continue };
        let text = value.get();
        match text.as_bytes().first() {
            Some(b'{' | b'[') => {
                key(out, name);
                write_str(out, text);
            }
            Some(b'n') | None => {}
            _ => {
                key(out, name);
                out.extend_from_slice(text.as_bytes());
            }
        }
    }
    out.push(b'}');
}

/// Writes `s` as a JSON string.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_str_contents(out, s);
    out.push(b'"');
}

/// Writes `s` escaped for the inside of a JSON string, exactly as serde_json escapes it: `"`, `\`
/// and the control characters below 0x20 (`\b \f \n \r \t` by name, the others as `\u00xx`);
/// everything else, DEL and non-ASCII included, as is.
pub(crate) fn write_str_contents(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Almost every string here (ARN parts, subjects, scopes, claim names) needs no escape. This
    // scan has no early exit, so the compiler vectorizes it; then one copy.
    let plain = bytes.iter().fold(true, |plain, &b| {
        plain & (b >= 0x20 && b != b'"' && b != b'\\')
    });
    if plain {
        out.extend_from_slice(bytes);
    } else {
        write_escaped(out, bytes);
    }
}

/// The slow path of [`write_str_contents`]: runs of plain bytes copied, escapes written between.
#[cold]
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x0c => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x00..=0x1f => b'u',
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if short == b'u' {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', short]);
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests;
