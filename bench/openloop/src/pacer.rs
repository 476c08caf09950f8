//! The pacing side: requests fall due `rate` per second, evenly spaced; each goes out on
//! the next idle connection, or waits, its wait counted, until one is free.

use std::collections::VecDeque;
use std::io::{ErrorKind, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::reader::{self, Slot, DEAD, IDLE};
use crate::report::{self, Plan, Tally};
use crate::Args;

/// How long the end of a run waits for outstanding answers.
const DRAIN: Duration = Duration::from_secs(5);
/// A request sent later than this after it was due is counted as late.
const LATE_NS: u64 = 1_000_000;

/// Runs the load and prints the summary.
pub fn run(args: &Args) -> Result<(), String> {
    let (authority, request) = request_of(&args.url, &args.headers)?;
    let mut tally = Tally::default();
    let mut writers = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        match connect(&authority) {
            Ok(stream) => writers.push(stream),
            Err(_) => tally.connect_errors += 1,
        }
    }
    if writers.is_empty() {
        return Err(format!("could not connect to {authority}"));
    }
    let readers = writers
        .iter()
        .map(TcpStream::try_clone)
        .collect::<Result<Vec<_>, _>>();
    let readers = readers.map_err(|e| format!("cannot share a socket: {e}"))?;
    let slots: Arc<Vec<Slot>> = Arc::new(writers.iter().map(|_| Slot::new(IDLE)).collect());
    let stopping = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let reading = reader::spawn(readers, slots.clone(), start, stopping.clone());
    let mut pacer = Pacer {
        writers,
        slots: &slots,
        request: &request,
        cursor: 0,
        tally: &mut tally,
    };
    pacer.pace(args.rate, args.duration, start);
    let elapsed = start
        .elapsed()
        .min(args.duration)
        .max(Duration::from_millis(1));
    pacer.drain();
    stopping.store(true, Ordering::Release);
    for writer in &pacer.writers {
        let _ = writer.shutdown(Shutdown::Both);
    }
    for one in reading.join().map_err(|_| "the reader thread panicked")? {
        tally.merge(one);
    }
    let plan = Plan {
        url: &args.url,
        rate: args.rate,
        connections: args.connections,
        elapsed,
    };
    report::print(&plan, tally);
    Ok(())
}

/// `host:port` and the request's bytes for an `http://host:port/path` URL.
fn request_of(url: &str, headers: &[String]) -> Result<(String, Vec<u8>), String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    Ok((authority.to_owned(), request.into_bytes()))
}

fn connect(authority: &str) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(authority)?;
    stream.set_nodelay(true)?;
    stream.set_nonblocking(true)?;
    Ok(stream)
}

struct Pacer<'a> {
    writers: Vec<TcpStream>,
    slots: &'a [Slot],
    request: &'a [u8],
    /// Where the search for an idle connection starts: the one after the last used.
    cursor: usize,
    tally: &'a mut Tally,
}

impl Pacer<'_> {
    /// Sends `rate` requests a second for `duration`.
    fn pace(&mut self, rate: u64, duration: Duration, start: Instant) {
        let end = duration.as_nanos() as u64;
        let due_of = |k: u64| k * 1_000_000_000 / rate;
        let (mut next, mut waiting) = (0u64, VecDeque::new());
        loop {
            let now = start.elapsed().as_nanos() as u64;
            while due_of(next) <= now && due_of(next) < end {
                waiting.push_back(due_of(next));
                next += 1;
            }
            while let Some(&due) = waiting.front() {
                if !self.send(due, now) {
                    break;
                }
                waiting.pop_front();
            }
            if due_of(next) >= end && waiting.is_empty() || self.all_dead() {
                return;
            }
            let wake = if waiting.is_empty() {
                due_of(next)
            } else {
                now + 50_000
            };
            let now = start.elapsed().as_nanos() as u64;
            if wake > now {
                std::thread::sleep(Duration::from_nanos(wake - now));
            }
        }
    }

    /// Sends the request due at `due` on an idle connection; false when none is idle.
    fn send(&mut self, due: u64, now: u64) -> bool {
        let n = self.slots.len();
        for step in 0..n {
            let i = (self.cursor + step) % n;
            let claimed =
                self.slots[i].compare_exchange(IDLE, due + 1, Ordering::AcqRel, Ordering::Acquire);
            if claimed.is_err() {
                continue;
            }
            self.cursor = i + 1;
            if now.saturating_sub(due) > LATE_NS {
                self.tally.late += 1;
            }
            if write_all(&mut self.writers[i], self.request).is_err() {
                self.tally.write_errors += 1;
                self.slots[i].store(DEAD, Ordering::Release);
            }
            return true;
        }
        false
    }

    fn all_dead(&self) -> bool {
        self.slots.iter().all(|s| s.load(Ordering::Acquire) == DEAD)
    }

    /// Waits up to [`DRAIN`] for outstanding answers; those still missing are timeouts.
    fn drain(&mut self) {
        let deadline = Instant::now() + DRAIN;
        let busy = |slots: &[Slot]| {
            slots
                .iter()
                .filter(|s| !matches!(s.load(Ordering::Acquire), IDLE | DEAD))
                .count()
        };
        while busy(self.slots) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        self.tally.timeouts += busy(self.slots) as u64;
    }
}

/// Writes all of `bytes` to a nonblocking socket (a request fits its buffer: rarely waits).
fn write_all(stream: &mut TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::yield_now(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
