//! The routes.yaml file exactly as written: serde types with `deny_unknown_fields`, so a
//! misspelled key (`percnt:`) fails the load with its line and column instead of being
//! silently ignored. Nothing here is checked beyond YAML types; `config::validate` turns
//! these into checked values and reports every semantic problem at once.
//!
//! This rustdoc is the reference for routes.yaml: each field documents its key.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use schemars::JsonSchema;
use serde::Deserialize;

pub use super::fallback::{RawFallback, RawFallbackOn};
pub use super::rewrite::{RawHeaderRewrite, RawRewrite};
pub use super::services::{RawBreaker, RawHealth, RawService, RawServiceSpec};
pub use super::tenant::RawAnonymous;
use crate::shadow_policy::{RawDiffSettings, ShadowPolicy};
use crate::tenant::OnInvalid;
use crate::Side;

/// The whole routes.yaml file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `listen:` the proxy listener: an address (`127.0.0.1:8080`), a listener with TLS
    /// (`{ addr: 0.0.0.0:443, tls: { cert: site.pem, key: site.key } }`, or several
    /// certificates chosen by SNI: `tls: { certs: [{ cert, key, names: [...] }] }`), or a
    /// list of these ([`RawListener`](super::listen::RawListener) documents each key).
    /// Certificate files are relative to routes.yaml's directory and are read again when
    /// they change on disk. Required.
    pub listen: super::listen::RawListen,
    /// `admin:` the admin listener (metrics, health, explain). Default `127.0.0.1:9180`.
    pub admin: Option<SocketAddr>,
    /// `admin_tls:` the admin listener over TLS, `{ cert, key, client_ca }`; with
    /// `client_ca` a client must present a certificate it signed (mTLS, for fleets whose
    /// admin API crosses a network), on top of the admin token
    /// ([`RawAdminTls`](super::listen::RawAdminTls) documents each key). Read at start;
    /// the certificate rotates like a listener's. Default: plain HTTP.
    pub admin_tls: Option<super::listen::RawAdminTls>,
    /// `threads:` proxy worker threads, at least 1. Default: the proxy uses one per core.
    pub threads: Option<usize>,
    /// `work_stealing:` whether an idle worker thread takes tasks queued on a busy one.
    /// `false` keeps each connection on the worker that accepted it (one single-threaded
    /// runtime per worker). Read at start. Default: true with two or more `threads`, false
    /// with one (nothing to steal from; its runtime is lighter).
    pub work_stealing: Option<bool>,
    /// `alt_timer:` tokio's alternative timer on the work-stealing workers; needs a
    /// strangler built with `RUSTFLAGS="--cfg tokio_unstable"`. Read at start. Default:
    /// false.
    pub alt_timer: Option<bool>,
    /// `legacy:` the monolith, `http://host[:port]` or `https://host[:port]`; gets every
    /// request no rule sends elsewhere. Hosts are resolved when the file is loaded, and
    /// again on each reload. The mapping form of `services:` also applies
    /// (`{ url: https://monolith.internal, tls: { ca: ca.pem }, read_timeout: 30s }`),
    /// without `health:` or `breaker:`: legacy has nowhere to fall back to.
    pub legacy: RawService,
    /// `services:` the new services by name, each `http(s)://host[:port]` like `legacy`, or
    /// a mapping `{ url: ..., read_timeout: 5s, health: {...}, breaker: {...}, tls: {...},
    /// http2: true }` that adds the service's protections and transport (`RawServiceSpec`
    /// documents each key).
    #[serde(default)]
    pub services: BTreeMap<String, RawService>,
    /// `tenant:` how a request's tenant is found. Default: no sources, default side legacy.
    #[serde(default)]
    pub tenant: RawTenant,
    /// `routes:` the rules that send some requests to a new service.
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    /// `paths:` how request paths compare with route patterns: `{ case: sensitive }` (the
    /// default) or `{ case: insensitive }` ([`RawPaths`](super::paths::RawPaths) documents it).
    #[serde(default)]
    pub paths: super::paths::RawPaths,
    /// `debug_headers:` when true the proxy adds the decision (side, route, reason) to
    /// responses as headers, for QA. Default false.
    #[serde(default)]
    pub debug_headers: bool,
    /// `connect_timeout:` how long the proxy waits to connect to an upstream, as a
    /// duration string: `250ms`, `1s`, `2m`. Default `1s`. Deprecated: `timeouts.connect`
    /// says the same, and this key only warns (`strangler check`, and the log at load).
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub connect_timeout: Option<String>,
    /// `store:` the URL of the runtime flag store, where the control plane keeps kill
    /// switches, percentages and tenant sides set at runtime (later also the shadow diff
    /// store): `sqlite:` followed by a path (`sqlite://strangler.db`,
    /// `sqlite:///var/lib/strangler.db`), or a `postgres://` or `postgresql://` URL.
    /// A relative SQLite path is relative to routes.yaml's directory. Default
    /// `sqlite://strangler.db`, a file beside routes.yaml: its directory must be writable,
    /// or name a store elsewhere.
    pub store: Option<crate::store_url::StoreUrl>,
    /// `diffs:` how shadow comparisons are run, kept and reported: calls in flight,
    /// samples per signature and their redaction, retention, and the noise thresholds
    /// (`crate::shadow_policy::RawDiffSettings` documents each key). Default: all defaults.
    #[serde(default)]
    pub diffs: RawDiffSettings,
    /// `store_cache:` the file where the proxy keeps the last flags it read from the store
    /// (written atomically on every change), so an instance that starts while the store is
    /// unreachable serves them instead of routes.yaml alone. A relative path is relative to
    /// the working directory. Default: `<name>.flags-cache.json` beside
    /// routes.yaml (`routes.flags-cache.json`). Read at start only.
    pub store_cache: Option<String>,
    /// `qa:` lets QA force a request to one side with a header, honoured only with a
    /// signed QA token or for the tenants listed here; a force header that is not honoured
    /// is ignored and counted. Default: no forcing, the header is dropped like every
    /// `x-strangler-*` header.
    pub qa: Option<RawQa>,
    /// `limits:` per-tenant rates (429), the largest body (413) and head (431), and the
    /// slow-client timeout ([`RawLimits`](super::limits::RawLimits) documents each key).
    /// Default: no limits beyond Pingora's own.
    #[serde(default)]
    pub limits: super::limits::RawLimits,
    /// `timeouts:` connect, read, write and total timeouts of the upstreams, with overrides
    /// by upstream name ([`RawTimeouts`](super::timeouts::RawTimeouts) documents each key).
    /// Default: connect `connect_timeout:` or 1s, read and write 60s, no total.
    #[serde(default)]
    pub timeouts: super::timeouts::RawTimeouts,
    /// `shutdown_grace:` how long SIGTERM or SIGINT (and SIGQUIT, after handing the
    /// listeners to a new process) lets requests in flight finish, as a duration string
    /// like `connect_timeout`: `30s`, `2m`. The listener stops accepting at once and
    /// kept-alive connections are answered with `Connection: close`; requests still running
    /// after the grace are cut and the process exits 1. Default `30s`. Read at start only.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub shutdown_grace: Option<String>,
    /// `upgrade_sock:` the unix socket a new process started with `strangler run --upgrade`
    /// listens on to receive the listening sockets of the old one, which sends them on
    /// SIGQUIT. A relative path is relative to the directory of routes.yaml; at most 107
    /// bytes. Default: derived from `listen:`, `$TMPDIR/strangler-<ip>-<port>.upgrade.sock`
    /// (none for port 0, which then needs this key to upgrade). Read at start only.
    pub upgrade_sock: Option<String>,
    /// `telemetry:` traces over OTLP: `{ otlp: { endpoint: http://collector:4318, sample: 1% } }`
    /// ([`RawTelemetry`](super::telemetry::RawTelemetry) documents each key). Default: no
    /// traces are exported (the `traceparent` is still continued).
    #[serde(default)]
    pub telemetry: super::telemetry::RawTelemetry,
    /// `readiness:` when the readiness report calls a route's legacy path removable:
    /// `{ removable_after: 14d }` ([`RawReadiness`](super::readiness::RawReadiness)
    /// documents it). Default: 14 days.
    #[serde(default)]
    pub readiness: super::readiness::RawReadiness,
    /// `notify:` receivers of notifications (a guard trip, a kill switch, a ramp step, a
    /// failed reload, the flag store lost), each `{ url, format, events, secret_env }`
    /// ([`RawNotify`](super::notify::RawNotify) documents each key). Default: none.
    #[serde(default)]
    pub notify: Vec<super::notify::RawNotify>,
}

