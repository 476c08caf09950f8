//! How the shadow runtime takes in the jobs the proxy workers hand it: woken once per
//! burst of jobs, not once per job.
//!
//! Waking the shadow runtime's parked thread costs the proxy worker that sends a job a
//! system call (tokio unparks the thread through its eventfd); once per shadowed request it
//! was 3.8 % of the worker's time (issue #20). So the intake waits on its queue, and is
//! woken by the next job, only when it is idle. While jobs keep coming it takes in what
//! arrived every [`TICK`] instead, and a worker's send finds no one to wake. The first
//! tick that finds the queue empty sends it back to waiting: an idle proxy has no tick.
//!
//! No job is left behind when the intake goes back to waiting: the "waiting" flag is the
//! waker in tokio's channel. A send pushes the job, then wakes whoever is registered; a
//! wait registers, then looks at the queue again. A job sent as the intake registers is
//! either seen by that second look or finds the waker.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant, Sleep};

/// How often a busy intake takes in what arrived. A shadow call starts up to this much
/// later than with a wake-up per job; the client was answered before its job was sent.
pub const TICK: Duration = Duration::from_millis(2);

/// Hands each job of `queue` to `start` until every sender is gone and the queue is empty.
pub async fn run<T>(mut queue: mpsc::UnboundedReceiver<T>, mut start: impl FnMut(T)) {
    let mut batch = Vec::new();
    // Idle: the next job's send wakes this.
    while queue.recv_many(&mut batch, usize::MAX).await > 0 {
        // Busy: no one to wake; the jobs are taken in every tick until a tick finds none.
        let mut ticks = Ticks::new();
        while !batch.is_empty() {
            batch.drain(..).for_each(&mut start);
            ticks.tick().await;
            while let Ok(job) = queue.try_recv() {
                batch.push(job);
            }
        }
    }
}

/// A busy intake's ticks, each registered a tick ahead. Tokio unparks its runtime (an
/// eventfd write) for every timer registered while its timer wheel was empty when it last
/// looked, and every shadow call registers one (its `timeout`): with the next tick always
/// in the wheel when one fires, a batch's calls register theirs without a system call each.
struct Ticks {
    /// The tick waited for.
    due: Pin<Box<Sleep>>,
    /// The one after it, already registered.
    after: Pin<Box<Sleep>>,
}

impl Ticks {
    fn new() -> Ticks {
        let now = Instant::now();
        Ticks {
            due: Box::pin(sleep_until(now + TICK)),
            after: Box::pin(sleep_until(now + 2 * TICK)),
        }
    }

    /// Waits for the due tick; the one after becomes due and another is registered.
    async fn tick(&mut self) {
        poll_fn(|cx| {
            // Polled to register it; it is due after the one awaited.
            let _ = self.after.as_mut().poll(cx);
            self.due.as_mut().poll(cx)
        })
        .await;
        std::mem::swap(&mut self.due, &mut self.after);
        // A late thread catches up at once, not a tick at a time.
        let next = Instant::now().max(self.due.deadline()) + TICK;
        self.after.as_mut().reset(next);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc as std_mpsc;
    use std::time::Duration;

    use tokio::sync::mpsc;

    use super::{run, TICK};

    /// Jobs sent from another thread at every offset around the intake's ticks (so some
    /// arrive just as it finds its queue empty and goes back to waiting) all come out.
    #[test]
    fn a_job_sent_as_the_intake_goes_idle_is_taken_in() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (jobs, queue) = mpsc::unbounded_channel();
        let (started, taken) = std_mpsc::channel();
        runtime.spawn(run(queue, move |job: u32| started.send(job).unwrap()));
        const JOBS: u32 = 400;
        for job in 0..JOBS {
            // 0 to 3.5 ms apart: bursts, quiet ticks, and sends as the intake turns idle.
            std::thread::sleep(TICK * (job % 8) / 4);
            jobs.send(job).unwrap();
        }
        for expected in 0..JOBS {
            let job = taken.recv_timeout(Duration::from_secs(10));
            assert_eq!(job, Ok(expected), "job {expected} taken in, in order");
        }
    }

    /// A burst sent at once, then after the intake went idle one late job, then the
    /// senders gone: every job taken in, and the intake ends.
    #[tokio::test(start_paused = true)]
    async fn a_burst_then_a_late_job_are_taken_in_and_the_intake_ends_with_its_senders() {
        let (jobs, queue) = mpsc::unbounded_channel();
        let (started, mut taken) = mpsc::unbounded_channel();
        let intake = tokio::spawn(run(queue, move |job: u32| started.send(job).unwrap()));
        for job in 0..100 {
            jobs.send(job).unwrap();
        }
        for expected in 0..100 {
            assert_eq!(taken.recv().await, Some(expected));
        }
        tokio::time::sleep(TICK * 10).await;
        jobs.send(100).unwrap();
        assert_eq!(taken.recv().await, Some(100), "the late job");
        drop(jobs);
        intake.await.unwrap();
        assert_eq!(taken.recv().await, None, "nothing else");
    }
}
