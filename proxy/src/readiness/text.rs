//! The readiness report as a table, for `strangler report`: one line per route with its
//! figures and verdict, then each route's reasons, then the stale flags.

use std::fmt::Write as _;

use strangler_control::readiness::RouteReadiness;

use super::report::Report;

const HEADER: [&str; 11] = [
    "route",
    "percent",
    "new 1d",
    "new 7d",
    "new 30d",
    "days at 100%",
    "since rollback",
    "fallbacks",
    "match rate",
    "legacy tenants",
    "verdict",
];

/// The report as text.
pub fn render(report: &Report) -> String {
    let mut rows = vec![HEADER.map(str::to_owned).to_vec()];
    rows.extend(report.routes.iter().map(cells));
    let mut out = format!(
        "readiness over the last {} days (readiness.removable_after), {}\n\n",
        report.period_days,
        report
            .generated_at
            .replace_nanosecond(0)
            .unwrap_or(report.generated_at)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    );
    out.push_str(&table(&rows));
    out.push('\n');
    for route in &report.routes {
        if !route.reasons.is_empty() {
            let _ = writeln!(out, "{}: {}", route.route, route.reasons.join("; "));
        }
    }
    if !report.stale.is_empty() {
        out.push_str("\nstale flags (neither 0 % nor 100 %, unchanged for 30 days or more):\n");
        for route in report.routes.iter().filter(|r| r.stale_days.is_some()) {
            let days = route.stale_days.unwrap_or_default();
            let _ = writeln!(out, "  {}: {days} days at {} %", route.route, route.percent);
        }
    }
    out
}

fn cells(route: &RouteReadiness) -> Vec<String> {
    let days = |d: Option<u32>| d.map_or("-".to_owned(), |d| format!("{d} d"));
    vec![
        route.route.clone(),
        format!("{} %", route.percent),
        share(route.share_new.day),
        share(route.share_new.week),
        share(route.share_new.month),
        days(route.days_at_full),
        days(route.days_since_rollback),
        route.fallbacks.to_string(),
        share(route.match_rate),
        match route.legacy_tenants.len() {
            0 => "-".to_owned(),
            n => n.to_string(),
        },
        route.verdict_text.clone(),
    ]
}

fn share(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |v| {
        format!("{} %", (v * 1000.0).round() / 10.0)
    })
}

/// Left-aligned columns, two spaces apart, the last one unpadded.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let last = row.len().saturating_sub(1);
        for (c, cell) in row.iter().enumerate() {
            match c == last {
                true => out.push_str(cell),
                false => {
                    let _ = write!(out, "{cell:<width$}  ", width = widths[c]);
                }
            }
        }
        out.push('\n');
    }
    out
}
