//! The open-files limit, with the real binary in a child process under a lowered
//! `ulimit -n`: the soft limit is raised to the hard one at start (and logged), and when
//! idle connections use up the descriptors the longest-idle are closed so new clients are
//! still accepted and served.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::process::StranglerProcess;
use crate::support::proxy::with_own_store;
use crate::support::raw_http;
use crate::support::scratch::Scratch;
use crate::support::{Backend, Config};

/// A bound on every wait for the proxy: generous, never a measurement.
const PATIENCE: Duration = Duration::from_secs(15);

/// Opens a connection, is served one request on it, and keeps it open (idle, kept alive).
async fn idle_client(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = "GET /home HTTP/1.1\r\nHost: t\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = [0u8; 12];
    let read = tokio::time::timeout(PATIENCE, stream.read_exact(&mut answer)).await;
    read.expect("an idle client's request was not served in time")
        .expect("reading the answer");
    assert_eq!(&answer, b"HTTP/1.1 200");
    stream
}

/// Regression (issue #21): under `ulimit -n 1024` with 2,000 idle connections, every normal
/// request timed out until they closed. Here the soft limit is 128 (hard 256) and 300 idle
/// kept-alive connections are opened one after the other, each served first; then a fresh
/// client is served.
#[tokio::test(flavor = "multi_thread")]
async fn file_descriptor_exhaustion_is_a_full_outage() {
    let legacy = Backend::echo("legacy").await;
    let scratch = Scratch::new();
    let text = with_own_store(Config::new(&legacy).render(), &scratch);
    let routes = scratch.write("routes.yaml", &text);
    let process = StranglerProcess::run_with_open_files(&routes, 128, 256);
    let addr = process.serving().await;
    let limit = process
        .log("open files limit")
        .expect("the limit is logged");
    assert_eq!(limit["limit"], 256, "raised to the hard limit: {limit}");
    assert_eq!(limit["was"], 128, "{limit}");

    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(idle_client(addr).await);
    }
    let fresh = tokio::time::timeout(PATIENCE, raw_http::get(addr, "/home")).await;
    let (status, _) = fresh.expect("a fresh client was not served in time");
    assert_eq!(status, 200, "{}", process.output());
    let warned = "open connections near the open-files limit: closing the longest-idle";
    assert!(process.log(warned).is_some(), "{}", process.output());
}
