//! [`assess`]: one route's figures and verdict from its rollups, flags and audit log.

use strangler_flags::Side;
use time::{Duration, OffsetDateTime};

use super::history::{last_change, last_rollback};
use super::{
    hour_of, Counts, HourCounts, Rollback, RouteReadiness, Shares, Verdict, MIN_MATCH_RATE,
    READY_PERCENT, STALE_AFTER_DAYS,
};
use crate::audit::AuditEntry;
use crate::effective::{fold, EffectiveRoute, FileRoute};
use crate::overrides::Overrides;

/// Everything [`assess`] judges one route on.
#[derive(Debug, Clone, Copy)]
pub struct RouteInput<'a> {
    /// The route.
    pub route: &'a str,
    /// Its routes.yaml values.
    pub file: &'a FileRoute,
    /// The runtime overrides of every route (the global kill switch included).
    pub overrides: &'a Overrides,
    /// Rollup rows; those of other routes are ignored.
    pub hours: &'a [HourCounts],
    /// Audit entries, the route's and the global ones; others are ignored.
    pub audit: &'a [AuditEntry],
    /// The period judged, in days: `readiness.removable_after`.
    pub period_days: u32,
    /// The clock.
    pub now: OffsetDateTime,
}

/// What the verdict rules look at, computed once.
struct Evidence {
    effective: EffectiveRoute,
    percent: f64,
    legacy_tenants: Vec<String>,
    period: Counts,
    days_at_full: Option<u32>,
    rollback: Option<Rollback>,
    days_since_rollback: Option<u32>,
    match_rate: Option<f64>,
}

/// The route's readiness at `input.now`.
pub fn assess(input: &RouteInput<'_>) -> RouteReadiness {
    let evidence = Evidence::gather(input);
    let (verdict, reasons) = verdict(&evidence, input.period_days);
    RouteReadiness {
        route: input.route.to_owned(),
        percent: evidence.percent,
        killed: evidence.effective.killed.value,
        share_new: Shares {
            day: share(&within(input, 1)),
            week: share(&within(input, 7)),
            month: share(&within(input, 30)),
        },
        requests: evidence.period.served_new + evidence.period.served_legacy,
        days_at_full: evidence.days_at_full,
        days_since_rollback: evidence.days_since_rollback,
        last_rollback: evidence.rollback.clone(),
        period_days: input.period_days,
        fallbacks: evidence.period.fallbacks,
        comparisons: evidence.period.comparisons,
        match_rate: evidence.match_rate,
        legacy_tenants: evidence.legacy_tenants.clone(),
        verdict_text: verdict.to_string(),
        verdict,
        reasons,
        stale_days: stale_days(input, &evidence),
    }
}

impl Evidence {
    fn gather(input: &RouteInput<'_>) -> Evidence {
        let effective = fold(input.file, input.overrides, input.route, input.now);
        let percent = effective.percent.value.as_percent();
        let legacy_tenants = effective
            .tenants
            .iter()
            .filter(|(_, side)| side.value == Side::Legacy)
            .map(|(tenant, _)| tenant.clone())
            .collect();
        let period = within(input, input.period_days);
        let rollback = last_rollback(input.route, input.file, input.audit);
        let days_since_rollback = rollback.as_ref().map(|r| whole_days(input.now - r.at));
        let match_rate =
            (period.comparisons > 0).then(|| period.matches as f64 / period.comparisons as f64);
        let mut evidence = Evidence {
            effective,
            percent,
            legacy_tenants,
            period,
            days_at_full: None,
            days_since_rollback,
            rollback,
            match_rate,
        };
        let rolled_back = evidence.rollback.as_ref().map(|r| r.at);
        evidence.days_at_full = days_at_full(input, &evidence, rolled_back);
        evidence
    }

    fn at_full(&self) -> bool {
        self.percent >= 100.0 && !self.effective.killed.value && self.legacy_tenants.is_empty()
    }
}

/// The verdict and its reasons, first rule that applies (see the module's documentation).
fn verdict(e: &Evidence, period_days: u32) -> (Verdict, Vec<String>) {
    let mut reasons = Vec::new();
    if e.effective.killed.value {
        return (Verdict::Blocked("kill switch on".into()), reasons);
    }
    let any_new_tenant = e.effective.tenants.values().any(|s| s.value == Side::New);
    if e.percent == 0.0 && !any_new_tenant && e.period.served_new == 0 {
        return (Verdict::NotStarted, not_started_reasons(e, period_days));
    }
    if let Some(why) = blocker(e, period_days, &mut reasons) {
        return (Verdict::Blocked(why), reasons);
    }
    match e.percent >= 100.0 {
        true => at_full_verdict(e, period_days, reasons),
        false => partial_verdict(e, period_days, reasons),
    }
}

fn not_started_reasons(e: &Evidence, period_days: u32) -> Vec<String> {
    let mut reasons = vec![format!(
        "at 0 %, no request served by the new side in {period_days} days"
    )];
    if let Some(rate) = e.match_rate {
        let compared = e.period.comparisons;
        reasons.push(format!(
            "shadow match rate {} over {compared} comparisons",
            percent_text(rate)
        ));
    }
    reasons
}

