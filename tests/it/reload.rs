//! Hot reload: through `POST /admin/reload` and through the file watcher (write in place,
//! rename over, Kubernetes-style symlink swap). A good file changes behaviour under a new
//! revision; a bad one is refused with its location while the old rules keep serving; and
//! requests in flight during reloads never fail.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;

use crate::support::metrics::sample;
use crate::support::{eventually, send, Backend, Config, Proxy};

/// The contract says about a second; the margin absorbs a loaded CI machine.
const WATCH_LIMIT: Duration = Duration::from_secs(3);

fn invoices(legacy: &Backend, billing: &Backend, route: &str, percent: u32) -> Config {
    Config::new(legacy)
        .service("billing", billing)
        .routes(&format!(
            r#"
  - name: {route}
    match: {{ path: "/api/invoices/**" }}
    service: billing
    rollout: {{ percent: {percent} }}
"#
        ))
}

async fn backend_for_acme(proxy: &Proxy) -> String {
    let answer = send(proxy.get_as("acme", "/api/invoices/7")).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    answer.backend().to_string()
}

/// Polls until requests for `acme` are answered by `backend`.
async fn until_acme_reaches(proxy: &Proxy, backend: &str, how: &str) {
    eventually(
        WATCH_LIMIT,
        &format!("{how}: acme reaches {backend}"),
        || async { backend_for_acme(proxy).await == backend },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn good_reload_serves_the_new_rules_under_a_new_revision() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let proxy = Proxy::start_unwatched(&invoices(&legacy, &billing, "reload-good", 0)).await;
    let before = proxy.admin_config().await;
    assert_eq!(before["revision"]["counter"], 1);
    assert_eq!(backend_for_acme(&proxy).await, "legacy");
    let reloads = |result: &'static str| {
        let proxy = &proxy;
        async move {
            let page = proxy.metrics().await;
            sample(
                &page,
                "strangler_config_reloads_total",
                &[("result", result)],
            )
        }
    };
    let (ok_before, unchanged_before) = (reloads("ok").await, reloads("unchanged").await);

    proxy.rewrite(&invoices(&legacy, &billing, "reload-good", 100));
    let (status, body) = proxy.reload().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changed"], true);
    assert_eq!(body["revision"]["counter"], 2);

    let after = proxy.admin_config().await;
    assert_eq!(after["revision"]["counter"], 2);
    assert_ne!(after["revision"]["hash"], before["revision"]["hash"]);
    assert_eq!(after["routes"][0]["percent"], 100.0);
    assert_eq!(backend_for_acme(&proxy).await, "billing");

    let (status, again) = proxy.reload().await;
    assert_eq!(
        (status, &again["changed"]),
        (StatusCode::OK, &serde_json::json!(false))
    );
    assert_eq!(
        again["revision"]["counter"], 2,
        "an unchanged file keeps the revision"
    );
    assert!(
        reloads("ok").await > ok_before,
        "the good reload is counted"
    );
    assert!(
        reloads("unchanged").await > unchanged_before,
        "the no-op reload is counted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_reload_keeps_old_config_serving() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let proxy = Proxy::start_unwatched(&invoices(&legacy, &billing, "reload-bad", 100)).await;
    let errors_before = sample(
        &proxy.metrics().await,
        "strangler_config_reloads_total",
        &[("result", "error")],
    );

    let broken = invoices(&legacy, &billing, "reload-bad", 100)
        .render()
        .replace("service: billing", "service: biling");
    proxy.rewrite_text(&broken);
    let (status, body) = proxy.reload().await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let error = body["error"].as_str().expect("an error message");
    let line = broken
        .lines()
        .position(|l| l.contains("biling"))
        .expect("the typo")
        + 1;
    let located = format!("{}:{line}:", proxy.config_path().display());
    assert!(
        error.starts_with(&located),
        "{error:?} should start with {located:?}"
    );
    assert!(error.contains("biling"), "{error}");
    assert!(
        body["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{body}"
    );

    assert_eq!(
        backend_for_acme(&proxy).await,
        "billing",
        "the old rules keep serving"
    );
    assert_eq!(proxy.admin_config().await["revision"]["counter"], 1);
    assert!(proxy.running().reload().is_err());
    let errors_after = sample(
        &proxy.metrics().await,
        "strangler_config_reloads_total",
        &[("result", "error")],
    );
    assert!(
        errors_after >= errors_before + 2.0,
        "reload errors {errors_before} -> {errors_after}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn watcher_reloads_a_file_written_in_place() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let proxy = Proxy::start(&invoices(&legacy, &billing, "watch-write", 0)).await;
    assert_eq!(backend_for_acme(&proxy).await, "legacy");
    proxy.rewrite(&invoices(&legacy, &billing, "watch-write", 100));
    until_acme_reaches(&proxy, "billing", "first write in place").await;
    proxy.rewrite(&invoices(&legacy, &billing, "watch-write", 0));
    until_acme_reaches(&proxy, "legacy", "second write in place").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn watcher_reloads_a_file_renamed_over_the_config() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let proxy = Proxy::start(&invoices(&legacy, &billing, "watch-rename", 0)).await;
    assert_eq!(backend_for_acme(&proxy).await, "legacy");
    // Twice: a watch on the file's inode would see the first rename and miss the second.
    for (percent, backend) in [(100, "billing"), (0, "legacy")] {
        let staged = proxy.dir().join(".routes.yaml.tmp");
        let config = invoices(&legacy, &billing, "watch-rename", percent);
        std::fs::write(&staged, config.render()).expect("staging");
        std::fs::rename(&staged, proxy.config_path()).expect("renaming over routes.yaml");
        until_acme_reaches(&proxy, backend, "rename over").await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn watcher_reloads_after_a_configmap_style_symlink_swap() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let proxy = Proxy::start(&invoices(&legacy, &billing, "watch-symlink", 0)).await;
    let dir = proxy.dir();
    // Kubernetes layout: routes.yaml -> ..data/routes.yaml, ..data -> ..v1 (same content).
    let version = |name: &str, config: &Config| {
        std::fs::create_dir(dir.join(name)).expect("version dir");
        std::fs::write(dir.join(name).join("routes.yaml"), config.render()).expect("version file");
    };
    let swap = |target: &str, tmp: &str, over: &str| {
        std::os::unix::fs::symlink(target, dir.join(tmp)).expect("symlink");
        std::fs::rename(dir.join(tmp), dir.join(over)).expect("atomic swap");
    };
    version("..v1", &invoices(&legacy, &billing, "watch-symlink", 0));
    swap("..v1", "..data_tmp", "..data");
    swap("..data/routes.yaml", "routes.yaml.tmp", "routes.yaml");
    assert_eq!(backend_for_acme(&proxy).await, "legacy");

    version("..v2", &invoices(&legacy, &billing, "watch-symlink", 100));
    swap("..v2", "..data_tmp", "..data");
    until_acme_reaches(&proxy, "billing", "first symlink swap").await;
    version("..v3", &invoices(&legacy, &billing, "watch-symlink", 0));
    swap("..v3", "..data_tmp", "..data");
    until_acme_reaches(&proxy, "legacy", "second symlink swap").await;
}

/// Shared by the tasks sending requests while the config is reloaded under them.
#[derive(Default)]
struct Traffic {
    stop: AtomicBool,
    sent: AtomicUsize,
    by_billing: AtomicUsize,
}

/// One request as `acme`: the backend's name when a backend answered 200 in full.
async fn acme_request(proxy: &Proxy) -> Result<String, String> {
    let request = proxy.get_as("acme", "/api/invoices/7");
    let response = request.send().await.map_err(|e| format!("{e:?}"))?;
    let status = response.status();
    let backend = response
        .headers()
        .get("x-backend")
        .and_then(|v| v.to_str().ok());
    let backend = backend.unwrap_or_default().to_string();
    response
        .bytes()
        .await
        .map_err(|e| format!("body from {backend}: {e:?}"))?;
    match (status, backend.as_str()) {
        (StatusCode::OK, "legacy" | "billing") => Ok(backend),
        _ => Err(format!("{status} from {backend:?}")),
    }
}

/// Sends requests until told to stop; returns every failure.
async fn keep_sending(proxy: Arc<Proxy>, traffic: Arc<Traffic>) -> Vec<String> {
    let mut failures = Vec::new();
    while !traffic.stop.load(Ordering::Relaxed) {
        match acme_request(&proxy).await {
            Ok(backend) if backend == "billing" => {
                traffic.by_billing.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(failure) => failures.push(failure),
        }
        traffic.sent.fetch_add(1, Ordering::Relaxed);
    }
    failures
}

#[tokio::test(flavor = "multi_thread")]
async fn forty_reloads_under_load_fail_no_request() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let configs = [
        invoices(&legacy, &billing, "reload-load", 0),
        invoices(&legacy, &billing, "reload-load", 100),
    ];
    let proxy = Arc::new(Proxy::start_unwatched(&configs[0]).await);
    let traffic = Arc::new(Traffic::default());
    let senders: Vec<_> = (0..6)
        .map(|_| tokio::spawn(keep_sending(proxy.clone(), traffic.clone())))
        .collect();

    for reload in 1..=40 {
        proxy.rewrite(&configs[reload % 2]);
        let (status, body) = proxy.reload().await;
        assert_eq!(
            (status, &body["changed"]),
            (StatusCode::OK, &true.into()),
            "{body}"
        );
        let at_least = traffic.sent.load(Ordering::Relaxed) + 4;
        eventually(WATCH_LIMIT, "requests keep flowing", || async {
            traffic.sent.load(Ordering::Relaxed) >= at_least
        })
        .await;
    }
    traffic.stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for sender in senders {
        failures.extend(sender.await.expect("sender task"));
    }
    let sent = traffic.sent.load(Ordering::Relaxed);
    let shown = &failures[..failures.len().min(5)];
    assert!(
        failures.is_empty(),
        "{} of {sent} requests failed: {shown:?}",
        failures.len()
    );
    assert!(
        traffic.by_billing.load(Ordering::Relaxed) > 0,
        "billing answered after a reload"
    );
    assert_eq!(proxy.admin_config().await["revision"]["counter"], 41);
}

/// Appends a line to `strangler.log` next to routes.yaml every 20 ms through one open handle,
/// as `strangler run > strangler.log` does, until `stop` is set.
async fn keep_logging(dir: std::path::PathBuf, stop: Arc<AtomicBool>) {
    use std::io::Write;
    let mut log = std::fs::File::create(dir.join("strangler.log")).expect("log file");
    let mut ticks = tokio::time::interval(Duration::from_millis(20));
    while !stop.load(Ordering::Relaxed) {
        ticks.tick().await;
        writeln!(log, "GET /api/invoices/7 200").expect("log line");
    }
}

/// Regression: any event in the directory used to restart the quiet period, so a log written
/// there more often than every 100 ms held reloads back forever.
#[tokio::test(flavor = "multi_thread")]
async fn unrelated_writes_in_the_config_directory_do_not_delay_reloads() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let proxy = Proxy::start(&invoices(&legacy, &billing, "watch-busy-dir", 0)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let logger = tokio::spawn(keep_logging(proxy.dir().to_path_buf(), stop.clone()));
    let log = proxy.dir().join("strangler.log");
    eventually(WATCH_LIMIT, "the log is being written", || async {
        std::fs::metadata(&log).is_ok_and(|m| m.len() > 0)
    })
    .await;
    assert_eq!(backend_for_acme(&proxy).await, "legacy");

    proxy.rewrite(&invoices(&legacy, &billing, "watch-busy-dir", 100));
    until_acme_reaches(&proxy, "billing", "write in place next to a busy log").await;
    stop.store(true, Ordering::Relaxed);
    logger.await.expect("logger task");
}
