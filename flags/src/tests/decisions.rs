//! The decision order (kill switch, no tenant, override, percent, default) and sticky,
//! cohort-shared rollout buckets.

use super::{decide, load, FakeRequest, BASE};
use crate::{Reason, Side, Snapshot};

fn one_route(rollout: &str, extra: &str) -> Snapshot {
    load(&format!(
        "{BASE}{extra}routes:\n  - name: invoices\n    match: {{ path: \"/api/invoices/**\" }}\n    service: billing\n    rollout: {rollout}\n"
    ))
}

fn tenants() -> impl Iterator<Item = String> {
    (0..10_000).map(|i| format!("tenant-{i}"))
}

#[test]
fn tenant_override_beats_percent() {
    let snapshot = one_route("{ percent: 100, tenants: { bigcorp: legacy } }", "");
    let req = FakeRequest::get("/api/invoices").tenant("bigcorp");
    let decision = decide(&snapshot, &req);
    assert_eq!(
        (decision.side, decision.reason),
        (Side::Legacy, Reason::TenantOverride)
    );
}

#[test]
fn kill_switch_beats_override() {
    let mut snapshot = one_route("{ percent: 100, tenants: { qa: new } }", "");
    assert!(!snapshot.route("invoices").unwrap().killed());
    assert!(snapshot.set_killed("invoices", true));
    let req = FakeRequest::get("/api/invoices").tenant("qa");
    let decision = decide(&snapshot, &req);
    assert_eq!(
        (decision.side, decision.reason),
        (Side::Legacy, Reason::KillSwitch)
    );
}

#[test]
fn set_killed_sends_every_tenant_to_legacy() {
    let mut snapshot = one_route("{ percent: 100, tenants: { qa: new } }", "  default: new\n");
    assert!(snapshot.set_killed("invoices", true));
    assert!(!snapshot.set_killed("nope", true));
    let requests = tenants()
        .take(500)
        .chain(["qa".to_owned()])
        .map(|tenant| FakeRequest::get("/api/invoices").tenant(&tenant))
        .chain([FakeRequest::get("/api/invoices")]);
    for req in requests {
        let decision = decide(&snapshot, &req);
        assert_eq!(
            (decision.side, decision.reason),
            (Side::Legacy, Reason::KillSwitch),
            "{:?}",
            decision.tenant
        );
    }
}

#[test]
fn set_percent_changes_the_bucket_threshold() {
    let mut snapshot = one_route("{ percent: 0 }", "");
    assert!(snapshot.set_percent("invoices", 2_500));
    assert_eq!(
        snapshot.route("invoices").unwrap().percent_basis_points(),
        2_500
    );
    for tenant in tenants().take(200) {
        let req = FakeRequest::get("/api/invoices").tenant(&tenant);
        let decision = decide(&snapshot, &req);
        let bucket = crate::bucket("invoices", &tenant);
        assert_eq!(
            decision.reason,
            Reason::Percent {
                bucket,
                threshold: 2_500
            }
        );
        assert_eq!(decision.side == Side::New, bucket < 2_500, "{tenant}");
    }
    assert!(snapshot.set_percent("invoices", u16::MAX));
    assert_eq!(
        snapshot.route("invoices").unwrap().percent_basis_points(),
        10_000
    );
    assert!(!snapshot.set_percent("nope", 100));
}

#[test]
fn set_tenant_sides_replaces_the_overrides() {
    let mut snapshot = one_route("{ percent: 0, tenants: { bigcorp: new, qa: new } }", "");
    assert!(snapshot.set_tenant_sides("invoices", [("acme", Side::New), ("qa", Side::Legacy)]));
    let side = |tenant: &str| {
        let req = FakeRequest::get("/api/invoices").tenant(tenant);
        let decision = decide(&snapshot, &req);
        (decision.side, decision.reason)
    };
    assert_eq!(side("acme"), (Side::New, Reason::TenantOverride));
    assert_eq!(side("qa"), (Side::Legacy, Reason::TenantOverride));
    assert_eq!(side("bigcorp"), (Side::Legacy, Reason::Default));
    let mut overrides: Vec<_> = snapshot
        .route("invoices")
        .unwrap()
        .tenant_overrides()
        .collect();
    overrides.sort_unstable_by_key(|(tenant, _)| *tenant);
    assert_eq!(overrides, [("acme", Side::New), ("qa", Side::Legacy)]);
    assert!(!snapshot.set_tenant_sides("nope", []));
}

