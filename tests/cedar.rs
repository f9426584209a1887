//! Cedar policies (issue 18), through the real binary and through the library against a real
//! JWKS server on 127.0.0.1: the one cached policy is right for every route, the same decisions
//! as `cedar-policy`'s own authorizer over random claim sets, and policies failing validation
//! refused at start-up naming their file and line; each denial logged and counted by its deciding
//! policy on the Lambda function.
#![cfg(feature = "cedar")]

mod support;

use proptest::prelude::*;
use serde_json::{Value, json};
use std::str::FromStr;
use support::invoke::{env_for, invoke};
use support::runtime_api::{RuntimeApi, authorization_field, spawn_function, stop_and_read_stdout};
use support::*;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/petstore-cedar");
const API: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123";
/// Calls of the PetStore's four routes (and one the route list misses).
const CALLS: [(&str, &str); 5] = [
    ("get /pets", "GET/pets"),
    ("post /pets", "POST/pets"),
    ("get /pets/{petId}", "GET/pets/7"),
    ("delete /pets/{petId}", "DELETE/pets/7"),
    ("put /pets/{petId}", "PUT/pets/7"),
];

fn cedar_env(server: &JwksServer) -> Vec<(String, String)> {
    env_for(
        server,
        &[
            ("ISSUER_NAME", "petstore"),
            ("CEDAR_POLICIES", &format!("{EXAMPLE}/policies")),
            ("CEDAR_SCHEMA", &format!("{EXAMPLE}/schema.cedarschema")),
            ("API_DEFINITION", &format!("{EXAMPLE}/openapi.yaml")),
        ],
    )
}

fn token_event_for(token: &str, call: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "TOKEN",
        "authorizationToken": format!("Bearer {token}"),
        "methodArn": format!("{API}/prod/{call}"),
    }))
    .unwrap()
}

/// What IAM answers for `call` (`GET/pets/7`) under `answer`'s policy: an explicit Deny wins,
/// then an Allow, else deny.
fn iam_allows(answer: &Value, call: &str) -> bool {
    let arn = format!("{API}/prod/{call}");
    let mut allowed = false;
    for statement in answer["policyDocument"]["Statement"].as_array().unwrap() {
        let resources: Vec<&str> = match &statement["Resource"] {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().map(|r| r.as_str().unwrap()).collect(),
            other => panic!("Resource {other}"),
        };
        if resources
            .iter()
            .any(|r| jwt_authorizer::wildcard_match(r, &arn))
        {
            match statement["Effect"].as_str().unwrap() {
                "Deny" => return false,
                _ => allowed = true,
            }
        }
    }
    allowed
}

fn mint(server: &JwksServer, extra: Value) -> String {
    let mut claims = good_claims(&server.issuer());
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    let _ = server;
    rsa_key("cedar").sign(&claims).unwrap()
}

#[tokio::test]
async fn the_binary_answers_each_group_with_one_policy_right_for_every_route() {
    let server = JwksServer::with_keys(&[rsa_key("cedar")]).await;
    let env = cedar_env(&server);
    let reader = mint(&server, json!({"groups": ["readers"]}));
    let admin = mint(&server, json!({"groups": ["admins"], "amr": ["mfa"]}));
    let nobody = mint(&server, json!({"groups": ["guests"], "scope": "read:pets"}));
    // (token, route called, allowed on each call of CALLS by the one policy).
    let table = [
        (&reader, "GET/pets/7", [true, false, true, false, false]),
        (&admin, "DELETE/pets/7", [true, true, true, true, false]),
        (&nobody, "GET/pets", [false, false, false, false, false]),
    ];
    for (token, call, expected) in table {
        let run = invoke(&env, token_event_for(token, call)).await;
        assert_eq!(run.code, 0, "{} {}", run.stdout, run.stderr);
        let answer = run.answer();
        let got: Vec<bool> = CALLS.iter().map(|(_, c)| iam_allows(&answer, c)).collect();
        assert_eq!(got, expected, "{call}: {answer}");
    }
    // The called route is answered right even when the route list misses it: an admin may PUT.
    let run = invoke(&env, token_event_for(&admin, "PUT/pets/7")).await;
    assert!(iam_allows(&run.answer(), "PUT/pets/7"), "{}", run.stdout);
    // The denial names the deciding policy in the log line, never the token.
    let delete = mint(&server, json!({"groups": ["admins"]}));
    let run = invoke(&env, token_event_for(&delete, "DELETE/pets/7")).await;
    assert!(!iam_allows(&run.answer(), "DELETE/pets/7"));
    assert!(run.stderr.contains("delete-needs-mfa"), "{}", run.stderr);
    assert!(!run.stderr.contains(&delete), "the token is never logged");
}

