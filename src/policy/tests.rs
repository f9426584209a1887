use super::route_rule::claim_contains;
use super::*;
use proptest::prelude::*;
use serde_json::value::RawValue;
use serde_json::{Value, json};

const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/pets/1";

/// A claim's raw JSON, as the claims parser keeps it.
fn raw(json: &str) -> RawJson<'_> {
    serde_json::from_str::<&RawValue>(json).unwrap().into()
}

fn rules(spec: &[&str]) -> Vec<RouteRule> {
    spec.iter().map(|r| RouteRule::parse(r).unwrap()).collect()
}

/// Space-separated scopes, as a grant holds them (leaked: tests only).
fn words(scope: &str) -> &'static Scopes<'static> {
    Box::leak(Box::new(Scopes::Words(scope.to_owned().into())))
}

/// A grant of `scope` by issuer `users`, with the claims kept for route rules.
fn grant<'a>(scope: Option<&'a str>, claims: &'a [(&'a str, Option<RawJson<'a>>)]) -> Grant<'a> {
    Grant {
        principal: "auth0|alice",
        arn: MethodArn::parse(ARN).unwrap(),
        route: None,
        issuer: "users",
        scope: scope.map(words),
        usage_identifier: None,
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
        // Braces that are not a whole segment: no API Gateway route has such a path.
        "GET /files/v{version}=x",
        "GET /files/{version}.json=x",
        "GET /{=x",
        "GET /pets/}=x",
        "GET /pets/{}=x",
    ] {
        assert!(RouteRule::parse(bad).is_err(), "{bad}");
    }
    for good in [
        "GET /files/{version}=x",
        "ANY /{proxy+}=x",
        "GET /a/{b}/c=x",
    ] {
        assert!(RouteRule::parse(good).is_ok(), "{good}");
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
    let groups = raw(r#"["readers","admins"]"#);
    let role = raw(r#""ops admin""#);
    let number = raw("7");
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
    // A `*` in the text is one more character for a pattern's `*` or `?` to match: a rule on
    // `GET/admin/*` covers a call to `/admin/*x`.
    assert!(wildcard_match("*", "*a"));
    assert!(wildcard_match("GET/admin/*", "GET/admin/*x"));
    assert!(wildcard_match("*?", "a*"));
    assert!(!wildcard_match("*?", ""));
}

#[test]
fn context_claims_are_flattened_to_what_api_gateway_accepts() {
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

/// The method ARN split as it was written first, with `str` searches: the byte scans must agree.
fn parse_arn_with_str_searches(full: &str) -> Option<MethodArn<'_>> {
    let mut colons = full.match_indices(':').map(|(i, _)| i);
    let service_start = colons.nth(1)? + 1;
    let service_end = colons.next()?;
    if &full[service_start..service_end] != "execute-api" || !full.starts_with("arn:") {
        return None;
    }
    let resource_start = colons.nth(1)? + 1;
    let resource = &full[resource_start..];
    let mut parts = resource.splitn(4, '/');
    let api_id = parts.next().filter(|s| !s.is_empty())?;
    let stage = parts.next().filter(|s| !s.is_empty())?;
    let method = parts.next().filter(|s| !s.is_empty())?;
    let path = parts.next().unwrap_or("");
    Some(MethodArn {
        full,
        api: &full[..resource_start + api_id.len()],
        stage,
        method,
        path,
    })
}

#[test]
fn empty_arn_parts_are_refused() {
    for bad in [
        "arn:aws:execute-api:r:1:/s/GET/x",
        "arn:aws:execute-api:r:1:api//GET/x",
        "arn:aws:execute-api:r:1:api/s//x",
        "arn:aws:execute-api:r:1:api/s/",
        "arn:aws:execute-api:r:1:api/s",
    ] {
        assert_eq!(MethodArn::parse(bad), None, "{bad}");
    }
    let no_path = MethodArn::parse("arn:aws:execute-api:r:1:api/s/GET").unwrap();
    assert_eq!((no_path.method, no_path.path), ("GET", ""));
}

#[test]
fn strings_needing_escapes_are_escaped_like_serde_json() {
    for s in [
        "",
        "plain",
        "\"",
        "\\",
        "a\"b\\c",
        "\u{0}\u{1}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1f} \u{7f}",
        "é ☃ 𝄞 \u{2028}",
        "</script>",
    ] {
        let mut out = Vec::new();
        write_str(&mut out, s);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(s).unwrap()
        );
    }
}

fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z:|/\"\\\\\u{0}-\u{1f}\u{7f}é☃]{0,24}",
        "[ -~]{0,40}",
    ]
}