#[test]
fn no_tenant_goes_to_the_tenant_default() {
    let snapshot = one_route("{ percent: 0 }", "");
    let req = FakeRequest::get("/api/invoices");
    let decision = decide(&snapshot, &req);
    assert_eq!(
        (decision.side, decision.reason),
        (Side::Legacy, Reason::NoTenant)
    );
    let yaml = format!("{BASE}  default: new\nroutes:\n  - {{ name: r, match: {{ path: /a }}, service: billing }}\n");
    let snapshot = load(&yaml);
    let req = FakeRequest::get("/a");
    let decision = decide(&snapshot, &req);
    assert_eq!(
        (decision.side, decision.reason),
        (Side::New, Reason::NoTenant)
    );
    assert_eq!(
        snapshot.upstream(decision.side, decision.route).addr.port(),
        3001
    );
}

#[test]
fn zero_percent_without_override_is_legacy_by_default() {
    let snapshot = one_route("{ percent: 0 }", "");
    let req = FakeRequest::get("/api/invoices").tenant("acme");
    let decision = decide(&snapshot, &req);
    assert_eq!(
        (decision.side, decision.reason),
        (Side::Legacy, Reason::Default)
    );
}

#[test]
fn percent_sends_buckets_below_the_threshold_to_new() {
    let snapshot = one_route("{ percent: 25 }", "");
    for tenant in tenants().take(200) {
        let req = FakeRequest::get("/api/invoices").tenant(&tenant);
        let decision = decide(&snapshot, &req);
        let bucket = crate::bucket("invoices", &tenant);
        assert_eq!(
            decision.reason,
            Reason::Percent {
                bucket,
                threshold: 2_500
            }
        );
        assert_eq!(decision.side == Side::New, bucket < 2_500);
    }
}

#[test]
fn a_quarter_of_tenants_go_new_at_25_percent_within_one_and_a_half_points() {
    let snapshot = one_route("{ percent: 25 }", "");
    let on_new = tenants()
        .filter(|tenant| {
            decide(&snapshot, &FakeRequest::get("/api/invoices").tenant(tenant)).side == Side::New
        })
        .count();
    assert!(
        (2_350..=2_650).contains(&on_new),
        "{on_new} of 10000 on new"
    );
}

#[test]
fn raising_the_percentage_keeps_every_new_tenant_on_new() {
    let at_25 = one_route("{ percent: 25 }", "");
    let at_50 = one_route("{ percent: 50 }", "");
    for tenant in tenants() {
        let req = FakeRequest::get("/api/invoices").tenant(&tenant);
        if decide(&at_25, &req).side == Side::New {
            assert_eq!(decide(&at_50, &req).side, Side::New, "{tenant} moved back");
        }
    }
}

