//! The shadow calls, off the request path: a runtime of their own (one thread, so a
//! 1 MiB diff never runs on a proxy worker), a small HTTP/1.1 client, and the comparison
//! of each captured primary answer with the shadow's (and, for a noise probe, with the
//! primary's second answer). Each comparison's verdict is decided once, here, with the
//! route's noise evidence so far (`strangler_shadow::RouteEvidence`), and ends as a
//! [`Record`] for the diff store's writer ([`crate::shadow::diff_writer`]) and in
//! `strangler_shadow_total{route,outcome}` under that same verdict.
//!
//! Noise probes adapt: a request is probed while its route has fewer than
//! `strangler_shadow::MIN_PROBES` probes, when its difference signature is new, or when
//! it falls in the route's `noise:` share; never with `noise: 0`, and never for a method
//! that may change something. A probe asks the primary again, and with
//! `noise_both_sides: true` the shadow as well.
//!
//! Nothing here can slow or change a client's answer: a call starts after the primary
//! answered, holds one of `diffs.in_flight` slots taken when the request started (none
//! free: skipped as `overloaded`), and has the route's own `timeout`. The request sent is
//! the one the primary got ([`crate::shadow::client`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use strangler_control::diffs::Record;
use strangler_flags::shadow_policy::{CompiledPolicy, DiffSettings};
use strangler_shadow::{
    diff, noise_paths, Captured, Comparison, RouteEvidence, SampleSide, SkipReason, Verdict,
};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::shadow::client::{target_of, Callee, ShadowClient};
use crate::shadow::diff_writer::now_ms;
use crate::shadow::intake;
use crate::shadow::layout::{Role, Sides};
use crate::shadow::mirror::Mirror;
use crate::shadow::traced::{self, ShadowTrace};
use crate::telemetry::rollup::RouteTally;
use crate::telemetry::trace::new_span_id;

/// Signatures whose samples are counted here before the count starts again.
const MAX_SIGNATURES: usize = 10_000;
/// Records waiting for the store's writer; beyond this they are dropped and counted.
const RECORD_QUEUE: usize = 8192;
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
    /// Where the primary side lives, and how it is reached.
    pub primary: Callee,
    /// Where the shadow side lives, and how it is reached.
    pub shadow: Callee,
    /// How long the primary took to answer in full.
    pub primary_latency: Duration,
    /// Why the primary failed, if it did.
    pub primary_error: Option<String>,
    /// Where the comparison's span goes, when the request is traced.
    pub trace: Option<ShadowTrace>,
    /// The route's readiness tally, which counts the comparison and whether it matched.
    pub tally: Option<Arc<RouteTally>>,
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
            client: ShadowClient::new(),
            records: records.clone(),
            sampled: Mutex::default(),
            evidence: Mutex::default(),
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
        // While the shadow runtime is busy this wakes no one ([`intake`]).
        let _ = self.jobs.send(job);
    }
}

/// The shadow runtime's side.
struct Worker {
    client: ShadowClient,
    records: mpsc::Sender<Record>,
    /// Samples sent per (route, signature), so bodies stop being prepared once the
    /// store has enough (the store enforces the limit as well).
    sampled: Mutex<HashMap<(String, String), u32>>,
    /// Per route, the noise evidence this process has gathered, which decides verdicts.
    evidence: Mutex<HashMap<String, RouteEvidence>>,
}

impl Worker {
    /// Starts a comparison for each job, taken in per burst ([`intake`]).
    async fn serve(self: Arc<Self>, queue: mpsc::UnboundedReceiver<Job>) {
        intake::run(queue, |job| {
            tokio::spawn(self.clone().compare(job));
        })
        .await;
    }

