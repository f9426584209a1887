//! The request context policies may read, and when it is evaluated.
//!
//! `context.token` holds the token's claims: the same on every call of one token, so the one
//! policy compiled at a cache miss stays right for every route, however long API Gateway caches
//! it. `context.pathParameters` holds the called route's path parameters: they differ per
//! request, so a decision that reads them is right for the call that was made and for no other.
//! API Gateway caches the answer under the identity source (the token) and applies it to every
//! call of that token until the TTL ends, so such policies are only accepted when the answer
//! covers the called method ARN alone (`POLICY_RESOURCE=method`, with the authorizer's result
//! TTL 0), and then the called route is evaluated at every request, never remembered. Nothing
//! else of the request is offered: a policy reading another context attribute is refused at
//! start-up, since Cedar skips a policy whose evaluation fails, and a skipped `forbid` would
//! permit what it was written to deny.

use super::expr::{access, for_each_operand, is_var};
use cedar_policy::RestrictedExpression;
use cedar_policy_core::ast::{Expr, Var};

/// The context attribute holding the token's claims (see `model`).
pub const TOKEN: &str = "token";
/// The context attribute holding the called route's path parameters, per request.
pub const PATH_PARAMETERS: &str = "pathParameters";
/// What [`request_reads`] names a use of the whole `context` record.
pub const WHOLE: &str = "";

/// The context attributes a policy's conditions read besides `token` ([`WHOLE`] for a use of the
/// record itself), each once, in the order written: every attribute access and `has` test with
/// its left operand, whatever the syntax (`context.a`, `context["a"]`, `context has a.b`).
pub fn request_reads(conditions: &Expr) -> Vec<String> {
    let mut found = Vec::new();
    walk(conditions, &mut found);
    found
}

fn walk(expr: &Expr, found: &mut Vec<String>) {
    let read = match access(expr) {
        // `has` on a path (`context has a.b`): the first attribute is the context's.
        Some(access) if is_var(access.left, Var::Context) => access.attribute,
        _ if is_var(expr, Var::Context) => WHOLE,
        _ => return for_each_operand(expr, |operand| walk(operand, found)),
    };
    if read != TOKEN && !found.iter().any(|f| f == read) {
        found.push(read.to_owned());
    }
}

/// The path parameters of a call of the route `template` (`/pets/{petId}`) on the concrete
/// `path` (a method ARN's, without its leading `/`, as API Gateway writes it there): `{name}`
/// takes one segment, `{name+}` the rest of the path.
pub fn path_parameters<'a>(template: &'a str, path: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut found = Vec::new();
    let mut rest = Some(path);
    for segment in template.trim_start_matches('/').split('/') {
        let Some(here) = rest else { break };
        let (value, after) = match here.split_once('/') {
            Some((value, after)) => (value, Some(after)),
            None => (here, None),
        };
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) if name.ends_with('+') => {
                found.push((name.trim_end_matches('+'), here));
                break;
            }
            Some(name) => found.push((name, value)),
            None => {}
        }
        rest = after;
    }
    found
}

/// The `pathParameters` record.
pub fn path_parameters_record(parameters: &[(&str, &str)]) -> Option<RestrictedExpression> {
    RestrictedExpression::new_record(parameters.iter().map(|(name, value)| {
        (
            (*name).to_owned(),
            RestrictedExpression::new_string((*value).to_owned()),
        )
    }))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cedar_policy::Policy;
    use std::str::FromStr;

    fn policy_reads(text: &str) -> Vec<String> {
        let policy = Policy::from_str(text).unwrap();
        request_reads(super::super::expr::conditions(&policy).unwrap())
    }

    fn reads(condition: &str) -> Vec<String> {
        policy_reads(&format!(
            "permit(principal, action, resource) when {{ {condition} }};"
        ))
    }

    #[test]
    fn the_token_record_is_not_the_request() {
        assert!(reads(r#"context.token.email like "*@example.com""#).is_empty());
        assert!(reads(r#"context has token && context["token"] has sub"#).is_empty());
        assert!(
            reads(r#"principal["context"] == "context" && principal has "context""#).is_empty()
        );
    }

    #[test]
    fn every_way_of_reading_the_request_is_found() {
        let path = || vec![PATH_PARAMETERS.to_owned()];
        assert_eq!(reads(r#"context.pathParameters.petId == "7""#), path());
        assert_eq!(
            reads(r#"context["pathParameters"]["petId"] == "7""#),
            path()
        );
        assert_eq!(reads("context has pathParameters.petId"), path());
        assert_eq!(
            reads(r#"if true then context.headers.host == "x" else context.token.sub == "y""#),
            ["headers"]
        );
        assert_eq!(reads(r#"context == {"token": {}}"#), [WHOLE]);
        assert_eq!(reads(r#"[context].contains({})"#), [WHOLE]);
        let unless = policy_reads(
            r#"forbid(principal, action, resource) unless { context.pathParameters.id == principal.sub };"#,
        );
        assert_eq!(unless, path());
    }

    #[test]
    fn path_parameters_follow_the_template() {
        assert_eq!(path_parameters("/pets/{petId}", "pets/7"), [("petId", "7")]);
        assert_eq!(
            path_parameters("/owners/{id}/pets/{petId}", "owners/a/pets/b"),
            [("id", "a"), ("petId", "b")]
        );
        assert_eq!(
            path_parameters("/files/{path+}", "files/a/b/c.txt"),
            [("path", "a/b/c.txt")]
        );
        assert!(path_parameters("/pets", "pets").is_empty());
        // A path shorter than its template (a call the template does not match) gives what it has.
        assert!(path_parameters("/pets/{petId}", "pets").is_empty());
    }
}
