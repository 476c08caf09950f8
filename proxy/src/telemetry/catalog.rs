//! The metric families the proxy exports: the HELP text of each, and the series that exist
//! from the first scrape at zero, so `promtool check metrics` finds no family without help,
//! and a dashboard or an alert (`deploy/`) sees `0` rather than no data before the first
//! fallback, rejection or reload. Labels take values from closed sets only (route and
//! service names of routes.yaml, reasons and outcomes the code names); never a tenant, a
//! path or an address.

use metrics::{describe_counter, describe_gauge, describe_histogram};
use strangler_flags::{ForceIgnored, ForcedBy, Side, Snapshot};
use strangler_shadow::{SkipReason, Verdict};

/// What kind of family a name is, for its `# TYPE` and `# HELP`.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every family: name, kind and the help an operator reads next to it. The README's
/// Observability section lists the same names.
const FAMILIES: &[(&str, Kind, &str)] = &[
    ("strangler_build_info", Kind::Gauge, "1 for the build running, labelled with its version and git revision."),
    ("strangler_requests_total", Kind::Counter, "Requests answered, by route (- for no route), side (legacy or new) and status class (none when no response was sent)."),
    ("strangler_request_duration_seconds", Kind::Histogram, "Seconds from a request's arrival to the end of its response, by route and side."),
    ("strangler_fallbacks_total", Kind::Counter, "Requests meant for the new side that legacy answered, by route and reason."),
    ("strangler_rate_limited_total", Kind::Counter, "Requests answered 429 because their tenant was over its rate, by route."),
    ("strangler_rejected_requests_total", Kind::Counter, "Requests the proxy answered itself before any upstream, by reason."),
    ("strangler_forced_requests_total", Kind::Counter, "Requests whose QA force header was honoured, by what allowed it."),
    ("strangler_force_ignored_total", Kind::Counter, "QA force headers ignored, by reason."),
    ("strangler_open_connections", Kind::Gauge, "Client connections open now."),
    ("strangler_log_lines_dropped_total", Kind::Counter, "Log lines dropped because stdout could not keep up."),
    ("strangler_breaker_state", Kind::Gauge, "Circuit breaker of each new service: 0 closed, 1 half-open, 2 open."),
    ("strangler_health_check_total", Kind::Counter, "Active health checks of the new services, by result (ok or failed)."),
    ("strangler_guard_state", Kind::Gauge, "Rollback guard of each guarded route: 0 watching, 1 tripped, 2 tripped but not yet recorded in the store, 3 kill switch on."),
    ("strangler_guard_trips_total", Kind::Counter, "Times a rollback guard sent its route back to legacy."),
    ("strangler_config_reloads_total", Kind::Counter, "Reloads of routes.yaml, by result (ok, unchanged or error)."),
    ("strangler_config_revision", Kind::Gauge, "Revision counter of the routes.yaml snapshot serving now."),
    ("strangler_flag_store_up", Kind::Gauge, "1 while the runtime flag store answers, 0 while this instance serves on the last flags it read."),
    ("strangler_flag_version", Kind::Gauge, "Version of the runtime flags this instance serves."),
    ("strangler_shadow_total", Kind::Counter, "Shadowed requests, by route and outcome of the comparison."),
    ("strangler_shadow_skipped_total", Kind::Counter, "Shadowed requests not compared, by route and reason."),
    ("strangler_shadow_latency_seconds", Kind::Histogram, "Seconds each side took to answer a shadowed request, by route and side."),
    ("strangler_shadow_store_dropped_total", Kind::Counter, "Comparisons the diff store never got, by reason."),
    ("strangler_tls_handshake_errors_total", Kind::Counter, "TLS handshakes with clients that failed, by reason (timeout or failed); plain HTTP to a TLS port is a rejected request instead."),
    ("strangler_tls_certificate_expiry_seconds", Kind::Gauge, "Unix time at which each listener certificate serving now expires, by its first name."),
    ("strangler_tls_certificate_reloads_total", Kind::Counter, "Listener certificates read again after their files changed, by result (ok or error: the old pair keeps serving)."),
    ("strangler_upstream_tls_errors_total", Kind::Counter, "TLS failures reaching an upstream, by upstream and reason (unknown-issuer, expired, name-mismatch, handshake, ...)."),
    ("strangler_upstream_tls_unverified", Kind::Gauge, "1 for each https upstream whose certificate is not checked (tls.verify: false in routes.yaml)."),
    ("strangler_notifications_total", Kind::Counter, "Notification deliveries to notify: receivers, by event and result (delivered, failed and retried, gave-up after an hour, dropped on a full queue)."),
    ("strangler_otlp_spans_dropped_total", Kind::Counter, "Spans never delivered to the OTLP collector, by reason (queue-full or export-failed)."),
];

