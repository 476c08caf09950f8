//! The slow-client cut-off for HTTP/2 streams: a stream whose request body stops arriving
//! for `limits.client_timeout` (60 s without it, as Pingora's HTTP/1 body read) is reset,
//! and so is one still uploading when its exchange's `timeouts.total` passes; the other
//! streams of the connection go on.
//!
//! Pingora bounds an HTTP/1 body read with the session's read timeout, but its HTTP/2
//! session has none (`set_read_timeout` does nothing there), and a stalled stream waits
//! for ever. So every HTTP/2 stream runs inside [`StreamWatch`], with a [`StreamBody`] in a
//! task-local the request path reports to: [`await_body`] when it starts waiting for the
//! body (and with each new bound), [`body_arrived`] on every chunk, [`body_done`] at its
//! end. A stream whose body makes no progress within the bound is dropped: h2 resets it
//! (`RST_STREAM`), its upstream request is abandoned, and it is counted in
//! `strangler_rejected_requests_total` as `client-timeout` (or `upload-timeout` when
//! `total` was the tighter bound), like an HTTP/1 client cut off mid-head. An HTTP/2
//! response cannot be sent once the stream is dropped, so the client sees the reset, not
//! HTTP/1's 408; the access-log line says `status: 0` and the reason.
//!
//! Outside an HTTP/2 stream's task (HTTP/1) the reports do nothing.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use pingora::apps::{HttpServerApp, HttpServerOptions, ReusedHttpStream};
use pingora::protocols::http::v2::server::H2Options;
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use tokio::sync::Notify;
use tokio::time::Instant;

tokio::task_local! {
    /// The body watch of the HTTP/2 stream this task serves.
    static STREAM: Arc<StreamBody>;
}

/// Why a stream was cut, as counted: the per-read bound or the exchange's `total`.
pub const CLIENT_TIMEOUT: &str = "client-timeout";
/// See [`CLIENT_TIMEOUT`].
pub const UPLOAD_TIMEOUT: &str = "upload-timeout";

/// What one stream's request body is doing.
#[derive(Default)]
pub struct StreamBody {
    state: Mutex<BodyWait>,
    /// Wakes the watch when the bound changes.
    rearmed: Notify,
}

#[derive(Default)]
struct BodyWait {
    /// The body is awaited: the longest wait for its next bytes, and why it is cut.
    bound: Option<(Duration, &'static str)>,
    /// When the last bytes arrived (or the wait began).
    last: Option<Instant>,
}

/// From the request path: the stream now waits for request body bytes, each at most
/// `limit` after the last; `reason` is what a cut is counted as.
pub fn await_body(limit: Duration, reason: &'static str) {
    let _ = STREAM.try_with(|body| {
        let mut state = body.state.lock();
        state.bound = Some((limit, reason));
        state.last.get_or_insert_with(Instant::now);
        drop(state);
        body.rearmed.notify_one();
    });
}

/// From the request path: body bytes arrived.
pub fn body_arrived() {
    let _ = STREAM.try_with(|body| body.state.lock().last = Some(Instant::now()));
}

/// From the request path: the whole body arrived; nothing more is awaited.
pub fn body_done() {
    let _ = STREAM.try_with(|body| body.state.lock().bound = None);
}

impl StreamBody {
    /// Completes, with the reason, once the body has waited longer than its bound.
    async fn stalled(&self) -> &'static str {
        loop {
            let rearmed = self.rearmed.notified();
            let (bound, last) = {
                let state = self.state.lock();
                (state.bound, state.last)
            };
            let Some((limit, reason)) = bound else {
                rearmed.await;
                continue;
            };
            let due = last.unwrap_or_else(Instant::now) + limit;
            if Instant::now() >= due {
                return reason;
            }
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                () = rearmed => {}
            }
        }
    }
}

/// A Pingora HTTP app whose HTTP/2 streams are each served under a [`StreamBody`] watch
/// (HTTP/1 sessions go straight through).
pub struct StreamWatch<A> {
    inner: Arc<A>,
}

impl<A> StreamWatch<A> {
    /// Watches the HTTP/2 streams `inner` serves.
    pub fn new(inner: A) -> StreamWatch<A> {
        StreamWatch {
            inner: Arc::new(inner),
        }
    }
}

#[async_trait]
impl<A: HttpServerApp + Send + Sync + 'static> HttpServerApp for StreamWatch<A> {
    /// Serves one request; an HTTP/2 stream whose body stalls is dropped (reset).
    async fn process_new_http(
        self: &Arc<Self>,
        session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        if !session.is_http2() {
            return self.inner.process_new_http(session, shutdown).await;
        }
        let body = Arc::new(StreamBody::default());
        // What the access-log line of a cut stream names (the session moves into the app).
        let client = session.client_addr().and_then(|a| a.as_inet()).copied();
        let head = session.req_header();
        // Shared clones (no copy of the target): the text is made only for a cut stream.
        let (method, target) = (head.method.clone(), head.uri.clone());
        let serving = STREAM.scope(body.clone(), self.inner.process_new_http(session, shutdown));
        tokio::select! {
            served = serving => served,
            reason = body.stalled() => {
                tracing::debug!(target: "strangler::limits", reason, "an HTTP/2 request body stalled: resetting its stream");
                crate::telemetry::metrics::record_rejected(reason);
                crate::telemetry::access_log::write_refused(&crate::telemetry::access_log::RefusedRecord {
                    client,
                    method: Some(method.as_str().as_bytes()),
                    target: target.to_string().as_bytes(),
                    status: 0,
                    reason,
                    message: "the request body stalled: the stream was reset",
                });
                None
            }
        }
    }

    fn h2_options(&self) -> Option<H2Options> {
        self.inner.h2_options()
    }

    fn server_options(&self) -> Option<&HttpServerOptions> {
        self.inner.server_options()
    }

    async fn http_cleanup(&self) {
        self.inner.http_cleanup().await
    }
}
