//! How the key set follows the issuer: rotation, removal, floods of unknown kids, outages and
//! slow answers, against a real JWKS server on 127.0.0.1.

mod support;

use jwt_authorizer::{Outcome, Reject, Trigger};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

#[tokio::test]
async fn a_rotated_key_is_picked_up_on_the_first_token_that_names_it() {
    let (old, new) = (rsa_key("rot-old"), rsa_key("rot-new"));
    let server = JwksServer::with_keys(&[old]).await;
    let authorizer = authorizer_for(&server, &[]);
    authorizer.refresh_keys(Trigger::Init).await;
    let claims = good_claims(&server.issuer());
    assert_eq!(
        authorize(&authorizer, &old.sign(&claims).unwrap())
            .await
            .0
            .outcome,
        Outcome::Allow
    );
    assert_eq!(server.hits(), 1);

    server.publish(&[old, new]);
    let (decision, _) = authorize(&authorizer, &new.sign(&claims).unwrap()).await;
    assert_eq!(decision.outcome, Outcome::Allow, "{decision:?}");
    assert_eq!(server.hits(), 2, "exactly one fetch for the new kid");
    assert_eq!(
        authorize(&authorizer, &old.sign(&claims).unwrap())
            .await
            .0
            .outcome,
        Outcome::Allow
    );
    assert_eq!(server.hits(), 2, "known kids cost no fetch");
}

#[tokio::test]
async fn a_removed_key_stops_working_after_the_next_refresh() {
    let (old, new) = (rsa_key("rm-old"), rsa_key("rm-new"));
    let server = JwksServer::with_keys(&[old, new]).await;
    let (authorizer, clock) = authorizer_with_clock(
        &server,
        &[
            ("JWKS_REFRESH_INTERVAL_SECONDS", "1"),
            ("JWKS_MIN_REFRESH_INTERVAL_SECONDS", "1"),
        ],
    );
    let claims = good_claims(&server.issuer());
    let old_token = old.sign(&claims).unwrap();
    assert_eq!(
        authorize(&authorizer, &old_token).await.0.outcome,
        Outcome::Allow
    );

    server.publish(&[new]);
    clock.advance(Duration::from_millis(999));
    assert_eq!(
        authorize(&authorizer, &old_token).await.0.outcome,
        Outcome::Allow
    );
    assert_eq!(server.hits(), 1, "not due before the interval");
    clock.advance(Duration::from_millis(1));
    // This invocation finds the set stale (as after a Lambda thaw): it answers with the keys it
    // has and starts the refresh beside itself.
    let (decision, _) = authorize(&authorizer, &old_token).await;
    assert_eq!(
        decision.outcome,
        Outcome::Allow,
        "the set in hand still has it"
    );
    let store = authorizer.issuers()[0].keys();
    eventually("the refresh beside the request", || store.attempts() == 2).await;
    // Once it has, the removed key verifies nothing.
    let (decision, _) = authorize(&authorizer, &old_token).await;
    assert_eq!(decision.reject, Some(Reject::UnknownKid));
    assert_eq!(
        authorize(&authorizer, &new.sign(&claims).unwrap())
            .await
            .0
            .outcome,
        Outcome::Allow
    );
}

#[tokio::test]
async fn the_background_refresher_follows_cache_control_within_bounds() {
    let key = rsa_key("bg");
    let server = JwksServer::with_keys(&[key]).await;
    server.set_cache_control("public, max-age=1");
    let (authorizer, clock) = authorizer_with_clock(
        &server,
        &[
            ("JWKS_REFRESH_INTERVAL_SECONDS", "600"),
            ("JWKS_MIN_REFRESH_INTERVAL_SECONDS", "1"),
        ],
    );
    authorizer.refresh_keys(Trigger::Init).await;
    let tasks = authorizer.spawn_refreshers();
    // max-age=1 with a 1 s floor: a fetch each second.
    for second in 1..=3 {
        clock.advance(Duration::from_secs(1));
        eventually("the background refresh", || server.hits() == 1 + second).await;
    }
    // max-age=600 from now on: nothing is due for 10 minutes.
    server.set_cache_control("public, max-age=600");
    clock.advance(Duration::from_secs(1));
    eventually("the background refresh", || server.hits() == 5).await;
    clock.advance(Duration::from_secs(599));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.hits(), 5, "not due before max-age");
    clock.advance(Duration::from_secs(1));
    eventually("the background refresh", || server.hits() == 6).await;
    tasks.iter().for_each(|t| t.abort());
}

