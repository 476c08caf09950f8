//! The shadow calls, off the request path: a runtime of their own (one thread, so a
//! 1 MiB diff never runs on a proxy worker), a small HTTP/1.1 client, and the comparison
//! of each captured primary answer with the shadow's (and, for the `noise` share, with
//! the primary's second answer). Each ends as a [`Record`] for the diff store's writer
//! ([`crate::shadow::diff_writer`]) and in `strangler_shadow_total{route,outcome}`.
//!
//! Nothing here can slow or change a client's answer: a call starts after the primary
//! answered, holds one of `diffs.in_flight` slots taken when the request started (none
//! free: skipped as `overloaded`), and has the route's own `timeout`. The request sent is
//! the one the primary got, as HTTP/1.1 (an h2 request's `:authority` becomes `Host`),
//! with `x-strangler-shadow: 1`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use strangler_control::diffs::Record;
use strangler_flags::shadow_policy::{CompiledPolicy, DiffSettings};
use strangler_shadow::{diff, noise_paths, Captured, Comparison, SampleSide, SkipReason, Verdict};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::shadow::diff_writer::now_ms;
use crate::shadow::mirror::{header_pairs, Mirror, SHADOW_HEADER};

/// Signatures whose samples are counted here before the count starts again.
const MAX_SIGNATURES: usize = 10_000;
/// Records waiting for the store's writer; beyond this they are dropped and counted.
const RECORD_QUEUE: usize = 8192;
/// Request headers never copied to a mirror (hop-by-hop, or recomputed by the client).
const NOT_COPIED: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

/// Everything a shadowed request leaves for its comparison besides the [`Mirror`].
pub struct Finished {
    /// The route's name.
    pub route: String,
    /// The tenant the proxy resolved.
    pub tenant: Option<String>,
    /// The side that served the client.
    pub primary_side: &'static str,
    /// The other side, which the request is mirrored to.
    pub shadow_side: &'static str,
    /// Where the primary side lives.
    pub primary_addr: SocketAddr,
    /// Where the shadow side lives.
    pub shadow_addr: SocketAddr,
    /// How long the primary took to answer in full.
    pub primary_latency: Duration,
    /// Why the primary failed, if it did.
    pub primary_error: Option<String>,
}

/// The shadow machinery shared by every proxy worker.
pub struct Shadowing {
    /// `diffs.in_flight` slots.
    slots: Arc<Semaphore>,
    /// To the shadow runtime.
    jobs: mpsc::UnboundedSender<Job>,
    /// To the store's writer.
    records: mpsc::Sender<Record>,
}

/// One comparison to make.
struct Job {
    mirror: Mirror,
    finished: Finished,
    settings: Arc<DiffSettings>,
}

impl Shadowing {
    /// Starts the shadow workers on `runtime`; records go to the returned receiver.
    pub fn start(
        runtime: &tokio::runtime::Runtime,
        in_flight: usize,
    ) -> (Arc<Shadowing>, mpsc::Receiver<Record>) {
        let (jobs, queue) = mpsc::unbounded_channel();
        let (records, written) = mpsc::channel(RECORD_QUEUE);
        let worker = Worker {
            client: client(),
            records: records.clone(),
            sampled: Mutex::default(),
        };
        runtime.spawn(Arc::new(worker).serve(queue));
        let slots = Arc::new(Semaphore::new(in_flight));
        (
            Arc::new(Shadowing {
                slots,
                jobs,
                records,
            }),
            written,
        )
    }

    /// A slot for a new shadow call, if one is free.
    pub fn slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// Counts a shadowed request that is not compared: every slot was taken
    /// (`overloaded`), or it is an upgrade (`upgraded`).
    pub fn skipped(&self, finished: Finished, method: &str, target: &str, reason: SkipReason) {
        let mut comparison = comparison(&finished, method, target);
        comparison.mark_skipped(reason);
        comparison.primary_ms = None;
        let record = Record {
            comparison,
            sample: None,
        };
        submit(&self.records, finished.shadow_side, record);
    }

