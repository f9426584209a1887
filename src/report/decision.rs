//! An authorization's decision: what the caller got, and what logs and metrics need of it.

use super::Reject;
use arrayvec::ArrayString;

/// Which kind of authorizer event arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// REST API `TOKEN` authorizer: `authorizationToken` and `methodArn`.
    Token,
    /// REST API `REQUEST` authorizer: the credential's header (or query parameter) and `methodArn`.
    Request,
    /// HTTP API payload 2.0: the credential among `identitySource`, and `routeArn`.
    HttpV2,
}

impl EventKind {
    /// A label for logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Token => "token",
            EventKind::Request => "request",
            EventKind::HttpV2 => "http_v2",
        }
    }
}

/// What became of an authorization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A policy that allows the called route was written.
    Allow,
    /// A policy that denies the called route was written (a route rule, or `REJECT_MODE=deny`).
    Deny,
    /// Nothing was written: answer the Lambda error `Unauthorized`.
    Unauthorized,
}

impl Outcome {
    /// Every outcome, in discriminant order (metric handles are indexed by it).
    pub const ALL: [Outcome; 3] = [Outcome::Allow, Outcome::Deny, Outcome::Unauthorized];

    /// The metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::Unauthorized => "unauthorized",
        }
    }
}

/// The decision, with what logs and metrics need. `kid` and `sub` are copied (truncated) into
/// fixed buffers so that no log field borrows from, or allocates for, the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Allow, Deny or Unauthorized.
    pub outcome: Outcome,
    /// Why the token was refused, if it was.
    pub reject: Option<Reject>,
    /// The event's kind, once known.
    pub event: Option<EventKind>,
    /// The index of the token's issuer in the configured issuers, once its `iss` matched one
    /// (unverified when the token was refused).
    pub issuer: Option<usize>,
    /// The token's `kid`, once parsed (untrusted when the token was refused).
    pub kid: ArrayString<64>,
    /// The token's `sub`, only once the token is verified.
    pub sub: ArrayString<128>,
    /// The signature check was answered by the verified-token cache (a metric).
    pub cache_hit: bool,
    /// The Cedar policy that denied the called route (`none`: no policy permitted it), when
    /// Cedar policies denied it. A configured id, never text from the token.
    pub policy: Option<&'static str>,
}

impl Decision {
    /// Nothing decided yet: `Unauthorized`, with no reason.
    pub fn new() -> Self {
        Decision {
            outcome: Outcome::Unauthorized,
            reject: None,
            event: None,
            issuer: None,
            kid: ArrayString::new(),
            sub: ArrayString::new(),
            cache_hit: false,
            policy: None,
        }
    }
}

impl Default for Decision {
    fn default() -> Self {
        Decision::new()
    }
}
