//! Zero-downtime binary upgrade between two real `strangler` processes: the new one starts
//! with `--upgrade` and waits on the upgrade socket, the old one gets SIGQUIT, sends its
//! listening sockets and drains. Under load, no request may fail, not even at the
//! connection level, and both processes must have served some of it. The admin listener
//! moves with the proxy listener.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::load::Load;
use crate::support::process::StranglerProcess;
use crate::support::proxy::with_own_store;
use crate::support::scratch::Scratch;
use crate::support::{eventually, Backend, Config};

/// routes.yaml on port 0 with its upgrade socket in the scratch directory.
fn routes_yaml(scratch: &Scratch, legacy: &Backend) -> PathBuf {
    let text = with_own_store(Config::new(legacy).render(), scratch);
    let text = format!("{text}shutdown_grace: 10s\nupgrade_sock: upgrade.sock\n");
    scratch.write("routes.yaml", &text)
}

/// Starts a successor with `--upgrade`, SIGQUITs `old` once the successor listens, and
/// waits for `old` to exit 0 having served some of the load.
async fn upgrade(old: &mut StranglerProcess, config: &Path, load: &Load) -> StranglerProcess {
    let successor = StranglerProcess::run(config, &["--upgrade"]);
    let sock = config.with_file_name("upgrade.sock");
    eventually(Duration::from_secs(10), "the successor listens", || async {
        sock.exists()
    })
    .await;
    old.signal(libc::SIGQUIT);
    let status = old.exit(Duration::from_secs(20)).await;
    assert!(status.success(), "old process: {status}\n{}", old.output());
    assert!(old.served() > 0, "the old process served nothing");
    let at_exit = load.ok();
    eventually(
        Duration::from_secs(10),
        "the successor serves alone",
        || async { load.ok() > at_exit + 100 },
    )
    .await;
    successor
}

