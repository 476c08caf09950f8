//! Why a command failed: one [`CliError`] for every command but `flags` (which has
//! [`crate::cli::flags::FlagsError`]), printed by `main.rs` with its causes.

use std::time::Duration;

use strangler_flags::ConfigErrors;
use thiserror::Error;

use crate::process::launch::StartError;
use crate::process::upgrade::UpgradeError;

/// Why a command failed.
#[derive(Debug, Error)]
pub enum CliError {
    /// routes.yaml did not load.
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    /// The instance did not start.
    #[error(transparent)]
    Start(#[from] StartError),
    /// `--upgrade` could not take the old process's listeners.
    #[error("upgrade: {0}")]
    Upgrade(#[from] UpgradeError),
    /// An argument the command cannot use, with what to do instead.
    #[error("{0}")]
    Usage(String),
    /// The request `explain` was asked about is one the proxy refuses.
    #[error("the proxy would answer {status}: {message}")]
    Refused {
        /// The status the proxy would answer.
        status: u16,
        /// Why.
        message: String,
    },
    /// The store could not be opened.
    #[error(transparent)]
    Database(#[from] strangler_control::ControlError),
    /// The diff store could not be read.
    #[error(transparent)]
    Store(#[from] strangler_control::diffs::StoreError),
    /// A demo backend could not listen.
    #[error("binding the {what} on {addr}: {source}")]
    Bind {
        /// Which backend.
        what: &'static str,
        /// Its address from routes.yaml.
        addr: std::net::SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// An answer could not be written as JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A runtime or a signal handler could not be set up.
    #[error("{what}: {source}")]
    Io {
        /// What was being set up.
        what: &'static str,
        /// What the system said.
        source: std::io::Error,
    },
    /// The drain's grace ran out with requests still running.
    #[error("the {grace:?} shutdown grace ran out: cut {cut} requests still running")]
    GraceRanOut {
        /// `shutdown_grace:`.
        grace: Duration,
        /// Requests cut.
        cut: usize,
    },
}

impl CliError {
    /// Wraps an I/O error with what was being set up.
    pub(crate) fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> CliError {
        move |source| CliError::Io { what, source }
    }
}