/// The `qa:` section: who may force a side, and with which header.
///
/// ```yaml
/// qa:
///   header: x-strangler-side            # value: legacy or new
///   token: { hs256_secret_env: STRANGLER_QA_SECRET }
///   tenants: [qa-internal]
/// ```
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawQa {
    /// `header:` the request header naming the side, `legacy` or `new`. It must be in the
    /// `x-strangler-` namespace, which the proxy never forwards. Default `x-strangler-side`.
    pub header: Option<String>,
    /// `token:` a signed QA token that makes the force header count, whatever the tenant.
    pub token: Option<RawQaToken>,
    /// `tenants:` tenants whose force header counts without a token. Only as trustworthy
    /// as the tenant source: with an unverified source (a header) anyone can claim to be
    /// one of them, so production setups pair this with a `jwt:` tenant source.
    #[serde(default)]
    pub tenants: Vec<String>,
}

/// `qa.token`: a JWT in its own header, verified like a `jwt:` tenant source (exactly one
/// of the three key keys fixes the algorithm; `exp` required, 30 s leeway), that must also
/// carry `claim: true`, so a tenant's ordinary token from the same issuer is not a QA token.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawQaToken {
    /// `header:` the header carrying the bare token, in the `x-strangler-` namespace.
    /// Default `x-strangler-qa-token`.
    pub header: Option<String>,
    /// `claim:` the claim that must be `true`. Default `strangler_qa`.
    pub claim: Option<String>,
    /// `hs256_secret_env:` as for a `jwt:` tenant source.
    pub hs256_secret_env: Option<String>,
    /// `public_key_file:` as for a `jwt:` tenant source.
    pub public_key_file: Option<String>,
    /// `jwks_file:` as for a `jwt:` tenant source.
    pub jwks_file: Option<String>,
}

