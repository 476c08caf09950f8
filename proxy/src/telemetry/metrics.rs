//! Metrics and logs: the Prometheus recorder behind admin `/metrics`, metric handles
//! registered once per snapshot (the request path only increments them), and the JSON log
//! subscriber whose `strangler::access` target is the access log.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use strangler_flags::{Side, Snapshot};

use crate::telemetry::log_writer::{LogWriter, TracingSink};
use crate::telemetry::rollup::{Rollup, RouteTally};
use strangler_flags::resilience::Diversion;

/// The request-duration histogram's buckets, in seconds: sub-millisecond to 10 s.
const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Label value for requests that matched no route.
pub const NO_ROUTE: &str = "-";

/// Status classes, indexed by `status / 100`; index 0 is "no response was sent".
const STATUS_CLASSES: [&str; 6] = ["none", "1xx", "2xx", "3xx", "4xx", "5xx"];

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// `strangler_open_connections`: client connections open now (registered on first use,
/// after the recorder is installed).
pub fn open_connections() -> &'static metrics::Gauge {
    static GAUGE: OnceLock<metrics::Gauge> = OnceLock::new();
    GAUGE.get_or_init(|| metrics::gauge!("strangler_open_connections"))
}

/// Installs the process-wide Prometheus recorder once and returns its handle.
///
/// Handles registered before this runs are no-ops, so call it before loading the config.
pub fn prometheus() -> &'static PrometheusHandle {
    PROMETHEUS.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("strangler_request_duration_seconds".into()),
                DURATION_BUCKETS,
            )
            .expect("bucket list is not empty")
            .set_buckets_for_metric(
                Matcher::Full("strangler_shadow_latency_seconds".into()),
                DURATION_BUCKETS,
            )
            .expect("bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may exist when strangler is embedded; ours then stays unused.
        let _ = metrics::set_global_recorder(recorder);
        crate::telemetry::catalog::install();
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            })
            .expect("spawning the metrics upkeep thread");
        handle
    })
}

/// Counts one shadowed request by route and outcome (`match`, `mismatch`, `noise-only`,
/// `unsettled`, `skipped`, `primary-error`, `shadow-error`: the verdict the diff store
/// keeps and the report counts), skips also by reason, and records the
/// latency of each side that answered. Called off the request path, so label lookups
/// are fine here.
pub fn record_shadow(comparison: &strangler_shadow::Comparison, shadow: &'static str) {
    let route = comparison.route.clone();
    let outcome = comparison.verdict.code();
    metrics::counter!("strangler_shadow_total", "route" => route.clone(), "outcome" => outcome)
        .increment(1);
    if let Some(reason) = comparison.skip {
        metrics::counter!("strangler_shadow_skipped_total", "route" => route.clone(), "reason" => reason.code())
            .increment(1);
    }
    let primary = &comparison.primary_side;
    for (side, ms) in [
        (primary.as_str(), comparison.primary_ms),
        (shadow, comparison.shadow_ms),
    ] {
        if let Some(ms) = ms {
            metrics::histogram!("strangler_shadow_latency_seconds", "route" => route.clone(), "side" => side.to_owned())
                .record(ms / 1000.0);
        }
    }
}

/// Counts a comparison the diff store never got: `queue-full`, `store-down`,
/// `store-error`.
pub fn record_diff_dropped(reason: &'static str) {
    metrics::counter!("strangler_shadow_store_dropped_total", "reason" => reason).increment(1);
}

/// Counts a reload attempt by result: `ok`, `unchanged` or `error`.
pub fn record_reload(result: &'static str) {
    metrics::counter!("strangler_config_reloads_total", "result" => result).increment(1);
}

/// Publishes the revision counter of the snapshot now serving.
pub fn record_revision(counter: u64) {
    metrics::gauge!("strangler_config_revision").set(counter as f64);
}

/// Counts a request refused before routing (bad path, bad tenant), by reason.
pub fn record_rejected(reason: &'static str) {
    metrics::counter!("strangler_rejected_requests_total", "reason" => reason).increment(1);
}

/// Counts a QA force header: honoured (`strangler_forced_requests_total{by}`, by
/// `qa-token` or `qa-tenant`) or ignored (`strangler_force_ignored_total{reason}`). Only
/// requests that carry the header pay the label lookup.
pub fn record_force(decision: &strangler_flags::Decision<'_, '_>) {
    if let strangler_flags::Reason::Forced(by) = decision.reason {
        metrics::counter!("strangler_forced_requests_total", "by" => by.code()).increment(1);
    }
    if let Some(ignored) = decision.force_ignored {
        metrics::counter!("strangler_force_ignored_total", "reason" => ignored.code()).increment(1);
    }
}

