//! The decision: which side answers a request, and why. Order, first that applies wins:
//! no matching route (legacy, `no-route`); the route's kill switch (legacy,
//! `kill-switch`); no tenant (`tenant.default`, `no-tenant`); an explicit tenant override
//! (`tenant-override`); a percentage above 0 (the sticky bucket, `percent`); otherwise
//! legacy (`default`). Before any of that the path is normalised (see
//! `crate::request_path`) and the route table and a `path:` tenant source see only that
//! form, so every spelling of a path decides alike; the proxy still forwards the original
//! request target. Nothing here allocates in the common case (a path already canonical):
//! the tenant is borrowed from the request.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::RequestError;
use crate::request_path::normalize_request_path;
use crate::rollout::bucket;
use crate::route::Route;
use crate::tenant::TenantSourceKind;
use crate::{RequestView, Snapshot};

/// Which upstream answers: the monolith or the route's new service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The monolith (`legacy:`).
    #[default]
    Legacy,
    /// The route's service.
    New,
}

impl Side {
    /// `"legacy"` or `"new"`; stable, used as a metric label.
    pub fn code(self) -> &'static str {
        match self {
            Side::Legacy => "legacy",
            Side::New => "new",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why a request went to its side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// No route matches the request: legacy.
    NoRoute,
    /// The route's kill switch is on: legacy.
    KillSwitch,
    /// The tenant has an explicit side in the route's `rollout.tenants`.
    TenantOverride,
    /// The tenant's sticky bucket against the route's threshold, both in basis points;
    /// the side is new iff `bucket < threshold`.
    Percent {
        /// The tenant's bucket for the route's salt, 0..=9999.
        bucket: u16,
        /// The route's percentage in basis points, 0..=10000.
        threshold: u16,
    },
    /// No source yielded a tenant: `tenant.default`.
    NoTenant,
    /// The route is at 0 % and the tenant has no override: legacy.
    Default,
}

impl Reason {
    /// A stable code, used as a metric label: `no-route`, `kill-switch`,
    /// `tenant-override`, `percent`, `no-tenant` or `default`.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NoRoute => "no-route",
            Reason::KillSwitch => "kill-switch",
            Reason::TenantOverride => "tenant-override",
            Reason::Percent { .. } => "percent",
            Reason::NoTenant => "no-tenant",
            Reason::Default => "default",
        }
    }
}

impl fmt::Display for Reason {
    /// The code, plus the figures for `percent`: `percent (bucket 1234 < 2500)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Percent { bucket, threshold } if bucket < threshold => {
                write!(f, "percent (bucket {bucket} < {threshold})")
            }
            Reason::Percent { bucket, threshold } => {
                write!(f, "percent (bucket {bucket} >= {threshold})")
            }
            other => f.write_str(other.code()),
        }
    }
}

/// The outcome of [`Snapshot::decide`] for one request.
#[derive(Debug, Clone, Copy)]
pub struct Decision<'s, 'r> {
    /// The most specific matching route, if any.
    pub route: Option<&'s Route>,
    /// The tenant, borrowed from the request.
    pub tenant: Option<&'r str>,
    /// Where the tenant came from.
    pub tenant_source: Option<TenantSourceKind>,
    /// Which side answers.
    pub side: Side,
    /// Why.
    pub reason: Reason,
}

/// Decides `req` against `snapshot`; see the module documentation for the order.
pub(crate) fn decide<'s, 'r>(
    snapshot: &'s Snapshot,
    req: &'r impl RequestView,
) -> Result<Decision<'s, 'r>, RequestError> {
    let path = normalize_request_path(req.path()).map_err(RequestError::InvalidPath)?;
    let resolved = snapshot.tenants.resolve(req, &path)?;
    let tenant = resolved.map(|(tenant, _)| tenant);
    let route = snapshot.table.find(&snapshot.routes, req, &path);
    let (side, reason) = match route {
        None => (Side::Legacy, Reason::NoRoute),
        Some(route) => route_side(route, tenant, snapshot.default_side),
    };
    Ok(Decision {
        route,
        tenant,
        tenant_source: resolved.map(|(_, source)| source),
        side,
        reason,
    })
}

/// The side of a matched route for `tenant`.
fn route_side(route: &Route, tenant: Option<&str>, default_side: Side) -> (Side, Reason) {
    if route.killed {
        return (Side::Legacy, Reason::KillSwitch);
    }
    let Some(tenant) = tenant else {
        return (default_side, Reason::NoTenant);
    };
    if let Some(side) = route.overrides.get(tenant) {
        return (*side, Reason::TenantOverride);
    }
    if route.percent == 0 {
        return (Side::Legacy, Reason::Default);
    }
    let bucket = bucket(&route.salt, tenant);
    let side = if bucket < route.percent {
        Side::New
    } else {
        Side::Legacy
    };
    (
        side,
        Reason::Percent {
            bucket,
            threshold: route.percent,
        },
    )
}
