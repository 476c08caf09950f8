//! Folding routes.yaml values and runtime overrides into the effective state, with the
//! source of each value (what `GET /admin/routes` shows).

use strangler_control::{fold, FileRoute, Overrides, PercentBp, Schedule, Source, Sourced};
use strangler_flags::Side;
use time::OffsetDateTime;

fn file() -> FileRoute {
    FileRoute {
        percent: PercentBp::from_percent(25.0).unwrap(),
        tenants: [("acme".into(), Side::Legacy), ("qa".into(), Side::New)].into(),
        shadow_sample: None,
    }
}

fn runtime(entry: i64) -> Source {
    Source::Runtime { entry: Some(entry) }
}

#[test]
fn without_overrides_everything_comes_from_the_file() {
    let effective = fold(
        &file(),
        &Overrides::default(),
        "invoices",
        OffsetDateTime::now_utc(),
    );
    assert_eq!(
        effective.percent,
        Sourced {
            value: file().percent,
            source: Source::File
        }
    );
    assert_eq!(effective.killed.source, Source::File);
    assert_eq!(effective.tenants["acme"].source, Source::File);
    assert_eq!(effective.shadow_sample, None);
}

#[test]
fn runtime_values_win_and_name_their_audit_entry() {
    let mut overrides = Overrides::default();
    let route = overrides.routes.entry("invoices".into()).or_default();
    route.percent = PercentBp::from_basis_points(5_000);
    route.tenants.insert("acme".into(), Side::New);
    let set_by = overrides.set_by.entry("invoices".into()).or_default();
    set_by.percent = Some(7);
    set_by.tenants.insert("acme".into(), 8);
    let effective = fold(&file(), &overrides, "invoices", OffsetDateTime::now_utc());
    assert_eq!(effective.percent.value.basis_points(), 5_000);
    assert_eq!(effective.percent.source, runtime(7));
    assert_eq!(
        effective.tenants["acme"],
        Sourced {
            value: Side::New,
            source: runtime(8)
        }
    );
    assert_eq!(effective.tenants["qa"].source, Source::File);
}

#[test]
fn a_started_schedule_beats_the_percent_override_and_the_global_kill_beats_all() {
    let mut overrides = Overrides {
        global_kill: true,
        global_kill_set_by: Some(3),
        ..Overrides::default()
    };
    let route = overrides.routes.entry("invoices".into()).or_default();
    route.percent = PercentBp::from_basis_points(1_000);
    route.schedule = Some(
        serde_json::from_str::<Schedule>(r#"{"steps": [{"at": 100, "percent": 60}]}"#).unwrap(),
    );
    overrides
        .set_by
        .entry("invoices".into())
        .or_default()
        .schedule = Some(2);
    let at = |s| OffsetDateTime::from_unix_timestamp(s).unwrap();
    assert_eq!(
        fold(&file(), &overrides, "invoices", at(99))
            .percent
            .value
            .basis_points(),
        1_000
    );
    let started = fold(&file(), &overrides, "invoices", at(100));
    assert_eq!(started.percent.value.basis_points(), 6_000);
    assert_eq!(started.percent.source, runtime(2));
    assert_eq!(
        started.killed,
        Sourced {
            value: true,
            source: runtime(3)
        }
    );
}

#[test]
fn a_schedule_never_takes_a_route_below_its_current_percent() {
    // "+5 % an hour" put on a route at 25 %: its reached steps (5, 10) lie below 25, so the
    // file's 25 % holds until a step passes it; no tenant on new goes back to legacy.
    let mut overrides = Overrides::default();
    let schedule = r#"{"steps": [{"start": 100, "every": "1h", "step": 5, "until": 100}]}"#;
    overrides
        .routes
        .entry("invoices".into())
        .or_default()
        .schedule = Some(serde_json::from_str::<Schedule>(schedule).unwrap());
    let at = |s| OffsetDateTime::from_unix_timestamp(s).unwrap();
    let percent_at = |s| fold(&file(), &overrides, "invoices", at(s)).percent;
    assert_eq!(
        percent_at(100),
        from_the_file(2_500),
        "5 % reached: the file's 25 % holds"
    );
    assert_eq!(
        percent_at(100 + 4 * 3600),
        from_the_file(2_500),
        "25 % reached: no change"
    );
    assert_eq!(
        percent_at(100 + 5 * 3600).value.basis_points(),
        3_000,
        "30 %: the ramp leads"
    );
}

fn from_the_file(basis_points: u16) -> Sourced<PercentBp> {
    Sourced {
        value: PercentBp::from_basis_points(basis_points).unwrap(),
        source: Source::File,
    }
}
