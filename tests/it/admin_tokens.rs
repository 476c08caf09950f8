//! Every admin endpoint against every kind of caller: no token or a wrong one is 401, a
//! read token may `GET` but gets 403 for anything that changes, a write token may do it
//! all; and nothing a refused caller sent changed a flag or wrote an audit entry.

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use strangler::{AdminToken, Scope};

use crate::support::{Backend, Config, Proxy};

const READ: &str = "read-secret";
const WRITE: &str = "write-secret";

/// Each endpoint, in an order where every write also succeeds for the write token.
fn endpoints() -> Vec<(Method, &'static str, Option<Value>)> {
    let schedule = json!({"schedule": {"steps": [{"at": "2030-01-01T00:00:00Z", "percent": 50}]}});
    vec![
        (Method::GET, "/admin/config", None),
        (Method::GET, "/admin/routes", None),
        (Method::GET, "/admin/audit?limit=5", None),
        (Method::GET, "/admin/export", None),
        (Method::GET, "/admin/diffs?since=1h", None),
        (Method::GET, "/admin/guards", None),
        (Method::GET, "/admin/health", None),
        (
            Method::PUT,
            "/admin/routes/invoices/percent",
            Some(json!({"percent": 5})),
        ),
        (Method::DELETE, "/admin/routes/invoices/percent", None),
        (
            Method::PUT,
            "/admin/routes/invoices/tenants",
            Some(json!({"tenants": {"acme": "new"}})),
        ),
        (Method::DELETE, "/admin/routes/invoices/tenants/acme", None),
        (
            Method::PUT,
            "/admin/routes/invoices/shadow",
            Some(json!({"sample": 50})),
        ),
        (Method::DELETE, "/admin/routes/invoices/shadow", None),
        (Method::POST, "/admin/routes/invoices/kill", None),
        (Method::DELETE, "/admin/routes/invoices/kill", None),
        (Method::POST, "/admin/kill", None),
        (Method::DELETE, "/admin/kill", None),
        (
            Method::PUT,
            "/admin/routes/invoices/schedule",
            Some(schedule),
        ),
        (Method::POST, "/admin/routes/invoices/schedule/pause", None),
        (Method::POST, "/admin/routes/invoices/schedule/resume", None),
        (Method::DELETE, "/admin/routes/invoices/schedule", None),
        // Entry 14 is the schedule's removal just above: nothing changed since, so it reverts.
        (Method::POST, "/admin/audit/14/revert", None),
        (Method::POST, "/admin/reload", None),
    ]
}

async fn call(
    client: &Client,
    proxy: &Proxy,
    (method, path, body): &(Method, &str, Option<Value>),
    token: Option<&str>,
) -> StatusCode {
    let mut request = client.request(method.clone(), proxy.admin_url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    request
        .send()
        .await
        .expect("the admin listener answers")
        .status()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_admin_endpoint_needs_the_right_token_and_refusals_change_nothing() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let config = Config::new(&legacy).service("billing", &billing).routes(
        r#"
  - name: invoices
    match: { path: "/api/invoices/**" }
    service: billing
    shadow: {}
"#,
    );
    let tokens = vec![
        AdminToken {
            name: "dashboard".into(),
            scope: Scope::Read,
            secret: READ.into(),
        },
        AdminToken {
            name: "release-manager".into(),
            scope: Scope::Write,
            secret: WRITE.into(),
        },
    ];
    let proxy = Proxy::start_with_admin_tokens(&config, tokens).await;
    let client = Client::builder().no_proxy().build().expect("client");
    for endpoint in &endpoints() {
        let what = format!("{} {}", endpoint.0, endpoint.1);
        assert_eq!(
            call(&client, &proxy, endpoint, None).await,
            StatusCode::UNAUTHORIZED,
            "{what}"
        );
        let wrong = call(&client, &proxy, endpoint, Some("wrong")).await;
        assert_eq!(wrong, StatusCode::UNAUTHORIZED, "{what}");
        let read = call(&client, &proxy, endpoint, Some(READ)).await;
        match endpoint.0 {
            Method::GET => assert_eq!(read, StatusCode::OK, "{what}"),
            _ => assert_eq!(read, StatusCode::FORBIDDEN, "{what}"),
        }
    }
    let audit = client
        .get(proxy.admin_url("/admin/audit"))
        .bearer_auth(READ)
        .send()
        .await
        .expect("audit");
    let entries: Value = audit.json().await.expect("audit JSON");
    assert_eq!(
        entries["entries"],
        json!([]),
        "refused calls wrote nothing: {entries}"
    );
    for endpoint in &endpoints() {
        let what = format!("{} {}", endpoint.0, endpoint.1);
        let status = call(&client, &proxy, endpoint, Some(WRITE)).await;
        assert!(status.is_success(), "{what}: {status}");
    }
}
