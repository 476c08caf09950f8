//! `strangler demo --tls`: the demo over HTTPS too. A self-signed certificate for
//! `localhost` and `127.0.0.1` (ECDSA P-256, made at each start) is written to `demo-tls/`
//! beside routes.yaml, and the demo serves `routes.tls.yaml`, written beside routes.yaml (so
//! its relative paths, the store's among them, mean the same): routes.yaml with a second
//! listener on port 8443 that speaks TLS with that certificate.

use std::path::{Path, PathBuf};

use crate::cli::error::CliError;

/// The HTTPS listener's port.
const TLS_PORT: u16 = 8443;
/// The certificate's directory, beside routes.yaml.
const DIR: &str = "demo-tls";

/// What `--tls` prepared: the config to serve and the certificate clients should trust.
pub struct Prepared {
    /// `routes.tls.yaml`.
    pub config: PathBuf,
    /// `demo-tls/cert.pem`, for `curl --cacert`.
    pub cert: PathBuf,
}

/// Writes the certificate and `routes.tls.yaml` for `config`.
pub fn prepare(config: &Path) -> Result<Prepared, CliError> {
    let base = config.parent().unwrap_or(Path::new(""));
    let text = std::fs::read_to_string(config).map_err(CliError::io("reading routes.yaml"))?;
    let with_tls = with_tls_listener(&text).ok_or_else(|| {
        CliError::Usage("demo --tls needs routes.yaml's listen: to be one address".into())
    })?;
    let dir = base.join(DIR);
    std::fs::create_dir_all(&dir).map_err(CliError::io("creating demo-tls/"))?;
    let (cert, key) = self_signed()?;
    let cert_path = dir.join("cert.pem");
    std::fs::write(&cert_path, cert).map_err(CliError::io("writing demo-tls/cert.pem"))?;
    std::fs::write(dir.join("key.pem"), key).map_err(CliError::io("writing demo-tls/key.pem"))?;
    let tls_config = base.join("routes.tls.yaml");
    std::fs::write(&tls_config, with_tls).map_err(CliError::io("writing routes.tls.yaml"))?;
    Ok(Prepared {
        config: tls_config,
        cert: cert_path,
    })
}

/// `text` with its `listen: ADDR` line made a list: ADDR, and the HTTPS listener on the same
/// host; `None` when `listen:` is not one address on a line of its own.
fn with_tls_listener(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 128);
    let mut found = false;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("listen:") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let value = rest.split('#').next().unwrap_or_default().trim();
        let addr: std::net::SocketAddr = value.parse().ok()?;
        let https = std::net::SocketAddr::new(addr.ip(), TLS_PORT);
        out.push_str(&format!(
            "listen: [ {addr}, {{ addr: {https}, tls: {{ cert: {DIR}/cert.pem, key: {DIR}/key.pem }} }} ]\n"
        ));
        found = true;
    }
    found.then_some(out)
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, and its key, PEM.
fn self_signed() -> Result<(String, String), CliError> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| CliError::Usage(format!("making the demo certificate: {e}")))?;
    Ok((made.cert.pem(), made.key_pair.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::with_tls_listener;

    #[test]
    fn the_listen_line_becomes_a_plain_and_a_tls_listener() {
        let text = "# schema\nlisten: 127.0.0.1:8080   # the proxy\nadmin: 127.0.0.1:9180\n";
        let out = with_tls_listener(text).expect("one address");
        assert!(out.contains("listen: [ 127.0.0.1:8080, { addr: 127.0.0.1:8443, tls: { cert: demo-tls/cert.pem, key: demo-tls/key.pem } } ]\n"), "{out}");
        assert!(out.starts_with("# schema\n") && out.ends_with("admin: 127.0.0.1:9180\n"));
        assert_eq!(with_tls_listener("listen: { addr: 127.0.0.1:1 }\n"), None);
    }
}
