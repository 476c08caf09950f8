//! The SQLite store's file changing under a running proxy, as a cleanup job, a volume
//! remount or an operator's `chmod` would do it: every change the proxy acknowledges is
//! one a restart sees; a file gone, replaced or read-only is reported and refuses changes
//! (503 with the reason) without flapping; the same file back, or writable again, is
//! healthy again by itself; a different file at the path is never adopted.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::runtime_flags::{flags_proxy_with, Flags};
use crate::support::eventually;
use crate::support::scratch::Scratch;

/// A poll, a check and the log line: well under this.
const NOTICED: Duration = Duration::from_secs(5);

/// A scratch directory with the store's file in it.
struct StoreDir {
    scratch: Scratch,
}

impl StoreDir {
    fn new() -> StoreDir {
        StoreDir {
            scratch: Scratch::new(),
        }
    }

    fn file(&self) -> PathBuf {
        self.scratch.path().join("flags.db")
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.file().display())
    }

    /// A proxy on this store.
    async fn proxy(&self) -> Flags {
        flags_proxy_with(|config| config.store(&self.url())).await
    }
}

impl Flags {
    /// `/admin/config`'s `flag_store`.
    async fn store_report(&self) -> Value {
        let (status, config) = self.call(Method::GET, "/admin/config", None).await;
        assert_eq!(status, StatusCode::OK, "{config}");
        config["flag_store"].clone()
    }

    /// The audit entries of `invoices`, newest first.
    async fn audit_ids(&self) -> Vec<i64> {
        let path = "/admin/audit?route=invoices&limit=100";
        let (status, audit) = self.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{audit}");
        let entries = audit["entries"].as_array().expect("entries");
        entries.iter().filter_map(|e| e["id"].as_i64()).collect()
    }

    /// Waits until the store's state is `state`; returns the report.
    async fn wait_for_state(&self, state: &str) -> Value {
        let what = format!("the flag store reported {state}");
        eventually(NOTICED, &what, || async {
            self.store_report().await["state"] == state
        })
        .await;
        self.store_report().await
    }

