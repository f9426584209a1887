//! The answer API Gateway caches is right for every route and every credential: through the real
//! binary (`authorizer invoke`), for HTTP API and REST `REQUEST` events.

mod support;

use serde_json::{Value, json};
use support::invoke::{Run, env_for, invoke};
use support::*;

const API: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123";

/// An HTTP API (payload 2.0) event for `METHOD /path` through `route_key`, with these identity
/// source values and `Authorization` header.
fn http_event(route_key: &str, call: &str, identity: &[&str], header: Option<&str>) -> Vec<u8> {
    let (method, path) = call.split_once(' ').unwrap();
    let mut event = json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": format!("{API}/$default/{method}{path}"),
        "routeKey": route_key,
        "rawPath": path,
        "headers": {"host": "abcdef123.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {"http": {"method": method, "path": path}, "routeKey": route_key},
    });
    if !identity.is_empty() {
        event["identitySource"] = json!(identity);
    }
    if let Some(header) = header {
        event["headers"]["authorization"] = json!(header);
    }
    serde_json::to_vec(&event).unwrap()
}

/// A REST `REQUEST` event for `METHOD /path` through the resource `resource`, with these headers.
fn request_event(resource: &str, call: &str, headers: Value) -> Vec<u8> {
    let (method, path) = call.split_once(' ').unwrap();
    serde_json::to_vec(&json!({
        "type": "REQUEST",
        "methodArn": format!("{API}/prod/{method}{path}"),
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "requestContext": {"resourcePath": resource, "httpMethod": method, "stage": "prod"},
    }))
    .unwrap()
}

/// A token with `scope` "openid read:pets" (not `write:pets`).
async fn reader() -> (JwksServer, String) {
    let key = rsa_key("route-safety");
    let server = JwksServer::with_keys(&[key]).await;
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    (server, format!("Bearer {token}"))
}

fn refused(run: &Run, reason: &str) {
    assert_eq!(run.code, 1, "{} / {}", run.stdout, run.stderr);
    assert_eq!(
        run.answer(),
        json!({"errorType": "Unauthorized", "errorMessage": "Unauthorized"})
    );
    assert!(run.stderr.contains(reason), "{reason}: {}", run.stderr);
}

