//! `authorizer`: the Lambda entry point and the command line around the library.

use clap::{Parser, Subcommand};
use jwt_authorizer::logging::{self, Decisions, Stream};
use jwt_authorizer::metrics::emf::EmfSink;
use jwt_authorizer::shutdown;
use jwt_authorizer::{
    Authorizer, Config, Observer, Outcome, Reject, UNAUTHORIZED, Unobserved, VARIABLES,
};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::value::RawValue;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "authorizer",
    version,
    about = "A JWT authorizer for AWS API Gateway (Lambda TOKEN, REQUEST and HTTP API authorizers).",
    long_about = None,
    after_help = variables_help(),
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run as the Lambda function (the default when AWS_LAMBDA_RUNTIME_API is set).
    Lambda,
    /// Run the handler once on an event, like Lambda would, and print the answer on stdout.
    ///
    /// Exit status: 0 with the response; 1 with {"errorType","errorMessage":"Unauthorized"}; 2 when
    /// it cannot run: a configuration error, or the event cannot be read. Logs go to stderr.
    Invoke {
        /// The event JSON file (`-` for stdin); samples are in events/.
        #[arg(long, short, default_value = "-")]
        event: PathBuf,
    },
    /// Run a local API Gateway in front of the PetStore example API, with an embedded issuer
    /// unless TOKEN_ISSUER or JWKS_URI is set. Stops on Ctrl-C or SIGTERM.
    #[cfg(feature = "local")]
    Serve(jwt_authorizer::local::ServeArgs),
    /// Mint tokens for `serve`'s embedded issuer, one per line on stdout.
    #[cfg(feature = "local")]
    Token(jwt_authorizer::local::TokenArgs),
    /// Print a DPoP proof (RFC 9449) for one request, made with a key of `token --dpop-key FILE`:
    /// send it as the `DPoP` header beside `Authorization: DPoP <token>`. A proof is good once.
    #[cfg(feature = "local")]
    Proof(jwt_authorizer::local::ProofArgs),
    /// The CloudWatch dashboard (dashboards/cloudwatch.json): print it, or put it in your account.
    #[command(subcommand)]
    Dashboards(Dashboards),
    /// Cedar policies (CEDAR_POLICIES and the variables `serve` and Lambda read): check them, or
    /// explain a token's decisions.
    #[cfg(feature = "cedar")]
    #[command(subcommand)]
    Policy(Policy),
}

