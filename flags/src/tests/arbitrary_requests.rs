//! Properties over arbitrary requests: no tenant source panics, whatever a client puts in
//! a tenant header, the host, the path or a bearer token. Each request is either decided
//! or refused with a [`RequestError`](crate::RequestError), and a decided tenant is always
//! a valid tenant id. Nor does a QA force header, and an arbitrary one never forces a side.

use proptest::prelude::*;

use super::jwt::{hs_snapshot, token_like};
use super::qa::snapshot as qa_snapshot;
use super::{load, route, FakeRequest, BASE};
use crate::tenant::check_tenant_id;
use crate::Snapshot;

/// Header, subdomain and path sources, in that order.
fn unverified() -> Snapshot {
    load(&format!(
        "{}    - subdomain: .shop.example.com\n    - path: \"/t/{{tenant}}/**\"\nroutes:\n{}",
        BASE,
        route("all", "path: \"/**\"")
    ))
}

/// Any printable-ish text, including the bytes a header parser might choke on.
fn text() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{0,80}", "[ -~]{0,300}", "[A-Za-z0-9._-]{0,140}",]
}

fn decided_tenant_is_valid(snapshot: &Snapshot, req: &FakeRequest) -> Result<(), TestCaseError> {
    if let Ok(decision) = snapshot.decide(req) {
        if let Some(tenant) = decision.tenant {
            prop_assert!(check_tenant_id(&tenant).is_ok(), "{tenant:?}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn unverified_sources_never_panic(tenant in text(), host in text(), path in text()) {
        let req = FakeRequest::get(&format!("/{path}")).tenant(&tenant).host(&host);
        decided_tenant_is_valid(&unverified(), &req)?;
    }

    #[test]
    fn jwt_source_never_panics_on_arbitrary_credentials(value in text()) {
        let req = FakeRequest::get("/o/x").header("Authorization", &value);
        decided_tenant_is_valid(&hs_snapshot(), &req)?;
    }

    #[test]
    fn arbitrary_force_headers_and_qa_tokens_never_force_a_side(
        side in prop_oneof![Just("new".to_owned()), text()],
        token in prop_oneof![token_like(), text()],
    ) {
        let req = FakeRequest::get("/api/x")
            .tenant("acme")
            .header("x-strangler-side", &side)
            .header("x-strangler-qa-token", &token);
        let snapshot = qa_snapshot();
        let decision = snapshot.decide(&req).expect("decides");
        prop_assert!(!matches!(decision.reason, crate::Reason::Forced(_)), "{:?}", decision);
    }

    #[test]
    fn jwt_source_never_panics_on_arbitrary_tokens(token in token_like()) {
        let req = FakeRequest::get("/o/x").header("Authorization", &format!("Bearer {token}"));
        decided_tenant_is_valid(&hs_snapshot(), &req)?;
    }
}
