//! The memory of introspection answers: keyed like the verified-token cache (a 128-bit SipHash
//! of the token under a per-process random key, never the token), bounded in entries, each
//! answer with its own deadline; and the per-issuer budget of calls for tokens it does not hold.

use super::response::Verdict;
use quick_cache::sync::Cache;
use siphasher::sip128::{Hasher128, SipHasher13};
use std::hash::Hasher;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token's keyed digest.
pub type Digest = u128;

/// A remembered answer and until when it may be used.
#[derive(Clone)]
struct Entry {
    verdict: Verdict,
    until: Instant,
}

/// Introspection answers by token digest.
pub struct Answers {
    entries: Cache<Digest, Entry>,
    key: [u8; 16],
}

impl Answers {
    /// A cache of at most `capacity` answers, or `None` without OS randomness for its key: a
    /// predictable key would let an attacker make two tokens share an answer.
    pub fn new(capacity: usize) -> Option<Self> {
        let mut key = [0; 16];
        getrandom::fill(&mut key).ok()?;
        Some(Answers {
            entries: Cache::new(capacity.max(1)),
            key,
        })
    }

    /// The digest a token is remembered by.
    #[inline]
    pub fn digest(&self, token: &str) -> Digest {
        let mut hasher = SipHasher13::new_with_key(&self.key);
        hasher.write(token.as_bytes());
        hasher.finish128().as_u128()
    }

    /// The answer for this digest, unless it is past its deadline.
    #[inline]
    pub fn get(&self, digest: Digest, now: Instant) -> Option<Verdict> {
        let entry = self.entries.get(&digest)?;
        if entry.until > now {
            Some(entry.verdict)
        } else {
            self.entries.remove(&digest);
            None
        }
    }

    /// Remembers an answer for `ttl` (nothing for a zero `ttl`).
    pub fn insert(&self, digest: Digest, verdict: Verdict, ttl: Duration, now: Instant) {
        if !ttl.is_zero() {
            self.entries.insert(
                digest,
                Entry {
                    verdict,
                    until: now + ttl,
                },
            );
        }
    }

    /// How many answers are held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no answer is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A token bucket: `rate` calls per second on average, at most `rate` at once (a burst of one
/// second's worth).
pub struct Budget {
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl Budget {
    /// A full bucket of `rate` calls per second.
    pub fn new(rate: u32, now: Instant) -> Self {
        let rate = f64::from(rate.max(1));
        Budget {
            rate,
            state: Mutex::new((rate, now)),
        }
    }

    /// Takes one call from the budget, or says there is none left.
    pub fn try_take(&self, now: Instant) -> bool {
        let mut state = self.state.lock().expect("not poisoned");
        let (tokens, last) = &mut *state;
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.rate;
        *tokens = (*tokens + refill).min(self.rate);
        *last = now.max(*last);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_used_until_its_deadline_only() {
        let answers = Answers::new(16).unwrap();
        let t0 = Instant::now();
        let digest = answers.digest("opaque-token");
        assert_ne!(digest, Answers::new(16).unwrap().digest("opaque-token"));
        answers.insert(digest, Verdict::Inactive, Duration::from_secs(5), t0);
        assert_eq!(
            answers.get(digest, t0 + Duration::from_secs(4)),
            Some(Verdict::Inactive)
        );
        assert_eq!(answers.get(digest, t0 + Duration::from_secs(5)), None);
        assert_eq!(answers.len(), 0, "an expired answer is dropped when seen");
        answers.insert(digest, Verdict::Inactive, Duration::ZERO, t0);
        assert_eq!(answers.get(digest, t0), None, "a zero ttl caches nothing");
    }

    #[test]
    fn the_cache_holds_at_most_its_capacity() {
        let answers = Answers::new(100).unwrap();
        let t0 = Instant::now();
        for i in 0..10_000 {
            let digest = answers.digest(&format!("token-{i}"));
            answers.insert(digest, Verdict::Inactive, Duration::from_secs(60), t0);
        }
        assert!(answers.len() <= 100, "{}", answers.len());
    }

    #[test]
    fn the_budget_allows_a_second_of_calls_then_refills_at_its_rate() {
        let t0 = Instant::now();
        let budget = Budget::new(10, t0);
        assert_eq!((0..50).filter(|_| budget.try_take(t0)).count(), 10);
        assert!(!budget.try_take(t0 + Duration::from_millis(50)));
        assert!(budget.try_take(t0 + Duration::from_millis(150)));
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..50).filter(|_| budget.try_take(later)).count(), 10);
    }
}
