//! Zero-downtime binary upgrade, the way Pingora does it: the new process (`strangler run
//! --upgrade`) listens on the upgrade socket and waits for the old one's listening sockets;
//! the old process, on SIGQUIT, connects to that socket, sends its proxy and admin listeners
//! (`SCM_RIGHTS`, through Pingora's [`Fds`] table and wire format), and then drains within
//! its `shutdown_grace:`. The listening sockets never close, so no connection is refused:
//! what arrives while the new process starts waits in the kernel's accept queue.
//!
//! The socket is `upgrade_sock:`, or one derived from `listen:` (see
//! [`strangler_flags::config::lifecycle::Lifecycle::upgrade_sock`]), read at start.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use pingora::server::Fds;
use strangler_flags::Snapshot;

use crate::Launch;

/// How long `strangler run --upgrade` waits for the old process to send its sockets.
pub const RECEIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the old process keeps accepting after sending its sockets, before it drains
/// (Pingora's `CLOSE_TIMEOUT`): the new one picks the sockets up within a second and then
/// finishes its start, and meanwhile connections are still accepted instead of queueing.
pub const HANDOVER_OVERLAP: Duration = Duration::from_secs(5);
/// The key of the proxy listener in the transferred table.
const PROXY_KEY: &str = "proxy";
/// The key of the admin listener in the transferred table.
const ADMIN_KEY: &str = "admin";

/// Why an upgrade step failed.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// routes.yaml did not load, so the new process does not take the sockets.
    #[error("{0}")]
    Config(String),
    /// `listen:` is on port 0 and routes.yaml has no `upgrade_sock:`.
    #[error("listen {listen} is on port 0, so there is no default upgrade socket: set upgrade_sock: in routes.yaml")]
    NoSocket {
        /// The configured listen address.
        listen: SocketAddr,
    },
    /// The path is not UTF-8.
    #[error("upgrade socket {path:?} is not UTF-8")]
    NotUtf8 {
        /// The upgrade socket.
        path: PathBuf,
    },
    /// No unix socket can be created at the path (missing directory, permissions).
    #[error("upgrade socket {path:?}: {source}")]
    Bind {
        /// The upgrade socket.
        path: PathBuf,
        /// Why binding it failed.
        source: std::io::Error,
    },
    /// No old process sent its sockets in time.
    #[error("no old process sent its listening sockets to {path:?} within {waited:?} (send it SIGQUIT after starting this one)")]
    Timeout {
        /// The upgrade socket.
        path: PathBuf,
        /// How long this process waited.
        waited: Duration,
    },
    /// Receiving or sending failed.
    #[error("upgrade socket {path:?}: {errno}")]
    Transfer {
        /// The upgrade socket.
        path: PathBuf,
        /// The system error.
        errno: Errno,
    },
    /// The old process sent a table without both listeners.
    #[error(
        "upgrade socket {path:?}: the old process sent {keys:?}, not a proxy and an admin listener"
    )]
    Incomplete {
        /// The upgrade socket.
        path: PathBuf,
        /// The keys it sent.
        keys: Vec<String>,
    },
}

/// What the old process needs to hand its listeners over on SIGQUIT, taken at start.
#[derive(Debug)]
pub struct Handover {
    /// The upgrade socket, `None` for a port-0 listener without `upgrade_sock:`.
    sock: Option<PathBuf>,
    /// The listen address, for the error when there is no socket.
    listen: SocketAddr,
    /// The proxy listener's descriptor (it stays open for the life of the instance).
    proxy: RawFd,
    /// The admin listener's descriptor.
    admin: RawFd,
}

impl Handover {
    /// Records the socket `snapshot` names and the descriptors of both listeners.
    pub fn new(snapshot: &Snapshot, proxy: &TcpListener, admin: &TcpListener) -> Handover {
        let listen = snapshot.listen();
        Handover {
            sock: snapshot.lifecycle().upgrade_sock(listen),
            listen,
            proxy: proxy.as_raw_fd(),
            admin: admin.as_raw_fd(),
        }
    }

    /// What `/admin/config` shows as `lifecycle`: the grace and the upgrade socket this
    /// process uses (read at start; a reload does not change them).
    pub fn report(&self, grace: Duration) -> serde_json::Value {
        serde_json::json!({
            "shutdown_grace_ms": grace.as_millis() as u64,
            "upgrade_sock": self.sock.as_ref().map(|p| p.display().to_string()),
        })
    }

