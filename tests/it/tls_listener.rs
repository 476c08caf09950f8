//! TLS listeners: certificates chosen by SNI with the first as default, rotated on disk
//! under load without a failed request, a bad replacement refused while the old pair keeps
//! serving, plain HTTP to the TLS port answered 400, HTTP/2 by ALPN. Real certificates from
//! a private CA generated per test.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::backend::Backend;
use crate::support::eventually;
use crate::support::metrics::sample;
use crate::support::proxy::{Config, Proxy};
use crate::support::scratch::Scratch;
use crate::support::tls::{self, client_config, serial_hex, Pki};

/// A proxy whose listener presents `site` (a.test, the default) and `wild` (*.b.test),
/// with the files in `dir`.
async fn two_name_proxy(pki: &Pki, dir: &Scratch, legacy: &Backend) -> Proxy {
    pki.leaf(&["a.test"], 11).write(dir.path(), "site");
    pki.leaf(&["*.b.test"], 12).write(dir.path(), "wild");
    let d = dir.path().display();
    let listen = format!(
        "{{ addr: 127.0.0.1:0, tls: {{ certs: [{{ cert: {d}/site.pem, key: {d}/site.key }}, {{ cert: {d}/wild.pem, key: {d}/wild.key }}] }} }}"
    );
    Proxy::start(&Config::new(legacy).listen(&listen)).await
}

#[tokio::test]
async fn a_tls_listener_chooses_the_certificate_by_sni_and_defaults_to_the_first() {
    let (pki, dir, legacy) = (Pki::new(), Scratch::new(), Backend::echo("legacy").await);
    let proxy = two_name_proxy(&pki, &dir, &legacy).await;
    let config = client_config(&pki.ca_pem(), &[b"http/1.1"]);
    let addr = proxy.running().proxy_addr();
    let exact = tls::get(addr, "a.test", &config, "/x")
        .await
        .expect("a.test");
    assert_eq!(
        (exact.status, exact.serial.as_str()),
        (200, serial_hex(11).as_str())
    );
    assert!(exact.response.contains("legacy"), "{}", exact.response);
    let wild = tls::get(addr, "api.b.test", &config, "/x")
        .await
        .expect("api.b.test");
    assert_eq!(wild.serial, serial_hex(12));
    // A name no certificate has: the default is shown, which the client then refuses.
    let other = tls::get(addr, "c.test", &config, "/x").await;
    assert!(
        other.is_err(),
        "the default certificate does not name c.test: {other:?}"
    );
}

#[tokio::test]
async fn plain_http_to_the_tls_port_gets_a_json_400_and_the_listener_serves_on() {
    let (pki, dir, legacy) = (Pki::new(), Scratch::new(), Backend::echo("legacy").await);
    let proxy = two_name_proxy(&pki, &dir, &legacy).await;
    let addr = proxy.running().proxy_addr();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("speaks HTTPS"), "{answer}");
    let page = proxy.metrics().await;
    let refused = sample(
        &page,
        "strangler_rejected_requests_total",
        &[("reason", "plain-http-to-tls")],
    );
    assert!(refused >= 1.0, "counted: {refused}");
    let config = client_config(&pki.ca_pem(), &[b"http/1.1"]);
    let after = tls::get(addr, "a.test", &config, "/")
        .await
        .expect("still serving");
    assert_eq!(after.status, 200);
}

#[tokio::test]
async fn http2_is_chosen_by_alpn() {
    let (pki, dir, legacy) = (Pki::new(), Scratch::new(), Backend::echo("legacy").await);
    let proxy = two_name_proxy(&pki, &dir, &legacy).await;
    let config = client_config(&pki.ca_pem(), &[b"h2", b"http/1.1"]);
    let tcp = tokio::net::TcpStream::connect(proxy.running().proxy_addr())
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("a.test").unwrap();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut client, connection) = h2::client::handshake(tls).await.expect("h2 handshake");
    tokio::spawn(connection);
    let request = http::Request::get("https://a.test/over-h2")
        .body(())
        .unwrap();
    let (response, _) = client.send_request(request, true).expect("sent");
    let response = response.await.expect("answered");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-backend"], "legacy");
}