    /// Hands a request whose primary has answered to the shadow runtime.
    pub fn dispatch(&self, mirror: Mirror, finished: Finished, settings: Arc<DiffSettings>) {
        let job = Job {
            mirror,
            finished,
            settings,
        };
        // The receiver lives as long as the shadow runtime; after shutdown, nothing to do.
        let _ = self.jobs.send(job);
    }
}

/// The shadow runtime's side.
struct Worker {
    client: reqwest::Client,
    records: mpsc::Sender<Record>,
    /// Samples sent per (route, signature), so bodies stop being prepared once the
    /// store has enough (the store enforces the limit as well).
    sampled: Mutex<HashMap<(String, String), u32>>,
}

impl Worker {
    async fn serve(self: Arc<Self>, mut queue: mpsc::UnboundedReceiver<Job>) {
        while let Some(job) = queue.recv().await {
            tokio::spawn(self.clone().compare(job));
        }
    }

    /// Calls the shadow (and the primary again for noise), compares and records.
    async fn compare(self: Arc<Self>, mut job: Job) {
        let request = job.mirror.request.take();
        let method = request
            .as_ref()
            .map_or("", |r| r.method.as_str())
            .to_owned();
        let target = request.as_ref().map_or(String::new(), target_of);
        let mut comparison = comparison(&job.finished, &method, &target);
        let captured = job.mirror.take();
        comparison.primary_status = captured.as_ref().map(|(_, primary)| primary.status);
        // A capture that gave up (a stream, a fallback, a client gone) wins over the error
        // its end may have caused.
        let sample = match (
            job.mirror.skip,
            &job.finished.primary_error,
            request,
            captured,
        ) {
            (Some(skip), ..) => {
                comparison.mark_skipped(skip);
                None
            }
            (None, Some(error), ..) => {
                comparison.mark_failed(Verdict::PrimaryError, error.clone());
                None
            }
            (None, None, Some(request), Some((body, primary))) => {
                self.exchange(&job, &request, body, primary, &mut comparison)
                    .await
            }
            _ => {
                comparison.mark_failed(Verdict::PrimaryError, "no answer".to_owned());
                None
            }
        };
        drop(job.mirror.permit.take());
        submit(
            &self.records,
            job.finished.shadow_side,
            Record { comparison, sample },
        );
    }

    /// The shadow call and the diff; fills in `comparison` and returns a sample if one
    /// should be kept.
    async fn exchange(
        &self,
        job: &Job,
        request: &pingora::http::RequestHeader,
        body: Bytes,
        primary: Captured,
        comparison: &mut Comparison,
    ) -> Option<(SampleSide, SampleSide)> {
        let policy = &job.mirror.policy;
        let (shadow_addr, primary_addr) = (job.finished.shadow_addr, job.finished.primary_addr);
        let started = Instant::now();
        let shadow = self.call(shadow_addr, request, body.clone(), policy).await;
        comparison.shadow_ms = Some(millis(started.elapsed()));
        let shadow = match shadow {
            Ok(shadow) => shadow,
            Err(error) => {
                comparison.mark_failed(Verdict::ShadowError, error);
                return None;
            }
        };
        comparison.shadow_status = Some(shadow.status);
        let diff = diff(&primary, &shadow, policy);
        // Asking the primary twice is only safe for methods that change nothing.
        let safe = matches!(request.method.as_str(), "GET" | "HEAD" | "OPTIONS");
        if job.mirror.noise && safe && diff.skipped.is_none() {
            if let Ok(again) = self.call(primary_addr, request, body, policy).await {
                comparison.noise = Some(noise_paths(&primary, &again, policy));
            }
        }
        comparison.verdict = Verdict::of(&diff, comparison.noise.as_ref());
        comparison.skip = diff.skipped;
        comparison.differences = Comparison::differences_of(&diff, &job.settings);
        self.sample(comparison, &primary, &shadow, &job.settings)
    }

