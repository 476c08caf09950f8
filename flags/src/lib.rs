//! Pure decision logic for strangler: the routes.yaml model, route matching, tenant
//! resolution and rollout decisions. Nothing here does I/O on the request path or knows
//! Pingora; the proxy hands a [`RequestView`] to [`Snapshot::decide`] and gets a
//! [`Decision`] that says which side answers and why.
//!
//! Config goes through three types (see `shared/STYLE.md`): [`config::raw`] (serde,
//! `deny_unknown_fields`; its rustdoc is the routes.yaml reference), validated into a
//! [`config::Config`] with every problem located at `file:line:col`, compiled into an
//! immutable [`Snapshot`] (route trie, name index) that the request path reads.
//!
//! A request's decision reads top to bottom: normalise the path (`request_path`: decode
//! what servers decode, collapse `//`, refuse dot segments and encoded separators; the
//! proxy still forwards the original), resolve the tenant
//! ([`tenant`]), find the most specific route ([`table`], ranked by [`Rank`]), decide the
//! side ([`decision`], sticky buckets from [`rollout`]; a QA force header from [`qa`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod decision;
pub mod error;
pub mod guard;
pub mod hash;
mod locate;
pub mod pattern;
pub mod qa;
pub mod ramp;
mod request_parts;
mod request_path;
pub mod resilience;
pub mod rewrite;
pub mod rollout;
pub mod route;
pub mod route_condition;
pub mod shadow_policy;
mod snapshot;
pub mod store_url;
mod surroundings;
pub mod table;
pub mod tenant;
mod tenant_overrides;
pub mod tls;
pub mod upstream;

#[cfg(test)]
mod tests;

pub use config::parse_duration;
pub use decision::{Decision, Reason, Side};
pub use error::{ConfigError, ConfigErrors, RequestError};
pub use qa::{ForceIgnored, ForcedBy};
pub use rollout::bucket;
pub use route::{Rank, Route};
pub use snapshot::{content_hash, Snapshot};
pub use surroundings::{Offline, Surroundings};
pub use tenant::TenantSourceKind;
pub use upstream::Upstream;

/// The path as the decision matches it (escapes of unreserved characters decoded, `//`
/// collapsed, matrix parameters left out), or why it is refused: what `strangler explain`
/// shows. The proxy forwards the path as sent.
pub fn matched_path(raw: &str) -> Result<std::borrow::Cow<'_, str>, RequestError> {
    request_path::normalize_request_path(raw).map_err(RequestError::InvalidPath)
}

/// What [`RequestView::header`] returns for a header the client sent more than once: the
/// decision refuses a tenant read from it ("repeated") instead of guessing which copy the
/// upstream reads. It starts with NUL, which no real header value can hold.
pub const REPEATED_HEADER: &str = "\0repeated";
/// What [`RequestView::header`] returns for a header whose value is not UTF-8.
pub const NOT_UTF8_HEADER: &str = "\0not UTF-8";

/// What the decision needs to know about a request; the proxy implements it over its
/// request header so nothing is copied.
pub trait RequestView {
    /// The method, e.g. `GET` (case-sensitive, as HTTP defines it).
    fn method(&self) -> &str;
    /// The path without the query string as sent, e.g. `/api/invoices/42`; the decision
    /// normalises it (`%69nvoices` is `invoices`, `//` is `/`) before matching.
    fn path(&self) -> &str;
    /// The host (`Host` header or URI authority), port allowed; lowercase is expected, as
    /// a `subdomain:` tenant is borrowed from it as sent.
    fn host(&self) -> Option<&str>;
    /// The value of the header called `lowercase_name`, if present: [`REPEATED_HEADER`]
    /// when it was sent more than once, [`NOT_UTF8_HEADER`] when it is not UTF-8.
    fn header(&self, lowercase_name: &str) -> Option<&str>;
    /// The query string as sent, without the `?`, if the target has one: read only by
    /// routes with `match.query` conditions.
    fn query(&self) -> Option<&str>;
    /// The value of cookie `name` (case-sensitive), read only by routes with
    /// `match.cookies` conditions. The default parses `header("cookie")` lazily without
    /// allocating; a header that does not parse, or is repeated, holds no cookie. A view
    /// over several `Cookie` fields (HTTP/2 sends one per cookie) overrides it.
    fn cookie(&self, name: &str) -> Option<&str> {
        self.header("cookie")
            .and_then(|header| request_parts::cookie_in(header, name))
    }
}

pub use request_parts::cookie_in;
