//! The engine through the configuration, with the PetStore example's files
//! (`examples/petstore-cedar/`).

use super::*;
use crate::config::Config;
use std::collections::HashMap;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/petstore-cedar");

fn config(vars: &[(&str, &str)]) -> Result<Config, crate::ConfigError> {
    let mut map: HashMap<String, String> = [
        ("TOKEN_ISSUER", "https://issuer.example/"),
        ("AUDIENCE", "api"),
        ("ISSUER_NAME", "petstore"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    map.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_lookup(|name| map.get(name).cloned())
}

fn example() -> std::sync::Arc<Engine> {
    let policies = format!("{EXAMPLE}/policies");
    let schema = format!("{EXAMPLE}/schema.cedarschema");
    let openapi = format!("{EXAMPLE}/openapi.yaml");
    config(&[
        ("CEDAR_POLICIES", &policies),
        ("CEDAR_SCHEMA", &schema),
        ("API_DEFINITION", &openapi),
    ])
    .unwrap()
    .cedar
    .expect("policies configured")
}

fn permitted(engine: &Engine, claims: &str) -> Vec<(String, bool)> {
    let compiled = engine.compile(0, claims.as_bytes()).unwrap();
    engine
        .routes()
        .list()
        .iter()
        .zip(compiled.verdicts())
        .map(|(r, v)| (r.action.clone(), v.permitted))
        .collect()
}

#[test]
fn the_petstore_policies_decide_every_route_per_group() {
    let engine = example();
    assert_eq!(engine.policy_count(), 4);
    let reader = permitted(&engine, r#"{"sub":"bob","groups":["readers"]}"#);
    assert_eq!(
        reader,
        [
            ("get /pets".to_owned(), true),
            ("post /pets".to_owned(), false),
            ("get /pets/{petId}".to_owned(), true),
            ("delete /pets/{petId}".to_owned(), false),
        ]
    );
    let admin = r#"{"sub":"ann","groups":["admins"]}"#;
    let admin_mfa = r#"{"sub":"ann","groups":["admins"],"amr":["pwd","mfa"]}"#;
    assert_eq!(
        permitted(&engine, admin)
            .iter()
            .filter(|(_, ok)| *ok)
            .count(),
        3,
        "admins, but no delete without mfa"
    );
    assert!(permitted(&engine, admin_mfa).iter().all(|(_, ok)| *ok));
    let writer = permitted(&engine, r#"{"sub":"w","scope":"read:pets write:pets"}"#);
    assert_eq!(
        writer
            .iter()
            .filter(|(_, ok)| *ok)
            .map(|(a, _)| a.as_str())
            .collect::<Vec<_>>(),
        ["post /pets"]
    );
    // The denying policy of a forbid, and none where no permit applied.
    let compiled = engine.compile(0, admin.as_bytes()).unwrap();
    assert_eq!(
        engine.policy_id(compiled.verdicts()[3].policy),
        "delete-needs-mfa"
    );
    let compiled = engine.compile(0, br#"{"sub":"x"}"#).unwrap();
    assert_eq!(engine.policy_id(compiled.verdicts()[0].policy), NO_PERMIT);
}

#[test]
fn routes_come_from_the_schema_when_no_list_or_document_names_them() {
    let policies = format!("{EXAMPLE}/policies");
    let schema = format!("{EXAMPLE}/schema.cedarschema");
    let c = config(&[("CEDAR_POLICIES", &policies), ("CEDAR_SCHEMA", &schema)]).unwrap();
    let engine = c.cedar.unwrap();
    assert_eq!(engine.routes().list().len(), 4);
    let err = config(&[("CEDAR_POLICIES", &policies)]).unwrap_err();
    assert_eq!(err.problems[0].variable, "CEDAR_ROUTES", "{err}");
}

#[test]
fn policies_failing_validation_are_refused_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("a.cedar");
    std::fs::write(
        &good,
        "permit(principal, action == PetStore::Action::\"get /pets\", resource);\n",
    )
    .unwrap();
    // Line 3: an attribute the schema does not declare; a second file with a syntax error.
    std::fs::write(
        dir.path().join("b.cedar"),
        "// admins\n@id(\"typo\")\npermit(principal, action, resource) when { principal.emial == \"x\" };\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("c.cedar"),
        "permit(principal, action resource);\n",
    )
    .unwrap();
    let folder = dir.path().to_str().unwrap().to_owned();
    let schema = format!("{EXAMPLE}/schema.cedarschema");
    let err = config(&[
        ("CEDAR_POLICIES", &folder),
        ("CEDAR_SCHEMA", &schema),
        ("CEDAR_ROUTES", "GET /pets"),
    ])
    .unwrap_err();
    let text = err.to_string();
    let c = format!("{folder}/c.cedar:1:");
    assert!(
        text.contains(&c),
        "the syntax error's line and column:\n{text}"
    );
    assert!(
        !text.contains("emial"),
        "not validated while a file does not parse:\n{text}"
    );

    std::fs::remove_file(dir.path().join("c.cedar")).unwrap();
    let err = config(&[
        ("CEDAR_POLICIES", &folder),
        ("CEDAR_SCHEMA", &schema),
        ("CEDAR_ROUTES", "GET /pets"),
    ])
    .unwrap_err();
    let text = err.to_string();
    let b = format!("{folder}/b.cedar:3:");
    assert!(text.contains(&b) && text.contains("\"typo\""), "{text}");
    assert!(
        err.problems.iter().all(|p| p.variable == "CEDAR_POLICIES"),
        "{err:?}"
    );

    let bad_schema = dir.path().join("schema.cedarschema");
    std::fs::write(
        &bad_schema,
        "namespace PetStore {\n  entity User in [Nope];\n}\n",
    )
    .unwrap();
    std::fs::remove_file(dir.path().join("b.cedar")).unwrap();
    let err = config(&[
        ("CEDAR_POLICIES", good.to_str().unwrap()),
        ("CEDAR_SCHEMA", bad_schema.to_str().unwrap()),
        ("CEDAR_ROUTES", "GET /pets"),
    ])
    .unwrap_err();
    assert_eq!(err.problems[0].variable, "CEDAR_SCHEMA", "{err}");
}

#[test]
fn an_explicit_simple_response_needs_the_route_key_under_cedar_too() {
    let policies = format!("{EXAMPLE}/policies");
    let err = config(&[
        ("CEDAR_POLICIES", &policies),
        ("CEDAR_ROUTES", "GET /pets"),
        ("HTTP_API_RESPONSE", "simple"),
    ])
    .unwrap_err();
    assert_eq!(err.problems[0].variable, "HTTP_API_RESPONSE", "{err}");
}

#[test]
fn the_lints_name_routes_no_policy_permits() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.cedar");
    std::fs::write(
        &file,
        "permit(principal, action == PetStore::Action::\"get /pets\", resource);",
    )
    .unwrap();
    let c = config(&[
        ("CEDAR_POLICIES", file.to_str().unwrap()),
        ("CEDAR_ROUTES", "GET /pets; PUT /pets/{petId}"),
        ("CEDAR_NAMESPACE", "PetStore"),
    ])
    .unwrap();
    let warnings = c.cedar.unwrap().warnings().join("\n");
    assert!(
        warnings.contains("\"put /pets/{petId}\": no policy permits it"),
        "{warnings}"
    );
    assert!(!warnings.contains("\"get /pets\": no policy"), "{warnings}");
}

#[test]
fn policies_reading_the_request_need_answers_for_the_called_method_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("owners.cedar");
    std::fs::write(
        &file,
        "@id(\"own-pets\")\npermit(principal, action, resource) when { principal has pets && principal.pets.contains(context.pathParameters.petId) };\n@id(\"by-token\")\npermit(principal, action, resource) when { context.token has admin };\n",
    )
    .unwrap();
    let policies = file.to_str().unwrap();
    let vars = [
        ("CEDAR_POLICIES", policies),
        ("CEDAR_ROUTES", "GET /pets/{petId}"),
        ("CEDAR_NAMESPACE", "PetStore"),
    ];
    let err = config(&vars).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert_eq!(err.problems[0].variable, "CEDAR_POLICIES");
    let text = err.to_string();
    assert!(
        text.contains("\"own-pets\" reads context.pathParameters")
            && text.contains("POLICY_RESOURCE=method"),
        "{text}"
    );

    let mut method = vars.to_vec();
    method.push(("POLICY_RESOURCE", "method"));
    let engine = config(&method).unwrap().cedar.unwrap();
    assert!(engine.per_request());
    assert_eq!(
        engine.request_reads(),
        [("own-pets".to_owned(), "pathParameters".to_owned())]
    );
    // Token-only policies are compiled for every route as before.
    let plain = config(&[
        ("CEDAR_POLICIES", &format!("{EXAMPLE}/policies")),
        ("CEDAR_ROUTES", "GET /pets"),
    ])
    .unwrap();
    assert!(!plain.cedar.unwrap().per_request());
}

#[test]
fn a_policy_reading_what_the_context_does_not_hold_is_refused_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("headers.cedar");
    std::fs::write(
        &file,
        "@id(\"no-bots\")\nforbid(principal, action, resource) when { context.headers.agent like \"*bot*\" };\n",
    )
    .unwrap();
    for mode in ["stage", "method"] {
        let err = config(&[
            ("CEDAR_POLICIES", file.to_str().unwrap()),
            ("CEDAR_ROUTES", "GET /pets"),
            ("POLICY_RESOURCE", mode),
        ])
        .unwrap_err();
        assert_eq!(err.problems[0].variable, "CEDAR_POLICIES", "{err}");
        assert!(
            err.to_string()
                .contains("\"no-bots\" reads context.headers: the context holds `token`"),
            "{err}"
        );
    }
}

/// One evaluation of each policy per token (`sweep`) decides every route as asking Cedar once
/// per route does (`explain`): action groups, `==` and `in`, a forbid, a policy that errs (and is
/// skipped), and, in the second set, a policy whose condition reads `action` (asked per route).
#[test]
fn one_evaluation_per_policy_decides_every_route_as_cedar_per_route() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.cedarschema");
    std::fs::write(
        &schema,
        r#"namespace PetStore {
  entity UserGroup;
  entity User in [UserGroup] { level?: Long, amr?: Set<String> };
  entity Application;
  action "read";
  action "get /pets", "get /pets/{petId}" in ["read"] appliesTo { principal: [User], resource: [Application] };
  action "post /pets", "delete /pets/{petId}" appliesTo { principal: [User], resource: [Application] };
}"#,
    )
    .unwrap();
    let base = r#"