/// The verified-token cache remembers a token's Cedar decisions beside its signature: the same
/// token is then answered on every route from what was remembered (no second verification or
/// evaluation), with the same decisions.
#[tokio::test]
async fn a_repeated_token_is_answered_from_its_remembered_cedar_decisions() {
    let server = JwksServer::with_keys(&[rsa_key("cedar")]).await;
    let env = cedar_env(&server);
    let config = jwt_authorizer::Config::from_lookup(|name| {
        env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
    .unwrap();
    let authorizer = jwt_authorizer::Authorizer::from_config(config).unwrap();
    let reader = mint(&server, json!({"groups": ["readers"]}));
    let expected = [true, false, true, false, false];
    for (i, (_, call)) in CALLS.iter().enumerate() {
        let (decision, answer) =
            authorize_event(&authorizer, &token_event_for(&reader, call)).await;
        let answer = answer.expect("a policy");
        assert_eq!(
            decision.cache_hit,
            i > 0,
            "{call}: a hit after the first call"
        );
        let got: Vec<bool> = CALLS.iter().map(|(_, c)| iam_allows(&answer, c)).collect();
        assert_eq!(got, expected, "{call}: {answer}");
    }
    assert_eq!(authorizer.verified_tokens(), 1);
}

/// What operators see of a denial on the Lambda function: its log line names the deciding policy
/// (the `forbid` that applied, or `none` when no `permit` did), and `cedar_denials` counts it by
/// policy and issuer in the EMF documents, on a verified-token cache hit as on a miss; the token
/// is in neither.
#[tokio::test(flavor = "multi_thread")]
async fn each_denial_is_logged_and_counted_by_its_deciding_policy_on_the_lambda_function() {
    let server = JwksServer::with_keys(&[rsa_key("cedar")]).await;
    let mut api = RuntimeApi::start().await;
    let (policies, schema, openapi) = (
        format!("{EXAMPLE}/policies"),
        format!("{EXAMPLE}/schema.cedarschema"),
        format!("{EXAMPLE}/openapi.yaml"),
    );
    let mut child = spawn_function(
        &api,
        &server,
        &[
            ("ISSUER_NAME", "petstore"),
            ("CEDAR_POLICIES", &policies),
            ("CEDAR_SCHEMA", &schema),
            ("API_DEFINITION", &openapi),
            ("METRICS_FLUSH_INTERVAL_SECONDS", "0"),
        ],
    );
    let admin = mint(&server, json!({"groups": ["admins"]}));
    let guest = mint(&server, json!({"groups": ["guests"]}));
    // Two denials by `delete-needs-mfa` (the second a cache hit), one by no permit, one allow.
    for (token, call) in [
        (&admin, "DELETE/pets/7"),
        (&admin, "DELETE/pets/7"),
        (&guest, "GET/pets"),
        (&admin, "GET/pets"),
    ] {
        api.push(token_event_for(token, call));
    }
    for _ in 0..4 {
        let answer = api
            .answer(std::time::Duration::from_secs(20))
            .await
            .expect("an answer per event");
        assert_eq!(answer.kind, "response", "a Deny is a policy: {answer:?}");
    }
    let (stdout, documents) = stop_and_read_stdout(&mut child).await;
    let logged = authorization_field(&documents, "policy");
    assert_eq!(
        logged,
        ["delete-needs-mfa", "delete-needs-mfa", "none"],
        "{stdout}"
    );
    let mut counted = std::collections::BTreeMap::new();
    for doc in documents.iter().filter(|d| d["cedar_denials"].is_number()) {
        let key = (
            doc["policy"].as_str().unwrap_or_default().to_owned(),
            doc["issuer"].as_str().unwrap_or_default().to_owned(),
        );
        *counted.entry(key).or_insert(0) += doc["cedar_denials"].as_u64().unwrap();
    }
    let label = |policy: &str| (policy.to_owned(), "petstore".to_owned());
    assert_eq!(
        counted,
        [(label("delete-needs-mfa"), 2), (label("none"), 1)].into(),
        "{stdout}"
    );
    for token in [&admin, &guest] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!stdout.contains(signature), "the token is never logged");
    }
}

