//! The compiled, immutable snapshot the request path reads. The proxy keeps one in an
//! `ArcSwap`; a reload parses and validates the whole file again, compiles a new snapshot
//! and swaps it in, and on any error the old one stays. A snapshot never changes once
//! published, so deciding needs no lock.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{self, Config};
use crate::decision::{self, Decision};
use crate::error::{ConfigError, ConfigErrors, RequestError};
use crate::hash::fnv1a64;
use crate::resilience::ServicePolicy;
use crate::rollout::BUCKETS;
use crate::route::Route;
use crate::table::RouteTable;
use crate::tenant::{TenantResolver, TenantSource};
use crate::upstream::Upstream;
use crate::{RequestView, Side, Surroundings};

/// One compiled routes.yaml: listeners, upstreams, tenant sources and the route table.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub(crate) config: Config,
    pub(crate) tenants: TenantResolver,
    pub(crate) default_side: Side,
    pub(crate) routes: Vec<Route>,
    pub(crate) table: RouteTable,
    by_name: HashMap<Box<str>, usize>,
    content_hash: u64,
}

impl Snapshot {
    /// Validates and compiles routes.yaml text; `origin` names it in errors (and its
    /// directory is where relative key files are), `surroundings` resolves its upstreams
    /// and reads its keys. Reading the file itself is the caller's.
    pub fn parse(
        yaml: &str,
        origin: &str,
        surroundings: &dyn Surroundings,
    ) -> Result<Snapshot, ConfigErrors> {
        let mut config = config::parse(yaml, origin, surroundings)?;
        let routes = std::mem::take(&mut config.routes);
        let by_name = routes
            .iter()
            .enumerate()
            .map(|(index, route)| (route.name.clone(), index))
            .collect();
        Ok(Snapshot {
            tenants: std::mem::take(&mut config.tenants),
            default_side: config.default_side,
            table: RouteTable::new(&routes, config.path_case),
            routes,
            by_name,
            content_hash: content_hash(yaml),
            config,
        })
    }

    /// Which side answers `req`, through which route, for which tenant, and why.
    pub fn decide<'s, 'r>(
        &'s self,
        req: &'r impl RequestView,
    ) -> Result<Decision<'s, 'r>, RequestError> {
        decision::decide(self, req)
    }

    /// What should be fixed in the file though it loaded (deprecated keys), each located
    /// like an error, in file order: `strangler check` prints them, `run` logs them.
    pub fn warnings(&self) -> &[ConfigError] {
        &self.config.warnings
    }

    /// `store:`'s SQLite path as written, when it was relative (it is now taken relative to
    /// routes.yaml's directory; it used to be relative to the working directory).
    pub fn store_written_relative(&self) -> Option<&str> {
        self.config.store_written_relative.as_deref()
    }

    /// The same snapshot with the store at `url` and `warning` added: for the edge, which
    /// finds an existing store file where earlier releases put it.
    pub fn with_store_found_at(mut self, url: &str, warning: ConfigError) -> Snapshot {
        self.config.store = crate::store_url::StoreUrl::new(url);
        self.config.warnings.push(warning);
        self
    }

    /// FNV-1a 64 of the source text: the same file always gives the same revision.
    pub fn content_hash(&self) -> u64 {
        self.content_hash
    }

    /// `listen:`, the proxy listener.
    pub fn listen(&self) -> SocketAddr {
        self.config.listen
    }

    /// `listen:`, every proxy listener in file order (never empty).
    pub fn listeners(&self) -> &[crate::tls::Listener] {
        &self.config.listeners
    }

    /// The service named `name`, if `services:` has it.
    pub fn service(&self, name: &str) -> Option<&Upstream> {
        self.config.services.iter().find(|s| &*s.name == name)
    }

    /// `admin:`, the admin listener (default 127.0.0.1:9180).
    pub fn admin(&self) -> SocketAddr {
        self.config.admin
    }

