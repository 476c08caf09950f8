//! Backends on 127.0.0.1:0 for the proxy to forward to.
//!
//! The echo backend answers every request with JSON describing what it received: its own
//! name, method, path, raw query, HTTP version, every header, and the body's length and hash
//! (digested while streaming, so 50 MiB never sits in memory). It also names itself in an
//! `x-backend` response header, and serves a few fixed routes under `/_echo/`: a WebSocket
//! echo, a streamed response of N pattern bytes, a chosen status code, a redirect and a
//! slow answer. It counts the requests it received, so a test can wait for one to arrive.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::json;

use super::body::{pattern_stream, Digest};

/// The response header naming the backend that answered.
pub const BACKEND_HEADER: &str = "x-backend";

/// A running backend; dropping it stops it.
pub struct Backend {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    /// Requests the echo router received (always 0 for other routers).
    hits: Arc<AtomicUsize>,
}

impl Backend {
    /// An echo backend called `name`.
    pub async fn echo(name: &str) -> Backend {
        Backend::serve_counted(echo_router(name)).await
    }

    /// Serves `router` on a fresh port, counting the requests it receives.
    pub async fn serve_counted(router: Router) -> Backend {
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let router = router.layer(axum::middleware::from_fn(
            move |request: Request, next: axum::middleware::Next| {
                counted.fetch_add(1, Ordering::Relaxed);
                next.run(request)
            },
        ));
        let mut backend = Backend::serve(router).await;
        backend.hits = hits;
        backend
    }

    /// Serves `router` (an example app, or the echo router) on a fresh port.
    pub async fn serve(router: Router) -> Backend {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a backend");
        let addr = listener.local_addr().expect("backend address");
        let task = tokio::spawn(async move {
            strangler_examples::serve(listener, router)
                .await
                .expect("backend serving");
        });
        Backend {
            addr,
            task,
            hits: Arc::default(),
        }
    }

    /// How many requests the echo backend has received.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    /// `http://127.0.0.1:PORT`, as routes.yaml wants it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An `http://` URL where nothing listens: bound once, then closed, so connects are refused.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a port to close");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{addr}")
}

/// An address that accepts nothing: a listener with a backlog of 0 whose queue is already
/// full, so the kernel drops further SYNs and connecting times out. Keep it alive while used.
pub struct Blackhole {
    _listener: tokio::net::TcpListener,
    _queued: Vec<tokio::net::TcpStream>,
    addr: SocketAddr,
}

impl Blackhole {
    /// Binds the listener and fills its accept queue.
    pub async fn start() -> Blackhole {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind("127.0.0.1:0".parse().expect("address"))
            .expect("bind");
        let listener = socket.listen(0).expect("listen");
        let addr = listener.local_addr().expect("address");
        let mut queued = Vec::new();
        while queued.len() < 4 {
            let connect = tokio::net::TcpStream::connect(addr);
            match tokio::time::timeout(std::time::Duration::from_millis(200), connect).await {
                Ok(Ok(stream)) => queued.push(stream),
                _ => break,
            }
        }
        Blackhole {
            _listener: listener,
            _queued: queued,
            addr,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A server that accepts a connection, reads what arrives, and hangs up without answering:
/// a new service that crashed after the request reached it.
pub struct Hangup {
    task: tokio::task::JoinHandle<()>,
    addr: SocketAddr,
}

impl Hangup {
    /// Starts accepting.
    pub async fn start() -> Hangup {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = [0u8; 1024];
                let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buffer).await;
            }
        });
        Hangup { task, addr }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Hangup {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A new service that dies with a request in flight on a pooled connection: it answers the
/// first request of its one connection (kept alive), reads the second, then stops listening
/// and closes the connection without answering.
pub struct DiesOnReuse {
    task: tokio::task::JoinHandle<()>,
    addr: SocketAddr,
}

impl DiesOnReuse {
    /// Starts accepting its one connection.
    pub async fn start() -> DiesOnReuse {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let answer = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Backend: new\r\n\r\nnew";
            if read_head(&mut stream).await {
                let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, answer.as_bytes()).await;
            }
            read_head(&mut stream).await;
            drop(listener);
        });
        DiesOnReuse { task, addr }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for DiesOnReuse {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one bodiless request head from `stream`; false if it closed first.
async fn read_head(stream: &mut tokio::net::TcpStream) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tokio::io::AsyncReadExt::read(stream, &mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    true
}

type Name = Arc<str>;

/// The echo backend's routes, for helpers that serve them their own way.
pub fn echo_router(name: &str) -> Router {
    Router::new()
        .route("/_echo/ws", get(websocket))
        .route("/_echo/stream/{bytes}", get(stream_bytes))
        .route("/_echo/status/{code}", any(status))
        .route("/_echo/redirect", any(redirect))
        .route("/_echo/slow/{millis}", any(slow))
        .fallback(echo)
        .with_state(Name::from(name))
}

fn named(name: &Name, mut response: Response) -> Response {
    let value = HeaderValue::from_str(name).expect("backend names are header-safe");
    response.headers_mut().insert(BACKEND_HEADER, value);
    response
}

/// Describes the request it received, digesting the body as it streams in.
async fn echo(State(name): State<Name>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let mut digest = Digest::default();
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        match chunk {
            Ok(bytes) => digest.update(&bytes),
            Err(e) => {
                return named(
                    &name,
                    (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
                )
            }
        }
    }
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(key.as_str().to_string())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let report = json!({
        "backend": &*name,
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "version": format!("{:?}", parts.version),
        "headers": headers,
        "body_len": digest.len,
        "body_hash": digest.hex(),
    });
    named(&name, Json(report).into_response())
}

/// Echoes every text and binary message back until the client closes.
async fn websocket(State(name): State<Name>, upgrade: WebSocketUpgrade) -> Response {
    let response = upgrade.on_upgrade(|mut socket: WebSocket| async move {
        while let Some(Ok(message)) = socket.recv().await {
            let reply = match message {
                Message::Text(_) | Message::Binary(_) => message,
                Message::Close(_) => break,
                _ => continue,
            };
            if socket.send(reply).await.is_err() {
                break;
            }
        }
    });
    named(&name, response)
}

/// Streams `bytes` pattern bytes, never holding them all.
async fn stream_bytes(State(name): State<Name>, Path(bytes): Path<u64>) -> Response {
    named(
        &name,
        Body::from_stream(pattern_stream(bytes)).into_response(),
    )
}

/// Answers with the status code asked for.
async fn status(State(name): State<Name>, Path(code): Path<u16>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    named(&name, (status, format!("status {code}\n")).into_response())
}

/// Answers 302 to `/elsewhere`.
async fn redirect(State(name): State<Name>) -> Response {
    let response = (
        StatusCode::FOUND,
        [(axum::http::header::LOCATION, "/elsewhere")],
    )
        .into_response();
    named(&name, response)
}

/// Answers after `millis` milliseconds.
async fn slow(State(name): State<Name>, Path(millis): Path<u64>) -> Response {
    tokio::time::sleep(Duration::from_millis(millis)).await;
    named(&name, "slow answer\n".into_response())
}
