//! What Cedar policies add to a cache miss (issue 18), with 20 routes and 20 policies: the
//! compile alone (`cedar/compile_20_routes`, from a verified token's claims to the written
//! policy) and a whole TOKEN event with the verified-token cache off, so that the RSA check and
//! the compile both run (`authorize/token_event_cedar`, beside `authorize/token_event`).

use super::*;
use jwt_authorizer::issuer::SigningKey;

/// Five resources, four routes each: 20 routes.
const RESOURCES: [&str; 5] = ["pets", "owners", "vets", "visits", "orders"];

/// Four policies per resource, 20 in all, of the kinds the PetStore example shows: a group's
/// permit, a scope condition, a group's permit with a condition on the token, and a forbid.
fn policies() -> String {
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

fn routes() -> String {
    RESOURCES
        .iter()
        .map(|r| format!("GET /{r}; POST /{r}; GET /{r}/{{id}}; DELETE /{r}/{{id}}"))
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn benches(c: &mut Criterion, server: &JwksServer, key: &SigningKey) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bench.cedar");
    std::fs::write(&file, policies()).unwrap();
    let (file, routes) = (file.to_str().unwrap().to_owned(), routes());
    let authorizer = authorizer_for(
        server,
        &[
            ("JWKS_KID_MISS_COOLDOWN_SECONDS", "3600"),
            ("VERIFIED_TOKEN_CACHE_SIZE", "0"),
            ("ISSUER_NAME", "bench"),
            ("CEDAR_POLICIES", &file),
            ("CEDAR_ROUTES", &routes),
            ("CEDAR_NAMESPACE", "Bench"),
        ],
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(authorizer.refresh_keys(Trigger::Init));
    let engine = authorizer.config().cedar.clone().expect("policies loaded");
    assert_eq!(
        (engine.policy_count(), engine.routes().list().len()),
        (20, 20)
    );

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
}
