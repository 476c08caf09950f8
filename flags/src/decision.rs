//! The decision: which side answers a request, and why. Order, first that applies wins:
//! a bearer token that does not verify under `tenant.on_invalid: legacy` (legacy, no tenant,
//! `invalid-token`); no matching route (legacy, `no-route`); the route's kill switch (legacy,
//! `kill-switch`); a QA force header that is honoured (`forced`, see `crate::qa`); no
//! tenant (`tenant.default`, `no-tenant`; with `tenant.anonymous`, the anonymous id's
//! sticky bucket instead, never an override, see `crate::tenant::anonymous`); an explicit
//! tenant override (`tenant-override`); a percentage above 0 (the sticky bucket,
//! `percent`); otherwise legacy (`default`). Before any of that the path is normalised (see
//! `crate::request_path`) and the route table and a `path:` tenant source see only that
//! form, so every spelling of a path decides alike; the proxy still forwards the original
//! request target. Nothing here allocates in the common case (a path already canonical):
//! the tenant is borrowed from the request, except a verified token's claim.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::RequestError;
use crate::qa::{Force, ForceIgnored, ForcedBy};
use crate::request_path::normalize_request_path;
use crate::rollout::bucket_after;
use crate::route::Route;
use crate::tenant::anonymous::AnonymousId;
use crate::tenant::{OnInvalid, TenantSourceKind};
use crate::{RequestView, Snapshot};

/// Which upstream answers: the monolith or the route's new service.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
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

    /// The other side: the one that shadows this one.
    pub fn other(self) -> Side {
        match self {
            Side::Legacy => Side::New,
            Side::New => Side::Legacy,
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
    /// The bearer token does not verify (why, e.g. `expired`) and `tenant.on_invalid` is
    /// `legacy`: legacy, with no tenant.
    InvalidToken(&'static str),
    /// A QA force header, honoured because of a QA token or a QA tenant.
    Forced(ForcedBy),
}

impl Reason {
    /// A stable code, used as a metric label: `no-route`, `kill-switch`,
    /// `tenant-override`, `percent`, `no-tenant`, `default`, `invalid-token` or `forced`.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NoRoute => "no-route",
            Reason::KillSwitch => "kill-switch",
            Reason::TenantOverride => "tenant-override",
            Reason::Percent { .. } => "percent",
            Reason::NoTenant => "no-tenant",
            Reason::Default => "default",
            Reason::InvalidToken(_) => "invalid-token",
            Reason::Forced(_) => "forced",
        }
    }
}

impl fmt::Display for Reason {
    /// The code, plus the figures for `percent` (`percent (bucket 1234 < 2500)`) and why for
    /// `invalid-token` (`invalid-token (expired)`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Every request of a ramp logs this: its figures are written by itoa, which
            // costs a fifth of `write!`'s integer formatting.
            Reason::Percent { bucket, threshold } => {
                let mut digits = itoa::Buffer::new();
                f.write_str("percent (bucket ")?;
                f.write_str(digits.format(*bucket))?;
                f.write_str(if bucket < threshold { " < " } else { " >= " })?;
                f.write_str(digits.format(*threshold))?;
                f.write_str(")")
            }
            Reason::InvalidToken(why) => write!(f, "invalid-token ({why})"),
            Reason::Forced(by) => write!(f, "forced ({})", by.code()),
            other => f.write_str(other.code()),
        }
    }
}

/// The outcome of [`Snapshot::decide`] for one request.
#[derive(Debug, Clone)]
pub struct Decision<'s, 'r> {
    /// The most specific matching route, if any.
    pub route: Option<&'s Route>,
    /// The tenant: borrowed from the request, owned when it is a verified token's claim.
    pub tenant: Option<Cow<'r, str>>,
    /// Where the tenant came from.
    pub tenant_source: Option<TenantSourceKind>,
    /// Which side answers.
    pub side: Side,
    /// Why.
    pub reason: Reason,
    /// A QA force header that was present but not honoured, and why.
    pub force_ignored: Option<ForceIgnored>,
    /// With `tenant.anonymous`, a request without a tenant's id: sent (and bucketed by),
    /// or missing (the proxy mints one, [`Decision::bucket_anonymous`]).
    pub anonymous: Option<AnonymousId<'r>>,
}

impl Decision<'_, '_> {
    /// Buckets a request whose anonymous id was missing by the one the proxy minted for
    /// it, `id`; nothing changes for any other decision (a tenant, a kill switch, a forced
    /// side, no route).
    pub fn bucket_anonymous(&mut self, id: &str) {
        let (Some(AnonymousId::Missing), Reason::NoTenant) = (self.anonymous, self.reason) else {
            return;
        };
        if let Some(route) = self.route {
            (self.side, self.reason) = anonymous_side(route, id);
        }
    }
}

