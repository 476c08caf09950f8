//! The one writer behind stdout: access-log lines and every other log event go into a shared
//! buffer, and a background thread writes it out in large chunks.
//!
//! Writing a line per request with its own `write(2)` and its own thread wake-up cost more
//! CPU than the rest of the proxy together (measured: docs/performance.md). Here a worker only
//! appends to a buffer under an uncontended lock; the writer thread wakes every
//! [`FLUSH_INTERVAL`], or sooner when the buffer passes [`FLUSH_AT`], and writes it with one
//! call. If stdout stalls and the buffer reaches [`MAX_PENDING`], new lines are dropped and
//! counted (`strangler_log_lines_dropped_total`) instead of growing memory or blocking.

use std::io::Write;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

/// How long a line may wait in the buffer when traffic is light.
const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// Buffer size that wakes the writer early.
const FLUSH_AT: usize = 64 * 1024;
/// Buffer size past which lines are dropped rather than queued.
const MAX_PENDING: usize = 16 * 1024 * 1024;

/// The process-wide stdout writer; `None` until [`LogWriter::install`] (tests never install
/// it, so in-process proxies log nothing).
static WRITER: OnceLock<LogWriter> = OnceLock::new();

/// The shared buffer and the writer thread's wake-up.
pub struct LogWriter {
    pending: Mutex<Vec<u8>>,
    wake: Condvar,
}

impl LogWriter {
    /// Starts the writer thread and makes [`LogWriter::get`] return it.
    pub fn install() -> &'static LogWriter {
        let mut created = false;
        let writer = WRITER.get_or_init(|| {
            created = true;
            LogWriter {
                pending: Mutex::new(Vec::with_capacity(FLUSH_AT * 2)),
                wake: Condvar::new(),
            }
        });
        if created {
            std::thread::Builder::new()
                .name("log-writer".into())
                .spawn(move || write_forever(writer))
                .expect("spawning the log writer thread");
        }
        writer
    }

    /// The installed writer, if logging is on.
    pub fn get() -> Option<&'static LogWriter> {
        WRITER.get()
    }

    /// Appends one complete line (or several) that `fill` writes into the buffer.
    pub fn append(&self, fill: impl FnOnce(&mut Vec<u8>)) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.len() >= MAX_PENDING {
            drop(pending);
            metrics::counter!("strangler_log_lines_dropped_total").increment(1);
            return;
        }
        fill(&mut pending);
        if pending.len() >= FLUSH_AT {
            self.wake.notify_one();
        }
    }

    /// Writes out whatever is buffered now (at exit).
    pub fn flush(&self) {
        let chunk = self.take(Duration::ZERO);
        write_chunk(&chunk);
    }

    /// Waits up to `wait` for data, then takes the whole buffer.
    fn take(&self, wait: Duration) -> Vec<u8> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.len() < FLUSH_AT && !wait.is_zero() {
            pending = self
                .wake
                .wait_timeout(pending, wait)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        std::mem::replace(&mut *pending, Vec::with_capacity(FLUSH_AT * 2))
    }
}

fn write_forever(writer: &LogWriter) {
    loop {
        let chunk = writer.take(FLUSH_INTERVAL);
        write_chunk(&chunk);
    }
}

fn write_chunk(chunk: &[u8]) {
    if !chunk.is_empty() {
        // Nowhere better to report a failing stdout; the proxy keeps serving either way.
        let _ = std::io::stdout().lock().write_all(chunk);
    }
}

/// Lets the tracing subscriber write its (rare) events through the same buffer, so lines
/// from both never interleave mid-line.
#[derive(Clone, Copy)]
pub struct TracingSink;

impl Write for TracingSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match LogWriter::get() {
            Some(writer) => writer.append(|buf| buf.extend_from_slice(bytes)),
            None => std::io::stdout().write_all(bytes)?,
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for TracingSink {
    type Writer = TracingSink;

    fn make_writer(&'a self) -> TracingSink {
        *self
    }
}
