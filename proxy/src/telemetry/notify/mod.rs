//! Notifications: what happened to the rollout (a guard trip, a kill switch, a ramp step or
//! wait, a revert, a failed reload, the flag store lost and back) posted to the receivers of
//! routes.yaml's `notify:`. Callers hand a [`Notice`] to [`Notifier::send`], which never
//! blocks (a bounded queue; a full one drops and counts); the delivery task started by
//! [`Notifier::run`] on the control runtime posts it to every receiver that wants the
//! event, retrying with backoff for up to an hour ([`deliver`]). Each outcome is counted in
//! `strangler_notifications_total{event,result}` and the last failures are kept for
//! `/admin/health`.
//!
//! One notification per event across a fleet: a notice is sent by the instance that made
//! the change (the one whose store transaction wrote the audit entry; a `ramp-waiting`
//! notice by the instance that claimed it in the store); `reload-error`, `store-down` and
//! `store-up` are about the instance itself and come from it. docs/notifications.md has
//! the JSON schema.
//!
//! Part of the lowest layer: takes plain records (the snapshot's targets, a notice).

mod deliver;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use serde::Serialize;
use strangler_flags::config::notify::{Event, NotifyTarget};
use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};

/// Notices waiting for the delivery task; beyond, [`Notifier::send`] drops.
const QUEUE: usize = 256;
/// Deliveries being tried or waiting for a retry; beyond, new ones are dropped.
const MAX_PENDING: usize = 1_024;
/// The failures `/admin/health` shows.
const KEPT_FAILURES: usize = 10;
/// The first wait before a failed delivery is tried again; it doubles up to [`MAX_RETRY`].
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between two tries.
pub const MAX_RETRY: Duration = Duration::from_secs(300);
/// How long a delivery is retried before it is given up.
pub const GIVE_UP: Duration = Duration::from_secs(3_600);

/// One thing that happened, as sent.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    /// What happened.
    pub event: Event,
    /// Unique across the fleet for one occurrence (`audit-42`): receivers may dedupe on it.
    pub id: String,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The route concerned, if one.
    pub route: Option<String>,
    /// One line for people.
    pub summary: String,
    /// The figures: the audit entry, the ramp's evidence, the reload's errors.
    pub details: serde_json::Value,
}

impl Notice {
    /// A notice about this instance itself (`reload-error`, `store-down`, `store-up`): its
    /// id names the process and the moment, as no other instance sends it.
    pub fn about_instance(event: Event, summary: String, details: serde_json::Value) -> Notice {
        let at = OffsetDateTime::now_utc();
        let ms = at.unix_timestamp_nanos() / 1_000_000;
        Notice {
            event,
            id: format!("{}-{}-{ms}", event.code(), std::process::id()),
            at,
            route: None,
            summary,
            details,
        }
    }
}

/// A delivery that failed, as `/admin/health` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// When the try failed.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The event.
    pub event: Event,
    /// The notice's id.
    pub id: String,
    /// The receiver.
    pub url: String,
    /// What went wrong.
    pub error: String,
}

/// The notifications of one instance.
pub struct Notifier {
    targets: ArcSwap<Vec<NotifyTarget>>,
    sender: mpsc::Sender<Notice>,
    receiver: Mutex<Option<mpsc::Receiver<Notice>>>,
    /// [`FIRST_RETRY`] unless an embedder (a test) set it shorter, in milliseconds.
    first_retry_ms: AtomicU64,
    pending: Arc<AtomicUsize>,
    failures: Arc<Mutex<VecDeque<Failure>>>,
    client: reqwest::Client,
}

impl Default for Notifier {
    fn default() -> Notifier {
        let (sender, receiver) = mpsc::channel(QUEUE);
        Notifier {
            targets: ArcSwap::default(),
            sender,
            receiver: Mutex::new(Some(receiver)),
            first_retry_ms: AtomicU64::new(FIRST_RETRY.as_millis() as u64),
            pending: Arc::default(),
            failures: Arc::default(),
            client: deliver::client(),
        }
    }
}

impl Notifier {
    /// Sends to `targets` from now on (routes.yaml's `notify:` as loaded).
    pub fn set_targets(&self, targets: &[NotifyTarget]) {
        self.targets.store(Arc::new(targets.to_vec()));
    }

    /// Waits `first` before the first retry instead of [`FIRST_RETRY`] (tests).
    pub fn set_first_retry(&self, first: Duration) {
        self.first_retry_ms
            .store(first.as_millis().max(1) as u64, Ordering::Relaxed);
    }

    /// Whether any receiver wants `event`: callers skip building a notice otherwise.
    pub fn wants(&self, event: Event) -> bool {
        self.targets
            .load()
            .iter()
            .any(|t| t.events.contains(&event))
    }

    /// Queues `notice` without waiting; a full queue drops it (counted).
    pub fn send(&self, notice: Notice) {
        if !self.wants(notice.event) {
            return;
        }
        if let Err(error) = self.sender.try_send(notice) {
            let notice = match error {
                mpsc::error::TrySendError::Full(n) | mpsc::error::TrySendError::Closed(n) => n,
            };
            count(notice.event, "dropped");
        }
    }

    /// The last failed deliveries, newest first.
    pub fn failures(&self) -> Vec<Failure> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.iter().rev().cloned().collect()
    }

    /// Delivers queued notices until `shutdown` turns true; once per notifier.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let receiver = self
            .receiver
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(mut receiver) = receiver else {
            return;
        };
        loop {
            let notice = tokio::select! {
                notice = receiver.recv() => notice,
                _ = shutdown.wait_for(|stop| *stop) => return,
            };
            match notice {
                Some(notice) => self.dispatch(notice),
                None => return,
            }
        }
    }

    /// Starts one delivery per receiver that wants the notice.
    fn dispatch(&self, notice: Notice) {
        let first = Duration::from_millis(self.first_retry_ms.load(Ordering::Relaxed));
        for target in self.targets.load().iter() {
            if !target.events.contains(&notice.event) {
                continue;
            }
            if self.pending.fetch_add(1, Ordering::Relaxed) >= MAX_PENDING {
                self.pending.fetch_sub(1, Ordering::Relaxed);
                count(notice.event, "dropped");
                continue;
            }
            let delivery = deliver::Delivery {
                client: self.client.clone(),
                target: target.clone(),
                notice: notice.clone(),
                first_retry: first,
                failures: self.failures.clone(),
            };
            let pending = self.pending.clone();
            tokio::spawn(async move {
                delivery.run().await;
                pending.fetch_sub(1, Ordering::Relaxed);
            });
        }
    }
}

/// The `result` label's values.
pub const RESULTS: [&str; 4] = ["delivered", "failed", "gave-up", "dropped"];

/// Counts one outcome: `delivered`, `failed` (a try that will be retried), `gave-up`,
/// `dropped`.
fn count(event: Event, result: &'static str) {
    metrics::counter!("strangler_notifications_total", "event" => event.code(), "result" => result)
        .increment(1);
}

/// Keeps `failure`, forgetting the oldest beyond [`KEPT_FAILURES`].
fn remember(failures: &Mutex<VecDeque<Failure>>, failure: Failure) {
    let mut failures = failures.lock().unwrap_or_else(|p| p.into_inner());
    if failures.len() == KEPT_FAILURES {
        failures.pop_front();
    }
    failures.push_back(failure);
}
