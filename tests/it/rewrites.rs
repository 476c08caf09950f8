//! `rewrite:` through the real proxy: each key changes what the new side receives (as its
//! echo backend reports it) while legacy gets the client's request unchanged; a redirect
//! from the new side is mapped back into the client's layout; a shadowed route compares
//! the rewritten request's answer with legacy's whichever side serves, and the diff report
//! shows both targets; `strangler check` and `explain` know the keys.

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use serde_json::{json, Value};

use crate::support::process::strangler;
use crate::support::scratch::Scratch;
use crate::support::scripted::Scripted;
use crate::support::shadowing::{route_report, strangler_diffs};
use crate::support::{send, Backend, Config, Proxy};

/// `acme` goes to the new side of every route, `globex` to legacy.
const ROUTES: &str = r#"
  - name: app
    match: { path: "/legacy/app/**" }
    service: billing
    rollout: { tenants: { acme: new, globex: legacy } }
    rewrite:
      strip_prefix: /legacy/app
      add_prefix: /v2
      host: billing.internal
      headers: { set: { X-Source: strangler }, remove: [X-Legacy-Session] }
  - name: orders
    match: { path: "/orders/{id}" }
    service: billing
    rollout: { tenants: { acme: new, globex: legacy } }
    rewrite: { path: "/v1/orders/{id}/detail" }
  - name: shop
    match: { path: "/shop/**" }
    service: billing
    rollout: { tenants: { acme: new, globex: legacy } }
    rewrite: { strip_prefix: /shop }
"#;

async fn start(new: &Backend) -> (Proxy, Backend) {
    let legacy = Backend::echo("legacy").await;
    let config = Config::new(&legacy).service("billing", new).routes(ROUTES);
    (Proxy::start(&config).await, legacy)
}

/// What the echo backend reported for a GET of `path` as `tenant` with a legacy session.
async fn received(proxy: &Proxy, tenant: &str, path: &str) -> Value {
    let request = proxy.get_as(tenant, path).header("x-legacy-session", "s1");
    let answer = send(request).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    answer.body
}

