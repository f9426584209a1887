use super::*;
use serde_json::{Value, json};

const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/pets/1";

fn rules(spec: &[&str]) -> Vec<RouteRule> {
    spec.iter().map(|r| RouteRule::parse(r).unwrap()).collect()
}

/// A grant of `scope` by issuer `users`, with the claims kept for route rules.
fn grant<'a>(scope: Option<&'a str>, claims: &'a [(&'a str, Option<&'a RawValue>)]) -> Grant<'a> {
    Grant {
        principal: "auth0|alice",
        arn: MethodArn::parse(ARN).unwrap(),
        issuer: "users",
        scope,
        context: &[],
        claims,
    }
}

fn policy(scope: Option<&str>, mode: ResourceMode, rules: &[RouteRule]) -> Value {
    let grant = grant(scope, &[]);
    let mut out = Vec::new();
    write_policy(&mut out, &grant, mode, rules);
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn method_arns_split_into_api_stage_method_and_path() {
    let arn = MethodArn::parse(ARN).unwrap();
    assert_eq!(
        arn.api,
        "arn:aws:execute-api:us-east-1:123456789012:abcdef123"
    );
    assert_eq!((arn.stage, arn.method, arn.path), ("prod", "GET", "pets/1"));
    let root = MethodArn::parse("arn:aws:execute-api:eu-west-1:1:api/$default/GET/").unwrap();
    assert_eq!((root.stage, root.path), ("$default", ""));
    let china = MethodArn::parse("arn:aws-cn:execute-api:cn-north-1:1:api/s/POST/a/b").unwrap();
    assert_eq!(china.api, "arn:aws-cn:execute-api:cn-north-1:1:api");
    for bad in [
        "",
        "arn:aws:lambda:us-east-1:1:function:f",
        "arn:aws:execute-api:us-east-1:1:api",
        "arn:aws:execute-api:us-east-1:1:api/stage",
        "not:aws:execute-api:r:1:api/s/GET/x",
    ] {
        assert_eq!(MethodArn::parse(bad), None, "{bad}");
    }
}

#[test]
fn the_default_policy_allows_the_whole_stage_so_a_cached_policy_fits_every_route() {
    assert_eq!(
        policy(Some("read:pets"), ResourceMode::Stage, &[]),
        json!({
            "principalId": "auth0|alice",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/*/*"
                }]
            },
            "context": {"scope": "read:pets"}
        })
    );
}

#[test]
fn method_mode_allows_only_the_called_arn() {
    let p = policy(None, ResourceMode::Method, &[]);
    assert_eq!(p["policyDocument"]["Statement"][0]["Resource"], ARN);
    assert_eq!(p["context"], json!({}));
}

#[test]
fn route_rules_deny_exactly_the_routes_whose_scopes_are_missing() {
    let rules = rules(&[
        "GET /pets=read:pets",
        "POST /pets=write:pets",
        "DELETE /pets/{petId}=admin write:pets",
    ]);
    let p = policy(Some("openid read:pets"), ResourceMode::Stage, &rules);
    let statements = p["policyDocument"]["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2);
    assert_eq!(statements[1]["Effect"], "Deny");
    assert_eq!(
        statements[1]["Resource"],
        json!([
            "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/POST/pets",
            "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/DELETE/pets/*"
        ])
    );
    let all = policy(
        Some("read:pets write:pets admin"),
        ResourceMode::Stage,
        &rules,
    );
    assert_eq!(
        all["policyDocument"]["Statement"].as_array().unwrap().len(),
        1
    );
}

#[test]
fn rules_parse_methods_paths_and_scopes() {
    let r = RouteRule::parse("get /pets/{petId}/toys = read:pets read:toys").unwrap();
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, "pets/*/toys");
    assert_eq!(r.scopes, ["read:pets", "read:toys"]);
    assert_eq!(RouteRule::parse("ANY /=x").unwrap().method, "*");
    for bad in [
        "GET /pets",
        "GET=x",
        "FETCH /pets=x",
        "GET pets=x",
        "GET /pets=",
    ] {
        assert!(RouteRule::parse(bad).is_err(), "{bad}");
    }
    assert!(r.covers("GET", "pets/7/toys"));
    assert!(!r.covers("POST", "pets/7/toys"));
    assert!(!r.is_satisfied_by(&grant(Some("read:pets"), &[])));
    assert!(r.is_satisfied_by(&grant(Some("read:toys read:pets"), &[])));
    assert!(!r.is_satisfied_by(&grant(Some("read:petsread:toys"), &[])));
    assert!(!r.is_satisfied_by(&grant(None, &[])));
}

#[test]
fn rules_can_apply_to_some_issuers_and_need_claim_values() {
    let groups: &RawValue = serde_json::from_str(r#"["readers","admins"]"#).unwrap();
    let role: &RawValue = serde_json::from_str(r#""ops admin""#).unwrap();
    let number: &RawValue = serde_json::from_str("7").unwrap();
    let claims = [("cognito:groups", Some(groups)), ("role", Some(role))];
    let rule = |issuers: &[&str], claims: &[(&str, &[&str])]| {
        RouteRule::new(
            "DELETE /pets/{id}",
            Vec::new(),
            issuers.iter().map(|i| i.to_string()).collect(),
            claims
                .iter()
                .map(|(n, v)| (n.to_string(), v.iter().map(|v| v.to_string()).collect()))
                .collect(),
        )
        .unwrap()
    };
    let alice = grant(None, &claims);
    assert!(rule(&[], &[("cognito:groups", &["admins"])]).is_satisfied_by(&alice));
    assert!(rule(&[], &[("cognito:groups", &["admins", "readers"])]).is_satisfied_by(&alice));
    assert!(!rule(&[], &[("cognito:groups", &["admins", "owners"])]).is_satisfied_by(&alice));
    assert!(rule(&[], &[("role", &["admin"])]).is_satisfied_by(&alice));
    assert!(!rule(&[], &[("role", &["adm"])]).is_satisfied_by(&alice));
    assert!(!rule(&[], &[("absent", &["x"])]).is_satisfied_by(&alice));
    assert!(!claim_contains(number, "7"));
    // A rule for other issuers does not apply to this one; a rule for this one does.
    assert!(rule(&["machines"], &[("absent", &["x"])]).is_satisfied_by(&alice));
    assert!(!rule(&["machines", "users"], &[("absent", &["x"])]).is_satisfied_by(&alice));
    // A rule must need something.
    assert!(RouteRule::new("GET /pets", Vec::new(), Vec::new(), Vec::new()).is_err());
}

#[test]
fn wildcards_match_like_iam() {
    assert!(wildcard_match("a/*/*", "a/GET/pets/1"));
    assert!(wildcard_match("*", ""));
    assert!(wildcard_match("GET/pets", "GET/pets"));
    assert!(!wildcard_match("GET/pets", "GET/pets/1"));
    assert!(wildcard_match("GET/pets/*", "GET/pets/1"));
    assert!(wildcard_match("G?T/*", "GET/x"));
    assert!(!wildcard_match("G?T/*", "GT/x"));
    assert!(wildcard_match("*a*b*", "xxaxxbxx"));
    assert!(!wildcard_match("*a*b", "xxbxxa"));
}

#[test]
fn context_claims_are_flattened_to_what_api_gateway_accepts() {
    fn raw(s: &str) -> &RawValue {
        serde_json::from_str(s).unwrap()
    }
    let (email, n, b, obj, arr, null) = (
        raw(r#""a@b.c""#),
        raw("42"),
        raw("true"),
        raw(r#"{"k": [1]}"#),
        raw(r#"["x","y"]"#),
        raw("null"),
    );
    let context = [
        ("email", Some(email)),
        ("n", Some(n)),
        ("b", Some(b)),
        ("obj", Some(obj)),
        ("arr", Some(arr)),
        ("nothing", Some(null)),
        ("absent", None),
    ];
    let grant = Grant {
        context: &context,
        ..grant(None, &[])
    };
    let mut out = Vec::new();
    write_simple(&mut out, true, Some(&grant));
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        v,
        json!({"isAuthorized": true, "context": {
            "email": "a@b.c", "n": 42, "b": true, "obj": "{\"k\": [1]}", "arr": "[\"x\",\"y\"]"
        }})
    );
}

#[test]
fn deny_all_covers_the_stage() {
    let mut out = Vec::new();
    write_deny_all(&mut out, MethodArn::parse(ARN).unwrap());
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["policyDocument"]["Statement"][0]["Effect"], "Deny");
    assert_eq!(
        v["policyDocument"]["Statement"][0]["Resource"],
        "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/*/*"
    );
    assert!(v.get("context").is_none());
}
