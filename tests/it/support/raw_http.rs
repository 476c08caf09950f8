//! A raw HTTP/1.1 exchange over TCP, for requests a well-behaved client library refuses to
//! send as written (it normalises `..` and `%2e%2e` segments away before they leave).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `GET {target}` with `Connection: close` and returns the status and the body text.
pub async fn get(addr: SocketAddr, target: &str) -> (u16, String) {
    let request = format!("GET {target} HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n");
    exchange(addr, &request).await
}

/// Sends `request` exactly as written, reads until the proxy closes, and returns the status
/// and the body text.
pub async fn exchange(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connecting to the proxy");
    stream.write_all(request.as_bytes()).await.expect("sending");
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .expect("reading the answer");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_string();
    (status, body)
}
