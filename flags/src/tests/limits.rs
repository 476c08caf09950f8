//! `limits:` and `timeouts:`: what they compile to, and every bad value refused at its
//! `file:line:col`.

use std::time::Duration;

use super::{load, load_errors, BASE};

fn with(section: &str) -> String {
    format!("{BASE}{section}")
}

#[test]
fn a_tier_gives_its_tenants_a_higher_rate_than_per_tenant() {
    let snapshot = load(&with(
        "limits:\n  per_tenant: { rps: 100, burst: 200 }\n  tiers: { enterprise: { rps: 1000 } }\n  tenant_tiers: { acme: enterprise }\n",
    ));
    let rates = &snapshot.limits().rates;
    let acme = rates.rate_for("acme").expect("acme is limited");
    assert_eq!(
        (acme.per_second, acme.burst),
        (1000.0, 1000.0),
        "burst defaults to rps"
    );
    let other = rates.rate_for("globex").expect("everyone is limited");
    assert_eq!((other.per_second, other.burst), (100.0, 200.0));
}

#[test]
fn without_per_tenant_only_tiered_tenants_are_limited() {
    let snapshot = load(&with(
        "limits:\n  tiers: { free: { rps: 0.5 } }\n  tenant_tiers: { trial: free }\n",
    ));
    let rates = &snapshot.limits().rates;
    assert_eq!(rates.rate_for("trial").map(|r| r.burst), Some(1.0));
    assert_eq!(rates.rate_for("acme"), None);
}

#[test]
fn sizes_and_client_timeout_compile() {
    let snapshot = load(&with(
        "limits: { max_body: 10MiB, max_header: 32KiB, client_timeout: 30s }\n",
    ));
    let limits = snapshot.limits();
    assert_eq!(limits.max_body, Some(10 << 20));
    assert_eq!(limits.max_header, Some(32 << 10));
    assert_eq!(limits.client_timeout, Some(Duration::from_secs(30)));
}

/// Regression (issue #21): with no `limits:` at all, slowloris connections were held for
/// minutes. A head deadline is on by default; `client_timeout` replaces it.
#[test]
fn no_limits_section_still_has_a_head_deadline() {
    let default = load(BASE);
    assert_eq!(default.limits().head_timeout(), Duration::from_secs(30));
    let set = load(&with("limits: { client_timeout: 10s }\n"));
    assert_eq!(set.limits().head_timeout(), Duration::from_secs(10));
}

#[test]
fn no_limits_section_limits_nothing() {
    let snapshot = load(BASE);
    assert!(!snapshot.limits().rates.is_active());
    assert_eq!(snapshot.limits().max_body, None);
}

#[test]
fn zero_rps_is_located() {
    let errors = load_errors(&with("limits:\n  per_tenant: { rps: 0 }\n"));
    assert_eq!(
        errors,
        ["routes.yaml:10:22: limits.per_tenant.rps must be a number greater than 0, not 0"]
    );
}

#[test]
fn zero_burst_is_located() {
    let errors = load_errors(&with("limits:\n  tiers:\n    gold: { rps: 5, burst: 0 }\n"));
    assert_eq!(
        errors,
        ["routes.yaml:11:28: limits.tiers.gold.burst must be at least 1"]
    );
}

#[test]
fn an_undefined_tier_is_located() {
    let errors = load_errors(&with(
        "limits:\n  tiers: { gold: { rps: 5 } }\n  tenant_tiers:\n    acme: platinum\n",
    ));
    assert_eq!(
        errors,
        ["routes.yaml:12:11: tenant \"acme\" is in tier \"platinum\", which limits.tiers does not define"]
    );
}

#[test]
fn an_invalid_tenant_id_in_tenant_tiers_is_located() {
    let errors = load_errors(&with(
        "limits:\n  tiers: { gold: { rps: 5 } }\n  tenant_tiers:\n    \"a c\": gold\n",
    ));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("routes.yaml:12:5: tenant id \"a c\""),
        "{}",
        errors[0]
    );
}

#[test]
fn bad_sizes_and_durations_are_located() {
    let errors = load_errors(&with(
        "limits:\n  max_body: 10MB\n  max_header: 2MiB\n  client_timeout: 0s\n",
    ));
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].starts_with("routes.yaml:10:13: limits.max_body \"10MB\""),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with("routes.yaml:11:15: limits.max_header \"2MiB\" is over"),
        "{}",
        errors[1]
    );
    assert_eq!(
        errors[2],
        "routes.yaml:12:19: limits.client_timeout must be greater than 0"
    );
}