#[tokio::test]
async fn a_rotated_certificate_serves_new_connections_with_no_failed_request() {
    let (pki, dir, legacy) = (Pki::new(), Scratch::new(), Backend::echo("legacy").await);
    let proxy = two_name_proxy(&pki, &dir, &legacy).await;
    let addr = proxy.running().proxy_addr();
    let config = client_config(&pki.ca_pem(), &[b"http/1.1"]);
    let (stop, failures, served) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let load = {
        let (stop, failures, served, config) = (
            stop.clone(),
            failures.clone(),
            served.clone(),
            config.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match tls::get(addr, "a.test", &config, "/load").await {
                    Ok(seen) if seen.status == 200 => served.fetch_add(1, Ordering::Relaxed),
                    _ => failures.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    eventually(Duration::from_secs(5), "load running", || {
        let served = served.clone();
        async move { served.load(Ordering::Relaxed) > 10 }
    })
    .await;
    pki.leaf(&["a.test"], 21).write(dir.path(), "site");
    eventually(Duration::from_secs(10), "the new serial is served", || {
        let config = config.clone();
        async move {
            let seen = tls::get(addr, "a.test", &config, "/").await;
            seen.is_ok_and(|s| s.serial == serial_hex(21))
        }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "failed handshakes or requests"
    );
    assert!(served.load(Ordering::Relaxed) > 10);
}

#[tokio::test]
async fn a_bad_replacement_is_refused_and_the_old_certificate_keeps_serving() {
    let (pki, dir, legacy) = (Pki::new(), Scratch::new(), Backend::echo("legacy").await);
    let proxy = two_name_proxy(&pki, &dir, &legacy).await;
    let addr = proxy.running().proxy_addr();
    let errors = || async {
        let page = proxy.metrics().await;
        sample(
            &page,
            "strangler_tls_certificate_reloads_total",
            &[("result", "error")],
        )
    };
    let before = errors().await;
    // A new certificate with the key of another: the pair does not match.
    let (new, other) = (pki.leaf(&["a.test"], 31), pki.leaf(&["a.test"], 32));
    tls::write_atomically(dir.path(), "site.key", &other.key);
    tls::write_atomically(dir.path(), "site.pem", &new.cert);
    eventually(
        Duration::from_secs(10),
        "the bad pair is counted",
        || async { errors().await > before },
    )
    .await;
    let config = client_config(&pki.ca_pem(), &[b"http/1.1"]);
    let seen = tls::get(addr, "a.test", &config, "/")
        .await
        .expect("old pair serves");
    assert_eq!(seen.serial, serial_hex(11));
    let page = proxy.metrics().await;
    let expiry = sample(
        &page,
        "strangler_tls_certificate_expiry_seconds",
        &[("name", "a.test")],
    );
    assert!(expiry > 1.0e9, "expiry exported: {expiry}");
}

#[tokio::test]
async fn a_start_with_an_expired_or_mismatched_pair_is_refused_with_its_location() {
    let (pki, dir, legacy) = (Pki::new(), Scratch::new(), Backend::echo("legacy").await);
    pki.expired(&["a.test"], 41).write(dir.path(), "old");
    let d = dir.path().display();
    let listen = format!("{{ addr: 127.0.0.1:0, tls: {{ cert: {d}/old.pem, key: {d}/old.key }} }}");
    let error = Proxy::refused(&Config::new(&legacy).listen(&listen)).await;
    assert!(error.contains("routes.yaml:1:"), "{error}");
    assert!(error.contains("the certificate expired at"), "{error}");
    let (one, two) = (pki.leaf(&["a.test"], 42), pki.leaf(&["a.test"], 43));
    tls::write_atomically(dir.path(), "mixed.pem", &one.cert);
    tls::write_atomically(dir.path(), "mixed.key", &two.key);
    let listen =
        format!("{{ addr: 127.0.0.1:0, tls: {{ cert: {d}/mixed.pem, key: {d}/mixed.key }} }}");
    let error = Proxy::refused(&Config::new(&legacy).listen(&listen)).await;
    assert!(
        error.contains("the key does not match the certificate"),
        "{error}"
    );
}

#[tokio::test]
async fn check_warns_about_a_certificate_that_expires_within_14_days() {
    let (pki, dir) = (Pki::new(), Scratch::new());
    pki.expiring(&["a.test"], 51, 5).write(dir.path(), "soon");
    let file = dir.write(
        "routes.yaml",
        "listen: { addr: 127.0.0.1:0, tls: { cert: soon.pem, key: soon.key } }\nlegacy: http://127.0.0.1:1\n",
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_strangler"))
        .args(["check", file.to_str().unwrap()])
        .output()
        .expect("strangler check runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let warning = "routes.yaml:1:43: warning: soon.pem: the certificate (serial 33) expires in ";
    assert!(
        stderr.contains(warning) && stderr.contains(" days; renew it"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_malformed_head_over_tls_is_refused_as_in_cleartext_and_keep_alive_works() {
    let (pki, dir, legacy) = (Pki::new(), Scratch::new(), Backend::echo("legacy").await);
    let proxy = two_name_proxy(&pki, &dir, &legacy).await;
    let (addr, config) = (
        proxy.running().proxy_addr(),
        client_config(&pki.ca_pem(), &[b"http/1.1"]),
    );
    let answer = tls::exchange(
        addr,
        "a.test",
        &config,
        b"GET / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5, 5\r\n\r\nhello",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(
        answer.contains("Content-Length header is invalid"),
        "{answer}"
    );
    let big = format!(
        "GET /{} HTTP/1.1\r\nHost: a.test\r\n\r\n",
        "a".repeat(17 * 1024)
    );
    let answer = tls::exchange(addr, "a.test", &config, big.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 414 "), "{answer}");
    // Two requests on one kept-alive TLS connection, the second after the first's answer.
    let two = b"GET /one HTTP/1.1\r\nHost: a.test\r\n\r\nGET /two HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n";
    let answer = tls::exchange(addr, "a.test", &config, two).await;
    assert_eq!(
        answer.matches("HTTP/1.1 200 ").count(),
        1,
        "pipelined: one answer, then close: {answer}"
    );
    assert!(
        answer.contains("connection: close") || answer.contains("Connection: close"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_plain_and_a_tls_listener_serve_side_by_side_and_the_anonymous_cookie_is_secure_over_tls()
{
    let (pki, dir, legacy) = (Pki::new(), Scratch::new(), Backend::echo("legacy").await);
    pki.leaf(&["a.test"], 61).write(dir.path(), "site");
    let d = dir.path().display();
    let listen = format!(
        "[ 127.0.0.1:0, {{ addr: 127.0.0.1:0, tls: {{ cert: {d}/site.pem, key: {d}/site.key }} }} ]"
    );
    let config = Config::new(&legacy)
        .listen(&listen)
        .tenant("  sources: [ { header: X-Tenant-Id } ]\n  anonymous: {}");
    let proxy = Proxy::start(&config).await;
    let addrs = proxy.running().proxy_addrs().to_vec();
    assert_eq!(addrs.len(), 2);
    let plain = proxy.get("/x").send().await.unwrap();
    let cookie = plain.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && !cookie.contains("Secure"),
        "{cookie}"
    );
    let config = client_config(&pki.ca_pem(), &[b"http/1.1"]);
    let seen = tls::get(addrs[1], "a.test", &config, "/x")
        .await
        .expect("the TLS listener");
    assert_eq!(seen.status, 200);
    let set_cookie = seen
        .response
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_default();
    assert!(set_cookie.contains("; Secure"), "{}", seen.response);
}