#[tokio::test(flavor = "multi_thread")]
async fn graceful_upgrade_under_load_fails_no_request() {
    let legacy = Backend::echo("legacy").await;
    let scratch = Scratch::new();
    let config = routes_yaml(&scratch, &legacy);
    let mut first = StranglerProcess::run(&config, &[]);
    let addr = first.serving().await;
    let load = Load::start(addr, 4, 2, &["/home", "/_echo/slow/30", "/api/x"]);
    eventually(Duration::from_secs(10), "load flows", || async {
        load.ok() > 50
    })
    .await;

    let mut second = upgrade(&mut first, &config, &load).await;
    assert_eq!(
        first.admin_status("/healthz").await,
        Some(200),
        "the admin listener moved too"
    );
    // The inherited listeners can be handed on again.
    let mut third = upgrade(&mut second, &config, &load).await;
    let failures = load.stop().await;
    let failed: Vec<&str> = failures.iter().map(|f| f.what.as_str()).collect();
    assert!(failed.is_empty(), "{} failed: {failed:#?}", failed.len());
    eventually(
        Duration::from_secs(5),
        "the last process logged",
        || async { third.served() > 100 },
    )
    .await;

    third.signal(libc::SIGTERM);
    let status = third.exit(Duration::from_secs(20)).await;
    assert!(
        status.success(),
        "last process: {status}\n{}",
        third.output()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrade_on_port_0_without_upgrade_sock_is_refused() {
    let legacy = Backend::echo("legacy").await;
    let scratch = Scratch::new();
    let text = with_own_store(Config::new(&legacy).render(), &scratch);
    let config = scratch.write("routes.yaml", &text);
    let mut new = StranglerProcess::run(&config, &["--upgrade"]);
    let status = new.exit(Duration::from_secs(10)).await;
    assert_eq!(
        status.code(),
        Some(1),
        "port 0 without upgrade_sock must refuse"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigquit_without_a_new_process_keeps_serving() {
    let legacy = Backend::echo("legacy").await;
    let scratch = Scratch::new();
    let config = routes_yaml(&scratch, &legacy);
    let mut old = StranglerProcess::run(&config, &[]);
    let addr = old.serving().await;
    old.signal(libc::SIGQUIT);
    old.wait_for_log(
        "upgrade: hand-over failed; still serving",
        Duration::from_secs(20),
    )
    .await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let answer = client
        .get(format!("http://{addr}/home"))
        .send()
        .await
        .expect("still serving");
    assert_eq!(answer.status(), 200);
    old.signal(libc::SIGTERM);
    assert!(old.exit(Duration::from_secs(20)).await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_config_shows_the_grace_and_upgrade_socket_read_at_start() {
    let legacy = Backend::echo("legacy").await;
    let scratch = Scratch::new();
    let config = routes_yaml(&scratch, &legacy);
    let process = StranglerProcess::run(&config, &[]);
    process.serving().await;
    let line = process.log("strangler is serving").expect("serving line");
    let admin = line["admin"].as_str().expect("admin address");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let url = format!("http://{admin}/admin/config");
    let answer = client.get(url).send().await.expect("admin config");
    let body: serde_json::Value = answer.json().await.expect("JSON");
    let sock = scratch.path().join("upgrade.sock").display().to_string();
    let expected = serde_json::json!({ "shutdown_grace_ms": 10_000, "upgrade_sock": sock });
    assert_eq!(body["lifecycle"], expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_serving_process_tells_systemd_it_is_ready_and_the_main_pid() {
    let legacy = Backend::echo("legacy").await;
    let scratch = Scratch::new();
    let config = routes_yaml(&scratch, &legacy);
    let notify = scratch.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&notify).expect("notify socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let notify = notify.to_str().expect("utf-8 path");
    let process = StranglerProcess::run_with_env(&config, &[], &[("NOTIFY_SOCKET", notify)]);
    let mut buf = [0u8; 256];
    let read =
        tokio::task::spawn_blocking(move || socket.recv(&mut buf).map(|n| buf[..n].to_vec()))
            .await
            .expect("recv task")
            .expect("a notification");
    let expected = format!("READY=1\nMAINPID={}\n", process.pid());
    assert_eq!(String::from_utf8_lossy(&read), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrade_socket_in_a_missing_directory_is_refused_with_its_path() {
    let legacy = Backend::echo("legacy").await;
    let scratch = Scratch::new();
    let text = with_own_store(Config::new(&legacy).render(), &scratch);
    let text = format!("{text}upgrade_sock: missing/upgrade.sock\n");
    let config = scratch.write("routes.yaml", &text);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_strangler"))
        .args(["run", "--upgrade", "--config"])
        .arg(&config)
        .output()
        .expect("running strangler");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("missing/upgrade.sock") && stderr.contains("No such file"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upgrade_hands_over_every_listener_tls_included() {
    let legacy = Backend::echo("legacy").await;
    let (scratch, pki) = (Scratch::new(), crate::support::tls::Pki::new());
    pki.leaf(&["a.test"], 81).write(scratch.path(), "site");
    let listen =
        "listen: [ 127.0.0.1:0, { addr: 127.0.0.1:0, tls: { cert: site.pem, key: site.key } } ]\n";
    let text = with_own_store(Config::new(&legacy).render(), &scratch)
        .replace("listen: 127.0.0.1:0\n", listen);
    let text = format!("{text}shutdown_grace: 10s\nupgrade_sock: upgrade.sock\n");
    let config = scratch.write("routes.yaml", &text);
    let mut first = StranglerProcess::run(&config, &[]);
    let addrs = first.listeners().await;
    assert_eq!(addrs.len(), 2, "{}", first.output());
    let load = Load::start(addrs[0], 2, 2, &["/home"]);
    eventually(Duration::from_secs(10), "load flows", || async {
        load.ok() > 50
    })
    .await;
    let second = upgrade(&mut first, &config, &load).await;
    assert_eq!(
        second.listeners().await,
        addrs,
        "the successor serves the same sockets"
    );
    let client = crate::support::tls::client_config(&pki.ca_pem(), &[b"http/1.1"]);
    let seen = crate::support::tls::get(addrs[1], "a.test", &client, "/after").await;
    assert_eq!(seen.expect("the TLS listener moved too").status, 200);
    let failures = load.stop().await;
    assert!(failures.is_empty(), "{} requests failed", failures.len());
}
