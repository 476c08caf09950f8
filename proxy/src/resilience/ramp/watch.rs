//! The ramp evaluator: every tick, on the control runtime, each ramped route's step is
//! judged on the fleet's evidence and moved on through the flag store.
//!
//! Per tick and route: a route whose routes.yaml has `rollout.ramp` and whose store has no
//! ramp gets it started (a `SetRamp` that the store refuses when another instance started
//! it first); this instance's counts of the current step are published; then, unless the
//! ramp is paused, the route killed or no step is left, the step is judged
//! ([`strangler_flags::ramp::RampPlan::judge`]) on the sum of every instance's counts and,
//! when time and requests allow, the shadow comparisons since the step began:
//! - advance: an `AdvanceRamp` from the step the ramp is at, which the store refuses if
//!   another instance advanced first, so each step is one audit entry by the actor `ramp`;
//! - trip: a `GuardTrip` (kill switch on, ramp paused) with the figures, as the guard does;
//! - wait: the reason is kept for the admin API and the console.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use strangler_control::{Change, ControlError, Ramp};
use strangler_flags::guard::Breach;
use strangler_flags::ramp::{Evidence, RampPlan, ShadowEvidence, Verdict, Waiting};
use strangler_flags::Route;
use strangler_shadow::Verdict as Compared;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::{Ramps, ACTOR};
use crate::live::config::LiveConfig;
use crate::live::flag_store::{FlagStore, FlagStoreError};
use crate::shadow::diff_writer::SharedStore;
use crate::telemetry::notify::Notice;
use strangler_flags::config::notify::Event;

/// What the evaluator needs besides the ramps.
pub struct Sources {
    /// routes.yaml and the overrides serving now.
    pub live: Arc<LiveConfig>,
    /// The flag store, where ramps move and evidence is shared.
    pub flags: Arc<FlagStore>,
    /// The diff store, for the match rate of shadowed routes.
    pub diffs: SharedStore,
}

/// Judges every ramp every tick until `shutdown` turns true.
pub async fn run(ramps: Arc<Ramps>, sources: Sources, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(ramps.timing().tick);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        if let Err(error) = evaluate(&ramps, &sources).await {
            tracing::debug!(target: "strangler::ramp", %error, "ramps not judged this tick");
        }
    }
}

/// One pass over the routes of the snapshot serving now.
async fn evaluate(ramps: &Ramps, sources: &Sources) -> Result<(), FlagStoreError> {
    let loaded = sources.live.current();
    let overrides = sources.live.overrides();
    let stored: BTreeMap<&str, &Ramp> = overrides
        .routes
        .iter()
        .filter_map(|(name, route)| Some((name.as_str(), route.ramp.as_ref()?)))
        .collect();
    ramps.follow(&loaded.file, &stored);
    let now = ramps.timing().clock.now();
    for route in loaded.file.routes() {
        let name = route.name();
        match (stored.get(name), route.ramp()) {
            (None, Some(plan)) => start(sources, name, plan, now).await?,
            (None, None) => ramps.set_status(name, None),
            (Some(ramp), _) => {
                let serving = loaded.snapshot.route(name);
                let killed = serving.is_some_and(|r| r.killed());
                let percent = serving.map_or(0, |r| r.percent_basis_points());
                let at = Position {
                    killed,
                    percent,
                    now,
                };
                judge(ramps, sources, route, ramp, at).await?;
            }
        }
    }
    Ok(())
}

