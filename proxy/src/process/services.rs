//! The instance's long-running services, started by [`crate::process::server`]: Pingora's
//! listening service over the edge, a watch on it, and the admin listener.

use std::net::TcpListener;
use std::os::fd::IntoRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pingora::apps::HttpServerOptions;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::proxy::HttpProxy;
use pingora::server::configuration::ServerConf;
use pingora::server::Fds;
use pingora::services::Service as _;
use tokio::sync::watch;

use crate::admin::listener;
use crate::admin::state::AdminState;
use crate::connection::downstream::Downstream;
use crate::connection::h2_stream::StreamWatch;
use crate::connection::pressure::Pressure;
use crate::connection::tls::Terminator;
use crate::process::admin_tls;
use crate::process::launch::StartError;
use crate::request::edge::Edge;

/// Starts one Pingora listening service per listener, in the current (worker) runtime, each
/// with `threads` workers, an edge from `edge` for HTTP/1 and one for h2c (and HTTP/2 over
/// TLS), the listener's TLS terminator if it has one, and `pressure` keeping the
/// connections under the open-files limit.
pub(super) fn spawn_proxy(
    listeners: Vec<(TcpListener, Option<Arc<Terminator>>)>,
    threads: usize,
    edge: impl Fn() -> Edge,
    pressure: Arc<Pressure>,
    shutdown: watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, StartError> {
    let conf = Arc::new(ServerConf {
        threads,
        ..ServerConf::default()
    });
    let services = listeners.into_iter().map(|(listener, tls)| {
        let app = downstream(&edge, &conf, pressure.clone(), tls);
        spawn_listening(listener, app, shutdown.clone())
    });
    services.collect()
}

/// The app serving one listener's connections.
fn downstream(
    edge: &impl Fn() -> Edge,
    conf: &Arc<ServerConf>,
    pressure: Arc<Pressure>,
    tls: Option<Arc<Terminator>>,
) -> Downstream<HttpProxy<Edge>, StreamWatch<HttpProxy<Edge>>> {
    let first = edge();
    let (live, drain) = (first.live.clone(), first.drain.clone());
    let h2c_heads = first.h2c_heads.clone();
    Downstream {
        // HTTP/1 sessions only: no HTTP/2 stream to watch, no wrapper on every request.
        http1: Arc::new(proxy_app(first, conf, false)),
        h2c: Arc::new(StreamWatch::new(proxy_app(edge(), conf, true))),
        live,
        drain,
        h2c_heads,
        pressure,
        tls,
    }
}

/// Pingora's listening service of `app` on `listener`.
fn spawn_listening(
    listener: TcpListener,
    app: Downstream<HttpProxy<Edge>, StreamWatch<HttpProxy<Edge>>>,
    shutdown: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, StartError> {
    let address = listener
        .local_addr()
        .map_err(StartError::io("reading the proxy listener's address"))?
        .to_string();
    listener
        .set_nonblocking(true)
        .map_err(StartError::io("setting the proxy listener non-blocking"))?;
    let mut fds = Fds::new();
    fds.add(address.clone(), listener.into_raw_fd());
    let mut service = pingora::services::listening::Service::new("strangler".into(), app);
    service.add_listener(ListenerConfig::tcp(&address).l4_buffer(downstream_buffers()));
    let fds = Arc::new(parking_lot::Mutex::new(fds));
    Ok(tokio::spawn(async move {
        service.start_service(Some(fds), shutdown, 1).await
    }))
}

/// How long an HTTP/2 connection with no stream open is kept, like a kept-alive HTTP/1
/// connection between requests.
const H2_IDLE: Duration = Duration::from_secs(60);

/// One Pingora HTTP proxy over our [`Edge`], with h2c on or off and its idle HTTP/2
/// connections closed after [`H2_IDLE`]. The h2c one's streams are each watched for a
/// stalled body ([`StreamWatch`], by the caller).
fn proxy_app(edge: Edge, conf: &Arc<ServerConf>, h2c: bool) -> HttpProxy<Edge> {
    let mut proxy = HttpProxy::new(edge, conf.clone());
    proxy.handle_init_modules();
    let mut options = HttpServerOptions::default();
    options.h2c = h2c;
    options.h2_idle_timeout = Some(H2_IDLE);
    proxy.server_options = Some(options);
    proxy
}

/// If the listening service ever stops on its own, say so and stop claiming readiness.
pub(super) fn watch_proxy(
    proxy: tokio::task::JoinHandle<()>,
    ready: Arc<AtomicBool>,
    shutdown: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let outcome = proxy.await;
        if !*shutdown.borrow() {
            ready.store(false, Ordering::Relaxed);
            tracing::error!(?outcome, "the proxy listener stopped unexpectedly");
        }
    });
}

/// Serves the admin routes on `listener` until `shutdown`, in the current (control) runtime;
/// over TLS with `tls` (`admin_tls:`).
pub(super) fn spawn_admin(
    listener: TcpListener,
    state: AdminState,
    mut shutdown: watch::Receiver<bool>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<(), StartError> {
    listener
        .set_nonblocking(true)
        .map_err(StartError::io("setting the admin listener non-blocking"))?;
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(StartError::io("registering the admin listener"))?;
    let app = listener::router(state);
    let stopped = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    let Some(config) = tls else {
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "admin listener failed");
            }
        });
        return Ok(());
    };
    let incoming = admin_tls::Incoming::start(listener, config)
        .map_err(StartError::io("starting the admin listener's TLS"))?;
    tokio::spawn(async move {
        let served = axum::serve(incoming, app)
            .with_graceful_shutdown(stopped)
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "admin listener failed");
        }
    });
    Ok(())
}

/// Buffers of each client connection. Pingora gives every accepted connection a 64 KiB read
/// buffer in front of the socket, which idle keep-alive connections hold for their whole
/// life (10,000 idle clients: over 600 MiB). Its HTTP/1 and HTTP/2 code read headers and
/// bodies into buffers of their own, so the extra layer only saves syscalls for tiny reads;
/// strangler reads the socket directly and keeps Pingora's 1,460-byte write buffer
/// (docs/performance.md has the measurement).
fn downstream_buffers() -> L4BufferSettings {
    L4BufferSettings::default().read(0)
}
