//! `listen:`: one address (`127.0.0.1:8080`), one listener with TLS
//! (`{ addr: 0.0.0.0:443, tls: { cert: ..., key: ... } }`), or a list of either. A TLS
//! listener has one certificate (`cert`, `key`) or several (`certs:`), chosen by the
//! server name the client sends (SNI); the first is the default. The files are read and
//! checked at load through the [`Surroundings`], relative to routes.yaml's directory.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::tls::{AdminTls, Listener, ListenerCert, ListenerTls};
use crate::Surroundings;

use super::problems::Problems;

/// `listen:` in any of its forms, as a list.
#[derive(Debug)]
pub struct RawListen(pub Vec<RawListener>);

/// One listener: its address and, for TLS, its certificates.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawListener {
    /// `addr:` the address to bind, e.g. `0.0.0.0:443`. Required.
    pub addr: SocketAddr,
    /// `tls:` terminate TLS here. Default: plain HTTP (and h2c).
    pub tls: Option<RawListenerTls>,
}

/// A listener's `tls:`: `cert` and `key`, or `certs:` for several names.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawListenerTls {
    /// `cert:` the PEM certificate chain, leaf first.
    pub cert: Option<String>,
    /// `key:` the PEM private key of `cert`.
    pub key: Option<String>,
    /// `certs:` several certificates, chosen by SNI; the first is the default.
    pub certs: Option<Vec<RawListenerCert>>,
}

/// One entry of `tls.certs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawListenerCert {
    /// `cert:` the PEM certificate chain, leaf first. Required.
    pub cert: String,
    /// `key:` its PEM private key. Required.
    pub key: String,
    /// `names:` the server names that select it: exact (`api.example.com`) or one
    /// wildcard label (`*.example.com`). Default: the names in the certificate.
    pub names: Option<Vec<String>>,
}

/// `admin_tls:`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAdminTls {
    /// `cert:` the admin listener's PEM certificate chain. Required.
    pub cert: String,
    /// `key:` its PEM key. Required.
    pub key: String,
    /// `client_ca:` PEM CA certificates; when set, a client must present a certificate one
    /// of them signed. Default: no client certificate asked.
    pub client_ca: Option<String>,
}

impl JsonSchema for RawListen {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RawListen".into()
    }

    /// An address, a listener mapping, or a list of either.
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let one = schemars::json_schema!({
            "oneOf": [
                { "type": "string" },
                generator.subschema_for::<RawListener>(),
            ],
        });
        schemars::json_schema!({
            "description": "The proxy listener: an address (`127.0.0.1:8080`), a mapping `{ addr, tls }`, or a list of either.",
            "oneOf": [
                one.clone(),
                { "type": "array", "minItems": 1, "items": one },
            ],
        })
    }
}

impl<'de> Deserialize<'de> for RawListen {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawListen, D::Error> {
        deserializer.deserialize_any(ListenVisitor)
    }
}

/// Reads the three forms, keeping serde_yaml's locations inside mappings.
struct ListenVisitor;

