//! Forcing a side for QA: the force header counts only with a valid QA token or for a QA
//! tenant, a kill switch still wins, and every header that does not count is reported as
//! ignored with its reason while the request is decided as if it were absent.

use serde_json::{json, Value};

use super::jwt::{hs256, now, SECRET_ENV};
use super::{decide, load, load_errors, route, FakeRequest, BASE};
use crate::{ForceIgnored, ForcedBy, Reason, Side, Snapshot};

/// [`BASE`] with a `qa:` section of `qa` and routes at 0 % and killed.
fn qa_yaml(qa: &str) -> String {
    format!(
        "{BASE}qa:\n{qa}routes:\n{}{}",
        "  - { name: zero, match: { path: \"/api/**\" }, service: billing }\n",
        route("off", "path: \"/off/**\"")
    )
}

pub(super) fn snapshot() -> Snapshot {
    let mut snapshot = load(&qa_yaml(&format!(
        "  token: {{ hs256_secret_env: {SECRET_ENV} }}\n  tenants: [qa-internal]\n"
    )));
    assert!(snapshot.set_killed("off", true));
    snapshot
}

fn qa_token(claims: Value) -> String {
    hs256(&claims)
}

fn valid_token() -> String {
    qa_token(json!({ "sub": "ci", "strangler_qa": true, "exp": now() + 600 }))
}

/// (side, reason, ignored) of `req`.
fn outcome(snapshot: &Snapshot, req: &FakeRequest) -> (Side, Reason, Option<ForceIgnored>) {
    let decision = decide(snapshot, req);
    (decision.side, decision.reason, decision.force_ignored)
}

#[test]
fn force_header_with_a_valid_qa_token_wins_over_the_rollout() {
    let snapshot = snapshot();
    let req = FakeRequest::get("/api/x")
        .tenant("acme")
        .header("x-strangler-side", "new")
        .header("x-strangler-qa-token", &valid_token());
    assert_eq!(
        outcome(&snapshot, &req),
        (Side::New, Reason::Forced(ForcedBy::Token), None)
    );
}

#[test]
fn force_header_from_a_qa_tenant_counts_without_a_token() {
    let snapshot = snapshot();
    let req = FakeRequest::get("/api/x")
        .tenant("qa-internal")
        .header("X-Strangler-Side", "NEW");
    assert_eq!(
        outcome(&snapshot, &req),
        (Side::New, Reason::Forced(ForcedBy::Tenant), None)
    );
}

#[test]
fn force_header_without_a_token_is_ignored_and_reported() {
    let snapshot = snapshot();
    let req = FakeRequest::get("/api/x")
        .tenant("acme")
        .header("x-strangler-side", "new");
    assert_eq!(
        outcome(&snapshot, &req),
        (
            Side::Legacy,
            Reason::Default,
            Some(ForceIgnored::NotAllowed)
        )
    );
}

#[test]
fn qa_tokens_that_do_not_verify_or_lack_the_claim_are_ignored() {
    let snapshot = snapshot();
    let expired = qa_token(json!({ "strangler_qa": true, "exp": now() - 3600 }));
    let no_claim = qa_token(json!({ "exp": now() + 600 }));
    let claim_not_true = qa_token(json!({ "strangler_qa": "yes", "exp": now() + 600 }));
    for token in [expired, no_claim, claim_not_true, "garbage".to_owned()] {
        let req = FakeRequest::get("/api/x")
            .tenant("acme")
            .header("x-strangler-side", "new")
            .header("x-strangler-qa-token", &token);
        assert_eq!(
            outcome(&snapshot, &req),
            (
                Side::Legacy,
                Reason::Default,
                Some(ForceIgnored::InvalidToken)
            ),
            "{token}"
        );
    }
}

#[test]
fn kill_switch_wins_over_a_forced_new_side_but_legacy_can_be_forced() {
    let snapshot = snapshot();
    let forced = |side: &str| {
        FakeRequest::get("/off/x")
            .tenant("qa-internal")
            .header("x-strangler-side", side)
    };
    assert_eq!(
        outcome(&snapshot, &forced("new")),
        (
            Side::Legacy,
            Reason::KillSwitch,
            Some(ForceIgnored::KillSwitch)
        )
    );
    let zero = FakeRequest::get("/api/x")
        .tenant("qa-internal")
        .header("x-strangler-side", "legacy");
    assert_eq!(
        outcome(&snapshot, &zero),
        (Side::Legacy, Reason::Forced(ForcedBy::Tenant), None)
    );
}

#[test]
fn unknown_values_and_unrouted_paths_are_ignored() {
    let snapshot = snapshot();
    let bad = FakeRequest::get("/api/x")
        .tenant("qa-internal")
        .header("x-strangler-side", "both");
    assert_eq!(
        outcome(&snapshot, &bad),
        (
            Side::Legacy,
            Reason::Default,
            Some(ForceIgnored::InvalidValue)
        )
    );
    let unrouted = FakeRequest::get("/home")
        .tenant("qa-internal")
        .header("x-strangler-side", "new");
    assert_eq!(
        outcome(&snapshot, &unrouted),
        (Side::Legacy, Reason::NoRoute, Some(ForceIgnored::NoRoute))
    );
}

#[test]
fn without_a_qa_section_the_header_means_nothing() {
    let snapshot = load(&format!(
        "{BASE}routes:\n  - {{ name: zero, match: {{ path: \"/api/**\" }}, service: billing }}\n"
    ));
    let req = FakeRequest::get("/api/x")
        .tenant("qa-internal")
        .header("x-strangler-side", "new");
    assert_eq!(
        outcome(&snapshot, &req),
        (Side::Legacy, Reason::Default, None)
    );
}

#[test]
fn qa_load_errors_are_located() {
    let nobody = load_errors(&qa_yaml("  header: x-strangler-side\n"));
    assert!(nobody[0].starts_with("routes.yaml:9:1: "), "{nobody:?}");
    assert!(nobody[0].contains("a token or tenants"), "{nobody:?}");

    let forwarded = load_errors(&qa_yaml("  header: X-Force\n  tenants: [qa]\n"));
    assert!(
        forwarded[0].starts_with("routes.yaml:10:11: "),
        "{forwarded:?}"
    );
    assert!(forwarded[0].contains("x-strangler-"), "{forwarded:?}");

    let bad_tenant = load_errors(&qa_yaml("  tenants: [ok, \"not ok\"]\n"));
    assert!(
        bad_tenant[0].starts_with("routes.yaml:10:17: "),
        "{bad_tenant:?}"
    );

    let two_keys = load_errors(&qa_yaml(&format!(
        "  token: {{ hs256_secret_env: {SECRET_ENV}, jwks_file: k.json }}\n"
    )));
    assert!(two_keys[0].contains("exactly one of"), "{two_keys:?}");
}
