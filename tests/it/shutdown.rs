//! Stopping the proxy as `strangler run` does on SIGTERM: it stops accepting at once, lets
//! requests in flight finish within `shutdown_grace:` (their responses saying
//! `Connection: close`), then stops; requests still running after the grace are cut and
//! the process exits 1. In-process first, then the real binary under load.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::support::load::Load;
use crate::support::process::StranglerProcess;
use crate::support::proxy::with_own_store;
use crate::support::scratch::Scratch;
use crate::support::{eventually, send, Backend, Config, Proxy, TENANT};

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

/// An echo legacy, a proxy in front of it, and one raw client connection to the proxy.
async fn proxy_and_connection() -> (Backend, Proxy, tokio::net::TcpStream) {
    let legacy = Backend::echo("legacy").await;
    let proxy = Proxy::start(&Config::new(&legacy)).await;
    let stream = tokio::net::TcpStream::connect(proxy.running().proxy_addr())
        .await
        .expect("connecting");
    (legacy, proxy, stream)
}

#[tokio::test(flavor = "multi_thread")]
async fn kept_alive_connections_serve_again_after_idling_and_close_at_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (legacy, proxy, mut stream) = proxy_and_connection().await;
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

/// A connection that had been idle for most of a second when the drain began still gets
/// the drain's whole linger: a request it sends after its first second of idleness, early in
/// the drain, is answered.
#[tokio::test(flavor = "multi_thread")]
async fn a_connection_idle_when_the_drain_begins_is_still_served_within_the_linger() {
    use tokio::io::AsyncWriteExt;
    let (legacy, proxy, mut stream) = proxy_and_connection().await;
    let request = b"GET /home HTTP/1.1\r\nHost: t\r\n\r\n";
    stream.write_all(request).await.expect("sending");
    assert_eq!(read_response(&mut stream).await, 200);
    let answered = std::time::Instant::now();
    let readyz = proxy.admin_url("/readyz");

    tokio::time::sleep(Duration::from_millis(900)).await;
    let stopping = tokio::spawn(proxy.shutdown(Duration::from_secs(10)));
    // Observe the drain (readiness turns 503), not assume it.
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    crate::support::eventually(Duration::from_secs(2), "the drain begins", || async {
        let status = client
            .get(&readyz)
            .send()
            .await
            .map(|r| r.status().as_u16());
        status.ok() == Some(503)
    })
    .await;
    // Past the connection's first idle second, early in the drain's 1 s linger.
    let idle = answered.elapsed();
    if idle < Duration::from_millis(1_100) {
        tokio::time::sleep(Duration::from_millis(1_100) - idle).await;
    }
    stream
        .write_all(request)
        .await
        .expect("sending during the drain");
    assert_eq!(read_response(&mut stream).await, 200);
    assert_eq!(legacy.hits(), 2);
    stopping.await.expect("shutdown");
}

/// Slow requests of tenant `qa` go to the `slow` service, everything else to legacy.
const SLOW_ROUTE: &str = r#"
  - name: slow
    match: { path: "/_echo/slow/**" }
    service: slow
    rollout: { tenants: { qa: new } }
"#;

/// routes.yaml with the slow route and `shutdown_grace: GRACE`.
fn routes_yaml(scratch: &Scratch, legacy: &Backend, slow: &Backend, grace: &str) -> PathBuf {
    let config = Config::new(legacy).service("slow", slow).routes(SLOW_ROUTE);
    let text = with_own_store(config.render(), scratch);
    scratch.write("routes.yaml", &format!("{text}shutdown_grace: {grace}\n"))
}

