//! What compiling routes.yaml needs from outside its text: upstream host names resolved to
//! addresses, the key files of `jwt:` and `qa.token` read, certificates read and checked,
//! and HS256 secrets taken from the environment. The crate asks for them through [`Surroundings`] and does no I/O itself, so
//! compiling a snapshot is a pure function of the text and the answers: the proxy implements
//! the trait with the system resolver, the file system and its environment; tests with a
//! fake that needs no network and no files.

use std::ffi::OsString;
use std::io;
use std::net::SocketAddr;
use std::path::Path;

use crate::tls::CertifiedPair;

/// Name resolution and key material, as the edge provides them while a file is compiled.
/// Error messages stay the crate's: an implementation returns the I/O error as it found it,
/// and the config names the upstream, file or variable and where routes.yaml asked for it.
pub trait Surroundings {
    /// The first address `authority` (`host:port`, the port always present) resolves to;
    /// `Ok(None)` when it resolves to no address at all.
    fn resolve(&self, authority: &str) -> io::Result<Option<SocketAddr>>;

    /// The text of the key file at `path`, already joined to the directory of routes.yaml.
    fn read_key(&self, path: &Path) -> io::Result<String>;

    /// The value of the environment variable `name` (an HS256 secret), if it is set.
    fn secret(&self, name: &str) -> Option<OsString>;

    /// The certificate chain at `cert` with its key at `key` (both PEM, already joined to
    /// routes.yaml's directory), checked: parsed, the key matching the leaf, the leaf not
    /// expired. The error says what is wrong, without the path (the config adds where).
    fn certificate(&self, cert: &Path, key: &Path) -> Result<CertifiedPair, String> {
        let _ = (cert, key);
        Err("these surroundings read no certificates".into())
    }

    /// The time now, in unix seconds, for the warning about a certificate that expires
    /// soon; `None` (the default) gives no such warning.
    fn now_unix(&self) -> Option<i64> {
        None
    }

    /// The CA certificates in the PEM file at `path`, DER; an error when it holds none.
    fn ca_bundle(&self, path: &Path) -> Result<Vec<Vec<u8>>, String> {
        let _ = path;
        Err("these surroundings read no certificates".into())
    }

    /// Whether the proxy reading the file was built with tokio's alternative timer
    /// (`--cfg tokio_unstable`), which `alt_timer: true` needs. Default: no.
    fn alt_timer_available(&self) -> bool {
        false
    }
}

/// Surroundings with nothing in them, for compiling a file that needs nothing but its text
/// (benchmarks, tests, a file that names no keys): an upstream resolves only when it is an
/// IP address, no key file exists and no secret is set. Does no I/O at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offline;

impl Surroundings for Offline {
    fn resolve(&self, authority: &str) -> io::Result<Option<SocketAddr>> {
        authority.parse().map(Some).map_err(|_| {
            let message = "not an IP address, and these surroundings resolve no names";
            io::Error::new(io::ErrorKind::NotFound, message)
        })
    }

    fn read_key(&self, _path: &Path) -> io::Result<String> {
        Err(io::ErrorKind::NotFound.into())
    }

    fn secret(&self, _name: &str) -> Option<OsString> {
        None
    }
}
