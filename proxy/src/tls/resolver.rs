//! The certificate a TLS listener presents, chosen by the server name the client sends
//! (SNI): an exact name first, then a `*.example.com` wildcard, else the listener's first
//! certificate. The table sits behind an `ArcSwap`, so rotation ([`super::rotation`]) puts
//! a new pair in place for the next handshake while connections already up keep theirs.

use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use strangler_flags::tls::name_matches;

/// One certificate and the names that select it.
#[derive(Debug)]
pub struct Entry {
    /// Lowercase names, exact or `*.` wildcards.
    pub names: Vec<String>,
    /// What rustls signs the handshake with.
    pub key: Arc<CertifiedKey>,
}

/// The certificates of one listener, in routes.yaml's order; never empty.
#[derive(Debug)]
pub struct Table(pub Vec<Entry>);

impl Table {
    /// The certificate for `server_name` (lowercase), or the first when none names it.
    fn choose(&self, server_name: Option<&str>) -> Option<&Arc<CertifiedKey>> {
        let Some(name) = server_name else {
            return self.0.first().map(|e| &e.key);
        };
        let exact = self.0.iter().find(|e| e.names.iter().any(|n| n == name));
        let wildcard = || {
            (self.0.iter()).find(|e| {
                e.names
                    .iter()
                    .any(|n| n.starts_with("*.") && name_matches(n, name))
            })
        };
        exact.or_else(wildcard).or(self.0.first()).map(|e| &e.key)
    }
}

/// rustls's certificate resolver over a swappable [`Table`].
#[derive(Debug)]
pub struct SniResolver {
    table: ArcSwap<Table>,
}

impl SniResolver {
    /// A resolver serving `table`.
    pub fn new(table: Table) -> SniResolver {
        SniResolver {
            table: ArcSwap::from_pointee(table),
        }
    }

    /// Serves `table` from the next handshake on.
    pub fn replace(&self, table: Table) {
        self.table.store(Arc::new(table));
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name().map(str::to_ascii_lowercase);
        self.table.load().choose(name.as_deref()).cloned()
    }
}
