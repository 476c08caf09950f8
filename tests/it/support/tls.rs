//! Real TLS for the tests: a private CA and the certificates it signs (generated with rcgen
//! at each run, ECDSA P-256), a client that connects with a chosen server name and reports
//! the certificate it was shown, and HTTPS backends (optionally requiring a client
//! certificate) serving the echo router.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SerialNumber};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A private certificate authority.
pub struct Pki {
    ca: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate and its key, PEM.
pub struct Pair {
    pub cert: String,
    pub key: String,
}

impl Pki {
    /// A new CA.
    pub fn new() -> Pki {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Each CA its own name: a certificate of another CA is then of an unknown issuer.
        let name = format!("strangler test CA {}", NEXT.fetch_add(1, Ordering::Relaxed));
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = KeyPair::generate().expect("ca key");
        let ca = params.self_signed(&key).expect("ca");
        Pki { ca, key }
    }

    /// The CA's certificate, PEM.
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// A certificate for `names` with serial `serial`, valid from yesterday for a year.
    pub fn leaf(&self, names: &[&str], serial: u64) -> Pair {
        let now = time::OffsetDateTime::now_utc();
        self.leaf_valid(
            names,
            serial,
            now - time::Duration::days(1),
            now + time::Duration::days(365),
        )
    }

    /// A certificate for `names` that expires in `days` days.
    pub fn expiring(&self, names: &[&str], serial: u64, days: i64) -> Pair {
        let now = time::OffsetDateTime::now_utc();
        self.leaf_valid(
            names,
            serial,
            now - time::Duration::days(1),
            now + time::Duration::days(days),
        )
    }

    /// A certificate for `names` that expired yesterday.
    pub fn expired(&self, names: &[&str], serial: u64) -> Pair {
        let now = time::OffsetDateTime::now_utc();
        self.leaf_valid(
            names,
            serial,
            now - time::Duration::days(30),
            now - time::Duration::days(1),
        )
    }

    fn leaf_valid(
        &self,
        names: &[&str],
        serial: u64,
        from: time::OffsetDateTime,
        until: time::OffsetDateTime,
    ) -> Pair {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params.serial_number = Some(SerialNumber::from(serial));
        params.not_before = from;
        params.not_after = until;
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.ca, &self.key).expect("leaf");
        Pair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

impl Pair {
    /// Writes the pair as `<stem>.pem` and `<stem>.key` in `dir` (atomically: written
    /// beside, then renamed, as cert-manager does); the paths.
    pub fn write(&self, dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
        let cert = write_atomically(dir, &format!("{stem}.pem"), &self.cert);
        let key = write_atomically(dir, &format!("{stem}.key"), &self.key);
        (cert, key)
    }
}

/// Writes `text` to `dir/name` through a rename.
pub fn write_atomically(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    let temporary = dir.join(format!(".{name}.tmp"));
    std::fs::write(&temporary, text).expect("writing a temporary file");
    std::fs::rename(&temporary, &path).expect("renaming into place");
    path
}

/// A client trusting `ca_pem`, offering `alpn`.
pub fn client_config(ca_pem: &str, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("ca pem")).expect("ca");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    // Every connection a full handshake: a resumed session shows no certificate, and the
    // tests look at the one the listener presents now.
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// A client trusting `ca_pem` and presenting `client` (mTLS).
pub fn client_config_with_cert(ca_pem: &str, client: &Pair) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("ca pem")).expect("ca");
    }
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(client.cert.as_bytes())
            .collect::<Result<_, _>>()
            .expect("chain");
    let key = PrivateKeyDer::from_pem_slice(client.key.as_bytes()).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client certificate")
}

/// What one HTTPS request through the proxy saw.
#[derive(Debug)]
pub struct Seen {
    /// The status code.
    pub status: u16,
    /// The whole response, head and body.
    pub response: String,
    /// The serial number (hex, lowercase, no separators) of the certificate shown.
    pub serial: String,
}

/// `GET path` over a new TLS connection to `addr` with server name `sni`, trusting
/// `config`'s roots; `Err` with the handshake's error.
pub async fn get(
    addr: SocketAddr,
    sni: &str,
    config: &Arc<rustls::ClientConfig>,
    path: &str,
) -> Result<Seen, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from(sni.to_owned()).map_err(|e| e.to_string())?;
    let mut tls = TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let serial = serial_of(tls.get_ref().1.peer_certificates().expect("a certificate")[0].as_ref());
    let request = format!("GET {path} HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    tls.read_to_end(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {response:?}"))?;
    Ok(Seen {
        status,
        response,
        serial,
    })
}

/// Sends `raw` over a new TLS connection to `addr` (server name `sni`) and reads until the
/// proxy closes it.
pub async fn exchange(
    addr: SocketAddr,
    sni: &str,
    config: &Arc<rustls::ClientConfig>,
    raw: &[u8],
) -> String {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from(sni.to_owned()).expect("server name");
    let mut tls = TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
        .expect("handshake");
    tls.write_all(raw).await.expect("write");
    let mut response = Vec::new();
    let _ = tls.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

/// The serial of a DER certificate, hex.
fn serial_of(der: &[u8]) -> String {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("certificate");
    cert.raw_serial_as_string().replace(':', "").to_lowercase()
}

/// `serial` as [`serial_of`] prints it.
pub fn serial_hex(serial: u64) -> String {
    let hex = format!("{serial:x}");
    match hex.len() % 2 {
        0 => hex,
        _ => format!("0{hex}"),
    }
}

/// An HTTPS echo backend presenting `pair`; when `client_ca` is given it requires a
/// client certificate signed by it.
pub struct TlsBackend {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TlsBackend {
    /// Starts the echo router `name` over TLS on a fresh port.
    pub async fn echo(name: &str, pair: &Pair, client_ca: Option<&str>) -> TlsBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
        let addr = listener.local_addr().expect("address");
        let acceptor = TlsAcceptor::from(server_config(pair, client_ca, &[b"http/1.1"]));
        let router = super::backend::echo_router(name);
        let task = tokio::spawn(async move {
            let _ = axum::serve(TlsListener { listener, acceptor }, router).await;
        });
        TlsBackend { addr, task }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

impl Drop for TlsBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A server presenting `pair`, requiring a client certificate signed by `client_ca` when
/// given, offering `alpn`.
pub fn server_config(
    pair: &Pair,
    client_ca: Option<&str>,
    alpn: &[&[u8]],
) -> Arc<rustls::ServerConfig> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pair.cert.as_bytes())
        .collect::<Result<_, _>>()
        .expect("chain");
    let key = PrivateKeyDer::from_pem_slice(pair.key.as_bytes()).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                roots.add(cert.expect("ca")).expect("ca");
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).expect("server config");
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// axum's listener over TLS: connections whose handshake fails are dropped.
struct TlsListener {
    listener: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.listener.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}
