//! How to start an instance ([`Launch`]) and why a start fails ([`StartError`]).

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::Duration;

use strangler_flags::ConfigErrors;
use thiserror::Error;

use crate::admin::tokens::{self, AdminToken};
use crate::resilience::ramp::RampTiming;

/// How to start an instance.
pub struct Launch {
    /// The routes.yaml to load, watch and reload.
    pub config: PathBuf,
    /// An already-bound proxy listener; `None` binds `listen:` from the config.
    pub listen: Option<TcpListener>,
    /// The proxy listeners after the first, already bound (received on an upgrade); the
    /// others of `listen:` are bound from the config.
    pub more_listeners: Vec<TcpListener>,
    /// An already-bound admin listener; `None` binds `admin:` from the config.
    pub admin: Option<TcpListener>,
    /// Follow changes of the file on disk (SIGHUP and the admin reload always work).
    pub watch: bool,
    /// The admin tokens besides those of `STRANGLER_ADMIN_TOKENS(_FILE)`, which the start
    /// reads; [`Launch::new`] puts `STRANGLER_ADMIN_TOKEN` here as the write token `admin`.
    pub admin_tokens: Vec<AdminToken>,
    /// The ramp evaluator's clock and tick (tests: a fake clock); the wall clock and 1 s.
    pub ramp_timing: RampTiming,
    /// The first wait before a failed notification is tried again (tests: milliseconds).
    pub notify_first_retry: Duration,
}

impl Launch {
    /// Launch settings for `config` with the listeners it names, file watching on, and the
    /// admin token from `STRANGLER_ADMIN_TOKEN`.
    pub fn new(config: impl Into<PathBuf>) -> Launch {
        let admin_token = std::env::var(tokens::TOKEN_ENV).ok();
        Launch {
            config: config.into(),
            listen: None,
            more_listeners: Vec::new(),
            admin: None,
            watch: true,
            admin_tokens: admin_token
                .filter(|secret| !secret.is_empty())
                .map(|secret| AdminToken::admin(&secret))
                .into_iter()
                .collect(),
            ramp_timing: RampTiming::default(),
            notify_first_retry: crate::telemetry::notify::FIRST_RETRY,
        }
    }
}

/// Why an instance did not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// routes.yaml did not load; every problem is listed with its location.
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    /// A TLS listener's certificate cannot be used.
    #[error("tls: {0}")]
    Tls(String),
    /// `STRANGLER_ADMIN_TOKENS` or its file has a bad entry.
    #[error("{0}")]
    Tokens(String),
    /// A listener could not be bound.
    #[error("binding {what} address {addr}: {source}")]
    Bind {
        /// `listen` or `admin`.
        what: &'static str,
        /// The configured address.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// The admin listener would be reachable from other hosts with no token to protect it.
    #[error("admin listener {0} is not on loopback: set {TOKEN_ENV} to protect it", TOKEN_ENV = tokens::TOKEN_ENV)]
    UnprotectedAdmin(SocketAddr),
    /// routes.yaml's directory cannot be watched.
    #[error("watching routes.yaml: {0}")]
    Watch(#[from] notify::Error),
    /// A runtime, a listener's setting or a signal handler could not be set up.
    #[error("{what}: {source}")]
    Io {
        /// What was being set up.
        what: &'static str,
        /// What the system said.
        source: std::io::Error,
    },
}

impl StartError {
    /// Wraps an I/O error with what was being set up.
    pub(crate) fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> StartError {
        move |source| StartError::Io { what, source }
    }
}
