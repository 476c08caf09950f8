//! The kind of tenant source a tenant id came from: a plain name for logs, metrics and the
//! request errors of [`crate::error`]. Its own file so that the error types can name it
//! without importing the tenant resolver, which itself returns those errors.

use serde::Serialize;

/// The kind of source a tenant id came from, for logs, metrics and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantSourceKind {
    /// A request header (`header: X-Tenant-Id`).
    Header,
    /// The first label of the host (`subdomain: .shop.example.com`).
    Subdomain,
    /// A `{tenant}` segment of the path (`path: "/t/{tenant}/**"`).
    Path,
    /// A claim of a verified bearer token (`jwt: { claim: tenant_id, ... }`).
    Jwt,
}

impl TenantSourceKind {
    /// `"header"`, `"subdomain"`, `"path"` or `"jwt"`; stable, used as a metric label.
    pub fn code(self) -> &'static str {
        match self {
            TenantSourceKind::Header => "header",
            TenantSourceKind::Subdomain => "subdomain",
            TenantSourceKind::Path => "path",
            TenantSourceKind::Jwt => "jwt",
        }
    }
}
