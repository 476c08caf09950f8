//! The demo's notification receiver: for each `notify:` receiver of the demo's routes.yaml
//! on a loopback address, a small HTTP server on that address that prints every
//! notification it gets (`demo: notification ramp-step invoices: ...`), so the demo shows
//! what a Slack channel or an incident tool would hear.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::Router;
use strangler_flags::Snapshot;

use crate::cli::error::CliError;

/// Binds and serves a printing receiver for every loopback `notify:` URL of `snapshot` on
/// `runtime`.
pub fn start(snapshot: &Snapshot, runtime: &tokio::runtime::Runtime) -> Result<(), CliError> {
    let mut bound: Vec<SocketAddr> = Vec::new();
    for target in snapshot.notify() {
        let Some(addr) = loopback(&target.url) else {
            continue;
        };
        if bound.contains(&addr) {
            continue;
        }
        let what = "notification receiver";
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(addr))
            .map_err(|source| CliError::Bind { what, addr, source })?;
        let router = Router::new().fallback(print);
        runtime.spawn(strangler_examples::serve(listener, router));
        eprintln!("demo: {what} on {}", target.url);
        bound.push(addr);
    }
    Ok(())
}

/// The address of an `http://127.0.0.1:PORT/...` URL.
fn loopback(url: &str) -> Option<SocketAddr> {
    let rest = url.strip_prefix("http://")?;
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let addr: SocketAddr = authority.parse().ok()?;
    addr.ip().is_loopback().then_some(addr)
}

/// Prints one notification: its event, route and summary.
async fn print(body: Bytes) -> StatusCode {
    let notice: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let text = |key: &str| notice[key].as_str().unwrap_or("-").to_owned();
    eprintln!(
        "demo: notification {} {}: {}",
        text("event"),
        text("route"),
        text("summary")
    );
    StatusCode::NO_CONTENT
}
