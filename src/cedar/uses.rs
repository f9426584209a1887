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
use super::expr::{access, for_each_operand, is_var};
use cedar_policy_core::ast::{BinaryOp, Expr, ExprKind, Var};
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

    /// What conditions read, together: every access is an attribute access or test with its
    /// left operand, whatever the syntax (`a.b`, `a["b"]`, `a has b.c`).
    pub fn of<'e>(conditions: impl IntoIterator<Item = &'e Expr>) -> Self {
        let mut uses = Uses::NOTHING;
        for condition in conditions {
            uses.walk(condition, false);
        }
        uses
    }

    /// `accessed`: `expr` is the left operand of an attribute access or test.
    fn walk(&mut self, expr: &Expr, accessed: bool) {
        if is_var(expr, Var::Context) {
            if !accessed {
                self.token = Reads::All;
            }
            return;
        }
        if let ExprKind::BinaryApp {
            op: BinaryOp::In, ..
        } = expr.expr_kind()
        {
            // `a in b`, and `a is T in b`.
            self.ancestry = true;
        }
        let Some(access) = access(expr) else {
            for_each_operand(expr, |operand| self.walk(operand, false));
            return;
        };
        if is_var(access.left, Var::Context) {
            if access.attribute == TOKEN {
                match access.then {
                    Some(member) => self.token.add(member),
                    None if access.test || accessed => self.token.named(),
                    // `context.token` as a value of its own.
                    None => self.token = Reads::All,
                }
            }
        } else if is_token(access.left) {
            self.token.add(access.attribute);
        } else if !in_context(access.left) {
            self.attributes.add(access.attribute);
        }
        self.walk(access.left, true);
    }
}

/// `context.token`.
fn is_token(expr: &Expr) -> bool {
    access(expr).is_some_and(|a| !a.test && a.attribute == TOKEN && is_var(a.left, Var::Context))
}

/// Whether an expression is `context`, or a chain of attribute accesses from it
/// (`context.token`): a record the model builds, holding no entity.
fn in_context(expr: &Expr) -> bool {
    is_var(expr, Var::Context) || access(expr).is_some_and(|a| !a.test && in_context(a.left))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cedar_policy::Policy;
    use std::str::FromStr;

    fn written(text: &str) -> Policy {
        Policy::from_str(text).unwrap()
    }

    fn uses(condition: &str) -> Uses {
        let text = format!("permit(principal, action, resource) when {{ {condition} }};");
        Uses::of(super::super::expr::conditions(&written(&text)))
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
        assert_eq!(
            Uses::of(super::super::expr::conditions(&group)),
            Uses::NOTHING
        );
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
        let policies = [
            written("permit(principal, action, resource) when { principal.a };"),
            written("forbid(principal, action, resource) unless { context.token.b };"),
        ];
        let all = Uses::of(policies.iter().filter_map(super::super::expr::conditions));
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
