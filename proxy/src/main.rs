//! The `strangler` binary: `run`, `check`, `explain`, `demo`, `schema`, `flags` and `diffs`. It parses
//! the arguments and calls the command in [`strangler::cli`]; only this file uses `anyhow`,
//! to print an error with its causes. Everything it calls has its own error types.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use strangler::cli;
use strangler::cli::explain::Question;
use strangler::cli::flags::args::FlagsArgs;

/// mimalloc instead of glibc's allocator: under load glibc's malloc and free were about 15 %
/// of the proxy's CPU (perf, docs/performance.md); mimalloc's thread-local free lists cut it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "strangler",
    version = strangler::LONG_VERSION,
    about = "A per-route, per-tenant migration proxy"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve with routes.yaml, following its changes. SIGTERM or SIGINT drains within
    /// `shutdown_grace:` and exits; SIGQUIT hands the listeners to a process started with
    /// `--upgrade`, then drains and exits.
    Run {
        /// The routes.yaml to serve.
        #[arg(long, default_value = "routes.yaml")]
        config: PathBuf,
        /// Take over the listeners of the running instance instead of binding: wait (60 s at
        /// most) on the upgrade socket for them, sent when the old one gets SIGQUIT.
        #[arg(long)]
        upgrade: bool,
    },
    /// Validate files like `nginx -t`: exit 0, or 1 with every error and its location.
    Check {
        /// The files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Say where a request would go and why, without sending it.
    Explain(ExplainArgs),
    /// Start the example monolith and billing service and the proxy in front of them.
    Demo {
        #[arg(long, default_value = "routes.yaml")]
        config: PathBuf,
        /// Also serve HTTPS on port 8443 with a self-signed certificate (demo-tls/).
        #[arg(long)]
        tls: bool,
    },
    /// Print the JSON Schema of routes.yaml (draft 2020-12), for editors and CI.
    Schema,
    /// Show and change a running proxy's runtime flags through its admin API.
    Flags(FlagsArgs),
    /// Report how the shadowed routes compare, from the diff store of the config's `store:`;
    /// `diffs sample ID` shows one kept sample.
    Diffs {
        #[command(subcommand)]
        sample: Option<DiffsCommand>,
        #[arg(long, default_value = "routes.yaml", global = true)]
        config: PathBuf,
        /// Only this route.
        #[arg(long)]
        route: Option<String>,
        /// The window: comparisons of the last `90s`, `15m`, `1h`, `7d`.
        #[arg(long, default_value = cli::diffs::DEFAULT_SINCE)]
        since: String,
        /// At most this many entries per list (findings, noise, signatures); text shows
        /// 10 unless told, JSON all.
        #[arg(long)]
        limit: Option<usize>,
        /// Print JSON instead of text.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Report, per route, whether its legacy path can go: the share served by the new side,
    /// days at 100 %, rollbacks, fallbacks, the shadow match rate and a verdict, from the
    /// store of the config's `store:`.
    Report {
        #[arg(long, default_value = "routes.yaml")]
        config: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `strangler explain`'s description of a request.
#[derive(clap::Args)]
struct ExplainArgs {
    #[arg(long, default_value = "routes.yaml")]
    config: PathBuf,
    #[arg(long, default_value = "GET")]
    method: String,
    /// The path, with a query string if the request has one (`/api/x?api=v2`).
    #[arg(long)]
    path: String,
    /// The tenant, as if sent in the config's tenant header.
    #[arg(long)]
    tenant: Option<String>,
    /// The Host header.
    #[arg(long)]
    host: Option<String>,
    /// Another request header, `Name: value` (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// A cookie, `name=value` (repeatable), as if sent in the `Cookie` header.
    #[arg(long = "cookie", value_name = "NAME=VALUE")]
    cookies: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum DiffsCommand {
    /// One kept sample: the request it answered and both answers side by side.
    Sample {
        /// The sample's id, as the report lists it.
        id: i64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config, upgrade } => cli::run::run(config, upgrade),
        Command::Check { files } => return exit(cli::check::check(&files)),
        Command::Explain(args) => explain(args),
        Command::Demo { config, tls } => cli::demo::demo(config, tls),
        Command::Schema => {
            cli::schema::print();
            Ok(())
        }
        Command::Flags(args) => return flags(args),
        Command::Diffs {
            sample: Some(DiffsCommand::Sample { id }),
            config,
            json,
            ..
        } => cli::diffs::sample(&config, id, json),
        Command::Diffs {
            sample: None,
            config,
            route,
            since,
            limit,
            json,
        } => cli::diffs::diffs(&config, route.as_deref(), &since, limit, json),
        Command::Report { config, json } => cli::report::report(&config, json),
    };
    report("strangler", result.map_err(anyhow::Error::from))
}

fn explain(args: ExplainArgs) -> Result<(), cli::error::CliError> {
    let headers = args
        .headers
        .iter()
        .map(|h| cli::explain::parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let cookies = args
        .cookies
        .iter()
        .map(|c| cli::explain::parse_cookie(c))
        .collect::<Result<Vec<_>, _>>()?;
    let question = Question {
        method: &args.method,
        path: &args.path,
        host: args.host.as_deref(),
        tenant: args.tenant.as_deref(),
        headers: &headers,
        cookies: &cookies,
    };
    cli::explain::command(&args.config, question, args.json)
}

fn flags(args: FlagsArgs) -> ExitCode {
    report(
        "strangler flags",
        cli::flags::run(args).map_err(anyhow::Error::from),
    )
}

/// Prints a failed command's error with its causes (`{:#}`); the exit code says which.
fn report(command: &str, result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{command}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn exit(passed: bool) -> ExitCode {
    match passed {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    }
}
