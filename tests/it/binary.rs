//! The `strangler` binary as operators run it, for what only the real process shows: the
//! access-log line on stdout with every field, a reload on SIGHUP, and the refusal to start
//! an admin listener reachable from other hosts without a token.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::metrics::sample;
use crate::support::process::StranglerProcess;
use crate::support::proxy::with_own_store;
use crate::support::scratch::Scratch;
use crate::support::{eventually, Backend, Config};

/// routes.yaml for the echo backend on port 0, with a store of its own in `scratch`.
fn routes_yaml(scratch: &Scratch, legacy: &Backend, billing: &Backend) -> std::path::PathBuf {
    let config = Config::new(legacy).service("billing", billing).routes(
        r#"
  - name: invoices
    match: { path: "/api/invoices/**" }
    service: billing
    rollout: { percent: 0, tenants: { acme: new } }
"#,
    );
    scratch.write("routes.yaml", &with_own_store(config.render(), scratch))
}

/// A client that ignores proxy settings of the environment.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// The admin address a process logged when it started serving.
fn admin_of(process: &StranglerProcess) -> String {
    let line = process.log("strangler is serving").expect("serving line");
    line["admin"].as_str().expect("admin address").to_owned()
}

/// What a serving process keeps alive: its backends and its scratch directory.
type World = (Backend, Backend, Scratch);

/// The binary serving routes.yaml over two echo backends, and its proxy address.
async fn serving() -> (StranglerProcess, std::net::SocketAddr, World) {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let scratch = Scratch::new();
    let process = StranglerProcess::run(&routes_yaml(&scratch, &legacy, &billing), &[]);
    let proxy = process.serving().await;
    (process, proxy, (legacy, billing, scratch))
}

/// The first access-log line of `process` for `path`.
fn access_line(process: &StranglerProcess, path: &str) -> Option<Value> {
    access_line_where(process, |line| line["path"] == path)
}

/// The first access-log line of `process` that `wanted` picks.
fn access_line_where(process: &StranglerProcess, wanted: impl Fn(&Value) -> bool) -> Option<Value> {
    process
        .output()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["log"] == "access" && wanted(line))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_access_log_line_has_every_field() {
    let (process, proxy, _world) = serving().await;
    let answer = client()
        .get(format!("http://{proxy}/api/invoices/7"))
        .header("x-tenant-id", "acme")
        .header("x-request-id", "req-42")
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 200);
    eventually(Duration::from_secs(5), "the access line", || async {
        access_line(&process, "/api/invoices/7").is_some()
    })
    .await;
    let line = access_line(&process, "/api/invoices/7").expect("access line");
    let time = line["time"].as_str().unwrap_or_default();
    assert!(time.len() == 24 && time.ends_with('Z'), "{line}");
    assert_eq!(line["request_id"], "req-42", "{line}");
    let client = line["client"].as_str().unwrap_or_default();
    assert!(client.starts_with("127.0.0.1:"), "{line}");
    let trace = line["trace_id"].as_str().unwrap_or_default();
    assert!(
        trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()),
        "{line}"
    );
    for (field, value) in [
        ("method", "GET"),
        ("tenant", "acme"),
        ("route", "invoices"),
        ("side", "new"),
        ("reason", "tenant-override"),
        ("upstream", "billing"),
    ] {
        assert_eq!(line[field], value, "{field} in {line}");
    }
    assert_eq!(line["status"], 200, "{line}");
    assert!(
        line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{line}"
    );
}

/// Regression (#13 item 1): requests Pingora's parser refused left no trace. Each now has
/// an access-log line with its status, reason and client, the target truncated and escaped.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_request_has_an_access_log_line() {
    let (process, proxy, _world) = serving().await;
    let target = format!("/probe\"{}", "x".repeat(1000));
    let request =
        format!("GET {target} HTTP/1.1\r\nTransfer-Encoding: xchunked\r\nHost: h\r\n\r\n");
    let (status, _) = crate::support::raw_http::exchange(proxy, &request).await;
    assert_eq!(status, 501);
    let refused = || access_line_where(&process, |line| line["status"] == 501);
    eventually(
        Duration::from_secs(5),
        "the refused request's line",
        || async { refused().is_some() },
    )
    .await;
    let line = refused().expect("access line");
    assert_eq!(line["reason"], "unknown-transfer-coding", "{line}");
    assert_eq!(line["method"], "GET", "{line}");
    let client = line["client"].as_str().unwrap_or_default();
    assert!(client.starts_with("127.0.0.1:"), "{line}");
    let path = line["path"].as_str().unwrap_or_default();
    assert!(
        path.starts_with("/probe\\\"xxx") && path.len() < 300,
        "{path}"
    );
}

/// SIGHUP reloads routes.yaml even when nothing on disk changed (that is how a DNS move or
/// a rotated key file is picked up); the file watcher, which saw no change, cannot have.
#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_the_configuration() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let scratch = Scratch::new();
    let process = StranglerProcess::run(&routes_yaml(&scratch, &legacy, &billing), &[]);
    process.serving().await;
    let metrics = format!("http://{}/metrics", admin_of(&process));
    let reloads = || async {
        let page = client().get(&metrics).send().await.expect("metrics");
        let page = page.text().await.expect("metrics page");
        sample(
            &page,
            "strangler_config_reloads_total",
            &[("result", "unchanged")],
        )
    };
    assert_eq!(reloads().await, 0.0);
    process.signal(libc::SIGHUP);
    eventually(Duration::from_secs(5), "the SIGHUP reload", || async {
        reloads().await == 1.0
    })
    .await;
}

#[test]
fn an_admin_listener_beyond_loopback_without_a_token_is_refused_at_start() {
    let legacy = "http://127.0.0.1:9";
    let scratch = Scratch::new();
    let text = format!("listen: 127.0.0.1:0\nadmin: 0.0.0.0:0\nlegacy: {legacy}\n");
    let config = scratch.write("routes.yaml", &with_own_store(text, &scratch));
    let output = Command::new(env!("CARGO_BIN_EXE_strangler"))
        .args(["run", "--config"])
        .arg(&config)
        .env_remove("STRANGLER_ADMIN_TOKEN")
        .env_remove("STRANGLER_ADMIN_TOKENS")
        .env_remove("STRANGLER_ADMIN_TOKENS_FILE")
        .output()
        .expect("running strangler");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not on loopback"), "{stderr}");
    assert!(stderr.contains("STRANGLER_ADMIN_TOKEN"), "{stderr}");
}
