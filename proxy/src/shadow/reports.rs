//! Shadow reports, as the admin API (`GET /admin/diffs`, `GET /admin/diffs/samples/{id}`)
//! and `strangler diffs` give them: the comparisons of a window read back from the diff
//! store and counted per route by the verdict each was given when it was made (the same
//! verdict `strangler_shadow_total{outcome}` counted).
//!
//! JSON: `{"routes":[{"route","compared","matched","mismatched","noise_only","unsettled",
//! "skipped","skip_reasons","errors","outcomes","match_rate","noise_probes",
//! "shadow_noise_probes","differences":[{"path","kind","count","example"}],
//! "noise":[{"path","count"}],"samples":[{"id","signature","request"}]}]}`.

use std::time::Duration;

use serde::Serialize;
use strangler_control::diffs::{DiffStore, SampleSummary, StoreError};
use strangler_shadow::{RouteReport, Sample, SampleRequest, SampleSide};

/// The default window of a report.
pub const DEFAULT_SINCE: &str = "1h";

/// One route's report and the samples kept for it.
#[derive(Debug, Serialize)]
pub struct RouteDiffs {
    /// The counts, differences and noise.
    #[serde(flatten)]
    pub report: RouteReport,
    /// The kept samples: their ids (for `/admin/diffs/samples/{id}` and `strangler diffs
    /// sample`), signatures and the request each answered.
    pub samples: Vec<SampleSummary>,
}

/// Every route's report over one window.
#[derive(Debug, Serialize)]
pub struct Diffs {
    /// In route name order; routes with no comparison in the window are absent.
    pub routes: Vec<RouteDiffs>,
}

/// Parses a window such as `90s`, `15m`, `1h` or `7d`.
pub fn parse_since(text: &str) -> Result<Duration, String> {
    strangler_flags::parse_duration(text).map_err(|message| format!("since: {message}"))
}

/// The report of the comparisons of the last `since`, optionally of one route.
pub async fn report(
    store: &DiffStore,
    route: Option<&str>,
    since: Duration,
) -> Result<Diffs, StoreError> {
    let since = i64::try_from(since.as_millis()).unwrap_or(i64::MAX);
    let since_ms = crate::shadow::diff_writer::now_ms().saturating_sub(since);
    let comparisons = store.comparisons(route, since_ms).await?;
    // Replaying a week of comparisons is CPU work: off the admin thread, which also
    // answers /healthz and follows the flag store.
    let replay = move || strangler_shadow::report(&comparisons).routes;
    let reports = match tokio::runtime::Handle::try_current() {
        Ok(_) => tokio::task::spawn_blocking(replay)
            .await
            .unwrap_or_default(),
        Err(_) => replay(),
    };
    let mut routes = Vec::with_capacity(reports.len());
    for report in reports {
        let samples = store.samples(&report.route).await?;
        routes.push(RouteDiffs { report, samples });
    }
    Ok(Diffs { routes })
}

/// The report as a table for people: one block per route.
pub fn render(diffs: &Diffs) -> String {
    if diffs.routes.is_empty() {
        return "no shadow comparisons in this window\n".to_owned();
    }
    diffs.routes.iter().map(render_route).collect()
}

