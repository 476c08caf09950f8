//! Zero-downtime binary upgrade, the way Pingora does it: the new process (`strangler run
//! --upgrade`) listens on the upgrade socket and waits for the old one's listening sockets;
//! the old process, on SIGQUIT, connects to that socket, sends its proxy and admin listeners
//! (`SCM_RIGHTS`, through Pingora's [`Fds`] table and wire format), keeps accepting beside
//! the new one for [`HANDOVER_OVERLAP`], and then drains within its `shutdown_grace:`. The listening sockets never close, so no connection is refused:
//! what arrives while the new process starts waits in the kernel's accept queue.
//!
//! The socket is `upgrade_sock:`, or one derived from `listen:` (see
//! [`strangler_flags::config::lifecycle::Lifecycle::upgrade_sock`]), read at start.

use std::io::IoSliceMut;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
use pingora::server::Fds;
use strangler_flags::Snapshot;

use crate::process::launch::Launch;

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
    /// The proxy listeners' descriptors, in `listen:`'s order (they stay open for the life
    /// of the instance).
    proxy: Vec<RawFd>,
    /// The admin listener's descriptor.
    admin: RawFd,
}

impl Handover {
    /// Records the socket `snapshot` names and the descriptors of the listeners.
    pub fn new(snapshot: &Snapshot, proxy: &[TcpListener], admin: &TcpListener) -> Handover {
        let listen = snapshot.listen();
        Handover {
            sock: snapshot.lifecycle().upgrade_sock(listen),
            listen,
            proxy: proxy.iter().map(AsRawFd::as_raw_fd).collect(),
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
        for (index, fd) in self.proxy.iter().enumerate() {
            fds.add(proxy_key(index), *fd);
        }
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
    let snapshot = crate::live::routes_file::load(&launch.config)
        .map_err(|e| UpgradeError::Config(e.to_string()))?;
    let listen = snapshot.listen();
    let path = snapshot
        .lifecycle()
        .upgrade_sock(listen)
        .ok_or(UpgradeError::NoSocket { listen })?;
    tracing::info!(sock = %path.display(), "upgrade: waiting for the old process's listening sockets");
    let (mut proxy, admin) = receive(&path, RECEIVE_TIMEOUT)?;
    let inherited = proxy[0].local_addr().ok();
    if listen.port() != 0 && inherited != Some(listen) {
        tracing::warn!(?inherited, %listen, "upgrade: serving on the inherited listener; a new listen: takes a restart");
    }
    tracing::info!(proxy = ?inherited, "upgrade: listening sockets received");
    launch.more_listeners = proxy.split_off(1);
    launch.listen = proxy.pop();
    launch.admin = Some(admin);
    Ok(())
}

/// The key of the `index`th proxy listener in the transferred table: [`PROXY_KEY`] for the
/// first (as releases with one listener sent it), then `proxy-1`, `proxy-2`, ...
fn proxy_key(index: usize) -> String {
    match index {
        0 => PROXY_KEY.into(),
        n => format!("{PROXY_KEY}-{n}"),
    }
}

/// Listens on `path` until an old process sends a table with both listeners, or `limit`.
///
/// The receiving side of Pingora's transfer, written here rather than
/// [`Fds::get_from_sock`]: that one listens in rounds of about six seconds, re-creating the
/// socket between rounds (a sender connecting in that instant believes it handed over
/// while nobody reads), logs an error every second, and panics when it cannot bind.
fn receive(path: &Path, limit: Duration) -> Result<(Vec<TcpListener>, TcpListener), UpgradeError> {
    let io_error = |source| UpgradeError::Bind {
        path: path.into(),
        source,
    };
    // A socket file left by an earlier process that died.
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(io_error)?;
    let accepted = accept_within(&listener, limit);
    let _ = std::fs::remove_file(path);
    let stream = match accepted {
        Ok(Some(stream)) => stream,
        Ok(None) => {
            return Err(UpgradeError::Timeout {
                path: path.into(),
                waited: limit,
            })
        }
        Err(source) => return Err(io_error(source)),
    };
    let (keys, fds) = read_table(&stream).map_err(|errno| transfer(path, errno))?;
    let mut table: Vec<(String, OwnedFd)> = keys.iter().cloned().zip(fds).collect();
    let mut take = |key: &str| {
        let index = table.iter().position(|(k, _)| k == key)?;
        Some(TcpListener::from(table.swap_remove(index).1))
    };
    let first = take(PROXY_KEY);
    let more = (1..).map_while(|index| take(&proxy_key(index)));
    let proxy: Vec<TcpListener> = first.into_iter().chain(more).collect();
    match (proxy.is_empty(), take(ADMIN_KEY)) {
        (false, Some(admin)) => Ok((proxy, admin)),
        _ => Err(UpgradeError::Incomplete {
            path: path.into(),
            keys,
        }),
    }
}

/// The first connection to `listener` within `limit`, polling every 50 ms.
fn accept_within(listener: &UnixListener, limit: Duration) -> std::io::Result<Option<UnixStream>> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + limit;
    loop {
        match listener.accept() {
            Ok((stream, _)) => return Ok(Some(stream)),
            Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => return Err(e),
            Err(_) if Instant::now() >= deadline => return Ok(None),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Reads Pingora's message: the keys, space-separated, with one descriptor each attached
/// (`SCM_RIGHTS`, in the same order).
fn read_table(stream: &UnixStream) -> Result<(Vec<String>, Vec<OwnedFd>), Errno> {
    stream.set_nonblocking(false).map_err(|_| Errno::EIO)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|_| Errno::EIO)?;
    let mut payload = [0u8; 2048];
    let mut space = nix::cmsg_space!([RawFd; 32]);
    let (bytes, raw) = {
        let mut io = [IoSliceMut::new(&mut payload)];
        let flags = MsgFlags::MSG_CMSG_CLOEXEC;
        let message = recvmsg::<UnixAddr>(stream.as_raw_fd(), &mut io, Some(&mut space), flags)?;
        let mut raw = Vec::new();
        for control in message.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = control {
                raw.extend(fds);
            }
        }
        (message.bytes, raw)
    };
    let fds: Vec<OwnedFd> = raw.into_iter().map(adopt).collect();
    let keys = std::str::from_utf8(&payload[..bytes]).map_err(|_| Errno::EINVAL)?;
    let keys: Vec<String> = keys.split_ascii_whitespace().map(String::from).collect();
    match keys.len() == fds.len() {
        true => Ok((keys, fds)),
        false => Err(Errno::EINVAL),
    }
}

/// Owns a descriptor received from the old process.
#[allow(unsafe_code)]
fn adopt(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` arrived through SCM_RIGHTS a moment ago: the kernel installed it as a new
    // descriptor of this process, which nothing else here owns or will close.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn utf8(path: &Path) -> Result<&str, UpgradeError> {
    path.to_str()
        .ok_or_else(|| UpgradeError::NotUtf8 { path: path.into() })
}

fn transfer(path: &Path, errno: Errno) -> UpgradeError {
    UpgradeError::Transfer {
        path: path.into(),
        errno,
    }
}
