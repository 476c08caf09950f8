//! The shadow report as text for a person at a terminal (`strangler diffs`): per route the
//! verdict counts, how many noise probes back them, one line per finding (a transformation
//! at sibling paths is one line), the noise on one line, and one line per signature with
//! its count and kept samples. With the default limit of 10 entries per list a route fits
//! on one screen; what a limit left out is said.

use strangler_control::diffs::SampleSummary;
use strangler_shadow::{Finding, RouteReport};

use crate::shadow::reports::{rfc3339, Diffs, RouteDiffs, SignatureDiffs};

/// A signature longer than this is cut, with its number of paths said.
const SIGNATURE_CHARS: usize = 80;

/// The report as text: one block per route.
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
    if r.findings.is_empty() {
        out.push_str("  no real differences\n");
    }
    for finding in &r.findings {
        out.push_str(&finding_line(finding, r.compared));
    }
    if !r.noise.is_empty() {
        let paths: Vec<String> = r
            .noise
            .iter()
            .map(|n| format!("{} in {}", n.path, n.count))
            .collect();
        out.push_str(&format!(
            "  noise (differs between two answers of one side too): {}\n",
            paths.join(", ")
        ));
    }
    for signature in &route.signatures {
        out.push_str(&signature_line(signature));
    }
    // The per-path `differences` are not printed (their findings are), so not counted.
    let left: Vec<String> = route
        .omitted
        .iter()
        .filter(|(list, _)| **list != "differences")
        .map(|(list, n)| format!("{list} {n}"))
        .collect();
    if !left.is_empty() {
        out.push_str(&format!("  --limit left out: {}\n", left.join(", ")));
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
        0 => "  noise probes: none, so noise is not told from differences\n".to_owned(),
        _ if r.noise_probes < min => format!(
            "  noise probes: {}{shadow}, fewer than {min}: the noise estimate rests on too few\n",
            r.noise_probes
        ),
        _ => format!("  noise probes: {}{shadow}\n", r.noise_probes),
    }
}

/// `DIFFERENCE /currency (value-changed) in 3 of 3: primary "EUR" / shadow "eur"`, or for
/// a transformation at several paths `DIFFERENCE key-case at 4 paths under / in 3 of 3:
/// /a → A, ...`.
fn finding_line(f: &Finding, compared: u64) -> String {
    let absent = |value: &Option<String>| value.clone().unwrap_or_else(|| "(absent)".to_owned());
    let single = f.paths == 1 && strangler_shadow::Kind::from_code(&f.kind).is_some();
    // A group of one (a lone rename) still reads as a group: it names both keys.
    match (single, f.examples.first()) {
        (true, Some(e)) => format!(
            "  DIFFERENCE {} ({}) in {} of {compared}: primary {} / shadow {}\n",
            f.path,
            f.kind,
            f.count,
            absent(&e.primary),
            absent(&e.shadow)
        ),
        _ => {
            let examples: Vec<&str> = f.examples.iter().map(|e| e.path.as_str()).collect();
            let more = if f.paths as usize > examples.len() {
                ", ..."
            } else {
                ""
            };
            format!(
                "  DIFFERENCE {} at {} path{} under {} in {} of {compared}: {}{more}\n",
                f.kind,
                f.paths,
                if f.paths == 1 { "" } else { "s" },
                f.path,
                f.count,
                examples.join(", ")
            )
        }
    }
}

/// `12 x [/currency,/id]: sample 4 GET /api/invoices/7 tenant t1 at ...; also 5, 6`.
fn signature_line(s: &SignatureDiffs) -> String {
    let paths = s.signature.split(',').count();
    let shown = match s.signature.chars().count() > SIGNATURE_CHARS {
        true => format!(
            "{}... ({paths} paths)",
            s.signature
                .chars()
                .take(SIGNATURE_CHARS)
                .collect::<String>()
        ),
        false => s.signature.clone(),
    };
    let samples = match s.samples.split_first() {
        None => "no sample kept".to_owned(),
        Some((first, [])) => format!("sample {}: {}", first.id, request_line(first)),
        Some((first, rest)) => {
            let ids: Vec<String> = rest.iter().map(|r| r.id.to_string()).collect();
            format!(
                "sample {}: {}; also {}",
                first.id,
                request_line(first),
                ids.join(", ")
            )
        }
    };
    format!("  {} x [{shown}]: {samples}\n", s.count)
}

/// `GET /api/invoices/7?x=1 tenant acme at 2026-12-06T04:50:01Z`, or what is left of it.
fn request_line(sample: &SampleSummary) -> String {
    let Some(request) = &sample.request else {
        return "(its request is past retention)".to_owned();
    };
    let tenant = request.tenant.as_deref().unwrap_or("-");
    let at = rfc3339(request.at_ms);
    format!(
        "{} {}{} tenant {tenant} at {at}",
        request.method,
        request.target,
        super::reports::new_side_target(request)
    )
}
