//! What every test module shares: backends that report what they received, a proxy started
//! from a routes.yaml written for the test, and a bounded poll for asynchronous outcomes.

pub mod backend;
pub mod body;
pub mod browser;
pub mod demo;
pub mod faults;
pub mod load;
pub mod memory;
pub mod metrics;
pub mod process;
pub mod proxy;
pub mod raw_http;
pub mod relay;
pub mod scratch;
pub mod scripted;
pub mod shadowing;
pub mod tls;
pub mod tokens;
pub mod webhook;

use std::future::Future;
use std::time::{Duration, Instant};

pub use backend::Backend;
pub use proxy::{send, Answer, Config, Proxy};

/// The tenant header every test config lists first among its tenant sources.
pub const TENANT: &str = "x-tenant-id";

/// Polls `check` every 20 ms until it returns true; panics naming `what` after `limit`.
///
/// Reloads, metrics written after a response and file-watcher events are asynchronous:
/// this is how a test waits for them, never with a bare sleep.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