@id("readers") permit(principal in PetStore::UserGroup::"petstore|readers", action in PetStore::Action::"read", resource);
@id("one") permit(principal, action in [PetStore::Action::"post /pets"], resource) when { principal has level && principal.level > 2 };
@id("admins") permit(principal in PetStore::UserGroup::"petstore|admins", action, resource);
@id("mfa") forbid(principal, action == PetStore::Action::"delete /pets/{petId}", resource) unless { principal has amr && principal.amr.contains("mfa") };
@id("low") forbid(principal, action in PetStore::Action::"read", resource) when { principal has level && principal.level < 0 };
"#;
    let by_action = r#"@id("by-action") permit(principal, action, resource) when { action == PetStore::Action::"get /pets" && principal has level };"#;
    let claims = [
        r#"{"sub":"a","groups":["readers"]}"#,
        r#"{"sub":"b","groups":["admins"],"amr":["mfa"]}"#,
        r#"{"sub":"c","groups":["admins","readers"],"level":-1}"#,
        r#"{"sub":"d","level":3}"#,
        r#"{"sub":"e","level":"high"}"#,
        r#"{"sub":"f","groups":["admins"],"level":5}"#,
    ];
    for (text, swept) in [
        (base.to_owned(), true),
        (format!("{base}{by_action}"), false),
    ] {
        let file = dir.path().join("p.cedar");
        std::fs::write(&file, text).unwrap();
        let engine = config(&[
            ("CEDAR_POLICIES", file.to_str().unwrap()),
            ("CEDAR_SCHEMA", schema.to_str().unwrap()),
        ])
        .unwrap()
        .cedar
        .unwrap();
        assert_eq!(engine.sweep.is_some(), swept);
        assert_eq!(engine.routes().list().len(), 4);
        for claims in claims {
            let compiled = engine.compile(0, claims.as_bytes()).unwrap();
            let parsed = model::TokenClaims::parse(claims.as_bytes()).unwrap();
            let explained = engine.explain(0, &parsed).unwrap();
            for (verdict, per_route) in compiled.verdicts().iter().zip(&explained) {
                let what = format!("{claims} {}", per_route.action);
                assert_eq!(verdict.permitted, per_route.permitted, "{what}");
                match verdict.policy {
                    Some(_) => {
                        let id = engine.policy_id(verdict.policy).to_owned();
                        assert!(per_route.policies.contains(&id), "{what}: {id}");
                    }
                    None => assert!(per_route.policies.is_empty(), "{what}"),
                }
            }
        }
    }
}

