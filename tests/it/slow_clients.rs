//! The slow-client cut-off past the head. On HTTP/2 streams (h2c, prior knowledge): a
//! stream whose request body stalls for `client_timeout`, or whose client stops taking its
//! response, is reset like an HTTP/1 client is cut off, and the other streams of the same
//! connection are served as if nothing happened (the h2 tests use the h2 crate, one
//! connection, to control each stream's body and flow-control credit). On HTTP/1: a client
//! that stops reading its response is cut off too. A client stalling mid-body on HTTP/1 is
//! in `limits`.

use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use h2::client::{ResponseFuture, SendRequest};
use h2::SendStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::metrics::sample;
use crate::support::{eventually, Backend, Config, Proxy};

/// A bound on every wait for the proxy: generous, never a measurement.
const PATIENCE: Duration = Duration::from_secs(15);
/// What the backend answers to `/api/large`: more than the client's stream window, the
/// proxy's buffers and the socket's together.
const LARGE: usize = 8 * 1024 * 1024;
/// The client's window for each stream: what a stream may receive before the client
/// grants more (these tests never do, for the stream that stops reading).
const STREAM_WINDOW: u32 = 16 * 1024;

/// A proxy with `client_timeout: 300ms` whose every `/api/**` request is on `route` and
/// stays on legacy, which answers an upload once it has the whole body.
async fn slow_clients_cut_at_300ms(route: &str) -> (Proxy, Backend) {
    slow_clients_under(route, "limits:\n  client_timeout: 300ms").await
}

/// [`slow_clients_cut_at_300ms`] with `section` (YAML) instead of the `limits:`.
async fn slow_clients_under(route: &str, section: &str) -> (Proxy, Backend) {
    let large = || async { vec![b'x'; LARGE] };
    let whole_body = |body: Bytes| async move { format!("{} bytes\n", body.len()) };
    let router = Router::new()
        .route("/api/large", axum::routing::get(large))
        .route("/api/orders", axum::routing::post(whole_body))
        .fallback(|| async { "from legacy\n" });
    let legacy = Backend::serve(router).await;
    let config = Config::new(&legacy)
        .service("billing", &legacy)
        .routes(&format!(
            "  - {{ name: {route}, match: {{ path: \"/api/**\" }}, service: billing }}\n"
        ))
        .section(section);
    (Proxy::start(&config).await, legacy)
}

/// One HTTP/2 connection to the proxy: a small window per stream, a large one for the
/// connection (a stream that stops reading must not starve the others).
async fn connect(proxy: &Proxy) -> SendRequest<Bytes> {
    let tcp = TcpStream::connect(proxy.running().proxy_addr())
        .await
        .expect("connect");
    let (client, connection) = h2::client::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(64 * 1024 * 1024)
        .handshake(tcp)
        .await
        .expect("h2 handshake");
    tokio::spawn(connection);
    client
}

fn request(method: &str, path: &str) -> http::Request<()> {
    http::Request::builder()
        .method(method)
        .uri(format!("http://test.local{path}"))
        .header("x-tenant-id", "acme")
        .body(())
        .expect("request")
}

/// A GET on `client`'s connection: its status and whole body.
async fn get(client: &mut SendRequest<Bytes>, path: &str) -> (u16, Vec<u8>) {
    let (answer, _) = client
        .send_request(request("GET", path), true)
        .expect("a stream");
    let answer = tokio::time::timeout(PATIENCE, answer)
        .await
        .expect("answered in time")
        .expect("an answer");
    let status = answer.status().as_u16();
    let mut body = answer.into_body();
    let mut bytes = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.expect("a body chunk");
        let _ = body.flow_control().release_capacity(chunk.len());
        bytes.extend_from_slice(&chunk);
    }
    (status, bytes)
}

fn timeouts_counted(page: &str, reason: &str) -> f64 {
    sample(
        page,
        "strangler_rejected_requests_total",
        &[("reason", reason)],
    )
}

