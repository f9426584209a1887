//! Building an authorizer from its configuration: a key store per issuer (its `JWKS_FILE`
//! preloaded), the claim rules, the introspector, and what the binary wires in.

use super::{Authorizer, TrustedIssuer};
use crate::algorithm::Algorithm;
use crate::binding::SenderChecks;
use crate::claims::IssuerRules;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::fetcher::{ClientError, Fetcher};
use crate::introspection;
use crate::refresher::{KeyStore, Schedule};
use crate::report::{Observer, Unobserved};
use crate::verified::VerifiedTokens;
use std::sync::Arc;

/// What the binary, or a test, plugs into an [`Authorizer`]: who hears of what happened, and the
/// clock of key refresh intervals, cooldowns and caches.
#[derive(Clone)]
pub struct Wiring {
    /// Told of every decision, key refresh and introspection call (metrics).
    pub observer: Arc<dyn Observer>,
    /// Read for intervals and cache lifetimes (token times come as `authorize_at`'s `now`).
    pub clock: Arc<dyn Clock>,
}

impl Default for Wiring {
    fn default() -> Self {
        Wiring {
            observer: Arc::new(Unobserved),
            clock: Arc::new(SystemClock),
        }
    }
}

impl Authorizer {
    /// An authorizer with a key store per issuer, each empty until refreshed (see
    /// [`Authorizer::refresh_keys`]) or until the first token asks for a key.
    ///
    /// # Errors
    /// [`ClientError`] when the HTTP client for the JWKS cannot be built.
    pub fn from_config(config: Config) -> Result<Self, ClientError> {
        Self::with_observer(config, Arc::new(Unobserved))
    }

    /// As [`Authorizer::from_config`], reporting every decision and every key refresh to
    /// `observer` (the binary's metrics sinks).
    ///
    /// # Errors
    /// [`ClientError`] when the HTTP client for the JWKS cannot be built.
    pub fn with_observer(config: Config, observer: Arc<dyn Observer>) -> Result<Self, ClientError> {
        let wiring = Wiring {
            observer,
            ..Wiring::default()
        };
        Self::wired(config, wiring)
    }

    /// As [`Authorizer::from_config`], with what `wiring` plugs in.
    ///
    /// # Errors
    /// [`ClientError`] when the HTTP client for the JWKS cannot be built.
    pub fn wired(config: Config, wiring: Wiring) -> Result<Self, ClientError> {
        let Wiring { observer, clock } = wiring;
        let client = Fetcher::client(&config.transport)?;
        let rules = config.claim_rules();
        let issuers: Vec<TrustedIssuer> = config
            .issuers
            .iter()
            .enumerate()
            .map(|(index, issuer)| {
                let fetcher = Fetcher::new(client.clone(), &config.transport, issuer);
                let keys = KeyStore::new(fetcher, Schedule::for_issuer(issuer))
                    .for_issuer(index, &issuer.name)
                    .with_observer(observer.clone())
                    .with_clock(clock.clone());
                TrustedIssuer {
                    name: issuer.name.clone(),
                    issuer: issuer.issuer.clone(),
                    algorithms: issuer.algorithms.clone(),
                    rules: IssuerRules::new(index, issuer.claim_rules(), &rules.captured),
                    keys: Arc::new(keys),
                }
            })
            .collect();
        let mut algorithms: Vec<Algorithm> = Vec::new();
        for alg in config.issuers.iter().flat_map(|i| &i.algorithms) {
            if !algorithms.contains(alg) {
                algorithms.push(*alg);
            }
        }
        preload_jwks_files(&issuers, &config)?;
        if let Some(warning) = config.sender_constraint_cache_warning() {
            tracing::warn!("{warning}");
        }
        let introspector = introspection::for_config(&config, observer.clone(), clock)?;
        Ok(Authorizer {
            introspector,
            rules,
            issuers,
            algorithms,
            verified: VerifiedTokens::new(config.verified_token_cache_size),
            senders: SenderChecks::new(config.dpop_replay_cache_size, config.dpop_proof_max_age),
            config: Arc::new(config),
            observer,
        })
    }
}

/// Loads each issuer's `JWKS_FILE` into its key store (issue 16: no fetch on the cold path).
fn preload_jwks_files(issuers: &[TrustedIssuer], config: &Config) -> Result<(), ClientError> {
    for (issuer, settings) in issuers.iter().zip(&config.issuers) {
        let Some(path) = &settings.jwks_file else {
            continue;
        };
        let (keys, skipped) = crate::keyset::KeySet::from_jwks_file(path, &settings.algorithms)
            .map_err(|why| ClientError::JwksFile {
                path: path.display().to_string(),
                why,
            })?;
        for skipped in &skipped {
            tracing::warn!(
                issuer = issuer.name(),
                kid = skipped.kid.as_deref(),
                why = skipped.why,
                "JWKS_FILE key not used"
            );
        }
        tracing::info!(
            issuer = issuer.name(),
            keys = keys.len(),
            "JWKS loaded from JWKS_FILE"
        );
        issuer.keys.preload(keys);
    }
    Ok(())
}
