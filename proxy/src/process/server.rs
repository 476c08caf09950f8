//! Starting and stopping a strangler instance: listeners, the worker runtime, the Pingora
//! proxy service, the admin listener and the reload triggers.
//!
//! Listeners are bound here (or handed in already bound, so a test binds port 0 and knows
//! the port before the first request) and passed to Pingora through its listen-fd table,
//! the same table Pingora uses to hand sockets over during a zero-downtime upgrade.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use strangler_control::SharedDatabase;
use tokio::sync::watch;

use crate::admin::state::AdminState;
use crate::connection::drain::{Drain, Drained};
use crate::connection::h2c_head::H2cHeads;
use crate::connection::pressure::Pressure;
use crate::live::config::LiveConfig;
use crate::live::flag_cache::FlagCache;
use crate::live::flag_store::FlagStore;
use crate::process::launch::{Launch, StartError};
use crate::process::listeners::{self, local_addr, ProxyListeners};
use crate::process::services;
use crate::process::upgrade::{Handover, UpgradeError};
use crate::process::workers::Workers;
use crate::readiness::flusher::{Flusher, SHUTDOWN_FLUSH};
use crate::request::edge::Edge;
use crate::request::rate_limit::RateLimiter;
use crate::resilience::guard::Guards;
use crate::resilience::ramp::Ramps;
use crate::resilience::service_health::ServiceHealth;
use crate::shadow::diff_writer::{self, SharedStore};
use crate::shadow::dispatch::Shadowing;

/// A running instance. Dropping it stops everything at once; [`Running::shutdown`] drains.
pub struct Running {
    /// The proxy listeners' addresses, in `listen:`'s order.
    proxy_addrs: Vec<SocketAddr>,
    admin_addr: SocketAddr,
    live: Arc<LiveConfig>,
    ready: Arc<AtomicBool>,
    in_flight: Arc<AtomicUsize>,
    shutdown: watch::Sender<bool>,
    /// Stops the admin listener: when the process is done draining, or at once after a
    /// hand-over (the new process answers the probes on the same socket then). Until
    /// then a draining instance answers `/readyz` 503 and `/healthz` 200.
    admin_stop: watch::Sender<bool>,
    /// The proxy's workers (`threads:` of them).
    runtime: Option<Workers>,
    /// One thread for the admin listener and the reload triggers, so a saturated proxy
    /// never starves `/healthz` or a reload.
    control: Option<tokio::runtime::Runtime>,
    /// One thread for shadow calls and diffs, so they never run on a proxy worker.
    shadow: Option<tokio::runtime::Runtime>,
    /// The shadow machinery the edge hands shadowed requests to.
    shadowing: Option<Arc<Shadowing>>,
    /// The rollback guards the edge reports to and the control runtime evaluates.
    guards: Arc<Guards>,
    /// The gated ramps the edge counts for and the control runtime evaluates.
    ramps: Arc<Ramps>,
    /// The new services' breakers; their health checks run on `control`.
    health: Arc<ServiceHealth>,
    /// The tenants' rate buckets, kept across reloads (which change only the rates).
    rate_limiter: Arc<RateLimiter>,
    /// Flushes the readiness rollup's counts to the store (every minute, and at shutdown).
    readiness: Option<Arc<Flusher>>,
    /// Keeps the file watcher alive.
    _watcher: Option<notify::RecommendedWatcher>,
    /// Connections open and whether they should close; see [`crate::connection::drain`].
    drain: Arc<Drain>,
    /// The h2c connections waiting for their first request (the edge reports arrivals).
    h2c_heads: Arc<H2cHeads>,
    /// The open-files limit's high-water mark and the idle connections closed past it.
    pressure: Arc<Pressure>,
    /// `shutdown_grace:` as it was at start.
    grace: Duration,
    /// The listeners to send a new process on SIGQUIT, and where.
    handover: Handover,
}