/// Starts an upload of 100 bytes on `client`'s connection, sends 10 and stalls.
fn stalled_upload(client: &mut SendRequest<Bytes>) -> (ResponseFuture, SendStream<Bytes>) {
    let mut upload = request("POST", "/api/orders");
    upload
        .headers_mut()
        .insert("content-length", http::HeaderValue::from_static("100"));
    let (answer, mut body) = client.send_request(upload, false).expect("a stream");
    body.send_data(Bytes::from_static(b"0123456789"), false)
        .expect("the first bytes");
    (answer, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_h2c_stream_whose_body_stalls_is_reset_while_the_other_streams_are_served() {
    let (proxy, _legacy) = slow_clients_cut_at_300ms("slow-h2-upload").await;
    let before = timeouts_counted(&proxy.metrics().await, "client-timeout");
    let mut client = connect(&proxy).await;
    let (answer, _body) = stalled_upload(&mut client);

    let (status, text) = get(&mut client, "/api/other").await;
    assert_eq!(
        (status, &text[..]),
        (200, &b"from legacy\n"[..]),
        "served meanwhile"
    );
    let cut = tokio::time::timeout(PATIENCE, answer)
        .await
        .expect("the stalled stream was not cut off in time");
    let error = cut.expect_err("a stalled upload gets no answer");
    assert!(error.is_reset(), "{error}");

    let (status, _) = get(&mut client, "/api/after").await;
    assert_eq!(status, 200, "the connection still serves new streams");
    let after = timeouts_counted(&proxy.metrics().await, "client-timeout");
    assert!(
        after > before,
        "counted as client-timeout: {before} -> {after}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_h2c_upload_still_arriving_at_timeouts_total_is_cut_and_counted_as_upload_timeout() {
    let section = "timeouts:\n  total: 300ms";
    let (proxy, _legacy) = slow_clients_under("slow-h2-total", section).await;
    let before = timeouts_counted(&proxy.metrics().await, "upload-timeout");
    let mut client = connect(&proxy).await;
    let (answer, _body) = stalled_upload(&mut client);
    let cut = tokio::time::timeout(PATIENCE, answer)
        .await
        .expect("the upload was not cut at total");
    // The stream's watch resets it at the deadline; the upstream's read, also bounded by
    // `total`, may fail first, and then the proxy answers 408 as on HTTP/1.
    match cut {
        Ok(answer) => assert_eq!(answer.status(), 408),
        Err(error) => assert!(error.is_reset(), "{error}"),
    }
    let after = timeouts_counted(&proxy.metrics().await, "upload-timeout");
    assert!(
        after > before,
        "counted as upload-timeout: {before} -> {after}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_h2c_client_that_stops_reading_its_response_is_cut_off_without_its_other_streams() {
    let (proxy, _legacy) = slow_clients_cut_at_300ms("slow-h2-reader").await;
    let mut client = connect(&proxy).await;
    let (answer, _) = client
        .send_request(request("GET", "/api/large"), true)
        .expect("a stream");
    let answer = tokio::time::timeout(PATIENCE, answer)
        .await
        .expect("a response head in time")
        .expect("a response");
    assert_eq!(answer.status(), 200);
    let mut unread = answer.into_body();

    let (status, _) = get(&mut client, "/api/other").await;
    assert_eq!(status, 200, "served while the first stream is stuck");
    let ended = tokio::time::timeout(PATIENCE, async {
        let mut received = 0;
        // Reads what the window let through, never granting more.
        while let Some(chunk) = unread.data().await {
            received += chunk?.len();
        }
        Ok::<usize, h2::Error>(received)
    })
    .await
    .expect("the stream that stopped reading was not cut off in time");
    let error = ended.expect_err("the response cannot have completed");
    assert!(error.is_reset() || error.is_go_away(), "{error}");
    assert!(!error.is_go_away(), "only the stream is cut: {error}");

    let (status, _) = get(&mut client, "/api/after").await;
    assert_eq!(status, 200, "the connection still serves new streams");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http1_client_that_stops_reading_its_response_is_cut_off() {
    let (proxy, _legacy) = slow_clients_cut_at_300ms("slow-h1-reader").await;
    let socket = TcpSocket::new_v4().expect("a socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("a small receive buffer");
    let mut client = socket
        .connect(proxy.running().proxy_addr())
        .await
        .expect("connect");
    let head = "GET /api/large HTTP/1.1\r\nHost: test.local\r\nX-Tenant-Id: acme\r\n\r\n";
    client
        .write_all(head.as_bytes())
        .await
        .expect("the request");
    let ended = [("route", "slow-h1-reader")];
    eventually(PATIENCE, "the proxy gives the request up", || async {
        let page = proxy.metrics().await;
        sample(&page, "strangler_request_duration_seconds_count", &ended) >= 1.0
    })
    .await;
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, client.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the connection was not closed");
    assert!(
        received.len() < LARGE,
        "{} bytes: the whole answer",
        received.len()
    );
}
