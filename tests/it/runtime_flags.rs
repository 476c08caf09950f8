//! Runtime flags through the admin API, as a release manager and an on-call engineer use
//! them: tenant sides and kill switches that change routing at once, every change audited
//! and revertible, refused without the token or with bad input (and then nothing changes),
//! and kept across a restart in the flag store.

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use strangler_control::testing::PostgresDatabase;

use crate::support::scratch::Scratch;
use crate::support::{send, Backend, Config, Proxy};

const TOKEN: &str = "flags-token";

const ROUTES: &str = r#"
  - name: invoices
    match: { path: "/api/invoices/**" }
    service: billing
    rollout: { percent: 0, tenants: { bigcorp: legacy } }
"#;

/// A proxy with the admin token over its own backends (the flag store tests use it too).
pub(crate) struct Flags {
    pub(crate) proxy: Proxy,
    client: Client,
    _backends: [Backend; 2],
}

async fn backends() -> [Backend; 2] {
    [
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    ]
}

fn config(backends: &[Backend; 2]) -> Config {
    Config::new(&backends[0])
        .service("billing", &backends[1])
        .routes(ROUTES)
}

/// A proxy with the admin token over fresh backends, with its own store or `store`.
async fn flags_proxy(store: Option<&str>) -> Flags {
    flags_proxy_with(|config| match store {
        Some(store) => config.store(store),
        None => config,
    })
    .await
}

/// A proxy with the admin token over fresh backends, its config changed by `adjust`.
pub(crate) async fn flags_proxy_with(adjust: impl FnOnce(Config) -> Config) -> Flags {
    let backends = backends().await;
    let config = adjust(config(&backends));
    let proxy = Proxy::start_with_admin_token(&config, TOKEN).await;
    let client = Client::builder().no_proxy().build().expect("client");
    Flags {
        proxy,
        client,
        _backends: backends,
    }
}