impl<'de> Visitor<'de> for ListenVisitor {
    type Value = RawListen;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an address such as 127.0.0.1:8080, a mapping with addr:, or a list")
    }

    fn visit_str<E: de::Error>(self, addr: &str) -> Result<RawListen, E> {
        Ok(RawListen(vec![plain(addr)?]))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawListen, A::Error> {
        let one = RawListener::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(RawListen(vec![one]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawListen, A::Error> {
        let mut all = Vec::new();
        while let Some(one) = seq.next_element::<OneListener>()? {
            all.push(one.0);
        }
        Ok(RawListen(all))
    }
}

/// A list entry: an address or a mapping.
struct OneListener(RawListener);

impl<'de> Deserialize<'de> for OneListener {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<OneListener, D::Error> {
        struct One;
        impl<'de> Visitor<'de> for One {
            type Value = OneListener;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an address such as 127.0.0.1:8080 or a mapping with addr:")
            }
            fn visit_str<E: de::Error>(self, addr: &str) -> Result<OneListener, E> {
                plain(addr).map(OneListener)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<OneListener, A::Error> {
                let mapped = de::value::MapAccessDeserializer::new(map);
                RawListener::deserialize(mapped).map(OneListener)
            }
        }
        deserializer.deserialize_any(One)
    }
}

/// A plain listener at `addr`.
fn plain<E: de::Error>(addr: &str) -> Result<RawListener, E> {
    let addr = addr
        .parse()
        .map_err(|_| E::custom(format!("invalid socket address {addr:?}")))?;
    Ok(RawListener { addr, tls: None })
}

/// Checks `listen:`: at least one listener, no address twice, each TLS section's files.
pub(super) fn validate(
    raw: RawListen,
    base: &Path,
    surroundings: &dyn Surroundings,
    problems: &mut Problems<'_>,
) -> Option<Vec<Listener>> {
    if raw.0.is_empty() {
        problems.at_value("listen", "listen needs at least one address");
        return None;
    }
    let single = raw.0.len() == 1;
    let mut seen = BTreeSet::new();
    let mut listeners = Vec::new();
    for (index, one) in raw.0.into_iter().enumerate() {
        let at = match single {
            true => "listen".to_owned(),
            false => format!("listen[{index}]"),
        };
        // Port 0 (any free port, as tests bind) may repeat.
        if one.addr.port() != 0 && !seen.insert(one.addr) {
            problems.at_value(&at, format!("listen names {} twice", one.addr));
        }
        let tls = match one.tls {
            None => Some(None),
            Some(tls) => {
                listener_tls(&format!("{at}.tls"), tls, base, surroundings, problems).map(Some)
            }
        };
        listeners.push(tls.map(|tls| Listener {
            addr: one.addr,
            tls,
        }));
    }
    listeners.into_iter().collect()
}

/// One listener's `tls:`, its certificates read and checked.
fn listener_tls(
    at: &str,
    raw: RawListenerTls,
    base: &Path,
    surroundings: &dyn Surroundings,
    problems: &mut Problems<'_>,
) -> Option<ListenerTls> {
    let entries = match (raw.cert, raw.key, raw.certs) {
        (Some(cert), Some(key), None) => vec![(at.to_owned(), cert, key, None)],
        (None, None, Some(certs)) if !certs.is_empty() => certs
            .into_iter()
            .enumerate()
            .map(|(i, c)| (format!("{at}.certs[{i}]"), c.cert, c.key, c.names))
            .collect(),
        _ => {
            let message = "tls needs cert: and key:, or a non-empty certs: list (not both)";
            problems.at_value(at, message);
            return None;
        }
    };
    let certs: Vec<_> = entries
        .into_iter()
        .map(|(at, cert, key, names)| {
            one_cert(&at, (&cert, &key), names, base, surroundings, problems)
        })
        .collect();
    let certs = certs.into_iter().collect::<Option<Vec<_>>>()?;
    Some(ListenerTls { certs })
}

/// Checks `admin_tls:`: its pair read and checked like a listener's, its client CA read.
pub(super) fn admin_tls(
    raw: Option<RawAdminTls>,
    base: &Path,
    surroundings: &dyn Surroundings,
    problems: &mut Problems<'_>,
) -> Option<Option<AdminTls>> {
    let Some(raw) = raw else {
        return Some(None);
    };
    let at = "admin_tls";
    let cert = one_cert(
        at,
        (&raw.cert, &raw.key),
        None,
        base,
        surroundings,
        problems,
    );
    let client_ca = match &raw.client_ca {
        None => Some(None),
        Some(file) => surroundings
            .ca_bundle(&base.join(file))
            .map(|roots| Some(Arc::from(roots)))
            .map_err(|e| problems.at_value(&format!("{at}.client_ca"), format!("{file}: {e}")))
            .ok(),
    };
    Some(Some(AdminTls {
        cert: cert?,
        client_ca: client_ca?,
    }))
}

/// One certificate and its key, read through `surroundings`, with the names that select it.
fn one_cert(
    at: &str,
    (cert, key): (&str, &str),
    names: Option<Vec<String>>,
    base: &Path,
    surroundings: &dyn Surroundings,
    problems: &mut Problems<'_>,
) -> Option<ListenerCert> {
    let (cert_path, key_path) = (base.join(cert), base.join(key));
    let pair = surroundings
        .certificate(&cert_path, &key_path)
        .map_err(|e| problems.at_value(&format!("{at}.cert"), format!("{cert} with {key}: {e}")))
        .ok()?;
    let warning = surroundings
        .now_unix()
        .and_then(|now| pair.expiry_warning(now));
    if let Some(warning) = warning {
        problems.warn(&format!("{at}.cert"), format!("{cert}: {warning}"));
    }
    let names_written = names.is_some();
    let names = match names {
        Some(names) => server_names(&format!("{at}.names"), names, problems)?,
        None => pair.names.clone(),
    };
    Some(ListenerCert {
        cert: cert_path,
        key: key_path,
        names,
        names_written,
        pair: Arc::new(pair),
    })
}

/// `names:`, lowercase; each a DNS name, optionally with one leading `*.` label.
fn server_names(at: &str, names: Vec<String>, problems: &mut Problems<'_>) -> Option<Vec<String>> {
    let mut good = true;
    let names: Vec<String> = names.into_iter().map(|n| n.to_ascii_lowercase()).collect();
    for name in &names {
        let bare = name.strip_prefix("*.").unwrap_or(name);
        let valid = !bare.is_empty()
            && bare.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            problems.at_value(at, format!("{name:?} is not a server name (or *.name)"));
            good = false;
        }
    }
    good.then_some(names)
}
