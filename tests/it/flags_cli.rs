//! `strangler flags`, run as an operator runs it against a real proxy's admin API: tenant
//! sides and kill switches that change routing, `list` and `audit` that show them, and the
//! server's own message with exit 1 when a change is refused.

use std::process::Output;

use serde_json::Value;

use crate::support::backend::closed_port_url;
use crate::support::scratch::Scratch;
use crate::support::{send, Backend, Config, Proxy};

const TOKEN: &str = "flags-cli-token";

const ROUTES: &str = r#"
  - name: invoices
    match: { path: "/api/invoices/**" }
    service: billing
    rollout: { percent: 0, tenants: { bigcorp: legacy } }
"#;

struct Fixture {
    proxy: Proxy,
    _backends: [Backend; 2],
}

async fn fixture() -> Fixture {
    fixture_on(None).await
}

/// A proxy with the admin token, on its own store or on `store`.
async fn fixture_on(store: Option<&str>) -> Fixture {
    fixture_with(ROUTES, store).await
}

/// A proxy with the admin token and `routes`, on its own store or on `store`.
async fn fixture_with(routes: &str, store: Option<&str>) -> Fixture {
    let backends = [
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    ];
    let mut config = Config::new(&backends[0])
        .service("billing", &backends[1])
        .routes(routes);
    if let Some(store) = store {
        config = config.store(store);
    }
    Fixture {
        proxy: Proxy::start_with_admin_token(&config, TOKEN).await,
        _backends: backends,
    }
}

