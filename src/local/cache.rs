//! The authorizer result cache, as API Gateway keeps it for a TOKEN authorizer: keyed by the
//! identity source value (the whole `Authorization` header), one TTL for every entry, and the
//! cached *policy* (not the decision) stored, so that each request evaluates it against its own
//! methodArn. That is what makes a policy written for one method break the API's other routes.
//!
//! Memory is bounded by an entry count and a byte budget. Since every entry lives for the same
//! TTL, insertion order is expiry order: a FIFO queue gives both expiry and eviction in O(1)
//! amortized, with no per-entry timers.

use super::iam::Policy;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The most bytes the cache holds (identity values plus policy sizes), whatever the entry count.
pub(crate) const MAX_CACHE_BYTES: usize = 64 << 20;

/// The authorizer result cache. A TTL of zero turns it off.
pub(crate) struct AuthCache {
    ttl: Duration,
    max_entries: usize,
    max_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<Arc<str>, Entry>,
    /// Keys in insertion (= expiry) order. A key re-inserted after expiry appears twice; the stale
    /// occurrence is recognised by its `expires` not matching the map's entry.
    order: VecDeque<(Arc<str>, Instant)>,
    bytes: usize,
}

struct Entry {
    policy: Arc<Policy>,
    expires: Instant,
    cost: usize,
}

impl AuthCache {
    pub(crate) fn new(ttl: Duration, max_entries: usize, max_bytes: usize) -> Self {
        AuthCache {
            ttl,
            max_entries,
            max_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Whether caching is on.
    pub(crate) fn enabled(&self) -> bool {
        !self.ttl.is_zero() && self.max_entries > 0
    }

    /// The cached policy for an identity value, if it has not expired at `now`.
    pub(crate) fn get(&self, identity: &str, now: Instant) -> Option<Arc<Policy>> {
        if !self.enabled() {
            return None;
        }
        let inner = self.lock();
        inner
            .map
            .get(identity)
            .filter(|entry| now < entry.expires)
            .map(|entry| entry.policy.clone())
    }

    /// Caches a policy for an identity value from `now` for the TTL, evicting expired entries, then
    /// the oldest, to stay within the bounds.
    pub(crate) fn insert(&self, identity: &str, policy: Arc<Policy>, now: Instant) {
        if !self.enabled() {
            return;
        }
        let cost = identity.len() + policy.approximate_size();
        if cost > self.max_bytes {
            return;
        }
        let expires = now + self.ttl;
        let key: Arc<str> = Arc::from(identity);
        let mut inner = self.lock();
        if let Some(old) = inner.map.remove(identity) {
            inner.bytes -= old.cost;
        }
        inner.bytes += cost;
        inner.map.insert(
            key.clone(),
            Entry {
                policy,
                expires,
                cost,
            },
        );
        inner.order.push_back((key, expires));
        // Drop expired entries, then the oldest while over a bound.
        while let Some((front, front_expires)) = inner.order.front() {
            let over = inner.map.len() > self.max_entries || inner.bytes > self.max_bytes;
            if !over && now < *front_expires {
                break;
            }
            let (front, front_expires) = (front.clone(), *front_expires);
            inner.order.pop_front();
            if inner
                .map
                .get(&front)
                .is_some_and(|entry| entry.expires == front_expires)
                && let Some(evicted) = inner.map.remove(&front)
            {
                inner.bytes -= evicted.cost;
            }
        }
        // Re-inserted keys leave stale queue entries behind; keep the queue from growing unbounded.
        if inner.order.len() > 2 * self.max_entries.max(16) {
            let Inner { map, order, .. } = &mut *inner;
            order.retain(|(k, e)| map.get(k).is_some_and(|entry| entry.expires == *e));
        }
    }

    /// How many entries are held (expired ones included until they are swept).
    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map inconsistent in a way that matters
        // for a cache: keep serving.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Arc<Policy> {
        let json = br#"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}}"#;
        Arc::new(Policy::parse(json).unwrap())
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = AuthCache::new(Duration::from_secs(10), 100, MAX_CACHE_BYTES);
        let t0 = Instant::now();
        cache.insert("Bearer a", policy(), t0);
        assert!(cache.get("Bearer a", t0 + Duration::from_secs(9)).is_some());
        assert!(
            cache
                .get("Bearer a", t0 + Duration::from_secs(10))
                .is_none()
        );
        assert!(cache.get("Bearer b", t0).is_none());
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = AuthCache::new(Duration::ZERO, 100, MAX_CACHE_BYTES);
        let t0 = Instant::now();
        cache.insert("Bearer a", policy(), t0);
        assert!(cache.get("Bearer a", t0).is_none());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn the_oldest_entries_are_evicted_beyond_the_bounds() {
        let cache = AuthCache::new(Duration::from_secs(60), 3, MAX_CACHE_BYTES);
        let t0 = Instant::now();
        for i in 0..5 {
            cache.insert(&format!("Bearer {i}"), policy(), t0);
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get("Bearer 0", t0).is_none());
        assert!(cache.get("Bearer 1", t0).is_none());
        assert!(cache.get("Bearer 4", t0).is_some());

        let cost = "Bearer 000".len() + policy().approximate_size();
        let bytes = AuthCache::new(Duration::from_secs(60), 1000, 2 * cost);
        for i in 0..10 {
            bytes.insert(&format!("Bearer {i:03}"), policy(), t0);
        }
        assert!(bytes.len() <= 2, "{}", bytes.len());
    }

    #[test]
    fn expired_entries_are_swept_and_reinsertion_keeps_the_newest() {
        let cache = AuthCache::new(Duration::from_secs(1), 100, MAX_CACHE_BYTES);
        let t0 = Instant::now();
        cache.insert("Bearer a", policy(), t0);
        cache.insert("Bearer b", policy(), t0);
        let t1 = t0 + Duration::from_secs(2);
        cache.insert("Bearer a", policy(), t1);
        assert_eq!(cache.len(), 1);
        assert!(cache.get("Bearer a", t1).is_some());
        for i in 0..1000 {
            cache.insert("Bearer a", policy(), t1 + Duration::from_millis(i));
        }
        assert_eq!(cache.len(), 1);
        assert!(cache.lock().order.len() <= 200);
    }
}
