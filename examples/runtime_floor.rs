//! The floor: the least a Rust Lambda function can cost per invocation. `lambda_runtime` on a
//! current-thread tokio runtime, answering every event with the same Allow policy, with no
//! logging and no metrics. `benches/lambda_floor.rs` runs it beside the authorizer under the same
//! Runtime API, so the authorizer's overhead over the runtime itself is a measured ratio.
//!
//! ```sh
//! cargo build --release --no-default-features --bin authorizer --example runtime_floor
//! ```
//!
//! It reads the event as a `RawValue` (as the authorizer does: valid UTF-8 JSON, not parsed into
//! a tree) and answers a policy of the authorizer's size, so the runtime does the same I/O for both.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;

const ALLOW: &str = r#"{"principalId":"auth0|alice","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/*/*"}]},"context":{"scope":"read:pets"}}"#;

async fn allow(_: LambdaEvent<Box<RawValue>>) -> Result<Box<RawValue>, Error> {
    Ok(RawValue::from_string(ALLOW.to_owned())?)
}

fn main() -> Result<(), Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(lambda_runtime::run(service_fn(allow)))
}
