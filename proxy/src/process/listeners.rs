//! The proxy's listening sockets: one per entry of `listen:`, the first possibly handed in
//! already bound (a test's port 0) and the others received from an old process on upgrade,
//! each with the TLS terminator of its `tls:` section; and the task that rotates their
//! certificates ([`crate::tls::rotation`]).

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use strangler_flags::Snapshot;

use crate::connection::tls::Terminator;
use crate::live::config::LiveConfig;
use crate::process::launch::StartError;
use crate::tls::rotation::{ServedCerts, POLL};

/// The bound proxy listeners, in `listen:`'s order, with their TLS certificates.
pub(super) struct ProxyListeners {
    /// The sockets.
    pub sockets: Vec<TcpListener>,
    /// Their local addresses (a port 0 resolved).
    pub addrs: Vec<SocketAddr>,
    /// The certificates of the TLS ones.
    pub certs: Arc<ServedCerts>,
}

impl ProxyListeners {
    /// Binds every listener of `snapshot`, taking `given` in order in place of binding
    /// (the first from a test or an upgrade, the others from an upgrade).
    pub fn bind(given: Vec<TcpListener>, snapshot: &Snapshot) -> Result<Self, StartError> {
        let certs = ServedCerts::new(snapshot).map_err(StartError::Tls)?;
        let mut given = given.into_iter();
        let mut sockets = Vec::new();
        for listener in snapshot.listeners() {
            let socket = match given.next() {
                Some(socket) => socket,
                None => bind(listener.addr)?,
            };
            sockets.push(socket);
        }
        let addrs = sockets.iter().map(local_addr).collect::<Result<_, _>>()?;
        Ok(ProxyListeners {
            sockets,
            addrs,
            certs: Arc::new(certs),
        })
    }

    /// The admin listener's rustls settings, with `admin_tls:` in `snapshot`.
    pub fn admin_tls(
        &self,
        snapshot: &Snapshot,
    ) -> Result<Option<Arc<rustls::ServerConfig>>, StartError> {
        let (Some(tls), Some(resolver)) = (snapshot.admin_tls(), self.certs.admin_resolver())
        else {
            return Ok(None);
        };
        let config = crate::process::admin_tls::server_config(tls, resolver);
        config.map(Some).map_err(StartError::Tls)
    }

    /// The TLS terminator of each listener, `None` for plain ones.
    pub fn terminators(&self) -> Vec<Option<Arc<Terminator>>> {
        (0..self.sockets.len())
            .map(|index| Some(Arc::new(Terminator::new(self.certs.resolver(index)?))))
            .collect()
    }
}

/// Follows changed certificate files and reloaded `tls:` sections every [`POLL`], on the
/// current (control) runtime; does nothing without TLS listeners.
pub(super) fn rotate_certificates(certs: Arc<ServedCerts>, live: Arc<LiveConfig>) {
    let file = live.current().file.clone();
    let any_tls = file.listeners().iter().any(|l| l.tls.is_some()) || file.admin_tls().is_some();
    if !any_tls {
        return;
    }
    tokio::spawn(async move {
        let mut every = tokio::time::interval(POLL);
        loop {
            every.tick().await;
            let (certs, live) = (certs.clone(), live.clone());
            // File reads and signature checks: off the runtime's thread.
            let _ = tokio::task::spawn_blocking(move || {
                certs.follow(&live.current().file);
                certs.poll();
            })
            .await;
        }
    });
}

/// Binds `addr`.
pub(super) fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).map_err(|source| StartError::Bind {
        what: "listen",
        addr,
        source,
    })
}

/// The socket's local address.
pub(super) fn local_addr(listener: &TcpListener) -> Result<SocketAddr, StartError> {
    listener
        .local_addr()
        .map_err(StartError::io("reading a listener's address"))
}
