//! A notification receiver for tests: records every POST it gets (headers and body) and
//! answers 500 to the first `failures` of them, 204 after.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;

use super::Backend;

/// One POST as received, and whether it was answered 2xx.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Bytes,
    /// True when the receiver answered 2xx.
    pub accepted: bool,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON notification")
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A running receiver.
pub struct Webhook {
    backend: Backend,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Webhook {
    /// A receiver at `/hook` that fails the first `failures` posts.
    pub async fn start(failures: usize) -> Webhook {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let seen = Arc::new(AtomicUsize::new(0));
        let kept = received.clone();
        let router = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: Bytes| {
                let (kept, seen) = (kept.clone(), seen.clone());
                async move {
                    let accepted = seen.fetch_add(1, Ordering::SeqCst) >= failures;
                    kept.lock().unwrap().push(Received {
                        headers,
                        body,
                        accepted,
                    });
                    match accepted {
                        true => StatusCode::NO_CONTENT,
                        false => StatusCode::INTERNAL_SERVER_ERROR,
                    }
                }
            }),
        );
        Webhook {
            backend: Backend::serve(router).await,
            received,
        }
    }

    /// The URL to put in `notify:`.
    pub fn url(&self) -> String {
        format!("{}/hook", self.backend.url())
    }

    /// Every post so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The posts answered 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.accepted).collect()
    }
}
