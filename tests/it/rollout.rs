//! Sticky percentage rollout through the real proxy: the share of tenants on the new side
//! matches the percentage, raising it never moves a tenant back, routes in one cohort move
//! a tenant together, and the decision header shows the bucket behind each decision.

use std::collections::HashSet;

use futures::StreamExt;
use reqwest::StatusCode;

use crate::support::{send, Backend, Config, Proxy};

const TENANTS: usize = 10_000;
/// Requests in flight at once while sweeping tenants.
const CONCURRENCY: usize = 32;

fn invoices_at(legacy: &Backend, billing: &Backend, percent: u32) -> Config {
    Config::new(legacy)
        .service("billing", billing)
        .routes(&format!(
            r#"
  - name: invoices
    match: {{ path: "/api/invoices/**", methods: [GET, POST] }}
    service: billing
    cohort: billing-wave-1
    rollout: {{ percent: {percent} }}
"#
        ))
}

/// Sends one request per tenant and returns the tenants a `billing` backend answered.
async fn tenants_on_new(proxy: &Proxy, count: usize) -> HashSet<usize> {
    futures::stream::iter(0..count)
        .map(|i| async move {
            let answer = send(proxy.get_as(&format!("tenant-{i}"), "/api/invoices/7")).await;
            assert_eq!(answer.status, StatusCode::OK, "tenant-{i}: {answer:?}");
            (i, answer.backend() == "billing")
        })
        .buffer_unordered(CONCURRENCY)
        .filter_map(|(i, on_new)| async move { on_new.then_some(i) })
        .collect()
        .await
}

fn assert_share(on_new: usize, percent: f64) {
    let share = on_new as f64 * 100.0 / TENANTS as f64;
    assert!(
        (share - percent).abs() <= 1.5,
        "{share:.2} % of tenants on new at {percent} %"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sticky_buckets_match_the_percentage_and_raising_it_keeps_tenants_on_new() {
    let legacy = Backend::echo("legacy").await;
    let billing = Backend::echo("billing").await;
    let proxy = Proxy::start_unwatched(&invoices_at(&legacy, &billing, 25)).await;

    let at_25 = tenants_on_new(&proxy, TENANTS).await;
    assert_share(at_25.len(), 25.0);

    proxy.rewrite(&invoices_at(&legacy, &billing, 50));
    let (status, body) = proxy.reload().await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let at_50 = tenants_on_new(&proxy, TENANTS).await;
    assert_share(at_50.len(), 50.0);
    let moved_back: Vec<_> = at_25.difference(&at_50).take(5).collect();
    assert!(
        moved_back.is_empty(),
        "tenants moved back to legacy by raising the percentage: {moved_back:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn routes_in_one_cohort_put_each_tenant_on_the_same_side() {
    let legacy = Backend::echo("legacy").await;
    let billing = Backend::echo("billing").await;
    let config = Config::new(&legacy).service("billing", &billing).routes(
        r#"
  - name: invoices
    match: { path: "/api/invoices/**" }
    service: billing
    cohort: billing-wave-1
    rollout: { percent: 30 }
  - name: payments
    match: { path: "/api/payments/**" }
    service: billing
    cohort: billing-wave-1
    rollout: { percent: 30 }
"#,
    );
    let proxy = Proxy::start(&config).await;
    let mut sides = HashSet::new();
    for i in 0..200 {
        let tenant = format!("tenant-{i}");
        let invoices = send(proxy.get_as(&tenant, "/api/invoices/1")).await;
        let payments = send(proxy.get_as(&tenant, "/api/payments/1")).await;
        assert_eq!(
            invoices.backend(),
            payments.backend(),
            "{tenant} split across one cohort"
        );
        sides.insert(invoices.backend().to_string());
    }
    assert_eq!(
        sides.len(),
        2,
        "30 % of 200 tenants should put some on each side: {sides:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn decision_header_shows_the_tenants_bucket_against_the_threshold() {
    let legacy = Backend::echo("legacy").await;
    let billing = Backend::echo("billing").await;
    let proxy = Proxy::start(&invoices_at(&legacy, &billing, 25)).await;
    for i in 0..20 {
        let tenant = format!("tenant-{i}");
        let answer = send(proxy.get_as(&tenant, "/api/invoices/7")).await;
        let bucket = strangler_flags::bucket("billing-wave-1", &tenant);
        let (side, relation) = if bucket < 2500 {
            ("new", "<")
        } else {
            ("legacy", ">=")
        };
        let expected = format!(
            "route=invoices; side={side}; reason=percent (bucket {bucket} {relation} 2500)"
        );
        assert_eq!(answer.decision(), expected);
        assert_eq!(
            answer.backend(),
            if side == "new" { "billing" } else { "legacy" }
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn zero_percent_sends_every_tenant_to_legacy() {
    let legacy = Backend::echo("legacy").await;
    let billing = Backend::echo("billing").await;
    let proxy = Proxy::start(&invoices_at(&legacy, &billing, 0)).await;
    for i in 0..50 {
        let answer = send(proxy.get_as(&format!("tenant-{i}"), "/api/invoices/7")).await;
        assert_eq!(
            (answer.backend(), answer.decided("reason")),
            ("legacy", Some("default"))
        );
    }
}