    /// `admin_tls:`, when the admin listener speaks TLS.
    pub fn admin_tls(&self) -> Option<&crate::tls::AdminTls> {
        self.config.admin_tls.as_ref()
    }

    /// `threads:`; None lets the proxy use one per core.
    pub fn threads(&self) -> Option<usize> {
        self.config.workers.threads
    }

    /// `threads:`, `work_stealing:` and `alt_timer:`: how the proxy's workers run.
    pub fn workers(&self) -> config::workers::Workers {
        self.config.workers
    }

    /// The monolith.
    pub fn legacy(&self) -> &Upstream {
        &self.config.legacy
    }

    /// The new services, in name order.
    pub fn services(&self) -> &[Upstream] {
        &self.config.services
    }

    /// Where a decision goes: the route's service for `New` with a route, else legacy.
    pub fn upstream(&self, side: Side, route: Option<&Route>) -> &Upstream {
        match (side, route) {
            (Side::New, Some(route)) => &self.config.services[route.service_index],
            _ => &self.config.legacy,
        }
    }

    /// The protections of the service at `index` of [`Snapshot::services`].
    pub fn service_policy(&self, index: usize) -> &ServicePolicy {
        &self.config.service_policies[index]
    }

    /// `timeouts.connect` (or the deprecated `connect_timeout:`; default 1s).
    pub fn connect_timeout(&self) -> Duration {
        self.config.connect_timeout
    }

    /// `debug_headers:`: whether responses carry the decision as headers.
    pub fn debug_headers(&self) -> bool {
        self.config.debug_headers
    }

    /// `tenant.strip_headers`, lowercase: client headers removed before a request goes
    /// upstream.
    pub fn strip_headers(&self) -> &[Box<str>] {
        &self.config.strip_headers
    }

    /// `tenant.forward_header`, lowercase (default `x-strangler-tenant`).
    pub fn forward_tenant_header(&self) -> &str {
        &self.config.forward_header
    }

    /// `tenant.default`: the side of a routed request without a tenant.
    pub fn default_side(&self) -> Side {
        self.default_side
    }

    /// Whether tenants come from a verified (`jwt:`) source, the only source then.
    pub fn verified_tenants(&self) -> bool {
        self.tenants.verified()
    }

    /// FNV-1a 64 of the `jwt:` source's key file (0 without one): a reload of unchanged
    /// routes.yaml text still publishes when this moved, so rotated keys take effect.
    pub fn key_files_hash(&self) -> u64 {
        self.tenants.key_files_hash()
    }

    /// The lowercase header names the `header:` tenant sources read, in source order.
    pub fn tenant_headers(&self) -> impl Iterator<Item = &str> {
        self.tenants
            .sources()
            .iter()
            .filter_map(|source| match source {
                TenantSource::Header(name) => Some(&**name),
                _ => None,
            })
    }

    /// `tenant.anonymous`, when requests without a tenant get a sticky id cookie.
    pub fn anonymous(&self) -> Option<&crate::tenant::anonymous::AnonymousIds> {
        self.config.anonymous.as_ref()
    }

    /// The routes, in file order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The route called `name`.
    pub fn route(&self, name: &str) -> Option<&Route> {
        self.by_name.get(name).map(|&index| &self.routes[index])
    }

    /// `paths.case`: whether route patterns match request paths regardless of ASCII case.
    pub fn path_case(&self) -> crate::config::paths::PathCase {
        self.config.path_case
    }

    /// `diffs:`, how shadow comparisons are run, kept and reported.
    pub fn diffs(&self) -> &Arc<crate::shadow_policy::DiffSettings> {
        &self.config.diffs
    }

    /// `store:`, the URL of the runtime flag store (default `sqlite://strangler.db`), with
    /// its credentials: to connect with, never to print (see [`crate::store_url`]).
    pub fn store_url(&self) -> &str {
        self.config.store.expose()
    }