#[tokio::test(flavor = "multi_thread")]
async fn rewrites_each_key_changes_what_the_new_side_receives() {
    let new = Backend::echo("billing").await;
    let (proxy, _legacy) = start(&new).await;
    let got = received(&proxy, "acme", "/legacy/app/api/x?q=1").await;
    assert_eq!(got["backend"], "billing", "{got}");
    assert_eq!(
        (&got["path"], &got["query"]),
        (&json!("/v2/api/x"), &json!("q=1"))
    );
    let headers = &got["headers"];
    assert_eq!(headers["host"], "billing.internal");
    assert_eq!(headers["x-source"], "strangler");
    assert_eq!(headers["x-legacy-session"], Value::Null);
    assert!(headers["x-forwarded-host"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    let got = received(&proxy, "acme", "/orders/42").await;
    assert_eq!(got["path"], "/v1/orders/42/detail");
    let got = received(&proxy, "acme", "/shop//a/%62").await;
    assert_eq!(got["path"], "/a/b", "rewritten from the path as matched");
    let got = received(&proxy, "acme", "/shop").await;
    assert_eq!(got["path"], "/");
}

#[tokio::test(flavor = "multi_thread")]
async fn rewrites_leave_the_legacy_request_unchanged() {
    let new = Backend::echo("billing").await;
    let (proxy, _legacy) = start(&new).await;
    for (path, sent) in [
        ("/legacy/app/api/x?q=1", "/legacy/app/api/x"),
        ("/orders/42", "/orders/42"),
        ("/shop//a", "/shop//a"),
    ] {
        let got = received(&proxy, "globex", path).await;
        assert_eq!(
            (&got["backend"], &got["path"]),
            (&json!("legacy"), &json!(sent))
        );
        let headers = &got["headers"];
        assert!(headers["host"].as_str().unwrap().starts_with("127.0.0.1:"));
        assert_eq!(headers["x-legacy-session"], "s1");
        assert_eq!(headers["x-source"], Value::Null);
    }
}

/// A new service that redirects to the `to` query parameter.
async fn redirecting() -> Backend {
    async fn redirect(Query(query): Query<HashMap<String, String>>) -> impl IntoResponse {
        let to = query.get("to").cloned().unwrap_or_default();
        (StatusCode::FOUND, [(header::LOCATION, to)])
    }
    Backend::serve(Router::new().fallback(redirect)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn rewrites_map_the_new_sides_redirects_back_to_the_clients_layout() {
    let new = redirecting().await;
    let (proxy, _legacy) = start(&new).await;
    let client_host = proxy.url("").trim_start_matches("http://").to_owned();
    let cases = [
        (
            "/legacy/app/a?to=/v2/invoices/7?x=1",
            "/legacy/app/invoices/7?x=1".to_owned(),
        ),
        (
            "/legacy/app/a?to=http://billing.internal/v2/b",
            format!("http://{client_host}/legacy/app/b"),
        ),
        ("/legacy/app/a?to=/elsewhere", "/elsewhere".to_owned()),
        (
            "/legacy/app/a?to=https://other.test/v2/b",
            "https://other.test/v2/b".to_owned(),
        ),
        ("/orders/9?to=/v1/orders/12/detail", "/orders/12".to_owned()),
        ("/orders/9?to=/v1/orders/12", "/v1/orders/12".to_owned()),
        ("/shop/a?to=/cart", "/shop/cart".to_owned()),
    ];
    for (path, expected) in cases {
        let answer = send(proxy.get_as("acme", path)).await;
        assert_eq!(answer.status, StatusCode::FOUND, "{path}");
        assert_eq!(answer.header("location"), Some(&*expected), "{path}");
    }
}

/// One shadowed route over `/legacy/app/**` stripping the prefix, at `percent`.
fn shadowed(legacy: &Scripted, new: &Scripted, percent: u32) -> Config {
    Config::with_legacy_url(legacy.url())
        .service_url("billing", new.url())
        .routes(&format!(
            r#"
  - name: rewritten
    match: {{ path: "/legacy/app/**" }}
    service: billing
    rollout: {{ percent: {percent} }}
    rewrite: {{ strip_prefix: /legacy/app }}
    shadow: {{ noise: 0 }}
"#
        ))
}

#[tokio::test(flavor = "multi_thread")]
async fn shadow_with_rewrites_sends_each_side_its_own_layout_whichever_serves() {
    for percent in [0, 100] {
        let legacy = Scripted::start(|_, _| json!({"currency": "EUR"})).await;
        let new = Scripted::start(|_, _| json!({"currency": "eur"})).await;
        let proxy = Proxy::start(&shadowed(&legacy, &new, percent)).await;
        let answer = send(proxy.get_as("acme", "/legacy/app/api/invoices/7?x=1")).await;
        assert_eq!(answer.status, StatusCode::OK);
        let report = route_report(&proxy, "rewritten", 1).await;
        assert_eq!(report["outcomes"]["mismatch"], 1, "{report}");
        let targets = |side: &Scripted| -> Vec<String> {
            side.received().into_iter().map(|r| r.target).collect()
        };
        assert_eq!(
            targets(&legacy),
            ["/legacy/app/api/invoices/7?x=1"],
            "{percent}"
        );
        assert_eq!(targets(&new), ["/api/invoices/7?x=1"], "{percent}");
        let text = strangler_diffs(&proxy, &["--route", "rewritten"]);
        let both = "GET /legacy/app/api/invoices/7?x=1 (new side: /api/invoices/7?x=1)";
        assert!(text.contains(both), "{percent}: {text}");
    }
}

/// A routes.yaml with `routes` and fixed upstreams, for the offline commands.
fn routes_file(scratch: &Scratch, routes: &str) -> std::path::PathBuf {
    scratch.write("routes.yaml", &Config::offline().routes(routes).render())
}

#[test]
fn check_locates_each_bad_rewrite() {
    let scratch = Scratch::new();
    let routes = r#"
  - name: bad
    match: { path: "/api/{id}" }
    service: billing
    rewrite:
      strip_prefix: /legacy
      headers: { set: { "X Bad": "1" }, remove: [Content-Length] }
  - name: worse
    match: { path: "/orders/{id}" }
    service: billing
    rewrite: { path: "/v1/{number}", typo: 1 }
"#;
    let file = routes_file(&scratch, routes);
    let checked = strangler(&["check", file.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&checked.stderr);
    assert_eq!(checked.status.code(), Some(1), "{err}");
    let at = |line: u32, col: u32| format!("{}:{line}:{col}: ", file.display());
    for (line, col, what) in [
        (18, 21, "strip_prefix \"/legacy\" is not a literal prefix"),
        (19, 25, "\"X Bad\" is not a valid header name"),
        (19, 50, "header \"Content-Length\" cannot be rewritten"),
        (23, 22, "unknown parameter {number}"),
        (23, 38, "unknown field `typo`"),
    ] {
        let expected = at(line, col);
        let found = err
            .lines()
            .any(|l| l.starts_with(&expected) && l.contains(what));
        assert!(found, "{expected}{what} in:\n{err}");
    }
}

#[test]
fn explain_shows_the_path_the_new_side_receives() {
    let scratch = Scratch::new();
    let file = routes_file(&scratch, ROUTES);
    let config = file.to_str().expect("utf-8");
    let args = [
        "explain",
        "--config",
        config,
        "--path",
        "/orders/7",
        "--tenant",
        "acme",
    ];
    let out = strangler(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text.contains("rewrite:  the new side receives /v1/orders/7/detail"),
        "{text}"
    );
}