impl Fixture {
    /// `strangler flags --admin http://ADMIN ARGS`, with the token when `token` is set.
    async fn flags(&self, token: Option<&str>, args: &[&str]) -> Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_strangler"));
        command
            .arg("flags")
            .arg("--admin")
            .arg(self.proxy.admin_url(""))
            .args(args)
            .env_remove("STRANGLER_ADMIN_TOKEN");
        if let Some(token) = token {
            command.env("STRANGLER_ADMIN_TOKEN", token);
        }
        command.output().await.expect("running strangler flags")
    }

    async fn ok(&self, args: &[&str]) -> String {
        let output = self.flags(Some(TOKEN), args).await;
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        String::from_utf8(output.stdout).expect("utf-8 stdout")
    }

    async fn side_of(&self, tenant: &str) -> String {
        send(self.proxy.get_as(tenant, "/api/invoices/7"))
            .await
            .backend()
            .to_string()
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_side_and_kill_switch_change_routing_and_show_in_list_and_audit() {
    let f = fixture().await;
    assert_eq!(f.side_of("acme").await, "legacy");

    let said = f.ok(&["tenants", "invoices", "set", "acme=new"]).await;
    assert!(said.contains("set_tenants invoices"), "{said}");
    assert_eq!(f.side_of("acme").await, "billing");

    f.ok(&["kill", "invoices"]).await;
    assert_eq!(f.side_of("acme").await, "legacy");

    let list = f.ok(&["list"]).await;
    let invoices = list
        .lines()
        .find(|line| line.starts_with("invoices"))
        .unwrap_or_else(|| panic!("no invoices row: {list}"));
    assert!(invoices.contains("billing"), "{list}");
    assert!(invoices.contains("yes (runtime #"), "{list}");
    assert!(invoices.contains("1 runtime / 1 file"), "{list}");
    assert!(list.contains("global kill switch: off"), "{list}");

    let audit: Value = serde_json::from_str(&f.ok(&["--json", "audit"]).await).expect("JSON");
    let kinds: Vec<&str> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["change"]["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["kill", "set_tenants"], "{audit}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tenants_file_sets_every_tenant_in_one_change() {
    let f = fixture().await;
    let scratch = Scratch::new();
    let file = scratch.path().join("tenants.txt");
    let lines: String = (0..10_000)
        .map(|i| format!("tenant-{i} new\n"))
        .chain(["acme=new\n".to_string()])
        .collect();
    std::fs::write(&file, lines).expect("writing tenants file");

    let file = file.to_str().expect("utf-8 path");
    f.ok(&["tenants", "invoices", "set", "--file", file]).await;
    assert_eq!(f.side_of("acme").await, "billing");
    assert_eq!(f.side_of("tenant-9999").await, "billing");

    let audit: Value = serde_json::from_str(&f.ok(&["--json", "audit"]).await).expect("JSON");
    assert_eq!(audit["entries"].as_array().expect("entries").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_change_exits_1_with_the_servers_message() {
    let f = fixture().await;
    let output = f
        .flags(Some(TOKEN), &["set-percent", "invoices", "101"])
        .await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr(&output);
    assert!(
        stderr.starts_with("strangler flags: 400 Bad Request: "),
        "{stderr}"
    );
    assert!(stderr.contains("101"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_token_exits_1_with_401() {
    let f = fixture().await;
    let output = f.flags(None, &["kill", "invoices"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with("strangler flags: 401 Unauthorized"),
        "{}",
        stderr(&output)
    );
    assert_eq!(f.side_of("acme").await, "legacy");
}

#[test]
fn unreachable_admin_is_named() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_strangler"))
        .args(["flags", "--admin", &closed_port_url(), "list"])
        .output()
        .expect("running strangler flags");
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr(&output);
    assert!(
        stderr.contains("cannot reach the admin API at http://127.0.0.1:"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn schedule_shows_in_list_and_revert_takes_it_back() {
    let f = fixture().await;
    let said = f
        .ok(&["schedule", "invoices", "--step", "2099-01-01T00:00:00Z=25"])
        .await;
    assert!(said.starts_with("entry 1: set_schedule invoices"), "{said}");
    assert!(f.ok(&["list"]).await.contains("  yes\n"));

    f.ok(&["revert", "1", "--comment", "too early"]).await;
    let audit = f
        .ok(&["audit", "--route", "invoices", "--limit", "5"])
        .await;
    assert!(audit.contains("too early"), "{audit}");
    assert!(f.ok(&["list"]).await.contains("  no\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn export_folds_runtime_flags_into_a_routes_yaml_that_checks() {
    let f = fixture().await;
    f.ok(&["tenants", "invoices", "set", "acme=new"]).await;
    f.ok(&["set-percent", "invoices", "12.5"]).await;
    f.ok(&["kill", "invoices"]).await;
    let exported = f.ok(&["export"]).await;
    assert!(
        exported.contains("# NOTE: killed at runtime, which routes.yaml cannot express: invoices"),
        "{exported}"
    );
    let doc: serde_yaml::Value = serde_yaml::from_str(&exported).expect("exported YAML");
    let rollout = &doc["routes"][0]["rollout"];
    assert_eq!(rollout["percent"].as_f64(), Some(12.5), "{exported}");
    assert_eq!(
        rollout["tenants"]["acme"].as_str(),
        Some("new"),
        "{exported}"
    );
    assert_eq!(
        rollout["tenants"]["bigcorp"].as_str(),
        Some("legacy"),
        "{exported}"
    );

    let scratch = Scratch::new();
    let file = scratch.write("exported.yaml", &exported);
    let check = tokio::process::Command::new(env!("CARGO_BIN_EXE_strangler"))
        .arg("check")
        .arg(&file)
        .output()
        .await
        .expect("running strangler check");
    assert!(check.status.success(), "{}", stderr(&check));
}

/// The rest of what an operator changes from the CLI: a runtime percent cleared, a shadow
/// sample set and cleared, every tenant side of a route cleared in one change, an interval
/// ramp, each with a comment in the audit log; `export` keeps what routes.yaml can say and
/// names what it cannot.
#[tokio::test(flavor = "multi_thread")]
async fn percent_shadow_sample_bulk_tenant_clear_and_interval_ramps_from_the_cli() {
    let shadowed = format!("{ROUTES}    shadow: {{ sample: 0 }}\n");
    let f = fixture_with(&shadowed, None).await;
    f.ok(&["set-percent", "invoices", "100"]).await;
    assert_eq!(f.side_of("acme").await, "billing");
    f.ok(&["clear-percent", "invoices", "--comment", "back to the file"])
        .await;
    assert_eq!(f.side_of("acme").await, "legacy", "the file's 0 % again");

    f.ok(&["tenants", "invoices", "set", "acme=new", "globex=new"])
        .await;
    assert_eq!(f.side_of("globex").await, "billing");
    f.ok(&[
        "tenants",
        "invoices",
        "clear",
        "--all",
        "--comment",
        "reset",
    ])
    .await;
    assert_eq!(f.side_of("acme").await, "legacy");
    assert_eq!(f.side_of("globex").await, "legacy");

    f.ok(&["shadow-sample", "invoices", "25", "--comment", "qa"])
        .await;
    let exported: serde_yaml::Value =
        serde_yaml::from_str(&f.ok(&["export"]).await).expect("exported YAML");
    assert_eq!(exported["routes"][0]["shadow"]["sample"].as_u64(), Some(25));
    f.ok(&["shadow-sample", "invoices", "--clear"]).await;
    let exported: serde_yaml::Value =
        serde_yaml::from_str(&f.ok(&["export"]).await).expect("exported YAML");
    assert_eq!(exported["routes"][0]["shadow"]["sample"].as_u64(), Some(0));

    let said = f
        .ok(&[
            "schedule",
            "invoices",
            "--every",
            "1h",
            "--by",
            "5",
            "--until",
            "100",
            "--comment",
            "ramp",
        ])
        .await;
    assert!(said.contains("set_schedule invoices"), "{said}");
    assert_eq!(
        f.side_of("acme").await,
        "legacy",
        "5 % from now: acme's bucket is above"
    );
    let exported = f.ok(&["export"]).await;
    assert!(
        exported.contains("# NOTE: a runtime schedule"),
        "{exported}"
    );
    let audit = f
        .ok(&["audit", "--route", "invoices", "--limit", "20"])
        .await;
    for comment in ["back to the file", "reset", "qa", "ramp"] {
        assert!(audit.contains(comment), "{comment} in {audit}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_unkill_and_tenant_clear_take_a_comment_for_the_audit_log() {
    let f = fixture().await;
    f.ok(&["tenants", "invoices", "set", "acme=new"]).await;
    f.ok(&["kill", "invoices", "--comment", "incident 42"])
        .await;
    f.ok(&["unkill", "invoices", "--comment", "incident 42 resolved"])
        .await;
    f.ok(&["kill", "--all", "--comment", "freeze"]).await;
    f.ok(&["unkill", "--all"]).await;
    f.ok(&[
        "tenants",
        "invoices",
        "clear",
        "acme",
        "--comment",
        "pilot over",
    ])
    .await;
    let audit: Value = serde_json::from_str(&f.ok(&["--json", "audit"]).await).expect("JSON");
    let said: Vec<(&str, &Value)> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| (e["change"]["kind"].as_str().expect("kind"), &e["comment"]))
        .collect();
    assert_eq!(
        said,
        [
            ("clear_tenant", &Value::from("pilot over")),
            ("unkill_all", &Value::Null),
            ("kill_all", &Value::from("freeze")),
            ("unkill", &Value::from("incident 42 resolved")),
            ("kill", &Value::from("incident 42")),
            ("set_tenants", &Value::Null),
        ],
        "{audit}"
    );
}

/// The release manager's story with the CLI alone, on two instances sharing one store
/// (PostgreSQL): ten
/// internal tenants, then 5 %, a ramp for tomorrow and next week, an on-call kill switch
/// on the other instance, and the audit log that tells who did what.
#[tokio::test(flavor = "multi_thread")]
async fn a_release_managers_ramp_and_an_on_call_kill_reach_the_whole_fleet() {
    let db = strangler_control::testing::PostgresDatabase::create().await;
    let store = db.url().to_owned();
    let (a, b) = (
        fixture_on(Some(&store)).await,
        fixture_on(Some(&store)).await,
    );
    let internal: Vec<String> = (1..=10).map(|i| format!("internal-{i}=new")).collect();
    let mut args = vec!["tenants", "invoices", "set"];
    args.extend(internal.iter().map(String::as_str));
    a.ok(&args).await;
    let within_a_second = std::time::Duration::from_secs(1);
    let what = "the other instance routes internal tenants to billing";
    crate::support::eventually(within_a_second, what, || async {
        b.side_of("internal-7").await == "billing"
    })
    .await;
    a.ok(&[
        "set-percent",
        "invoices",
        "5",
        "--comment",
        "5 % after the pilot",
    ])
    .await;
    let now = time::OffsetDateTime::now_utc();
    let at = |days: i64| {
        let when = now + time::Duration::days(days);
        when.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let (tomorrow, next_week) = (format!("{}=25", at(1)), format!("{}=100", at(7)));
    a.ok(&[
        "schedule", "invoices", "--step", &tomorrow, "--step", &next_week,
    ])
    .await;
    let what = "the other instance shows 5 % and the ramp";
    crate::support::eventually(within_a_second, what, || async {
        let list: Value = serde_json::from_str(&b.ok(&["--json", "list"]).await).unwrap();
        let route = &list["routes"][0];
        route["percent"]["value"] == 5.0 && route["schedule"]["steps"].as_array().is_some()
    })
    .await;
    b.ok(&["kill", "invoices", "--comment", "3 a.m. page: billing 5xx"])
        .await;
    let what = "the first instance honours the kill switch set on the other";
    crate::support::eventually(within_a_second, what, || async {
        a.side_of("internal-7").await == "legacy"
    })
    .await;
    let audit: Value =
        serde_json::from_str(&a.ok(&["--json", "audit", "--route", "invoices"]).await).unwrap();
    let entries = audit["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 4, "{audit}");
    assert_eq!(entries[0]["comment"], "3 a.m. page: billing 5xx");
    assert_eq!(entries[2]["comment"], "5 % after the pilot");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gated_ramp_from_the_cli_shows_its_waiting_reason_in_list_and_moves_on_force() {
    let f = fixture().await;
    let said = f
        .ok(&[
            "ramp",
            "invoices",
            "--steps",
            "10,50,100",
            "--every",
            "1h",
            "--max-error-rate",
            "1%",
            "--min-requests",
            "500",
            "--comment",
            "start",
        ])
        .await;
    assert!(said.starts_with("entry 1: set_ramp invoices"), "{said}");
    let judged = || async { f.ok(&["list"]).await.contains("waiting: every ") };
    crate::support::eventually(
        std::time::Duration::from_secs(10),
        "the ramp judged",
        judged,
    )
    .await;
    let list = f.ok(&["list"]).await;
    assert!(
        list.contains("ramp 10% (step 1/3), waiting: every "),
        "{list}"
    );
    let shown = f.ok(&["ramp", "invoices"]).await;
    assert!(
        shown.starts_with("invoices: ramp 10% (step 1/3)"),
        "{shown}"
    );
    let refused = f
        .flags(Some(TOKEN), &["ramp", "invoices", "--advance"])
        .await;
    assert!(!refused.status.success(), "--advance needs --force");
    let said = f
        .ok(&[
            "ramp",
            "invoices",
            "--advance",
            "--force",
            "--comment",
            "enough evidence",
        ])
        .await;
    assert!(said.starts_with("entry 2: advance_ramp invoices"), "{said}");
    assert!(f
        .ok(&["ramp", "invoices", "--pause"])
        .await
        .starts_with("entry 3: pause_ramp"));
}
