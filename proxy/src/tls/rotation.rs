//! Listener certificates that change without a restart. Every [`POLL`] the certificate and
//! key files of each TLS listener are looked at (modification time, size and inode, through
//! symlinks: a Kubernetes secret's `..data` swap and cert-manager's rewrite both show); a
//! pair whose files changed is read and checked again and, when good, serves the next
//! handshakes (connections already up keep theirs). A pair that fails to load is logged
//! and counted, and the old one keeps serving. A reload of routes.yaml that names other
//! files for a listener brings its already-checked pairs in the same way.
//!
//! Listener addresses are bound at start: a reload changes certificates, not addresses.

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use strangler_flags::tls::{CertifiedPair, ListenerCert};
use strangler_flags::Snapshot;

use super::material::{read_pair, signing_pair};
use super::resolver::{Entry, SniResolver, Table};

/// How often the files are looked at.
pub const POLL: Duration = Duration::from_secs(2);

/// What identifies a version of a file on disk.
type Stamp = Option<(SystemTime, u64, u64)>;

/// The certificates of every TLS listener, as serving now, indexed like `listen:`
/// (`None` for a plain listener).
pub struct ServedCerts {
    listeners: Vec<Option<Served>>,
    /// The admin listener's, with `admin_tls:`.
    admin: Option<Served>,
    /// Listeners a reload changed in a way only a restart applies, already warned about.
    warned: Mutex<std::collections::BTreeSet<usize>>,
}

/// One TLS listener's resolver and the sources of its certificates.
struct Served {
    addr: SocketAddr,
    resolver: Arc<SniResolver>,
    state: Mutex<State>,
}

/// What a listener serves and where it came from.
struct State {
    /// The certificates as routes.yaml last named them (a reload is noticed against these,
    /// not against the rotated ones).
    adopted: Vec<ListenerCert>,
    /// The certificates serving, rotated since.
    sources: Vec<Source>,
}

/// One certificate as loaded, and the stamps of its files then.
struct Source {
    cert: ListenerCert,
    stamps: (Stamp, Stamp),
}

impl ServedCerts {
    /// The certificates of `snapshot`'s TLS listeners (already read and checked by the
    /// load); an error when one cannot sign.
    pub fn new(snapshot: &Snapshot) -> Result<ServedCerts, String> {
        let listeners = snapshot.listeners().iter().map(|l| match &l.tls {
            Some(tls) => served(l.addr, &tls.certs).map(Some),
            None => Ok(None),
        });
        let admin = snapshot.admin_tls().map(|tls| {
            let certs = std::slice::from_ref(&tls.cert);
            served(snapshot.admin(), certs)
        });
        Ok(ServedCerts {
            listeners: listeners.collect::<Result<_, _>>()?,
            admin: admin.transpose()?,
            warned: Mutex::default(),
        })
    }

    /// The admin listener's resolver, with `admin_tls:`.
    pub fn admin_resolver(&self) -> Option<Arc<SniResolver>> {
        Some(self.admin.as_ref()?.resolver.clone())
    }

    /// The resolver of the `index`th listener of `listen:`, if it is a TLS listener.
    pub fn resolver(&self, index: usize) -> Option<Arc<SniResolver>> {
        let served = self.listeners.get(index)?.as_ref()?;
        Some(served.resolver.clone())
    }

    /// Adopts the certificates `snapshot` names for each listener (same place in `listen:`,
    /// same address), where they differ from the ones loaded (a reload that changed `tls:`).
    pub fn follow(&self, snapshot: &Snapshot) {
        let pairs = self.listeners.iter().zip(snapshot.listeners());
        for (index, (served, configured)) in pairs.enumerate() {
            match (served, &configured.tls) {
                (Some(served), Some(tls)) if configured.addr == served.addr => {
                    served.adopt(&tls.certs)
                }
                (None, None) => {}
                _ => self.warn_once(index),
            }
        }
        if let (Some(served), Some(tls)) = (&self.admin, snapshot.admin_tls()) {
            served.adopt(std::slice::from_ref(&tls.cert));
        }
    }

    /// Says once per listener that a reload changed what it is (its address, TLS on or
    /// off), which only a restart or an upgrade applies.
    fn warn_once(&self, index: usize) {
        if self.warned.lock().insert(index) {
            tracing::warn!(listener = index, "listen: changed for this listener (address, or TLS on or off): a restart or an upgrade applies it; its certificates stay as they are");
        }
    }