#[test]
fn an_unknown_limits_key_is_located() {
    let errors = load_errors(&with("limits:\n  per_tenant: { rps: 1, brust: 2 }\n"));
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("routes.yaml:10:"), "{}", errors[0]);
    assert!(errors[0].contains("unknown field `brust`"), "{}", errors[0]);
}

#[test]
fn upstream_timeouts_override_the_defaults_key_by_key() {
    let snapshot = load(&with(
        "timeouts: { connect: 2s, read: 30s, total: 60s, upstreams: { billing: { read: 5s, total: 10s } } }\n",
    ));
    let billing = snapshot.timeouts("billing");
    assert_eq!(billing.connect, Duration::from_secs(2));
    assert_eq!(billing.read, Duration::from_secs(5));
    assert_eq!(billing.write, Duration::from_secs(60));
    assert_eq!(billing.total, Some(Duration::from_secs(10)));
    let legacy = snapshot.timeouts("legacy");
    assert_eq!(
        (legacy.read, legacy.total),
        (Duration::from_secs(30), Some(Duration::from_secs(60)))
    );
    assert_eq!(snapshot.connect_timeout(), Duration::from_secs(2));
}

#[test]
fn connect_timeout_is_the_default_connect() {
    let snapshot = load(&with("connect_timeout: 250ms\n"));
    assert_eq!(
        snapshot.timeouts("search").connect,
        Duration::from_millis(250)
    );
}

#[test]
fn connect_timeout_beside_timeouts_connect_is_located() {
    let errors = load_errors(&with("connect_timeout: 1s\ntimeouts: { connect: 2s }\n"));
    assert_eq!(
        errors,
        ["routes.yaml:10:22: timeouts.connect and connect_timeout (at routes.yaml:9:18) both set the connect timeout; keep one"]
    );
}

#[test]
fn timeouts_for_an_unknown_upstream_are_located() {
    let errors = load_errors(&with("timeouts:\n  upstreams:\n    biling: { read: 1s }\n"));
    assert_eq!(
        errors,
        ["routes.yaml:11:5: timeouts for unknown upstream \"biling\": expected legacy or a service name"]
    );
}

#[test]
fn a_zero_upstream_timeout_is_located() {
    let errors = load_errors(&with(
        "timeouts:\n  upstreams:\n    legacy: { read: 0ms }\n",
    ));
    assert_eq!(
        errors,
        ["routes.yaml:11:21: timeouts.upstreams.legacy.read must be greater than 0"]
    );
}

#[test]
fn a_service_read_timeout_in_two_places_is_located() {
    let yaml = "listen: 127.0.0.1:8080\nlegacy: http://127.0.0.1:3000\nservices:\n  billing: { url: \"http://127.0.0.1:3001\", read_timeout: 2s }\ntimeouts:\n  upstreams: { billing: { read: 5s } }\n";
    let errors = load_errors(yaml);
    assert_eq!(
        errors,
        ["routes.yaml:4:58: upstream \"billing\" has a read timeout here and at routes.yaml:6:33; keep one"]
    );
}

#[test]
fn connect_timeout_is_a_deprecated_alias_of_timeouts_connect() {
    let snapshot = load(&with("connect_timeout: 250ms\n"));
    let warnings: Vec<String> = snapshot.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warnings,
        ["routes.yaml:9:1: connect_timeout is deprecated: use timeouts.connect"]
    );
    assert_eq!(snapshot.connect_timeout(), Duration::from_millis(250));
}

#[test]
fn a_services_read_in_timeouts_upstreams_is_a_deprecated_alias_of_its_read_timeout() {
    let snapshot = load(&with(
        "timeouts:\n  upstreams:\n    billing: { read: 5s }\n    legacy: { read: 7s }\n",
    ));
    let warnings: Vec<String> = snapshot.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warnings,
        ["routes.yaml:11:16: timeouts.upstreams.billing.read is deprecated: use services.billing.read_timeout"]
    );
    assert_eq!(snapshot.timeouts("billing").read, Duration::from_secs(5));
    assert_eq!(snapshot.timeouts("legacy").read, Duration::from_secs(7));
}

#[test]
fn the_canonical_timeout_keys_warn_about_nothing() {
    let yaml = "listen: 127.0.0.1:8080\nlegacy: http://127.0.0.1:3000\nservices:\n  billing: { url: \"http://127.0.0.1:3001\", read_timeout: 2s }\ntimeouts: { connect: 2s, read: 30s, upstreams: { legacy: { read: 5s } } }\n";
    let snapshot = load(yaml);
    assert!(snapshot.warnings().is_empty(), "{:?}", snapshot.warnings());
    assert_eq!(snapshot.timeouts("billing").read, Duration::from_secs(2));
    assert_eq!(snapshot.connect_timeout(), Duration::from_secs(2));
}
