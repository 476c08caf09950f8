//! The shadow side's HTTP/1.1 client: it sends the request exactly as the primary's
//! upstream received it (method, target, every end-to-end header, the body), adding only
//! the marker header and a trace context of its own. It adds no `Accept`, `User-Agent` or
//! `Host` of its own (a general-purpose client such as reqwest adds `Accept: */*` to a
//! request that had none, and a differing request makes differing answers); an h2
//! request's `:authority` becomes the `Host` it stood for.
//!
//! Each call is a child of the client's trace: the same trace id, a span id of its own,
//! and the client's request id, so it can be told from the primary call and correlated
//! with it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use parking_lot::Mutex;
use pingora::http::RequestHeader;
use strangler_flags::shadow_policy::CompiledPolicy;
use strangler_flags::tls::UpstreamTls;
use strangler_flags::Upstream;
use strangler_shadow::Captured;

use crate::shadow::mirror::{header_pairs, SHADOW_HEADER};
use crate::telemetry::trace::{child_traceparent, TRACEPARENT};
use crate::tls::client::HttpClient;

/// Request headers never copied to a mirror: hop-by-hop. `Content-Length` is copied as
/// the primary's upstream got it (a repeated `5, 5` included: the client then keeps it
/// rather than computing its own); a body the primary got chunked is sent with the
/// length of the copy the mirror holds whole.
const NOT_COPIED: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// An upstream a shadow call (or a noise probe) goes to.
#[derive(Clone)]
pub struct Callee {
    /// Its address.
    pub addr: SocketAddr,
    /// Its TLS settings, for an `https://` upstream.
    pub tls: Option<Arc<UpstreamTls>>,
}

impl Callee {
    /// How to call `upstream`.
    pub fn of(upstream: &Upstream) -> Callee {
        Callee {
            addr: upstream.addr,
            tls: upstream.tls.clone(),
        }
    }
}

/// One pool of connections for plain upstreams, one per distinct TLS setting.
type Pool = HttpClient<Full<Bytes>>;

/// A pool with idle connections kept 4 s (below the 5 s keep-alive of Node and Apache),
/// speaking TLS with `tls`.
fn pool(tls: Option<&UpstreamTls>) -> Result<Pool, String> {
    crate::tls::client::http_client(tls, Some(Duration::from_secs(4)))
}

/// The pools of connections to the upstreams a shadow call goes to.
pub(super) struct ShadowClient {
    plain: Pool,
    secure: Mutex<Vec<(Arc<UpstreamTls>, Pool)>>,
}

impl ShadowClient {
    /// A client with a 1 s connect timeout and idle connections kept 4 s (below the 5 s
    /// keep-alive of Node and Apache).
    pub(super) fn new() -> ShadowClient {
        ShadowClient {
            plain: pool(None).expect("a plain client needs no TLS settings"),
            secure: Mutex::default(),
        }
    }

    /// The pool for `callee`: the plain one, or the one of its TLS settings (made on
    /// first use; `Err` when the settings cannot make a client).
    fn pool_for(&self, callee: &Callee) -> Result<Pool, String> {
        let Some(tls) = &callee.tls else {
            return Ok(self.plain.clone());
        };
        let mut secure = self.secure.lock();
        if let Some((_, pool)) = secure.iter().find(|(t, _)| Arc::ptr_eq(t, tls) || t == tls) {
            return Ok(pool.clone());
        }
        let made = pool(Some(tls))?;
        // Settings of reloads long gone are dropped with their pools.
        secure.retain(|(t, _)| Arc::strong_count(t) > 1);
        secure.push((tls.clone(), made.clone()));
        Ok(made)
    }

    /// Sends `request` with `body` to `addr` (as the call whose span id is `span`) and reads the answer within the route's
    /// `timeout`, keeping at most one byte more of the body than `max_body` (enough for
    /// the diff to see it is too large).
    pub(super) async fn call(
        &self,
        callee: &Callee,
        request: &RequestHeader,
        body: Bytes,
        policy: &CompiledPolicy,
        span: u64,
    ) -> Result<Captured, String> {
        let mirrored = mirror_of(callee, request, body, span)?;
        let pool = self.pool_for(callee)?;
        let exchange = async {
            let response = pool.request(mirrored).await.map_err(describe)?;
            read(response, policy.max_body).await
        };
        tokio::time::timeout(policy.timeout, exchange)
            .await
            .unwrap_or_else(|_| Err("timeout".to_owned()))
    }
}

/// The request the shadow gets: the primary's, with the marker and a trace context of
/// its own.
fn mirror_of(
    callee: &Callee,
    request: &RequestHeader,
    body: Bytes,
    span: u64,
) -> Result<http::Request<Full<Bytes>>, String> {
    let (addr, scheme) = (
        callee.addr,
        if callee.tls.is_some() {
            "https"
        } else {
            "http"
        },
    );
    let mut builder = http::Request::builder()
        .method(request.method.clone())
        .uri(format!("{scheme}://{addr}{}", target_of(request)));
    for (name, value) in request.headers.iter() {
        if NOT_COPIED.contains(&name.as_str()) {
            continue;
        }
        match (
            name.as_str(),
            value.to_str().ok().and_then(|v| child_traceparent(v, span)),
        ) {
            (TRACEPARENT, Some(child)) => builder = builder.header(name, child),
            _ => builder = builder.header(name, value),
        }
    }
    if !request.headers.contains_key(http::header::HOST) {
        // HTTP/1.0 allows a request without Host; the call goes out as HTTP/1.1, which needs
        // one: the client's absolute-form authority, else the address called (the primary
        // got its own upstream's authority the same way).
        match request.uri.authority() {
            Some(authority) => builder = builder.header(http::header::HOST, authority.as_str()),
            None => builder = builder.header(http::header::HOST, addr.to_string()),
        }
    }
    builder
        .header(SHADOW_HEADER, "1")
        .body(Full::new(body))
        .map_err(|error| format!("request: {error}"))
}

/// The target of `request` as sent: path and query.
pub(super) fn target_of(request: &RequestHeader) -> String {
    request
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned())
}

/// Reads a response into a [`Captured`], stopping one byte past `max_body`.
async fn read(
    response: http::Response<hyper::body::Incoming>,
    max_body: usize,
) -> Result<Captured, String> {
    let status = response.status().as_u16();
    let headers = header_pairs(response.headers());
    let mut incoming = response.into_body();
    let mut body = BytesMut::new();
    while let Some(frame) = incoming.frame().await {
        let frame = frame.map_err(|error| format!("body: {error}"))?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        let room = (max_body + 1).saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() > max_body {
            break;
        }
    }
    Ok(Captured {
        status,
        headers,
        body: body.freeze(),
    })
}

/// What went wrong with a call, in a few words: `connect: ...`, `request: ...`.
fn describe(error: hyper_util::client::legacy::Error) -> String {
    let kind = match error.is_connect() {
        true => "connect",
        false => "request",
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
