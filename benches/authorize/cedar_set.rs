//! The policy set of the Cedar benchmarks (issue 18): 20 routes and 20 policies, shared by
//! `benches/authorize.rs` (`cedar/compile_20_routes`, `authorize/token_event_cedar`) and
//! `benches/cedar_cold_start.rs`.

/// Five resources, four routes each: 20 routes.
pub const RESOURCES: [&str; 5] = ["pets", "owners", "vets", "visits", "orders"];

/// Four policies per resource, 20 in all, of the kinds the PetStore example shows: a group's
/// permit, a scope condition, a group's permit with a condition on the token, and a forbid.
pub fn policies() -> String {
    let mut text = String::new();
    for r in RESOURCES {
        text.push_str(&format!(
            r#"@id("{r}-readers")
permit (principal in Bench::UserGroup::"bench|readers",
        action in [Bench::Action::"get /{r}", Bench::Action::"get /{r}/{{id}}"], resource);
@id("{r}-writers")
permit (principal, action == Bench::Action::"post /{r}", resource)
when {{ principal has scope && principal.scope.contains("write:{r}") }};
@id("{r}-admins")
permit (principal in Bench::UserGroup::"bench|{r}-admins",
        action in [Bench::Action::"get /{r}", Bench::Action::"post /{r}",
                   Bench::Action::"get /{r}/{{id}}", Bench::Action::"delete /{r}/{{id}}"],
        resource)
when {{ context.token has email && context.token.email like "*@example.com" }};
@id("{r}-delete-needs-mfa")
forbid (principal, action == Bench::Action::"delete /{r}/{{id}}", resource)
unless {{ principal has amr && principal.amr.contains("mfa") }};
"#
        ));
    }
    text
}

pub fn routes() -> String {
    RESOURCES
        .iter()
        .map(|r| format!("GET /{r}; POST /{r}; GET /{r}/{{id}}; DELETE /{r}/{{id}}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Twenty policies on groups alone, as Verified Permissions writes for an API-linked policy store
/// (`permit (principal in UserGroup, action in [routes], resource)`): they read no claim but the
/// groups, so a token's attributes and `context.token` are not built (`src/cedar/uses.rs`).
pub fn group_policies() -> String {
    let mut text = String::new();
    for r in RESOURCES {
        for (group, actions) in [
            (
                "readers",
                format!(r#"Bench::Action::"get /{r}", Bench::Action::"get /{r}/{{id}}""#),
            ),
            ("writers", format!(r#"Bench::Action::"post /{r}""#)),
            (
                "{r}-admins",
                format!(r#"Bench::Action::"delete /{r}/{{id}}", Bench::Action::"post /{r}""#),
            ),
            ("auditors", format!(r#"Bench::Action::"get /{r}/{{id}}""#)),
        ] {
            let group = group.replace("{r}", r);
            text.push_str(&format!(
                "@id(\"{r}-{group}\")\npermit (principal in Bench::UserGroup::\"bench|{group}\", action in [{actions}], resource);\n"
            ));
        }
    }
    text
}
