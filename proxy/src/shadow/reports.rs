//! Shadow reports, as the admin API (`GET /admin/diffs`, `GET /admin/diffs/samples/{id}`)
//! and `strangler diffs` give them: the comparisons of a window (rows and counts) read back
//! from the diff store and counted per route by the verdict each was given when it was made (the same
//! verdict `strangler_shadow_total{outcome}` counted).
//!
//! JSON: `{"routes":[{"route","compared","matched","mismatched","noise_only","unsettled",
//! "skipped","skip_reasons","errors","outcomes","match_rate","noise_probes",
//! "shadow_noise_probes","differences":[{"path","kind","count","example"}],
//! "findings":[{"kind","path","paths","count","examples"}],"noise":[{"path","count"}],
//! "signatures":[{"signature","count","samples":[{"id","signature","request"}]}],
//! "omitted":{"findings":N,...}}]}`. The text for people is [`super::report_text`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use strangler_control::diffs::{DiffStore, SampleSummary, StoreError};
use strangler_shadow::{RouteReport, Sample, SampleRequest, SampleSide, SignatureCount};

/// The default window of a report.
pub const DEFAULT_SINCE: &str = "1h";

/// One route's report and the samples kept for it.
#[derive(Debug, Serialize)]
pub struct RouteDiffs {
    /// The counts, differences, findings and noise.
    #[serde(flatten)]
    pub report: RouteReport,
    /// The signatures of the comparisons that differed, most frequent first, each with
    /// its kept samples.
    pub signatures: Vec<SignatureDiffs>,
    /// Per list, how many entries `limit` left out (absent when none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub omitted: BTreeMap<&'static str, usize>,
}

/// The comparisons that differed in one set of paths, and the samples kept of them.
#[derive(Debug, Serialize)]
pub struct SignatureDiffs {
    /// The sorted collapsed paths (noise included), joined by `,`.
    pub signature: String,
    /// Comparisons in the window with this signature (0 for samples of older ones).
    pub count: u64,
    /// The kept samples: their ids (for `/admin/diffs/samples/{id}` and `strangler diffs
    /// sample`) and the request each answered, oldest first.
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

/// The report of the comparisons of the last `since`, optionally of one route, each list
/// cut to `limit` entries.
pub async fn report(
    store: &DiffStore,
    route: Option<&str>,
    since: Duration,
    limit: Option<usize>,
) -> Result<Diffs, StoreError> {
    let since = i64::try_from(since.as_millis()).unwrap_or(i64::MAX);
    let since_ms = crate::shadow::diff_writer::now_ms().saturating_sub(since);
    let comparisons = store.comparisons(route, since_ms).await?;
    let counted = store.counted(route, since_ms).await?;
    // Replaying a week of comparisons is CPU work: off the admin thread, which also
    // answers /healthz and follows the flag store.
    let replay = move || strangler_shadow::report(&comparisons, &counted).routes;
    let reports = match tokio::runtime::Handle::try_current() {
        Ok(_) => tokio::task::spawn_blocking(replay)
            .await
            .unwrap_or_default(),
        Err(_) => replay(),
    };
    let mut routes = Vec::with_capacity(reports.len());
    for mut report in reports {
        let samples = store.samples(&report.route).await?;
        let signatures = by_signature(std::mem::take(&mut report.signatures), samples);
        let mut route = RouteDiffs {
            report,
            signatures,
            omitted: BTreeMap::new(),
        };
        if let Some(limit) = limit {
            route.limit(limit);
        }
        routes.push(route);
    }
    Ok(Diffs { routes })
}

/// The signatures counted, each with its samples; samples of a signature the window did
/// not count come last.
fn by_signature(counts: Vec<SignatureCount>, samples: Vec<SampleSummary>) -> Vec<SignatureDiffs> {
    let mut groups: Vec<SignatureDiffs> = counts
        .into_iter()
        .map(|c| SignatureDiffs {
            signature: c.signature,
            count: c.count,
            samples: Vec::new(),
        })
        .collect();
    for sample in samples {
        match groups.iter_mut().find(|g| g.signature == sample.signature) {
            Some(group) => group.samples.push(sample),
            None => groups.push(SignatureDiffs {
                signature: sample.signature.clone(),
                count: 0,
                samples: vec![sample],
            }),
        }
    }
    groups
}

impl RouteDiffs {
    /// Keeps the first `limit` entries of each list, noting how many were left out.
    fn limit(&mut self, limit: usize) {
        let report = &mut self.report;
        let cut = [
            ("findings", cut(&mut report.findings, limit)),
            ("differences", cut(&mut report.differences, limit)),
            ("noise", cut(&mut report.noise, limit)),
            ("signatures", cut(&mut self.signatures, limit)),
        ];
        self.omitted = cut.into_iter().filter(|(_, n)| *n > 0).collect();
    }
}

/// Truncates `list` to `limit`; returns how many entries went.
fn cut<T>(list: &mut Vec<T>, limit: usize) -> usize {
    let over = list.len().saturating_sub(limit);
    list.truncate(limit);
    over
}

/// ` (new side: /invoices/7)` when the route's `rewrite:` sent the new side another target
/// than the client's, else nothing: how reports show both layouts of a request.
pub(crate) fn new_side_target(request: &SampleRequest) -> String {
    match &request.upstream_target {
        Some(target) => format!(" (new side: {target})"),
        None => String::new(),
    }
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
