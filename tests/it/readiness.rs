//! The readiness report through the real proxy: requests counted by the side that served
//! them, fallbacks and shadow comparisons, flushed to the store's hourly rollup (when
//! `/admin/readiness` is asked and when the proxy stops), summed over two proxies sharing
//! PostgreSQL, and judged with history written through the store's API: a route at 100 %
//! for longer than `readiness.removable_after` is named `legacy path removable` by
//! `GET /admin/readiness` and by `strangler report`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use strangler_control::readiness::Counts;
use strangler_control::testing::PostgresDatabase;
use strangler_control::Database;
use time::OffsetDateTime;

use crate::support::backend::closed_port_url;
use crate::support::browser::Browser;
use crate::support::process::StranglerProcess;
use crate::support::scratch::Scratch;
use crate::support::scripted::Scripted;
use crate::support::shadowing::route_report;
use crate::support::{send, Backend, Config, Proxy};

/// `whole` at 100 % on billing, `none` at 0 %, on a store of the test's choosing.
fn two_routes(legacy: &Backend, billing_url: String) -> Config {
    Config::new(legacy)
        .service_url("billing", billing_url)
        .routes(
            r#"
  - name: whole
    match: { path: "/api/invoices/**" }
    service: billing
    rollout: { percent: 100 }
  - name: none
    match: { path: "/api/users/**" }
    service: billing
    rollout: { percent: 0 }
"#,
        )
}