/// Starts routes.yaml's ramp of `name` in the store, unless another instance did.
async fn start(
    sources: &Sources,
    name: &str,
    plan: &RampPlan,
    now: OffsetDateTime,
) -> Result<(), FlagStoreError> {
    let change = Change::SetRamp {
        route: name.to_owned(),
        plan: plan.clone(),
        from_file: true,
    };
    let comment = "rollout.ramp of routes.yaml started";
    match sources
        .flags
        .apply_at(change, ACTOR, Some(comment), now)
        .await
    {
        Ok(entry) => {
            tracing::info!(target: "strangler::ramp", route = name, entry = entry.id, "ramp started");
            Ok(())
        }
        Err(FlagStoreError::Control(ControlError::RampMoved { .. })) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Where the route stands in the snapshot serving now.
struct Position {
    killed: bool,
    percent: u16,
    now: OffsetDateTime,
}

/// Publishes this instance's counts of the step, then judges it and acts.
async fn judge(
    ramps: &Ramps,
    sources: &Sources,
    route: &Route,
    ramp: &Ramp,
    at: Position,
) -> Result<(), FlagStoreError> {
    let name = route.name();
    let store = sources.flags.store()?;
    if let Some(counter) = ramps.counter(name) {
        let now_ms = (at.now.unix_timestamp_nanos() / 1_000_000) as i64;
        let counts = counter.counts();
        let instance = ramps.instance();
        store
            .publish_evidence(name, ramp.since_ms(), instance, &counts, now_ms)
            .await?;
    }
    let next = ramp.plan.next_step(ramp.step, at.percent);
    let state = match (ramp.paused_at, at.killed, next) {
        (Some(_), _, _) => Some("paused"),
        (None, true, _) => Some("killed"),
        (None, false, None) => Some("done"),
        (None, false, Some(_)) => None,
    };
    if let Some(state) = state {
        ramps.set_status(name, Some(status(ramp, at.percent, state, None, None)));
        return Ok(());
    }
    let evidence = gather(sources, route, ramp, at.now).await?;
    let verdict = ramp.plan.judge(&evidence);
    let shown = |state, waiting| status(ramp, at.percent, state, waiting, Some(&evidence));
    match verdict {
        Verdict::Advance => {
            ramps.set_status(name, Some(shown("advancing", None)));
            let to = next.unwrap_or(ramp.step);
            advance(sources, name, ramp, to, &evidence, at.now).await
        }
        Verdict::Wait(waiting) => {
            ramps.set_status(name, Some(shown("waiting", Some(&waiting))));
            notice_waiting(ramps, sources, name, ramp, &waiting, at.now).await
        }
        Verdict::Trip(breach) => {
            ramps.set_status(name, Some(shown("tripped", None)));
            trip(sources, name, breach, at.now).await
        }
    }
}

/// The fleet's evidence of the step; the shadow comparisons are read only once the rest
/// would let the step advance (they are many rows).
async fn gather(
    sources: &Sources,
    route: &Route,
    ramp: &Ramp,
    now: OffsetDateTime,
) -> Result<Evidence, FlagStoreError> {
    let store = sources.flags.store()?;
    let counts = store.step_evidence(route.name(), ramp.since_ms()).await?;
    let elapsed = (now - ramp.since).whole_seconds().max(0) as u64;
    let mut evidence = Evidence {
        elapsed_seconds: elapsed,
        counts,
        shadow: None,
    };
    let gated = route.shadow().is_some() && ramp.plan.gates.min_match_rate.is_some();
    if gated && ramp.plan.judge(&evidence) == Verdict::Advance {
        evidence.shadow = Some(shadow(sources, route.name(), ramp.since_ms()).await);
    }
    Ok(evidence)
}

/// The shadow comparisons of `route` since `since_ms` (none while the diff store is not
/// connected, which holds the step).
async fn shadow(sources: &Sources, route: &str, since_ms: i64) -> ShadowEvidence {
    let Some(diffs) = sources.diffs.get() else {
        return ShadowEvidence::default();
    };
    let comparisons = diffs.comparisons(Some(route), since_ms).await;
    let counted = diffs.counted(Some(route), since_ms).await;
    let verdicts = comparisons
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.verdict, 1))
        .chain(
            counted
                .unwrap_or_default()
                .into_iter()
                .map(|c| (c.verdict, c.count)),
        );
    let mut evidence = ShadowEvidence::default();
    for (verdict, count) in verdicts {
        match verdict {
            Compared::Match | Compared::NoiseOnly => {
                evidence.compared += count;
                evidence.matched += count;
            }
            // The shadow failing to answer is a comparison the new side did not pass.
            Compared::Mismatch | Compared::Unsettled | Compared::ShadowError => {
                evidence.compared += count
            }
            Compared::Skipped | Compared::PrimaryError => {}
        }
    }
    evidence
}

