//! Reading the policies' conditions as Cedar's parser gives them (`cedar-policy-core`'s AST), for
//! the start-up analyses: what the conditions read ([`super::uses`], [`super::context`]) and
//! whether they read the action ([`super::sweep`]).

use cedar_policy::Policy;
use cedar_policy_core::ast::{self, Expr, ExprKind, Var};

/// A policy's conditions (`when`, `unless`), joined as Cedar evaluates them; `None` without any.
/// Its scope is left out: it reads no attribute, and its `in` is decided without Cedar.
pub fn conditions(policy: &Policy) -> Option<&Expr> {
    // `cedar-policy`'s own view of its policy as parsed (`#[doc(hidden)]`, and only as stable as
    // the exact version Cargo.toml pins).
    AsRef::<ast::Policy>::as_ref(policy).non_scope_constraints()
}

/// Calls `visit` on each operand of `expr` (not their own operands).
pub fn for_each_operand<'e>(expr: &'e Expr, mut visit: impl FnMut(&'e Expr)) {
    match expr.expr_kind() {
        ExprKind::If {
            test_expr,
            then_expr,
            else_expr,
        } => {
            visit(test_expr);
            visit(then_expr);
            visit(else_expr);
        }
        ExprKind::And { left, right } | ExprKind::Or { left, right } => {
            visit(left);
            visit(right);
        }
        ExprKind::BinaryApp { arg1, arg2, .. } => {
            visit(arg1);
            visit(arg2);
        }
        ExprKind::UnaryApp { arg, .. } => visit(arg),
        ExprKind::GetAttr { expr, .. }
        | ExprKind::HasAttr { expr, .. }
        | ExprKind::ExtHasAttr { expr, .. }
        | ExprKind::Like { expr, .. }
        | ExprKind::Is { expr, .. } => visit(expr),
        ExprKind::ExtensionFunctionApp { args, .. } | ExprKind::Set(args) => {
            args.iter().for_each(visit);
        }
        ExprKind::Record(members) => members.values().for_each(visit),
        // Literals, variables and slots have no operands.
        _ => {}
    }
}

/// An attribute access (`a.b`, `a["b"]`) or test (`a has b`, `a has b.c`).
pub struct Access<'e> {
    /// What the attribute is read of.
    pub left: &'e Expr,
    /// The attribute read or tested.
    pub attribute: &'e str,
    /// A test's next attribute on the path (`c` in `a has b.c`).
    pub then: Option<&'e str>,
    /// Whether it is a `has` test.
    pub test: bool,
}

/// `expr` as an attribute access or test.
pub fn access(expr: &Expr) -> Option<Access<'_>> {
    let (left, attribute, then, test) = match expr.expr_kind() {
        ExprKind::GetAttr { expr, attr } => (expr, attr, None, false),
        ExprKind::HasAttr { expr, attr } => (expr, attr, None, true),
        ExprKind::ExtHasAttr { expr, attrs } => (expr, attrs.first(), attrs.get(1), true),
        _ => return None,
    };
    Some(Access {
        left,
        attribute,
        then: then.map(|a| a.as_str()),
        test,
    })
}

/// Whether `expr` calls one of Cedar's extension functions (`ip`, `decimal`, `datetime`, ...,
/// and their methods such as `isInRange`). Only such a call makes an extension value: the
/// claims never become one.
pub fn calls_extension(expr: &Expr) -> bool {
    expr.subexpressions()
        .any(|e| matches!(e.expr_kind(), ExprKind::ExtensionFunctionApp { .. }))
}

/// Whether `expr` is the variable `var`.
pub fn is_var(expr: &Expr, var: Var) -> bool {
    matches!(expr.expr_kind(), ExprKind::Var(v) if *v == var)
}