/// The `Deny` resources of a policy answer.
fn denied(answer: &Value) -> Vec<String> {
    answer["policyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Effect"] == "Deny")
        .flat_map(|s| match &s["Resource"] {
            Value::Array(all) => all.iter().map(|r| r.as_str().unwrap().to_owned()).collect(),
            one => vec![one.as_str().unwrap().to_owned()],
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http_api_simple_answer_under_route_rules_is_only_given_when_cached_per_route() {
    let (server, bearer) = reader().await;
    let rules = ("ROUTE_SCOPES", "POST /pets=write:pets");

    // Cached under the token alone, a yes for GET /pets would also open POST /pets.
    let token_only = env_for(&server, &[rules]);
    let get = http_event("GET /pets", "GET /pets", &[&bearer], Some(&bearer));
    let run = invoke(&token_only, &get).await;
    refused(&run, "unsafe_cache_key");
    assert!(run.stderr.contains("$context.routeKey"), "{}", run.stderr);

    // Cached per route: each route gets its own yes or no.
    let per_route = env_for(
        &server,
        &[
            rules,
            (
                "IDENTITY_SOURCE",
                "$request.header.Authorization, $context.routeKey",
            ),
        ],
    );
    let get = http_event("GET /pets", "GET /pets", &[&bearer, "GET /pets"], None);
    let run = invoke(&per_route, &get).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.answer()["isAuthorized"], true);
    let post = http_event("POST /pets", "POST /pets", &[&bearer, "POST /pets"], None);
    let run = invoke(&per_route, &post).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.answer()["isAuthorized"], false);
    // A route value that is not the route key (another identity source in its place).
    let spoofed = http_event("POST /pets", "POST /pets", &[&bearer, "GET /pets"], None);
    refused(&invoke(&per_route, &spoofed).await, "unsafe_cache_key");

    // Policy answers are right for every route under the token alone.
    let policy = env_for(&server, &[rules, ("HTTP_API_RESPONSE", "policy")]);
    let get = http_event("GET /pets", "GET /pets", &[&bearer], None);
    let run = invoke(&policy, &get).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(denied(&run.answer()), [format!("{API}/$default/POST/pets")]);

    // Chosen explicitly, the unsafe combination does not start.
    let explicit = env_for(&server, &[rules, ("HTTP_API_RESPONSE", "simple")]);
    let run = invoke(&explicit, &get).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("HTTP_API_RESPONSE"), "{}", run.stderr);
    assert!(run.stderr.contains("IDENTITY_SOURCE"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_verified_credential_is_the_one_api_gateway_caches_on() {
    let (server, bearer) = reader().await;
    // The authorizer's identity source is `X-Token`: API Gateway caches the answer under its value.
    // A valid `Authorization` header beside a junk `X-Token` must not be what is verified, or
    // anyone repeating the junk value would get the cached Allow.
    let default = env_for(&server, &[]);
    let junk = "Bearer anything-the-caller-likes";
    let event = http_event("GET /pets", "GET /pets", &[junk], Some(&bearer));
    refused(&invoke(&default, &event).await, "malformed");

    let x_token = env_for(&server, &[("IDENTITY_SOURCE", "$request.header.X-Token")]);
    let event = http_event("GET /pets", "GET /pets", &[&bearer], Some(junk));
    let run = invoke(&x_token, &event).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.answer()["isAuthorized"], true);
    // Identity values that do not match IDENTITY_SOURCE: refused, and said why.
    let two = http_event("GET /pets", "GET /pets", &[&bearer, "x"], None);
    let run = invoke(&x_token, &two).await;
    refused(&run, "unsafe_cache_key");
    assert!(run.stderr.contains("IDENTITY_SOURCE"), "{}", run.stderr);

    // REST REQUEST authorizers: the token is read from the identity source's header.
    let rest = env_for(
        &server,
        &[("IDENTITY_SOURCE", "method.request.header.X-Token")],
    );
    let event = request_event(
        "/pets",
        "GET /pets",
        json!({"Authorization": bearer, "X-Token": junk}),
    );
    refused(&invoke(&rest, &event).await, "malformed");
    let event = request_event("/pets", "GET /pets", json!({"x-token": bearer}));
    assert_eq!(invoke(&rest, &event).await.code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_hold_on_greedy_routes_whatever_the_trailing_slash_or_case() {
    let (server, bearer) = reader().await;
    let env = env_for(
        &server,
        &[
            ("ROUTE_SCOPES", "POST /pets=write:pets"),
            ("HTTP_API_RESPONSE", "policy"),
        ],
    );
    let auth = json!({"Authorization": bearer});
    for call in ["POST /pets/", "POST /PETS", "POST /pets//", "POST /%70ets"] {
        // A REST `{proxy+}` resource, and an HTTP API `ANY /{proxy+}` route.
        for event in [
            request_event("/{proxy+}", call, auth.clone()),
            http_event("ANY /{proxy+}", call, &[&bearer], None),
        ] {
            let run = invoke(&env, &event).await;
            assert_eq!(run.code, 0, "{call}: {}", run.stderr);
            let answer = run.answer();
            let arn = serde_json::from_slice::<Value>(&event).unwrap();
            let arn = arn.get("methodArn").or(arn.get("routeArn")).unwrap();
            assert!(
                denied(&answer).iter().any(|d| d == arn),
                "{call}: the called ARN {arn} is denied in {answer}"
            );
        }
    }
    // Other paths of the same greedy route are not denied by the rule.
    let run = invoke(
        &env,
        &request_event("/{proxy+}", "POST /owners", auth.clone()),
    )
    .await;
    assert_eq!(denied(&run.answer()), [format!("{API}/prod/POST/pets")]);
    // A route template names the rule's route exactly, whatever the called path.
    let run = invoke(&env, &request_event("/pets", "POST /pets/", auth)).await;
    assert!(
        denied(&run.answer()).contains(&format!("{API}/prod/POST/pets/")),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scopes_are_read_from_the_configured_claims_as_strings_or_arrays() {
    let key = rsa_key("route-safety");
    let server = JwksServer::with_keys(&[key]).await;
    let sign = |changes: Value| {
        let mut claims = good_claims(&server.issuer());
        claims.as_object_mut().unwrap().remove("scope");
        for (k, v) in changes.as_object().unwrap() {
            claims[k] = v.clone();
        }
        format!("Bearer {}", key.sign(&claims).unwrap())
    };
    let post =
        |bearer: &str| request_event("/pets", "POST /pets", json!({"Authorization": bearer}));
    let rules = ("ROUTE_SCOPES", "POST /pets=write:pets");

    // Auth0 RBAC: `permissions`, an array.
    let rbac = env_for(&server, &[rules, ("SCOPE_CLAIMS", "permissions")]);
    let token = sign(json!({"scope": "openid", "permissions": ["read:pets", "write:pets"]}));
    let answer = invoke(&rbac, &post(&token)).await.answer();
    assert_eq!(denied(&answer), Vec::<String>::new());
    assert_eq!(answer["context"]["scope"], "read:pets write:pets");

    // Okta and Entra ID: `scp`, read by default when `scope` is absent.
    let default = env_for(&server, &[rules]);
    let token = sign(json!({"scp": ["read:pets"]}));
    let answer = invoke(&default, &post(&token)).await.answer();
    assert_eq!(denied(&answer), [format!("{API}/prod/POST/pets")]);
    assert_eq!(answer["context"]["scope"], "read:pets");
    let token = sign(json!({"scp": ["read:pets", "write:pets"]}));
    assert_eq!(
        denied(&invoke(&default, &post(&token)).await.answer()).len(),
        0
    );

    // A scope claim of another type is refused.
    for bad in [
        json!({"scope": 7}),
        json!({"scp": ["read:pets", 7]}),
        json!({"scope": {"a": 1}}),
    ] {
        refused(
            &invoke(&default, &post(&sign(bad.clone()))).await,
            "invalid_claim",
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_usage_identifier_claim_becomes_the_usage_plan_key() {
    let (server, bearer) = reader().await;
    let env = env_for(&server, &[("USAGE_IDENTIFIER_CLAIM", "azp")]);
    let event = request_event("/pets", "GET /pets", json!({"Authorization": bearer}));
    let run = invoke(&env, &event).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.answer()["usageIdentifierKey"], "client-1");

    let missing = env_for(&server, &[("USAGE_IDENTIFIER_CLAIM", "client_id")]);
    refused(&invoke(&missing, &event).await, "missing_usage_identifier");
}

/// A rule's `*` covers every character of the called path, a literal `*` in it too. Found by
/// cargo-mutants (issue 21): the matcher took a pattern's `*` for the literal `*` facing it and
/// lost its way back, so under `$default` a simple answer said yes to `GET /admin/*x` for a token
/// the rule on `GET /admin/*` refuses.
#[tokio::test(flavor = "multi_thread")]
async fn a_rule_covers_a_called_path_with_a_literal_star() {
    let (server, bearer) = reader().await;
    let env = env_for(
        &server,
        &[
            ("ROUTE_SCOPES", "GET /admin/*=admin"),
            (
                "IDENTITY_SOURCE",
                "$request.header.Authorization, $context.routeKey",
            ),
        ],
    );
    for call in ["GET /admin/x", "GET /admin/*x", "GET /admin/a*b/c"] {
        let event = http_event("$default", call, &[&bearer, "$default"], None);
        let run = invoke(&env, &event).await;
        assert_eq!(run.code, 0, "{call}: {}", run.stderr);
        assert_eq!(
            run.answer()["isAuthorized"],
            false,
            "{call}: {}",
            run.stdout
        );
    }
    let event = http_event("$default", "GET /pets", &[&bearer, "$default"], None);
    assert_eq!(invoke(&env, &event).await.answer()["isAuthorized"], true);
}

/// A rule whose path cannot be an API Gateway route (a path variable inside a segment) would
/// cover no call and so guard nothing: the authorizer does not start with it, and says why.
#[tokio::test(flavor = "multi_thread")]
async fn a_rule_on_a_path_no_route_can_have_stops_start_up() {
    let (server, bearer) = reader().await;
    let event = http_event("GET /files/v2", "GET /files/v2", &[&bearer], None);
    let env = env_for(&server, &[("ROUTE_SCOPES", "GET /files/v{version}=admin")]);
    let run = invoke(&env, &event).await;
    assert_eq!(run.code, 2, "{} / {}", run.stdout, run.stderr);
    assert!(run.stderr.contains("ROUTE_SCOPES"), "{}", run.stderr);
    assert!(run.stderr.contains("v{version}"), "{}", run.stderr);
    // The same rule on a whole-segment variable starts, and guards the route.
    let env = env_for(
        &server,
        &[
            ("ROUTE_SCOPES", "GET /files/{version}=admin"),
            ("HTTP_API_RESPONSE", "policy"),
        ],
    );
    let run = invoke(&env, &event).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let denied = &run.answer()["policyDocument"]["Statement"][1];
    assert_eq!(denied["Effect"], "Deny", "{}", run.stdout);
}
