//! The IAM policy of a Cedar decision: Allow on the permitted routes, Deny on the others (and on
//! the routes whose `ROUTE_SCOPES` rules the token fails), written like every other answer
//! straight into the reused buffer.

use super::routes::Statements;
use super::{Compiled, Engine, Verdict};
use crate::policy::{
    self, Grant, MethodArn, POLICY_DOCUMENT, ResourceMode, RouteRule, STATEMENT_ALLOW,
    STATEMENT_DENY,
};
use crate::report::Reject;

/// A cache miss's Cedar work alone, for `benches/authorize.rs` (`cedar/compile_20_routes`): a
/// verified token's payload evaluated on every known route and written as the one policy for a
/// call of `method_arn` (a known route; the whole stage's resources, no route rules), as the
/// authorizer answers it. Returns whether the called route is allowed.
///
/// # Errors
/// As [`Engine::compile`]; [`Reject::BadEvent`] when `method_arn` is not a method ARN of a known
/// route.
pub fn compile_and_write(
    engine: &Engine,
    issuer: usize,
    payload: &[u8],
    principal: &str,
    method_arn: &str,
    out: &mut Vec<u8>,
) -> Result<bool, Reject> {
    let arn = MethodArn::parse(method_arn).ok_or(Reject::BadEvent)?;
    let compiled = engine.compile(issuer, payload)?;
    let known = engine.routes().called(arn, None).ok_or(Reject::BadEvent)?;
    let grant = Grant {
        principal,
        arn,
        route: None,
        issuer: "",
        scope: None,
        usage_identifier: None,
        context: &[],
        claims: &[],
    };
    let called = (compiled.verdicts()[known], Some(known));
    Ok(write_policy(
        out,
        &grant,
        ResourceMode::Stage,
        &[],
        engine,
        &compiled,
        called,
    ))
}

/// Writes the answer for `grant` from the token's `compiled` decisions and the `called` route's
/// verdict (its index among the known routes, when it is one). Returns whether the called route
/// is allowed: Cedar permits it and no route rule denies it.
pub fn write_policy(
    out: &mut Vec<u8>,
    grant: &Grant<'_>,
    mode: ResourceMode,
    rules: &[RouteRule],
    engine: &Engine,
    compiled: &Compiled,
    called: (Verdict, Option<usize>),
) -> bool {
    let (verdict, known) = called;
    let allowed = verdict.permitted && !grant.denies_called_route(rules);
    let arn = grant.arn;
    out.clear();
    out.extend_from_slice(br#"{"principalId":"#);
    policy::write_str(out, grant.principal);
    out.extend_from_slice(POLICY_DOCUMENT);
    match mode {
        // Only the called ARN: right for that call alone (TTL 0).
        ResourceMode::Method => {
            out.extend_from_slice(if allowed {
                STATEMENT_ALLOW
            } else {
                STATEMENT_DENY
            });
            policy::write_str(out, arn.full);
            out.push(b'}');
        }
        ResourceMode::Stage => {
            let permitted = compiled.permitted();
            let mut statements = Statements::compile(engine.routes(), &permitted);
            let called_path = format!("{}/{}", arn.method, arn.path);
            if verdict.permitted {
                statements.keep_permitted(&called_path);
            }
            let denied_rules: Vec<&RouteRule> =
                rules.iter().filter(|r| !r.is_satisfied_by(grant)).collect();
            // The called route is answered exactly when no pattern answers it right: a call the
            // route list misses, or one whose own pattern was left out of the Deny.
            let exact_allow = verdict.permitted && known.is_none();
            let exact_deny = !verdict.permitted && statements.allows(&called_path);
            if statements.allow.is_empty() && !exact_allow {
                // Nothing is permitted: one Deny of the stage says it all.
                out.extend_from_slice(STATEMENT_DENY);
                policy::write_stage(out, arn);
                out.push(b'}');
            } else {
                out.extend_from_slice(STATEMENT_ALLOW);
                let allow = statements.allow.iter().copied();
                write_resources(out, grant, allow, exact_allow.then_some(arn.full));
                if statements.deny.is_empty() && denied_rules.is_empty() && !exact_deny {
                    // No Deny statement needed.
                } else {
                    out.push(b',');
                    out.extend_from_slice(STATEMENT_DENY);
                    out.push(b'[');
                    let mut first = true;
                    let mut item = |out: &mut Vec<u8>| {
                        if !std::mem::take(&mut first) {
                            out.push(b',');
                        }
                    };
                    if exact_deny {
                        item(out);
                        policy::write_str(out, arn.full);
                    }
                    for pattern in &statements.deny {
                        item(out);
                        write_arn(out, grant, pattern);
                    }
                    for rule in &denied_rules {
                        item(out);
                        write_arn(out, grant, &format!("{}/{}", rule.method, rule.path));
                    }
                    out.extend_from_slice(b"]}");
                }
            }
        }
    }
    out.extend_from_slice(br#"]},"context":"#);
    policy::write_context(out, grant);
    if let Some(key) = grant.usage_identifier {
        out.extend_from_slice(br#","usageIdentifierKey":"#);
        policy::write_str(out, key);
    }
    out.push(b'}');
    allowed
}

/// `[arn, ...]}` of the Allow statement.
fn write_resources<'p>(
    out: &mut Vec<u8>,
    grant: &Grant<'_>,
    patterns: impl Iterator<Item = &'p str>,
    exact: Option<&str>,
) {
    out.push(b'[');
    let mut first = true;
    if let Some(full) = exact {
        policy::write_str(out, full);
        first = false;
    }
    for pattern in patterns {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        write_arn(out, grant, pattern);
    }
    out.extend_from_slice(b"]}");
}

/// `"{api}/{stage}/{pattern}"`.
fn write_arn(out: &mut Vec<u8>, grant: &Grant<'_>, pattern: &str) {
    out.push(b'"');
    policy::write_str_contents(out, grant.arn.api);
    out.push(b'/');
    policy::write_str_contents(out, grant.arn.stage);
    out.push(b'/');
    policy::write_str_contents(out, pattern);
    out.push(b'"');
}