proptest! {
    #[test]
    fn the_string_writer_matches_serde_json(s in tricky_string()) {
        let mut out = Vec::new();
        write_str(&mut out, &s);
        prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&s).unwrap());
    }

    #[test]
    fn method_arns_split_as_before(arn in prop_oneof![
        any::<String>(),
        "(arn|nar|):(aws|):(execute-api|lambda|)(:[a-z0-9/]{0,4}){0,3}(/[a-zA-Z*$]{0,3}){0,5}",
    ]) {
        prop_assert_eq!(MethodArn::parse(&arn), parse_arn_with_str_searches(&arn));
    }

    #[test]
    fn every_written_string_reads_back(
        principal in tricky_string(),
        scope in tricky_string(),
        stage in tricky_string(),
        claim in tricky_string(),
        name in tricky_string(),
    ) {
        let arn = format!("arn:aws:execute-api:r:1:api/{}/GET/pets", stage.replace('/', ""));
        let Some(arn) = MethodArn::parse(&arn) else { return Ok(()) };
        let claim_json = serde_json::to_string(&claim).unwrap();
        let claim_raw = raw(&claim_json);
        let object = serde_json::to_string(&json!({ "k": claim })).unwrap();
        let object_raw = raw(&object);
        let context = [(name.as_str(), Some(claim_raw)), ("obj", Some(object_raw))];
        let grant = Grant {
            principal: &principal,
            scope: Some(words(&scope)),
            context: &context,
            arn,
            ..grant(None, &[])
        };
        let rules = rules(&["POST /pets=write:pets"]);
        let mut out = Vec::new();
        write_policy(&mut out, &grant, ResourceMode::Stage, &rules);
        let v: Value = serde_json::from_slice(&out).unwrap();
        prop_assert_eq!(&v["principalId"], &json!(principal));
        let stage_arn = format!("{}/{}/*/*", arn.api, arn.stage);
        prop_assert_eq!(&v["policyDocument"]["Statement"][0]["Resource"], &json!(stage_arn));
        let mut expected_context = json!({ "scope": scope });
        expected_context[name.as_str()] = json!(claim);
        expected_context["obj"] = json!(object);
        prop_assert_eq!(&v["context"], &expected_context);

        write_simple(&mut out, true, Some(&grant));
        let v: Value = serde_json::from_slice(&out).unwrap();
        prop_assert_eq!(&v["context"], &expected_context);
        write_deny_all(&mut out, arn);
        let v: Value = serde_json::from_slice(&out).unwrap();
        prop_assert_eq!(&v["policyDocument"]["Statement"][0]["Resource"], &json!(stage_arn));
    }
}

#[test]
fn answers_are_written_compactly_in_a_fixed_order() {
    let rules = rules(&["POST /pets=write:pets", "DELETE /pets/{id}=admin"]);
    let email = raw(r#""a@b.c""#);
    let grant = Grant {
        scope: Some(words("read:pets")),
        context: &[("email", Some(email))],
        ..grant(None, &[])
    };
    let mut out = Vec::new();
    write_policy(&mut out, &grant, ResourceMode::Stage, &rules);
    let api = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod";
    assert_eq!(
        String::from_utf8_lossy(&out),
        format!(
            r#"{{"principalId":"auth0|alice","policyDocument":{{"Version":"2012-10-17","Statement":[{{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"{api}/*/*"}},{{"Action":"execute-api:Invoke","Effect":"Deny","Resource":["{api}/POST/pets","{api}/DELETE/pets/*"]}}]}},"context":{{"scope":"read:pets","email":"a@b.c"}}}}"#
        )
    );
    write_simple(&mut out, false, None);
    assert_eq!(out, br#"{"isAuthorized":false}"#);
    write_deny_all(&mut out, grant.arn);
    assert_eq!(
        String::from_utf8_lossy(&out),
        format!(
            r#"{{"principalId":"unauthorized","policyDocument":{{"Version":"2012-10-17","Statement":[{{"Action":"execute-api:Invoke","Effect":"Deny","Resource":"{api}/*/*"}}]}}}}"#
        )
    );
}

#[test]
fn rules_cover_the_route_template_an_event_names() {
    let call = |arn_path: &str| {
        MethodArn::parse(Box::leak(
            format!("arn:aws:execute-api:r:1:api/prod/{arn_path}").into_boxed_str(),
        ))
        .unwrap()
    };
    let rule = |r: &str| RouteRule::parse(&format!("{r}=s")).unwrap();
    // Exact templates: parameter names do not matter, literals must be equal.
    let pet = rule("GET /pets/{petId}");
    assert!(pet.covers_route(call("GET/pets/1"), ("GET", "/pets/{id}")));
    assert!(!pet.covers_route(call("GET/pets"), ("GET", "/pets")));
    assert!(!pet.covers_route(call("POST/pets/1"), ("POST", "/pets/{id}")));
    assert!(!rule("GET /pets/mine").covers_route(call("GET/pets/1"), ("GET", "/pets/{id}")));
    assert!(rule("ANY /pets").covers_route(call("POST/pets/"), ("POST", "/pets")));
    assert!(
        rule("GET /files/{path+}").covers_route(call("GET/files/a/b"), ("GET", "/files/{p}/{q}"))
    );
    // A literal route is matched by its template, as API Gateway matches it: case-sensitive
    // (`/Admin` and `/admin` are two routes); only greedy routes are normalised, below.
    assert!(!rule("GET /Admin").covers_route(call("GET/admin"), ("GET", "/admin")));
    assert!(rule("GET /Admin").covers_route(call("GET/Admin"), ("GET", "/Admin")));
    // Greedy routes: the called path, decoded, without empty segments, in any case.
    let post = rule("POST /pets");
    for path in [
        "pets", "pets/", "PETS", "pets//", "%70ets", "p%65ts", "P%45T%53", "/pets",
    ] {
        for route in [
            ("ANY", "/{proxy+}"),
            ("$default", ""),
            ("POST", "/{proxy+}"),
        ] {
            assert!(
                post.covers_route(call(&format!("POST/{path}")), route),
                "{path} {route:?}"
            );
        }
    }
    assert!(!post.covers_route(call("POST/owners"), ("ANY", "/{proxy+}")));
    assert!(!post.covers_route(call("GET/pets"), ("ANY", "/{proxy+}")));
}