    /// Sends both listeners to the new process waiting on the upgrade socket (retrying for
    /// about five seconds while it is not there yet), then keeps serving beside it for
    /// [`HANDOVER_OVERLAP`]. On success the caller drains.
    pub fn send(&self) -> Result<(), UpgradeError> {
        let path = self.sock.as_deref().ok_or(UpgradeError::NoSocket {
            listen: self.listen,
        })?;
        let mut fds = Fds::new();
        fds.add(PROXY_KEY.into(), self.proxy);
        fds.add(ADMIN_KEY.into(), self.admin);
        fds.send_to_sock(utf8(path)?)
            .map_err(|errno| transfer(path, errno))?;
        tracing::info!(sock = %path.display(), overlap = ?HANDOVER_OVERLAP, "upgrade: listening sockets handed over");
        std::thread::sleep(HANDOVER_OVERLAP);
        Ok(())
    }
}

/// For `strangler run --upgrade`: validates the launch's routes.yaml, waits up to
/// [`RECEIVE_TIMEOUT`] on its upgrade socket for the old process's listeners, and puts
/// them in `launch` in place of binding.
pub fn inherit(launch: &mut Launch) -> Result<(), UpgradeError> {
    let snapshot =
        Snapshot::load(&launch.config).map_err(|e| UpgradeError::Config(e.to_string()))?;
    let listen = snapshot.listen();
    let path = snapshot
        .lifecycle()
        .upgrade_sock(listen)
        .ok_or(UpgradeError::NoSocket { listen })?;
    tracing::info!(sock = %path.display(), "upgrade: waiting for the old process's listening sockets");
    let (proxy, admin) = receive(&path, RECEIVE_TIMEOUT)?;
    let inherited = proxy.local_addr().ok();
    if listen.port() != 0 && inherited != Some(listen) {
        tracing::warn!(?inherited, %listen, "upgrade: serving on the inherited listener; a new listen: takes a restart");
    }
    tracing::info!(proxy = ?inherited, "upgrade: listening sockets received");
    launch.listen = Some(proxy);
    launch.admin = Some(admin);
    Ok(())
}

/// Listens on `path` until an old process sends a table with both listeners, or `limit`.
fn receive(path: &Path, limit: Duration) -> Result<(TcpListener, TcpListener), UpgradeError> {
    let text = utf8(path)?;
    check_bindable(path)?;
    let started = Instant::now();
    let mut fds = Fds::new();
    // Each call listens for about six seconds (Pingora's retries), then gives up.
    loop {
        match fds.get_from_sock(text) {
            Ok(()) => break,
            Err(Errno::EAGAIN) if started.elapsed() < limit => continue,
            Err(Errno::EAGAIN) => {
                return Err(UpgradeError::Timeout {
                    path: path.into(),
                    waited: started.elapsed(),
                })
            }
            Err(errno) => return Err(transfer(path, errno)),
        }
    }
    let (keys, _) = fds.serialize();
    match (fds.get(PROXY_KEY), fds.get(ADMIN_KEY)) {
        (Some(&proxy), Some(&admin)) => Ok((adopt(proxy), adopt(admin))),
        _ => Err(UpgradeError::Incomplete {
            path: path.into(),
            keys,
        }),
    }
}

/// Owns a listening socket received from the old process.
#[allow(unsafe_code)]
fn adopt(fd: RawFd) -> TcpListener {
    // SAFETY: `fd` arrived through SCM_RIGHTS a moment ago: the kernel installed it as a new
    // descriptor of this process, which nothing else here owns or will close.
    unsafe { TcpListener::from_raw_fd(fd) }
}

fn utf8(path: &Path) -> Result<&str, UpgradeError> {
    path.to_str()
        .ok_or_else(|| UpgradeError::NotUtf8 { path: path.into() })
}

/// Binds (and removes) a unix socket at `path` first: Pingora's receiver panics when it
/// cannot, and this turns that into an error naming the path.
fn check_bindable(path: &Path) -> Result<(), UpgradeError> {
    let bind_error = |source| UpgradeError::Bind {
        path: path.into(),
        source,
    };
    // A socket file left by an earlier process that died; Pingora removes it too.
    let _ = std::fs::remove_file(path);
    drop(UnixListener::bind(path).map_err(bind_error)?);
    std::fs::remove_file(path).map_err(bind_error)
}

fn transfer(path: &Path, errno: Errno) -> UpgradeError {
    UpgradeError::Transfer {
        path: path.into(),
        errno,
    }
}