/// The `tenant:` section.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTenant {
    /// `sources:` tried in order; the first that yields a value wins. A value that is not
    /// a valid tenant id (1 to 128 characters of `[A-Za-z0-9._-]`) makes the request a 400.
    #[serde(default)]
    pub sources: Vec<RawTenantSource>,
    /// `default:` the side (`legacy` or `new`) for a request with no tenant. Default legacy.
    #[serde(default)]
    pub default: Side,
    /// `forward_header:` the header the proxy sets on the upstream request with the
    /// decided tenant. Default `x-strangler-tenant`; required with a `jwt:` source, where it
    /// must name the header the upstreams read (a client's own `X-Tenant-Id` would reach a
    /// monolith that reads it beside the verified tenant otherwise). A copy sent by the
    /// client is always removed first.
    pub forward_header: Option<String>,
    /// `strip_headers:` more client headers removed before a request goes upstream, for
    /// headers the upstreams trust that a client must not set (`X-User-Id`, `X-Roles`).
    #[serde(default)]
    pub strip_headers: Vec<String>,
    /// `on_invalid:` what happens to a request whose token a `jwt:` source cannot verify
    /// (bad signature, expired, not yet valid, wrong algorithm, unknown key, claim missing
    /// or not a valid tenant id): `reject` answers 401 with `WWW-Authenticate: Bearer`;
    /// `legacy` sends it to legacy with no tenant, reason `invalid-token`. A request with
    /// no token at all is neither: it has no tenant, like any anonymous request. Only
    /// allowed with a `jwt:` source. Default `reject`.
    pub on_invalid: Option<OnInvalid>,
    /// `anonymous:` sticky ids for requests without a tenant, e.g.
    /// `{ cookie: strangler_id, max_age: 30d }` (`RawAnonymous` documents each key), so
    /// percent rollouts ramp anonymous visitors too. Default: off (`default:` applies).
    pub anonymous: Option<RawAnonymous>,
}

