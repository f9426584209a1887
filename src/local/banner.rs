//! What `serve` prints at start: where things listen, the issuer in use, and what to try with
//! curl.

use super::dev_issuer::{self, KeyOrigin, TokenSpec};
use super::{DevIssuer, LocalError, ServeArgs, TOKEN_TTL_SECONDS, gateway, http_base, oauth};
use crate::handler::Authorizer;
use regex::Regex;
use std::io::Write;
use std::net::SocketAddr;

/// The lines a user (and the tests) read at start: where things listen, and what to try.
pub(super) fn print_banner(
    args: &ServeArgs,
    base: &str,
    admin: SocketAddr,
    authorizer: Option<&Authorizer>,
    dev: Option<&DevIssuer>,
) -> Result<(), LocalError> {
    let mut out = String::new();
    let stage_arn = format!("{}/{}/{{METHOD}}/{{path}}", gateway::ARN_API, args.stage);
    out.push_str(&format!(
        "listening on {base} (PetStore API: GET /pets, GET /pets/{{petId}}, POST /pets; methodArn {stage_arn})\n"
    ));
    out.push_str(&format!(
        "admin on {} (GET /healthz, GET /metrics)\n",
        http_base(admin)
    ));
    match (authorizer, dev) {
        (None, _) => {
            out.push_str("authorization off (--no-auth): every request reaches the backend\n")
        }
        (Some(authorizer), Some((key, origin, issuer, oauth))) => {
            let config = authorizer.config();
            let audiences = &config.issuers[0].audiences;
            let keep = match (origin, &args.key) {
                (KeyOrigin::Generated, _) => {
                    " (generated for this run; pass --key dev-key.pem to keep it and mint more tokens)"
                        .to_owned()
                }
                (KeyOrigin::Written, Some(path)) => {
                    format!(" (generated and written to {})", path.display())
                }
                (_, Some(path)) => format!(" (from {})", path.display()),
                (_, None) => String::new(),
            };
            out.push_str(&format!(
                "issuer {issuer} (embedded) kid {}{keep}\naudience {}\n",
                key.kid(),
                audiences.join(","),
            ));
            let spec = TokenSpec {
                issuer: issuer.clone(),
                audiences: audiences.first().cloned().into_iter().collect(),
                subject: "dev-user".to_owned(),
                scope: "read:pets".to_owned(),
                ttl_seconds: TOKEN_TTL_SECONDS,
                extra: Vec::new(),
            };
            let token = dev_issuer::mint(key, &spec)?;
            let pets = format!("{base}/pets");
            // What the printed token gets on each route under the configured scope rules.
            let scopes = crate::claims::Scopes::Words(spec.scope.as_str().into());
            let expect = |method: &str, path: &str, ok: &'static str| {
                let grant = crate::policy::Grant {
                    principal: &spec.subject,
                    arn: crate::MethodArn {
                        full: "",
                        api: "",
                        stage: "",
                        method,
                        path,
                    },
                    route: None,
                    issuer: authorizer.issuers()[0].name(),
                    scope: Some(&scopes),
                    usage_identifier: None,
                    context: &[],
                    claims: &[],
                };
                if grant.denies_called_route(&config.route_rules) {
                    "403: ROUTE_SCOPES"
                } else {
                    ok
                }
            };
            let bearer = "-H \"Authorization: Bearer $TOKEN\"";
            let tries = [
                (
                    format!("curl -i {pets} {bearer}"),
                    expect("GET", "pets", "200"),
                ),
                (
                    format!("curl -i {pets}/1 {bearer}"),
                    expect("GET", "pets/1", "200"),
                ),
                (format!("curl -i {pets}"), "401: no token"),
                (
                    format!("curl -i {pets} -H \"Authorization: Bearer not.a.token\""),
                    "401: bad token",
                ),
                (
                    format!(
                        "curl -i -X POST {pets} {bearer} -d '{{\"type\":\"cat\",\"price\":12.5}}'"
                    ),
                    expect("POST", "pets", "200"),
                ),
            ];
            out.push_str(&format!(
                "\nA token (sub dev-user, scope \"read:pets\", valid {} h):\nexport TOKEN={token}\n\nTry:\n",
                TOKEN_TTL_SECONDS / 3600
            ));
            let width = tries.iter().map(|(line, _)| line.len()).max().unwrap_or(0);
            for (line, expected) in &tries {
                out.push_str(&format!("  {line:<width$}  # {expected}\n"));
            }
            if let Some(path) = &args.key {
                out.push_str(&format!(
                    "More tokens: {} token --key {} --iss {issuer} --scope \"read:pets write:pets\"\n",
                    own_command(),
                    path.display()
                ));
            }
            if let Some(oauth) = oauth {
                let settings = &config.issuers[0].introspection;
                let expect_pets = expect("GET", "pets", "200");
                out.push_str(&oauth::banner(
                    oauth,
                    &spec,
                    base,
                    expect_pets,
                    settings,
                    args,
                    &own_command(),
                )?);
            }
        }
        (Some(authorizer), None) => {
            for issuer in &authorizer.config().issuers {
                out.push_str(&format!(
                    "issuer {} ({}, external) audience {}\n",
                    issuer.issuer,
                    issuer.name,
                    issuer.audiences.join(","),
                ));
            }
            out.push_str(&format!(
                "Send their tokens: curl -i {base}/pets -H \"Authorization: Bearer $TOKEN\"\n"
            ));
        }
    }
    let (api, key) = match (args.api, authorizer) {
        (gateway::Api::Rest, _) => ("REST API, TOKEN authorizer", "the token".to_owned()),
        (gateway::Api::Http, Some(authorizer)) => {
            let config = authorizer.config();
            let answers = match config.http_api_response {
                crate::config::HttpApiResponse::Simple => "HTTP API, simple responses",
                crate::config::HttpApiResponse::Policy => "HTTP API, policy responses",
            };
            (answers, config.identity_source.to_string())
        }
        (gateway::Api::Http, None) => ("HTTP API", "(none)".to_owned()),
    };
    out.push_str(&format!(
        "authorizer cache: {} ({api}); token regex: {}\n",
        if args.cache_ttl == 0 {
            "off".to_owned()
        } else {
            format!(
                "TTL {} s keyed by {key}, up to {} entries",
                args.cache_ttl, args.cache_max_entries
            )
        },
        args.token_regex.as_ref().map_or("(none)", Regex::as_str),
    ));
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    Ok(())
}

/// How the user runs this binary again: `authorizer` when that command on `PATH` is this very
/// file, otherwise the running binary's own path (a `cargo run` user has no `authorizer`).
fn own_command() -> String {
    let Ok(exe) = std::env::current_exe().and_then(std::fs::canonicalize) else {
        return "authorizer".to_owned();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            std::fs::canonicalize(dir.join("authorizer")).is_ok_and(|found| found == exe)
        })
    });
    if on_path {
        "authorizer".to_owned()
    } else {
        exe.display().to_string()
    }
}
