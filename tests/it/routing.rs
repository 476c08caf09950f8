//! Route precedence, one test per rule, through the real proxy. Every config here sends
//! requests without a tenant to the new side (`tenant.default: new`), and each competing
//! route has its own service, so the backend that answers says which route won.

use reqwest::header::HOST;
use reqwest::{Method, StatusCode};

use crate::support::{send, Answer, Backend, Config, Proxy};

/// Legacy plus two new services, `billing` and `catalog`, behind a proxy with `routes`.
struct Routed {
    proxy: Proxy,
    _backends: [Backend; 3],
}

impl Routed {
    async fn start(routes: &str) -> Routed {
        let backends = [
            Backend::echo("legacy").await,
            Backend::echo("billing").await,
            Backend::echo("catalog").await,
        ];
        let config = Config::new(&backends[0])
            .service("billing", &backends[1])
            .service("catalog", &backends[2])
            .tenant("  default: new")
            .routes(routes);
        Routed {
            proxy: Proxy::start(&config).await,
            _backends: backends,
        }
    }

    async fn ask(&self, method: Method, path: &str, host: Option<&str>) -> Answer {
        let mut request = self.proxy.request(method, path);
        if let Some(host) = host {
            request = request.header(HOST, host);
        }
        let answer = send(request).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        answer
    }

    /// The backend and route that answered a GET of `path`.
    async fn get(&self, path: &str) -> (String, String) {
        let answer = self.ask(Method::GET, path, None).await;
        (
            answer.backend().to_string(),
            answer.decided("route").unwrap_or_default().to_string(),
        )
    }
}