/// Why a request is refused before routing: the codes of `request::refusal` plus
/// `body-too-large` and `upload-timeout` (`request::limits`), `client-timeout`
/// (`connection::client_head`) and the head check's (`connection::head_check`, whose test
/// checks they are all here). A new code belongs here too, or it appears only once seen.
pub(crate) const REJECTED_REASONS: [&str; 23] = [
    "invalid-target",
    "plain-http-to-tls",
    "invalid-tenant",
    "invalid-path",
    "invalid-token",
    "header-too-large",
    "body-too-large",
    "rate-limited",
    "over-capacity",
    "upload-timeout",
    "client-timeout",
    "malformed-request-line",
    "malformed-header",
    "malformed-target",
    "target-too-long",
    "too-many-headers",
    "missing-host",
    "repeated-host",
    "invalid-authority",
    "invalid-content-length",
    "invalid-transfer-encoding",
    "unknown-transfer-coding",
    "connect-not-allowed",
];

/// Why a TLS handshake with a client failed: it did not finish within the head deadline, or
/// it was refused (no protocol or cipher in common, a malformed hello, ...).
pub(crate) const TLS_HANDSHAKE_ERRORS: [&str; 2] = ["timeout", "failed"];

/// Describes every family and registers the series whose labels do not depend on
/// routes.yaml. Called once, right after the recorder is installed. Registering adds zero,
/// so a series that already counted keeps its value.
pub fn install() {
    for (name, kind, help) in FAMILIES {
        match kind {
            Kind::Counter => describe_counter!(*name, *help),
            Kind::Gauge => describe_gauge!(*name, *help),
            Kind::Histogram => describe_histogram!(*name, *help),
        }
    }
    crate::telemetry::build_info::record();
    crate::telemetry::metrics::open_connections();
    metrics::counter!("strangler_log_lines_dropped_total").increment(0);
    for reason in REJECTED_REASONS {
        metrics::counter!("strangler_rejected_requests_total", "reason" => reason).increment(0);
    }
    for by in ForcedBy::ALL {
        metrics::counter!("strangler_forced_requests_total", "by" => by.code()).increment(0);
    }
    for reason in ForceIgnored::ALL {
        metrics::counter!("strangler_force_ignored_total", "reason" => reason.code()).increment(0);
    }
    for result in ["ok", "unchanged", "error"] {
        metrics::counter!("strangler_config_reloads_total", "result" => result).increment(0);
    }
    for reason in crate::telemetry::otlp::DROP_REASONS {
        metrics::counter!("strangler_otlp_spans_dropped_total", "reason" => reason).increment(0);
    }
    for reason in TLS_HANDSHAKE_ERRORS {
        metrics::counter!("strangler_tls_handshake_errors_total", "reason" => reason).increment(0);
    }
    for result in ["ok", "error"] {
        metrics::counter!("strangler_tls_certificate_reloads_total", "result" => result)
            .increment(0);
    }
    for reason in ["queue-full", "store-down", "store-error"] {
        metrics::counter!("strangler_shadow_store_dropped_total", "reason" => reason).increment(0);
    }
}

/// Registers at zero the series of `snapshot`'s guarded and shadowed routes and of its
/// services with a breaker or health checks (the per-route request series are
/// [`crate::telemetry::metrics::RouteMetrics`]'), and the notification series of the
/// events `notify:` names. Called once per routes.yaml loaded.
pub fn register_config(snapshot: &Snapshot) {
    for route in snapshot.routes() {
        let name = route.name.to_string();
        if route.guard().is_some() {
            metrics::gauge!("strangler_guard_state", "route" => name.clone()).increment(0.0);
            metrics::counter!("strangler_guard_trips_total", "route" => name.clone()).increment(0);
        }
        if route.shadow().is_some() {
            register_shadowed(&name);
        }
    }
    let upstreams = std::iter::once(snapshot.legacy()).chain(snapshot.services());
    for unverified in upstreams.filter(|u| u.tls.as_ref().is_some_and(|t| !t.verify)) {
        let name = unverified.name.to_string();
        metrics::gauge!("strangler_upstream_tls_unverified", "upstream" => name).set(1.0);
    }
    for (index, service) in snapshot.services().iter().enumerate() {
        let policy = snapshot.service_policy(index);
        let name = service.name.to_string();
        if policy.breaker.is_some() {
            metrics::gauge!("strangler_breaker_state", "service" => name.clone()).increment(0.0);
        }
        if policy.health.is_some() {
            for result in ["ok", "failed"] {
                metrics::counter!("strangler_health_check_total", "service" => name.clone(), "result" => result).increment(0);
            }
        }
    }
    for event in snapshot.notify().iter().flat_map(|target| &target.events) {
        for result in crate::telemetry::notify::RESULTS {
            metrics::counter!("strangler_notifications_total", "event" => event.code(), "result" => result).increment(0);
        }
    }
}

/// The shadow series of one shadowed route.
fn register_shadowed(route: &str) {
    for outcome in Verdict::ALL {
        metrics::counter!("strangler_shadow_total", "route" => route.to_owned(), "outcome" => outcome.code()).increment(0);
    }
    for reason in SkipReason::ALL {
        metrics::counter!("strangler_shadow_skipped_total", "route" => route.to_owned(), "reason" => reason.code()).increment(0);
    }
    for side in [Side::Legacy, Side::New] {
        let _ = metrics::histogram!("strangler_shadow_latency_seconds", "route" => route.to_owned(), "side" => side.code());
    }
}
