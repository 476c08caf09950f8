//! Telling systemd (`Type=notify`, `NotifyAccess=all`) that this process is ready and is
//! the service's main process. After a binary upgrade the new process, started from
//! `ExecReload=`, is not the process systemd started: `MAINPID=` makes it the main one, so
//! systemd keeps the service running when the old process exits (docs/resilience/upgrade.md).

use std::ffi::OsStr;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// The variable systemd sets to the datagram socket notifications go to.
const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Sends `READY=1` and `MAINPID=<this pid>` when systemd asked for notifications; a
/// failure is logged, never fatal (the proxy serves either way).
pub fn notify_ready() {
    let Some(socket) = std::env::var_os(NOTIFY_SOCKET) else {
        return;
    };
    let message = format!("READY=1\nMAINPID={}\n", std::process::id());
    if let Err(e) = send(&socket, message.as_bytes()) {
        tracing::warn!(error = %e, "systemd: could not send the readiness notification");
    }
}

/// One datagram to `socket`, a path or (leading `@`) an abstract socket name.
fn send(socket: &OsStr, message: &[u8]) -> std::io::Result<()> {
    let sender = UnixDatagram::unbound()?;
    let address = match socket.as_bytes().strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(socket)?,
    };
    sender.send_to_addr(message, &address)?;
    Ok(())
}