    /// Both answers, redacted, when this comparison differs and its signature still
    /// needs samples.
    fn sample(
        &self,
        comparison: &Comparison,
        primary: &Captured,
        shadow: &Captured,
        settings: &DiffSettings,
    ) -> Option<(SampleSide, SampleSide)> {
        if !matches!(comparison.verdict, Verdict::Mismatch | Verdict::NoiseOnly) {
            return None;
        }
        let key = (comparison.route.clone(), comparison.signature());
        let mut sampled = self.sampled.lock().unwrap_or_else(|p| p.into_inner());
        if sampled.len() >= MAX_SIGNATURES && !sampled.contains_key(&key) {
            // Signatures that never repeat (a field unlike an id in every answer) must not
            // grow this without end: start counting again; the store keeps its own limit.
            sampled.clear();
        }
        let count = sampled.entry(key).or_default();
        if *count >= settings.samples_per_signature {
            return None;
        }
        *count += 1;
        Some((
            SampleSide::of(primary, settings),
            SampleSide::of(shadow, settings),
        ))
    }

    /// Sends `request` to `addr` and reads the answer, keeping at most one byte more of
    /// the body than `max_body` (enough for the diff to see it is too large).
    async fn call(
        &self,
        addr: SocketAddr,
        request: &pingora::http::RequestHeader,
        body: Bytes,
        policy: &CompiledPolicy,
    ) -> Result<Captured, String> {
        let url = format!("http://{addr}{}", target_of(request));
        let mut builder = self
            .client
            .request(request.method.clone(), url)
            .timeout(policy.timeout);
        for (name, value) in request.headers.iter() {
            if !NOT_COPIED.contains(&name.as_str()) {
                builder = builder.header(name, value);
            }
        }
        if !request.headers.contains_key(http::header::HOST) {
            if let Some(authority) = request.uri.authority() {
                builder = builder.header(http::header::HOST, authority.as_str());
            }
        }
        let builder = builder.header(SHADOW_HEADER, "1").body(body);
        let response = builder.send().await.map_err(describe)?;
        read(response, policy.max_body).await.map_err(describe)
    }
}

/// Reads a response into a [`Captured`], stopping one byte past `max_body`.
async fn read(mut response: reqwest::Response, max_body: usize) -> reqwest::Result<Captured> {
    let status = response.status().as_u16();
    let headers = header_pairs(response.headers());
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        let room = (max_body + 1).saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() > max_body {
            break;
        }
    }
    Ok(Captured {
        status,
        headers,
        body: body.freeze(),
    })
}

/// What went wrong with a call, in a few words: `timeout`, `connect: ...`, ...
fn describe(error: reqwest::Error) -> String {
    let kind = match () {
        _ if error.is_timeout() => "timeout",
        _ if error.is_connect() => "connect",
        _ if error.is_body() || error.is_decode() => "body",
        _ => "request",
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// The client of the shadow calls: HTTP/1.1, no redirects, no proxy from the
/// environment, idle connections kept below the usual 5 s backend keep-alive.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .http1_only()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(4))
        .connect_timeout(Duration::from_secs(1))
        .build()
        .expect("a client with static settings")
}

/// A comparison of `finished` with nothing compared yet.
fn comparison(finished: &Finished, method: &str, target: &str) -> Comparison {
    Comparison {
        id: 0,
        at_ms: now_ms(),
        route: finished.route.clone(),
        tenant: finished.tenant.clone(),
        method: method.to_owned(),
        path: target.to_owned(),
        primary_side: finished.primary_side.to_owned(),
        verdict: Verdict::Match,
        skip: None,
        error: None,
        primary_status: None,
        shadow_status: None,
        primary_ms: Some(millis(finished.primary_latency)),
        shadow_ms: None,
        differences: Vec::new(),
        noise: None,
    }
}

/// Counts a record (its shadow side's latency under `shadow_side`) and queues it for the
/// store; a full queue drops it (counted).
fn submit(records: &mpsc::Sender<Record>, shadow_side: &'static str, record: Record) {
    crate::telemetry::metrics::record_shadow(&record.comparison, shadow_side);
    if records.try_send(record).is_err() {
        crate::telemetry::metrics::record_diff_dropped("queue-full");
    }
}

/// Path and query as sent.
fn target_of(request: &pingora::http::RequestHeader) -> String {
    request
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned())
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
