//! One loaded snapshot ([`Loaded`]): routes.yaml compiled, the runtime flags folded over it,
//! and what the proxy derives from it once, at load time (metric handles, the forwarded
//! tenant header), under the [`Revision`] that names it in logs, `/admin/config` and
//! `/readyz`.

use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use strangler_flags::Snapshot;

use crate::telemetry::metrics::RouteMetrics;
use crate::telemetry::otlp::Exporter;
use crate::tls::upstream::UpstreamTlsSet;

/// Identifies one loaded snapshot: a counter that grows with every successful reload that
/// changed something, and the hash of the file's content (equal files, equal hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Revision {
    /// 1 for the snapshot loaded at start, then +1 for each reload that changed the text or
    /// moved an upstream to a new address (the hash then stays the same).
    pub counter: u64,
    /// FNV-1a 64 of the file content, printed as 16 hex digits.
    #[serde(serialize_with = "hex_hash")]
    pub hash: u64,
    /// The runtime flag store's version folded in (0: none).
    pub flags: i64,
}

fn hex_hash<S: serde::Serializer>(hash: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{hash:016x}"))
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{:016x}-{}", self.counter, self.hash, self.flags)
    }
}

/// A compiled snapshot together with what the proxy derived from it once, at load time.
pub struct Loaded {
    /// Which load this is.
    pub revision: Revision,
    /// What requests are decided on: routes.yaml with the runtime overrides folded in.
    pub snapshot: Arc<Snapshot>,
    /// routes.yaml as compiled, before the overrides (folded again when they change).
    pub file: Arc<Snapshot>,
    /// Metric handles registered once per route, so the request path does no label lookups;
    /// with them each route's readiness tally, from the instance's one rollup.
    pub metrics: Arc<RouteMetrics>,
    /// `tenant.forward_header`, validated once here, as the bytes Pingora's `insert_header`
    /// takes: cloning them shares them, where a `HeaderName` would be copied into new
    /// bytes on every request.
    pub forward_header: bytes::Bytes,
    /// `tenant.strip_headers`, parsed once here.
    pub strip_headers: Vec<http::HeaderName>,
    /// When this snapshot started serving.
    pub loaded_at: SystemTime,
    /// The OTLP exporter of `telemetry.otlp`, shared with the previous snapshot when its
    /// section is the same; `None` when no traces are exported.
    pub traces: Option<Arc<Exporter>>,
    /// The `https://` upstreams' TLS settings in Pingora's types, built once per file.
    pub upstream_tls: Arc<UpstreamTlsSet>,
}

impl Loaded {
    /// A snapshot of routes.yaml alone, without runtime overrides.
    pub(super) fn new(snapshot: Snapshot, counter: u64) -> Loaded {
        let file = Arc::new(snapshot);
        Loaded::publish(file.clone(), file, counter, 0, None)
    }

    /// Publishes `effective` (`file` with overrides folded in). Metric handles are reused
    /// from `previous` when it has the same routes, so a flag change registers nothing; its
    /// OTLP exporter when `telemetry.otlp` is the same, so a reload starts no thread.
    pub(super) fn publish(
        file: Arc<Snapshot>,
        effective: Arc<Snapshot>,
        counter: u64,
        flags: i64,
        previous: Option<&Loaded>,
    ) -> Loaded {
        let same_file = previous.filter(|p| Arc::ptr_eq(&p.file, &file));
        let metrics = match (same_file, previous) {
            (Some(same), _) => same.metrics.clone(),
            (None, Some(previous)) => Arc::new(RouteMetrics::register(
                &file,
                previous.metrics.rollup().clone(),
            )),
            (None, None) => Arc::new(RouteMetrics::register(&file, Arc::default())),
        };
        let upstream_tls = match same_file {
            Some(same) => same.upstream_tls.clone(),
            None => Arc::new(UpstreamTlsSet::build(&file)),
        };
        let forward_header = http::HeaderName::from_bytes(file.forward_tenant_header().as_bytes())
            .unwrap_or(http::HeaderName::from_static("x-strangler-tenant"));
        let forward_header = bytes::Bytes::copy_from_slice(forward_header.as_str().as_bytes());
        let strip_headers = file
            .strip_headers()
            .iter()
            .filter_map(|name| http::HeaderName::from_bytes(name.as_bytes()).ok())
            .collect();
        Loaded {
            traces: traces(&file, previous),
            strip_headers,
            revision: Revision {
                counter,
                hash: file.content_hash(),
                flags,
            },
            forward_header,
            snapshot: effective,
            file,
            metrics,
            loaded_at: SystemTime::now(),
            upstream_tls,
        }
    }
}

/// The exporter for `file`'s `telemetry.otlp`: `previous`'s when it is the same section,
/// else a new one (the old one's thread flushes and ends with the last request that holds
/// it). One that cannot start is logged; the proxy then serves without traces.
fn traces(file: &Snapshot, previous: Option<&Loaded>) -> Option<Arc<Exporter>> {
    let config = file.otlp()?;
    let same = previous
        .and_then(|p| p.traces.as_ref())
        .filter(|t| t.config() == config);
    if let Some(exporter) = same {
        return Some(exporter.clone());
    }
    Exporter::start(config)
        .inspect_err(|e| tracing::error!(error = %e, "otlp: the exporter did not start; no spans are exported"))
        .ok()
}
