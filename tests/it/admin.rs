//! The admin listener as an operator uses it: health, readiness, Prometheus metrics that
//! count requests by route, side and status class, and the configuration serving now.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::metrics::sample;
use crate::support::{eventually, send, Backend, Config, Proxy};

async fn admin_proxy(route: &str) -> (Proxy, [Backend; 2]) {
    let backends = [
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    ];
    let config = Config::new(&backends[0])
        .service("billing", &backends[1])
        .routes(&format!(
            r#"
  - name: {route}
    match: {{ path: "/api/invoices/**", methods: [GET] }}
    service: billing
    rollout: {{ percent: 0, tenants: {{ acme: new }} }}
"#
        ));
    (Proxy::start(&config).await, backends)
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_and_readyz_answer_200() {
    let (proxy, _backends) = admin_proxy("admin-health").await;
    assert_eq!(proxy.admin_get("/healthz").await.0, StatusCode::OK);
    assert_eq!(proxy.admin_get("/readyz").await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_by_route_side_and_status_class() {
    let (proxy, _backends) = admin_proxy("admin-metrics").await;
    for _ in 0..3 {
        assert_eq!(
            send(proxy.get_as("acme", "/api/invoices/7"))
                .await
                .backend(),
            "billing"
        );
    }
    assert_eq!(
        send(proxy.get_as("globex", "/api/invoices/7"))
            .await
            .backend(),
        "legacy"
    );
    let new_2xx = [
        ("route", "admin-metrics"),
        ("side", "new"),
        ("status_class", "2xx"),
    ];
    let legacy_2xx = [
        ("route", "admin-metrics"),
        ("side", "legacy"),
        ("status_class", "2xx"),
    ];
    eventually(
        Duration::from_secs(5),
        "requests counted by route, side and status class",
        || async {
            let page = proxy.metrics().await;
            sample(&page, "strangler_requests_total", &new_2xx) >= 3.0
                && sample(&page, "strangler_requests_total", &legacy_2xx) >= 1.0
        },
    )
    .await;
    let page = proxy.metrics().await;
    let timed = [("route", "admin-metrics"), ("side", "new")];
    assert!(
        sample(&page, "strangler_request_duration_seconds_count", &timed) >= 3.0,
        "{page}"
    );
    assert!(page.contains("strangler_config_revision"), "{page}");
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_config_shows_the_revision_source_and_routes() {
    let (proxy, _backends) = admin_proxy("admin-config").await;
    let config = proxy.admin_config().await;
    assert_eq!(config["revision"]["counter"], 1);
    let hash = config["revision"]["hash"].as_str().expect("a hash");
    assert!(
        hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{hash}"
    );
    assert_eq!(config["source"], proxy.config_path().display().to_string());
    assert_eq!(config["routes"][0]["name"], "admin-config");
    assert_eq!(config["routes"][0]["service"], "billing");
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_endpoints_need_the_token_when_one_is_configured() {
    let backend = Backend::echo("legacy").await;
    let proxy = Proxy::start_with_admin_token(&Config::new(&backend), "s3cret").await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let config = proxy.admin_url("/admin/config");
    let reload = proxy.admin_url("/admin/reload");
    let without = client.get(&config).send().await.expect("config");
    assert_eq!(without.status(), StatusCode::UNAUTHORIZED);
    let wrong = client
        .post(&reload)
        .bearer_auth("guess")
        .send()
        .await
        .expect("reload");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let with = client
        .get(&config)
        .bearer_auth("s3cret")
        .send()
        .await
        .expect("config");
    assert_eq!(with.status(), StatusCode::OK);
    let reloaded = client
        .post(&reload)
        .bearer_auth("s3cret")
        .send()
        .await
        .expect("reload");
    assert_eq!(reloaded.status(), StatusCode::OK);
    assert_eq!(
        proxy.admin_get("/healthz").await.0,
        StatusCode::OK,
        "probes stay open"
    );
}

/// The kill switch must never be refused for how its (empty) body was sent, and every error
/// the admin listener gives, the framework's own included, is JSON with the right status.
#[tokio::test(flavor = "multi_thread")]
async fn the_kill_switch_takes_any_empty_body_and_every_admin_error_is_json() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let config = Config::new(&legacy).service("billing", &billing).routes(
        r#"
  - name: api
    match: { path: "/api/**" }
    service: billing
"#,
    );
    let proxy = Proxy::start_with_admin_token(&config, "s3cret").await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let kill = proxy.admin_url("/admin/routes/api/kill");
    for (body, content_type) in [
        ("", "application/json"),
        ("{}", "application/json"),
        ("", "text/plain"),
        ("{\"comment\": \"drill\"}", "application/json"),
    ] {
        let answer = client
            .post(&kill)
            .bearer_auth("s3cret")
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("kill");
        assert_eq!(
            answer.status(),
            StatusCode::OK,
            "body {body:?} as {content_type}"
        );
    }
    let refused =
        |url: String, method: reqwest::Method, body: &'static str, content_type: &'static str| {
            let client = client.clone();
            async move {
                let answer = client
                    .request(method, url)
                    .bearer_auth("s3cret")
                    .header("content-type", content_type)
                    .body(body)
                    .send()
                    .await
                    .expect("answer");
                let status = answer.status();
                let is_json = answer
                    .headers()
                    .get("content-type")
                    .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
                let body: serde_json::Value = answer.json().await.unwrap_or_default();
                assert!(is_json && body["error"].is_string(), "{status}: {body}");
                status
            }
        };
    let percent = proxy.admin_url("/admin/routes/api/percent");
    use reqwest::Method;
    assert_eq!(
        refused(kill.clone(), Method::POST, "{not json", "application/json").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        refused(
            percent.clone(),
            Method::PUT,
            "{\"percent\": 5}",
            "text/plain"
        )
        .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        refused(percent, Method::GET, "", "text/plain").await,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        refused(
            proxy.admin_url("/admin/nope"),
            Method::GET,
            "",
            "text/plain"
        )
        .await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        refused(
            proxy.admin_url("/admin/audit?limit=abc"),
            Method::GET,
            "",
            "text/plain"
        )
        .await,
        StatusCode::BAD_REQUEST
    );
}
