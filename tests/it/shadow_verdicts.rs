//! One verdict per comparison, and noise evidence that says how much it knows: through the
//! real proxy, `strangler_shadow_total{outcome}`, the rows of the diff store and the
//! report of `GET /admin/diffs` count the same verdicts, and the report says how many
//! noise probes back them.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::metrics::sample;
use crate::support::scratch::Scratch;
use crate::support::scripted::Scripted;
use crate::support::shadowing::{one_route, route_report, strangler_diffs};
use crate::support::{send, Config, Proxy};

/// A uuid-like value that changes on every call of a side.
fn request_id(call: u64) -> String {
    format!(
        "{:032x}",
        call.wrapping_mul(0x9e37_79b9_7f4a_7c15) as u128 * 0x1_0001
    )
}

/// A config with one shadowed route `route` over `/api/**`, the store at `store`.
fn config(legacy: &Scripted, new: &Scripted, route: &str, shadow: &str, store: &str) -> Config {
    one_route(legacy, new, route, shadow).store(store)
}

/// The comparisons of `route` in the store at `url`, counted by verdict: its rows plus
/// the matches and skips it only counts.
async fn stored(url: &str, route: &str) -> BTreeMap<String, u64> {
    let (rows, counted) = stored_apart(url, route).await;
    let mut counts = rows;
    for (verdict, count) in counted {
        *counts.entry(verdict).or_default() += count;
    }
    counts
}

/// The comparisons of `route` in the store at `url` by verdict: those kept as rows, and
/// those only counted.
async fn stored_apart(url: &str, route: &str) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let database = strangler_control::Database::connect(url)
        .await
        .expect("store");
    let store = database.diffs(5);
    let mut rows = BTreeMap::new();
    for row in store.comparisons(Some(route), 0).await.unwrap() {
        *rows.entry(row.verdict.code().to_owned()).or_default() += 1;
    }
    let mut counted = BTreeMap::new();
    for sum in store.counted(Some(route), 0).await.unwrap() {
        *counted.entry(sum.verdict.code().to_owned()).or_default() += sum.count;
    }
    (rows, counted)
}

