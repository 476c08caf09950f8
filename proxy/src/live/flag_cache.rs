//! The flag cache: the last overrides this instance read from the flag store, kept in a JSON
//! file so that an instance starting while the store is unreachable serves them (and says
//! so) instead of routes.yaml alone.
//!
//! The file is written after every store read that moved the version, and whenever the
//! guard's trips the store has not recorded change ([`crate::live::held_trips`]),
//! atomically: a temporary file beside it, flushed to disk, then renamed over it, so a
//! reader (or a crash) sees the old file or the new one, never half of one. The write
//! happens on a blocking thread, off the admin request and the poll (a flush takes 8 ms
//! here, sometimes 90); of two writes racing, the one asked for first never lands over the
//! later one.
//!
//! The file records which store it came from (the URL without credentials) and is ignored
//! for any other store. It is only read at start. Its overrides serve only when the store
//! cannot be reached (a reachable store always wins); its held trips are held again either
//! way, until the guard records them. A file that does not parse is logged and ignored.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use strangler_control::Overrides;
use strangler_flags::store_url::without_credentials;
use time::OffsetDateTime;
use tokio::task::JoinHandle;

use crate::live::held_trips::Held;

/// The format written; a file of another format is ignored.
const FORMAT: u32 = 1;

/// Why the cache could not be used or written.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Reading, writing or renaming the file failed.
    #[error("flag cache {}: {source}", path.display())]
    Io {
        /// The cache file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a cache this version writes (truncated, edited, another format).
    #[error("flag cache {}: not a flag cache: {message}", path.display())]
    Corrupt {
        /// The cache file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The file holds the flags of another store (`store:` changed since it was written).
    #[error("flag cache {} is of store {cached}, not {configured}", path.display())]
    OtherStore {
        /// The cache file.
        path: PathBuf,
        /// The store it was written for.
        cached: String,
        /// The store configured now.
        configured: String,
    },
}

/// The file's content.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheFile {
    format: u32,
    /// The store URL without credentials.
    store: String,
    /// When these overrides were read from the store.
    #[serde(with = "time::serde::rfc3339")]
    read_at: OffsetDateTime,
    overrides: Overrides,
    /// The guard's trips the store has not recorded (absent when there are none, so a file
    /// without them reads as before).
    #[serde(default, skip_serializing_if = "Held::is_empty")]
    held: Held,
}

/// Overrides read back from the cache, with when the store last said so.
pub struct Cached {
    /// The overrides, as the store held them at `read_at`.
    pub overrides: Overrides,
    /// When they were read from the store.
    pub read_at: OffsetDateTime,
    /// The guard's trips the store had not recorded when the file was written.
    pub held: Held,
}

/// What a write needs to know of the writes before it.
struct Written {
    /// The order of the last write that landed.
    order: u64,
    /// When the overrides of the last write were read from the store.
    read_at: Option<OffsetDateTime>,
}

/// The cache file of one store.
pub struct FlagCache {
    path: PathBuf,
    /// The store URL without credentials, recorded in the file.
    store: String,
    /// The order given to the next write, so an earlier one never lands over it.
    next: AtomicU64,
    /// The last write, held during a write so writes land one at a time.
    written: Mutex<Written>,
    /// Set while writing fails, so that is logged once, not on every change.
    failing: AtomicBool,
}

impl FlagCache {
    /// The cache at `path` for the store at `url`.
    pub fn new(path: PathBuf, url: &str) -> FlagCache {
        FlagCache {
            path,
            store: without_credentials(url),
            next: AtomicU64::new(0),
            written: Mutex::new(Written {
                order: 0,
                read_at: None,
            }),
            failing: AtomicBool::new(false),
        }
    }