    /// Reads again every pair whose files changed since it was loaded.
    pub fn poll(&self) {
        for served in self.listeners.iter().flatten().chain(&self.admin) {
            let mut state = served.state.lock();
            let sources = &mut state.sources;
            let mut changed = false;
            for source in sources.iter_mut() {
                changed |= source.refresh(served.addr);
            }
            if !changed {
                continue;
            }
            let certs: Vec<ListenerCert> = sources.iter().map(|s| s.cert.clone()).collect();
            match table(&certs) {
                Ok(table) => served.resolver.replace(table),
                Err(e) => {
                    tracing::error!(listener = %served.addr, error = %e, "rotated certificates cannot sign; the old ones keep serving")
                }
            }
        }
    }
}

impl Served {
    /// Serves `certs` (a reload's), unless they are the ones adopted last.
    fn adopt(&self, certs: &[ListenerCert]) {
        let mut state = self.state.lock();
        if state.adopted == certs {
            return;
        }
        match table(certs) {
            Ok(table) => {
                self.resolver.replace(table);
                state.adopted = certs.to_vec();
                state.sources = certs.iter().cloned().map(Source::new).collect();
                tracing::info!(listener = %self.addr, "listener certificates follow the reloaded routes.yaml");
            }
            Err(e) => {
                tracing::error!(listener = %self.addr, error = %e, "reloaded certificates cannot sign; the old ones keep serving")
            }
        }
    }
}

impl Source {
    fn new(cert: ListenerCert) -> Source {
        let stamps = (stamp(&cert.cert), stamp(&cert.key));
        Source { cert, stamps }
    }

    /// Reads the pair again when its files changed; true when a new pair was taken. A pair
    /// that fails is reported once per change of its files.
    fn refresh(&mut self, listener: SocketAddr) -> bool {
        let now = (stamp(&self.cert.cert), stamp(&self.cert.key));
        if now == self.stamps {
            return false;
        }
        self.stamps = now;
        let (cert, key) = (&self.cert.cert, &self.cert.key);
        match read_pair(cert, key) {
            Ok(pair) => {
                self.take(pair, listener);
                true
            }
            Err(e) => {
                metrics::counter!("strangler_tls_certificate_reloads_total", "result" => "error")
                    .increment(1);
                tracing::error!(%listener, cert = %cert.display(), error = %e, "a changed certificate does not load; the old one keeps serving");
                false
            }
        }
    }

    /// Serves `pair` from now on.
    fn take(&mut self, pair: CertifiedPair, listener: SocketAddr) {
        metrics::counter!("strangler_tls_certificate_reloads_total", "result" => "ok").increment(1);
        tracing::info!(%listener, cert = %self.cert.cert.display(), serial = %pair.serial, "certificate rotated");
        if !self.cert.names_written {
            self.cert.names = pair.names.clone();
        }
        self.cert.pair = Arc::new(pair);
    }
}

/// The resolver of one listener's certificates.
fn served(addr: SocketAddr, certs: &[ListenerCert]) -> Result<Served, String> {
    let resolver = Arc::new(SniResolver::new(table(certs)?));
    let sources = certs.iter().cloned().map(Source::new).collect();
    let adopted = certs.to_vec();
    Ok(Served {
        addr,
        resolver,
        state: Mutex::new(State { adopted, sources }),
    })
}

/// The SNI table of `certs`, their expiry recorded.
fn table(certs: &[ListenerCert]) -> Result<Table, String> {
    let entries = certs.iter().map(|c| {
        record_expiry(c);
        let key = signing_pair(&c.pair).map_err(|e| format!("{}: {e}", c.cert.display()))?;
        Ok(Entry {
            names: c.names.clone(),
            key,
        })
    });
    Ok(Table(entries.collect::<Result<_, String>>()?))
}

/// `strangler_tls_certificate_expiry_seconds{name}` of `cert`.
fn record_expiry(cert: &ListenerCert) {
    let name = match cert.names.first() {
        Some(name) => name.clone(),
        None => cert.cert.display().to_string(),
    };
    let gauge = metrics::gauge!("strangler_tls_certificate_expiry_seconds", "name" => name);
    gauge.set(cert.pair.not_after as f64);
}

/// The file's modification time, size and inode (through symlinks); `None` when missing.
fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len(), meta.ino()))
}