#[test]
fn routes_sharing_a_cohort_give_every_tenant_the_same_side() {
    let snapshot = load(&format!(
        "{BASE}routes:
  - {{ name: invoices, match: {{ path: \"/api/invoices/**\" }}, service: billing, cohort: billing-v2, rollout: {{ percent: 30 }} }}
  - {{ name: payments, match: {{ path: \"/api/payments/**\" }}, service: billing, cohort: billing-v2, rollout: {{ percent: 30 }} }}
"
    ));
    assert_eq!(snapshot.route("payments").unwrap().salt(), "billing-v2");
    for tenant in tenants() {
        let invoices = decide(
            &snapshot,
            &FakeRequest::get("/api/invoices/1").tenant(&tenant),
        )
        .side;
        let payments = decide(
            &snapshot,
            &FakeRequest::get("/api/payments/1").tenant(&tenant),
        )
        .side;
        assert_eq!(invoices, payments, "{tenant}");
    }
}

#[test]
fn reasons_and_sides_have_stable_codes_and_figures() {
    let percent = Reason::Percent {
        bucket: 1234,
        threshold: 2500,
    };
    assert_eq!(percent.to_string(), "percent (bucket 1234 < 2500)");
    assert_eq!(
        Reason::Percent {
            bucket: 3000,
            threshold: 2500
        }
        .to_string(),
        "percent (bucket 3000 >= 2500)"
    );
    assert_eq!(percent.code(), "percent");
    assert_eq!(Reason::TenantOverride.to_string(), "tenant-override");
    assert_eq!(Reason::NoRoute.to_string(), "no-route");
    assert_eq!(Reason::KillSwitch.code(), "kill-switch");
    assert_eq!(Reason::NoTenant.code(), "no-tenant");
    assert_eq!(Reason::Default.code(), "default");
    assert_eq!(Side::New.to_string(), "new");
    assert_eq!(
        serde_yaml::to_string(&Side::Legacy).unwrap().trim(),
        "legacy"
    );
}

#[test]
fn the_example_routes_yaml_loads() {
    let snapshot = load(include_str!("../../tests/routes.yaml"));
    assert_eq!(snapshot.listen(), "127.0.0.1:8080".parse().unwrap());
    assert_eq!(snapshot.admin(), "127.0.0.1:9180".parse().unwrap());
    assert_eq!(snapshot.threads(), Some(2));
    assert_eq!(
        snapshot.connect_timeout(),
        std::time::Duration::from_secs(1)
    );
    assert!(!snapshot.debug_headers());
    assert_eq!(snapshot.forward_tenant_header(), "x-strangler-tenant");
    let invoices = snapshot.route("invoices").unwrap();
    assert_eq!(invoices.percent_basis_points(), 2_500);
    assert_eq!(invoices.pattern(), "/api/invoices/**");
    assert_eq!(
        (invoices.service(), invoices.salt(), invoices.host()),
        ("billing", "invoices", None)
    );
    let methods: Vec<&str> = invoices.methods().unwrap().iter().map(|m| &**m).collect();
    assert_eq!(methods, ["GET", "POST", "HEAD"]);
    assert_eq!(invoices.tenant_overrides().count(), 2);
    let req = FakeRequest::get("/api/invoices/42/pdf").tenant("qa-internal");
    let decision = decide(&snapshot, &req);
    assert_eq!(decision.route.unwrap().name(), "invoice-pdf");
    assert_eq!(decision.route.unwrap().index(), 1);
    assert_eq!(
        (decision.side, decision.reason),
        (Side::Legacy, Reason::Default)
    );
    let req = FakeRequest::get("/api/invoices/42").tenant("qa-internal");
    let decision = decide(&snapshot, &req);
    assert_eq!(
        (decision.side, decision.reason),
        (Side::New, Reason::TenantOverride)
    );
    assert_eq!(
        &*snapshot.upstream(decision.side, decision.route).host,
        "127.0.0.1:3001"
    );
}

#[test]
fn the_content_hash_is_stable_for_the_same_text() {
    let yaml = include_str!("../../tests/routes.yaml");
    assert_eq!(load(yaml).content_hash(), load(yaml).content_hash());
    assert_ne!(
        load(yaml).content_hash(),
        load(&format!("{yaml}\n# edit\n")).content_hash()
    );
}

#[test]
fn store_defaults_to_sqlite_in_the_working_directory() {
    assert_eq!(
        one_route("{ percent: 0 }", "").store_url(),
        "sqlite://strangler.db"
    );
    let snapshot = one_route("{ percent: 0 }", "store: postgres://db/strangler\n");
    assert_eq!(snapshot.store_url(), "postgres://db/strangler");
}

#[test]
fn top_level_extras_are_read() {
    let snapshot = one_route(
        "{ percent: 1 }",
        "  forward_header: X-Tenant\ndebug_headers: true\nconnect_timeout: 250ms\n",
    );
    assert_eq!(snapshot.forward_tenant_header(), "x-tenant");
    assert!(snapshot.debug_headers());
    assert_eq!(
        snapshot.connect_timeout(),
        std::time::Duration::from_millis(250)
    );
}