/// Decides `req` against `snapshot`; see the module documentation for the order.
pub(crate) fn decide<'s, 'r>(
    snapshot: &'s Snapshot,
    req: &'r impl RequestView,
) -> Result<Decision<'s, 'r>, RequestError> {
    let path = normalize_request_path(req.path()).map_err(RequestError::InvalidPath)?;
    let resolved = match snapshot.tenants.resolve(req, &path) {
        Err(RequestError::InvalidToken(why))
            if snapshot.tenants.on_invalid() == OnInvalid::Legacy =>
        {
            return Ok(untrusted(snapshot, req, &path, why));
        }
        resolved => resolved?,
    };
    let route = snapshot.table.find(&snapshot.routes, req, &path);
    let tenant = resolved.as_ref().map(|(tenant, _)| &**tenant);
    let anonymous = match (&snapshot.config.anonymous, tenant) {
        (Some(ids), None) => Some(ids.read(req.cookie(&ids.cookie))),
        _ => None,
    };
    let force = match &snapshot.config.qa {
        Some(qa) => qa.force(req, tenant),
        None => Force::Absent,
    };
    let (side, reason, force_ignored) = match route {
        None => no_route(force),
        Some(route) => forced_side(route, force).unwrap_or_else(|ignored| {
            with(
                route_side(route, tenant, anonymous, snapshot.default_side),
                ignored,
            )
        }),
    };
    let (tenant, tenant_source) = resolved.unzip();
    Ok(Decision {
        route,
        tenant,
        tenant_source,
        side,
        reason,
        force_ignored,
        anonymous,
    })
}

/// A request whose token did not verify, under `on_invalid: legacy`: legacy, no tenant,
/// the route still named for logs and metrics.
fn untrusted<'s, 'r>(
    snapshot: &'s Snapshot,
    req: &impl RequestView,
    path: &str,
    why: &'static str,
) -> Decision<'s, 'r> {
    Decision {
        route: snapshot.table.find(&snapshot.routes, req, path),
        tenant: None,
        tenant_source: None,
        side: Side::Legacy,
        reason: Reason::InvalidToken(why),
        force_ignored: None,
        anonymous: None,
    }
}

/// Legacy, `no-route`: a force header other than `legacy` is ignored, there being no new
/// side.
fn no_route(force: Force) -> (Side, Reason, Option<ForceIgnored>) {
    let ignored = match force {
        Force::Absent | Force::Allowed(Side::Legacy, _) => None,
        Force::Allowed(Side::New, _) => Some(ForceIgnored::NoRoute),
        Force::Ignored(why) => Some(why),
    };
    (Side::Legacy, Reason::NoRoute, ignored)
}

/// The side an honoured force header gives on `route`; otherwise why it was ignored, if
/// there was one. A kill switch wins over a forced `new`.
fn forced_side(
    route: &Route,
    force: Force,
) -> Result<(Side, Reason, Option<ForceIgnored>), Option<ForceIgnored>> {
    match force {
        Force::Absent => Err(None),
        Force::Ignored(why) => Err(Some(why)),
        Force::Allowed(Side::New, _) if route.killed => Err(Some(ForceIgnored::KillSwitch)),
        Force::Allowed(side, by) => Ok((side, Reason::Forced(by), None)),
    }
}

fn with(
    (side, reason): (Side, Reason),
    ignored: Option<ForceIgnored>,
) -> (Side, Reason, Option<ForceIgnored>) {
    (side, reason, ignored)
}

/// The side of a matched route for `tenant` (or, without one, its `anonymous` id).
fn route_side(
    route: &Route,
    tenant: Option<&str>,
    anonymous: Option<AnonymousId<'_>>,
    default_side: Side,
) -> (Side, Reason) {
    if route.killed {
        return (Side::Legacy, Reason::KillSwitch);
    }
    let Some(tenant) = tenant else {
        return match anonymous {
            Some(AnonymousId::Sent(id)) => anonymous_side(route, id),
            _ => (default_side, Reason::NoTenant),
        };
    };
    if let Some(side) = route.overrides.get(tenant.as_bytes()) {
        return (side, Reason::TenantOverride);
    }
    percent_side(route, tenant)
}

/// The side of an anonymous id on a route whose kill switch is off: its bucket only, as it
/// is never a tenant an override could name.
fn anonymous_side(route: &Route, id: &str) -> (Side, Reason) {
    percent_side(route, id)
}

/// The side of `key`'s sticky bucket on `route`, `default` at 0 %.
fn percent_side(route: &Route, key: &str) -> (Side, Reason) {
    if route.percent == 0 {
        return (Side::Legacy, Reason::Default);
    }
    let bucket = bucket_after(route.salted, key);
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
