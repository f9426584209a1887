//! What the policies read of a token's model, found once at start-up, so that a cache miss builds
//! only that: Cedar turns every claim it is given into a value, once for the principal's
//! attributes and once for the record `context.token`, and most policies read a few claims (a
//! policy set on groups alone, as Verified Permissions' API-linked examples write, reads none).
//!
//! Leaving out what no policy reads changes no decision: a policy that never names `context`
//! cannot see what the context holds; an attribute is only read by `.` and `has` with its name
//! written out (Cedar has no computed attribute names), so an attribute no policy names cannot be
//! seen (tags, the other way, are never set here); and an entity's parents are only seen by `in`.

use super::context::TOKEN;
use serde_json::Value;
use std::collections::BTreeSet;

/// The members of a record (or an entity's attributes) that some policy may read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Reads {
    /// None, and the record itself is not named.
    #[default]
    Nothing,
    /// These members (the record itself is named: it must exist, even empty).
    Names(BTreeSet<String>),
    /// All: the record is used whole (compared, or put in a set).
    All,
}

impl Reads {
    /// Whether the record is needed at all.
    pub fn any(&self) -> bool {
        *self != Reads::Nothing
    }

    /// Whether the member `name` is needed.
    pub fn admits(&self, name: &str) -> bool {
        match self {
            Reads::Nothing => false,
            Reads::Names(names) => names.contains(name),
            Reads::All => true,
        }
    }

    fn named(&mut self) {
        if *self == Reads::Nothing {
            *self = Reads::Names(BTreeSet::new());
        }
    }

    fn add(&mut self, name: &str) {
        self.named();
        if let Reads::Names(names) = self {
            names.insert(name.to_owned());
        }
    }
}

/// The parts of the model that some policy may read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uses {
    /// The members of `context.token` (the claims) read.
    pub token: Reads,
    /// The attributes read of something other than the context: the principal's, maybe.
    pub attributes: Reads,
    /// Some expression tests ancestry (`in`): the principal's groups and the schema's action
    /// groups must be in the entities.
    pub ancestry: bool,
}

impl Uses {
    /// Nothing read.
    pub const NOTHING: Uses = Uses {
        token: Reads::Nothing,
        attributes: Reads::Nothing,
        ancestry: false,
    };

    /// Everything: the whole model, as `policy explain` builds it.
    pub const ALL: Uses = Uses {
        token: Reads::All,
        attributes: Reads::All,
        ancestry: true,
    };

    /// What policies (or their conditions) read, together, from their JSON forms (Cedar's EST),
    /// which spell every access out, whatever the syntax (`a.b`, `a["b"]`, `a has b.c`).
    pub fn of<'p>(written: impl IntoIterator<Item = &'p Value>) -> Self {
        let mut uses = Uses::NOTHING;
        for est in written {
            uses.walk(est, false);
        }
        uses
    }

    /// `accessed`: `value` is the left operand of an attribute access or test.
    fn walk(&mut self, value: &Value, accessed: bool) {
        match value {
            Value::Object(map) => {
                if map.contains_key("in") {
                    // `a in b`, and `a is T in b`.
                    self.ancestry = true;
                }
                if is_context(value) {
                    if !accessed {
                        self.token = Reads::All;
                    }
                    return;
                }
                let Some((left, path, test)) = access(map) else {
                    map.values().for_each(|inner| self.walk(inner, false));
                    return;
                };
                if is_context(left) {
                    if path.first() == Some(&TOKEN) {
                        match path.get(1) {
                            Some(member) => self.token.add(member),
                            None if test || accessed => self.token.named(),
                            // `context.token` as a value of its own.
                            None => self.token = Reads::All,
                        }
                    }
                } else if is_token(left) {
                    if let Some(member) = path.first() {
                        self.token.add(member);
                    }
                } else if !in_context(left)
                    && let Some(attribute) = path.first()
                {
                    self.attributes.add(attribute);
                }
                self.walk(left, true);
            }
            Value::Array(items) => items.iter().for_each(|item| self.walk(item, false)),
            _ => {}
        }
    }
}

