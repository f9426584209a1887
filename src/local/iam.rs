//! The authorizer's IAM policy as API Gateway evaluates it: read once from the authorizer's answer,
//! then checked against each request's methodArn. An explicit Deny wins, then an Allow; without a
//! matching Allow the request is denied (implicitly).

use crate::policy::wildcard_match;
use serde::Deserialize;
use serde_json::value::RawValue;

/// The only action API Gateway checks.
const INVOKE: &str = "execute-api:invoke";

/// What a policy says about one methodArn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// An Allow statement matches and no Deny does.
    Allow,
    /// A Deny statement matches.
    ExplicitDeny,
    /// No statement matches.
    ImplicitDeny,
}

/// A parsed authorizer answer: principal, statements and the context passed to the backend.
#[derive(Debug)]
pub(crate) struct Policy {
    principal_id: String,
    statements: Vec<Statement>,
    /// The `context` object as JSON text, passed on unchanged.
    context: Option<String>,
    size: usize,
}

#[derive(Debug)]
struct Statement {
    deny: bool,
    actions: Vec<String>,
    resources: Vec<String>,
}

/// Why an authorizer answer is not a usable policy (API Gateway answers 500 for these).
#[derive(Debug, thiserror::Error)]
pub(crate) enum PolicyError {
    /// Not the JSON shape of an authorizer answer.
    #[error("the authorizer answer is not a policy: {0}")]
    Shape(#[from] serde_json::Error),
    /// A statement's `Effect` is neither `Allow` nor `Deny`.
    #[error("a statement's Effect is neither Allow nor Deny")]
    Effect,
}

impl Policy {
    /// Reads an authorizer answer (`principalId`, `policyDocument`, optional `context`).
    ///
    /// # Errors
    /// [`PolicyError`] when the answer is not a policy.
    pub(crate) fn parse(json: &[u8]) -> Result<Self, PolicyError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer<'a> {
            principal_id: String,
            policy_document: Document,
            #[serde(borrow)]
            context: Option<&'a RawValue>,
        }
        #[derive(Deserialize)]
        struct Document {
            #[serde(rename = "Statement")]
            statement: OneOrMany<RawStatement>,
        }
        #[derive(Deserialize)]
        struct RawStatement {
            #[serde(rename = "Effect")]
            effect: String,
            #[serde(rename = "Action")]
            action: OneOrMany<String>,
            #[serde(rename = "Resource")]
            resource: OneOrMany<String>,
        }
        let answer: Answer<'_> = serde_json::from_slice(json)?;
        let statements = answer
            .policy_document
            .statement
            .into_vec()
            .into_iter()
            .map(|s| {
                let deny = match s.effect.as_str() {
                    "Allow" => false,
                    "Deny" => true,
                    _ => return Err(PolicyError::Effect),
                };
                Ok(Statement {
                    deny,
                    actions: s.action.into_vec(),
                    resources: s.resource.into_vec(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Policy {
            principal_id: answer.principal_id,
            statements,
            context: answer
                .context
                .map(|c| c.get().to_owned())
                .filter(|c| c != "null"),
            size: json.len(),
        })
    }

    /// Reads an HTTP API simple response (`isAuthorized`, optional `context`) as the policy it
    /// amounts to: every route allowed, or none. API Gateway caches it like a policy, per
    /// identity source value, and applies it to whichever route is called next.
    ///
    /// # Errors
    /// [`PolicyError`] when the answer is not a simple response.
    pub(crate) fn from_simple(json: &[u8]) -> Result<Self, PolicyError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer<'a> {
            is_authorized: bool,
            #[serde(borrow)]
            context: Option<&'a RawValue>,
        }
        let answer: Answer<'_> = serde_json::from_slice(json)?;
        let statements = if answer.is_authorized {
            vec![Statement {
                deny: false,
                actions: vec![INVOKE.to_owned()],
                resources: vec!["*".to_owned()],
            }]
        } else {
            Vec::new()
        };
        Ok(Policy {
            principal_id: String::new(),
            statements,
            context: answer
                .context
                .map(|c| c.get().to_owned())
                .filter(|c| c != "null"),
            size: json.len(),
        })
    }

    /// Evaluates the policy for a call of `method_arn`, as IAM does.
    pub(crate) fn evaluate(&self, method_arn: &str) -> Verdict {
        let mut allowed = false;
        for statement in &self.statements {
            let applies = statement
                .actions
                .iter()
                .any(|a| wildcard_match(&a.to_ascii_lowercase(), INVOKE))
                && statement
                    .resources
                    .iter()
                    .any(|r| wildcard_match(r, method_arn));
            if applies && statement.deny {
                return Verdict::ExplicitDeny;
            }
            allowed |= applies;
        }
        if allowed {
            Verdict::Allow
        } else {
            Verdict::ImplicitDeny
        }
    }

    /// `principalId`.
    pub(crate) fn principal_id(&self) -> &str {
        &self.principal_id
    }

    /// The authorizer `context` as JSON text, if there is one.
    pub(crate) fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }

