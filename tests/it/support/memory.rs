//! Memory of this process, where the proxy under test runs.
//!
//! A test that measures resident memory needs the process to itself: other tests' backends
//! and bodies would show up in the figure. [`Occupancy`] is a reader-preferring gate every
//! proxy holds while it runs: ordinary tests share it, a measuring test waits until nobody
//! holds it and then keeps it alone. Readers never wait for a waiting writer, so a test that
//! starts two proxies cannot deadlock; the measuring tests simply run when the others are idle.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

struct Gate {
    sharing: usize,
    alone: bool,
}

static GATE: Mutex<Gate> = Mutex::new(Gate {
    sharing: 0,
    alone: false,
});
static OPENED: Condvar = Condvar::new();

fn gate() -> MutexGuard<'static, Gate> {
    GATE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A hold on the process: shared with other tests, or alone. Released when dropped.
pub struct Occupancy {
    alone: bool,
}

impl Occupancy {
    /// Shares the process with other ordinary tests (blocks while a measuring test runs).
    pub fn share() -> Occupancy {
        let mut gate = gate();
        while gate.alone {
            gate = OPENED.wait(gate).unwrap_or_else(|p| p.into_inner());
        }
        gate.sharing += 1;
        Occupancy { alone: false }
    }

    /// Waits until no other test holds the process, then holds it alone.
    pub fn alone() -> Occupancy {
        let mut gate = gate();
        while gate.alone || gate.sharing > 0 {
            gate = OPENED.wait(gate).unwrap_or_else(|p| p.into_inner());
        }
        gate.alone = true;
        Occupancy { alone: true }
    }
}

impl Drop for Occupancy {
    fn drop(&mut self) {
        let mut gate = gate();
        if self.alone {
            gate.alone = false;
        } else {
            gate.sharing -= 1;
        }
        OPENED.notify_all();
    }
}

/// This process's resident set size, from `/proc/self/status`.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS in kB");
    kib * 1024
}

/// Samples the resident set size every 5 ms on its own thread and keeps the highest value,
/// so memory that is allocated and freed during a transfer still shows.
pub struct PeakRss {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    sampler: Option<std::thread::JoinHandle<()>>,
}

impl PeakRss {
    /// Starts sampling.
    pub fn start() -> PeakRss {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss_bytes()));
        let (stopped, highest) = (stop.clone(), peak.clone());
        let sampler = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                highest.fetch_max(rss_bytes(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        PeakRss {
            stop,
            peak,
            sampler: Some(sampler),
        }
    }

    /// Stops sampling and returns the highest resident set size seen.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(sampler) = self.sampler.take() {
            sampler.join().expect("sampler thread");
        }
        self.peak.load(Ordering::Relaxed).max(rss_bytes())
    }
}
