//! The proxy's worker threads, as routes.yaml's `threads:`, `work_stealing:` and
//! `alt_timer:` ask (read at start): Pingora's runtime, either one tokio runtime whose
//! workers steal each other's queued tasks, or one single-threaded runtime per worker with
//! each new connection placed on one of them at random and kept there (`NoSteal`).
//!
//! The admin, shadow and store runtimes are not built here: they are one thread each.

use std::time::Duration;

use pingora_runtime::{Runtime, RuntimeBuilder};
use strangler_flags::config::workers::Workers as Settings;

/// The thread name of every worker, as the load harness reads it from `/proc`.
const NAME: &str = "strangler-worker";

/// The running worker threads.
pub(super) struct Workers {
    runtime: Runtime,
    threads: usize,
}

impl Workers {
    /// Starts the workers (a file asking for an alternative timer this build lacks did
    /// not load: `Surroundings::alt_timer_available`).
    pub(super) fn start(settings: Settings) -> Workers {
        let threads = settings.threads.unwrap_or_else(default_threads);
        let runtime = RuntimeBuilder::new(threads, NAME)
            .work_steal(settings.steals(threads))
            .enable_alt_timer(settings.alt_timer)
            .build();
        Workers { runtime, threads }
    }

    /// How many worker threads there are.
    pub(super) fn threads(&self) -> usize {
        self.threads
    }

    /// Enters the workers' runtime (one of them, when they do not steal): what is spawned
    /// meanwhile, such as the listeners' accept loops, runs there.
    pub(super) fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        self.runtime.get_handle().enter()
    }

    /// Stops the workers, waiting up to `timeout` for their tasks to end.
    pub(super) fn stop(self, timeout: Duration) {
        self.runtime.shutdown_timeout(timeout);
    }

    /// Stops the workers without waiting for their tasks (the instance is being dropped).
    pub(super) fn stop_now(self) {
        match self.runtime {
            Runtime::Steal { runtime, .. } => runtime.shutdown_background(),
            no_steal => no_steal.shutdown_timeout(Duration::ZERO),
        }
    }
}

/// One worker per core when `threads:` is absent.
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
