//! Starting and stopping a strangler instance: listeners, the worker runtime, the Pingora
//! proxy service, the admin listener and the reload triggers.
//!
//! Listeners are bound here (or handed in already bound, so a test binds port 0 and knows
//! the port before the first request) and passed to Pingora through its listen-fd table,
//! the same table Pingora uses to hand sockets over during a zero-downtime upgrade.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::IntoRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use pingora::apps::HttpServerOptions;
use pingora::server::configuration::ServerConf;
use pingora::server::Fds;
use pingora::services::Service as _;
use tokio::sync::watch;

use crate::admin::{self, AdminState};
use crate::edge::Edge;
use crate::live::LiveConfig;

/// How to start an instance.
pub struct Launch {
    /// The routes.yaml to load, watch and reload.
    pub config: PathBuf,
    /// An already-bound proxy listener; `None` binds `listen:` from the config.
    pub listen: Option<TcpListener>,
    /// An already-bound admin listener; `None` binds `admin:` from the config.
    pub admin: Option<TcpListener>,
    /// Follow changes of the file on disk (SIGHUP and the admin reload always work).
    pub watch: bool,
}

impl Launch {
    /// Launch settings for `config` with the listeners it names and file watching on.
    pub fn new(config: impl Into<PathBuf>) -> Launch {
        Launch {
            config: config.into(),
            listen: None,
            admin: None,
            watch: true,
        }
    }
}

/// A running instance. Dropping it stops everything at once; [`Running::shutdown`] drains.
pub struct Running {
    proxy_addr: SocketAddr,
    admin_addr: SocketAddr,
    live: Arc<LiveConfig>,
    ready: Arc<AtomicBool>,
    in_flight: Arc<AtomicUsize>,
    shutdown: watch::Sender<bool>,
    runtime: Option<tokio::runtime::Runtime>,
    /// Keeps the file watcher alive.
    _watcher: Option<notify::RecommendedWatcher>,
}

impl Running {
    /// Loads the config, binds the listeners and starts serving. Returns once both listeners
    /// accept connections; an invalid config or a busy port is an error here.
    pub fn start(launch: Launch) -> anyhow::Result<Running> {
        crate::telemetry::prometheus();
        let live = Arc::new(LiveConfig::load(&launch.config).map_err(|e| anyhow::anyhow!("{e}"))?);
        let snapshot = &live.current().snapshot;
        let token = std::env::var(admin::TOKEN_ENV)
            .ok()
            .filter(|t| !t.is_empty())
            .map(Arc::from);
        let proxy_listener = bind(launch.listen, snapshot.listen(), "listen")?;
        let admin_listener = bind(launch.admin, snapshot.admin(), "admin")?;
        let admin_addr = admin_listener.local_addr()?;
        if token.is_none() && !admin_addr.ip().is_loopback() {
            bail!(
                "admin listener {admin_addr} is not on loopback: set {} to protect it",
                admin::TOKEN_ENV
            );
        }
        let threads = snapshot.threads().unwrap_or_else(default_threads);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("strangler-worker")
            .enable_all()
            .build()?;
        let mut running = Running {
            proxy_addr: proxy_listener.local_addr()?,
            admin_addr,
            live: live.clone(),
            ready: Arc::new(AtomicBool::new(false)),
            in_flight: Arc::new(AtomicUsize::new(0)),
            shutdown: watch::channel(false).0,
            runtime: None,
            _watcher: None,
        };
        let _entered = runtime.enter();
        running.spawn_proxy(proxy_listener, threads)?;
        running.spawn_admin(admin_listener, token)?;
        crate::watch::reload_on_sighup(live.clone())?;
        if launch.watch {
            running._watcher =
                Some(crate::watch::watch_file(live).context("watching routes.yaml")?);
        }
        drop(_entered);
        running.runtime = Some(runtime);
        running.ready.store(true, Ordering::Relaxed);
        Ok(running)
    }

    /// The proxy listener's address (useful when it was bound to port 0).
    pub fn proxy_addr(&self) -> SocketAddr {
        self.proxy_addr
    }

    /// The admin listener's address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The live configuration (to reload or inspect it in-process).
    pub fn live(&self) -> &Arc<LiveConfig> {
        &self.live
    }

    /// Stops accepting, lets in-flight requests finish for up to `grace`, then stops.
    pub fn shutdown(mut self, grace: Duration) {
        self.ready.store(false, Ordering::Relaxed);
        let _ = self.shutdown.send(true);
        let deadline = Instant::now() + grace;
        while self.in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }

    fn spawn_proxy(&mut self, listener: TcpListener, threads: usize) -> anyhow::Result<()> {
        let address = listener.local_addr()?.to_string();
        listener.set_nonblocking(true)?;
        let mut fds = Fds::new();
        fds.add(address.clone(), listener.into_raw_fd());
        let conf = Arc::new(ServerConf {
            threads,
            ..ServerConf::default()
        });
        let edge = Edge::new(self.live.clone(), self.in_flight.clone());
        let mut service = pingora::proxy::http_proxy_service_with_name(&conf, edge, "strangler");
        let mut options = HttpServerOptions::default();
        options.h2c = true;
        if let Some(proxy) = service.app_logic_mut() {
            proxy.server_options = Some(options);
        }
        service.add_tcp(&address);
        let shutdown = self.shutdown.subscribe();
        let fds = Arc::new(parking_lot::Mutex::new(fds));
        tokio::spawn(async move { service.start_service(Some(fds), shutdown, 1).await });
        Ok(())
    }

    fn spawn_admin(
        &mut self,
        listener: TcpListener,
        token: Option<Arc<str>>,
    ) -> anyhow::Result<()> {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let state = AdminState {
            live: self.live.clone(),
            ready: self.ready.clone(),
            token,
        };
        let mut shutdown = self.shutdown.subscribe();
        let app = admin::router(state);
        tokio::spawn(async move {
            let stopped = async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(error = %e, "admin listener failed");
            }
        });
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn bind(
    given: Option<TcpListener>,
    configured: SocketAddr,
    what: &str,
) -> anyhow::Result<TcpListener> {
    match given {
        Some(listener) => Ok(listener),
        None => TcpListener::bind(configured)
            .with_context(|| format!("binding {what} address {configured}")),
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
