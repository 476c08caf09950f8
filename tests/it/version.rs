//! Which build is running, as an operator asks it: `strangler --version`,
//! `GET /admin/version` and the `strangler_build_info` gauge all name the crate version and
//! the git revision of the source it was built from.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::metrics::sample;
use crate::support::{Backend, Config, Proxy};

/// The revision the binary should name: what the builder set, else git's short HEAD, else
/// `unknown` (a tarball without `.git`).
fn expected_revision() -> String {
    if let Ok(given) = std::env::var("STRANGLER_GIT_REVISION") {
        return given;
    }
    let git = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    match git {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        _ => "unknown".to_owned(),
    }
}

#[test]
fn version_names_the_crate_version_and_the_git_revision() {
    let output = Command::new(env!("CARGO_BIN_EXE_strangler"))
        .arg("--version")
        .output()
        .expect("running strangler --version");
    assert!(output.status.success());
    let printed = String::from_utf8_lossy(&output.stdout);
    let expected = format!(
        "strangler {} (revision {})\n",
        env!("CARGO_PKG_VERSION"),
        expected_revision()
    );
    assert_eq!(printed, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_version_and_build_info_name_the_same_build() {
    let legacy = Backend::echo("legacy").await;
    let proxy = Proxy::start(&Config::new(&legacy)).await;
    let (status, body) = proxy.admin_get("/admin/version").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(report["version"], env!("CARGO_PKG_VERSION"), "{report}");
    assert_eq!(report["revision"], expected_revision(), "{report}");
    let page = proxy.admin_get("/metrics").await.1;
    let labels = [
        ("version", env!("CARGO_PKG_VERSION")),
        ("revision", &*expected_revision()),
    ];
    assert_eq!(
        sample(&page, "strangler_build_info", &labels),
        1.0,
        "{page}"
    );
}