/// Policies of every shape the sweep decides itself or leaves to Cedar: each kind of principal
/// and resource constraint (some that no token meets), actions by `==` and `in`, conditions on
/// attributes and on `context.token` (some that err on some tokens), `in` inside a condition, the
/// token record used whole, forbids, an extension function (the engine builds Cedar's extension
/// tables only for these), and a condition that reads `action` (asked per route).
const POOL: [&str; 19] = [
    r#"permit(principal in PetStore::UserGroup::"petstore|readers", action in [PetStore::Action::"get /pets", PetStore::Action::"get /pets/{petId}"], resource);"#,
    r#"permit(principal == PetStore::User::"petstore|alice", action, resource == PetStore::Application::"PetStore");"#,
    r#"permit(principal is PetStore::User in PetStore::UserGroup::"petstore|admins", action, resource in PetStore::Application::"PetStore");"#,
    r#"permit(principal in PetStore::User::"petstore|bob", action == PetStore::Action::"post /pets", resource is PetStore::Application);"#,
    r#"permit(principal == PetStore::UserGroup::"petstore|readers", action, resource);"#,
    r#"permit(principal is PetStore::UserGroup, action, resource);"#,
    r#"permit(principal, action, resource == PetStore::Application::"Other");"#,
    r#"permit(principal, action == PetStore::Action::"post /pets", resource) when { principal.level > 2 };"#,
    r#"permit(principal is PetStore::User, action, resource) when { context.token has email && context.token.email like "*@example.com" };"#,
    r#"forbid(principal, action == PetStore::Action::"delete /pets/{petId}", resource) unless { principal has amr && principal.amr.contains("mfa") };"#,
    r#"forbid(principal in PetStore::UserGroup::"petstore|readers", action in [PetStore::Action::"get /pets"], resource) when { principal.level < 0 };"#,
    r#"permit(principal, action == PetStore::Action::"delete /pets/{petId}", resource) when { principal in PetStore::UserGroup::"petstore|admins" };"#,
    r#"permit(principal, action == PetStore::Action::"get /pets", resource) when { context.token == {"sub": "bob"} };"#,
    r#"forbid(principal, action, resource) when { context has token.banned && context.token.banned };"#,
    r#"permit(principal, action, resource is PetStore::Application) when { principal has email && principal.email == context.token.email };"#,
    r#"forbid(principal, action == PetStore::Action::"post /pets", resource) unless { context has token };"#,
    r#"permit(principal, action == PetStore::Action::"get /pets/{petId}", resource) when { principal has level } unless { principal.level < 1 } when { context.token has email };"#,
    r#"permit(principal, action == PetStore::Action::"post /pets", resource) when { principal has level && decimal("2.5").greaterThan(decimal("1.0")) && principal.level > 2 };"#,
    r#"permit(principal, action, resource) when { action == PetStore::Action::"get /pets" && principal has level };"#,
];

