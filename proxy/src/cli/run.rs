//! `strangler run` (and the serving half of `strangler demo`): start an instance, serve until
//! a signal, drain within `shutdown_grace:` and say what the drain left.

use std::path::PathBuf;

use crate::cli::error::CliError;
use crate::process::launch::Launch;
use crate::process::server::Running;

/// Serves `config` until SIGTERM or SIGINT, or a SIGQUIT whose hand-over to a process started
/// with `--upgrade` worked; `upgrade` makes this process that new one.
pub fn run(config: PathBuf, upgrade: bool) -> Result<(), CliError> {
    serve(config, upgrade, None)
}

/// What a command prints once the instance serves (the demo's curl lines).
pub(crate) type Banner = Box<dyn Fn(&Running) -> String>;

/// [`run`], printing `banner` once the instance serves.
pub(crate) fn serve(
    config: PathBuf,
    upgrade: bool,
    banner: Option<Banner>,
) -> Result<(), CliError> {
    let logs = crate::telemetry::metrics::init_logs();
    let mut launch = Launch::new(config);
    if upgrade {
        crate::process::upgrade::inherit(&mut launch)?;
    }
    let running = Running::start(launch)?;
    let listeners: Vec<String> = running
        .proxy_addrs()
        .iter()
        .map(ToString::to_string)
        .collect();
    let listeners = listeners.join(" ");
    tracing::info!(proxy = %running.proxy_addr(), %listeners, admin = %running.admin_addr(), "strangler is serving");
    crate::process::systemd::notify_ready();
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
    match drained.requests_cut {
        0 => Ok(()),
        cut => Err(CliError::GraceRanOut { grace, cut }),
    }
}

/// Serves until SIGTERM or SIGINT, or a SIGQUIT whose hand-over to a new process worked (a
/// failed one is logged and the instance keeps serving); returns why it stops.
fn wait_for_stop_signal(running: &Running) -> Result<&'static str, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::io("starting the signal runtime"))?;
    runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let handler = |kind| signal(kind).map_err(CliError::io("handling signals"));
        let mut term = handler(SignalKind::terminate())?;
        let mut int = handler(SignalKind::interrupt())?;
        let mut quit = handler(SignalKind::quit())?;
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