fn render_route(route: &RouteDiffs) -> String {
    let r = &route.report;
    let rate = r
        .match_rate
        .map_or("-".to_owned(), |rate| format!("{:.1} %", rate * 100.0));
    let mut out = format!(
        "route {}: compared {}, matched {} ({} noise only), mismatched {}, unsettled {}, \
         skipped {}, errors {}, match rate {rate}\n",
        r.route,
        r.compared,
        r.matched,
        r.noise_only,
        r.mismatched,
        r.unsettled,
        r.skipped,
        r.errors
    );
    if r.compared > 0 {
        out.push_str(&evidence_line(r));
    }
    for (reason, count) in &r.skip_reasons {
        out.push_str(&format!("  skipped {count} x {}\n", reason.code()));
    }
    if r.differences.is_empty() {
        out.push_str("  no real differences\n");
    }
    for d in &r.differences {
        let (primary, shadow) = (&d.example.primary, &d.example.shadow);
        out.push_str(&format!(
            "  DIFFERENCE {} ({}) in {} of {}: primary {} / shadow {}\n",
            d.path,
            d.kind.code(),
            d.count,
            r.compared,
            primary.as_deref().unwrap_or("(absent)"),
            shadow.as_deref().unwrap_or("(absent)"),
        ));
    }
    for n in &r.noise {
        out.push_str(&format!(
            "  noise {} in {} (differs between two primary answers too)\n",
            n.path, n.count
        ));
    }
    for s in &route.samples {
        out.push_str(&format!(
            "  sample {}: {} [{}]\n",
            s.id,
            request_line(s),
            s.signature
        ));
    }
    out
}

/// How many noise probes back the route's verdicts, and whether that is too few.
fn evidence_line(r: &RouteReport) -> String {
    let shadow = match r.shadow_noise_probes {
        0 => String::new(),
        probes => format!(" ({probes} also of the shadow)"),
    };
    let min = strangler_shadow::MIN_PROBES;
    match r.noise_probes + r.shadow_noise_probes {
        0 => format!(
            "  noise probes: none (fewer than {min}: noise cannot be told from differences)\n"
        ),
        _ if r.noise_probes < min => format!(
            "  noise probes: {}{shadow}, fewer than {min}: the noise estimate rests on too few\n",
            r.noise_probes
        ),
        _ => format!("  noise probes: {}{shadow}\n", r.noise_probes),
    }
}

/// `GET /api/invoices/7?x=1 tenant acme at 2026-12-06T04:50:01Z`, or what is left of it.
fn request_line(sample: &SampleSummary) -> String {
    let Some(request) = &sample.request else {
        return "(its request is past retention)".to_owned();
    };
    let tenant = request.tenant.as_deref().unwrap_or("-");
    let at = rfc3339(request.at_ms);
    format!(
        "{} {} tenant {tenant} at {at}",
        request.method, request.target
    )
}

/// A unix-milliseconds time as RFC 3339 UTC, to the second.
pub(crate) fn rfc3339(at_ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(at_ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    crate::live::flag_health::rfc3339(at)
}

/// A kept sample as the admin API and `strangler diffs sample --json` give it: the request
/// it answered and both answers, each body as JSON when it is JSON (not JSON in a string).
#[derive(Debug, Serialize)]
pub struct SampleView {
    /// The sample's id.
    pub id: i64,
    /// The route.
    pub route: String,
    /// The sorted paths that differed.
    pub signature: String,
    /// The request, unless retention removed its comparison.
    pub request: Option<SampleRequest>,
    /// The primary's answer.
    pub primary: AnswerView,
    /// The shadow's answer.
    pub shadow: AnswerView,
}

/// One side of a [`SampleView`].
#[derive(Debug, Serialize)]
pub struct AnswerView {
    /// The status code.
    pub status: u16,
    /// Header names and values, redacted ones replaced.
    pub headers: Vec<(String, String)>,
    /// The body: its JSON value when it parses whole, else its text.
    pub body: serde_json::Value,
    /// Whether the body was cut at `diffs.sample_body`.
    pub truncated: bool,
}

impl SampleView {
    /// The view of `sample`.
    pub fn of(sample: Sample) -> SampleView {
        SampleView {
            id: sample.id,
            route: sample.route,
            signature: sample.signature,
            request: sample.request,
            primary: AnswerView::of(sample.primary),
            shadow: AnswerView::of(sample.shadow),
        }
    }
}

impl AnswerView {
    fn of(side: SampleSide) -> AnswerView {
        let body = match side.truncated {
            true => None,
            false => serde_json::from_str(&side.body).ok(),
        };
        AnswerView {
            status: side.status,
            headers: side.headers,
            body: body.unwrap_or(serde_json::Value::String(side.body)),
            truncated: side.truncated,
        }
    }
}