    /// `store_cache:`, the file keeping the last flags read from the store, if set.
    pub fn store_cache(&self) -> Option<&str> {
        self.config.store_cache.as_deref()
    }

    /// `limits:`: per-tenant rates, body and head sizes, the slow-client timeout.
    pub fn limits(&self) -> &crate::config::limits::Limits {
        &self.config.limits
    }

    /// `timeouts:` for the upstream called `name` (`legacy` or a service).
    pub fn timeouts(&self, name: &str) -> &crate::config::timeouts::UpstreamTimeouts {
        self.config.timeouts.of(name)
    }

    /// `notify:`: where notifications go.
    pub fn notify(&self) -> &[config::notify::NotifyTarget] {
        &self.config.notify
    }

    /// `telemetry.otlp`: where this snapshot's requests send their spans, if anywhere.
    pub fn otlp(&self) -> Option<&config::telemetry::Otlp> {
        self.config.otlp.as_ref()
    }

    /// `readiness:`, what the readiness report judges routes by.
    pub fn readiness(&self) -> config::readiness::Readiness {
        self.config.readiness
    }

    /// `shutdown_grace:` and `upgrade_sock:`, which the proxy reads at start.
    pub fn lifecycle(&self) -> &config::lifecycle::Lifecycle {
        &self.config.lifecycle
    }

    /// Turns a route's kill switch on or off in this (not yet published) snapshot;
    /// false if there is no such route. For the runtime control plane, which applies it
    /// to a clone of the file's snapshot before publishing that clone.
    pub fn set_killed(&mut self, name: &str, killed: bool) -> bool {
        self.change_route(name, |route| route.killed = killed)
    }

    /// Sets the sample of a shadowed route's policy, in basis points, in this (not yet
    /// published) snapshot; false if there is no such route or it is not shadowed.
    pub fn set_shadow_sample(&mut self, name: &str, basis_points: u16) -> bool {
        let Some(sample) = crate::shadow_policy::Percent::from_basis_points(basis_points) else {
            return false;
        };
        let mut shadowed = false;
        self.change_route(name, |route| {
            if let Some(policy) = &mut route.shadow {
                Arc::make_mut(policy).sample = sample;
                shadowed = true;
            }
        });
        shadowed
    }

    /// Sets a route's rollout percentage, in basis points clamped to 0..=10000, in this
    /// (not yet published) snapshot; false if there is no such route. For the runtime
    /// control plane, which applies it to a clone of the file's snapshot before
    /// publishing that clone.
    pub fn set_percent(&mut self, name: &str, basis_points: u16) -> bool {
        let percent = basis_points.min(BUCKETS);
        self.change_route(name, |route| route.percent = percent)
    }

    /// Replaces a route's tenant overrides with exactly `sides` in this (not yet
    /// published) snapshot; false if there is no such route. For the runtime control
    /// plane, which passes the file's overrides already folded with its own and applies
    /// them to a clone of the file's snapshot before publishing that clone. The ids are
    /// taken as given: the control plane checks them when it accepts them.
    pub fn set_tenant_sides<'a>(
        &mut self,
        name: &str,
        sides: impl IntoIterator<Item = (&'a str, Side)>,
    ) -> bool {
        let overrides = sides.into_iter().collect();
        self.change_route(name, |route| route.overrides = overrides)
    }

    /// Applies `change` to the route called `name`; false if there is none.
    fn change_route(&mut self, name: &str, change: impl FnOnce(&mut Route)) -> bool {
        let Some(&index) = self.by_name.get(name) else {
            return false;
        };
        change(&mut self.routes[index]);
        true
    }
}

/// The [`Snapshot::content_hash`] a snapshot compiled from `text` has (FNV-1a 64), so a
/// reload can tell an unchanged file without compiling it.
pub fn content_hash(text: &str) -> u64 {
    fnv1a64(text.as_bytes())
}
