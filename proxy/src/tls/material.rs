//! Certificate files read and checked: what the proxy's `Surroundings` (`live::routes_file`) answer
//! when routes.yaml names a certificate or a CA, and what rotation reads again when the files
//! change. A pair is refused, with the reason, when a PEM does not parse, holds no
//! certificate or no key, the key does not match the leaf, or the leaf has expired.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use strangler_flags::tls::CertifiedPair;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Reads the chain at `cert` and the key at `key` and checks them (see the module doc).
pub fn read_pair(cert: &Path, key: &Path) -> Result<CertifiedPair, String> {
    let chain = read_chain(cert)?;
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("no private key in {}: {e}", key.display()))?;
    let key_bytes = key_der.secret_der().to_vec();
    certified_key(&chain, key_der)?;
    let facts = leaf_facts(&chain[0])?;
    if facts.not_after <= now_unix() {
        return Err(format!(
            "the certificate expired at {} (serial {})",
            timestamp(facts.not_after),
            facts.serial
        ));
    }
    Ok(CertifiedPair {
        chain: chain.into_iter().map(|c| c.to_vec()).collect(),
        key: key_bytes,
        names: facts.names,
        not_after: facts.not_after,
        serial: facts.serial,
    })
}

/// The CA certificates of the PEM file at `path`, DER.
pub fn read_ca_bundle(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    Ok(read_chain(path)?.into_iter().map(|c| c.to_vec()).collect())
}

/// A rustls signing pair from a checked [`CertifiedPair`] (or the reason it cannot be one).
pub fn signing_pair(pair: &CertifiedPair) -> Result<Arc<CertifiedKey>, String> {
    let chain: Vec<CertificateDer<'static>> = pair
        .chain
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    let key = PrivateKeyDer::try_from(pair.key.clone()).map_err(|e| format!("key: {e}"))?;
    certified_key(&chain, key).map(Arc::new)
}

/// The chain and key as rustls signs with them, the key checked against the leaf.
fn certified_key(
    chain: &[CertificateDer<'static>],
    key: PrivateKeyDer<'static>,
) -> Result<CertifiedKey, String> {
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(chain.to_vec(), key, &provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => "the key does not match the certificate".into(),
        other => format!("the key cannot sign: {other}"),
    })
}

/// Every certificate of the PEM file at `path`; an error when it holds none.
fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let chain = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not PEM: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!("no certificate in {}", path.display()));
    }
    Ok(chain)
}

/// What the proxy reports of a leaf certificate.
struct LeafFacts {
    names: Vec<String>,
    not_after: i64,
    serial: String,
}

/// The leaf's DNS names (subject alternative names, else its common name), expiry and serial.
fn leaf_facts(leaf: &CertificateDer<'_>) -> Result<LeafFacts, String> {
    let (_, cert) = X509Certificate::from_der(leaf).map_err(|e| format!("bad certificate: {e}"))?;
    let mut names: Vec<String> = match cert.subject_alternative_name() {
        Ok(Some(san)) => (san.value.general_names.iter())
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(dns.to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    if names.is_empty() {
        let common = cert.subject().iter_common_name().next();
        names.extend(
            common
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_ascii_lowercase),
        );
    }
    Ok(LeafFacts {
        names,
        not_after: cert.validity().not_after.timestamp(),
        serial: cert.raw_serial_as_string().replace(':', ""),
    })
}

/// Seconds since the epoch now.
pub fn now_unix() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    since.as_secs() as i64
}

/// `unix` as RFC 3339, for messages.
pub fn timestamp(unix: i64) -> String {
    let format = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| unix.to_string())
}
