//! The verdict rules, one test each, on prepared rollups and audit entries.

use std::collections::BTreeMap;

use strangler_flags::guard::{Breach, Exceeded, Figures, Limits};
use strangler_flags::Side;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::audit::{AuditEntry, FlagState};
use crate::change::Change;
use crate::effective::FileRoute;
use crate::overrides::{Overrides, RouteOverrides};
use crate::percent::PercentBp;

const ROUTE: &str = "invoices";

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap() + Duration::minutes(17)
}

fn file(percent: f64) -> FileRoute {
    FileRoute {
        percent: PercentBp::from_percent(percent).unwrap(),
        ..FileRoute::default()
    }
}

/// An hourly row for every hour from `from` days ago up to `to` days ago (0: the current
/// hour), each with `counts`.
fn hours(from: i64, to: i64, counts: Counts) -> Vec<HourCounts> {
    let current = hour_of(now());
    (24 * to..=24 * from)
        .map(|back| HourCounts {
            route: ROUTE.into(),
            hour: current - Duration::hours(back),
            counts,
        })
        .collect()
}

fn served(new: u64, legacy: u64) -> Counts {
    Counts {
        served_new: new,
        served_legacy: legacy,
        ..Counts::default()
    }
}

fn entry(
    days_ago: i64,
    change: Change,
    before: RouteOverrides,
    after: RouteOverrides,
) -> AuditEntry {
    AuditEntry {
        id: 100 - days_ago,
        at: now() - Duration::days(days_ago),
        actor: "ops".into(),
        route: Some(ROUTE.into()),
        change,
        before: FlagState::Route(before),
        after: FlagState::Route(after),
        comment: None,
        reverts: None,
        reverted_by: None,
    }
}

fn guard_trip(days_ago: i64) -> AuditEntry {
    let change = Change::GuardTrip {
        route: ROUTE.into(),
        breach: Breach {
            exceeded: vec![Exceeded::ErrorRate],
            figures: Figures {
                requests: 60,
                errors: 30,
                error_rate: 50.0,
                p95_ms: None,
            },
            limits: Limits {
                max_error_rate: Some(5.0),
                max_p95_ms: None,
                window_seconds: 60,
                min_requests: 50,
            },
        },
    };
    let killed = RouteOverrides {
        killed: true,
        ..RouteOverrides::default()
    };
    entry(days_ago, change, RouteOverrides::default(), killed)
}

struct Case {
    file: FileRoute,
    overrides: Overrides,
    hours: Vec<HourCounts>,
    audit: Vec<AuditEntry>,
}

impl Case {
    fn new(percent: f64, hours: Vec<HourCounts>) -> Case {
        Case {
            file: file(percent),
            overrides: Overrides::default(),
            hours,
            audit: Vec::new(),
        }
    }

    fn assess(&self) -> RouteReadiness {
        assess(&RouteInput {
            route: ROUTE,
            file: &self.file,
            overrides: &self.overrides,
            hours: &self.hours,
            audit: &self.audit,
            period_days: 14,
            now: now(),
        })
    }

    fn route_overrides(&mut self) -> &mut RouteOverrides {
        self.overrides.routes.entry(ROUTE.into()).or_default()
    }
}

#[test]
fn a_route_at_zero_without_new_traffic_is_not_started() {
    let shadowed = Counts {
        comparisons: 2,
        matches: 1,
        ..served(0, 50)
    };
    let report = Case::new(0.0, hours(20, 0, shadowed)).assess();
    assert_eq!(report.verdict, Verdict::NotStarted);
    assert_eq!(report.share_new.week, Some(0.0));
    assert_eq!(
        report.reasons[1],
        "shadow match rate 50 % over 672 comparisons"
    );
}

#[test]
fn a_kill_switch_blocks_whatever_the_evidence() {
    let mut case = Case::new(100.0, hours(20, 0, served(50, 0)));
    case.route_overrides().killed = true;
    assert_eq!(
        case.assess().verdict,
        Verdict::Blocked("kill switch on".into())
    );
    let mut global = Case::new(100.0, hours(20, 0, served(50, 0)));
    global.overrides.global_kill = true;
    assert_eq!(global.assess().verdict_text, "blocked (kill switch on)");
}

#[test]
fn at_full_for_the_whole_period_with_clean_evidence_the_legacy_path_is_removable() {
    let report = Case::new(100.0, hours(20, 0, served(50, 0))).assess();
    assert_eq!(report.verdict, Verdict::LegacyPathRemovable);
    assert_eq!(report.verdict_text, "legacy path removable");
    assert_eq!(report.days_at_full, Some(20));
    assert_eq!(report.share_new.month, Some(1.0));
    assert_eq!(report.days_since_rollback, None);
}

#[test]
fn at_full_for_fewer_days_than_the_period_is_still_ramping() {
    let mut rows = hours(20, 6, served(25, 25));
    rows.extend(hours(5, 0, served(50, 0)));
    let report = Case::new(100.0, rows).assess();
    assert_eq!(report.verdict, Verdict::Ramping);
    assert_eq!(report.days_at_full, Some(5));
    assert!(report
        .reasons
        .contains(&"at 100 % for 5 of 14 days".to_owned()));
    assert_eq!(report.share_new.day, Some(1.0));
    assert!(report.share_new.month.unwrap() < 1.0);
}

