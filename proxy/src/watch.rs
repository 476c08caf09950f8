//! Reload triggers: changes to routes.yaml on disk and SIGHUP.
//!
//! The watcher watches the file's directory, not the file: editors save by writing a new file
//! and renaming it over the old one, and Kubernetes swaps a ConfigMap by re-pointing a `..data`
//! symlink. Any event in the directory schedules a reload after a short quiet period; a reload
//! of unchanged content is a no-op, so unrelated events cost one read of the file.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::live::LiveConfig;

/// How long the directory must be quiet before a reload: editors write in several steps.
const QUIET_PERIOD: Duration = Duration::from_millis(100);

/// Starts watching the config file's directory; the watcher lives as long as the returned value.
pub fn watch_file(live: Arc<LiveConfig>) -> notify::Result<notify::RecommendedWatcher> {
    let (events, mut rx) = mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = events.send(());
        }
    })?;
    watcher.watch(directory_of(live.path()), RecursiveMode::NonRecursive)?;
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            settle(&mut rx).await;
            reload(&live, "watch").await;
        }
    });
    Ok(watcher)
}

/// Reloads on every SIGHUP until the runtime stops.
pub fn reload_on_sighup(live: Arc<LiveConfig>) -> std::io::Result<()> {
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            reload(&live, "sighup").await;
        }
    });
    Ok(())
}

/// Waits until no event arrived for [`QUIET_PERIOD`], swallowing the burst.
async fn settle(rx: &mut mpsc::UnboundedReceiver<()>) {
    while let Ok(Some(())) = tokio::time::timeout(QUIET_PERIOD, rx.recv()).await {}
}

/// Reloads off the async workers (it reads a file and resolves upstream names).
async fn reload(live: &Arc<LiveConfig>, trigger: &'static str) {
    let live = live.clone();
    // Errors are logged and counted by `reload` itself; the old snapshot keeps serving.
    let _ = tokio::task::spawn_blocking(move || live.reload(trigger)).await;
}

fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}
