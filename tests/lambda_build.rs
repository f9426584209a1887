//! The Lambda artifact carries only what Lambda runs: built without the `local` feature (as
//! `cargo lambda build` and `sam build` build it), the binary has no `serve`, `token` or `proof`
//! subcommand, and neither the local gateway's code nor the development issuer's is in it.
//!
//! Runs in CI's `--no-default-features` pass; a build with `local` has nothing to check here.
#![cfg(not(feature = "local"))]

use std::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_authorizer");

#[test]
fn the_lambda_build_has_no_serve_or_token_subcommand() {
    for subcommand in ["serve", "token", "proof"] {
        let out = Command::new(BINARY)
            .args([subcommand, "--help"])
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains("unrecognized subcommand"),
            "`authorizer {subcommand}` in the Lambda build: {stderr}"
        );
    }
}

#[test]
fn the_lambda_binary_holds_no_gateway_or_development_issuer_code() {
    let binary = std::fs::read(BINARY).expect("the binary is readable");
    let holds = |text: &str| binary.windows(text.len()).any(|w| w == text.as_bytes());
    // Text that only the code it names carries: a metric of the local gateway's admin listener,
    // and an error of the development issuer's key loading.
    for (text, code) in [
        ("gateway_requests_total", "the local gateway (src/local)"),
        (
            "not a PKCS#8 PEM private key",
            "the development issuer (src/issuer.rs)",
        ),
    ] {
        assert!(!holds(text), "{code} is in the Lambda binary");
    }
    // The search itself finds what is there: a refusal reason every build has.
    assert!(holds("unsafe_cache_key"));
}
