//! `tenant.anonymous`: where an anonymous id stands among the precedence rules, and that it
//! is trusted for a bucket only.

use super::{decide, load, load_errors, FakeRequest};
use crate::tenant::anonymous::{id_of, AnonymousId};
use crate::{Reason, Side, Snapshot};

/// One route at `percent`, with `acme` and the id `a…a` forced by overrides, and anonymous
/// ids on.
fn anonymous_at(percent: u32, killed: bool) -> Snapshot {
    let mut snapshot = load(&format!(
        "\
listen: 127.0.0.1:8080
legacy: http://127.0.0.1:3000
services: {{ billing: http://127.0.0.1:3001 }}
tenant:
  sources: [{{ header: X-Tenant-Id }}]
  anonymous: {{ cookie: sid, max_age: 1d }}
routes:
  - name: invoices
    match: {{ path: \"/api/**\" }}
    service: billing
    rollout: {{ percent: {percent}, tenants: {{ acme: new, {}: new }} }}
",
        id(0xaa)
    ));
    snapshot.set_killed("invoices", killed);
    snapshot
}

fn id(byte: u8) -> String {
    id_of([byte; 16])
}

fn with_cookie(value: &str) -> FakeRequest {
    FakeRequest::get("/api/x").header("cookie", &format!("other=1; sid={value}"))
}

#[test]
fn an_anonymous_id_is_bucketed_like_a_tenant() {
    let snapshot = anonymous_at(50, false);
    let (mut sides, mut ids) = ([0; 2], 0..200u8);
    for byte in ids.by_ref() {
        let sent = id(byte);
        let req = with_cookie(&sent);
        let decision = decide(&snapshot, &req);
        assert_eq!(decision.anonymous, Some(AnonymousId::Sent(&sent[..])));
        assert!(matches!(decision.reason, Reason::Percent { .. }));
        assert_eq!(decision.tenant, None);
        sides[usize::from(decision.side == Side::New)] += 1;
        assert_eq!(decide(&snapshot, &req).side, decision.side, "sticky");
    }
    assert!(sides[0] > 50 && sides[1] > 50, "{sides:?}");
}

#[test]
fn an_anonymous_id_never_matches_a_tenant_override() {
    // The override names this very id: a client could send it, so it must not count.
    let snapshot = anonymous_at(0, false);
    let req = with_cookie(&id(0xaa));
    let decision = decide(&snapshot, &req);
    assert_eq!(
        (decision.side, decision.reason),
        (Side::Legacy, Reason::Default)
    );
}

#[test]
fn a_tenant_wins_over_an_anonymous_id() {
    let snapshot = anonymous_at(0, false);
    let req = with_cookie(&id(1)).tenant("acme");
    let decision = decide(&snapshot, &req);
    assert_eq!(decision.reason, Reason::TenantOverride);
    assert_eq!(decision.anonymous, None);
}

#[test]
fn kill_switch_wins_over_an_anonymous_bucket() {
    let snapshot = anonymous_at(100, true);
    let req = with_cookie(&id(1));
    let decision = decide(&snapshot, &req);
    assert_eq!(
        (decision.side, decision.reason),
        (Side::Legacy, Reason::KillSwitch)
    );
    let bare = FakeRequest::get("/api/x");
    let mut minted = decide(&snapshot, &bare);
    minted.bucket_anonymous(&id(2));
    assert_eq!(minted.reason, Reason::KillSwitch);
}

#[test]
fn a_malformed_anonymous_id_is_missing_and_a_minted_one_buckets() {
    let snapshot = anonymous_at(100, false);
    for forged in ["acme", &id(0xab).to_uppercase(), &id(1)[2..], "", "\"x\""] {
        let req = with_cookie(forged);
        let mut decision = decide(&snapshot, &req);
        assert_eq!(decision.anonymous, Some(AnonymousId::Missing), "{forged:?}");
        assert_eq!(
            (decision.side, decision.reason),
            (Side::Legacy, Reason::NoTenant)
        );
        decision.bucket_anonymous(&id(3));
        assert_eq!(decision.side, Side::New, "{forged:?}");
        assert!(matches!(decision.reason, Reason::Percent { .. }));
    }
}

#[test]
fn anonymous_ids_are_off_by_default() {
    let snapshot = load(&super::with_routes(&[super::route("all", "path: \"/**\"")]));
    let req = with_cookie(&id(1));
    let decision = decide(&snapshot, &req);
    assert_eq!(decision.anonymous, None);
    assert_eq!(decision.reason, Reason::NoTenant);
    assert!(snapshot.anonymous().is_none());
}

#[test]
fn anonymous_ids_beside_default_new_or_with_a_bad_cookie_are_located() {
    let errors = load_errors(
        "\
listen: 127.0.0.1:8080
legacy: http://127.0.0.1:3000
tenant:
  default: new
  anonymous: { cookie: \"a b\", max_age: 0s }
",
    );
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].starts_with("routes.yaml:5:3: "), "{}", errors[0]);
    assert!(errors[1].starts_with("routes.yaml:5:24: "), "{}", errors[1]);
    assert!(errors[2].starts_with("routes.yaml:5:40: "), "{}", errors[2]);
}
