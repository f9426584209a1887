//! What introspection (RFC 7662) reports: how each lookup was answered, and each call made.

use std::time::Duration;

/// How an introspection lookup was answered; a metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// From the cache.
    Hit,
    /// By a new call.
    Miss,
    /// By the call already in flight for the same token.
    Shared,
    /// Refused without a call: beyond the issuer's calls per second.
    RateLimited,
}

impl Lookup {
    /// Every lookup result, in discriminant order (metric handles are indexed by it).
    pub const ALL: [Lookup; 4] = [
        Lookup::Hit,
        Lookup::Miss,
        Lookup::Shared,
        Lookup::RateLimited,
    ];

    /// The metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Lookup::Hit => "hit",
            Lookup::Miss => "miss",
            Lookup::Shared => "shared",
            Lookup::RateLimited => "rate_limited",
        }
    }
}

/// One call to an issuer's introspection endpoint.
#[derive(Clone, Copy, Debug)]
pub struct IntrospectionCall {
    /// The index of the issuer that was asked.
    pub issuer: usize,
    /// `active`, `inactive`, or the failure's label.
    pub result: &'static str,
    /// How long it took.
    pub elapsed: Duration,
}