impl Running {
    /// Loads the config, binds the listeners and starts serving. Returns once both listeners
    /// accept connections; an invalid config or a busy port is an error here.
    pub fn start(launch: Launch) -> Result<Running, StartError> {
        crate::telemetry::metrics::prometheus();
        let live = Arc::new(LiveConfig::load(&launch.config)?);
        live.notifier().set_first_retry(launch.notify_first_retry);
        let snapshot = &live.current().snapshot;
        let mut tokens = crate::admin::tokens::named_from_env().map_err(StartError::Tokens)?;
        tokens.extend(launch.admin_tokens);
        let given = launch
            .listen
            .into_iter()
            .chain(launch.more_listeners)
            .collect();
        let proxy_listeners = ProxyListeners::bind(given, snapshot)?;
        let admin_listener = bind(launch.admin, snapshot.admin(), "admin")?;
        let admin_addr = local_addr(&admin_listener)?;
        if tokens.is_empty() && !admin_addr.ip().is_loopback() {
            return Err(StartError::UnprotectedAdmin(admin_addr));
        }
        let handover = Handover::new(snapshot, &proxy_listeners.sockets, &admin_listener);
        let admin_tls = proxy_listeners.admin_tls(snapshot)?;
        let runtime = Workers::start(snapshot.workers());
        let threads = runtime.threads();
        let control = new_runtime("strangler-admin", 1)?;
        let shadow = new_runtime("strangler-shadow", 1)?;
        let drain = Arc::<Drain>::default();
        let mut running = Running {
            proxy_addrs: proxy_listeners.addrs.clone(),
            admin_addr,
            live: live.clone(),
            ready: Arc::new(AtomicBool::new(false)),
            in_flight: Arc::new(AtomicUsize::new(0)),
            shutdown: watch::channel(false).0,
            admin_stop: watch::channel(false).0,
            runtime: None,
            control: None,
            shadow: None,
            shadowing: None,
            guards: Arc::new(Guards::new(&live.current().file)),
            ramps: Arc::new(Ramps::new(&live.current().file, launch.ramp_timing)),
            health: Arc::default(),
            rate_limiter: Arc::default(),
            readiness: None,
            _watcher: None,
            drain: drain.clone(),
            h2c_heads: Arc::default(),
            pressure: Arc::new(Pressure::new(drain)),
            grace: snapshot.lifecycle().shutdown_grace,
            handover,
        };
        // Runtime flags first: a kill switch set before a restart must hold from the first
        // request (connections queue in the listener meanwhile).
        let database = SharedDatabase::new(running.live.current().file.store_url());
        let flags = running.connect_flags(&control, database.clone());
        running.start_guards(&control, &flags);
        running.start_readiness(&control, database.clone());
        let diffs = running.start_shadowing(&shadow, &control, database);
        running.start_ramps(&control, &flags, &diffs);
        if let Some(limit) = crate::process::descriptors::raise_open_files_limit() {
            running.pressure.set_limit(limit);
        }
        let proxy = {
            let _workers = runtime.enter();
            let shutdown = running.shutdown.subscribe();
            let pressure = running.pressure.clone();
            let terminators = proxy_listeners.terminators();
            let sockets = proxy_listeners.sockets.into_iter().zip(terminators);
            services::spawn_proxy(
                sockets.collect(),
                threads,
                || running.edge(),
                pressure,
                shutdown,
            )?
        };
        let _entered = control.enter();
        let notifier = live.notifier().clone();
        tokio::spawn(notifier.run(running.shutdown.subscribe()));
        let checks = running
            .health
            .clone()
            .run_checks(live.clone(), running.shutdown.subscribe());
        tokio::spawn(checks);
        for listener in proxy {
            services::watch_proxy(
                listener,
                running.ready.clone(),
                running.shutdown.subscribe(),
            );
        }
        listeners::rotate_certificates(proxy_listeners.certs, live.clone());
        let admin = running.admin_state(tokens.into(), flags, diffs);
        let stop = running.admin_stop.subscribe();
        services::spawn_admin(admin_listener, admin, stop, admin_tls)?;
        crate::live::watch::reload_on_sighup(live.clone())
            .map_err(StartError::io("handling SIGHUP"))?;
        if launch.watch {
            running._watcher = Some(crate::live::watch::watch_file(live)?);
        }
        drop(_entered);
        running.runtime = Some(runtime);
        running.control = Some(control);
        running.shadow = Some(shadow);
        running.ready.store(true, Ordering::Relaxed);
        Ok(running)
    }

