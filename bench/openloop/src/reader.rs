//! The reading side: one task per connection on a current-thread runtime, each reading
//! answers as they come and timing each from when its request was due.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::report::Tally;
use crate::response::{self, Parsed};

/// A connection's slot: [`IDLE`], [`DEAD`], or the nanosecond (since the run's start,
/// plus one) its outstanding request was due.
pub type Slot = AtomicU64;
/// No request outstanding: the pacer may claim the connection.
pub const IDLE: u64 = 0;
/// The connection failed: never used again.
pub const DEAD: u64 = u64::MAX;

/// Reads every connection's answers until each is closed; one tally per connection.
pub fn spawn(
    streams: Vec<std::net::TcpStream>,
    slots: Arc<Vec<Slot>>,
    start: Instant,
    stopping: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<Tally>> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(async {
            let tasks: Vec<_> = streams
                .into_iter()
                .enumerate()
                .map(|(i, stream)| {
                    let stream = TcpStream::from_std(stream).expect("a nonblocking socket");
                    let (slots, stopping) = (slots.clone(), stopping.clone());
                    tokio::spawn(async move { answers(stream, &slots[i], start, &stopping).await })
                })
                .collect();
            let mut tallies = Vec::with_capacity(tasks.len());
            for task in tasks {
                tallies.push(task.await.unwrap_or_default());
            }
            tallies
        })
    })
}

/// Reads one connection's answers until it closes.
async fn answers(
    mut stream: TcpStream,
    slot: &Slot,
    start: Instant,
    stopping: &AtomicBool,
) -> Tally {
    let mut tally = Tally::default();
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => {
                // The pacer shuts every socket down at the end; before that, it is a failure.
                if !stopping.load(Ordering::Acquire) {
                    tally.read_errors += 1;
                    slot.store(DEAD, Ordering::Release);
                }
                return tally;
            }
            Ok(n) => tally.bytes += n as u64,
        }
        if let Err(e) = take_answers(&mut buf, slot, start, &mut tally) {
            eprintln!("openloop: {}", e.0);
            tally.read_errors += 1;
            slot.store(DEAD, Ordering::Release);
            return tally;
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(64 * 1024);
        }
    }
}

/// Takes every whole answer off the front of `buf`, timing each.
fn take_answers(
    buf: &mut Vec<u8>,
    slot: &Slot,
    start: Instant,
    tally: &mut Tally,
) -> Result<(), response::Invalid> {
    loop {
        let (len, status) = match response::parse(buf)? {
            Parsed::Partial => return Ok(()),
            Parsed::Complete { len, status } => (len, status),
        };
        let now = start.elapsed().as_nanos() as u64;
        let due = slot.swap(IDLE, Ordering::AcqRel);
        if due == IDLE || due == DEAD {
            return Err(response::Invalid("an answer nobody asked for"));
        }
        let waited_us = now.saturating_sub(due - 1) / 1000;
        tally
            .latencies_us
            .push(u32::try_from(waited_us).unwrap_or(u32::MAX));
        if !(200..400).contains(&status) {
            tally.non_2xx += 1;
        }
        buf.drain(..len);
    }
}