/// One entry of `tenant.sources`: a mapping with exactly one of these keys.
///
/// A struct rather than an enum because serde_yaml reads enums from YAML tags
/// (`!header X`), not from the single-key mappings routes.yaml uses.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct RawTenantSource {
    /// `- header: X-Tenant-Id`: the header's value (name case-insensitive).
    pub header: Option<String>,
    /// `- subdomain: .shop.example.com`: the single label in front of this suffix in the
    /// host, port ignored (`acme.shop.example.com` -> `acme`); a host without the suffix,
    /// or with several labels in front of it, yields nothing.
    pub subdomain: Option<String>,
    /// `- path: "/t/{tenant}/**"`: the `{tenant}` segment of a path pattern that has
    /// exactly one `{tenant}` parameter.
    pub path: Option<String>,
    /// `- jwt: { claim: tenant_id, hs256_secret_env: STRANGLER_JWT_SECRET }`: the tenant
    /// is a claim of a bearer token the proxy verifies. It must be the only source (an
    /// unverified source beside it would let a client pick a tenant without a token).
    pub jwt: Option<RawJwt>,
}

/// A `jwt:` tenant source. Exactly one of `hs256_secret_env`, `public_key_file` and
/// `jwks_file` says how tokens are verified, and so which algorithm they must use: the
/// token's own `alg` header never chooses it (`alg: none` and an HS256 token checked
/// against an RSA key are refused). Key files are read when routes.yaml is loaded, so
/// they change with a reload of the config. `exp` is required, `exp` and `nbf` are checked
/// with 30 s of leeway for clock skew; `aud` and `iss` are checked when `audience` and
/// `issuer` are set.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawJwt {
    /// `claim:` the claim holding the tenant id, a dotted path into nested objects
    /// (`org.tenant`); its value must be a string that is a valid tenant id.
    pub claim: String,
    /// `header:` the request header carrying the token. For `Authorization` (the default)
    /// the value is `Bearer <token>`; any other header carries the bare token.
    pub header: Option<String>,
    /// `hs256_secret_env:` the environment variable holding the HS256 secret (at least
    /// 32 bytes, used as is).
    pub hs256_secret_env: Option<String>,
    /// `public_key_file:` a PEM public key (`BEGIN PUBLIC KEY`): RSA means RS256, P-256
    /// means ES256. Relative paths are relative to the directory of routes.yaml.
    pub public_key_file: Option<String>,
    /// `jwks_file:` a JWKS (`{"keys": [...]}`) of RSA (RS256) and P-256 (ES256) keys, each
    /// with a unique `kid`; a token names its key in its `kid` header. Relative paths are
    /// relative to the directory of routes.yaml.
    pub jwks_file: Option<String>,
    /// `audience:` when set, a token must name it in its `aud` claim (a string or a list).
    pub audience: Option<String>,
    /// `issuer:` when set, a token's `iss` claim must be exactly this.
    pub issuer: Option<String>,
}

