//! A backend whose answers a test scripts: every request gets the JSON a closure builds
//! from a per-backend call counter, and is recorded (method, path, headers, body length),
//! so a shadow test can say what each side answers and see what each side was sent. A
//! gate can hold answers until the test opens it, to prove the proxy never waits on it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::Backend;

/// What a scripted backend received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Headers, lowercase names (last value wins).
    pub headers: BTreeMap<String, String>,
    /// Every header line in the order received, repeats kept.
    pub header_lines: Vec<(String, String)>,
    /// The body's length.
    pub body_len: usize,
    /// `HTTP/1.1`, `HTTP/2.0`, ...
    pub version: String,
}

type Script = dyn Fn(u64, &Received) -> Value + Send + Sync;

struct Shared {
    calls: AtomicU64,
    script: Box<Script>,
    received: Mutex<Vec<Received>>,
    /// When set, each answer waits for one permit.
    gate: Option<Arc<Semaphore>>,
}

/// A running scripted backend and what it received.
pub struct Scripted {
    pub backend: Backend,
    shared: Arc<Shared>,
}

impl Scripted {
    /// Answers every request with `script(call number, request)` as JSON.
    pub async fn start(
        script: impl Fn(u64, &Received) -> Value + Send + Sync + 'static,
    ) -> Scripted {
        Scripted::with_gate(script, None).await
    }

    /// Like [`Scripted::start`], but each answer first takes a permit from `gate`.
    pub async fn with_gate(
        script: impl Fn(u64, &Received) -> Value + Send + Sync + 'static,
        gate: Option<Arc<Semaphore>>,
    ) -> Scripted {
        let shared = Arc::new(Shared {
            calls: AtomicU64::new(0),
            script: Box::new(script),
            received: Mutex::default(),
            gate,
        });
        let router = Router::new()
            .fallback(any(answer))
            .with_state(shared.clone());
        Scripted {
            backend: Backend::serve(router).await,
            shared,
        }
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The requests received that carried `x-strangler-shadow: 1`.
    pub fn mirrored(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.headers.get("x-strangler-shadow").map(String::as_str) == Some("1"))
            .collect()
    }

    pub fn url(&self) -> String {
        self.backend.url()
    }
}

async fn answer(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let received = Received {
        method: parts.method.to_string(),
        target: parts
            .uri
            .path_and_query()
            .map_or("/".into(), |pq| pq.to_string()),
        headers: headers(&parts.headers),
        header_lines: header_lines(&parts.headers),
        body_len: body.len(),
        version: format!("{:?}", parts.version),
    };
    shared.received.lock().unwrap().push(received.clone());
    if let Some(gate) = &shared.gate {
        gate.acquire().await.expect("gate open").forget();
    }
    let call = shared.calls.fetch_add(1, Ordering::Relaxed);
    Json((shared.script)(call, &received)).into_response()
}

fn headers(map: &HeaderMap) -> BTreeMap<String, String> {
    header_lines(map).into_iter().collect()
}

fn header_lines(map: &HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect()
}