#[cfg(feature = "cedar")]
#[derive(Subcommand)]
enum Policy {
    /// Validate the policies against the schema and lint the routes (no policy permits it, no
    /// schema action, answers a cached policy may get wrong). Exit status 0 when valid, 2 if not.
    Check,
    /// For every route: allow or deny, and the ids of the policies that decided.
    Explain {
        /// A token whose claims to explain (read, not verified: a debugging aid).
        #[arg(long, required_unless_present = "claims", conflicts_with = "claims")]
        token: Option<String>,
        /// A JSON file of claims (`iss` picks the issuer; the first one without it).
        #[arg(long, value_name = "FILE")]
        claims: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum Dashboards {
    /// Print the CloudWatch dashboard body for these parameters.
    Render(DashboardArgs),
    /// Put the dashboard with PutDashboard (standard AWS credential chain; AWS_ENDPOINT_URL is
    /// honoured). Needs a build with `--features dashboards`.
    Deploy {
        #[command(flatten)]
        params: DashboardArgs,
        /// The dashboard's name.
        #[arg(long)]
        name: String,
    },
}

#[derive(clap::Args)]
struct DashboardArgs {
    /// The authorizer's Lambda function name.
    #[arg(long)]
    function: String,
    /// The REST API's name (AWS/ApiGateway ApiName).
    #[arg(long)]
    api: String,
    /// The API stage.
    #[arg(long)]
    stage: String,
    /// The region of the function and the API.
    #[arg(long)]
    region: String,
    /// The EMF namespace (METRICS_NAMESPACE).
    #[arg(long, default_value = "JwtAuthorizer")]
    namespace: String,
    /// The `service` dimension (METRICS_SERVICE); default: the function name.
    #[arg(long)]
    service: Option<String>,
}

impl DashboardArgs {
    fn render(self) -> Result<String, ExitCode> {
        let params = jwt_authorizer::metrics::DashboardParams {
            service: self.service.unwrap_or_else(|| self.function.clone()),
            function: self.function,
            api: self.api,
            stage: self.stage,
            region: self.region,
            namespace: self.namespace,
        };
        jwt_authorizer::metrics::render_cloudwatch_dashboard(&params).map_err(|e| {
            eprintln!("authorizer dashboards: {e}");
            ExitCode::from(2)
        })
    }
}

/// The variable table: each name and default on one line, its meaning below with a hanging
/// indent, wrapped to 80 columns (clap does not wrap `after_help` text for us).
fn variables_help() -> String {
    const WIDTH: usize = 80;
    const INDENT: &str = "      ";
    let mut help = String::from("Environment variables:\n");
    for (name, default, meaning) in VARIABLES
        .iter()
        .chain(&jwt_authorizer::metrics::emf::VARIABLES)
    {
        help.push_str(&format!("  {name:<34} {default}\n"));
        let mut line = String::from(INDENT);
        for word in meaning.split_whitespace() {
            if line.len() > INDENT.len() && line.len() + 1 + word.len() > WIDTH {
                help.push_str(&line);
                help.push('\n');
                line.truncate(INDENT.len());
            }
            if line.len() > INDENT.len() {
                line.push(' ');
            }
            line.push_str(word);
        }
        help.push_str(&line);
        help.push('\n');
    }
    help
}

fn main() -> ExitCode {
    let started = Instant::now();
    let cli = Cli::parse();
    let command = match cli.command {
        Some(command) => command,
        None if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => Command::Lambda,
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            return ExitCode::from(2);
        }
    };
    // Lambda sends one invocation at a time: a multi-threaded runtime only adds wake-ups and
    // hand-offs between threads to each (measured in benches/lambda_floor.rs). `serve` takes
    // concurrent connections.
    let mut runtime = match &command {
        #[cfg(feature = "local")]
        Command::Serve(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = runtime
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    runtime.block_on(async {
        match command {
            Command::Lambda => run_lambda(started).await,
            Command::Invoke { event } => invoke(&event).await,
            #[cfg(feature = "local")]
            Command::Serve(args) => serve(args).await,
            #[cfg(feature = "local")]
            Command::Token(args) => token(&args).await,
            #[cfg(feature = "local")]
            Command::Proof(args) => proof(&args),
            Command::Dashboards(command) => dashboards(command).await,
            #[cfg(feature = "cedar")]
            Command::Policy(command) => policy(command),
        }
    })
}

/// Loads the configuration and builds the authorizer, reporting to the observer that `observe`
/// makes for the configuration, or explains why not (exit status 2).
async fn build_authorizer(
    observe: impl FnOnce(&Config) -> Arc<dyn Observer>,
) -> Result<Arc<Authorizer>, ExitCode> {
    let mut config = Config::from_env().map_err(|e| {
        eprintln!("authorizer: {e}\nRun `authorizer --help` for every variable.");
        ExitCode::from(2)
    })?;
    // INTROSPECTION_CLIENT_SECRET_ARN: read once, at init, through the Lambda extension.
    jwt_authorizer::introspection::extension::resolve(&mut config, |name| std::env::var(name).ok())
        .await
        .map_err(|e| {
            eprintln!("authorizer: {e}");
            ExitCode::from(2)
        })?;
    let observer = observe(&config);
    let authorizer = Authorizer::with_observer(config, observer).map_err(|e| {
        eprintln!("authorizer: {e}");
        ExitCode::from(2)
    })?;
    Ok(Arc::new(authorizer))
}

async fn run_lambda(started: Instant) -> ExitCode {
    logging::init(Stream::Stdout, Decisions::Refusals);
    let emf = match jwt_authorizer::metrics::emf::EmfConfig::from_env() {
        Ok(config) => config,
        Err(problems) => {
            for problem in problems {
                eprintln!("authorizer: {problem}");
            }
            return ExitCode::from(2);
        }
    };
    // Before anything is recorded: the handles are registered against this recorder, once.
    let emf = match jwt_authorizer::metrics::emf::install(emf) {
        Ok(sink) => Arc::new(sink),
        Err(e) => {
            eprintln!("authorizer: {e}");
            return ExitCode::from(2);
        }
    };
    // The handles are registered against the EMF recorder, once, for the configured issuers.
    let authorizer = match build_authorizer(|config| {
        Arc::new(jwt_authorizer::metrics::install_handles(
            &config.issuer_names(),
            &config.cedar_policy_ids(),
        ))
    })
    .await
    {
        Ok(authorizer) => authorizer,
        Err(code) => return code,
    };
    if !emf.config().flush_interval.is_zero() {
        // A metrics window is pending between flushes: have Lambda say when it retires us.
        watch_for_shutdown(&emf, &authorizer).await;
    }
    // Init has spare CPU: fetch the keys now (unless JWKS_FILE gave them: then in the
    // background), but never fail init because an issuer is down.
    authorizer.refresh_keys_at_init().await;
    authorizer.spawn_refreshers();
    // Reported with the first window's metrics, as Powertools reports ColdStart.
    jwt_authorizer::metrics::record_init(started.elapsed());
    let handler = {
        let (authorizer, emf) = (authorizer.clone(), emf.clone());
        service_fn(move |event: LambdaEvent<Box<RawValue>>| {
            let authorizer = authorizer.clone();
            let emf = emf.clone();
            async move {
                emf.before_invocation(|| authorizer.observe_keys());
                let mut out = Vec::with_capacity(512);
                let decision = logging::REQUEST_ID
                    .scope(
                        event.context.request_id.clone(),
                        authorizer.authorize(event.payload.get().as_bytes(), &mut out),
                    )
                    .await;
                emf.after_invocation(&event.context.request_id, || authorizer.observe_keys());
                match decision.outcome {
                    Outcome::Unauthorized => Err(decision.reject.unwrap_or(Reject::Malformed)),
                    Outcome::Allow | Outcome::Deny => Ok(answer(out)),
                }
            }
        })
    };
    // Without `lambda_runtime::run`'s tracing layer: a span per invocation costs more than the
    // authorization of a cached token (see `logging`); the lines we write carry the request id.
    let stopped = lambda_runtime::Runtime::new(handler).run().await;
    // The loop ended (the Runtime API went away): write what is pending before exiting.
    emf.shutdown(|| authorizer.observe_keys());
    match stopped {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}

/// Registers the internal extension that makes Lambda send SIGTERM before it retires this
/// environment, and writes the pending metrics window then. Without it (an emulator without the
/// Extensions API) the authorizer still serves; the last window is lost.
async fn watch_for_shutdown(emf: &Arc<EmfSink>, authorizer: &Arc<Authorizer>) {
    let (emf, authorizer) = (emf.clone(), authorizer.clone());
    let watching = shutdown::on_termination(move || emf.shutdown(|| authorizer.observe_keys()));
    if let Err(error) = watching {
        tracing::warn!(%error, "cannot watch for SIGTERM: the last metrics window may be lost");
        return;
    }
    if let Err(error) = shutdown::register_extension().await {
        tracing::warn!(%error, "no shutdown signal from Lambda: the last metrics window may be lost");
    }
}

/// `authorizer policy check` and `authorizer policy explain`.
#[cfg(feature = "cedar")]
fn policy(command: Policy) -> ExitCode {
    use jwt_authorizer::cedar::model::TokenClaims;
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("authorizer policy: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(engine) = config.cedar.clone() else {
        eprintln!(
            "authorizer policy: CEDAR_POLICIES is not set (nor a [cedar] table in CONFIG_FILE)"
        );
        return ExitCode::from(2);
    };
    match command {
        Policy::Check => {
            println!(
                "{} policies valid, {} routes",
                engine.policy_count(),
                engine.routes().list().len()
            );
            for warning in engine.warnings() {
                println!("warning: {warning}");
            }
            ExitCode::SUCCESS
        }
        Policy::Explain { token, claims } => {
            let payload = match (token, claims) {
                (Some(token), _) => {
                    use base64::Engine as _;
                    let token = token.strip_prefix("Bearer ").unwrap_or(&token);
                    let payload = token.split('.').nth(1).unwrap_or_default();
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(payload)
                        .unwrap_or_default()
                }
                (None, Some(path)) => std::fs::read(&path).unwrap_or_else(|e| {
                    eprintln!("authorizer policy explain: {}: {e}", path.display());
                    Vec::new()
                }),
                (None, None) => Vec::new(),
            };
            let Ok(claims) = TokenClaims::parse(&payload) else {
                eprintln!(
                    "authorizer policy explain: the claims are not a JSON object (each member once)"
                );
                return ExitCode::from(2);
            };
            let issuer = match claims.get("iss") {
                Some(jwt_authorizer::cedar::model::ClaimValue::String(iss)) => {
                    config.issuers.iter().position(|i| &i.issuer == iss)
                }
                _ => Some(0),
            };
            let Some(issuer) = issuer else {
                eprintln!("authorizer policy explain: `iss` is not a configured issuer");
                return ExitCode::from(2);
            };
            match engine.explain(issuer, &claims) {
                Ok(routes) => {
                    for route in routes {
                        let decision = if route.permitted { "allow" } else { "deny " };
                        let by = if route.policies.is_empty() {
                            "no policy permits it".to_owned()
                        } else {
                            route.policies.join(", ")
                        };
                        println!("{decision} {:<32} {by}", route.action);
                        for error in route.errors {
                            println!("      skipped: {error}");
                        }
                    }
                    ExitCode::SUCCESS
                }
                Err(reject) => {
                    eprintln!("authorizer policy explain: {}", reject.as_str());
                    ExitCode::from(2)
                }
            }
        }
    }
}

async fn invoke(event_path: &PathBuf) -> ExitCode {
    logging::init(Stream::Stderr, Decisions::All);
    let event = if event_path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(event_path)
    };
    let event = match event {
        Ok(event) => event,
        Err(e) => {
            eprintln!(
                "authorizer: cannot read the event {}: {e}",
                event_path.display()
            );
            return ExitCode::from(2);
        }
    };
    let authorizer = match build_authorizer(|_| Arc::new(Unobserved)).await {
        Ok(authorizer) => authorizer,
        Err(code) => return code,
    };
    authorizer.refresh_keys_at_init().await;
    let mut out = Vec::new();
    let decision = authorizer.authorize(&event, &mut out).await;
    match decision.outcome {
        Outcome::Allow | Outcome::Deny => {
            println!("{}", answer(out).get());
            ExitCode::SUCCESS
        }
        Outcome::Unauthorized => {
            // Lambda's own error document, field order included.
            println!(r#"{{"errorType":"{UNAUTHORIZED}","errorMessage":"{UNAUTHORIZED}"}}"#);
            ExitCode::from(1)
        }
    }
}

#[cfg(feature = "local")]
async fn serve(args: jwt_authorizer::local::ServeArgs) -> ExitCode {
    logging::init(Stream::Stderr, Decisions::Refusals);
    // The admin listener's GET /metrics renders this recorder.
    if let Err(e) = jwt_authorizer::metrics::prometheus::install() {
        eprintln!("authorizer serve: {e}");
        return ExitCode::from(2);
    }
    match jwt_authorizer::local::serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authorizer serve: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(feature = "local")]
async fn token(args: &jwt_authorizer::local::TokenArgs) -> ExitCode {
    match jwt_authorizer::local::token(args, &mut std::io::stdout().lock()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authorizer token: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(feature = "local")]
fn proof(args: &jwt_authorizer::local::ProofArgs) -> ExitCode {
    match jwt_authorizer::local::proof(args, &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authorizer proof: {e}");
            ExitCode::from(2)
        }
    }
}

async fn dashboards(command: Dashboards) -> ExitCode {
    match command {
        Dashboards::Render(args) => match args.render() {
            Ok(body) => {
                print!("{body}");
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Dashboards::Deploy { params, name } => deploy(params, &name).await,
    }
}

#[cfg(feature = "dashboards")]
async fn deploy(params: DashboardArgs, name: &str) -> ExitCode {
    let region = params.region.clone();
    let body = match params.render() {
        Ok(body) => body,
        Err(code) => return code,
    };
    match jwt_authorizer::metrics::deploy_dashboard(name, &body, &region).await {
        Ok(warnings) => {
            for warning in warnings {
                eprintln!("authorizer dashboards deploy: warning: {warning}");
            }
            println!("dashboard {name} deployed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("authorizer dashboards deploy: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "dashboards"))]
async fn deploy(_: DashboardArgs, _: &str) -> ExitCode {
    eprintln!(
        "authorizer dashboards deploy: this binary was built without the AWS SDK; build it with \
         `cargo install --path . --features dashboards` (or use `dashboards render` and \
         `aws cloudwatch put-dashboard --dashboard-body file://...`)"
    );
    ExitCode::from(2)
}

/// The written answer as a JSON value Lambda passes through unchanged.
fn answer(out: Vec<u8>) -> Box<RawValue> {
    let json = String::from_utf8(out).expect("serde_json writes UTF-8");
    RawValue::from_string(json).expect("the policy writer writes valid JSON")
}
