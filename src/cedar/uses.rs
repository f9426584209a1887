//! What the policies read of a token's model, found once at start-up, so that a cache miss builds
//! only that: Cedar turns every claim into a value twice (the principal's attributes and the
//! record `context.token`), and a policy set that reads neither (groups alone, as Verified
//! Permissions' API-linked examples do) needs none of that work.
//!
//! Leaving out what no policy reads changes no decision: a policy that never names `context`
//! cannot see what the context holds, and attributes are only read by `.` and `has` (tags, the
//! other way, are never set here).

use serde_json::Value;

/// The parts of the model that some policy may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uses {
    /// Some policy names `context`.
    pub context: bool,
    /// Some policy reads (or tests) an attribute of something other than the context record: the
    /// principal's, maybe.
    pub attributes: bool,
}

impl Uses {
    /// Nothing read.
    pub const NOTHING: Uses = Uses {
        context: false,
        attributes: false,
    };

    /// What policies read, together, from their JSON forms (Cedar's EST), which spell every
    /// access out, whatever the syntax (`a.b`, `a["b"]`, `a has b.c`).
    pub fn of<'p>(written: impl IntoIterator<Item = &'p Value>) -> Self {
        let mut uses = Uses::NOTHING;
        for est in written {
            uses.walk(est);
        }
        uses
    }

    fn walk(&mut self, value: &Value) {
        match value {
            Value::Object(map) => {
                if map.get("Var").and_then(Value::as_str) == Some("context") {
                    self.context = true;
                }
                for operator in [".", "has"] {
                    if let Some(access) = map.get(operator)
                        && !in_context(access.get("left"))
                    {
                        self.attributes = true;
                    }
                }
                map.values().for_each(|inner| self.walk(inner));
            }
            Value::Array(items) => items.iter().for_each(|item| self.walk(item)),
            _ => {}
        }
    }
}

/// Whether an expression is `context`, or a chain of attribute accesses from it
/// (`context.token`): a record the model builds, holding no entity.
fn in_context(expression: Option<&Value>) -> bool {
    match expression {
        Some(e) if e.get("Var").and_then(Value::as_str) == Some("context") => true,
        Some(e) => in_context(e.get(".").and_then(|access| access.get("left"))),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cedar_policy::Policy;
    use std::str::FromStr;

    fn written(text: &str) -> Value {
        Policy::from_str(text).unwrap().to_json().unwrap()
    }

    fn uses(condition: &str) -> Uses {
        let text = format!("permit(principal, action, resource) when {{ {condition} }};");
        Uses::of([&written(&text)])
    }

    #[test]
    fn groups_and_equality_read_nothing_of_the_claims() {
        let group = written(
            r#"permit(principal in UserGroup::"p|admins", action == Action::"get /", resource);"#,
        );
        assert_eq!(Uses::of([&group]), Uses::NOTHING);
        assert_eq!(
            uses(r#"principal == User::"p|alice" && resource is Application"#),
            Uses::NOTHING
        );
    }

    #[test]
    fn every_way_of_reading_the_context_or_an_attribute_is_found() {
        let context_only = Uses {
            context: true,
            attributes: false,
        };
        for condition in [
            r#"context.token.email like "*@example.com""#,
            r#"context["token"]["scope"].contains("a")"#,
            "context has token.sub",
            r#"context == {"token": {}}"#,
        ] {
            assert_eq!(uses(condition), context_only, "{condition}");
        }
        let attributes_only = Uses {
            context: false,
            attributes: true,
        };
        for condition in [
            "principal.admin",
            r#"principal["email"] like "*@example.com""#,
            "principal has amr",
            r#"User::"p|alice".admin"#,
            r#"{"who": principal}.who.admin"#,
            r#"(if true then principal else principal).admin"#,
        ] {
            assert_eq!(uses(condition), attributes_only, "{condition}");
        }
        let both = uses(r#"context.token.sub == principal.sub"#);
        assert_eq!(
            both,
            Uses {
                context: true,
                attributes: true
            }
        );
        let mut all = uses("true");
        assert_eq!(all, Uses::NOTHING);
        all = Uses::of([
            &written("permit(principal, action, resource) when { principal.a };"),
            &written("forbid(principal, action, resource) unless { context.token.b };"),
        ]);
        assert_eq!(all, both);
    }
}
