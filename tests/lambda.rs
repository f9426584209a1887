//! The binary in Lambda mode: started with `AWS_LAMBDA_RUNTIME_API` and no subcommand, against a
//! Runtime API on 127.0.0.1, it answers an Allow on the response endpoint and `Unauthorized` on
//! the error endpoint, and logs JSON lines.

mod support;

use serde_json::Value;
use std::time::Duration;
use support::runtime_api::{RuntimeApi, spawn_function, stop_and_read_stdout};
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_lambda_loop_answers_on_the_runtime_api() {
    let key = rsa_key("lambda");
    let server = JwksServer::with_keys(&[key]).await;
    let mut api = RuntimeApi::start().await;
    let mut child = spawn_function(&api, &server, &[]);

    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    let allowed = api.push(token_event(&format!("Bearer {token}")));
    let refused = api.push(token_event("Bearer not.a.token"));
    let missing = api.push(token_event(""));

    let first = api
        .answer(Duration::from_secs(20))
        .await
        .expect("an answer to the first event");
    assert_eq!(
        (first.request_id.as_str(), first.kind),
        (allowed.as_str(), "response"),
        "{first:?}"
    );
    let policy: Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(policy["principalId"], "auth0|alice");
    assert_eq!(policy["policyDocument"]["Statement"][0]["Effect"], "Allow");

    for id in [refused, missing] {
        let answer = api.answer(Duration::from_secs(10)).await.unwrap();
        assert_eq!(
            (answer.request_id.as_str(), answer.kind),
            (id.as_str(), "error")
        );
        let error: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(error["errorMessage"], "Unauthorized");
        assert_eq!(error["errorType"], "Unauthorized");
    }
    assert_eq!(server.hits(), 1, "keys fetched once, at init");

    let (stdout, documents) = stop_and_read_stdout(&mut child).await;
    let decisions: Vec<&Value> = documents
        .iter()
        .filter(|line| line["fields"]["message"] == "authorization")
        .collect();
    assert_eq!(
        decisions.len(),
        2,
        "one JSON log line per refusal, none per Allow:\n{stdout}"
    );
    assert_eq!(decisions[0]["fields"]["reason"], "malformed");
    assert_eq!(decisions[1]["fields"]["reason"], "missing_token");
    assert!(
        !stdout.contains(&token[..40]),
        "the token never reaches the logs"
    );
}

/// Fuzz finding (target `pipeline`): `events::parse` skips the fields it does not read without
/// checking their UTF-8, so an event with invalid UTF-8 in, say, `multiValueHeaders` still gets
/// its token's answer from the handler. In Lambda such an event never reaches the handler: the
/// runtime reads it as a `RawValue`, which refuses invalid UTF-8. This pins that guarantee (the
/// fuzz target relies on it) and that the loop goes on.
#[tokio::test(flavor = "multi_thread")]
async fn an_event_that_is_not_utf8_is_an_error_and_the_loop_goes_on() {
    let key = rsa_key("lambda-utf8");
    let server = JwksServer::with_keys(&[key]).await;
    let mut api = RuntimeApi::start().await;
    let mut child = spawn_function(&api, &server, &[]);
    let token = key.sign(&good_claims(&server.issuer())).unwrap();
    let good = token_event(&format!("Bearer {token}"));
    let mut not_utf8 = good.clone();
    let at = not_utf8.len() - 1;
    not_utf8.splice(at..at, *b",\"x\":\"\xff\xfe\"");
    let bad = api.push(not_utf8);
    let then = api.push(good);
    for (id, kind) in [(bad, "error"), (then, "response")] {
        let answer = api
            .answer(Duration::from_secs(20))
            .await
            .expect("an answer");
        assert_eq!(
            (answer.request_id.as_str(), answer.kind),
            (id.as_str(), kind),
            "{answer:?}"
        );
    }
    stop_and_read_stdout(&mut child).await;
}