    /// The state, sampled `times` over about `times` × 100 ms: each one must be `state`.
    async fn stays(&self, state: &str, times: usize) {
        for _ in 0..times {
            let report = self.store_report().await;
            assert_eq!(report["state"], state, "{report}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `set_side`, with how long it took to answer.
async fn timed_set_side(f: &Flags, tenant: &str) -> (StatusCode, Value, Duration) {
    let started = Instant::now();
    let (status, body) = f.set_side(tenant, "new").await;
    (status, body, started.elapsed())
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_changes_are_never_lost_when_the_store_file_goes_away() {
    let dir = StoreDir::new();
    let f = dir.proxy().await;
    assert_eq!(f.set_side("acme", "new").await.0, StatusCode::OK);
    let aside = dir.scratch.path().join("flags.db.aside");
    std::fs::rename(dir.file(), &aside).expect("moving the store file away");

    let report = f.wait_for_state("degraded").await;
    let error = report["error"].as_str().unwrap_or_default();
    assert!(error.contains("removed under this process"), "{report}");
    for tenant in ["globex", "initech", "umbrella"] {
        let (status, refused, took) = timed_set_side(&f, tenant).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
        let message = refused["error"].as_str().unwrap_or_default();
        assert!(message.contains("removed under this process"), "{refused}");
        assert!(took < Duration::from_millis(500), "refused after {took:?}");
    }
    assert!(!dir.file().exists(), "no empty database made at the path");
    f.stays("degraded", 10).await;
    assert_eq!(f.side_of("acme").await, "billing", "the last flags serve");
    let (_, ready) = f.proxy.admin_get("/readyz").await;
    assert!(ready.contains("removed under this process"), "{ready}");

    std::fs::rename(&aside, dir.file()).expect("putting the store file back");
    f.wait_for_state("connected").await;
    assert_eq!(f.set_side("globex", "new").await.0, StatusCode::OK);
    let acknowledged = f.audit_ids().await;
    drop(f);

    let restarted = dir.proxy().await;
    assert_eq!(restarted.audit_ids().await, acknowledged);
    assert_eq!(restarted.side_of("acme").await, "billing");
    assert_eq!(restarted.side_of("globex").await, "billing");
    assert_eq!(restarted.side_of("initech").await, "legacy", "refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_file_replaced_under_the_proxy_is_never_adopted() {
    let dir = StoreDir::new();
    let f = dir.proxy().await;
    assert_eq!(f.set_side("acme", "new").await.0, StatusCode::OK);
    let restored = dir.scratch.path().join("restored.db");
    std::fs::copy(dir.file(), &restored).expect("copying the store file");
    std::fs::rename(&restored, dir.file()).expect("replacing the store file");

    let report = f.wait_for_state("degraded").await;
    assert!(
        report["error"]
            .as_str()
            .unwrap_or_default()
            .contains("replaced"),
        "{report}"
    );
    let (status, refused) = f.set_side("globex", "new").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    f.stays("degraded", 10).await;
    assert_eq!(f.side_of("acme").await, "billing", "the last flags serve");
}

/// The store's file made read-only for the proxy, as `chmod a-w` does for a process that
/// is not root. Root ignores permissions (and CI runs as root), so there the file is also
/// made immutable (`chattr +i`), which binds root too. Undone when dropped.
struct ReadOnly {
    path: PathBuf,
}

impl ReadOnly {
    fn set(path: &Path) -> ReadOnly {
        set_permissions(path, 0o444);
        if running_as_root() {
            chattr(path, "+i");
        }
        ReadOnly {
            path: path.to_owned(),
        }
    }

    fn undo(self) {}
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if running_as_root() {
            chattr(&self.path, "-i");
        }
        set_permissions(&self.path, 0o644);
    }
}

fn set_permissions(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let permissions = std::fs::Permissions::from_mode(mode);
    std::fs::set_permissions(path, permissions).expect("chmod of the store file");
}

fn running_as_root() -> bool {
    // SAFETY: geteuid(2) takes nothing and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn chattr(path: &Path, flag: &str) {
    let status = Command::new("chattr").arg(flag).arg(path).status();
    let ok = status.as_ref().is_ok_and(|s| s.success());
    assert!(ok, "chattr {flag} {} failed ({status:?}): root needs it to make a file read-only; run on a file system with the immutable attribute (ext4, xfs, btrfs)", path.display());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_store_refuses_changes_says_so_and_recovers_by_itself() {
    let dir = StoreDir::new();
    let f = dir.proxy().await;
    assert_eq!(f.set_side("acme", "new").await.0, StatusCode::OK);
    let read_only = ReadOnly::set(&dir.file());

    let report = f.wait_for_state("read_only").await;
    assert!(
        report["error"]
            .as_str()
            .unwrap_or_default()
            .contains("read-only"),
        "{report}"
    );
    let (status, ready) = f.proxy.admin_get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "reads still work: ready");
    assert!(ready.contains("flag store read-only since"), "{ready}");
    let before = f.audit_ids().await;
    for tenant in [
        "globex", "initech", "umbrella", "hooli", "soylent", "tyrell", "wonka",
    ] {
        let (status, refused) = f.set_side(tenant, "new").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
        let message = refused["error"].as_str().unwrap_or_default();
        assert!(message.contains("read-only"), "{refused}");
    }
    // Reads in parallel make the pool open connections while the file is read-only,
    // which SQLite keeps read-only: they must not outlive the spell.
    let reads = (0..6).map(|_| f.audit_ids());
    for ids in futures::future::join_all(reads).await {
        assert_eq!(ids, before, "nothing refused was recorded");
    }

    read_only.undo();
    f.wait_for_state("connected").await;
    for tenant in [
        "globex", "initech", "umbrella", "hooli", "soylent", "tyrell",
    ] {
        let (status, body) = f.set_side(tenant, "new").await;
        assert_eq!(status, StatusCode::OK, "{tenant}: {body}");
    }
    let acknowledged = f.audit_ids().await;
    assert_eq!(acknowledged.len(), before.len() + 6);
    drop(f);
    let restarted = dir.proxy().await;
    assert_eq!(restarted.audit_ids().await, acknowledged);
}