#[tokio::test]
async fn http_api_simple_responses_under_cedar_need_the_route_key() {
    let server = JwksServer::with_keys(&[rsa_key("cedar")]).await;
    let reader = mint(&server, json!({"groups": ["readers"]}));
    let event = |route_key: &str, call: &str, identity: Vec<String>| {
        let (method, path) = call.split_once(' ').unwrap();
        serde_json::to_vec(&json!({
            "version": "2.0", "type": "REQUEST",
            "routeArn": format!("{API}/$default/{method}{path}"),
            "routeKey": route_key, "rawPath": path,
            "identitySource": identity,
            "headers": {"authorization": format!("Bearer {reader}")},
            "requestContext": {"http": {"method": method, "path": path}, "routeKey": route_key},
        }))
        .unwrap()
    };
    let bearer = format!("Bearer {reader}");
    let run = invoke(
        &cedar_env(&server),
        event("GET /pets", "GET /pets", vec![bearer.clone()]),
    )
    .await;
    assert_eq!(run.code, 1, "unsafe_cache_key: {}", run.stdout);
    assert!(run.stderr.contains("unsafe_cache_key"), "{}", run.stderr);

    let mut env = cedar_env(&server);
    env.push((
        "IDENTITY_SOURCE".into(),
        "$request.header.Authorization,$context.routeKey".into(),
    ));
    for (route_key, call, allowed) in [
        ("GET /pets/{petId}", "GET /pets/7", true),
        ("POST /pets", "POST /pets", false),
    ] {
        let identity = vec![bearer.clone(), route_key.to_owned()];
        let run = invoke(&env, event(route_key, call, identity)).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.answer()["isAuthorized"], allowed, "{call}");
    }
}