/// Issue #20: a row per matching comparison was most of what shadowing cost the proxy
/// besides the shadow call. Matching traffic without noise probes (`noise: 0`) is counted
/// in the store, not written row by row, and the report and the metric still count every
/// match.
#[tokio::test(flavor = "multi_thread")]
async fn store_counts_matches_without_a_row_each_and_the_report_still_counts_them() {
    let answer = |_: u64, _: &_| json!({"id": 7, "currency": "EUR"});
    let (legacy, new) = (Scripted::start(answer).await, Scripted::start(answer).await);
    let scratch = Scratch::new();
    let store = format!("sqlite://{}/diffs.db", scratch.path().display());
    let route = "counted";
    let proxy = Proxy::start(&config(&legacy, &new, route, "{ noise: 0 }", &store)).await;
    for i in 0..12 {
        let answer = send(proxy.get_as(&format!("t{i}"), "/api/invoices/7")).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let report = route_report(&proxy, route, 12).await;
    assert_eq!(report["matched"], 12, "{report}");
    let (rows, counted) = stored_apart(&store, route).await;
    assert!(rows.is_empty(), "no row per match: {rows:?}");
    assert_eq!(counted.get("match"), Some(&12), "{counted:?}");
    assert_eq!(metric(&proxy, route).await.get("match"), Some(&12));
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
    let report = route_report(&proxy, route, 45).await;
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

/// The route `strangler diffs` prints for the proxy's config, as text.
fn diffs_text(proxy: &Proxy, route: &str) -> String {
    strangler_diffs(proxy, &["--route", route])
}

/// Five requests at the default `noise: 5`: each is probed (a route's first ten are), so a
/// uuid is noise, not a difference, and the report says its estimate rests on five probes.
#[tokio::test(flavor = "multi_thread")]
async fn noise_evidence_a_handful_of_requests_is_probed_and_the_report_says_how_many() {
    let answer =
        |from: u64| move |call: u64, _: &_| json!({"id": 7, "request_id": request_id(from + call)});
    let (legacy, new) = (
        Scripted::start(answer(0)).await,
        Scripted::start(answer(1_000)).await,
    );
    let scratch = Scratch::new();
    let store = format!("sqlite://{}/diffs.db", scratch.path().display());
    let route = "noise-handful";
    let proxy = Proxy::start(&config(&legacy, &new, route, "{}", &store)).await;
    for i in 0..5 {
        send(proxy.get_as(&format!("t{i}"), "/api/invoices/7")).await;
    }
    let report = route_report(&proxy, route, 5).await;
    assert_eq!(report["noise_probes"], 5, "{report}");
    assert_eq!(report["noise_only"], 5, "{report}");
    assert_eq!(report["differences"], json!([]), "{report}");
    assert_eq!(legacy.mirrored().len(), 5, "the primary was asked again");
    let text = diffs_text(&proxy, route);
    assert!(
        text.contains("noise probes: 5, fewer than 10: the noise estimate rests on too few"),
        "{text}"
    );
}

/// Past its first ten requests a route is probed at its `noise:` share (here almost
/// never), except for the first request of a difference signature it has not seen.
#[tokio::test(flavor = "multi_thread")]
async fn noise_evidence_a_new_signature_is_probed_past_the_first_ten() {
    let legacy = Scripted::start(|_, _| json!({"id": 7})).await;
    let new = Scripted::start(|call, _| match call >= 12 {
        true => json!({"id": 7, "build": "b2"}),
        false => json!({"id": 7}),
    })
    .await;
    let scratch = Scratch::new();
    let store = format!("sqlite://{}/diffs.db", scratch.path().display());
    let route = "noise-new-signature";
    let proxy = Proxy::start(&config(&legacy, &new, route, "{ noise: 0.01 }", &store)).await;
    for i in 0..15 {
        send(proxy.get_as(&format!("t{i}"), "/api/invoices/7")).await;
        // One at a time, so the route's evidence has judged the last before the next.
        route_report(&proxy, route, i + 1).await;
    }
    assert_eq!(
        legacy.mirrored().len(),
        11,
        "ten first requests and one new signature"
    );
    let report = route_report(&proxy, route, 15).await;
    assert_eq!(
        report["mismatched"], 3,
        "/build is a real difference: {report}"
    );
}

/// A shadow side whose own answers differ from call to call (a clock it caches) is a
/// difference when only the primary is probed, and noise with `noise_both_sides: true`.
#[tokio::test(flavor = "multi_thread")]
async fn noise_evidence_noise_both_sides_knows_the_shadows_own_volatility() {
    let legacy = Scripted::start(|_, _| json!({"id": 7, "date": "fixed"})).await;
    let new = Scripted::start(|call, _| json!({"id": 7, "date": request_id(call)})).await;
    let scratch = Scratch::new();
    let store = format!("sqlite://{}/diffs.db", scratch.path().display());
    let routes = r#"
  - name: one-side
    match: { path: "/api/one/**" }
    service: billing
    shadow: { noise: 0.01 }
  - name: both-sides
    match: { path: "/api/both/**" }
    service: billing
    shadow: { noise_both_sides: true, noise: 0.01 }
"#;
    let config = Config::with_legacy_url(legacy.url())
        .service_url("billing", new.url())
        .store(&store)
        .routes(routes);
    let proxy = Proxy::start(&config).await;
    for i in 0..12 {
        send(proxy.get_as(&format!("t{i}"), "/api/one/7")).await;
        send(proxy.get_as(&format!("t{i}"), "/api/both/7")).await;
    }
    let (one, both) = (
        route_report(&proxy, "one-side", 12).await,
        route_report(&proxy, "both-sides", 12).await,
    );
    assert_eq!(one["differences"][0]["path"], "/date", "{one}");
    assert_eq!(one["shadow_noise_probes"], 0, "{one}");
    assert_eq!(both["differences"], json!([]), "{both}");
    assert_eq!(both["noise_only"], 12, "{both}");
    let probes = both["shadow_noise_probes"].as_u64().unwrap();
    assert!(probes >= 10, "at least the first ten: {both}");
    assert_eq!(
        both["noise_probes"], probes,
        "each probe asked both sides: {both}"
    );
}