/// Lambda freezes the process between invocations: a thawed refresher has missed many intervals,
/// and must fetch once, not once per missed interval.
#[tokio::test]
async fn a_thawed_refresher_fetches_once_not_once_per_missed_interval() {
    let key = rsa_key("thaw");
    let server = JwksServer::with_keys(&[key]).await;
    let (authorizer, clock) = authorizer_with_clock(
        &server,
        &[
            ("JWKS_REFRESH_INTERVAL_SECONDS", "1"),
            ("JWKS_MIN_REFRESH_INTERVAL_SECONDS", "1"),
        ],
    );
    authorizer.refresh_keys(Trigger::Init).await;
    let tasks = authorizer.spawn_refreshers();
    // Frozen for an hour: 3,600 intervals pass at once.
    clock.advance(Duration::from_secs(3600));
    eventually("the refresh after the thaw", || server.hits() >= 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after_the_thaw = server.hits() - 1; // the first was at init
    assert_eq!(
        after_the_thaw, 1,
        "fetches after an hour's freeze: one for the whole hour, not one per missed interval"
    );
    // And the schedule goes on from the thaw.
    clock.advance(Duration::from_secs(1));
    eventually("the next interval's refresh", || server.hits() == 3).await;
    tasks.iter().for_each(|t| t.abort());
}

/// `Cache-Control: max-age` sets when the keys are next due, held between
/// `JWKS_MIN_REFRESH_INTERVAL_SECONDS` (an issuer cannot make us fetch on every request) and
/// `JWKS_REFRESH_INTERVAL_SECONDS` (nor keep a removed key alive for a day).
#[tokio::test]
async fn cache_control_max_age_is_held_between_the_minimum_and_the_refresh_interval() {
    let key = rsa_key("max-age");
    let server = JwksServer::with_keys(&[key]).await;
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    for directive in ["max-age=0", "no-store"] {
        server.set_cache_control(directive);
        let authorizer = authorizer_for(
            &server,
            &[
                ("JWKS_REFRESH_INTERVAL_SECONDS", "600"),
                ("JWKS_MIN_REFRESH_INTERVAL_SECONDS", "60"),
            ],
        );
        authorizer.refresh_keys(Trigger::Init).await;
        let hits = server.hits();
        assert!(
            !authorizer.issuers()[0].keys().is_stale(),
            "{directive}: not due before the minimum interval"
        );
        for _ in 0..5 {
            assert_eq!(
                authorize(&authorizer, &token).await.0.outcome,
                Outcome::Allow
            );
        }
        assert_eq!(server.hits(), hits, "{directive}: tokens cost no fetch");
    }

    server.set_cache_control("public, max-age=86400");
    let (authorizer, clock) = authorizer_with_clock(
        &server,
        &[
            ("JWKS_REFRESH_INTERVAL_SECONDS", "1"),
            ("JWKS_MIN_REFRESH_INTERVAL_SECONDS", "1"),
        ],
    );
    authorizer.refresh_keys(Trigger::Init).await;
    let keys = authorizer.issuers()[0].keys();
    clock.advance(Duration::from_millis(999));
    assert!(!keys.is_stale());
    clock.advance(Duration::from_millis(1));
    assert!(
        keys.is_stale(),
        "max-age=86400 is cut to the 1 s refresh interval"
    );
    let hits = server.hits();
    assert_eq!(
        authorize_while_stale(&authorizer, &token).await.0.outcome,
        Outcome::Allow
    );
    assert_eq!(server.hits(), hits + 1, "the stale set was fetched again");
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_the_issuer_one_fetch_per_cooldown() {
    let key = rsa_key("flood");
    let server = JwksServer::with_keys(&[key]).await;
    let (authorizer, clock) =
        authorizer_with_clock(&server, &[("JWKS_KID_MISS_COOLDOWN_SECONDS", "3")]);
    let authorizer = Arc::new(authorizer);
    authorizer.refresh_keys(Trigger::Init).await;
    let claims = good_claims(&server.issuer());

    // Tokens are signed up front, so the rounds below take milliseconds even on a loaded machine.
    let tokens: Vec<Vec<String>> = (0..4)
        .map(|round| {
            (0..200)
                .map(|i| {
                    sign_raw(
                        key,
                        &serde_json::json!({"alg": "RS256", "kid": format!("random-{round}-{i}")}),
                        &claims,
                    )
                })
                .collect()
        })
        .collect();
    let flood = |round: usize| {
        let tasks: Vec<_> = tokens[round - 1]
            .iter()
            .map(|token| {
                let (authorizer, token) = (authorizer.clone(), token.clone());
                tokio::spawn(async move { authorize(&authorizer, &token).await.0 })
            })
            .collect();
        async move {
            for task in tasks {
                assert_eq!(task.await.unwrap().reject, Some(Reject::UnknownKid));
            }
        }
    };
    flood(1).await;
    assert_eq!(
        server.hits(),
        2,
        "init + one shared kid-miss fetch for 200 concurrent unknown kids"
    );
    flood(2).await;
    assert_eq!(server.hits(), 2, "no fetch during the cooldown");
    // Known kids are answered throughout.
    assert_eq!(
        authorize(&authorizer, &key.sign(&claims).unwrap())
            .await
            .0
            .outcome,
        Outcome::Allow
    );
    clock.advance(Duration::from_millis(2999));
    flood(3).await;
    assert_eq!(
        server.hits(),
        2,
        "no fetch a millisecond before the cooldown ends"
    );
    clock.advance(Duration::from_millis(1));
    flood(4).await;
    assert_eq!(server.hits(), 3, "one more fetch once the cooldown is over");
}

/// A made-up kid that comes while another kid's fetch is in flight waits for that fetch and is
/// then refused with it: no fetch of its own, although no cooldown began (the fetch found the kid
/// it was made for). The test runs on one thread and holds the issuer's answer until the second
/// request waits for it, so the order is the same on any machine.
#[tokio::test]
async fn an_unknown_kid_waiting_on_another_kids_fetch_shares_it_and_fetches_nothing_more() {
    let (old, new) = (rsa_key("share-old"), rsa_key("share-new"));
    let server = JwksServer::with_keys(&[old]).await;
    let authorizer = Arc::new(authorizer_for(&server, &[]));
    authorizer.refresh_keys(Trigger::Init).await;
    assert_eq!(server.hits(), 1);
    let claims = good_claims(&server.issuer());
    let rotated = new.sign(&claims).unwrap();
    let made_up = sign_raw(
        old,
        &serde_json::json!({"alg": "RS256", "kid": "made-up"}),
        &claims,
    );

    server.publish(&[old, new]);
    let gate = Arc::new(tokio::sync::Notify::new());
    server.set_mode(Mode::Gated(gate.clone()));
    let spawn = |token: String| {
        let authorizer = authorizer.clone();
        tokio::spawn(async move { authorize(&authorizer, &token).await.0 })
    };
    let first = spawn(rotated);
    eventually("the new kid's fetch reaches the issuer", || {
        server.hits() == 2
    })
    .await;
    let second = spawn(made_up);
    // One thread: each yield lets the second request run on, until it waits for the fetch.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!second.is_finished(), "the made-up kid waits for the fetch");
    server.set_mode(Mode::Serve);
    gate.notify_one();
    assert_eq!(first.await.unwrap().outcome, Outcome::Allow);
    assert_eq!(second.await.unwrap().reject, Some(Reject::UnknownKid));
    assert_eq!(
        server.hits(),
        2,
        "the made-up kid shared the fetch in flight and asked for none of its own"
    );
    assert!(
        !authorizer.issuers()[0].keys().in_kid_miss_cooldown(),
        "the shared fetch found its kid: no cooldown, so only the sharing kept the count"
    );
}

#[tokio::test]
async fn an_issuer_outage_does_not_break_tokens_whose_keys_are_cached() {
    let key = rsa_key("outage");
    let server = JwksServer::with_keys(&[key]).await;
    let (authorizer, clock) = authorizer_with_clock(
        &server,
        &[
            ("JWKS_REFRESH_INTERVAL_SECONDS", "1"),
            ("JWKS_MIN_REFRESH_INTERVAL_SECONDS", "1"),
            ("JWKS_KID_MISS_COOLDOWN_SECONDS", "1"),
            ("JWKS_TIMEOUT_MS", "300"),
        ],
    );
    let claims = good_claims(&server.issuer());
    let token = key.sign(&claims).unwrap();
    assert_eq!(
        authorize(&authorizer, &token).await.0.outcome,
        Outcome::Allow
    );

    let faults = [
        Mode::Status(500),
        Mode::Status(404),
        Mode::Body("<html>oops</html>".into()),
        Mode::Body(r#"{"keys": "#.into()),
        Mode::Body(r#"{"keys": []}"#.into()),
        Mode::Delay(Duration::from_secs(5)),
        Mode::Huge(20 << 20),
        Mode::Trickle(Duration::from_millis(100)),
        Mode::RedirectLoop,
        Mode::Endless,
    ];
    for (i, mode) in faults.into_iter().enumerate() {
        server.set_mode(mode.clone());
        // Past the refresh interval, the kid-miss cooldown and the retry delay: the next token
        // refreshes the set, and the next unknown kid fetches again.
        clock.advance(Duration::from_secs(1));
        // Requests the server gets per fetch: a redirect loop is followed 3 times.
        let per_fetch = if matches!(mode, Mode::RedirectLoop) {
            4
        } else {
            1
        };
        let hits = server.hits();
        let started = Instant::now();
        let (decision, _) = authorize_while_stale(&authorizer, &token).await;
        assert_eq!(
            decision.outcome,
            Outcome::Allow,
            "{mode:?}: stale keys are kept"
        );
        assert!(
            started.elapsed() < Duration::from_millis(2000),
            "{mode:?}: the refresh beside it is bounded by the fetch timeout"
        );
        assert_eq!(
            server.hits(),
            hits + per_fetch,
            "{mode:?}: the stale set was refreshed, and that fetch failed"
        );
        // A token that needs a fetch is refused within the timeout.
        let started = Instant::now();
        let stranger = sign_raw(
            key,
            &serde_json::json!({"alg": "RS256", "kid": format!("not-there-{i}")}),
            &claims,
        );
        assert_eq!(
            authorize(&authorizer, &stranger).await.0.reject,
            Some(Reject::UnknownKid)
        );
        assert!(started.elapsed() < Duration::from_millis(1000), "{mode:?}");
        assert_eq!(
            server.hits(),
            hits + 2 * per_fetch,
            "{mode:?}: the unknown kid was looked for with a fetch of its own"
        );
    }
    server.stop();
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        authorize(&authorizer, &token).await.0.outcome,
        Outcome::Allow,
        "connection refused"
    );
}

#[tokio::test]
async fn with_no_keys_at_all_tokens_are_refused_as_jwks_unavailable_and_init_recovers_later() {
    let key = rsa_key("late");
    let server = JwksServer::with_keys(&[key]).await;
    server.set_mode(Mode::Status(503));
    let (authorizer, clock) =
        authorizer_with_clock(&server, &[("JWKS_KID_MISS_COOLDOWN_SECONDS", "1")]);
    authorizer.refresh_keys(Trigger::Init).await;
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    assert_eq!(
        authorize(&authorizer, &token).await.0.reject,
        Some(Reject::JwksUnavailable)
    );
    server.set_mode(Mode::Serve);
    // The penalty box (at least a second) holds the kid's next fetch back.
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        authorize(&authorizer, &token).await.0.outcome,
        Outcome::Allow,
        "fetched again on first need"
    );
}

#[tokio::test]
async fn keys_are_found_through_oidc_discovery_when_no_jwks_uri_is_set() {
    let key = rsa_key("disc");
    let server = JwksServer::with_keys(&[key]).await;
    let vars = std::collections::HashMap::from([
        ("TOKEN_ISSUER", server.issuer()),
        ("AUDIENCE", AUDIENCE.to_string()),
    ]);
    let config = jwt_authorizer::Config::from_lookup(|n| vars.get(n).cloned()).unwrap();
    let authorizer = jwt_authorizer::Authorizer::from_config(config).unwrap();
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    assert_eq!(
        authorize(&authorizer, &token).await.0.outcome,
        Outcome::Allow
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn keys_come_over_https_from_an_issuer_whose_ca_is_configured() {
    let key = rsa_key("tls");
    let ca = support::tls::TestCa::new();
    let server = JwksServer::start_tls(jwt_authorizer::issuer::jwks([key]), &ca).await;
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), &ca.ca_pem).unwrap();
    let claims = good_claims(&server.issuer());
    let token = key.sign(&claims).unwrap();

    let trusting = authorizer_for(
        &server,
        &[("JWKS_CA_FILE", ca_file.path().to_str().unwrap())],
    );
    assert_eq!(authorize(&trusting, &token).await.0.outcome, Outcome::Allow);

    // Without the CA the certificate is not trusted: no keys, no Allow.
    let untrusting = authorizer_for(&server, &[]);
    assert_eq!(
        authorize(&untrusting, &token).await.0.reject,
        Some(Reject::JwksUnavailable)
    );
}

/// Regression: reqwest's own timeout (the same as ours) fired first and was counted and logged as
/// `http_error` ("error sending request"), hiding that the issuer was slow.
#[tokio::test]
async fn a_slow_issuer_is_counted_as_a_timeout_not_an_http_error() {
    let server = JwksServer::with_keys(&[rsa_key("fault-slow")]).await;
    let config = config_for(&server, &[("JWKS_TIMEOUT_MS", "200")]);
    let client = jwt_authorizer::Fetcher::client(&config.transport).unwrap();
    let fetcher = jwt_authorizer::Fetcher::new(client, &config.transport, &config.issuers[0]);
    for mode in [
        Mode::Delay(Duration::from_secs(5)),
        Mode::Trickle(Duration::from_secs(1)),
        Mode::Endless,
    ] {
        server.set_mode(mode.clone());
        let started = Instant::now();
        let error = fetcher
            .fetch()
            .await
            .err()
            .expect("a slow issuer fails the fetch");
        assert_eq!(error.as_str(), "timeout", "{mode:?}: {error}");
        assert!(started.elapsed() < Duration::from_millis(1500), "{mode:?}");
    }
}