fn won(backend: &str, route: &str) -> (String, String) {
    (backend.to_string(), route.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn literal_segment_beats_parameter() {
    let routed = Routed::start(
        r#"
  - name: by-id
    match: { path: "/api/invoices/{id}" }
    service: catalog
  - name: summary
    match: { path: "/api/invoices/summary" }
    service: billing
"#,
    )
    .await;
    assert_eq!(
        routed.get("/api/invoices/summary").await,
        won("billing", "summary")
    );
    assert_eq!(routed.get("/api/invoices/7").await, won("catalog", "by-id"));
}

#[tokio::test(flavor = "multi_thread")]
async fn parameter_beats_globstar() {
    let routed = Routed::start(
        r#"
  - name: all-invoices
    match: { path: "/api/invoices/**" }
    service: catalog
  - name: by-id
    match: { path: "/api/invoices/{id}" }
    service: billing
"#,
    )
    .await;
    assert_eq!(routed.get("/api/invoices/7").await, won("billing", "by-id"));
    assert_eq!(
        routed.get("/api/invoices/7/lines").await,
        won("catalog", "all-invoices")
    );
    assert_eq!(
        routed.get("/api/invoices").await,
        won("catalog", "all-invoices")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn longer_prefix_beats_shorter_prefix() {
    let routed = Routed::start(
        r#"
  - name: api
    match: { path: "/api/**" }
    service: catalog
  - name: invoices
    match: { path: "/api/invoices/**" }
    service: billing
"#,
    )
    .await;
    assert_eq!(
        routed.get("/api/invoices/7").await,
        won("billing", "invoices")
    );
    assert_eq!(routed.get("/api/customers/7").await, won("catalog", "api"));
}

#[tokio::test(flavor = "multi_thread")]
async fn exact_pattern_beats_globstar_with_the_same_prefix() {
    let routed = Routed::start(
        r#"
  - name: under-invoices
    match: { path: "/api/invoices/**" }
    service: catalog
  - name: invoice-list
    match: { path: "/api/invoices" }
    service: billing
"#,
    )
    .await;
    assert_eq!(
        routed.get("/api/invoices").await,
        won("billing", "invoice-list")
    );
    assert_eq!(
        routed.get("/api/invoices/7").await,
        won("catalog", "under-invoices")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn route_with_host_beats_route_without_host() {
    let routed = Routed::start(
        r#"
  - name: any-host
    match: { path: "/api/invoices/**" }
    service: catalog
  - name: eu-host
    match: { path: "/api/invoices/**", host: eu.example.com }
    service: billing
"#,
    )
    .await;
    let on = |host| routed.ask(Method::GET, "/api/invoices/7", Some(host));
    assert_eq!(on("eu.example.com").await.backend(), "billing");
    assert_eq!(
        on("EU.example.com:8080").await.backend(),
        "billing",
        "host match ignores case and port"
    );
    assert_eq!(on("us.example.com").await.backend(), "catalog");
}

#[tokio::test(flavor = "multi_thread")]
async fn wildcard_host_matches_subdomains_but_not_the_bare_domain() {
    let routed = Routed::start(
        r#"
  - name: any-host
    match: { path: "/api/invoices/**" }
    service: catalog
  - name: example-hosts
    match: { path: "/api/invoices/**", host: "*.example.com" }
    service: billing
"#,
    )
    .await;
    let on = |host| routed.ask(Method::GET, "/api/invoices/7", Some(host));
    assert_eq!(on("eu.example.com").await.backend(), "billing");
    assert_eq!(on("a.b.example.com").await.backend(), "billing");
    assert_eq!(on("example.com").await.backend(), "catalog");
    assert_eq!(on("notexample.com").await.backend(), "catalog");
}

#[tokio::test(flavor = "multi_thread")]
async fn route_with_methods_beats_route_without_methods() {
    let routed = Routed::start(
        r#"
  - name: any-method
    match: { path: "/api/invoices/**" }
    service: catalog
  - name: writes
    match: { path: "/api/invoices/**", methods: [POST, PUT] }
    service: billing
"#,
    )
    .await;
    let path = "/api/invoices/7";
    assert_eq!(
        routed.ask(Method::POST, path, None).await.backend(),
        "billing"
    );
    assert_eq!(
        routed.ask(Method::PUT, path, None).await.backend(),
        "billing"
    );
    assert_eq!(
        routed.ask(Method::GET, path, None).await.backend(),
        "catalog"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn method_outside_a_routes_methods_goes_to_legacy() {
    let routed = Routed::start(
        r#"
  - name: invoices
    match: { path: "/api/invoices/**", methods: [GET, POST] }
    service: billing
"#,
    )
    .await;
    let deleted = routed.ask(Method::DELETE, "/api/invoices/7", None).await;
    assert_eq!(deleted.backend(), "legacy");
    assert_eq!(deleted.decided("reason"), Some("no-route"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unmatched_path_goes_to_legacy() {
    let routed = Routed::start(
        r#"
  - name: invoices
    match: { path: "/api/invoices/**" }
    service: billing
"#,
    )
    .await;
    let answer = routed.ask(Method::GET, "/shop/cart", None).await;
    assert_eq!(answer.backend(), "legacy");
    assert_eq!(answer.decided("side"), Some("legacy"));
    assert_eq!(answer.decided("reason"), Some("no-route"));
    assert_eq!(answer.body["path"], "/shop/cart");
}

/// `/api;jsessionid=1/invoices/7` is `/api/invoices/7` to a Java monolith: the matrix
/// parameter must not let a client reach legacy's copy of a migrated route. The path is
/// forwarded as sent.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_parameters_do_not_dodge_a_route_and_are_forwarded_unchanged() {
    let routed = Routed::start(
        r#"
  - name: invoices
    match: { path: "/api/invoices/**" }
    service: billing
"#,
    )
    .await;
    for path in ["/api;jsessionid=1/invoices/7", "/api/invoices;v=2/7"] {
        let answer = routed.ask(Method::GET, path, None).await;
        assert_eq!(answer.backend(), "billing", "{path}: {answer:?}");
        assert_eq!(answer.decided("route"), Some("invoices"), "{path}");
        assert_eq!(answer.body["path"], path, "forwarded as sent");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn equally_specific_overlapping_routes_are_refused_at_load_naming_both() {
    let legacy = Backend::echo("legacy").await;
    let billing = Backend::echo("billing").await;
    let config = Config::new(&legacy).service("billing", &billing).routes(
        r#"
  - name: invoices-by-id
    match: { path: "/api/invoices/{id}" }
    service: billing
  - name: invoices-by-number
    match: { path: "/api/invoices/{number}" }
    service: billing
"#,
    );
    let error = Proxy::refused(&config).await;
    assert!(
        error.contains("invoices-by-id") && error.contains("invoices-by-number"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn overlapping_routes_split_by_methods_are_accepted() {
    let routed = Routed::start(
        r#"
  - name: reads
    match: { path: "/api/invoices/{id}", methods: [GET] }
    service: catalog
  - name: writes
    match: { path: "/api/invoices/{id}", methods: [POST] }
    service: billing
"#,
    )
    .await;
    assert_eq!(
        routed
            .ask(Method::GET, "/api/invoices/7", None)
            .await
            .backend(),
        "catalog"
    );
    assert_eq!(
        routed
            .ask(Method::POST, "/api/invoices/7", None)
            .await
            .backend(),
        "billing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn example_monolith_and_billing_service_behind_the_proxy() {
    let legacy = Backend::serve(strangler_examples::legacy::router()).await;
    let billing = Backend::serve(strangler_examples::billing::router()).await;
    let config = Config::new(&legacy).service("billing", &billing).routes(
        r#"
  - name: invoices
    match: { path: "/api/invoices/**", methods: [GET, POST] }
    service: billing
    rollout: { percent: 0, tenants: { qa-internal: new, bigcorp: legacy } }
"#,
    );
    let proxy = Proxy::start(&config).await;
    let qa = send(proxy.get_as("qa-internal", "/api/invoices/7")).await;
    assert_eq!(
        (qa.status, qa.header("x-served-by")),
        (StatusCode::OK, Some("billing"))
    );
    assert_eq!(
        (&qa.body["tenant"], &qa.body["currency"]),
        (&"qa-internal".into(), &"eur".into())
    );
    let bigcorp = send(proxy.get_as("bigcorp", "/api/invoices/7")).await;
    assert_eq!(bigcorp.header("x-served-by"), Some("legacy"));
    assert_eq!(bigcorp.body["currency"], "EUR");
    assert_eq!(
        qa.body["total_cents"], bigcorp.body["total_cents"],
        "same invoice either side"
    );
    let tickets = send(proxy.get_as("qa-internal", "/api/tickets/3")).await;
    assert_eq!(
        (tickets.status, tickets.header("x-served-by")),
        (StatusCode::OK, Some("legacy"))
    );
    let missing = send(proxy.get_as("qa-internal", "/api/invoices/999")).await;
    assert_eq!(
        (missing.status, missing.header("x-served-by")),
        (StatusCode::NOT_FOUND, Some("billing"))
    );
}