    /// The first proxy listener's address (useful when it was bound to port 0).
    pub fn proxy_addr(&self) -> SocketAddr {
        self.proxy_addrs[0]
    }

    /// Every proxy listener's address, in `listen:`'s order.
    pub fn proxy_addrs(&self) -> &[SocketAddr] {
        &self.proxy_addrs
    }

    /// The admin listener's address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Reloads routes.yaml now, as SIGHUP does; on an error the old configuration keeps
    /// serving and the error lists every problem.
    pub fn reload(&self) -> Result<(), strangler_flags::ConfigErrors> {
        self.live.reload("embedder").map(|_| ())
    }

    /// `shutdown_grace:` from routes.yaml as it was at start.
    pub fn shutdown_grace(&self) -> Duration {
        self.grace
    }

    /// Sends the listeners to a new process started with `--upgrade` (SIGQUIT); on success
    /// the caller drains this one with [`Running::shutdown`], and this one's admin listener
    /// stops at once, so probes on the shared socket reach the new process.
    pub fn hand_over(&self) -> Result<(), UpgradeError> {
        self.handover.send()?;
        let _ = self.admin_stop.send(true);
        Ok(())
    }

    /// Stops accepting, lets in-flight requests finish for up to `grace` (their responses,
    /// and those on kept-alive connections, say `Connection: close`), then stops; says
    /// what was still running when it stopped. The admin listener answers throughout
    /// (`/readyz` 503, `/healthz` 200) and stops last.
    pub fn shutdown(mut self, grace: Duration) -> Drained {
        let started = Instant::now();
        self.ready.store(false, Ordering::Relaxed);
        self.drain.begin(grace);
        let _ = self.shutdown.send(true);
        let drained = self.drain.wait(&self.in_flight, started, grace);
        self.flush_readiness();
        let _ = self.admin_stop.send(true);
        if let Some(workers) = self.runtime.take() {
            workers.stop(Duration::from_secs(1));
        }
        for runtime in [self.shadow.take(), self.control.take()]
            .into_iter()
            .flatten()
        {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
        drained
    }

    /// An edge over this instance's shared state (one for HTTP/1, one for h2c).
    fn edge(&self) -> Edge {
        Edge {
            live: self.live.clone(),
            in_flight: self.in_flight.clone(),
            rate_limiter: self.rate_limiter.clone(),
            shadowing: self
                .shadowing
                .clone()
                .expect("shadowing starts before the proxy"),
            guards: self.guards.clone(),
            ramps: self.ramps.clone(),
            health: self.health.clone(),
            drain: self.drain.clone(),
            h2c_heads: self.h2c_heads.clone(),
        }
    }

    /// Opens the runtime flag store named by `store:` and starts following it. A store that
    /// cannot be reached within [`crate::live::flag_store::CONNECT_TIMEOUT`] does not stop the
    /// start: the proxy serves routes.yaml with the flags of its cache (`store_cache:`, by
    /// default `<name>.flags-cache.json` beside routes.yaml) and keeps trying.
    fn connect_flags(
        &self,
        control: &tokio::runtime::Runtime,
        database: SharedDatabase,
    ) -> Arc<FlagStore> {
        let file = self.live.current().file.clone();
        let cache = match file.store_cache() {
            Some(path) => PathBuf::from(path),
            None => FlagCache::default_path(self.live.path()),
        };
        let cache = FlagCache::new(cache, file.store_url());
        let opening = FlagStore::open(database, cache, self.live.clone());
        let flags = Arc::new(control.block_on(opening));
        control.spawn(flags.clone().run(self.shutdown.subscribe()));
        flags
    }

    /// Starts the rollback guards' evaluator on `control` (see [`crate::resilience::guard_watch`]),
    /// once the trips an earlier run could not record are pending again.
    fn start_guards(&self, control: &tokio::runtime::Runtime, flags: &Arc<FlagStore>) {
        control.block_on(crate::resilience::guard_watch::resume(&self.guards, flags));
        let (live, shutdown) = (self.live.clone(), self.shutdown.subscribe());
        let evaluator =
            crate::resilience::guard_watch::run(self.guards.clone(), live, flags.clone(), shutdown);
        control.spawn(evaluator);
    }

    /// Starts the readiness rollup's flusher on `control`, on the flag store's `database`.
    fn start_readiness(&mut self, control: &tokio::runtime::Runtime, database: SharedDatabase) {
        let rollup = self.live.current().metrics.rollup().clone();
        let flusher = Arc::new(Flusher::new(database, rollup));
        control.spawn(flusher.clone().run(self.shutdown.subscribe()));
        self.readiness = Some(flusher);
    }

    /// Flushes the counts of the requests drained since the last flush, within
    /// [`SHUTDOWN_FLUSH`]; what does not make it is lost with the process.
    fn flush_readiness(&self) {
        let (Some(control), Some(flusher)) = (&self.control, &self.readiness) else {
            return;
        };
        // The timeout is made inside the runtime: the thread that stops may have none.
        let flushed =
            control.block_on(async { tokio::time::timeout(SHUTDOWN_FLUSH, flusher.flush()).await });
        if !matches!(flushed, Ok(Ok(()))) {
            tracing::warn!(target: "strangler::readiness", "the last readiness counts were not flushed at shutdown");
        }
    }

    /// Starts the gated ramps' evaluator on `control` (see [`crate::resilience::ramp::watch`]).
    fn start_ramps(
        &self,
        control: &tokio::runtime::Runtime,
        flags: &Arc<FlagStore>,
        diffs: &SharedStore,
    ) {
        let sources = crate::resilience::ramp::watch::Sources {
            live: self.live.clone(),
            flags: flags.clone(),
            diffs: diffs.clone(),
        };
        let shutdown = self.shutdown.subscribe();
        control.spawn(crate::resilience::ramp::watch::run(
            self.ramps.clone(),
            sources,
            shutdown,
        ));
    }

    /// Starts the shadow workers on `shadow` and the diff store's writer on `control`, on
    /// the flag store's `database`. `diffs.in_flight` is read here, once: it takes effect
    /// on restart.
    fn start_shadowing(
        &mut self,
        shadow: &tokio::runtime::Runtime,
        control: &tokio::runtime::Runtime,
        database: SharedDatabase,
    ) -> SharedStore {
        let file = self.live.current().file.clone();
        let settings = file.diffs().clone();
        let (shadowing, records) = Shadowing::start(shadow, settings.in_flight);
        self.shadowing = Some(shadowing);
        let shared = SharedStore::default();
        let store = control.block_on(diff_writer::connect_at_start(&database, &settings));
        if let Some(store) = &store {
            let _ = shared.set(store.clone());
        }
        let shutdown = self.shutdown.subscribe();
        let writer = diff_writer::run(database, store, settings, records, shared.clone(), shutdown);
        control.spawn(writer);
        shared
    }

    /// What the admin handlers share with this instance.
    fn admin_state(
        &self,
        tokens: Arc<[crate::admin::tokens::AdminToken]>,
        flags: Arc<FlagStore>,
        diffs: SharedStore,
    ) -> AdminState {
        AdminState {
            live: self.live.clone(),
            rate_limiter: self.rate_limiter.clone(),
            ready: self.ready.clone(),
            tokens,
            flags,
            diffs,
            guards: self.guards.clone(),
            ramps: self.ramps.clone(),
            health: self.health.clone(),
            readiness: self
                .readiness
                .clone()
                .expect("the readiness flusher starts before the admin listener"),
            lifecycle: Arc::new(self.handover.report(self.grace)),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        let _ = self.admin_stop.send(true);
        if let Some(workers) = self.runtime.take() {
            workers.stop_now();
        }
        for runtime in [self.shadow.take(), self.control.take()]
            .into_iter()
            .flatten()
        {
            runtime.shutdown_background();
        }
    }
}

fn bind(
    given: Option<TcpListener>,
    configured: SocketAddr,
    what: &'static str,
) -> Result<TcpListener, StartError> {
    match given {
        Some(listener) => Ok(listener),
        None => TcpListener::bind(configured).map_err(|source| StartError::Bind {
            what,
            addr: configured,
            source,
        }),
    }
}

fn new_runtime(name: &'static str, threads: usize) -> Result<tokio::runtime::Runtime, StartError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(StartError::io(name))
}