#[test]
fn a_fallback_in_the_period_blocks_the_removal() {
    let mut rows = hours(20, 0, served(50, 0));
    let hour = 30; // 30 hours ago
    rows[hour].counts = Counts {
        served_new: 49,
        served_legacy: 1,
        fallbacks: 1,
        ..Counts::default()
    };
    let report = Case::new(100.0, rows).assess();
    assert_eq!(report.fallbacks, 1);
    assert_eq!(
        report.verdict_text,
        "blocked (1 fallbacks to legacy in 14 days)"
    );
    assert_eq!(
        report.days_at_full,
        Some(20),
        "a fallback was decided for new"
    );
}

#[test]
fn a_rollback_in_the_period_blocks_and_names_itself() {
    let mut case = Case::new(100.0, hours(20, 0, served(50, 0)));
    case.audit.push(guard_trip(3));
    let report = case.assess();
    assert_eq!(
        report.verdict_text,
        "blocked (rolled back 3 days ago: guard trip)"
    );
    assert_eq!(report.days_since_rollback, Some(3));
    assert_eq!(
        report.days_at_full,
        Some(3),
        "the days at 100 % start again"
    );
}

#[test]
fn a_rollback_before_the_period_no_longer_blocks() {
    let mut case = Case::new(100.0, hours(30, 0, served(50, 0)));
    case.audit.push(guard_trip(16));
    let report = case.assess();
    assert_eq!(report.verdict, Verdict::LegacyPathRemovable);
    assert_eq!(report.days_at_full, Some(16));
    assert!(report.reasons[0].contains("last rollback 16 days ago: guard trip"));
}

#[test]
fn a_lowered_percentage_is_a_rollback() {
    let mut case = Case::new(10.0, hours(20, 0, served(10, 40)));
    let at = |percent: f64| RouteOverrides {
        percent: Some(PercentBp::from_percent(percent).unwrap()),
        ..RouteOverrides::default()
    };
    let change = Change::SetPercent {
        route: ROUTE.into(),
        percent: 20.0,
    };
    case.audit.push(entry(2, change, at(50.0), at(20.0)));
    *case.route_overrides() = at(20.0);
    let report = case.assess();
    assert_eq!(
        report.verdict_text,
        "blocked (rolled back 2 days ago: percent lowered 50 % -> 20 %)"
    );
}

#[test]
fn raising_the_percentage_is_no_rollback() {
    let mut case = Case::new(10.0, hours(20, 0, served(10, 40)));
    let change = Change::SetPercent {
        route: ROUTE.into(),
        percent: 60.0,
    };
    let raised = RouteOverrides {
        percent: Some(PercentBp::from_percent(60.0).unwrap()),
        ..RouteOverrides::default()
    };
    case.audit
        .push(entry(2, change, RouteOverrides::default(), raised.clone()));
    *case.route_overrides() = raised;
    let report = case.assess();
    assert_eq!(report.last_rollback, None);
    assert_eq!(report.verdict, Verdict::ReadyToFinishRamp);
}

#[test]
fn a_shadow_match_rate_under_the_floor_blocks() {
    let counts = Counts {
        comparisons: 100,
        matches: 97,
        ..served(10, 40)
    };
    let report = Case::new(20.0, hours(20, 0, counts)).assess();
    assert_eq!(report.match_rate, Some(0.97));
    assert_eq!(
        report.verdict_text,
        "blocked (shadow match rate 97 % < 99 %)"
    );
}

#[test]
fn a_tenant_pinned_to_legacy_leaves_the_ramp_to_finish() {
    let mut case = Case::new(100.0, hours(20, 0, served(50, 0)));
    case.file.tenants = BTreeMap::from([("bigcorp".to_owned(), Side::Legacy)]);
    let report = case.assess();
    assert_eq!(report.verdict, Verdict::ReadyToFinishRamp);
    assert_eq!(report.legacy_tenants, ["bigcorp"]);
    assert_eq!(report.days_at_full, None);
}

#[test]
fn a_clean_route_from_half_on_is_ready_to_finish_and_below_it_ramping() {
    let ready = Case::new(60.0, hours(20, 0, served(30, 20))).assess();
    assert_eq!(ready.verdict, Verdict::ReadyToFinishRamp);
    let early = Case::new(10.0, hours(20, 0, served(5, 45))).assess();
    assert_eq!(early.verdict, Verdict::Ramping);
}

#[test]
fn a_partial_route_unchanged_for_thirty_days_is_stale_unless_a_ramp_moves_it() {
    let mut case = Case::new(25.0, hours(40, 0, served(10, 30)));
    assert_eq!(case.assess().stale_days, Some(40));
    let change = Change::SetPercent {
        route: ROUTE.into(),
        percent: 25.0,
    };
    case.audit.push(entry(
        35,
        change,
        RouteOverrides::default(),
        RouteOverrides::default(),
    ));
    assert_eq!(case.assess().stale_days, Some(35));
    case.route_overrides().schedule = Some(crate::schedule::Schedule::new(Vec::new()));
    assert_eq!(case.assess().stale_days, None);
    assert_eq!(
        Case::new(100.0, hours(40, 0, served(10, 0)))
            .assess()
            .stale_days,
        None
    );
}

#[test]
fn the_report_serializes_its_verdict_as_a_code_and_its_reason() {
    let mut case = Case::new(100.0, hours(20, 0, served(50, 0)));
    case.route_overrides().killed = true;
    let json = serde_json::to_value(case.assess()).unwrap();
    assert_eq!(json["verdict"], "blocked");
    assert_eq!(json["why"], "kill switch on");
    let json = serde_json::to_value(Case::new(0.0, Vec::new()).assess()).unwrap();
    assert_eq!(json["verdict"], "not-started");
}