/// Records the step's advance; another instance that advanced first wins quietly.
async fn advance(
    sources: &Sources,
    name: &str,
    ramp: &Ramp,
    to: usize,
    evidence: &Evidence,
    now: OffsetDateTime,
) -> Result<(), FlagStoreError> {
    let change = Change::AdvanceRamp {
        route: name.to_owned(),
        from: ramp.step,
        to,
        forced: false,
    };
    let policy = ramp.plan.policy();
    let figures = policy.figures(&evidence.counts);
    let comment = format!(
        "step {} -> {}: {}% -> {}%; {} requests, error rate {:.2}%, p95 {}",
        ramp.step,
        to,
        percent(ramp.plan.steps[ramp.step]),
        percent(ramp.plan.steps[to]),
        figures.requests,
        figures.error_rate,
        figures.p95_ms.map_or("-".into(), |ms| format!("{ms}ms")),
    );
    match sources
        .flags
        .apply_at(change, ACTOR, Some(&comment), now)
        .await
    {
        Ok(entry) => {
            tracing::info!(target: "strangler::ramp", route = name, entry = entry.id, %comment, "ramp advanced");
            Ok(())
        }
        Err(FlagStoreError::Control(ControlError::RampMoved { .. })) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Sends `ramp-waiting` once per step and gate across the fleet: when the step's time is
/// up and a gate holds it, the instance that claims the notice in the store sends it.
async fn notice_waiting(
    ramps: &Ramps,
    sources: &Sources,
    name: &str,
    ramp: &Ramp,
    waiting: &Waiting,
    now: OffsetDateTime,
) -> Result<(), FlagStoreError> {
    let notifier = sources.live.notifier();
    if waiting.gate == "every" || !notifier.wants(Event::RampWaiting) {
        return Ok(());
    }
    let id = format!("ramp-waiting-{name}-{}-{}", ramp.since_ms(), waiting.gate);
    if !ramps.first_notice(&id) || !sources.flags.store()?.claim_notice(&id, now).await? {
        return Ok(());
    }
    notifier.send(Notice {
        event: Event::RampWaiting,
        id,
        at: now,
        route: Some(name.to_owned()),
        summary: format!("ramp of {name} at step {} waiting: {waiting}", ramp.step),
        details: json!({ "step": ramp.step, "gate": waiting.gate, "figure": waiting.figure, "limit": waiting.limit }),
    });
    Ok(())
}

/// Hands a hard gate failure to the guard's rollback: kill switch on, ramp paused.
async fn trip(
    sources: &Sources,
    name: &str,
    breach: Breach,
    now: OffsetDateTime,
) -> Result<(), FlagStoreError> {
    let comment = format!("ramp gate failed; {}", breach.summary());
    tracing::warn!(target: "strangler::ramp", route = name, %comment, "ramp gate failed: the route goes to legacy");
    let change = Change::GuardTrip {
        route: name.to_owned(),
        breach,
    };
    match sources
        .flags
        .apply_at(change, ACTOR, Some(&comment), now)
        .await
    {
        Ok(_) | Err(FlagStoreError::Control(ControlError::AlreadyKilled(_))) => Ok(()),
        Err(error) => Err(error),
    }
}

/// The admin API's view of one ramp.
fn status(
    ramp: &Ramp,
    percent_bp: u16,
    state: &str,
    waiting: Option<&Waiting>,
    evidence: Option<&Evidence>,
) -> serde_json::Value {
    let plan = &ramp.plan;
    let gates = &plan.gates;
    let evidence = evidence.map(|evidence| {
        let figures = plan.policy().figures(&evidence.counts);
        json!({
            "elapsed_seconds": evidence.elapsed_seconds,
            "requests": figures.requests,
            "errors": figures.errors,
            "error_rate": figures.error_rate,
            "p95_ms": figures.p95_ms,
            "comparisons": evidence.shadow.map(|s| s.compared),
            "matched": evidence.shadow.map(|s| s.matched),
        })
    });
    json!({
        "state": state,
        "waiting": waiting.map(ToString::to_string),
        "step": ramp.step,
        "steps": plan.steps.iter().map(|bp| percent(*bp)).collect::<Vec<_>>(),
        "percent": percent(percent_bp),
        "since": ramp.since.format(&time::format_description::well_known::Rfc3339).ok(),
        "every_seconds": plan.every_seconds,
        "paused": ramp.paused_at.is_some(),
        "from_file": ramp.from_file,
        "gates": {
            "max_error_rate": gates.max_error_rate.map(percent),
            "max_p95_ms": gates.max_p95_ms,
            "min_requests": gates.min_requests,
            "min_match_rate": gates.min_match_rate.map(percent),
            "min_comparisons": gates.min_comparisons,
        },
        "evidence": evidence,
    })
}

/// Basis points as a percent.
fn percent(basis_points: u16) -> f64 {
    f64::from(basis_points) / 100.0
}
