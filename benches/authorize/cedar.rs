//! What Cedar policies add to a cache miss (issue 18), with 20 routes and 20 policies: the
//! compile alone (`cedar/compile_20_routes`, from a verified token's claims to the written
//! policy) and a whole TOKEN event with the verified-token cache off, so that the RSA check and
//! the compile both run (`authorize/token_event_cedar`, beside `authorize/token_event`); and the
//! same event again with the cache on (`authorize/cache_hit_cedar`, beside `authorize/cache_hit`):
//! nothing is evaluated, the remembered decisions are written as the policy. Beside them: the
//! compile under 20 policies on groups alone (`cedar/compile_20_routes_groups`), and loading the
//! policies with the configuration (`cedar/load_20_policies`).

use super::cedar_set;
use super::*;
use jwt_authorizer::issuer::SigningKey;

pub fn benches(c: &mut Criterion, server: &JwksServer, key: &SigningKey) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bench.cedar");
    std::fs::write(&file, cedar_set::policies()).unwrap();
    let (file, routes) = (file.to_str().unwrap().to_owned(), cedar_set::routes());
    let cedar = [
        ("ISSUER_NAME", "bench"),
        ("CEDAR_POLICIES", &file),
        ("CEDAR_ROUTES", &routes),
        ("CEDAR_NAMESPACE", "Bench"),
    ];
    let uncached = [
        ("JWKS_KID_MISS_COOLDOWN_SECONDS", "3600"),
        ("VERIFIED_TOKEN_CACHE_SIZE", "0"),
    ];
    let authorizer = authorizer_for(server, &[&uncached[..], &cedar[..]].concat());
    let cached = authorizer_for(server, &cedar);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(authorizer.refresh_keys(Trigger::Init));
    runtime.block_on(cached.refresh_keys(Trigger::Init));
    let engine = authorizer.config().cedar.clone().expect("policies loaded");
    assert_eq!(
        (engine.policy_count(), engine.routes().list().len()),
        (20, 20)
    );

    // What the policies add to the start (a Lambda cold start's init): reading, parsing and
    // checking the 20 policies and routes, with the whole configuration they belong to.
    let variables: std::collections::HashMap<&str, String> = [
        ("TOKEN_ISSUER", server.issuer()),
        ("JWKS_URI", server.jwks_uri()),
        ("AUDIENCE", AUDIENCE.to_owned()),
    ]
    .into_iter()
    .chain(cedar.iter().map(|(k, v)| (*k, (*v).to_owned())))
    .collect();
    let load = || {
        jwt_authorizer::Config::from_lookup(|name| variables.get(name).cloned())
            .expect("the bench's configuration is valid")
    };
    assert_eq!(load().cedar.map(|e| e.policy_count()), Some(20));
    c.bench_function("cedar/load_20_policies", |b| b.iter(load));

    // A reader who administers pets and may add orders, without a second factor: some routes
    // permitted, some denied by no permit, one by a forbid, so that both statements are written.
    let mut claims = good_claims(&server.issuer());
    claims["groups"] = json!(["readers", "pets-admins"]);
    claims["scope"] = json!("openid read:pets write:orders");
    claims["email"] = json!("alice@example.com");
    claims["amr"] = json!(["pwd"]);
    let payload = serde_json::to_vec(&claims).unwrap();
    let mut out = Vec::with_capacity(4096);
    let compile = |out: &mut Vec<u8>| {
        jwt_authorizer::cedar::compile_and_write(
            &engine,
            0,
            &payload,
            "auth0|alice",
            METHOD_ARN,
            out,
        )
    };
    assert_eq!(compile(&mut out), Ok(true));
    let written: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let statements = written["policyDocument"]["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "an Allow and a Deny: {written}");
    let permitted = engine.compile(0, &payload).unwrap();
    let allowed = permitted.verdicts().iter().filter(|v| v.permitted).count();
    assert_eq!(allowed, 12, "10 reads, post /pets and post /orders");
    c.bench_function("cedar/compile_20_routes", |b| {
        b.iter(|| compile(black_box(&mut out)))
    });

    // The same routes under 20 policies on groups alone: no attribute or context is built.
    let groups_file = dir.path().join("groups.cedar");
    std::fs::write(&groups_file, cedar_set::group_policies()).unwrap();
    let groups_file = groups_file.to_str().unwrap().to_owned();
    let by_groups = authorizer_for(
        server,
        &[
            ("ISSUER_NAME", "bench"),
            ("CEDAR_POLICIES", &groups_file),
            ("CEDAR_ROUTES", &routes),
            ("CEDAR_NAMESPACE", "Bench"),
        ],
    );
    let groups_engine = by_groups.config().cedar.clone().expect("policies loaded");
    assert_eq!(groups_engine.policy_count(), 20);
    let compile_groups = |out: &mut Vec<u8>| {
        jwt_authorizer::cedar::compile_and_write(
            &groups_engine,
            0,
            &payload,
            "auth0|alice",
            METHOD_ARN,
            out,
        )
    };
    assert_eq!(compile_groups(&mut out), Ok(true));
    let permitted = groups_engine.compile(0, &payload).unwrap();
    let allowed = permitted.verdicts().iter().filter(|v| v.permitted).count();
    assert_eq!(allowed, 12, "10 reads, post and delete on pets");
    c.bench_function("cedar/compile_20_routes_groups", |b| {
        b.iter(|| compile_groups(black_box(&mut out)))
    });

    // The claims' `iat` is 10 s before they were made: the benches before these take longer.
    let now = now();
    let token = key.sign(&claims).unwrap();
    let event = token_event(&format!("Bearer {token}"));
    let decision = authorize_now(&authorizer, &event, now, &mut out);
    assert_eq!(decision.outcome, Outcome::Allow, "{decision:?}");
    assert!(!decision.cache_hit);
    // The same policy as the compile alone writes (the context differs: it carries the scopes).
    let answer: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        answer["policyDocument"], written["policyDocument"],
        "{answer} {written}"
    );
    c.bench_function("authorize/token_event_cedar", |b| {
        b.iter(|| authorize_now(&authorizer, black_box(&event), now, &mut out))
    });

    assert!(!authorize_now(&cached, &event, now, &mut out).cache_hit);
    let hit = authorize_now(&cached, &event, now, &mut out);
    assert!(hit.cache_hit && hit.outcome == Outcome::Allow, "{hit:?}");
    let again: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(again, answer);
    c.bench_function("authorize/cache_hit_cedar", |b| {
        b.iter(|| authorize_now(&cached, black_box(&event), now, &mut out))
    });
}
