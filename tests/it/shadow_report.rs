//! A shadow report a person can read, through the real proxy and `strangler diffs`: a
//! service that lower-cases JSON keys is one finding, not a line per key; a per-route
//! `case_insensitive_keys` rule keeps an echo of headers out of the report; signatures
//! come with their counts and samples; `--limit` cuts each list and says so.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::scripted::Scripted;
use crate::support::shadowing::{one_route, route_report, strangler_diffs};
use crate::support::{send, Proxy};

/// A legacy answer and the new service's: keys lower-cased, one real difference, an
/// echo of the request headers with their names lower-cased.
fn answers() -> (Value, Value) {
    let legacy = json!({"customerId": 1, "orderId": 2, "lineTotal": 3, "currency": "EUR",
                        "headers": {"X-Request-Id": "r", "Accept": "a"}});
    let new = json!({"customerid": 1, "orderid": 2, "linetotal": 3, "currency": "eur",
                     "headers": {"x-request-id": "r", "accept": "a"}});
    (legacy, new)
}

async fn proxy_with(route: &str, legacy: &Scripted, new: &Scripted) -> Proxy {
    let shadow = r#"{ noise: 0, case_insensitive_keys: ["/headers"] }"#;
    let proxy = Proxy::start(&one_route(legacy, new, route, shadow)).await;
    for i in 0..12 {
        let answer = send(proxy.get_as(&format!("t{i}"), "/api/invoices/7")).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    route_report(&proxy, route, 12).await;
    proxy
}

#[tokio::test(flavor = "multi_thread")]
async fn readable_report_lower_cased_keys_are_one_finding_and_an_echo_of_headers_none() {
    let (legacy_answer, new_answer) = answers();
    let legacy = Scripted::start(move |_, _| legacy_answer.clone()).await;
    let new = Scripted::start(move |_, _| new_answer.clone()).await;
    let route = "readable-report";
    let proxy = proxy_with(route, &legacy, &new).await;
    let text = strangler_diffs(&proxy, &["--route", route]);
    assert!(
        text.contains(
            "DIFFERENCE key-case at 3 paths under / in 12 of 12: /customerId → customerid"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "DIFFERENCE /currency (value-changed) in 12 of 12: primary \"EUR\" / shadow \"eur\""
        ),
        "{text}"
    );
    assert!(!text.contains("/headers"), "case_insensitive_keys: {text}");
    assert!(
        text.contains("  12 x [/currency,/customerId,"),
        "signature counted: {text}"
    );
    assert!(text.lines().count() <= 8, "one screen: {text}");
    let json: Value =
        serde_json::from_str(&strangler_diffs(&proxy, &["--route", route, "--json"])).unwrap();
    let route_json = &json["routes"][0];
    assert_eq!(
        route_json["differences"].as_array().unwrap().len(),
        7,
        "{route_json}"
    );
    assert_eq!(
        route_json["findings"][0]["kind"], "key-case",
        "{route_json}"
    );
    assert_eq!(
        route_json["findings"][0]["examples"][0]["primary"], 1,
        "a JSON value"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn readable_report_limit_cuts_each_list_and_says_what_it_left_out() {
    let (legacy_answer, new_answer) = answers();
    let legacy = Scripted::start(move |_, _| legacy_answer.clone()).await;
    let new = Scripted::start(move |_, _| new_answer.clone()).await;
    let route = "readable-limit";
    let proxy = proxy_with(route, &legacy, &new).await;
    let text = strangler_diffs(&proxy, &["--route", route, "--limit", "1"]);
    assert!(text.contains("--limit left out: findings 1\n"), "{text}");
    assert_eq!(text.matches("DIFFERENCE").count(), 1, "{text}");
    let json: Value = serde_json::from_str(&strangler_diffs(
        &proxy,
        &["--route", route, "--json", "--limit", "1"],
    ))
    .unwrap();
    assert_eq!(json["routes"][0]["omitted"]["findings"], 1, "{json}");
    let (status, body) = proxy
        .admin_get(&format!("/admin/diffs?route={route}&limit=1"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["routes"][0]["findings"].as_array().unwrap().len(),
        1,
        "{body}"
    );
    let whole: Value =
        serde_json::from_str(&strangler_diffs(&proxy, &["--route", route, "--json"])).unwrap();
    assert!(
        whole["routes"][0].get("omitted").is_none(),
        "JSON is whole unless told"
    );
}