impl Flags {
    /// An admin call with the token: status and JSON body (null when not JSON).
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.proxy.admin_call(TOKEN, method, path, body).await
    }

    /// Gives `tenant` a runtime side on `invoices` through the admin API: status and body.
    pub(crate) async fn set_side(&self, tenant: &str, side: &str) -> (StatusCode, Value) {
        let body = json!({ "tenants": { tenant: side } });
        let path = "/admin/routes/invoices/tenants";
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    /// The backend that answers `tenant`'s `GET /api/invoices/7`.
    pub(crate) async fn side_of(&self, tenant: &str) -> String {
        send(self.proxy.get_as(tenant, "/api/invoices/7"))
            .await
            .backend()
            .to_string()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_sides_and_kill_switch_change_routing_at_once_and_are_audited() {
    let f = flags_proxy(None).await;
    assert_eq!(f.side_of("acme").await, "legacy");
    let (status, body) = f
        .call(
            reqwest::Method::PUT,
            "/admin/routes/invoices/tenants",
            Some(json!({"tenants": {"acme": "new"}, "comment": "pilot"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(f.side_of("acme").await, "billing");

    let (status, _) = f
        .call(reqwest::Method::POST, "/admin/routes/invoices/kill", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let killed = send(f.proxy.get_as("acme", "/api/invoices/7")).await;
    assert_eq!(killed.backend(), "legacy");
    assert!(
        killed.decision().contains("reason=kill-switch"),
        "{}",
        killed.decision()
    );

    let (status, _) = f
        .call(reqwest::Method::DELETE, "/admin/routes/invoices/kill", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(f.side_of("acme").await, "billing");

    let (_, audit) = f
        .call(
            reqwest::Method::GET,
            "/admin/audit?route=invoices&limit=10",
            None,
        )
        .await;
    let entries = audit["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 3, "{audit}");
    assert!(entries.iter().all(|e| e["actor"] == "admin"));
    assert!(entries.iter().any(|e| e["comment"] == "pilot"));
}

#[tokio::test(flavor = "multi_thread")]
async fn global_kill_switch_beats_tenant_overrides() {
    let f = flags_proxy(None).await;
    f.call(
        reqwest::Method::PUT,
        "/admin/routes/invoices/percent",
        Some(json!({"percent": 100})),
    )
    .await;
    assert_eq!(f.side_of("acme").await, "billing");
    let (status, _) = f.call(reqwest::Method::POST, "/admin/kill", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(f.side_of("acme").await, "legacy");
    f.call(reqwest::Method::DELETE, "/admin/kill", None).await;
    assert_eq!(f.side_of("acme").await, "billing");
}

#[tokio::test(flavor = "multi_thread")]
async fn flag_changes_need_the_token_and_change_nothing_without_it() {
    let backends = backends().await;
    let proxy = Proxy::start(&config(&backends)).await;
    let client = Client::builder().no_proxy().build().expect("client");
    let url = proxy.admin_url("/admin/routes/invoices/percent");
    let response = client
        .put(&url)
        .json(&json!({"percent": 100}))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "no token configured: no changes"
    );
    let answer = send(proxy.get_as("acme", "/api/invoices/7")).await;
    assert_eq!(answer.backend(), "legacy");

    let f = flags_proxy(None).await;
    let unauthorized = f
        .client
        .put(f.proxy.admin_url("/admin/routes/invoices/percent"))
        .bearer_auth("wrong")
        .json(&json!({"percent": 100}))
        .send()
        .await
        .expect("answer");
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(f.side_of("acme").await, "legacy");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_flag_changes_are_refused_with_400_and_change_nothing() {
    let f = flags_proxy(None).await;
    let put = reqwest::Method::PUT;
    for (path, body) in [
        ("/admin/routes/nope/percent", json!({"percent": 5})),
        ("/admin/routes/invoices/percent", json!({"percent": 101})),
        ("/admin/routes/invoices/percent", json!({"percent": 5.555})),
        ("/admin/routes/invoices/percent", json!({"percnt": 5})),
        (
            "/admin/routes/invoices/tenants",
            json!({"tenants": {"bad tenant!": "new"}}),
        ),
        (
            "/admin/routes/invoices/tenants",
            json!({"tenants": {"acme": "sideways"}}),
        ),
    ] {
        let (status, answer) = f.call(put.clone(), path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    let malformed = f
        .client
        .put(f.proxy.admin_url("/admin/routes/invoices/percent"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("answer");
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let (_, audit) = f.call(reqwest::Method::GET, "/admin/audit", None).await;
    assert_eq!(
        audit["entries"].as_array().map(Vec::len),
        Some(0),
        "nothing was applied: {audit}"
    );
    assert_eq!(f.side_of("acme").await, "legacy");
}

#[tokio::test(flavor = "multi_thread")]
async fn revert_restores_the_flags_before_the_change() {
    let f = flags_proxy(None).await;
    let (_, applied) = f
        .call(
            reqwest::Method::PUT,
            "/admin/routes/invoices/percent",
            Some(json!({"percent": 100})),
        )
        .await;
    assert_eq!(f.side_of("acme").await, "billing");
    let id = applied["audit"]["id"].as_i64().expect("audit id");
    let (status, body) = f
        .call(
            reqwest::Method::POST,
            &format!("/admin/audit/{id}/revert"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(f.side_of("acme").await, "legacy");
    let (again, _) = f
        .call(
            reqwest::Method::POST,
            &format!("/admin/audit/{id}/revert"),
            None,
        )
        .await;
    assert_eq!(again, StatusCode::CONFLICT, "an entry is reverted once");
}

#[tokio::test(flavor = "multi_thread")]
async fn routes_show_each_value_with_its_source() {
    let f = flags_proxy(None).await;
    f.call(
        reqwest::Method::PUT,
        "/admin/routes/invoices/tenants",
        Some(json!({"tenants": {"acme": "new"}})),
    )
    .await;
    let (status, body) = f.call(reqwest::Method::GET, "/admin/routes", None).await;
    assert_eq!(status, StatusCode::OK);
    let route = &body["routes"][0];
    assert_eq!(route["name"], "invoices");
    assert_eq!(route["percent"]["source"], "file", "{route}");
    assert_eq!(route["tenants"]["bigcorp"]["source"], "file", "{route}");
    assert_eq!(route["tenants"]["acme"]["source"], "runtime", "{route}");
    assert_eq!(route["tenants"]["acme"]["value"], "new", "{route}");
}

#[tokio::test(flavor = "multi_thread")]
async fn runtime_flags_survive_a_restart() {
    let store_dir = Scratch::new();
    let store = format!("sqlite://{}/flags.db", store_dir.path().display());
    let first = flags_proxy(Some(&store)).await;
    first
        .call(reqwest::Method::POST, "/admin/routes/invoices/kill", None)
        .await;
    first
        .call(
            reqwest::Method::PUT,
            "/admin/routes/invoices/tenants",
            Some(json!({"tenants": {"acme": "new"}})),
        )
        .await;
    drop(first);
    let second = flags_proxy(Some(&store)).await;
    let answer = send(second.proxy.get_as("acme", "/api/invoices/7")).await;
    assert!(
        answer.decision().contains("reason=kill-switch"),
        "{}",
        answer.decision()
    );
    second
        .call(reqwest::Method::DELETE, "/admin/routes/invoices/kill", None)
        .await;
    assert_eq!(second.side_of("acme").await, "billing");
}

/// Two instances sharing one store (a database of its own on the PostgreSQL server
/// `STRANGLER_TEST_POSTGRES_URL` names; `./test` starts one): a kill switch set
/// through one is honoured by the other within a second.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_through_one_instance_reaches_the_other_within_a_second() {
    let db = PostgresDatabase::create().await;
    let store = db.url().to_string();
    let one = flags_proxy(Some(&store)).await;
    let other = flags_proxy(Some(&store)).await;
    one.call(reqwest::Method::DELETE, "/admin/kill", None).await;
    one.call(
        reqwest::Method::PUT,
        "/admin/routes/invoices/tenants",
        Some(json!({"tenants": {"fleet-tenant": "new"}})),
    )
    .await;
    crate::support::eventually(
        std::time::Duration::from_secs(1),
        "the other instance routes fleet-tenant to new",
        || async { other.side_of("fleet-tenant").await == "billing" },
    )
    .await;
    let (status, _) = one.call(reqwest::Method::POST, "/admin/kill", None).await;
    assert_eq!(status, StatusCode::OK);
    crate::support::eventually(
        std::time::Duration::from_secs(1),
        "the other instance honours the global kill switch",
        || async { other.side_of("fleet-tenant").await == "legacy" },
    )
    .await;
    one.call(reqwest::Method::DELETE, "/admin/kill", None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_applies_the_steps_whose_time_has_come() {
    let f = flags_proxy(None).await;
    let schedule = json!({"schedule": {"steps": [
        {"at": "2020-01-01T00:00:00Z", "percent": 100},
        {"at": "2999-01-01T00:00:00Z", "percent": 0},
    ]}});
    let (status, body) = f
        .call(
            reqwest::Method::PUT,
            "/admin/routes/invoices/schedule",
            Some(schedule),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        f.side_of("acme").await,
        "billing",
        "the 2020 step reached 100 %"
    );
    let (status, _) = f
        .call(
            reqwest::Method::POST,
            "/admin/routes/invoices/schedule/pause",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        f.side_of("acme").await,
        "billing",
        "a paused ramp keeps what it reached"
    );
    f.call(
        reqwest::Method::DELETE,
        "/admin/routes/invoices/schedule",
        None,
    )
    .await;
    assert_eq!(
        f.side_of("acme").await,
        "legacy",
        "without the schedule the file's 0 % holds"
    );
}

/// A second kill of a killed route answers 200 `"changed": false` and writes no audit entry.
#[tokio::test(flavor = "multi_thread")]
async fn a_no_op_answers_unchanged_and_is_not_audited() {
    let f = flags_proxy(None).await;
    let kill = "/admin/routes/invoices/kill";
    let (status, first) = f.call(reqwest::Method::POST, kill, None).await;
    assert_eq!(
        (status, &first["changed"]),
        (StatusCode::OK, &json!(true)),
        "{first}"
    );
    let (status, again) = f.call(reqwest::Method::POST, kill, None).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["changed"], false, "{again}");
    let (_, audit) = f.call(reqwest::Method::GET, "/admin/audit", None).await;
    let kills = audit["entries"].as_array().map_or(0, |entries| {
        entries
            .iter()
            .filter(|e| e["change"]["kind"] == "kill")
            .count()
    });
    assert_eq!(kills, 1, "{audit}");
}

/// A "+5 % an hour" ramp put on a route at 25 % starts there: its first steps lie below
/// 25 % and must not send any tenant already on the new side back to legacy.
#[tokio::test(flavor = "multi_thread")]
async fn a_ramp_put_on_a_route_at_25_percent_never_moves_a_tenant_back_to_legacy() {
    let f = flags_proxy(None).await;
    let (status, body) = f
        .call(
            reqwest::Method::PUT,
            "/admin/routes/invoices/percent",
            Some(json!({"percent": 25})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let tenants: Vec<String> = (0..40).map(|i| format!("tenant-{i}")).collect();
    let mut on_new = Vec::new();
    for tenant in &tenants {
        if f.side_of(tenant).await == "billing" {
            on_new.push(tenant.clone());
        }
    }
    assert!(!on_new.is_empty(), "some of 40 tenants are in the 25 %");
    let an_hour_ago = time::OffsetDateTime::now_utc().unix_timestamp() - 3_600 - 60;
    let ramp = json!({"schedule": {"steps": [
        {"start": an_hour_ago, "every": "1h", "step": 5, "until": 100},
    ]}});
    let (status, body) = f
        .call(
            reqwest::Method::PUT,
            "/admin/routes/invoices/schedule",
            Some(ramp),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for tenant in &on_new {
        assert_eq!(
            f.side_of(tenant).await,
            "billing",
            "{tenant} moved back to legacy"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_token_may_look_but_not_change_and_writers_are_named_in_the_audit() {
    use strangler::{AdminToken, Scope};
    let backends = backends().await;
    let tokens = vec![
        AdminToken {
            name: "dashboard".into(),
            scope: Scope::Read,
            secret: "read-only-secret".into(),
        },
        AdminToken {
            name: "release-manager".into(),
            scope: Scope::Write,
            secret: "write-secret-1".into(),
        },
    ];
    let proxy = Proxy::start_with_admin_tokens(&config(&backends), tokens).await;
    let client = Client::builder().no_proxy().build().expect("client");
    let routes = client
        .get(proxy.admin_url("/admin/routes"))
        .bearer_auth("read-only-secret")
        .send()
        .await
        .expect("answer");
    assert_eq!(routes.status(), StatusCode::OK);
    let percent = proxy.admin_url("/admin/routes/invoices/percent");
    let refused = client
        .put(&percent)
        .bearer_auth("read-only-secret")
        .json(&json!({"percent": 100}))
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let applied = client
        .put(&percent)
        .bearer_auth("write-secret-1")
        .json(&json!({"percent": 100}))
        .send()
        .await
        .expect("answer");
    assert_eq!(applied.status(), StatusCode::OK);
    let entry: Value = applied.json().await.expect("json");
    assert_eq!(entry["audit"]["actor"], "release-manager");
}
