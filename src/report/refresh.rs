//! A key refresh attempt, as reported to observers (logs, metrics).

use std::sync::Arc;
use std::time::Duration;

/// What caused a refresh; a metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The fetch at start-up (Lambda's init phase).
    Init,
    /// The background task's schedule.
    Interval,
    /// An authorization found the set older than its refresh interval.
    Stale,
    /// A token named a kid we do not have.
    KidMiss,
}

impl Trigger {
    /// Every trigger, in discriminant order (metric handles are indexed by it).
    pub const ALL: [Trigger; 4] = [
        Trigger::Init,
        Trigger::Interval,
        Trigger::Stale,
        Trigger::KidMiss,
    ];

    /// The metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Trigger::Init => "init",
            Trigger::Interval => "interval",
            Trigger::Stale => "stale",
            Trigger::KidMiss => "kid_miss",
        }
    }
}

/// The outcome of one fetch attempt.
#[derive(Debug)]
pub struct Attempt {
    /// The index of the issuer whose keys were fetched.
    pub issuer: usize,
    /// That issuer's name.
    pub issuer_name: Arc<str>,
    /// Why it was made.
    pub trigger: Trigger,
    /// `Ok(number of keys)` or the failure's label.
    pub result: Result<usize, &'static str>,
    /// How long it took.
    pub elapsed: Duration,
}