/// One entry of `routes:`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// `name:` unique; appears in logs, metrics and `strangler explain`.
    pub name: String,
    /// `match:` which requests the route covers.
    #[serde(rename = "match")]
    pub matcher: RawMatch,
    /// `service:` the name of an entry of `services:` that serves the new side.
    pub service: String,
    /// `cohort:` the rollout salt. Routes with the same cohort put every tenant on the
    /// same side at the same percentage, so a tenant moves with all of them at once.
    /// Default: the route name.
    pub cohort: Option<String>,
    /// `rollout:` who goes to the new side. Default: percent 0, no overrides.
    #[serde(default)]
    pub rollout: RawRollout,
    /// `shadow:` also send the route's requests to the other side and compare the
    /// answers (`crate::shadow_policy::ShadowPolicy` documents each key). The side the
    /// rollout picked serves the client; the other one is the shadow. Default: off.
    pub shadow: Option<ShadowPolicy>,
    /// `guard:` roll the route back to legacy on its own when its new side fails or slows
    /// down, e.g. `{ max_error_rate: 5%, max_p95: 800ms, window: 60s, min_requests: 50 }`
    /// ([`super::guard::RawGuard`] documents each key). Default: off.
    pub guard: Option<super::guard::RawGuard>,
    /// `fallback:` which failed answers of the new service legacy replaces, for which
    /// methods (`RawFallback` documents each key). Default: only a failed connect falls
    /// back.
    pub fallback: Option<RawFallback>,
    /// `rewrite:` what the new side receives instead of the client's request: path
    /// (`strip_prefix`, `add_prefix` or `path`), `host` and `headers` (`RawRewrite`
    /// documents each key). Legacy always gets the request unchanged. Default: none.
    pub rewrite: Option<RawRewrite>,
}

/// A route's `match:`.
///
/// Every condition given must hold. The most specific matching route wins: more literal
/// segments, then more parameters, then an exact pattern over one ending in `**`, then
/// more segments, then more `headers`, `cookies` and `query` conditions (counted
/// together), then a route with `host`, then a route with `methods`. Two routes equal on
/// all of these that can match the same request are refused at load.
///
/// A condition's value is `"*"` (present, any value), `"~regex"` (present, and the regex
/// finds a match in the value: unanchored, so write `^` and `$` to anchor; compiled at
/// load, at most 64 KiB compiled) or any other text (exactly this value, case-sensitive).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    /// `path:` a pattern starting with `/`: literal segments, `{name}` for any one
    /// segment, and a last segment `**` for zero or more segments. Matched against the
    /// path without its query string.
    pub path: String,
    /// `methods:` e.g. `[GET, POST]`; absent means any method.
    pub methods: Option<Vec<String>>,
    /// `host:` an exact host (case-insensitive, port ignored) or a `*.example.com`
    /// wildcard for any host under `example.com`; absent means any host.
    pub host: Option<String>,
    /// `headers:` request headers by name (case-insensitive), e.g.
    /// `{ X-App-Version: "~^(4|5)\\.", X-Beta: "1" }`. A header sent twice, or not UTF-8,
    /// only satisfies `"*"`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `cookies:` cookies of the `Cookie` header by name (case-sensitive), e.g.
    /// `{ beta: "yes" }`. A `Cookie` header that does not parse holds no cookie.
    #[serde(default)]
    pub cookies: BTreeMap<String, String>,
    /// `query:` query string parameters by name (case-sensitive), compared as sent (not
    /// percent-decoded), e.g. `{ api: v2 }`; `?flag` has the value `""`. A parameter given
    /// twice only satisfies `"*"`.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
}

/// A route's `rollout:`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRollout {
    /// `percent:` share of tenants on the new side, 0 to 100 in steps of 0.01. Sticky: a
    /// tenant's side depends only on (cohort, tenant), and raising the percentage only
    /// moves tenants from legacy to new. Default 0.
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub percent: f64,
    /// `tenants:` explicit sides by tenant id (`{ qa-internal: new, bigcorp: legacy }`);
    /// they win over `percent`.
    #[serde(default)]
    pub tenants: BTreeMap<String, Side>,
    /// `ramp:` a gated ramp that raises `percent` step by step while the evidence holds
    /// ([`RawRamp`](super::ramp::RawRamp) documents each key). Default: none.
    pub ramp: Option<super::ramp::RawRamp>,
}