    /// About how many bytes the policy holds, for the cache's budget.
    pub(crate) fn approximate_size(&self) -> usize {
        self.size + std::mem::size_of::<Self>()
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: &str = "arn:aws:execute-api:local:000000000000:local-api/local";

    fn policy(statements: &str) -> Policy {
        let json = format!(
            r#"{{"principalId":"alice","policyDocument":{{"Version":"2012-10-17","Statement":{statements}}},"context":{{"scope":"read:pets"}}}}"#
        );
        Policy::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn a_stage_wide_allow_covers_every_route() {
        let p = policy(&format!(
            r#"[{{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"{API}/*/*"}}]"#
        ));
        assert_eq!(p.evaluate(&format!("{API}/GET/pets")), Verdict::Allow);
        assert_eq!(p.evaluate(&format!("{API}/POST/pets/1")), Verdict::Allow);
        assert_eq!(
            p.evaluate("arn:aws:execute-api:local:000000000000:local-api/prod/GET/pets"),
            Verdict::ImplicitDeny
        );
        assert_eq!(p.principal_id(), "alice");
        assert_eq!(p.context(), Some(r#"{"scope":"read:pets"}"#));
    }

    #[test]
    fn explicit_deny_wins_over_allow() {
        let p = policy(&format!(
            r#"[{{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"{API}/*/*"}},
                {{"Action":["execute-api:*"],"Effect":"Deny","Resource":["{API}/POST/pets","{API}/DELETE/*"]}}]"#
        ));
        assert_eq!(p.evaluate(&format!("{API}/GET/pets")), Verdict::Allow);
        assert_eq!(
            p.evaluate(&format!("{API}/POST/pets")),
            Verdict::ExplicitDeny
        );
        assert_eq!(
            p.evaluate(&format!("{API}/DELETE/pets/2")),
            Verdict::ExplicitDeny
        );
    }

    #[test]
    fn a_method_policy_allows_only_its_method() {
        let p = policy(&format!(
            r#"{{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"{API}/GET/pets"}}"#
        ));
        assert_eq!(p.evaluate(&format!("{API}/GET/pets")), Verdict::Allow);
        assert_eq!(
            p.evaluate(&format!("{API}/GET/pets/1")),
            Verdict::ImplicitDeny
        );
    }

    #[test]
    fn other_actions_do_not_apply() {
        let p = policy(r#"[{"Action":"s3:GetObject","Effect":"Allow","Resource":"*"}]"#);
        assert_eq!(
            p.evaluate(&format!("{API}/GET/pets")),
            Verdict::ImplicitDeny
        );
    }

    #[test]
    fn answers_that_are_not_policies_are_errors() {
        for json in [
            &b"{}"[..],
            b"[]",
            br#"{"principalId":"a","policyDocument":{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}}"#,
            br#"{"principalId":"a","policyDocument":{"Statement":[{"Effect":"Allow","Resource":"*"}]}}"#,
        ] {
            assert!(Policy::parse(json).is_err(), "{}", String::from_utf8_lossy(json));
        }
    }
}
