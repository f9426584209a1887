//! The JWKS parser: a document the issuer (or whoever answers at its URL) controls.
#![no_main]

use jwt_authorizer::{Algorithm, KeySet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for allowed in [&Algorithm::ALL[..1], &Algorithm::ALL[..]] {
        let Ok((keys, _skipped)) = KeySet::from_jwks(data, allowed) else {
            continue;
        };
        assert!(!keys.is_empty(), "an accepted key set holds a key");
        for kid in keys.kids() {
            assert!(!kid.is_empty(), "every key has a kid");
            let key = keys.find(kid).expect("a listed kid is found");
            assert!(key.algorithms().count() > 0);
            assert!(
                key.algorithms().all(|a| allowed.contains(&a)),
                "a key verifies only allowed algorithms"
            );
        }
    }
});
