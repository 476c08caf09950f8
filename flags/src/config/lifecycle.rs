//! How an instance stops and hands over: `shutdown_grace:` (how long SIGTERM, SIGINT and
//! the old process of an upgrade wait for requests in flight) and `upgrade_sock:` (the unix
//! socket through which a new process receives the listening sockets of the old one).
//!
//! Both are read at start only: a reload does not change them, because the grace and the
//! socket of a running process are what an operator's stop or upgrade relies on.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::parse_duration;
use super::problems::Problems;

/// The grace when `shutdown_grace:` is absent (Pingora's own default is 300 s).
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// The longest path a unix socket address holds (`sun_path` is 108 bytes with its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// The validated `shutdown_grace:` and `upgrade_sock:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    /// `shutdown_grace:` or [`DEFAULT_SHUTDOWN_GRACE`].
    pub shutdown_grace: Duration,
    /// `upgrade_sock:`, resolved against the directory of routes.yaml, when set.
    pub upgrade_sock: Option<PathBuf>,
}

impl Lifecycle {
    /// The upgrade socket: `upgrade_sock:`, else one derived from the listen address
    /// (`$TMPDIR/strangler-127.0.0.1-8080.upgrade.sock`), so two instances on different
    /// addresses never share one. `None` for a `listen:` on port 0, which has no address
    /// a successor could be started for: such an instance needs `upgrade_sock:`.
    pub fn upgrade_sock(&self, listen: SocketAddr) -> Option<PathBuf> {
        if let Some(path) = &self.upgrade_sock {
            return Some(path.clone());
        }
        (listen.port() != 0).then(|| derived_sock(&std::env::temp_dir(), listen))
    }
}

/// `<dir>/strangler-<ip>-<port>.upgrade.sock` (an IPv6 address without its brackets).
fn derived_sock(dir: &Path, listen: SocketAddr) -> PathBuf {
    dir.join(format!(
        "strangler-{}-{}.upgrade.sock",
        listen.ip(),
        listen.port()
    ))
}

/// Validates `shutdown_grace:` and `upgrade_sock:`; `base` is the directory of routes.yaml.
pub(crate) fn validate(
    shutdown_grace: Option<&str>,
    upgrade_sock: Option<&str>,
    base: &Path,
    problems: &mut Problems<'_>,
) -> Option<Lifecycle> {
    let grace = match shutdown_grace.map(parse_duration) {
        None => Some(DEFAULT_SHUTDOWN_GRACE),
        Some(Ok(grace)) => Some(grace),
        Some(Err(message)) => {
            problems.at_value("shutdown_grace", format!("shutdown_grace: {message}"));
            None
        }
    };
    let sock = match upgrade_sock.map(|text| socket_path(text, base)) {
        None => Some(None),
        Some(Ok(path)) => Some(Some(path)),
        Some(Err(message)) => {
            problems.at_value("upgrade_sock", message);
            None
        }
    };
    Some(Lifecycle {
        shutdown_grace: grace?,
        upgrade_sock: sock?,
    })
}

/// A non-empty path that fits a unix socket address once resolved against `base`.
fn socket_path(text: &str, base: &Path) -> Result<PathBuf, String> {
    if text.is_empty() {
        return Err("upgrade_sock must name a file".into());
    }
    let path = base.join(text);
    let length = path.as_os_str().len();
    if length > MAX_SOCKET_PATH {
        return Err(format!(
            "upgrade_sock {:?} is {length} bytes long; a unix socket path holds at most \
             {MAX_SOCKET_PATH}",
            path.display()
        ));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lifecycle(upgrade_sock: Option<&str>) -> Lifecycle {
        Lifecycle {
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            upgrade_sock: upgrade_sock.map(PathBuf::from),
        }
    }

    #[test]
    fn derived_sockets_of_different_listen_addresses_never_collide() {
        let none = lifecycle(None);
        let addresses = [
            "127.0.0.1:8080",
            "127.0.0.1:8081",
            "10.0.0.2:8080",
            "[::1]:8080",
        ];
        let socks: Vec<PathBuf> = addresses
            .iter()
            .map(|a| none.upgrade_sock(a.parse().unwrap()).expect("derived"))
            .collect();
        for (i, a) in socks.iter().enumerate() {
            for b in &socks[i + 1..] {
                assert_ne!(a, b);
            }
        }
        let name = socks[0].file_name().unwrap().to_str().unwrap();
        assert_eq!(name, "strangler-127.0.0.1-8080.upgrade.sock");
    }

    #[test]
    fn port_zero_has_no_derived_socket_but_takes_a_configured_one() {
        let listen = "127.0.0.1:0".parse().unwrap();
        assert_eq!(lifecycle(None).upgrade_sock(listen), None);
        let set = lifecycle(Some("/run/strangler/a.sock"));
        assert_eq!(
            set.upgrade_sock(listen),
            Some("/run/strangler/a.sock".into())
        );
    }

    #[test]
    fn relative_socket_paths_are_beside_routes_yaml() {
        let path = socket_path("up.sock", Path::new("/etc/strangler")).unwrap();
        assert_eq!(path, PathBuf::from("/etc/strangler/up.sock"));
        assert!(socket_path("", Path::new("")).is_err());
        assert!(socket_path(&"x".repeat(108), Path::new("")).is_err());
    }
}
