//! A load loop: tasks sending GETs back to back, some over kept-alive connections, some on
//! a fresh connection each time, recording every failure with when its request started.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

/// A request that did not end in 200.
#[derive(Debug)]
pub struct Failure {
    /// When the request was started.
    pub started: Instant,
    /// The status or the client's error.
    pub what: String,
    /// Whether the request was sent on a fresh connection (else a pooled, kept-alive one).
    pub fresh: bool,
}

/// Running load tasks; [`Load::stop`] ends them and returns every failure.
pub struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<Vec<Failure>>>,
}

impl Load {
    /// `kept_alive` tasks with a pooled client each and `fresh` tasks that open a new
    /// connection per request, all asking `addr` for `paths` in turn.
    pub fn start(addr: SocketAddr, kept_alive: usize, fresh: usize, paths: &[&str]) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let paths: Arc<[String]> = paths.iter().map(|p| format!("http://{addr}{p}")).collect();
        let tasks = (0..kept_alive + fresh)
            .map(|i| {
                let fresh = i >= kept_alive;
                let (stop, ok, paths) = (stop.clone(), ok.clone(), paths.clone());
                tokio::spawn(run(fresh, paths, i, stop, ok))
            })
            .collect();
        Load { stop, ok, tasks }
    }

    /// Requests answered 200 so far.
    pub fn ok(&self) -> usize {
        self.ok.load(Ordering::Relaxed)
    }

    /// Stops every task after its current request; returns all failures.
    pub async fn stop(self) -> Vec<Failure> {
        self.stop.store(true, Ordering::Relaxed);
        let mut failures = Vec::new();
        for task in self.tasks {
            failures.extend(task.await.expect("load task"));
        }
        failures
    }
}

fn client(fresh: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20));
    let builder = match fresh {
        true => builder.pool_max_idle_per_host(0),
        false => builder,
    };
    builder.build().expect("client")
}

async fn run(
    fresh: bool,
    paths: Arc<[String]>,
    offset: usize,
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
) -> Vec<Failure> {
    let client = client(fresh);
    let mut failures = Vec::new();
    let mut next = offset;
    while !stop.load(Ordering::Relaxed) {
        let url = &paths[next % paths.len()];
        next += 1;
        let started = Instant::now();
        let outcome = match client.get(url).send().await {
            Ok(response) => match (response.status().as_u16(), response.bytes().await) {
                (200, Ok(_)) => Ok(()),
                (status, body) => Err(format!("{url}: status {status}, body {body:?}")),
            },
            Err(e) => Err(format!("{url}: {e:?}")),
        };
        match outcome {
            Ok(()) => {
                ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(what) => {
                failures.push(Failure {
                    started,
                    what,
                    fresh,
                });
                // A stopped proxy refuses at once: do not spin on it.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    failures
}
