//! Reload triggers: changes to routes.yaml on disk and SIGHUP.
//!
//! The watcher watches the file's directory, not the file: editors save by writing a new file
//! and renaming it over the old one, and Kubernetes swaps a ConfigMap by re-pointing a `..data`
//! symlink. Only events naming the config file, `..data` or the file the config's symlink
//! points to count: anything else in the directory (an access log redirected next to the
//! config, say) is ignored, or it would trigger reloads, delay them, and feed itself with
//! the reload's own log lines.
//!
//! A file is reloaded once its writer has finished: after a create, rename, remove or a
//! close-after-write, not on each write (a reload mid-write could compile a cut-off file that
//! is still valid YAML: `percent: 25` read as `percent: 2`). A write with no close that
//! follows (a backend without close events) is reloaded after [`FALLBACK`].

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{Event, EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::live::config::LiveConfig;

/// How long the file must be quiet before a reload: a save can be several events.
const QUIET_PERIOD: Duration = Duration::from_millis(100);

/// The longest a burst of events can delay a reload, counted from its first event; also how
/// long a write waits for its writer to close the file before it is reloaded anyway.
const FALLBACK: Duration = Duration::from_secs(1);

/// What an event about the config file says about its writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signal {
    /// The file was replaced, removed, or its writer closed it: reload once quiet.
    Finished,
    /// Data was written and the writer may not be done: wait for it to close the file.
    Writing,
}

/// Starts watching the config file's directory; the watcher lives as long as the returned value.
pub fn watch_file(live: Arc<LiveConfig>) -> notify::Result<notify::RecommendedWatcher> {
    let (signals, mut rx) = mpsc::unbounded_channel::<Signal>();
    let config = ConfigNames::new(live.path());
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
        if let Some(signal) = event.ok().and_then(|e| config.signal(&e)) {
            let _ = signals.send(signal);
        }
    })?;
    watcher.watch(directory_of(live.path()), RecursiveMode::NonRecursive)?;
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            settle(&mut rx, first).await;
            reload(&live, |live| live.reload_edited()).await;
        }
    });
    Ok(watcher)
}

/// Reloads on every SIGHUP until the runtime stops.
pub fn reload_on_sighup(live: Arc<LiveConfig>) -> std::io::Result<()> {
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            reload(&live, |live| live.reload("sighup")).await;
        }
    });
    Ok(())
}

/// Swallows the rest of a burst that began with `first`: returns once the writer has
/// finished and nothing arrived for [`QUIET_PERIOD`], and at the latest [`FALLBACK`] after
/// `first`, so a file written without pause cannot hold reloads back forever.
async fn settle(rx: &mut mpsc::UnboundedReceiver<Signal>, first: Signal) {
    let cap = Instant::now() + FALLBACK;
    let mut finished = first == Signal::Finished;
    loop {
        let until = match finished {
            true => cap.min(Instant::now() + QUIET_PERIOD),
            false => cap,
        };
        match tokio::time::timeout_at(until, rx.recv()).await {
            Ok(Some(signal)) => finished |= signal == Signal::Finished,
            Ok(None) | Err(_) => return,
        }
    }
}

/// Reloads off the async workers (it reads a file and may resolve upstream names).
async fn reload<R>(live: &Arc<LiveConfig>, how: fn(&LiveConfig) -> R)
where
    R: Send + 'static,
{
    let live = live.clone();
    // Errors are logged and counted by the reload itself; the old snapshot keeps serving.
    let _ = tokio::task::spawn_blocking(move || how(&live)).await;
}

/// The names in the config's directory whose events concern the config.
struct ConfigNames {
    /// The config path, to read where its symlink points now (that can change).
    path: PathBuf,
    /// The config's own file name.
    file: PathBuf,
}

impl ConfigNames {
    fn new(path: &Path) -> ConfigNames {
        ConfigNames {
            path: path.to_path_buf(),
            file: path.file_name().unwrap_or_default().into(),
        }
    }

    /// What `event` means for the config; None when it is about another file or says
    /// nothing about the content (an open, a read, a metadata change).
    fn signal(&self, event: &Event) -> Option<Signal> {
        if event.need_rescan() {
            return Some(Signal::Finished);
        }
        let signal = match event.kind {
            EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Name(_))
            | EventKind::Access(AccessKind::Close(AccessMode::Write)) => Signal::Finished,
            EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => Signal::Writing,
            _ => return None,
        };
        let named = |path: &PathBuf| path.file_name().is_some_and(|name| self.concerns(name));
        event.paths.iter().any(named).then_some(signal)
    }

    /// Whether a file called `name` in the directory is (or leads to) the config.
    fn concerns(&self, name: &OsStr) -> bool {
        name == self.file
            || name == "..data"
            || std::fs::read_link(&self.path).is_ok_and(|target| target.file_name() == Some(name))
    }
}

fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use notify::event::{CreateKind, DataChange, RenameMode};

    use super::*;

    fn event(kind: EventKind, names: &[&str]) -> Event {
        let event = Event::new(kind);
        names.iter().fold(event, |event, name| {
            event.add_path(Path::new("/etc/strangler").join(name))
        })
    }

    fn config() -> ConfigNames {
        ConfigNames::new(Path::new("/etc/strangler/routes.yaml"))
    }

    #[test]
    fn events_about_other_files_in_the_directory_are_ignored() {
        let written = EventKind::Access(AccessKind::Close(AccessMode::Write));
        assert_eq!(config().signal(&event(written, &["strangler.log"])), None);
        let appended = EventKind::Modify(ModifyKind::Data(DataChange::Content));
        assert_eq!(config().signal(&event(appended, &["strangler.log"])), None);
    }

    #[test]
    fn a_closed_write_a_rename_and_a_configmap_swap_are_finished_writes() {
        let written = EventKind::Access(AccessKind::Close(AccessMode::Write));
        let renamed = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
        let created = EventKind::Create(CreateKind::File);
        for (kind, names) in [
            (written, &["routes.yaml"][..]),
            (renamed, &[".routes.yaml.tmp", "routes.yaml"]),
            (renamed, &["..data_tmp", "..data"]),
            (created, &["routes.yaml"]),
        ] {
            let seen = config().signal(&event(kind, names));
            assert_eq!(seen, Some(Signal::Finished), "{kind:?} {names:?}");
        }
    }

    #[test]
    fn a_write_still_in_progress_waits_for_its_writer() {
        let appended = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        let seen = config().signal(&event(appended, &["routes.yaml"]));
        assert_eq!(seen, Some(Signal::Writing));
        let opened = EventKind::Access(AccessKind::Open(AccessMode::Any));
        assert_eq!(config().signal(&event(opened, &["routes.yaml"])), None);
    }

    #[tokio::test]
    async fn a_burst_that_never_pauses_settles_within_the_fallback() {
        let (signals, mut rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(async move {
            while signals.send(Signal::Finished).is_ok() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let started = Instant::now();
        settle(&mut rx, Signal::Finished).await;
        let margin = Duration::from_millis(500);
        assert!(
            started.elapsed() < FALLBACK + margin,
            "{:?}",
            started.elapsed()
        );
        drop(rx);
        writer.await.expect("writer");
    }
}
