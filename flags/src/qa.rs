//! Forcing a side for QA: a request header (`x-strangler-side: new`) that sends the request
//! to that side whatever the rollout says, honoured only for a request that also carries a
//! valid signed QA token, or whose tenant is listed in `qa.tenants`. Otherwise the header is
//! ignored and the request is decided as if it were absent, so a client can never pick its
//! own side; the proxy counts the ignored ones. Both headers are in the `x-strangler-`
//! namespace, which the proxy never forwards upstream.
//!
//! A kill switch still wins over a forced `new` (it is the emergency brake), and a request
//! with no matching route has no new side to force.

use std::collections::HashSet;

use serde_json::Value;

use crate::tenant::jwt::JwtKeys;
use crate::{RequestView, Side};

/// The force header when `qa.header` is absent.
pub const DEFAULT_FORCE_HEADER: &str = "x-strangler-side";
/// The QA token header when `qa.token.header` is absent.
pub const DEFAULT_QA_TOKEN_HEADER: &str = "x-strangler-qa-token";
/// The claim a QA token must carry as `true` when `qa.token.claim` is absent.
pub const DEFAULT_QA_CLAIM: &str = "strangler_qa";

/// Who allowed a forced side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForcedBy {
    /// The request carried a valid QA token.
    Token,
    /// The request's tenant is in `qa.tenants`.
    Tenant,
}

impl ForcedBy {
    /// Every way, for pre-registered metric labels.
    pub const ALL: [ForcedBy; 2] = [ForcedBy::Token, ForcedBy::Tenant];

    /// `"qa-token"` or `"qa-tenant"`.
    pub fn code(self) -> &'static str {
        match self {
            ForcedBy::Token => "qa-token",
            ForcedBy::Tenant => "qa-tenant",
        }
    }
}

/// Why a force header was not honoured; a stable code, used as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForceIgnored {
    /// The value is neither `legacy` nor `new`.
    InvalidValue,
    /// No QA token, and the tenant is not a QA tenant.
    NotAllowed,
    /// A QA token that does not verify, or lacks the QA claim.
    InvalidToken,
    /// The route's kill switch is on, so `new` cannot be forced.
    KillSwitch,
    /// No route matches, so there is no new side.
    NoRoute,
}

impl ForceIgnored {
    /// Every reason, for pre-registered metric labels.
    pub const ALL: [ForceIgnored; 5] = [
        ForceIgnored::InvalidValue,
        ForceIgnored::NotAllowed,
        ForceIgnored::InvalidToken,
        ForceIgnored::KillSwitch,
        ForceIgnored::NoRoute,
    ];

    /// `invalid-value`, `not-allowed`, `invalid-token`, `kill-switch` or `no-route`.
    pub fn code(self) -> &'static str {
        match self {
            ForceIgnored::InvalidValue => "invalid-value",
            ForceIgnored::NotAllowed => "not-allowed",
            ForceIgnored::InvalidToken => "invalid-token",
            ForceIgnored::KillSwitch => "kill-switch",
            ForceIgnored::NoRoute => "no-route",
        }
    }
}

/// What a request's force header amounts to, before the route is considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Force {
    /// No force header.
    Absent,
    /// A side the request may have.
    Allowed(Side, ForcedBy),
    /// A header that does not count.
    Ignored(ForceIgnored),
}

/// A verifier for QA tokens.
#[derive(Clone)]
pub struct QaToken {
    /// The header carrying the bare token, lowercase.
    pub(crate) header: Box<str>,
    /// The claim that must be `true`.
    pub(crate) claim: Box<str>,
    pub(crate) keys: JwtKeys,
}

impl QaToken {
    /// Whether `token` verifies and carries the QA claim as `true`.
    fn valid(&self, token: &str) -> bool {
        self.keys
            .claims(token.trim())
            .is_ok_and(|claims| claims.get(&*self.claim) == Some(&Value::Bool(true)))
    }
}

impl std::fmt::Debug for QaToken {
    /// Names the header and claim; never prints key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QaToken")
            .field("header", &self.header)
            .field("claim", &self.claim)
            .finish_non_exhaustive()
    }
}

/// The compiled `qa:` section.
#[derive(Debug, Clone)]
pub struct QaPolicy {
    /// The force header, lowercase.
    pub(crate) header: Box<str>,
    pub(crate) token: Option<QaToken>,
    pub(crate) tenants: HashSet<Box<str>>,
}

impl QaPolicy {
    /// What `req`'s force header amounts to for `tenant`. Costs one header lookup for a
    /// request without the header; a token is verified only when the header is present.
    pub fn force(&self, req: &impl RequestView, tenant: Option<&str>) -> Force {
        let Some(value) = req.header(&self.header) else {
            return Force::Absent;
        };
        let side = match value.trim() {
            v if v.eq_ignore_ascii_case("legacy") => Side::Legacy,
            v if v.eq_ignore_ascii_case("new") => Side::New,
            _ => return Force::Ignored(ForceIgnored::InvalidValue),
        };
        if tenant.is_some_and(|tenant| self.tenants.contains(tenant)) {
            return Force::Allowed(side, ForcedBy::Tenant);
        }
        let presented = self
            .token
            .as_ref()
            .and_then(|token| Some((token, req.header(&token.header)?)));
        match presented {
            None => Force::Ignored(ForceIgnored::NotAllowed),
            Some((token, value)) if token.valid(value) => Force::Allowed(side, ForcedBy::Token),
            Some(_) => Force::Ignored(ForceIgnored::InvalidToken),
        }
    }
}
