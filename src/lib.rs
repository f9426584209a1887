//! A JWT authorizer for AWS API Gateway: verifies `Authorization: Bearer <JWT>` against an
//! issuer's JWKS and answers with an IAM policy, or `Unauthorized`.
//!
//! The map of the crate (ARCHITECTURE.md draws its layers, and `tests/architecture.rs` keeps
//! every import pointing down them):
//! - [`Config`]: everything configurable, from the environment (and `CONFIG_FILE` for several
//!   issuers), checked at start-up; [`IssuerConfig`] one trusted issuer.
//! - [`Authorizer`]: one authorization, from event bytes to the answer; [`Decision`] says what
//!   happened, and an [`Observer`] hears of it (the binary wires in [`metrics::Metrics`]).
//! - [`TrustedIssuer`]: an issuer's rules and its own [`KeyStore`], the lock-free key set and what
//!   keeps it fresh; [`KeySet`] the parsed keys.
//! - [`Reject`]: every reason a token is refused (the caller only ever sees `Unauthorized`).
//! - [`metrics`]: what is counted and timed, and its sinks (EMF for Lambda, Prometheus for `serve`).
//! - [`logging`]: which log lines are written and how (a line per refusal, none per Allow).
//! - [`shutdown`]: Lambda's shutdown phase (SIGTERM through an internal extension), so the last
//!   metrics window is written.
//! - [`introspection`]: OAuth token introspection (RFC 7662) for opaque tokens and revocation,
//!   cached, one call per token at a time, and rate-limited per issuer.
//! - `cedar` (feature `cedar`): Cedar policies evaluated per token and compiled into the one
//!   cached IAM policy.
//! - [`token`] and [`events`]: the parsers of attacker-controlled bytes, public so that the fuzz
//!   targets (`fuzz/`) can drive them directly.
//! - `issuer` (feature `mint`) and `local` (feature `local`): a development issuer that mints
//!   tokens, and `authorizer serve`; neither is in the Lambda build.
#![deny(missing_docs)]

mod algorithm;
mod binding;
#[cfg(feature = "cedar")]
pub mod cedar;
mod claims;
pub mod clock;
mod config;
mod dpop;
pub mod events;
mod fetcher;
mod handler;
mod identity;
pub mod introspection;
#[cfg(feature = "mint")]
pub mod issuer;
mod json;
mod keyset;
#[cfg(feature = "local")]
pub mod local;
pub mod logging;
pub mod metrics;
mod mtls;
mod policy;
mod refresher;
mod report;
pub mod shutdown;
pub mod token;
mod verified;

pub use algorithm::{Algorithm, KeyKind};
pub use config::{
    Config, ConfigError, HttpApiResponse, IssuerConfig, JwksSource, Problem, RejectMode, TokenUse,
    Transport, VARIABLES,
};
pub use events::EventKind;
pub use fetcher::{ClientError, FetchError, Fetcher};
pub use handler::{Authorizer, TrustedIssuer, Wiring};
pub use identity::{IdentitySource, Source};
pub use keyset::{KeySet, VerifyingKey};
pub use policy::{MethodArn, ResourceMode, RouteRule, wildcard_match};
pub use refresher::{KeyStore, Schedule};
pub use report::{
    Attempt, Decision, IntrospectionCall, Lookup, NO_ISSUER, Observer, Outcome, Reject, Trigger,
    UNAUTHORIZED, Unobserved,
};