/// An attribute access (`.`) or test (`has`, with its path): its left operand, the attributes
/// named, and whether it is a test.
fn access(map: &serde_json::Map<String, Value>) -> Option<(&Value, Vec<&str>, bool)> {
    let (operator, access) = [".", "has"]
        .into_iter()
        .find_map(|op| Some((op, map.get(op)?)))?;
    let path = match access.get("attr")? {
        Value::String(attribute) => vec![attribute.as_str()],
        Value::Array(path) => path.iter().filter_map(Value::as_str).collect(),
        _ => return None,
    };
    Some((access.get("left")?, path, operator == "has"))
}

/// `{"Var": "context"}`.
fn is_context(expression: &Value) -> bool {
    expression.get("Var").and_then(Value::as_str) == Some("context")
}

/// `context.token`.
fn is_token(expression: &Value) -> bool {
    expression.get(".").is_some_and(|a| {
        a.get("attr").and_then(Value::as_str) == Some(TOKEN)
            && a.get("left").is_some_and(is_context)
    })
}

/// Whether an expression is `context`, or a chain of attribute accesses from it
/// (`context.token`): a record the model builds, holding no entity.
fn in_context(expression: &Value) -> bool {
    is_context(expression)
        || expression
            .get(".")
            .and_then(|access| access.get("left"))
            .is_some_and(in_context)
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

    fn names(names: &[&str]) -> Reads {
        Reads::Names(names.iter().map(|n| (*n).to_owned()).collect())
    }

    #[test]
    fn groups_and_equality_read_nothing_of_the_claims() {
        let group = written(
            r#"permit(principal in UserGroup::"p|admins", action == Action::"get /", resource);"#,
        );
        // The scope's `in` is decided without the entities (see `sweep`).
        assert_eq!(Uses::of([&group]), Uses::NOTHING);
        assert_eq!(
            uses(r#"principal == User::"p|alice" && resource is Application"#),
            Uses::NOTHING
        );
    }

    #[test]
    fn every_way_of_reading_the_token_record_names_what_it_reads() {
        for (condition, read) in [
            (
                r#"context.token.email like "*@example.com""#,
                names(&["email"]),
            ),
            (
                r#"context["token"]["scope"].contains("a")"#,
                names(&["scope"]),
            ),
            ("context has token.sub", names(&["sub"])),
            (
                "context.token has amr && context.token.amr.contains(\"mfa\")",
                names(&["amr"]),
            ),
            ("context has token", names(&[])),
            ("context.token.address.city == \"x\"", names(&["address"])),
            (r#"context.token == {}"#, Reads::All),
            (r#"[context.token].isEmpty()"#, Reads::All),
            (r#"context == {"token": {}}"#, Reads::All),
        ] {
            let found = uses(condition);
            assert_eq!(found.token, read, "{condition}");
            assert_eq!(found.attributes, Reads::Nothing, "{condition}");
        }
    }

    #[test]
    fn every_way_of_reading_an_attribute_names_it() {
        for (condition, read) in [
            ("principal.admin", names(&["admin"])),
            (
                r#"principal["email"] like "*@example.com""#,
                names(&["email"]),
            ),
            ("principal has amr.x", names(&["amr"])),
            (r#"User::"p|alice".admin"#, names(&["admin"])),
            (r#"{"who": principal}.who.admin"#, names(&["admin", "who"])),
            (
                r#"(if true then principal else principal).level > 1"#,
                names(&["level"]),
            ),
        ] {
            let found = uses(condition);
            assert_eq!(found.attributes, read, "{condition}");
            assert_eq!(found.token, Reads::Nothing, "{condition}");
        }
        let both = uses(r#"context.token.sub == principal.sub"#);
        assert_eq!(
            (both.token, both.attributes),
            (names(&["sub"]), names(&["sub"]))
        );
    }

    #[test]
    fn ancestry_is_needed_by_in_alone() {
        assert!(!uses("principal.level > 1").ancestry);
        assert!(uses(r#"principal in UserGroup::"p|a""#).ancestry);
        assert!(uses(r#"principal is User in UserGroup::"p|a""#).ancestry);
        assert!(uses(r#"action in [Action::"read"]"#).ancestry);
    }

    #[test]
    fn policies_read_together() {
        let all = Uses::of([
            &written("permit(principal, action, resource) when { principal.a };"),
            &written("forbid(principal, action, resource) unless { context.token.b };"),
        ]);
        assert_eq!(
            all,
            Uses {
                token: names(&["b"]),
                attributes: names(&["a"]),
                ancestry: false
            }
        );
    }
}
