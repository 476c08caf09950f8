//! The web console: one page for release managers and QA, served by the admin listener at
//! `/` and `/console/`, from files embedded in the binary at build time (no CDN, no network
//! at run time, no Node toolchain). The page is a small script over the admin API: every
//! view reads an admin endpoint, every action is an admin API call with the bearer token
//! the person typed in, so each change has its audit entry, its revert and its checks.
//!
//! The token is kept in the tab's `sessionStorage` and sent as `Authorization: Bearer`,
//! never as a cookie, so another site cannot make the browser act with it (no CSRF). The
//! pages carry a Content-Security-Policy that allows only this listener's own script and
//! style (no inline script, no `eval`, no framing), and the script inserts everything from
//! the store as text nodes, never as HTML: a tenant id, a path or a shadowed body cannot
//! run in the page.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::admin::state::AdminState;

const INDEX: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("console.js");
/// The readiness page (`#/readiness`), in a file of its own beside `console.js`.
const READINESS_SCRIPT: &str = include_str!("readiness.js");
const STYLE: &str = include_str!("console.css");

/// What every console response carries: the page may load only its own script and style,
/// talk only to this listener, and never be framed or sniffed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// The console's routes (outside `/admin/`: the page itself needs no token; every call it
/// makes does).
pub fn routes() -> Router<AdminState> {
    Router::new()
        .route(
            "/",
            get(|| async { page(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/console",
            get(|| async { page(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/console/",
            get(|| async { page(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/console/console.js",
            get(|| async { page(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/console/readiness.js",
            get(|| async { page(READINESS_SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/console/console.css",
            get(|| async { page(STYLE, "text/css; charset=utf-8") }),
        )
}

/// `body` with its type and the console's security headers.
fn page(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}
