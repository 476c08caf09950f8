//! Build script: bakes the git revision the binary was built from into
//! `STRANGLER_GIT_REVISION`, for `strangler --version`, `GET /admin/version` and the
//! `strangler_build_info` metric. The revision comes from `STRANGLER_GIT_REVISION` when the
//! builder sets it (a Docker build without `.git`), else from `git rev-parse`, else it is
//! `unknown` (a source tarball, or no git installed): a build never fails for want of git.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=STRANGLER_GIT_REVISION");
    let given = std::env::var("STRANGLER_GIT_REVISION")
        .ok()
        .filter(|r| !r.trim().is_empty());
    let revision = given
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=STRANGLER_GIT_REVISION={revision}");
    rerun_when_head_moves();
}

/// Asks cargo to run this script again when a commit or a checkout moves HEAD: the files
/// that name the revision (HEAD, the branch's ref, packed-refs), those that exist. Naming
/// at least this file keeps cargo from rerunning it on every source change outside git.
fn rerun_when_head_moves() {
    println!("cargo:rerun-if-changed=build.rs");
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", &name]) else {
            continue;
        };
        if Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

/// `git ARGS` in this crate's directory: its trimmed output, or `None` when git is missing,
/// this is no repository, or the command fails.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| ".".into()))
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (output.status.success() && !text.is_empty()).then(|| text.to_owned())
}
