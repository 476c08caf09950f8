//! The open-files limit: raised at start from the soft limit to the hard one (a shell's
//! `ulimit -n` of 1024 would otherwise cap a proxy at about a thousand clients), logged,
//! and handed to [`crate::connection::pressure`], which keeps the connections under it.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and logs both; returns the soft limit
/// in force afterwards, `None` if it cannot be read.
pub fn raise_open_files_limit() -> Option<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    let raised = soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok();
    let limit = if raised { hard } else { soft };
    tracing::info!(limit, hard, was = soft, "open files limit");
    Some(limit)
}
