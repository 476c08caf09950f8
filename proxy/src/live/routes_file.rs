//! Where routes.yaml meets the machine. The flags crate compiles text and does no I/O; this
//! module reads the file and lends the compiler the [`Machine`]: the system resolver for
//! upstream names, the file system for key files, the process's environment for secrets.
//! Every command that loads routes.yaml (`run`, `check`, `explain`, `diffs`, the demo, the
//! upgrade's check and each reload) loads it here, so they all see the same surroundings.

use std::ffi::OsString;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use strangler_flags::{ConfigError, ConfigErrors, Snapshot, Surroundings};

/// The surroundings of this process: names resolved with `ToSocketAddrs` (the system
/// resolver, blocking, so a reload resolves on the thread that reloads, never on the
/// request path), key files read from disk, secrets read from the environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Machine;

impl Surroundings for Machine {
    fn resolve(&self, authority: &str) -> io::Result<Option<SocketAddr>> {
        Ok(authority.to_socket_addrs()?.next())
    }

    fn read_key(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn secret(&self, name: &str) -> Option<OsString> {
        std::env::var_os(name)
    }
}

/// Reads, validates and compiles the file at `path` (named as given in errors).
pub fn load(path: &Path) -> Result<Snapshot, ConfigErrors> {
    let text = read(path)?;
    Snapshot::parse(&text, &path.display().to_string(), &Machine)
}

/// Reads the text [`load`] would compile, naming the file in the error: for a caller that
/// compares the text with what is serving before paying for a compile.
pub fn read(path: &Path) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(path).map_err(|err| {
        ConfigErrors::from(ConfigError {
            origin: path.display().to_string(),
            line: None,
            column: None,
            message: format!("cannot read: {err}"),
        })
    })
}
