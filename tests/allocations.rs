//! Counts heap allocations (through Rust's global allocator) of one authorization. A dedicated
//! test binary, because the counting allocator replaces the global one for the whole binary.

mod support;

use jwt_authorizer::{Outcome, Trigger};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use support::*;

struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.get() {
            COUNT.set(COUNT.get() + 1);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.get() {
            COUNT.set(COUNT.get() + 1);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocations made on this thread while `f` runs.
fn allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    COUNT.set(0);
    COUNTING.set(true);
    let result = f();
    COUNTING.set(false);
    (result, COUNT.get())
}

/// An authorization of a typical Auth0 token with the keys cached, with the verified-token cache
/// of `cache_size`: its decision and the heap allocations of the measured call (not the warm-up).
fn measure(cache_size: &str) -> (jwt_authorizer::Decision, usize, usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = rsa_key("alloc");
    let server = runtime.block_on(JwksServer::with_keys(&[key]));
    let authorizer = authorizer_for(
        &server,
        &[
            ("CONTEXT_CLAIMS", "azp"),
            ("VERIFIED_TOKEN_CACHE_SIZE", cache_size),
        ],
    );
    runtime.block_on(authorizer.refresh_keys(Trigger::Init));
    let event = token_event(&format!(
        "Bearer {}",
        key.sign(&good_claims(&server.issuer())).unwrap()
    ));
    let mut out = Vec::with_capacity(1024);

    // With the keys cached the pipeline never suspends, so one poll with a no-op waker runs it
    // all on this thread, where the allocations are counted.
    let authorize_once = |out: &mut Vec<u8>| poll_now(authorizer.authorize_at(&event, now(), out));
    // Warm-up: the thread-locals of arc-swap (and, with the cache on, the token is remembered).
    assert_eq!(authorize_once(&mut out).outcome, Outcome::Allow);

    out.clear();
    let (decision, count) = allocations(|| authorize_once(&mut out));
    assert_eq!(decision.outcome, Outcome::Allow);

    // What the Lambda handler adds: the answer handed to the runtime as a `Box<RawValue>`.
    let (answer, with_answer) = allocations(|| {
        let mut out = Vec::with_capacity(512);
        authorize_once(&mut out);
        serde_json::value::RawValue::from_string(String::from_utf8(out).unwrap()).unwrap()
    });
    assert!(answer.get().contains("\"Allow\""));
    (decision, count, with_answer)
}

// The counts are of Rust's global allocator only: aws-lc (C) allocates through its own malloc,
// which this does not see (it allocates nothing in an RSA verify with a pre-parsed key, by
// aws-lc-rs's design, but that is not what these tests prove).

#[test]
fn a_typical_auth0_token_is_verified_with_rsa_without_heap_allocation() {
    let (decision, count, with_answer) = measure("0");
    assert!(!decision.cache_hit, "the cache is off: RSA verified it");
    assert_eq!(count, 0, "token to built policy allocates nothing");
    // The answer buffer, its shrink into a `Box<str>`, and serde_json's check of the raw JSON.
    assert!(
        with_answer <= 3,
        "including the answer handed to the runtime: {with_answer} allocations"
    );
}

#[test]
fn a_repeated_token_is_answered_from_the_verified_token_cache_without_heap_allocation() {
    let (decision, count, with_answer) = measure("10000");
    assert!(decision.cache_hit, "the warm-up put the token in the cache");
    assert_eq!(count, 0, "token to built policy allocates nothing");
    assert!(
        with_answer <= 3,
        "including the answer handed to the runtime: {with_answer} allocations"
    );
}

/// A DPoP-bound token with a valid proof (the token's signature from the verified-token cache):
/// what the proof check allocates, bounded so that a regression shows.
#[test]
fn a_dpop_proof_check_allocates_a_bounded_few_times() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = rsa_key("alloc");
    let server = runtime.block_on(JwksServer::with_keys(&[key]));
    let authorizer = authorizer_for(&server, &[]);
    runtime.block_on(authorizer.refresh_keys(Trigger::Init));
    let proof_key = dpop::ProofKey::generate();
    let mut claims = good_claims(&server.issuer());
    claims["cnf"] = serde_json::json!({"jkt": proof_key.thumbprint()});
    let token = key.sign(&claims).unwrap();
    let url = "https://abcdef123.execute-api.us-east-1.amazonaws.com/prod/pets/1";
    let event = |proof: &str| {
        serde_json::to_vec(&serde_json::json!({
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/pets/1",
            "httpMethod": "GET",
            "headers": {"Authorization": format!("DPoP {token}"), "DPoP": proof},
            "requestContext": {
                "domainName": "abcdef123.execute-api.us-east-1.amazonaws.com",
                "path": "/prod/pets/1",
            },
        }))
        .unwrap()
    };
    let mut out = Vec::with_capacity(1024);
    let warm = event(&proof_key.proof("GET", url, &token, now()));
    assert_eq!(
        poll_now(authorizer.authorize_at(&warm, now(), &mut out)).outcome,
        Outcome::Allow
    );
    let fresh = event(&proof_key.proof("GET", url, &token, now()));
    let (decision, count) =
        allocations(|| poll_now(authorizer.authorize_at(&fresh, now(), &mut out)));
    assert_eq!(decision.outcome, Outcome::Allow);
    eprintln!("a DPoP proof check: {count} allocations");
    assert!(count <= 24, "a DPoP proof check: {count} allocations");
}

/// An opaque token (INTROSPECT=opaque) whose active introspection answer is cached: the
/// answer's claims are parsed again (borrowed from the cached body) and checked as a JWT's.
#[test]
fn an_opaque_token_answered_from_the_introspection_cache_allocates_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(JwksServer::with_keys(&[rsa_key("alloc")]));
    let endpoint = runtime.block_on(introspection::IntrospectionServer::start());
    let authorizer = authorizer_for(
        &server,
        &[
            ("CONTEXT_CLAIMS", "client_id"),
            ("INTROSPECT", "opaque"),
            ("INTROSPECTION_ENDPOINT", &endpoint.endpoint()),
            ("INTROSPECTION_CLIENT_ID", introspection::CLIENT_ID),
            ("INTROSPECTION_CLIENT_SECRET", introspection::CLIENT_SECRET),
        ],
    );
    let token = "2YotnFZFEjr1zCsicMWpAA-opaque";
    endpoint.activate(
        token,
        serde_json::json!({
            "iss": server.issuer(),
            "sub": "auth0|alice",
            "aud": AUDIENCE,
            "client_id": "mobile-app",
            "scope": "openid read:pets",
            "iat": now() - 10,
            "exp": now() + 3600,
        }),
    );
    let event = token_event(&format!("Bearer {token}"));
    let mut out = Vec::with_capacity(1024);
    // The first authorization calls the endpoint and caches its answer.
    let first = runtime.block_on(authorizer.authorize_at(&event, now(), &mut out));
    assert_eq!(first.outcome, Outcome::Allow);
    // Warm-up of the thread-locals on this thread, from the cache.
    assert_eq!(
        poll_now(authorizer.authorize_at(&event, now(), &mut out)).outcome,
        Outcome::Allow
    );
    out.clear();
    let (decision, count) =
        allocations(|| poll_now(authorizer.authorize_at(&event, now(), &mut out)));
    assert_eq!(decision.outcome, Outcome::Allow);
    assert_eq!(endpoint.calls(), 1, "answered from the cache");
    eprintln!("an opaque token from the introspection cache: {count} allocations");
    assert_eq!(
        count, 0,
        "token to built policy allocates nothing, the cached answer's claims included"
    );
}
