//! Where routes.yaml meets the machine. The flags crate compiles text and does no I/O; this
//! module reads the file and lends the compiler the [`Machine`]: the system resolver for
//! upstream names, the file system for key files, the process's environment for secrets.
//! Every command that loads routes.yaml (`run`, `check`, `explain`, `diffs`, the demo, the
//! upgrade's check and each reload) loads it here, so they all see the same surroundings.

use std::ffi::OsString;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use strangler_flags::store_url::sqlite_path;
use strangler_flags::tls::CertifiedPair;
use strangler_flags::{ConfigError, ConfigErrors, Snapshot, Surroundings};

/// The surroundings of this process: names resolved with `ToSocketAddrs` (the system
/// resolver, blocking, so a reload resolves on the thread that reloads, never on the
/// request path), key files and certificates read from disk (certificates checked with
/// rustls, `crate::tls::material`), secrets read from the environment.
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

    fn certificate(&self, cert: &Path, key: &Path) -> Result<CertifiedPair, String> {
        crate::tls::material::read_pair(cert, key)
    }

    fn now_unix(&self) -> Option<i64> {
        Some(crate::tls::material::now_unix())
    }

    fn ca_bundle(&self, path: &Path) -> Result<Vec<Vec<u8>>, String> {
        crate::tls::material::read_ca_bundle(path)
    }

    fn alt_timer_available(&self) -> bool {
        cfg!(tokio_unstable)
    }
}

/// Reads, validates and compiles the file at `path` (named as given in errors).
pub fn load(path: &Path) -> Result<Snapshot, ConfigErrors> {
    let text = read(path)?;
    compile(&text, path)
}

/// Validates and compiles `text`, read from `path`, in this machine's surroundings.
pub fn compile(text: &str, path: &Path) -> Result<Snapshot, ConfigErrors> {
    let origin = path.display().to_string();
    let snapshot = Snapshot::parse(text, &origin, &Machine)?;
    Ok(store_where_it_was(snapshot, origin))
}

/// A relative SQLite `store:` is found beside routes.yaml; releases before this one found
/// it in the working directory. When the file is not beside routes.yaml but is in the
/// working directory, it is used there, with a warning that says where to move it: flags
/// and comparisons recorded before an upgrade are never left behind for an empty store.
fn store_where_it_was(snapshot: Snapshot, origin: String) -> Snapshot {
    let Some(written) = snapshot.store_written_relative().map(str::to_owned) else {
        return snapshot;
    };
    let Some(now) = sqlite_path(snapshot.store_url()).map(str::to_owned) else {
        return snapshot;
    };
    if Path::new(&now).exists() || !Path::new(&written).exists() {
        return snapshot;
    }
    let url = snapshot.store_url().replacen(&now, &written, 1);
    let warning = ConfigError {
        origin,
        line: None,
        column: None,
        message: format!(
            "store: {written} is now looked for beside routes.yaml ({now}); it is used from \
             the working directory, where it is, until it is moved there"
        ),
    };
    snapshot.with_store_found_at(&url, warning)
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
