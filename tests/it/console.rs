//! The console in a real headless Chromium against the real proxy on port 0: a release
//! manager's ramp, overrides, kill and revert; QA's sample view; a read token's disabled
//! controls; attacker-controlled bodies and paths that stay text. Screenshots go to
//! `target/console-screenshots/`.

use serde_json::json;
use strangler::{AdminToken, Scope};

use crate::support::browser::Browser;
use crate::support::proxy::send;
use crate::support::scripted::Scripted;
use crate::support::{Backend, Config, Proxy};

const WRITE: &str = "console-write-token";
const READ: &str = "console-read-token";

fn tokens() -> Vec<AdminToken> {
    vec![
        AdminToken {
            name: "rm".into(),
            scope: Scope::Write,
            secret: WRITE.into(),
        },
        AdminToken {
            name: "viewer".into(),
            scope: Scope::Read,
            secret: READ.into(),
        },
    ]
}

fn ramped(legacy: &Backend, billing: &Backend) -> Config {
    Config::new(legacy).service("billing", billing).routes(
        r#"
  - name: invoices
    match: { path: "/api/invoices/**" }
    service: billing
    rollout: { percent: 0 }
"#,
    )
}

/// Clicks Revert on the newest audit entry of kind `kind` still revertible, and confirms.
async fn click_revert(browser: &Browser, kind: &str) {
    let xpath = format!("(//table[@class='audit']//tr[td[text()='{kind}']]//button)[1]");
    let deadline = tokio::time::Instant::now() + crate::support::browser::PATIENCE;
    loop {
        // The table is redrawn every two seconds: a button found just before may be gone.
        let found = browser
            .client
            .find(fantoccini::Locator::XPath(&xpath))
            .await;
        if let Ok(button) = found {
            if button.click().await.is_ok() {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no revert button for {kind}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    browser.confirm().await;
}

/// Where the echo backend says `tenant`'s request went.
async fn served(proxy: &Proxy, tenant: &str) -> String {
    send(proxy.get_as(tenant, "/api/invoices/7"))
        .await
        .backend()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_manager_ramps_overrides_kills_and_reverts_in_the_console() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let proxy = Proxy::start_with_admin_tokens(&ramped(&legacy, &billing), tokens()).await;
    let browser = Browser::start().await;
    browser.sign_in(&proxy.admin_url("/"), WRITE).await;
    browser.wait_text("#routes", "invoices").await;
    browser.screenshot("overview").await;

    browser
        .client
        .goto(&proxy.admin_url("/#/route/invoices"))
        .await
        .unwrap();
    browser.wait_text("#route-percent", "0 %").await;
    // Bad input: the server's message next to the field, nothing changed.
    browser.type_into("#percent", "150").await;
    browser.click("#set-percent").await;
    browser.wait_text("#percent-status", "percent").await;
    assert!(browser.text("#percent-status").await.contains("100"));
    browser.type_into("#tenant-paste", XSS_TENANT).await;
    browser.click("#apply-tenants").await;
    browser.wait_text("#tenant-status", "tenant").await;
    assert_eq!(browser.eval(NOTHING_RAN).await, json!([true, 0]));
    browser.wait_text("#route-percent", "0 %").await;

    browser.type_into("#percent", "25").await;
    browser.type_into("#percent-comment", "ramp to 25").await;
    browser.click("#set-percent").await;
    browser.wait_text("#route-percent", "25 %").await;
    browser.wait_text("table.audit", "ramp to 25").await;

    browser
        .type_into("#tenant-paste", "acme new\nglobex new")
        .await;
    browser
        .type_into("#tenant-comment", "internal tenants first")
        .await;
    browser.click("#apply-tenants").await;
    browser.wait_text("#tenants", "globex").await;
    assert_eq!(served(&proxy, "acme").await, "billing");

    browser.click("#kill").await;
    browser.confirm().await;
    browser.wait_text("#route-killed", "killed").await;
    assert_eq!(served(&proxy, "acme").await, "legacy");
    browser.click("#unkill").await;
    browser.wait_text("#route-killed", "off").await;
    assert_eq!(served(&proxy, "acme").await, "billing");

    // The rollback: kill again, then undo it from the audit log with its revert.
    browser.click("#kill").await;
    browser.confirm().await;
    browser.wait_text("#route-killed", "killed").await;
    click_revert(&browser, "kill").await;
    browser.wait_text("#route-killed", "off").await;
    assert_eq!(served(&proxy, "acme").await, "billing");
    // An older entry whose route moved on since is a conflict, said plainly.
    click_revert(&browser, "set_percent").await;
    browser.wait_text("#audit-status", "conflict").await;
    browser.wait_text("#route-percent", "25 %").await;

    browser.type_into("#explain-path", "/api/invoices/7").await;
    browser.type_into("#explain-tenant", "acme").await;
    browser.click("#explain-submit").await;
    browser
        .wait_text("#explain-answer", "tenant-override")
        .await;

    let in_an_hour = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let schedule = json!({ "schedule": { "steps": [{ "at": in_an_hour, "percent": 50 }] } });
    let (status, _) = proxy
        .admin_call(
            WRITE,
            reqwest::Method::PUT,
            "/admin/routes/invoices/schedule",
            Some(schedule),
        )
        .await;
    assert_eq!(status, 200);
    browser.wait_text("#schedule", "Next step: 50 % at").await;
    browser.screenshot("route").await;
    browser.click("#pause").await;
    browser.wait_text("#schedule", "Paused since").await;

    let (_, audit) = proxy
        .admin_call(
            WRITE,
            reqwest::Method::GET,
            "/admin/audit?route=invoices",
            None,
        )
        .await;
    let entries = audit["entries"].as_array().cloned().unwrap_or_default();
    let reverts = entries
        .iter()
        .filter(|e| e["reverts"].is_number() && e["actor"] == "rm");
    assert_eq!(reverts.count(), 1, "{entries:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_token_sees_the_controls_disabled_with_the_reason() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let proxy = Proxy::start_with_admin_tokens(&ramped(&legacy, &billing), tokens()).await;
    let browser = Browser::start().await;
    browser
        .sign_in(&proxy.admin_url("/#/route/invoices"), READ)
        .await;
    let set = browser.find("#set-percent").await;
    assert!(
        set.attr("disabled").await.unwrap().is_some(),
        "set percent is enabled"
    );
    let reason = set.attr("title").await.unwrap().unwrap_or_default();
    assert!(reason.contains("only read"), "{reason}");
    browser.find("#kill").await;
    // Read in the page: the summary holding the button is redrawn every two seconds.
    let kill_disabled = browser
        .eval("return document.querySelector('#kill').disabled")
        .await;
    assert_eq!(kill_disabled, json!(true));
    assert!(browser.text("#who").await.contains("viewer"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_token_is_refused_at_sign_in() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let proxy = Proxy::start_with_admin_tokens(&ramped(&legacy, &billing), tokens()).await;
    let browser = Browser::start().await;
    browser.client.goto(&proxy.admin_url("/")).await.unwrap();
    browser.type_into("#token", "not-a-token").await;
    browser.click("#login button[type=submit]").await;
    browser.wait_text("#login", "not accepted").await;
}

/// A tenant id carrying markup, pasted as an override: refused by the server, shown as text.
const XSS_TENANT: &str = "<img/src=x/onerror=window.__xss=4> new";
/// Whether no payload ran and none became an element.
const NOTHING_RAN: &str =
    "return [window.__xss === undefined, document.querySelectorAll('main img, main script').length]";

/// Payloads an attacker controls: a shadowed body and a request target.
const BODY_PAYLOAD: &str = "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>";
/// `<`, `>` and `"` never reach the store in a target (refused as malformed); `'` does.
const PATH_PAYLOAD: &str = "/api/invoices/7?note='onmouseover='window.__xss=3'";

#[tokio::test(flavor = "multi_thread")]
async fn qa_opens_a_sample_sees_both_bodies_with_the_difference_marked_and_no_payload_runs() {
    let legacy =
        Scripted::start(|_, _| json!({ "id": 7, "currency": "EUR", "note": BODY_PAYLOAD })).await;
    let new =
        Scripted::start(|_, _| json!({ "id": 7, "currency": "eur", "note": BODY_PAYLOAD })).await;
    let config = crate::support::shadowing::one_route(&legacy, &new, "invoices", "{ noise: 0 }");
    let proxy = Proxy::start_with_admin_tokens(&config, tokens()).await;
    let addr = proxy.running().proxy_addr();
    let request = format!("GET {PATH_PAYLOAD} HTTP/1.1\r\nHost: shop\r\nX-Tenant-Id: acme\r\nConnection: close\r\n\r\n");
    let (status, body) = crate::support::raw_http::exchange(addr, &request).await;
    assert_eq!(status, 200, "{body}");
    let browser = Browser::start().await;
    browser.sign_in(&proxy.admin_url("/#/diffs"), READ).await;
    browser.wait_text("main", "sample").await;
    browser.screenshot("diffs").await;
    browser.click("main a[href^='#/sample/']").await;
    browser.find("pre.body .diff").await;
    let marked = browser.text("pre.body .diff").await;
    assert!(marked.contains("currency"), "{marked}");
    let page = browser.text("main").await;
    assert!(
        page.contains("EUR") && page.contains("eur"),
        "both answers shown"
    );
    assert!(
        page.contains("<script>window.__xss=2</script>"),
        "the payload is shown as text"
    );
    assert!(
        page.contains("onmouseover='window.__xss=3'"),
        "the target is shown as text"
    );
    browser.screenshot("sample").await;
    let ran = browser.eval("return [window.__xss === undefined, document.querySelectorAll('main img, main script').length]").await;
    assert_eq!(ran, json!([true, 0]), "a payload became markup or ran");
}

#[tokio::test(flavor = "multi_thread")]
async fn console_pages_carry_a_strict_content_security_policy() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let proxy = Proxy::start_with_admin_tokens(&ramped(&legacy, &billing), tokens()).await;
    for path in ["/", "/console/console.js", "/console/console.css"] {
        let response = reqwest::get(proxy.admin_url(path)).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        assert!(
            header("content-security-policy").contains("script-src 'self'"),
            "{path}"
        );
        assert!(
            !header("content-security-policy").contains("unsafe"),
            "{path}"
        );
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
    }
    let denied = reqwest::get(proxy.admin_url("/admin/whoami"))
        .await
        .unwrap();
    assert_eq!(denied.status(), 401, "the page is open, the API is not");
}

/// Without any admin token the admin API refuses every change, so the console is read-only
/// and says how to enable changes.
#[tokio::test(flavor = "multi_thread")]
async fn without_a_token_configured_the_console_is_read_only_and_says_how_to_change_that() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let proxy = Proxy::start(&ramped(&legacy, &billing)).await;
    let browser = Browser::start().await;
    browser
        .client
        .goto(&proxy.admin_url("/#/route/invoices"))
        .await
        .unwrap();
    browser.wait_loaded().await;
    browser.wait_text("#banner", "STRANGLER_ADMIN_TOKEN").await;
    let set = browser.find("#set-percent").await;
    assert!(
        set.attr("disabled").await.unwrap().is_some(),
        "set percent is enabled"
    );
}

/// A flag store outage shows as a banner, and a change made meanwhile answers with the
/// store's 503 message next to its field; nothing changes.
#[tokio::test(flavor = "multi_thread")]
async fn a_store_outage_shows_as_a_banner_and_a_change_meanwhile_says_why_it_was_refused() {
    let db = strangler_control::testing::PostgresDatabase::create().await;
    let (mut relay, via_relay) = crate::support::relay::Relay::in_front_of(&db).await;
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let config = ramped(&legacy, &billing).store(&via_relay);
    let proxy = Proxy::start_with_admin_tokens(&config, tokens()).await;
    let browser = Browser::start().await;
    browser
        .sign_in(&proxy.admin_url("/#/route/invoices"), WRITE)
        .await;
    relay.stop();
    browser
        .wait_text("#banner", "The flag store is degraded")
        .await;
    browser.type_into("#percent", "30").await;
    browser.click("#set-percent").await;
    browser.wait_text("#percent-status", "is down since").await;
    browser.wait_text("#route-percent", "0 %").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gated_ramp_shows_its_waiting_reason_and_pauses_and_advances_from_the_route_page() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let config = Config::new(&legacy).service("billing", &billing).routes(
        r#"
  - name: invoices
    match: { path: "/api/invoices/**" }
    service: billing
    rollout:
      percent: 0
      ramp: { steps: [10, 50], every: 1h, gates: { min_requests: 5 } }
"#,
    );
    let proxy = Proxy::start_with_admin_tokens(&config, tokens()).await;
    let browser = Browser::start().await;
    browser.sign_in(&proxy.admin_url("/"), WRITE).await;
    browser
        .wait_text("#routes", "ramp step 1/2, waiting: every")
        .await;
    browser
        .client
        .goto(&proxy.admin_url("/#/route/invoices"))
        .await
        .unwrap();
    browser
        .wait_text("#ramp", "Gated ramp through 10 %, 50 %")
        .await;
    browser.click("#ramp-pause").await;
    browser.wait_text("#ramp", "paused").await;
    browser.click("#ramp-advance").await;
    browser.confirm().await;
    browser.wait_text("#route-percent", "50 %").await;
    browser.screenshot("gated-ramp").await;
}