#[tokio::test]
async fn policies_failing_validation_stop_the_start_naming_file_and_line() {
    let server = JwksServer::with_keys(&[rsa_key("cedar")]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.cedar");
    std::fs::write(
        &file,
        "@id(\"ok\")\npermit(principal, action, resource);\n\n@id(\"typo\")\npermit(principal, action == PetStore::Action::\"get /petz\", resource);\n",
    )
    .unwrap();
    let mut env = cedar_env(&server);
    env.retain(|(k, _)| k != "CEDAR_POLICIES");
    env.push(("CEDAR_POLICIES".into(), file.display().to_string()));
    let run = invoke(&env, token_event_for("x.y.z", "GET/pets")).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    let at = format!("CEDAR_POLICIES: {}:5:", file.display());
    assert!(run.stderr.contains(&at), "{}", run.stderr);
    assert!(run.stderr.contains("get /petz"), "{}", run.stderr);
}

/// Builds the entities, with `cedar-policy`'s own JSON entity format, for the claims the property
/// test draws: independent of the authorizer's mapping code.
fn reference_decisions(groups: &[&str], scopes: &[&str], mfa: bool) -> Vec<bool> {
    use cedar_policy::{Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request};
    let text = std::fs::read_to_string(format!("{EXAMPLE}/policies/petstore.cedar")).unwrap();
    let policies = PolicySet::from_str(&text).unwrap();
    let mut attrs = json!({"sub": "auth0|alice", "scope": scopes});
    if mfa {
        attrs["amr"] = json!(["pwd", "mfa"]);
    }
    let parents: Vec<Value> = groups
        .iter()
        .map(|g| json!({"type": "PetStore::UserGroup", "id": format!("petstore|{g}")}))
        .collect();
    let entities = Entities::from_json_value(
        json!([{
            "uid": {"type": "PetStore::User", "id": "petstore|auth0|alice"},
            "attrs": attrs,
            "parents": parents,
        }]),
        None,
    )
    .unwrap();
    CALLS
        .iter()
        .map(|(action, _)| {
            let request = Request::new(
                EntityUid::from_str(r#"PetStore::User::"petstore|auth0|alice""#).unwrap(),
                EntityUid::from_str(&format!(r#"PetStore::Action::"{action}""#)).unwrap(),
                EntityUid::from_str(r#"PetStore::Application::"PetStore""#).unwrap(),
                Context::empty(),
                None,
            )
            .unwrap();
            Authorizer::new()
                .is_authorized(&request, &policies, &entities)
                .decision()
                == Decision::Allow
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// For random groups, scopes and a second factor, the one policy the authorizer writes for a
    /// call of any route answers every known route as `cedar-policy` decides it, and the called
    /// route (known or not) too.
    #[test]
    fn the_cached_policy_agrees_with_cedars_own_authorizer(
        groups in proptest::sample::subsequence(vec!["readers", "admins", "guests", "Admins"], 0..=4),
        scopes in proptest::sample::subsequence(vec!["read:pets", "write:pets", "openid"], 0..=3),
        mfa in any::<bool>(),
        called in 0..CALLS.len(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let server = JwksServer::with_keys(&[rsa_key("cedar")]).await;
            let env: Vec<(String, String)> = cedar_env(&server);
            let config = jwt_authorizer::Config::from_lookup(|name| {
                env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            })
            .unwrap();
            let authorizer = jwt_authorizer::Authorizer::from_config(config).unwrap();
            let mut extra = json!({"groups": groups, "scope": scopes.join(" ")});
            if mfa {
                extra["amr"] = json!(["pwd", "mfa"]);
            }
            let token = mint(&server, extra);
            let expected = reference_decisions(&groups, &scopes, mfa);
            let event = token_event_for(&token, CALLS[called].1);
            let (_, answer) = authorize_event(&authorizer, &event).await;
            let answer = answer.expect("a policy");
            for (i, (action, call)) in CALLS.iter().enumerate() {
                // The route list misses `put`: only its own call is answered by evaluation.
                if i == 4 && called != 4 {
                    continue;
                }
                prop_assert_eq!(iam_allows(&answer, call), expected[i], "{} in {}", action, answer);
            }
            // A second call (the verified-token cache's remembered decisions) answers the same.
            let (_, again) = authorize_event(&authorizer, &event).await;
            prop_assert_eq!(again.expect("a policy"), answer);
            Ok(())
        })?;
    }
}

/// A policy reading the called route's path parameters: a token's pets, by id.
const OWN_PETS: &str = r#"@id("own-pets")
permit(principal, action == PetStore::Action::"get /pets/{petId}", resource)
when { principal has pets && principal.pets.contains(context.pathParameters.petId) };
@id("list")
permit(principal, action == PetStore::Action::"get /pets", resource);
"#;

fn own_pets_env(server: &JwksServer, dir: &std::path::Path) -> Vec<(String, String)> {
    let file = dir.join("own-pets.cedar");
    std::fs::write(&file, OWN_PETS).unwrap();
    env_for(
        server,
        &[
            ("ISSUER_NAME", "petstore"),
            ("CEDAR_POLICIES", file.to_str().unwrap()),
            ("CEDAR_ROUTES", "GET /pets; GET /pets/{petId}"),
            ("CEDAR_NAMESPACE", "PetStore"),
        ],
    )
}

#[tokio::test]
async fn policies_reading_path_parameters_are_refused_where_an_answer_is_cached_for_every_route() {
    let server = JwksServer::with_keys(&[rsa_key("cedar")]).await;
    let dir = tempfile::tempdir().unwrap();
    let run = invoke(
        &own_pets_env(&server, dir.path()),
        token_event_for("x.y.z", "GET/pets/7"),
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("policy \"own-pets\" reads context.pathParameters")
            && run.stderr.contains("POLICY_RESOURCE=method"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn with_answers_for_the_called_method_alone_they_are_evaluated_at_every_request() {
    let server = JwksServer::with_keys(&[rsa_key("cedar")]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = own_pets_env(&server, dir.path());
    env.push(("POLICY_RESOURCE".into(), "method".into()));
    let config = jwt_authorizer::Config::from_lookup(|name| {
        env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
    .unwrap();
    let authorizer = jwt_authorizer::Authorizer::from_config(config).unwrap();
    let token = mint(&server, json!({"pets": ["7", "9"]}));
    // The same token, one call after another: the second and later calls are verified-token
    // cache hits, and each route is still decided on its own path parameters.
    for (call, allowed) in [
        ("GET/pets/7", true),
        ("GET/pets/8", false),
        ("GET/pets/9", true),
        ("GET/pets", true),
        ("GET/pets/8", false),
    ] {
        let (decision, answer) = authorize_event(&authorizer, &token_event_for(&token, call)).await;
        let answer = answer.expect("a policy");
        let statements = answer["policyDocument"]["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 1, "{answer}");
        assert_eq!(
            statements[0]["Resource"],
            json!(format!("{API}/prod/{call}")),
            "the called method ARN alone: {answer}"
        );
        assert_eq!(iam_allows(&answer, call), allowed, "{call}: {answer}");
        assert_eq!(decision.cache_hit, call != "GET/pets/7", "{call}");
        if !allowed {
            assert_eq!(decision.policy, Some("none"), "{call}");
        }
    }
}
