//! Forcing a side for QA through the real proxy: `x-strangler-side` sends a request to the
//! side it names only with a valid signed QA token or from a QA tenant; without one the
//! header is ignored, counted, and never reaches an upstream, so a client cannot pick its
//! own side.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::metrics::sample;
use crate::support::tokens::{hs256, now};
use crate::support::{send, Answer, Backend, Config, Proxy};

/// The environment variable holding the QA secret; set once, never changed.
const SECRET_ENV: &str = "STRANGLER_IT_QA_SECRET";
const SECRET: &str = "integration-test-only-qa-secret-32b+";
const FORCE: &str = "x-strangler-side";
const TOKEN: &str = "x-strangler-qa-token";

/// `qa-invoices` at 0 %: only a force can send a request to billing.
const ROUTES: &str = r#"
  - name: qa-invoices
    match: { path: "/api/invoices/**" }
    service: billing
"#;

struct Forcing {
    proxy: Proxy,
    _backends: [Backend; 2],
}

async fn forcing() -> Forcing {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::env::set_var(SECRET_ENV, SECRET));
    let backends = [
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    ];
    let qa =
        format!("qa:\n  token: {{ hs256_secret_env: {SECRET_ENV} }}\n  tenants: [qa-internal]\n");
    let config = Config::new(&backends[0])
        .service("billing", &backends[1])
        .routes(ROUTES)
        .section(&qa);
    Forcing {
        proxy: Proxy::start(&config).await,
        _backends: backends,
    }
}

fn qa_claims() -> Value {
    json!({ "sub": "qa-bot", "strangler_qa": true, "exp": now() + 600 })
}

impl Forcing {
    /// `GET /api/invoices/1` as `tenant` with `headers`.
    async fn get(&self, tenant: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = self.proxy.get_as(tenant, "/api/invoices/1");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        send(request).await
    }

    async fn ignored(&self, reason: &str) -> f64 {
        let page = self.proxy.metrics().await;
        sample(
            &page,
            "strangler_force_ignored_total",
            &[("reason", reason)],
        )
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn force_header_with_a_valid_qa_token_sends_the_request_to_new() {
    let t = forcing().await;
    let signed = hs256(SECRET.as_bytes(), &qa_claims());
    let answer = t.get("acme", &[(FORCE, "new"), (TOKEN, &signed)]).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.backend(), "billing");
    assert_eq!(answer.decided("reason"), Some("forced (qa-token)"));
    assert_eq!(
        answer.upstream_header(FORCE),
        None,
        "the force header is not forwarded"
    );
    assert_eq!(
        answer.upstream_header(TOKEN),
        None,
        "the QA token is not forwarded"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn force_header_without_a_token_is_ignored_and_counted() {
    let t = forcing().await;
    let before = t.ignored("not-allowed").await;
    let answer = t.get("acme", &[(FORCE, "new")]).await;
    assert_eq!(answer.backend(), "legacy", "{answer:?}");
    assert_eq!(answer.decided("reason"), Some("default"));
    assert_eq!(answer.upstream_header(FORCE), None);
    assert!(t.ignored("not-allowed").await >= before + 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_or_expired_qa_tokens_are_ignored() {
    let t = forcing().await;
    let before = t.ignored("invalid-token").await;
    let forged = hs256(b"not-the-qa-secret-but-as-long-32b+!", &qa_claims());
    let mut expired = qa_claims();
    expired["exp"] = json!(1_000_000);
    let expired = hs256(SECRET.as_bytes(), &expired);
    let mut tenant_token = qa_claims();
    tenant_token["strangler_qa"] = json!(false);
    let tenant_token = hs256(SECRET.as_bytes(), &tenant_token);
    for bad in [forged, expired, tenant_token] {
        let answer = t.get("acme", &[(FORCE, "new"), (TOKEN, &bad)]).await;
        assert_eq!(answer.backend(), "legacy", "{answer:?}");
    }
    assert!(t.ignored("invalid-token").await >= before + 3.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn qa_tenant_forces_a_side_without_a_token() {
    let t = forcing().await;
    let answer = t.get("qa-internal", &[(FORCE, "new")]).await;
    assert_eq!(answer.backend(), "billing", "{answer:?}");
    assert_eq!(answer.decided("reason"), Some("forced (qa-tenant)"));
    let answer = t.get("qa-internal", &[]).await;
    assert_eq!(
        answer.backend(),
        "legacy",
        "without the header the rollout decides"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_qa_section_the_force_header_is_dropped_and_means_nothing() {
    let backends = [
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    ];
    let config = Config::new(&backends[0])
        .service("billing", &backends[1])
        .routes(ROUTES);
    let proxy = Proxy::start(&config).await;
    let request = proxy
        .get_as("qa-internal", "/api/invoices/1")
        .header(FORCE, "new");
    let answer = send(request).await;
    assert_eq!(answer.backend(), "legacy", "{answer:?}");
    assert_eq!(answer.upstream_header(FORCE), None);
}
