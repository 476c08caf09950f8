//! Stopping the proxy as `strangler run` does on SIGTERM: it stops accepting at once, lets
//! requests in flight finish within the grace period, then stops.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::support::{eventually, send, Backend, Config, Proxy};

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_drains_requests_in_flight_and_refuses_new_ones() {
    let legacy = Backend::echo("legacy").await;
    let proxy = Proxy::start(&Config::new(&legacy)).await;
    let addr = proxy.running().proxy_addr();
    let in_flight = tokio::spawn(send(proxy.get("/_echo/slow/700")));
    eventually(
        Duration::from_secs(5),
        "the slow request reached legacy",
        || async { legacy.hits() == 1 },
    )
    .await;

    let started = Instant::now();
    proxy.shutdown(Duration::from_secs(10)).await;
    let answer = in_flight.await.expect("request task");
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body, "slow answer\n");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "drained in {:?}",
        started.elapsed()
    );

    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let after = client.get(format!("http://{addr}/home")).send().await;
    assert!(after.is_err(), "a stopped proxy still answered: {after:?}");
}

/// Reads one HTTP/1.1 response with a `Content-Length` body from `stream`; its status.
async fn read_response(stream: &mut tokio::net::TcpStream) -> u16 {
    use tokio::io::AsyncReadExt;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).await.expect("reading");
        assert!(n > 0, "the proxy closed mid-response");
        raw.extend_from_slice(&buf[..n]);
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .and_then(|value| value.trim().parse().ok())
        .expect("a content-length");
    while raw.len() < head_end + length {
        let n = stream.read(&mut buf).await.expect("reading the body");
        assert!(n > 0, "the proxy closed mid-body");
        raw.extend_from_slice(&buf[..n]);
    }
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status")
}

#[tokio::test(flavor = "multi_thread")]
async fn kept_alive_connections_serve_again_after_idling_and_close_at_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let legacy = Backend::echo("legacy").await;
    let proxy = Proxy::start(&Config::new(&legacy)).await;
    let mut stream = tokio::net::TcpStream::connect(proxy.running().proxy_addr())
        .await
        .expect("connecting");
    // The third request's head is longer than what the proxy reads while it waits.
    let long = "x".repeat(3000);
    for extra in ["", "", long.as_str()] {
        let request = format!("GET /home HTTP/1.1\r\nHost: t\r\nX-Pad: {extra}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("sending");
        assert_eq!(read_response(&mut stream).await, 200);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(legacy.hits(), 3);

    proxy.shutdown(Duration::from_secs(10)).await;
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
    let closed = matches!(read, Ok(Ok(0)) | Ok(Err(_)));
    assert!(closed, "the idle connection was not closed: {read:?}");
}
