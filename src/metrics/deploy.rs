//! `authorizer dashboards deploy`: PutDashboard through `aws-sdk-cloudwatch` (feature `dashboards`).
//!
//! The SDK stays out of the Lambda artifact (measured: about 68 more crates, +50% clean build time,
//! +6.6 MB stripped), so this module only exists with `--features dashboards`. The client is
//! pinned to aws-sdk-cloudwatch 1.99.0: 1.100 and later speak the Smithy RPC-v2 CBOR protocol,
//! which `moto_server` 5.2 (our local test double) answers with 404; 1.99.0 is the last release on
//! the query protocol, which CloudWatch itself still serves.

use aws_config::BehaviorVersion;
use aws_config::meta::region::RegionProviderChain;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::ProvideCredentials;
use aws_sdk_cloudwatch::error::{DisplayErrorContext, SdkError};
use aws_sdk_cloudwatch::operation::put_dashboard::PutDashboardError;
use aws_sdk_cloudwatch::types::DashboardValidationMessage;

/// Why a dashboard was not deployed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The standard credential chain found nothing.
    #[error(
        "no AWS credentials: {0}. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE \
         (after `aws sso login` or `aws configure`), or run where a role is attached"
    )]
    NoCredentials(String),
    /// CloudWatch refused the body.
    #[error("CloudWatch rejected the dashboard body: {}", messages.join("; "))]
    Rejected {
        /// CloudWatch's validation messages (`data path: message`).
        messages: Vec<String>,
    },
    /// Any other failure of the call (network, endpoint, permissions).
    #[error("PutDashboard failed: {0}")]
    Api(String),
}

/// Puts `body` as dashboard `name` with the standard AWS configuration chain (environment,
/// profile, SSO, IMDS; `AWS_ENDPOINT_URL` honoured). The region is the chain's, else `region`.
/// Returns CloudWatch's validation warnings for a body it accepted.
///
/// # Errors
/// [`DeployError`]: missing credentials, a rejected body, or the call failing.
pub async fn deploy_dashboard(
    name: &str,
    body: &str,
    region: &str,
) -> Result<Vec<String>, DeployError> {
    let client = client(region).await?;
    match client
        .put_dashboard()
        .dashboard_name(name)
        .dashboard_body(body)
        .send()
        .await
    {
        Ok(output) => Ok(describe(output.dashboard_validation_messages())),
        Err(SdkError::ServiceError(e)) => match e.err() {
            PutDashboardError::DashboardInvalidInputError(invalid) => {
                let mut messages = describe(invalid.dashboard_validation_messages());
                if messages.is_empty() {
                    messages.push(invalid.message().unwrap_or("no details").to_owned());
                }
                Err(DeployError::Rejected { messages })
            }
            other => Err(DeployError::Api(DisplayErrorContext(other).to_string())),
        },
        Err(other) => Err(DeployError::Api(DisplayErrorContext(&other).to_string())),
    }
}

/// A CloudWatch client from the standard chain, with credentials checked up front so that their
/// absence is reported as such rather than as a failed request.
///
/// # Errors
/// [`DeployError::NoCredentials`].
pub async fn client(region: &str) -> Result<Client, DeployError> {
    let region =
        RegionProviderChain::default_provider().or_else(aws_config::Region::new(region.to_owned()));
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .load()
        .await;
    let provider = config
        .credentials_provider()
        .ok_or_else(|| DeployError::NoCredentials("no credential provider".to_owned()))?;
    provider
        .provide_credentials()
        .await
        .map_err(|e| DeployError::NoCredentials(DisplayErrorContext(&e).to_string()))?;
    Ok(Client::new(&config))
}

fn describe(messages: &[DashboardValidationMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| match m.data_path() {
            Some(path) => format!("{path}: {}", m.message().unwrap_or_default()),
            None => m.message().unwrap_or_default().to_owned(),
        })
        .collect()
}
