//! No secret in anything the proxy says: the store's password, admin tokens and a JWT
//! HS256 secret never appear in a log line (stdout or stderr), a metric, an admin response
//! or a command's error, even when the store is unreachable and every error is printed.

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use reqwest::Client;

use crate::support::process::StranglerProcess;
use crate::support::scratch::Scratch;
use crate::support::{Backend, Config};

const DATABASE_PASSWORD: &str = "SECRETPASSWORD";
const ADMIN_TOKEN: &str = "admin-token-SECRET-91c2";
const JWT_SECRET: &str = "jwt-hs256-SECRET-0123456789abcdef0123";
const JWT_ENV: &str = "STRANGLER_TEST_SECRETS_JWT";

const ROUTES: &str = r#"
  - name: invoices
    match: { path: "/api/invoices/**" }
    service: billing
    rollout: { percent: 50 }
"#;

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a port");
    listener.local_addr().expect("address").port()
}

/// routes.yaml with a JWT tenant source and a PostgreSQL store that refuses connections.
fn routes_yaml(scratch: &Scratch, legacy: &Backend, billing: &Backend) -> std::path::PathBuf {
    let store = format!(
        "postgres://strangler:{DATABASE_PASSWORD}@127.0.0.1:{}/strangler",
        closed_port()
    );
    let tenant = format!(
        "  sources: [ {{ jwt: {{ claim: tenant, hs256_secret_env: {JWT_ENV} }} }} ]\n  default: legacy\n  forward_header: X-Tenant-Id"
    );
    let config = Config::new(legacy)
        .service("billing", billing)
        .tenant(&tenant)
        .routes(ROUTES)
        .store(&store)
        .store_cache(&scratch.path().join("flags-cache.json"));
    scratch.write("routes.yaml", &config.render())
}

/// Every admin endpoint a client would try during the outage, with and without the
/// token: the bodies, one after the other.
async fn admin_answers(admin: &str) -> String {
    let client = Client::builder().no_proxy().build().expect("client");
    let mut bodies = String::new();
    for path in [
        "/readyz",
        "/healthz",
        "/metrics",
        "/admin/config",
        "/admin/audit",
    ] {
        for token in [Some(ADMIN_TOKEN), None] {
            let mut request = client.get(format!("http://{admin}{path}"));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.expect("admin answers");
            bodies.push_str(&response.text().await.unwrap_or_default());
        }
    }
    let put = client
        .put(format!("http://{admin}/admin/routes/invoices/tenants"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({ "tenants": { "acme": "new" } }))
        .send()
        .await
        .expect("a flag change answers");
    assert_eq!(put.status(), 503, "the store is unreachable");
    bodies.push_str(&put.text().await.unwrap_or_default());
    bodies
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_in_any_output_of_a_start_against_an_unreachable_postgres() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let scratch = Scratch::new();
    let config = routes_yaml(&scratch, &legacy, &billing);
    let tokens = format!("ops:write:{ADMIN_TOKEN}");
    let env = [(JWT_ENV, JWT_SECRET), ("STRANGLER_ADMIN_TOKENS", &tokens)];
    let mut process = StranglerProcess::run_with_env(&config, &[], &env);
    process.serving().await;
    let serving = process.log("strangler is serving").expect("serving line");
    let admin = serving["admin"].as_str().expect("admin address").to_owned();
    let limit = Duration::from_secs(20);
    let flags = "flag store unreachable at start and no flag cache; serving routes.yaml alone until it answers";
    process.wait_for_log(flags, limit).await;
    let diffs = "diff store unavailable; comparisons are dropped until it connects";
    process.wait_for_log(diffs, limit).await;
    let answers = admin_answers(&admin).await;
    let command = Command::new(env!("CARGO_BIN_EXE_strangler"))
        .args(["diffs", "--config"])
        .arg(&config)
        .output()
        .expect("running strangler diffs");
    process.signal(libc::SIGTERM);
    process.exit(limit).await;

    let everything = format!(
        "{}\n{answers}\n{}\n{}",
        process.output(),
        String::from_utf8_lossy(&command.stdout),
        String::from_utf8_lossy(&command.stderr)
    );
    assert!(
        everything.contains("127.0.0.1"),
        "the store is still named: {everything}"
    );
    for secret in [DATABASE_PASSWORD, ADMIN_TOKEN, JWT_SECRET] {
        let lines: Vec<&str> = (everything.lines())
            .filter(|line| line.contains(secret))
            .collect();
        assert!(
            lines.is_empty(),
            "{secret} printed in:\n{}",
            lines.join("\n")
        );
    }
}
