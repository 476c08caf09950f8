//! TLS material as routes.yaml names it, checked and read at load: the certificates of TLS
//! listeners (chosen by SNI) and what the proxy needs to reach an `https://` upstream (the
//! CA to trust, the name to verify, a client certificate for mTLS).
//!
//! Everything here is plain data (DER bytes, names, dates). The crate does no I/O and no
//! cryptography: the files are read, parsed and their keys matched by the
//! [`crate::Surroundings`] the caller lends (the proxy's uses rustls), which answers with a
//! [`CertifiedPair`] or says what is wrong; the proxy builds its TLS settings from these.

use std::path::PathBuf;
use std::sync::Arc;

/// A certificate chain and its private key, read and checked: PEM parsed, the key matches
/// the leaf's public key, the leaf is not expired.
#[derive(Clone, PartialEq, Eq)]
pub struct CertifiedPair {
    /// The chain in DER, leaf first, as the file lists it.
    pub chain: Vec<Vec<u8>>,
    /// The private key in DER (PKCS#8, SEC1 or PKCS#1, as the file had it).
    pub key: Vec<u8>,
    /// The DNS names the leaf is valid for (subject alternative names, else its CN),
    /// lowercase; `*.example.com` for a wildcard.
    pub names: Vec<String>,
    /// The leaf's `notAfter`, in unix seconds.
    pub not_after: i64,
    /// The leaf's serial number, in hex (logged when a new certificate starts serving).
    pub serial: String,
}

impl std::fmt::Debug for CertifiedPair {
    /// Everything but the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertifiedPair")
            .field("names", &self.names)
            .field("not_after", &self.not_after)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

/// A certificate expiring within this many seconds of the load is warned about (14 days).
pub const EXPIRY_WARNING: i64 = 14 * 24 * 3600;

impl CertifiedPair {
    /// The warning for a certificate that expires within [`EXPIRY_WARNING`] of `now`.
    pub fn expiry_warning(&self, now: i64) -> Option<String> {
        let left = self.not_after - now;
        (left < EXPIRY_WARNING).then(|| {
            let days = left / (24 * 3600);
            format!(
                "the certificate (serial {}) expires in {days} days; renew it",
                self.serial
            )
        })
    }
}

/// One certificate of a TLS listener: where it is read from (again, when the files change
/// on disk) and which server names select it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerCert {
    /// The PEM chain file, joined to routes.yaml's directory.
    pub cert: PathBuf,
    /// The PEM key file, joined to routes.yaml's directory.
    pub key: PathBuf,
    /// `names:`, lowercase, or the certificate's own names when the key is absent.
    pub names: Vec<String>,
    /// Whether `names:` was written (a rotated certificate then keeps the written names).
    pub names_written: bool,
    /// The pair as read at load.
    pub pair: Arc<CertifiedPair>,
}

/// A listener's `tls:`: its certificates, the first the default for a client that sends
/// no server name or one no certificate names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerTls {
    /// In file order; never empty.
    pub certs: Vec<ListenerCert>,
}

/// `admin_tls:`: the admin listener's certificate and, for mTLS, the CAs its clients'
/// certificates must come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTls {
    /// The certificate, read again when its files change, like a listener's.
    pub cert: ListenerCert,
    /// `client_ca`, DER; `None` asks no client certificate.
    pub client_ca: Option<Arc<[Vec<u8>]>>,
}

/// One proxy listener: `listen:` or an entry of its list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The address bound.
    pub addr: std::net::SocketAddr,
    /// `tls:`, when the listener speaks TLS.
    pub tls: Option<ListenerTls>,
}

/// How the proxy reaches an `https://` upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTls {
    /// The server name sent and verified: `tls.sni`, or the URL's host.
    pub sni: Box<str>,
    /// `tls.verify`: false skips the certificate check (logged at load, labelled in
    /// metrics). Default true.
    pub verify: bool,
    /// `tls.ca`: the roots to trust instead of the system's, DER.
    pub ca: Option<Arc<[Vec<u8>]>>,
    /// `tls.client_cert` and `tls.client_key`, for mTLS.
    pub client: Option<Arc<CertifiedPair>>,
}

/// Whether `name` (lowercase) is selected by `pattern`: equal, or `*.example.com` matching
/// exactly one more label (`a.example.com`, not `example.com` or `a.b.example.com`).
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("*.") {
        None => pattern == name,
        Some(suffix) => name
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
    }
}

#[cfg(test)]
mod tests {
    use super::name_matches;

    #[test]
    fn a_wildcard_matches_exactly_one_label() {
        assert!(name_matches("*.example.com", "a.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", ".example.com"));
        assert!(name_matches("api.example.com", "api.example.com"));
        assert!(!name_matches("api.example.com", "www.example.com"));
    }
}
