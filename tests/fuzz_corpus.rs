//! The committed fuzz corpora (`fuzz/seeds/TARGET/*`, the regression inputs of past findings
//! among them) replayed through the fuzz targets' own checks (`fuzz/src/lib.rs`, which the
//! `fuzz_targets/*.rs` of cargo-fuzz call), on stable Rust: a fixed crash stays fixed without
//! nightly tooling, in every `cargo test`.

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod fuzz;

use std::path::PathBuf;

/// Every input of `fuzz/seeds/{target}`, by file name.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

/// Runs `check` on every seed of `target`, naming the seed that fails.
fn replay(target: &str, check: fn(&[u8])) {
    for (name, input) in seeds(target) {
        if let Err(panic) = std::panic::catch_unwind(|| check(&input)) {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            panic!("fuzz/seeds/{target}/{name}: {why}");
        }
    }
}

#[test]
fn the_token_seeds_pass_the_token_target() {
    replay("token", fuzz::check_token);
}

#[test]
fn the_event_seeds_pass_the_event_target() {
    replay("event", fuzz::check_event);
}

#[test]
fn the_jwks_seeds_pass_the_jwks_target() {
    replay("jwks", fuzz::check_jwks);
}

#[test]
fn the_pipeline_seeds_pass_the_pipeline_target() {
    replay("pipeline", fuzz::check_pipeline);
}

#[test]
fn the_claims_seeds_pass_the_claims_target() {
    replay("claims", fuzz::check_claims);
}

/// The seeds are not all refusals: the valid ones reach an Allow, so the oracles above are
/// exercised on both sides.
#[test]
fn the_valid_seeds_are_allowed() {
    use jwt_authorizer::Outcome;
    for (name, input) in seeds("pipeline")
        .into_iter()
        .filter(|(name, _)| name.ends_with("-valid"))
    {
        let (decision, _) = fuzz::rsa_fixture().authorize(&input);
        assert_eq!(
            decision.outcome,
            Outcome::Allow,
            "pipeline/{name}: {decision:?}"
        );
    }
}