/// `GET /admin/readiness` as JSON, and the entry of `route` in it.
async fn readiness(proxy: &Proxy, route: &str) -> (Value, Value) {
    let (status, body) = proxy.admin_get("/admin/readiness").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report: Value = serde_json::from_str(&body).expect("JSON");
    let entry = report["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["route"] == route)
        .cloned()
        .unwrap_or_else(|| panic!("no {route} in {report}"));
    (report, entry)
}

async fn send_many(proxy: &Proxy, path: &str, count: usize) {
    for i in 0..count {
        let answer = send(proxy.get_as(&format!("t{i}"), path)).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }
}

/// 20 days of hours at 100 % on `route`, each with 10 requests served by the new side,
/// written through the store's API as a fleet's flushes would have.
async fn history_at_full(database: &Database, route: &str) {
    let now = OffsetDateTime::now_utc();
    let counts = Counts {
        served_new: 10,
        ..Counts::default()
    };
    for hour in 1..=24 * 20 {
        let at = now - time::Duration::hours(hour);
        database
            .rollups()
            .add(at, &[(route, counts)])
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_counts_each_request_by_the_side_that_served_it() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let proxy = Proxy::start(&two_routes(&legacy, billing.url())).await;
    send_many(&proxy, "/api/invoices/7", 6).await;
    send_many(&proxy, "/api/users/4", 4).await;
    let (report, whole) = readiness(&proxy, "whole").await;
    assert_eq!(report["period_days"], 14);
    assert_eq!(whole["requests"], 6, "{whole}");
    assert_eq!(whole["share_new"]["day"], 1.0, "{whole}");
    assert_eq!(whole["verdict"], "ramping", "{whole}");
    assert_eq!(whole["reasons"][0], "at 100 % for 0 of 14 days", "{whole}");
    let (_, none) = readiness(&proxy, "none").await;
    assert_eq!(none["requests"], 4, "{none}");
    assert_eq!(none["share_new"]["day"], 0.0, "{none}");
    assert_eq!(none["verdict_text"], "not started", "{none}");
    let (_, again) = readiness(&proxy, "whole").await;
    assert_eq!(again["requests"], 6, "a second flush adds nothing: {again}");
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_blocks_a_route_at_full_whose_requests_fall_back_to_legacy() {
    let legacy = Backend::echo("legacy").await;
    let proxy = Proxy::start(&two_routes(&legacy, closed_port_url())).await;
    send_many(&proxy, "/api/invoices/7", 3).await;
    let (_, whole) = readiness(&proxy, "whole").await;
    assert_eq!(whole["fallbacks"], 3, "{whole}");
    assert_eq!(whole["share_new"]["day"], 0.0, "{whole}");
    assert_eq!(
        whole["verdict_text"], "blocked (3 fallbacks to legacy in 14 days)",
        "{whole}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_counts_shadow_comparisons_and_blocks_a_route_whose_answers_differ() {
    let legacy = Scripted::start(|_, _| json!({"total": 1})).await;
    let billing = Scripted::start(|_, _| json!({"total": 2})).await;
    let config = Config::with_legacy_url(legacy.url())
        .service_url("billing", billing.url())
        .routes(
            r#"
  - name: shadowed
    match: { path: "/api/**" }
    service: billing
    rollout: { percent: 10 }
    shadow: { noise: 0 }
"#,
        );
    let proxy = Proxy::start(&config).await;
    send_many(&proxy, "/api/invoices/7", 10).await;
    let compared = route_report(&proxy, "shadowed", 10).await;
    let (_, entry) = readiness(&proxy, "shadowed").await;
    assert_eq!(entry["comparisons"], compared["compared"], "{entry}");
    assert!(entry["comparisons"].as_u64().unwrap() > 0, "{entry}");
    assert_eq!(entry["match_rate"], 0.0, "{entry}");
    assert_eq!(
        entry["verdict_text"], "blocked (shadow match rate 0 % < 99 %)",
        "{entry}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_names_a_route_removable_after_its_period_at_full_in_the_api_and_the_cli() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let proxy = Proxy::start(&two_routes(&legacy, billing.url())).await;
    let store = format!("sqlite://{}", proxy.dir().join("strangler.db").display());
    history_at_full(&Database::connect(&store).await.unwrap(), "whole").await;
    send_many(&proxy, "/api/invoices/7", 2).await;
    let (_, whole) = readiness(&proxy, "whole").await;
    assert_eq!(whole["verdict"], "legacy-path-removable", "{whole}");
    assert_eq!(whole["days_at_full"], 20, "{whole}");
    assert_eq!(
        whole["requests"],
        14 * 24 * 10 - 10 + 2,
        "the period's hours: {whole}"
    );
    let text = proxy.strangler("report", &[]);
    let line = text.lines().find(|l| l.starts_with("whole ")).expect(&text);
    assert!(line.ends_with("legacy path removable"), "{text}");
    assert!(line.contains("20 d"), "{text}");
    let json: Value = serde_json::from_str(&proxy.strangler("report", &["--json"])).unwrap();
    assert_eq!(json["routes"][1]["verdict_text"], "not started", "{json}");
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_counts_are_flushed_when_the_proxy_stops() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let kept = Scratch::new();
    let store = format!("sqlite://{}", kept.path().join("strangler.db").display());
    let proxy = Proxy::start(&two_routes(&legacy, billing.url()).store(&store)).await;
    send_many(&proxy, "/api/users/4", 5).await;
    proxy.shutdown(Duration::from_secs(1)).await;
    let database = Database::connect(&store).await.unwrap();
    let rows = database
        .rollups()
        .since(OffsetDateTime::now_utc() - time::Duration::hours(2))
        .await
        .unwrap();
    let served: u64 = rows.iter().map(|r| r.counts.served_legacy).sum();
    assert_eq!(served, 5, "{rows:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_of_two_proxies_sharing_postgresql_is_the_sum_of_their_traffic() {
    let db = PostgresDatabase::create().await;
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let config = two_routes(&legacy, billing.url()).store(db.url());
    let (one, two) = (Proxy::start(&config).await, Proxy::start(&config).await);
    send_many(&one, "/api/invoices/7", 3).await;
    send_many(&two, "/api/invoices/7", 4).await;
    readiness(&one, "whole").await;
    let (_, whole) = readiness(&two, "whole").await;
    assert_eq!(whole["requests"], 7, "{whole}");
    history_at_full(&Database::connect(db.url()).await.unwrap(), "whole").await;
    let (_, whole) = readiness(&one, "whole").await;
    assert_eq!(whole["verdict"], "legacy-path-removable", "{whole}");
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_needs_an_admin_token_like_the_rest_of_the_admin_api() {
    let legacy = Backend::echo("legacy").await;
    let proxy =
        Proxy::start_with_admin_token(&two_routes(&legacy, closed_port_url()), "s3cret").await;
    let (status, _) = proxy.admin_get("/admin/readiness").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = proxy
        .admin_call("s3cret", reqwest::Method::GET, "/admin/readiness", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["routes"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_page_of_the_console_shows_each_routes_verdict_as_text() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let token = "readiness-console-token";
    let proxy = Proxy::start_with_admin_token(&two_routes(&legacy, billing.url()), token).await;
    let store = format!("sqlite://{}", proxy.dir().join("strangler.db").display());
    history_at_full(&Database::connect(&store).await.unwrap(), "whole").await;
    send_many(&proxy, "/api/users/4", 3).await;
    let browser = Browser::start().await;
    browser
        .sign_in(&proxy.admin_url("/#/readiness"), token)
        .await;
    let whole = "tr[data-readiness-route=whole]";
    browser.wait_text(whole, "legacy path removable").await;
    assert!(browser.text(whole).await.contains("20 d"), "days at 100 %");
    let none = browser.text("tr[data-readiness-route=none]").await;
    assert!(none.contains("not started"), "{none}");
    let scripts = browser
        .eval("return [...document.scripts].map((s) => s.getAttribute('src'))")
        .await;
    assert_eq!(
        scripts,
        json!(["/console/readiness.js", "/console/console.js"])
    );
    browser.screenshot("readiness").await;
}

/// A regression: the flush after draining built its timeout outside the control runtime,
/// which panics on the binary's main thread (it has no runtime of its own).
#[tokio::test(flavor = "multi_thread")]
async fn readiness_counts_of_a_process_stopped_by_sigterm_reach_the_store() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let scratch = Scratch::new();
    let store = format!("sqlite://{}", scratch.path().join("strangler.db").display());
    let text = two_routes(&legacy, billing.url()).store(&store).render();
    let mut process = StranglerProcess::run(&scratch.write("routes.yaml", &text), &[]);
    let addr = process.serving().await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..4 {
        let url = format!("http://{addr}/api/invoices/7");
        assert!(client.get(url).send().await.unwrap().status().is_success());
    }
    process.signal(libc::SIGTERM);
    let status = process.exit(Duration::from_secs(25)).await;
    assert!(status.success(), "{status}\n{}", process.output());
    let since = OffsetDateTime::now_utc() - time::Duration::hours(2);
    let rows = Database::connect(&store)
        .await
        .unwrap()
        .rollups()
        .since(since)
        .await
        .unwrap();
    let served: u64 = rows
        .iter()
        .map(|r| r.counts.served_new + r.counts.served_legacy)
        .sum();
    assert_eq!(served, 4, "{rows:?}\n{}", process.output());
}