    /// Calls the shadow (and the primary again for noise), compares and records.
    async fn compare(self: Arc<Self>, mut job: Job) {
        let (span, started) = (new_span_id(), SystemTime::now());
        let request = job.mirror.request.take();
        let method = request
            .as_ref()
            .map_or("", |r| r.method.as_str())
            .to_owned();
        let target = request.as_ref().map_or(String::new(), target_of);
        let mut comparison = comparison(&job.finished, &method, &target);
        let layout = job.mirror.new_layout.take();
        comparison.upstream_path = layout.as_ref().map(|l| target_of(&l.head));
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
                let new_is_shadow = job.finished.shadow_side == "new";
                let sides = Sides::new(&request, layout.as_deref(), new_is_shadow);
                self.exchange(&job, sides, body, primary, &mut comparison, span)
                    .await
            }
            _ => {
                comparison.mark_failed(Verdict::PrimaryError, "no answer".to_owned());
                None
            }
        };
        drop(job.mirror.permit.take());
        traced::record(span, started, &job.finished, &comparison);
        if let Some(tally) = &job.finished.tally {
            tally.compared(comparison.verdict);
        }
        submit(
            &self.records,
            job.finished.shadow_side,
            Record { comparison, sample },
        );
    }

    /// The shadow call (its span id `span`) and the diff; fills in `comparison` and returns
    /// a sample if one should be kept.
    async fn exchange(
        &self,
        job: &Job,
        sides: Sides<'_>,
        body: Bytes,
        primary: Captured,
        comparison: &mut Comparison,
        span: u64,
    ) -> Option<(SampleSide, SampleSide)> {
        let policy = &job.mirror.policy;
        let (shadow_at, primary_at) = (&job.finished.shadow, &job.finished.primary);
        let request = sides.head(Role::Shadow);
        let started = Instant::now();
        let shadow = self
            .client
            .call(shadow_at, request, body.clone(), policy, span)
            .await
            .map(|answer| sides.in_client_layout(Role::Shadow, answer));
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
        comparison.skip = diff.skipped;
        comparison.differences = Comparison::differences_of(&diff, &job.settings);
        if diff.skipped.is_some() && diff.differences.is_empty() {
            comparison.verdict = Verdict::Skipped;
            return None;
        }
        // Asking a side twice is only safe for methods that change nothing.
        let safe = matches!(request.method.as_str(), "GET" | "HEAD" | "OPTIONS");
        let probing = policy.noise.hundredths() > 0;
        if probing && safe && diff.skipped.is_none() && self.wants_probe(job, comparison) {
            let answers = [
                (Role::Primary, primary_at, &primary),
                (Role::Shadow, shadow_at, &shadow),
            ];
            let asked = if policy.noise_both_sides { 2 } else { 1 };
            let probed = self.probe(&answers[..asked], sides, body, policy).await;
            let mut probed = probed.into_iter();
            comparison.noise = probed.next().flatten();
            comparison.shadow_noise = probed.next().flatten();
        }
        self.judge(comparison, probing, &job.settings);
        self.sample(comparison, &primary, &shadow, &job.settings)
    }

    /// A noise probe: asks each side of `answers` again and gives the paths that differ
    /// from its first answer (`None` where the second call failed).
    async fn probe(
        &self,
        answers: &[(Role, &Callee, &Captured)],
        sides: Sides<'_>,
        body: Bytes,
        policy: &CompiledPolicy,
    ) -> Vec<Option<BTreeSet<String>>> {
        let mut probed = Vec::with_capacity(answers.len());
        for (role, callee, first) in answers {
            let request = sides.head(*role);
            let call = self
                .client
                .call(callee, request, body.clone(), policy, new_span_id());
            let again = call
                .await
                .map(|answer| sides.in_client_layout(*role, answer));
            probed.push(again.ok().map(|again| noise_paths(first, &again, policy)));
        }
        probed
    }

    /// Whether to probe this comparison for noise: the route's `noise:` share picked its
    /// request, or the route's evidence wants it (too few probes, a new signature).
    fn wants_probe(&self, job: &Job, comparison: &Comparison) -> bool {
        let evidence = self.evidence.lock().unwrap_or_else(|p| p.into_inner());
        job.mirror.noise
            || evidence
                .get(&comparison.route)
                .is_none_or(|route| route.wants_probe(&comparison.signature()))
    }

    /// Decides the comparison's one verdict with its route's evidence, which it joins.
    fn judge(&self, comparison: &mut Comparison, probing: bool, settings: &DiffSettings) {
        let mut evidence = self.evidence.lock().unwrap_or_else(|p| p.into_inner());
        let route = evidence.entry(comparison.route.clone()).or_default();
        route.judge(comparison, probing, &settings.thresholds);
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
        let differs = [Verdict::Mismatch, Verdict::Unsettled, Verdict::NoiseOnly];
        if !differs.contains(&comparison.verdict) {
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
        upstream_path: None,
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
        shadow_noise: None,
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

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
