//! Shadow reports, as the admin API (`GET /admin/diffs`, `GET /admin/diffs/samples/{id}`)
//! and `strangler diffs` give them: the comparisons of a window read back from the diff
//! store and replayed into per-route counts, with the noise thresholds of `diffs:`.
//!
//! JSON: `{"routes":[{"route","compared","matched","mismatched","skipped","skip_reasons",
//! "errors","match_rate","differences":[{"path","kind","count","example"}],
//! "noise":[{"path","count"}],"samples":[{"id","signature"}]}]}`.

use std::time::Duration;

use serde::Serialize;
use strangler_control::diffs::{DiffStore, StoreError};
use strangler_flags::shadow_policy::NoiseThresholds;
use strangler_shadow::RouteReport;

/// The default window of a report.
pub const DEFAULT_SINCE: &str = "1h";

/// One route's report and the samples kept for it.
#[derive(Debug, Serialize)]
pub struct RouteDiffs {
    /// The counts, differences and noise.
    #[serde(flatten)]
    pub report: RouteReport,
    /// The kept samples: their ids (for `/admin/diffs/samples/{id}`) and signatures.
    pub samples: Vec<SampleRef>,
}

/// A kept sample, by id.
#[derive(Debug, Serialize)]
pub struct SampleRef {
    /// The sample's id.
    pub id: i64,
    /// The sorted paths that differed.
    pub signature: String,
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
    thresholds: &NoiseThresholds,
) -> Result<Diffs, StoreError> {
    let since = i64::try_from(since.as_millis()).unwrap_or(i64::MAX);
    let since_ms = crate::shadow::diff_writer::now_ms().saturating_sub(since);
    let comparisons = store.comparisons(route, since_ms).await?;
    // Replaying a week of comparisons is CPU work: off the admin thread, which also
    // answers /healthz and follows the flag store.
    let thresholds = *thresholds;
    let replay = move || strangler_shadow::report(&comparisons, &thresholds).routes;
    let reports = match tokio::runtime::Handle::try_current() {
        Ok(_) => tokio::task::spawn_blocking(replay)
            .await
            .unwrap_or_default(),
        Err(_) => replay(),
    };
    let mut routes = Vec::with_capacity(reports.len());
    for report in reports {
        let samples = store.sample_ids(&report.route).await?;
        routes.push(RouteDiffs {
            report,
            samples: samples
                .into_iter()
                .map(|(id, signature)| SampleRef { id, signature })
                .collect(),
        });
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
        "route {}: compared {}, matched {}, mismatched {}, skipped {}, errors {}, match rate {rate}\n",
        r.route, r.compared, r.matched, r.mismatched, r.skipped, r.errors
    );
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
        out.push_str(&format!("  sample {} [{}]\n", s.id, s.signature));
    }
    out
}
