//! `authorizer serve` and `authorizer token`: the whole API Gateway flow on one machine.
//!
//! `serve` runs a gateway emulator in front of the tutorial's PetStore API that does what API
//! Gateway does with a Lambda TOKEN authorizer, calling the same [`Authorizer`] as the Lambda
//! function in-process; an authorizer result cache like API Gateway's; an embedded development
//! issuer when no issuer is configured; and an admin listener with `/healthz` and `/metrics`.
//!
//! - [`gateway`]: identity source, token regex, cache, policy evaluation, the gateway's answers.
//! - `cache`: the authorizer result cache. `iam`: the policy as IAM evaluates it.
//! - [`pets`]: the backend. [`dev_issuer`]: the embedded issuer and token minting.
//! - `admin`: `/healthz` and `/metrics`. `server`: the listeners, limits and graceful shutdown.
//! - `oauth`: the embedded issuer's token, introspection and revocation endpoints (`--introspect`);
//!   `tokens`: what it remembers of the tokens it issued.
//!
//! Nothing here runs in Lambda: the module is behind the `local` feature.

mod admin;
mod banner;
mod cache;
pub mod dev_issuer;
pub mod gateway;
mod iam;
mod oauth;
pub mod pets;
mod sender;
mod server;
mod tokens;

pub use sender::{DpopKey, ProofArgs, SenderError, certificate_thumbprint, proof};
pub use server::{MAX_BODY_BYTES, MAX_HEADER_BYTES, MAX_HEADERS};

