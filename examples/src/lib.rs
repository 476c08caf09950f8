//! The two backends a strangler migration sits between, small enough to read in one
//! sitting and real enough to proxy, shadow and diff.
//!
//! - [`legacy`] is the monolith: invoices, tickets and users.
//! - [`billing`] is the new service carved out of it: invoices only, with one deliberate
//!   difference (the `currency` field) for the shadow comparison to find.
//!
//! Both answer JSON whose data is a pure function of the id, plus four envelope fields:
//! `served_by` and `tenant` (who answered, and for which tenant the proxy said this was)
//! and two volatile ones, `generated_at` and `request_id`, that differ on every call and
//! that a diff has to treat as noise. Every response also carries `x-served-by`.
//!
//! Binding is the caller's job: `strangler demo` and the tests bind their own listeners
//! (tests on port 0) and hand them to [`serve`].
#![forbid(unsafe_code)]

pub mod billing;
mod clock;
mod invoices;
pub mod legacy;
#[cfg(test)]
mod probe;
mod reply;
mod tickets;
mod users;

use axum::Router;
use tokio::net::TcpListener;

/// Serves `router` on an already-bound listener until the future is dropped.
///
/// Returns only if accepting connections fails for good.
pub async fn serve(listener: TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(listener, router).await
}
