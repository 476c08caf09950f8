//! One verdict per comparison, and noise evidence that says how much it knows: through the
//! real proxy, `strangler_shadow_total{outcome}`, the rows of the diff store and the
//! report of `GET /admin/diffs` count the same verdicts, and the report says how many
//! noise probes back them.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::metrics::sample;
use crate::support::scratch::Scratch;
use crate::support::scripted::Scripted;
use crate::support::{eventually, send, Config, Proxy};

/// A uuid-like value that changes on every call of a side.
fn request_id(call: u64) -> String {
    format!(
        "{:032x}",
        call.wrapping_mul(0x9e37_79b9_7f4a_7c15) as u128 * 0x1_0001
    )
}

/// A config with one shadowed route `route` over `/api/**`, legacy serving, the store in
/// `scratch`.
fn config(legacy: &Scripted, new: &Scripted, route: &str, shadow: &str, store: &str) -> Config {
    Config::with_legacy_url(legacy.url())
        .service_url("billing", new.url())
        .store(store)
        .routes(&format!(
            r#"
  - name: {route}
    match: {{ path: "/api/**" }}
    service: billing
    shadow: {shadow}
"#
        ))
}

/// The report of `route`, once `count` comparisons of it are in it.
async fn report(proxy: &Proxy, route: &str, count: u64) -> Value {
    let read = || async {
        let (status, body) = proxy
            .admin_get(&format!("/admin/diffs?route={route}&since=1h"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let body: Value = serde_json::from_str(&body).expect("report JSON");
        body["routes"][0].clone()
    };
    let total = |r: &Value| {
        let outcomes = r["outcomes"].as_object().cloned().unwrap_or_default();
        outcomes.values().filter_map(Value::as_u64).sum::<u64>()
    };
    let what = format!("{count} comparisons of {route} reported");
    eventually(Duration::from_secs(15), &what, || async {
        total(&read().await) >= count
    })
    .await;
    read().await
}

/// The comparisons of `route` in the store at `url`, counted by verdict.
async fn stored(url: &str, route: &str) -> BTreeMap<String, u64> {
    let database = strangler_control::Database::connect(url)
        .await
        .expect("store");
    let rows = database.diffs(5).comparisons(Some(route), 0).await.unwrap();
    let mut counts = BTreeMap::new();
    for row in rows {
        *counts.entry(row.verdict.code().to_owned()).or_default() += 1;
    }
    counts
}

/// `strangler_shadow_total{route}` by outcome, from the admin `/metrics` page.
async fn metric(proxy: &Proxy, route: &str) -> BTreeMap<String, u64> {
    let (_, page) = proxy.admin_get("/metrics").await;
    strangler_shadow::Verdict::ALL
        .iter()
        .map(|v| {
            let labels = [("route", route), ("outcome", v.code())];
            (
                v.code().to_owned(),
                sample(&page, "strangler_shadow_total", &labels) as u64,
            )
        })
        .filter(|(_, count)| *count > 0)
        .collect()
}

/// The report's `outcomes` as counts.
fn outcomes(report: &Value) -> BTreeMap<String, u64> {
    serde_json::from_value(report["outcomes"].clone()).expect("outcomes")
}

/// Noisy traffic (a request id that changes on every call of either side) with a real
/// difference on every third request, at the default `noise: 5`: the metric, the stored
/// rows and the report give every outcome the same count, and a comparison whose only
/// difference is the request id is never a mismatch anywhere.
#[tokio::test(flavor = "multi_thread")]
async fn one_verdict_noisy_traffic_metric_report_and_store_agree() {
    let answer = |broken: bool| {
        move |call: u64, _: &_| {
            let currency = if broken && call % 3 == 0 {
                "eur"
            } else {
                "EUR"
            };
            json!({"id": 7, "request_id": request_id(call), "currency": currency})
        }
    };
    let (legacy, new) = (
        Scripted::start(answer(false)).await,
        Scripted::start(answer(true)).await,
    );
    let scratch = Scratch::new();
    let store = format!("sqlite://{}/diffs.db", scratch.path().display());
    let route = "one-verdict";
    let proxy = Proxy::start(&config(&legacy, &new, route, "{}", &store)).await;
    for i in 0..45 {
        let answer = send(proxy.get_as(&format!("t{i}"), "/api/invoices/7")).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let report = report(&proxy, route, 45).await;
    let (reported, kept, counted) = (
        outcomes(&report),
        stored(&store, route).await,
        metric(&proxy, route).await,
    );
    assert_eq!(reported, kept, "report and store: {report}");
    assert_eq!(reported, counted, "report and metric: {report}");
    assert!(
        reported.get("noise-only").copied().unwrap_or(0) > 0,
        "{report}"
    );
    assert!(
        reported.get("mismatch").copied().unwrap_or(0) > 0,
        "{report}"
    );
    let only_noise: Vec<&Value> = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["path"] == "/request_id")
        .collect();
    assert!(only_noise.is_empty(), "the request id is noise: {report}");
    assert_eq!(
        report["matched"].as_u64().unwrap()
            + report["mismatched"].as_u64().unwrap()
            + report["unsettled"].as_u64().unwrap(),
        45
    );
}