/// Handles for one route (or for "no route"), one set per side.
struct RouteHandles {
    /// `strangler_requests_total{route, side, status_class}`, by side then status class.
    requests: [[Counter; 6]; 2],
    /// `strangler_request_duration_seconds{route, side}`, by side.
    duration: [Histogram; 2],
    /// `strangler_fallbacks_total{route, reason}`, indexed like [`Diversion::ALL`].
    fallbacks: [Counter; Diversion::ALL.len()],
    /// `strangler_rate_limited_total{route}`.
    rate_limited: Counter,
    /// The route's counts for the readiness rollup (a detached one for "no route").
    tally: Arc<RouteTally>,
}

/// Metric handles for every route of one snapshot, indexed like `Snapshot::routes()`, with
/// the last slot for requests that matched no route.
pub struct RouteMetrics {
    routes: Vec<RouteHandles>,
    /// The instance's tallies by route name, which every snapshot shares.
    rollup: Arc<Rollup>,
}

impl RouteMetrics {
    /// Registers the handles of every route of `snapshot` (once per reload, not per
    /// request), with each route's tally from `rollup`.
    pub fn register(snapshot: &Snapshot, rollup: Arc<Rollup>) -> RouteMetrics {
        crate::telemetry::catalog::register_config(snapshot);
        let names = snapshot.routes().iter().map(|r| r.name.to_string());
        let mut routes: Vec<RouteHandles> = names
            .map(|name| RouteHandles::register(name.clone(), rollup.tally(&name)))
            .collect();
        routes.push(RouteHandles::register(NO_ROUTE.into(), Arc::default()));
        RouteMetrics { routes, rollup }
    }

    /// The instance's readiness tallies, shared by every snapshot.
    pub fn rollup(&self) -> &Arc<Rollup> {
        &self.rollup
    }

    /// The readiness tally of the route at `route`, for its shadow comparison.
    pub fn tally(&self, route: Option<usize>) -> Option<Arc<RouteTally>> {
        route.map(|_| self.slot(route).tally.clone())
    }

    /// Records one finished request.
    pub fn record(&self, route: Option<usize>, side: Side, status: u16, elapsed: Duration) {
        let handles = self.slot(route);
        let class = usize::from(status / 100).min(5);
        handles.requests[side_index(side)][class].increment(1);
        handles.duration[side_index(side)].record(elapsed.as_secs_f64());
        handles.tally.served(side);
    }

    /// Records that a request meant for the new service went to legacy, and why.
    pub fn record_fallback(&self, route: Option<usize>, diversion: Diversion) {
        let handles = self.slot(route);
        handles.fallbacks[diversion.index()].increment(1);
        handles.tally.fallback();
    }

    /// Records a request answered 429 because its tenant was over its rate.
    pub fn record_rate_limited(&self, route: Option<usize>) {
        self.slot(route).rate_limited.increment(1);
    }

    fn slot(&self, route: Option<usize>) -> &RouteHandles {
        let last = self.routes.len() - 1;
        &self.routes[route.unwrap_or(last).min(last)]
    }
}

impl RouteHandles {
    fn register(route: String, tally: Arc<RouteTally>) -> RouteHandles {
        let per_side = |side: Side| {
            STATUS_CLASSES.map(|class| {
                metrics::counter!("strangler_requests_total",
                    "route" => route.clone(), "side" => side.code(), "status_class" => class)
            })
        };
        let duration = |side: Side| {
            metrics::histogram!("strangler_request_duration_seconds",
                "route" => route.clone(), "side" => side.code())
        };
        RouteHandles {
            requests: [per_side(Side::Legacy), per_side(Side::New)],
            duration: [duration(Side::Legacy), duration(Side::New)],
            fallbacks: Diversion::ALL.map(|diversion| {
                metrics::counter!("strangler_fallbacks_total",
                    "route" => route.clone(), "reason" => diversion.label())
            }),
            rate_limited: metrics::counter!("strangler_rate_limited_total", "route" => route.clone()),
            tally,
        }
    }
}

fn side_index(side: Side) -> usize {
    match side {
        Side::Legacy => 0,
        Side::New => 1,
    }
}

/// Installs the JSON log subscriber on stdout, through the batching [`LogWriter`], and
/// turns the access log on unless `RUST_LOG` filters `strangler::access` out (default:
/// info). Call [`LogWriter::flush`] before exiting.
pub fn init_logs() -> &'static LogWriter {
    let writer = LogWriter::install();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(TracingSink)
        .init();
    crate::telemetry::access_log::set_enabled(
        tracing::enabled!(target: "strangler::access", tracing::Level::INFO),
    );
    writer
}