/// What blocks a started route whatever its percentage: a rollback in the period (one
/// before it is only a reason), a shadow match rate under [`MIN_MATCH_RATE`].
fn blocker(e: &Evidence, period_days: u32, reasons: &mut Vec<String>) -> Option<String> {
    if let (Some(days), Some(rollback)) = (e.days_since_rollback, &e.rollback) {
        let ago = days_ago(days);
        if days < period_days {
            return Some(format!("rolled back {ago}: {}", rollback.what));
        }
        reasons.push(format!("last rollback {ago}: {}", rollback.what));
    }
    let rate = e.match_rate.filter(|rate| *rate < MIN_MATCH_RATE)?;
    Some(format!(
        "shadow match rate {} < {}",
        percent_text(rate),
        percent_text(MIN_MATCH_RATE)
    ))
}

/// The verdict of a route at 100 %.
fn at_full_verdict(
    e: &Evidence,
    period_days: u32,
    mut reasons: Vec<String>,
) -> (Verdict, Vec<String>) {
    if e.period.fallbacks > 0 {
        let why = format!(
            "{} fallbacks to legacy in {period_days} days",
            e.period.fallbacks
        );
        return (Verdict::Blocked(why), reasons);
    }
    if !e.legacy_tenants.is_empty() {
        reasons.push(format!(
            "{} tenants pinned to legacy: {}",
            e.legacy_tenants.len(),
            e.legacy_tenants.join(", ")
        ));
        return (Verdict::ReadyToFinishRamp, reasons);
    }
    if e.period.served_new == 0 {
        reasons.push(format!("no request in {period_days} days to judge by"));
        return (Verdict::Ramping, reasons);
    }
    let days = e.days_at_full.unwrap_or(0);
    if days >= period_days {
        reasons.push(format!(
            "at 100 % for {days} days with no fallback, no rollback and no tenant on legacy"
        ));
        return (Verdict::LegacyPathRemovable, reasons);
    }
    reasons.push(format!("at 100 % for {days} of {period_days} days"));
    (Verdict::Ramping, reasons)
}

/// The verdict of a route between 0 % and 100 % (or at 0 % with tenants on the new side).
fn partial_verdict(
    e: &Evidence,
    period_days: u32,
    mut reasons: Vec<String>,
) -> (Verdict, Vec<String>) {
    reasons.push(format!("at {} %", e.percent));
    if e.period.fallbacks > 0 {
        reasons.push(format!(
            "{} fallbacks to legacy in {period_days} days",
            e.period.fallbacks
        ));
    }
    let clean = e.period.fallbacks == 0 && e.period.served_new > 0;
    if e.percent >= READY_PERCENT && clean {
        reasons.push(format!("no fallback and no rollback in {period_days} days"));
        return (Verdict::ReadyToFinishRamp, reasons);
    }
    (Verdict::Ramping, reasons)
}

/// Whole days every request was decided for the new side: since the end of the last hour
/// with a request decided for legacy (else the first hour on record), and not before the
/// last rollback. `None` unless the route is at 100 % with new-side traffic on record.
fn days_at_full(
    input: &RouteInput<'_>,
    e: &Evidence,
    rollback: Option<OffsetDateTime>,
) -> Option<u32> {
    let rows = || input.hours.iter().filter(|h| h.route == input.route);
    if !e.at_full() || !rows().any(|h| h.counts.served_new > 0) {
        return None;
    }
    let last_legacy = rows()
        .filter(|h| h.counts.decided_legacy() > 0)
        .map(|h| h.hour + Duration::HOUR)
        .max();
    let first = rows().map(|h| h.hour).min()?;
    let since = last_legacy.unwrap_or(first).max(rollback.unwrap_or(first));
    Some(whole_days(input.now - since))
}

/// The days since the flags last changed (or since the first hour on record, when the
/// audit log kept has no change), when the route is stale.
fn stale_days(input: &RouteInput<'_>, e: &Evidence) -> Option<u32> {
    let partial = e.percent > 0.0 && e.percent < 100.0 && !e.effective.killed.value;
    let ramping = input
        .overrides
        .routes
        .get(input.route)
        .and_then(|r| r.schedule.as_ref())
        .is_some_and(|s| s.paused_at.is_none());
    if !partial || ramping {
        return None;
    }
    let first_hour = input
        .hours
        .iter()
        .filter(|h| h.route == input.route)
        .map(|h| h.hour)
        .min();
    let since = last_change(input.route, input.audit).or(first_hour)?;
    let days = whole_days(input.now - since);
    (days >= STALE_AFTER_DAYS).then_some(days)
}

/// The route's counts over the last `days` days: the hours from `24 * days - 1` before
/// the current one up to it.
fn within(input: &RouteInput<'_>, days: u32) -> Counts {
    let from = hour_of(input.now) - Duration::hours(24 * i64::from(days) - 1);
    let mut sum = Counts::default();
    input
        .hours
        .iter()
        .filter(|h| h.route == input.route && h.hour >= from)
        .for_each(|h| sum.add(&h.counts));
    sum
}

fn share(counts: &Counts) -> Option<f64> {
    let total = counts.served_new + counts.served_legacy;
    (total > 0).then(|| counts.served_new as f64 / total as f64)
}

fn whole_days(span: Duration) -> u32 {
    u32::try_from(span.whole_days().max(0)).unwrap_or(u32::MAX)
}

fn days_ago(days: u32) -> String {
    match days {
        0 => "today".into(),
        1 => "1 day ago".into(),
        n => format!("{n} days ago"),
    }
}

/// `99.5 %` from 0.995.
fn percent_text(rate: f64) -> String {
    format!("{} %", (rate * 1000.0).round() / 10.0)
}
