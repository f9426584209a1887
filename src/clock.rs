//! Monotonic time, as the key stores and caches read it: the system's, or one a test moves by
//! hand, so that refresh intervals, cooldowns and cache lifetimes are tested by advancing a clock
//! instead of sleeping and hoping the machine was idle.
//!
//! Token times (`exp`, `nbf`, `iat`, a DPoP proof's `iat`) are wall-clock seconds and come in as
//! `Authorizer::authorize_at`'s `now`; this is only for intervals.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// A sleep, boxed: refreshers sleep a few times an hour, so the allocation is harmless.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A monotonic clock, and a sleep that ends when it has moved on by the given time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Instant;

    /// Resolves once [`Clock::now`] has moved on by `duration`.
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// The system's monotonic clock, and tokio's timers.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that stands still until [`ManualClock::advance`] moves it; its sleeps end when it has
/// been moved far enough.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    /// How far the clock has been moved; sleeps watch it.
    elapsed: tokio::sync::watch::Sender<Duration>,
}

impl ManualClock {
    /// A clock standing at the present.
    pub fn new() -> Self {
        ManualClock {
            start: Instant::now(),
            elapsed: tokio::sync::watch::Sender::new(Duration::ZERO),
        }
    }

    /// Moves the clock on, waking the sleeps that are then over.
    pub fn advance(&self, duration: Duration) {
        self.elapsed.send_modify(|elapsed| *elapsed += duration);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + *self.elapsed.borrow()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        let mut elapsed = self.elapsed.subscribe();
        let until = *elapsed.borrow_and_update() + duration;
        Box::pin(async move {
            // Ends when the clock has moved far enough, or when it is dropped (never, in a test
            // that holds it; a refresher outliving its clock must not spin).
            while *elapsed.borrow_and_update() < until {
                if elapsed.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_sleep_ends_when_the_clock_has_moved_far_enough() {
        let clock = ManualClock::new();
        let start = clock.now();
        let mut sleep = clock.sleep(Duration::from_secs(10));
        clock.advance(Duration::from_secs(9));
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut sleep)
                .await
                .is_err(),
            "9 of 10 seconds"
        );
        clock.advance(Duration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(5), sleep)
            .await
            .expect("10 of 10 seconds");
        assert_eq!(clock.now() - start, Duration::from_secs(10));
    }
}