use crate::config::{Config, ConfigError};
use crate::fetcher::ClientError;
use crate::handler::Authorizer;
use crate::report::Trigger;
use axum::extract::DefaultBodyLimit;
use dev_issuer::{DEFAULT_AUDIENCE, DEFAULT_ISSUER, Documents, KeyOrigin, TokenSpec};
use regex::Regex;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Why `serve` or `token` could not start. Every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// `serve` cannot emulate the configured identity source.
    #[error("{0}")]
    IdentitySource(String),
    /// A listener's address is taken or not available.
    #[error(
        "cannot listen on {addr} for the {what}: {source} (is another `authorizer serve` running? choose another address with {flag})"
    )]
    Bind {
        /// `gateway` or `admin listener`.
        what: &'static str,
        /// The flag that sets the address.
        flag: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The issuer configuration from the environment is invalid.
    #[error("{0}\nRun `authorizer --help` for every variable.")]
    Config(#[from] ConfigError),
    /// The JWKS client could not be built.
    #[error("{0}")]
    Client(#[from] ClientError),
    /// The key file cannot be read or written.
    #[error("key file {}: {source}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key file is not an RSA private key.
    #[error("key file {}: {source} (use a file written by `authorizer serve --key FILE`)", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: crate::issuer::IssuerError,
    },
    /// Key generation failed.
    #[error("{0}")]
    Generate(crate::issuer::IssuerError),
    /// Token signing failed.
    #[error("{0}")]
    Sign(crate::issuer::IssuerError),
    /// The system's random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// A DPoP key, client certificate or proof argument cannot be used.
    #[error(transparent)]
    Sender(#[from] SenderError),
    /// `token --opaque` got no token from the embedded issuer's token endpoint.
    #[error("{0}")]
    TokenEndpoint(String),
    /// `INTROSPECTION_CLIENT_SECRET_ARN` cannot be read through the extension.
    #[error(transparent)]
    Extension(#[from] crate::introspection::extension::ExtensionError),
}

/// `authorizer serve`'s command line.
#[derive(Clone, Debug, clap::Args)]
pub struct ServeArgs {
    /// The gateway's address (port 0 picks a free port; the chosen one is printed).
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// The admin listener's address: GET /healthz and GET /metrics.
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub admin_listen: SocketAddr,
    /// The stage name in methodArns (`arn:aws:execute-api:local:000000000000:local-api/{stage}/...`);
    /// the API itself is served at the root, without a stage prefix.
    #[arg(long, default_value = "local", value_parser = parse_stage)]
    pub stage: String,
    /// The token validation regex, checked before the authorizer is called (mismatch: 401), e.g.
    /// the tutorial's '^Bearer [-0-9a-zA-z\.]*$'.
    #[arg(long, value_parser = parse_regex)]
    pub token_regex: Option<Regex>,
    /// The API Gateway to emulate: `rest` (a REST API with a TOKEN authorizer) or `http` (an HTTP
    /// API with a Lambda authorizer, payload 2.0: simple or policy answers per HTTP_API_RESPONSE,
    /// cached under the values of IDENTITY_SOURCE).
    #[arg(long, value_enum, default_value_t = gateway::Api::Rest)]
    pub api: gateway::Api,
    /// Authorizer result cache TTL in seconds, keyed by the identity source values (0 turns it off).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub cache_ttl: u64,
    /// The most tokens the result cache holds (oldest evicted first).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub cache_max_entries: u64,
    /// The embedded issuer's RSA private key (PEM). Created, mode 0600, if the file does not
    /// exist; share it with `authorizer token --key FILE`. Without it a key is generated per run.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Switch authorization off: every request goes straight to the backend (a load-test baseline).
    #[arg(long)]
    pub no_auth: bool,
    /// Opaque tokens and revocation: the embedded issuer answers POST /oauth/token, /oauth/introspect
    /// (RFC 7662) and /oauth/revoke (RFC 7009), and the authorizer introspects against it with
    /// INTROSPECT=opaque (INTROSPECT=always: JWTs too). Setting INTROSPECT does the same.
    #[arg(long)]
    pub introspect: bool,
}

/// The lifetime of the tokens `token` mints by default, and of the one `serve` prints.
pub const TOKEN_TTL_SECONDS: i64 = 3600;

/// `authorizer token`'s command line.
#[derive(Clone, Debug, clap::Args)]
pub struct TokenArgs {
    /// The RSA private key (PEM), as written by `authorizer serve --key FILE`; created there if missing.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// `iss`: the embedded issuer's URL, `http://127.0.0.1:PORT/` of the running `serve`.
    #[arg(long, default_value = DEFAULT_ISSUER)]
    pub iss: String,
    /// `aud`, repeatable or comma-separated.
    #[arg(long, env = "AUDIENCE", value_delimiter = ',', default_value = DEFAULT_AUDIENCE)]
    pub aud: Vec<String>,
    /// `sub`.
    #[arg(long, default_value = "dev-user")]
    pub sub: String,
    /// `scope`, space-separated ("" for none).
    #[arg(long, default_value = "read:pets")]
    pub scope: String,
    /// Lifetime in seconds (negative: an already expired token).
    #[arg(long, default_value_t = TOKEN_TTL_SECONDS, allow_negative_numbers = true)]
    pub ttl: i64,
    /// The `kid` header (default: the key's own, as `serve` publishes it).
    #[arg(long)]
    pub kid: Option<String>,
    /// Another claim, `NAME=VALUE` (repeatable): JSON when it parses as JSON, else a string, as
    /// in `--claim groups='["admins"]' --claim email=ann@example.com`.
    #[arg(long = "claim", value_name = "NAME=VALUE", value_parser = dev_issuer::parse_claim)]
    pub claims: Vec<(String, serde_json::Value)>,
    /// Bind the tokens to this DPoP key (`cnf.jkt`, its RFC 7638 thumbprint; RFC 9449 §6.1): an EC
    /// P-256 private key (PKCS#8 PEM), created (mode 0600) if missing. Make proofs with
    /// `authorizer proof --key FILE`.
    #[arg(long, value_name = "FILE", conflicts_with = "client_cert")]
    pub dpop_key: Option<PathBuf>,
    /// Bind the tokens to this client certificate (`cnf["x5t#S256"]`, the base64url SHA-256 of
    /// its DER; RFC 8705 §3.1), PEM.
    #[arg(long, value_name = "CERT.pem", visible_alias = "cnf-x5t")]
    pub client_cert: Option<PathBuf>,
    /// Mint N distinct tokens, one per line (e.g. for k6).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub count: u64,
    /// Opaque tokens instead of JWTs: random strings the running `serve --introspect` at --iss
    /// issues and remembers (its POST /oauth/token, as the dev client of --key).
    #[arg(long, conflicts_with = "kid")]
    pub opaque: bool,
}

fn parse_stage(value: &str) -> Result<String, String> {
    let valid = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(value.to_owned())
    } else {
        Err("use letters, digits, `-` and `_` (API Gateway stage names)".to_owned())
    }
}

fn parse_regex(value: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(value)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| e.to_string())
}

/// Mints the tokens `authorizer token` asks for and writes them to `out`, one per line.
///
/// # Errors
/// [`LocalError`] when the key cannot be read or a token cannot be signed.
pub async fn token(args: &TokenArgs, out: &mut impl Write) -> Result<(), LocalError> {
    if !args.key.exists() {
        // A new issuer key, as `serve --key FILE` would make it (mode 0600, thumbprint kid).
        dev_issuer::load_or_generate(Some(&args.key))?;
        eprintln!(
            "authorizer token: wrote a new issuer key to {}",
            args.key.display()
        );
    }
    let key = dev_issuer::load_key(&args.key, args.kid.as_deref())?;
    let mut extra = args.claims.clone();
    let binds = args.dpop_key.is_some() || args.client_cert.is_some();
    if binds && extra.iter().any(|(name, _)| name == "cnf") {
        return Err(SenderError::TwoBindings.into());
    }
    if let Some(cnf) = sender::confirmation(args.dpop_key.as_deref(), args.client_cert.as_deref())?
    {
        extra.push(("cnf".to_owned(), cnf));
    }
    if args.opaque {
        // The issuer answers `cnf` in introspection too (RFC 9449 §6.2, RFC 8705 §3.2).
        return oauth::request_tokens(args, &extra, &key, out).await;
    }
    let spec = TokenSpec {
        issuer: args.iss.clone(),
        audiences: args.aud.clone(),
        subject: args.sub.clone(),
        scope: args.scope.clone(),
        ttl_seconds: args.ttl,
        extra,
    };
    for _ in 0..args.count {
        let token = dev_issuer::mint(&key, &spec)?;
        // A closed pipe (`| head`) ends the output early; that is not an error.
        if writeln!(out, "{token}").is_err() {
            break;
        }
    }
    Ok(())
}

/// Runs `authorizer serve` until SIGINT or SIGTERM, reading the issuer configuration from the
/// process environment.
///
/// # Errors
/// [`LocalError`] when a port is taken, the configuration is invalid or the key cannot be used.
pub async fn serve(args: ServeArgs) -> Result<(), LocalError> {
    serve_with_env(args, |name| std::env::var(name).ok()).await
}

/// [`serve`] with the configuration read from `env`.
///
/// # Errors
/// As [`serve`].
pub async fn serve_with_env(
    args: ServeArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(), LocalError> {
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let listener = bind(args.listen, "gateway", "--listen").await?;
    let admin_listener = bind(args.admin_listen, "admin listener", "--admin-listen").await?;
    let local = listener.local_addr().unwrap_or(args.listen);
    let admin_addr = admin_listener.local_addr().unwrap_or(args.admin_listen);
    let base = http_base(local);

    // Which issuer: none, the embedded one, or the one the environment names.
    let embedded = !args.no_auth
        && ["TOKEN_ISSUER", "JWKS_URI", "CONFIG_FILE"]
            .iter()
            .all(|name| env(name).is_none());
    let mut dev = None;
    let authorizer = if args.no_auth {
        None
    } else if embedded {
        let (key, origin) = dev_issuer::load_or_generate(args.key.as_deref())?;
        let issuer = format!("{base}/");
        let jwks_uri = format!("{base}{}", dev_issuer::JWKS_PATH);
        let introspecting = oauth::Introspecting::new(args.introspect, env("INTROSPECT"), &key);
        let config = Config::from_lookup(|name| match name {
            "TOKEN_ISSUER" => Some(issuer.clone()),
            "JWKS_URI" => Some(jwks_uri.clone()),
            "AUDIENCE" => Some(env("AUDIENCE").unwrap_or_else(|| DEFAULT_AUDIENCE.to_owned())),
            other => match introspecting.as_ref().and_then(|i| i.variable(other)) {
                Some(value) => value,
                None => env(other),
            },
        })?;
        let audience = config.issuers[0].audiences.first();
        let oauth = introspecting
            .map(|_| oauth::Oauth::new(&key, &issuer, audience.map_or(DEFAULT_AUDIENCE, |a| a)))
            .transpose()?
            .map(Arc::new);
        dev = Some((key, origin, issuer, oauth));
        Some(config)
    } else {
        Some(Config::from_lookup(env)?)
    };
    // The Prometheus recorder (if installed) gets its handles once the issuers are known.
    let metrics = match &authorizer {
        Some(config) => {
            crate::metrics::install_handles(&config.issuer_names(), &config.cedar_policy_ids())
        }
        None => crate::metrics::install_handles(&[], &[]),
    };
    crate::metrics::record_init(Duration::ZERO);
    let authorizer = match authorizer {
        Some(mut config) => Some(Arc::new(Authorizer::with_observer(
            {
                crate::introspection::extension::resolve(&mut config, &env).await?;
                config
            },
            Arc::new(metrics),
        )?)),
        None => None,
    };

    // API Gateway's cache keeps a policy for every route of the API; one for the called method
    // only (POLICY_RESOURCE=method) then answers every other route with 403 until the TTL ends.
    if let Some(authorizer) = &authorizer
        && authorizer.config().resource_mode == crate::policy::ResourceMode::Method
        && args.cache_ttl > 0
    {
        tracing::warn!(
            cache_ttl_seconds = args.cache_ttl,
            "POLICY_RESOURCE=method with the result cache on: a token's cached policy allows only \
             the route it first called, and its other routes get 403 from the cache until the TTL \
             ends; use POLICY_RESOURCE=stage, or --cache-ttl 0"
        );
    }

    if let Some(authorizer) = &authorizer
        && args.api == gateway::Api::Http
    {
        gateway::Gateway::check_identity_source(&authorizer.config().identity_source)
            .map_err(LocalError::IdentitySource)?;
    }
    let counters = Arc::new(gateway::Counters::default());
    let gateway = Arc::new(gateway::Gateway {
        authorizer: authorizer.clone(),
        api: args.api,
        token_regex: args.token_regex.clone(),
        cache: cache::AuthCache::new(
            Duration::from_secs(args.cache_ttl),
            usize::try_from(args.cache_max_entries).unwrap_or(usize::MAX),
            cache::MAX_CACHE_BYTES,
        ),
        arn_prefix: format!("{}/{}/", gateway::ARN_API, args.stage),
        stage: args.stage.clone(),
        counters: counters.clone(),
    });
    let guard_state = gateway.clone();
    let mut app = pets::routes(Arc::new(pets::Pets::new()), move |route| {
        route
            .route_layer(axum::middleware::from_fn_with_state(
                guard_state.clone(),
                gateway::authorize,
            ))
            .fallback(gateway::missing_route)
    });
    if let Some((key, _, issuer, oauth)) = &dev {
        let endpoints = oauth.as_ref().map(|_| oauth::metadata(&base));
        app = app.merge(dev_issuer::routes(Arc::new(Documents::new(
            key, issuer, endpoints,
        ))));
        if let Some(oauth) = oauth {
            app = app.merge(oauth::routes(oauth.clone()));
        }
    }
    let app = app
        .fallback(gateway::missing_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(server::access_log));
    let admin_app = admin::routes(Arc::new(admin::Admin {
        authorizer: authorizer.clone(),
        auth_mode: match (&authorizer, embedded) {
            (None, _) => "off",
            (Some(_), true) => "embedded",
            (Some(_), false) => "external",
        },
        counters,
        gateway: gateway.clone(),
    }));

    // Before the first request can be answered: a signal from then on stops us gracefully.
    let shutdown = server::shutdown_signal();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let servers = [
        tokio::spawn(server::run(listener, app, stopped.clone())),
        tokio::spawn(server::run(admin_listener, admin_app, stopped)),
    ];

    // Like Lambda's init: fetch the keys now (the embedded issuer's come from our own listener,
    // which is already serving), then keep them fresh in the background.
    let refreshers = match &authorizer {
        Some(authorizer) => {
            authorizer.refresh_keys(Trigger::Init).await;
            authorizer.spawn_refreshers()
        }
        None => Vec::new(),
    };

    banner::print_banner(
        &args,
        &base,
        admin_addr,
        authorizer.as_deref(),
        dev.as_ref(),
    )?;

    shutdown.await;
    tracing::info!("shutting down: finishing requests in flight");
    let _ = stop.send(true);
    for server in servers {
        let _ = server.await;
    }
    for refresher in refreshers {
        refresher.abort();
    }
    Ok(())
}

async fn bind(
    addr: SocketAddr,
    what: &'static str,
    flag: &'static str,
) -> Result<TcpListener, LocalError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| LocalError::Bind {
            what,
            flag,
            addr,
            source,
        })
}

/// `http://HOST:PORT` for a bound address; an unspecified address (`0.0.0.0`) is reached on loopback.
fn http_base(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// The embedded issuer: its key, where the key came from, its URL, and its OAuth endpoints.
type DevIssuer = (
    crate::issuer::SigningKey,
    KeyOrigin,
    String,
    Option<Arc<oauth::Oauth>>,
);