/// A slow GET as tenant `qa` on its own kept-alive client: (status, `Connection` header).
async fn slow_get(addr: SocketAddr, millis: u64) -> Result<(u16, String), String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let response = client
        .get(format!("http://{addr}/_echo/slow/{millis}"))
        .header(TENANT, "qa")
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let connection = response.headers().get("connection").cloned();
    let status = response.status().as_u16();
    response.bytes().await.map_err(|e| format!("{e:?}"))?;
    let connection = connection.map(|v| v.to_str().unwrap_or("").to_string());
    Ok((status, connection.unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_completes_requests_in_flight_and_exits_0() {
    let (legacy, slow) = (Backend::echo("legacy").await, Backend::echo("slow").await);
    let scratch = Scratch::new();
    let mut process = StranglerProcess::run(&routes_yaml(&scratch, &legacy, &slow, "10s"), &[]);
    let addr = process.serving().await;
    // Kept-alive connections only: each is accepted before the signal. A fresh connection
    // the kernel has queued but the proxy not yet accepted when SIGTERM closes the listener
    // is reset, which no server avoids without a successor (an upgrade keeps the socket).
    let load = Load::start(addr, 4, 0, &["/home", "/api/x"]);
    let slow_requests: Vec<_> = (0..6).map(|_| tokio::spawn(slow_get(addr, 1500))).collect();
    eventually(
        Duration::from_secs(10),
        "all slow requests in flight",
        || async { slow.hits() == 6 && load.ok() > 20 },
    )
    .await;

    let signalled = Instant::now();
    process.signal(libc::SIGTERM);
    eventually(
        Duration::from_secs(5),
        "new connections refused",
        || async { tokio::net::TcpStream::connect(addr).await.is_err() },
    )
    .await;
    for request in slow_requests {
        let answer = request.await.expect("slow request task");
        assert_eq!(
            answer,
            Ok((200, "close".to_string())),
            "{}",
            process.output()
        );
    }
    let status = process.exit(Duration::from_secs(10 + 5)).await;
    assert!(status.success(), "{status}\n{}", process.output());
    let failures = load.stop().await;
    let before: Vec<String> = (failures.iter())
        .filter(|f| f.started < signalled)
        .map(|f| format!("fresh={} {}", f.fresh, f.what))
        .collect();
    assert!(
        before.is_empty(),
        "requests sent before SIGTERM failed: {before:#?}"
    );
    let stopped = process.log("stopped").expect("a stopped line");
    assert_eq!(stopped["requests_cut"], 0, "{stopped}");
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "a stopped proxy still accepts");
}

/// A real process with `shutdown_grace: grace`, serving one request to the slow service
/// that takes `millis`: the process, that request, and what must live as long as they do.
struct SlowRequestInFlight {
    process: StranglerProcess,
    request: tokio::task::JoinHandle<Result<(u16, String), String>>,
    _kept: (Scratch, Backend, Backend),
}

async fn slow_request_in_flight(grace: &str, millis: u64) -> SlowRequestInFlight {
    let (legacy, slow) = (Backend::echo("legacy").await, Backend::echo("slow").await);
    let scratch = Scratch::new();
    let process = StranglerProcess::run(&routes_yaml(&scratch, &legacy, &slow, grace), &[]);
    let addr = process.serving().await;
    let request = tokio::spawn(slow_get(addr, millis));
    eventually(
        Duration::from_secs(10),
        "the slow request in flight",
        || async { slow.hits() == 1 },
    )
    .await;
    SlowRequestInFlight {
        process,
        request,
        _kept: (scratch, legacy, slow),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_cuts_requests_still_running_after_the_grace_and_exits_1() {
    let SlowRequestInFlight {
        mut process,
        request: stuck,
        _kept,
    } = slow_request_in_flight("1s", 30_000).await;

    process.signal(libc::SIGTERM);
    let status = process.exit(Duration::from_secs(1 + 9)).await;
    assert_eq!(status.code(), Some(1), "{}", process.output());
    let stopped = process.log("stopped").expect("a stopped line");
    assert_eq!(stopped["requests_cut"], 1, "{stopped}");
    assert!(
        stuck.await.expect("task").is_err(),
        "the cut request succeeded"
    );
}

/// Regression (issue #21): the admin listener closed at once on SIGTERM, so readiness and
/// liveness probes got connection refused for the whole drain (a liveness probe counts
/// failures and may kill the draining process). It stays up until the process exits:
/// `/readyz` 503, `/healthz` 200.
#[tokio::test(flavor = "multi_thread")]
async fn probes_during_a_drain_get_connection_refused() {
    let SlowRequestInFlight {
        mut process,
        request: in_flight,
        _kept,
    } = slow_request_in_flight("20s", 4000).await;
    assert_eq!(process.admin_status("/readyz").await, Some(200));
    process.signal(libc::SIGTERM);
    process
        .wait_for_log(
            "stopping: draining in-flight requests",
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(
        process.admin_status("/readyz").await,
        Some(503),
        "{}",
        process.output()
    );
    assert_eq!(
        process.admin_status("/healthz").await,
        Some(200),
        "{}",
        process.output()
    );
    assert!(!in_flight.is_finished(), "the probes ran during the drain");
    let answer = in_flight.await.expect("slow request task");
    assert_eq!(answer, Ok((200, "close".to_string())));
    let status = process.exit(Duration::from_secs(25)).await;
    assert!(status.success(), "{status}\n{}", process.output());
}