fn pool_engine(chosen: &[usize], dir: &std::path::Path) -> Engine {
    let text: String = chosen
        .iter()
        .map(|i| format!("@id(\"p{i}\")\n{}\n", POOL[*i]))
        .collect();
    let file = dir.join("pool.cedar");
    std::fs::write(&file, &text).unwrap();
    let config = config(&[
        ("CEDAR_POLICIES", file.to_str().unwrap()),
        (
            "CEDAR_ROUTES",
            "GET /pets; POST /pets; GET /pets/{petId}; DELETE /pets/{petId}",
        ),
        ("CEDAR_NAMESPACE", "PetStore"),
    ])
    .unwrap();
    std::sync::Arc::try_unwrap(config.cedar.unwrap()).unwrap()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 160, ..Default::default() })]

    /// What a cache miss compiles (scopes decided without Cedar, one evaluation of the
    /// conditions, a model holding only what the conditions read) is, route by route, what Cedar
    /// decides when asked once per route with the whole policies and the whole model
    /// (`explain`): the same verdict, named by a policy Cedar names.
    #[test]
    fn compile_decides_every_route_as_cedar_asked_per_route_with_the_whole_model(
        chosen in proptest::sample::subsequence((0..POOL.len()).collect::<Vec<_>>(), 1..=7),
        sub in proptest::sample::select(vec!["alice", "bob", "carol"]),
        groups in proptest::sample::subsequence(vec!["readers", "admins", "other"], 0..=3),
        one_group in proptest::bool::ANY,
        level in proptest::sample::select(vec!["", r#","level":3"#, r#","level":-1"#, r#","level":"high""#]),
        amr in proptest::sample::select(vec!["", r#","amr":["mfa"]"#, r#","amr":["pwd"]"#]),
        email in proptest::sample::select(vec!["", r#","email":"a@example.com""#, r#","email":"a@else.org""#]),
        banned in proptest::sample::select(vec!["", r#","banned":true"#, r#","banned":"yes""#]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let engine = pool_engine(&chosen, dir.path());
        proptest::prop_assert_eq!(engine.sweep.is_some(), !chosen.contains(&(POOL.len() - 1)));
        let groups = match (one_group, groups.first()) {
            (true, Some(g)) => format!(r#""{g}""#),
            _ => serde_json::to_string(&groups).unwrap(),
        };
        let claims = format!(r#"{{"sub":"{sub}","groups":{groups}{level}{amr}{email}{banned}}}"#);
        let compiled = engine.compile(0, claims.as_bytes()).unwrap();
        let parsed = model::TokenClaims::parse(claims.as_bytes()).unwrap();
        let explained = engine.explain(0, &parsed).unwrap();
        for (verdict, per_route) in compiled.verdicts().iter().zip(&explained) {
            let what = format!("{claims} {} {chosen:?}", per_route.action);
            proptest::prop_assert_eq!(verdict.permitted, per_route.permitted, "{}", what);
            match verdict.policy {
                Some(_) => {
                    let id = engine.policy_id(verdict.policy).to_owned();
                    proptest::prop_assert!(per_route.policies.contains(&id), "{}: {}", what, id);
                }
                None => proptest::prop_assert!(per_route.policies.is_empty(), "{}", what),
            }
        }
    }
}

/// A set of policies on groups alone needs no model at all, and one that reads a claim builds
/// that claim alone.
#[test]
fn a_cache_miss_builds_only_what_the_conditions_read() {
    let dir = tempfile::tempdir().unwrap();
    let groups = pool_engine(&[0, 1, 2], dir.path());
    assert_eq!(groups.sweep.as_ref().unwrap().uses, uses::Uses::NOTHING);
    let some = pool_engine(&[0, 7, 8], dir.path());
    let names = |n: &[&str]| uses::Reads::Names(n.iter().map(|s| (*s).to_owned()).collect());
    assert_eq!(
        some.sweep.as_ref().unwrap().uses,
        uses::Uses {
            token: names(&["email"]),
            attributes: names(&["level"]),
            ancestry: false,
        }
    );
    // Evaluated whole (per route, or per request), the scopes' `in` needs the groups.
    assert!(some.uses.ancestry);
    // Cedar's extension tables, only for policies that call an extension function.
    use cedar_policy_core::extensions::Extensions;
    assert!(std::ptr::eq(some.extensions, Extensions::none()));
    let decimal = pool_engine(&[0, 17], dir.path());
    assert!(std::ptr::eq(
        decimal.extensions,
        Extensions::all_available()
    ));
}
