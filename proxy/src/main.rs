//! The `strangler` binary: `run`, `check`, `explain`, `demo`, `flags` and `diffs`. Only this file uses `anyhow`
//! for reporting; everything it calls has its own error types.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use strangler::cli::explain::{explain, Question};
use strangler::cli::flags::FlagsArgs;
use strangler::{Launch, Running};
use strangler_flags::Snapshot;

/// mimalloc instead of glibc's allocator: under load glibc's malloc and free were about 15 %
/// of the proxy's CPU (perf, docs/performance.md); mimalloc's thread-local free lists cut it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "strangler",
    version,
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
    Explain {
        #[arg(long, default_value = "routes.yaml")]
        config: PathBuf,
        #[arg(long, default_value = "GET")]
        method: String,
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
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Start the example monolith and billing service and the proxy in front of them.
    Demo {
        #[arg(long, default_value = "routes.yaml")]
        config: PathBuf,
    },
    /// Show and change a running proxy's runtime flags through its admin API.
    Flags(FlagsArgs),
    /// Report how the shadowed routes compare, from the diff store of the config's `store:`.
    Diffs {
        #[arg(long, default_value = "routes.yaml")]
        config: PathBuf,
        /// Only this route.
        #[arg(long)]
        route: Option<String>,
        /// The window: comparisons of the last `90s`, `15m`, `1h`, `7d`.
        #[arg(long, default_value = strangler::shadow::reports::DEFAULT_SINCE)]
        since: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config, upgrade } => run(config, upgrade, None),
        Command::Check { files } => return check(&files),
        Command::Explain {
            config,
            method,
            path,
            tenant,
            host,
            headers,
            json,
        } => explain_command(config, &method, &path, tenant, host, &headers, json),
        Command::Demo { config } => demo(config),
        Command::Flags(args) => return flags(args),
        Command::Diffs {
            config,
            route,
            since,
            json,
        } => diffs(config, route, &since, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strangler: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    config: PathBuf,
    upgrade: bool,
    banner: Option<fn(&Running) -> String>,
) -> anyhow::Result<()> {
    let logs = strangler::telemetry::metrics::init_logs();
    let mut launch = Launch::new(config);
    if upgrade {
        strangler::process::upgrade::inherit(&mut launch)?;
    }
    let running = Running::start(launch)?;
    tracing::info!(proxy = %running.proxy_addr(), admin = %running.admin_addr(), "strangler is serving");
    strangler::process::systemd::notify_ready();
    if let Some(banner) = banner {
        eprintln!("{}", banner(&running));
    }
    let reason = wait_for_stop_signal(&running)?;
    let grace = running.shutdown_grace();
    tracing::info!(reason, ?grace, "stopping: draining in-flight requests");
    let drained = running.shutdown(grace);
    tracing::info!(
        reason,
        requests_cut = drained.requests_cut,
        connections_closed = drained.connections_closed,
        took = ?drained.took,
        "stopped"
    );
    logs.flush();
    anyhow::ensure!(
        drained.requests_cut == 0,
        "the {grace:?} shutdown grace ran out: cut {} requests still running",
        drained.requests_cut
    );
    Ok(())
}

/// Serves until SIGTERM or SIGINT, or a SIGQUIT whose hand-over to a new process worked (a
/// failed one is logged and the instance keeps serving); returns why it stops.
fn wait_for_stop_signal(running: &Running) -> anyhow::Result<&'static str> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut quit = signal(SignalKind::quit())?;
        loop {
            tokio::select! {
                _ = term.recv() => return Ok("sigterm"),
                _ = int.recv() => return Ok("sigint"),
                _ = quit.recv() => match running.hand_over() {
                    Ok(()) => return Ok("upgrade"),
                    Err(e) => tracing::error!(error = %e, "upgrade: hand-over failed; still serving"),
                },
            }
        }
    })
}

fn check(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for file in files {
        match Snapshot::load(file) {
            Ok(snapshot) => println!(
                "{}: ok ({} routes)",
                file.display(),
                snapshot.routes().len()
            ),
            Err(errors) => {
                eprintln!("{errors}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn explain_command(
    config: PathBuf,
    method: &str,
    path: &str,
    tenant: Option<String>,
    host: Option<String>,
    headers: &[String],
    json: bool,
) -> anyhow::Result<()> {
    let snapshot = Snapshot::load(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    check_tenant_flag(&snapshot, tenant.as_deref())?;
    let headers = headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let question = Question {
        method,
        path,
        host: host.as_deref(),
        tenant: tenant.as_deref(),
        headers: &headers,
    };
    let answer = explain(&snapshot, &question)
        .map_err(|e| anyhow::anyhow!("the proxy would answer {}: {e}", e.http_status()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print!("{answer}");
    }
    Ok(())
}

/// `--tenant` stands in for an unverified tenant header; a verified tenant needs its token.
fn check_tenant_flag(snapshot: &Snapshot, tenant: Option<&str>) -> anyhow::Result<()> {
    if tenant.is_some() && snapshot.verified_tenants() {
        anyhow::bail!(
            "--tenant cannot stand in for a verified (jwt) tenant: pass the token, \
             --header 'Authorization: Bearer <token>'"
        );
    }
    Ok(())
}

fn parse_header(raw: &str) -> anyhow::Result<(String, String)> {
    let (name, value) = raw
        .split_once(':')
        .with_context(|| format!("header {raw:?} is not `Name: value`"))?;
    Ok((name.trim().to_ascii_lowercase(), value.trim().to_string()))
}

fn demo(config: PathBuf) -> anyhow::Result<()> {
    if std::env::var_os(strangler::admin::tokens::TOKEN_ENV).is_none() {
        // Before any thread starts: the demo's flag changes need a token too.
        std::env::set_var(
            strangler::admin::tokens::TOKEN_ENV,
            strangler::cli::demo::DEMO_TOKEN,
        );
    }
    let _backends = strangler::cli::demo::start_backends(&config)?;
    run(
        config,
        false,
        Some(|running| {
            strangler::cli::demo::instructions(running.proxy_addr(), running.admin_addr())
        }),
    )
}

fn diffs(config: PathBuf, route: Option<String>, since: &str, json: bool) -> anyhow::Result<()> {
    let snapshot = Snapshot::load(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(route) = route.as_deref() {
        anyhow::ensure!(
            snapshot.route(route).is_some(),
            "unknown route {route:?} in {}",
            config.display()
        );
    }
    let since = strangler::shadow::reports::parse_since(since).map_err(anyhow::Error::msg)?;
    let settings = snapshot.diffs();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let store = strangler_shadow::store::DiffStore::connect(
            snapshot.store_url(),
            settings.samples_per_signature,
        )
        .await?;
        strangler::shadow::reports::report(&store, route.as_deref(), since, &settings.thresholds)
            .await
    })?;
    match json {
        true => println!("{}", serde_json::to_string_pretty(&report)?),
        false => print!("{}", strangler::shadow::reports::render(&report)),
    }
    Ok(())
}

fn flags(args: FlagsArgs) -> ExitCode {
    match strangler::cli::flags::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strangler flags: {:#}", anyhow::Error::from(e));
            ExitCode::FAILURE
        }
    }
}