    /// The default cache path for routes.yaml at `config`: `<stem>.flags-cache.json` beside it.
    pub fn default_path(config: &Path) -> PathBuf {
        let stem = config.file_stem().unwrap_or_default().to_string_lossy();
        config.with_file_name(format!("{stem}.flags-cache.json"))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The overrides of the last write, if the file exists, parses and is of this store.
    pub fn load(&self) -> Result<Option<Cached>, CacheError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(self.io(source)),
        };
        let file: CacheFile = serde_json::from_str(&text).map_err(|e| self.corrupt(e))?;
        if file.format != FORMAT {
            return Err(self.corrupt(format!("format {}, expected {FORMAT}", file.format)));
        }
        if file.store != self.store {
            return Err(CacheError::OtherStore {
                path: self.path.clone(),
                cached: file.store,
                configured: self.store.clone(),
            });
        }
        self.lock_written().read_at = Some(file.read_at);
        Ok(Some(Cached {
            overrides: file.overrides,
            read_at: file.read_at,
            held: file.held,
        }))
    }

    /// Replaces the file with `overrides` and `held` on a blocking thread, unless a write
    /// asked for later landed first. `read_at` is when the overrides were read from the
    /// store; None when they were not read just now (the time of the last read is kept). A
    /// failure is logged (once until a write works again) and otherwise ignored: the cache
    /// is a fallback. The handle ends when the file is written (or the write gave up).
    pub fn store_in_background(
        self: &Arc<Self>,
        overrides: Arc<Overrides>,
        held: Held,
        read_at: Option<OffsetDateTime>,
    ) -> JoinHandle<()> {
        let cache = self.clone();
        let order = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        tokio::task::spawn_blocking(move || {
            let mut written = cache.lock_written();
            if order < written.order {
                return;
            }
            let read_at = read_at
                .or(written.read_at)
                .unwrap_or_else(OffsetDateTime::now_utc);
            match cache.store(&overrides, &held, read_at) {
                Ok(()) => {
                    *written = Written {
                        order,
                        read_at: Some(read_at),
                    };
                    cache.failing.store(false, Ordering::Relaxed);
                }
                Err(error) if !cache.failing.swap(true, Ordering::Relaxed) => {
                    tracing::warn!(target: "strangler::flags", %error, "cannot write the flag cache (set store_cache: to a writable file); a restart while the store is down would serve routes.yaml alone");
                }
                Err(_) => {}
            }
        })
    }

    fn lock_written(&self) -> std::sync::MutexGuard<'_, Written> {
        self.written.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the file with `overrides`, read from the store at `read_at`, and `held`: a
    /// temporary file is written and flushed, then renamed over the cache.
    pub fn store(
        &self,
        overrides: &Overrides,
        held: &Held,
        read_at: OffsetDateTime,
    ) -> Result<(), CacheError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let file = CacheFile {
            format: FORMAT,
            store: self.store.clone(),
            read_at,
            overrides: overrides.clone(),
            held: held.clone(),
        };
        let text = serde_json::to_vec(&file).map_err(|e| self.corrupt(e))?;
        let suffix = format!(
            "tmp-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let temporary = self.path.with_extension(suffix);
        let written =
            write_synced(&temporary, &text).and_then(|()| std::fs::rename(&temporary, &self.path));
        if let Err(source) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(self.io(source));
        }
        Ok(())
    }

    fn io(&self, source: std::io::Error) -> CacheError {
        CacheError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, message: impl ToString) -> CacheError {
        CacheError::Corrupt {
            path: self.path.clone(),
            message: message.to_string(),
        }
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("strangler-cache-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir.join("routes.flags-cache.json")
    }

    fn killed_everywhere(version: i64) -> Overrides {
        Overrides {
            version,
            global_kill: true,
            ..Overrides::default()
        }
    }

    #[test]
    fn what_is_stored_loads_back_for_the_same_store_only() {
        let path = scratch("roundtrip");
        let cache = FlagCache::new(path.clone(), "postgres://app:secret@db:5432/flags");
        let read_at = OffsetDateTime::now_utc();
        let held = Held::default();
        cache
            .store(&killed_everywhere(7), &held, read_at)
            .expect("store");
        let text = std::fs::read_to_string(&path).expect("cache file");
        assert!(!text.contains("secret"), "{text}");
        let cached = cache.load().expect("load").expect("a cache");
        assert_eq!(cached.overrides, killed_everywhere(7));
        let other = FlagCache::new(path.clone(), "postgres://db:5432/other");
        assert!(matches!(other.load(), Err(CacheError::OtherStore { .. })));
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    }

    #[test]
    fn a_missing_file_is_no_cache_and_a_truncated_one_is_an_error() {
        let path = scratch("corrupt");
        let cache = FlagCache::new(path.clone(), "sqlite://flags.db");
        assert!(cache.load().expect("no file is fine").is_none());
        std::fs::write(&path, "{\"format\": 1, \"sto").expect("write");
        assert!(matches!(cache.load(), Err(CacheError::Corrupt { .. })));
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    }
}
