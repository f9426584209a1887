//! The verified-token cache: a bounded memory of tokens whose signature was checked recently, so a
//! token seen again costs a hash and a lookup instead of an RSA verification (API Gateway's own
//! cache is often off: TTL 0).
//!
//! Keys are 128-bit SipHash digests of the whole token under a random per-process key: nothing but
//! the exact token that was verified can hit (an attacker cannot compute digests offline, and a
//! chance collision is 2^-128 per lookup), and the tokens themselves are not kept in memory. SipHash
//! rather than SHA-256 because it costs a fraction as much on CPUs without SHA extensions. A hit also requires the key that
//! verified it to be in the current key set with the same material and algorithms (its
//! fingerprint): a key the issuer removed, a `kid` reused for new material, or a key republished
//! under another `alg`, verifies nothing from the cache. Only the
//! signature is remembered; claims are checked on every request, so expiry needs no bookkeeping.

use crate::keyset::{Fingerprint, VerifyingKey};
use quick_cache::sync::Cache;
use siphasher::sip128::{Hasher128, SipHasher13};
use std::hash::Hasher;

/// A token's keyed 128-bit digest.
pub type TokenDigest = u128;

/// What is remembered of a verified token: the key that verified it and, with Cedar policies,
/// the decisions on every route (a token's claims never change, so neither do they).
#[derive(Clone)]
struct Entry {
    key: Fingerprint,
    #[cfg(feature = "cedar")]
    compiled: Option<std::sync::Arc<crate::cedar::Compiled>>,
}

/// The cache; a capacity of 0 switches it off.
pub struct VerifiedTokens {
    cache: Option<Cache<TokenDigest, Entry>>,
    key: [u8; 16],
}

impl VerifiedTokens {
    /// A cache holding at most `capacity` tokens (0: no cache).
    pub fn new(capacity: usize) -> Self {
        Self::keyed_by(capacity, getrandom::fill)
    }

    /// A cache whose SipHash key comes from `fill` (the OS in [`VerifiedTokens::new`]; tests make
    /// it fail).
    fn keyed_by(
        capacity: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), getrandom::Error>,
    ) -> Self {
        let mut key = [0; 16];
        // Without OS randomness the cache stays off rather than keyed predictably.
        let keyed = fill(&mut key).is_ok();
        VerifiedTokens {
            cache: (capacity > 0 && keyed).then(|| Cache::new(capacity)),
            key,
        }
    }

    /// What the cache knows of this token, or `None` when the cache is off. Looked up once per
    /// request, before anything of the token is parsed (see [`Lookup::is_known`]).
    #[inline]
    pub fn lookup(&self, token: &str) -> Option<Lookup> {
        let cache = self.cache.as_ref()?;
        let digest = self.digest(token);
        Some(Lookup {
            digest,
            entry: cache.get(&digest),
        })
    }

    /// A token's digest under this cache's key.
    #[inline]
    fn digest(&self, token: &str) -> TokenDigest {
        let mut hasher = SipHasher13::new_with_key(&self.key);
        hasher.write(token.as_bytes());
        hasher.finish128().as_u128()
    }

    /// Remembers that this token's signature verified with this key.
    pub fn remember(&self, digest: TokenDigest, key: Fingerprint) {
        if let Some(cache) = &self.cache {
            cache.insert(
                digest,
                Entry {
                    key,
                    #[cfg(feature = "cedar")]
                    compiled: None,
                },
            );
        }
    }

    /// Remembers that this token verified with this key, and its Cedar decisions.
    #[cfg(feature = "cedar")]
    pub fn remember_compiled(
        &self,
        digest: TokenDigest,
        key: Fingerprint,
        compiled: std::sync::Arc<crate::cedar::Compiled>,
    ) {
        if let Some(cache) = &self.cache {
            cache.insert(
                digest,
                Entry {
                    key,
                    compiled: Some(compiled),
                },
            );
        }
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.cache.as_ref().map_or(0, |c| c.len())
    }
}

/// What the cache knew of one token when it was looked up.
pub struct Lookup {
    digest: TokenDigest,
    entry: Option<Entry>,
}

impl Lookup {
    /// The token's digest, to remember it by.
    pub fn digest(&self) -> TokenDigest {
        self.digest
    }

    /// Whether the cache remembers this very token (its digest): one that was verified, so one
    /// that passed every check made before its signature's, whatever key verified it.
    pub fn is_known(&self) -> bool {
        self.entry.is_some()
    }

    /// Whether this token was verified by exactly this key.
    #[cfg(not(feature = "cedar"))]
    #[inline]
    pub fn verified_by(&self, key: &VerifyingKey) -> bool {
        self.entry
            .as_ref()
            .is_some_and(|entry| entry.key == *key.fingerprint())
    }

    /// Whether this token was verified by exactly this key (`Some`), with the Cedar decisions
    /// remembered beside it, if any.
    #[cfg(feature = "cedar")]
    #[inline]
    pub fn verified_by(
        &self,
        key: &VerifyingKey,
    ) -> Option<Option<std::sync::Arc<crate::cedar::Compiled>>> {
        self.entry
            .as_ref()
            .filter(|entry| entry.key == *key.fingerprint())
            .map(|entry| entry.compiled.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

    #[test]
    fn each_cache_keys_its_digests_with_its_own_secret() {
        let (one, other) = (VerifiedTokens::new(8), VerifiedTokens::new(8));
        let digest = one.lookup(TOKEN).expect("the cache is on").digest();
        assert_eq!(one.digest(TOKEN), digest, "a digest is stable");
        assert_ne!(
            other.digest(TOKEN),
            digest,
            "another process (or authorizer) cannot compute this digest"
        );
        let mut unkeyed = SipHasher13::new_with_key(&[0; 16]);
        unkeyed.write(TOKEN.as_bytes());
        assert_ne!(
            digest,
            unkeyed.finish128().as_u128(),
            "the key is not the predictable zero key"
        );
    }

    #[test]
    fn only_the_very_token_remembered_is_known() {
        let cache = VerifiedTokens::new(8);
        let lookup = cache.lookup(TOKEN).expect("the cache is on");
        assert!(!lookup.is_known(), "nothing remembered yet");
        cache.remember(lookup.digest(), [0; 32]);
        assert!(cache.lookup(TOKEN).unwrap().is_known());
        // The same token with its last character changed (the signature's trailing bits), one
        // character more or one less: not known.
        let shorter = &TOKEN[..TOKEN.len() - 1];
        for other in [
            format!("{shorter}m"),
            format!("{TOKEN}x"),
            shorter.to_owned(),
        ] {
            assert!(!cache.lookup(&other).unwrap().is_known(), "{other}");
        }
    }

    #[test]
    fn without_os_randomness_the_cache_stays_off() {
        let unkeyed = VerifiedTokens::keyed_by(8, |_| Err(getrandom::Error::UNSUPPORTED));
        assert!(unkeyed.lookup(TOKEN).is_none());
        unkeyed.remember(1, [0; 32]);
        assert_eq!(unkeyed.len(), 0);

        let keyed = VerifiedTokens::keyed_by(8, |key| {
            key.fill(7);
            Ok(())
        });
        let digest = keyed.lookup(TOKEN).expect("keyed: on").digest();
        keyed.remember(digest, [0; 32]);
        assert_eq!(keyed.len(), 1);
        assert!(
            VerifiedTokens::new(0).lookup(TOKEN).is_none(),
            "size 0: off"
        );
    }
}
