//! The guard's evaluator: once a second, on the control runtime, each guarded route's
//! window is judged against its `guard:` and a breach rolls the route back.
//!
//! A trip sends the route to legacy in this process at once (an in-process kill switch
//! folded over the current flags), then records it in the flag store through the same
//! path as an admin change: one [`Change::GuardTrip`] entry by the actor `guard` whose
//! comment and body carry the figures, turning the kill switch on and pausing a running
//! ramp. The store's answer then replaces the in-process override. While the store cannot
//! record it the route stays on legacy in this process and the write is retried every
//! second. A store that finds the kill switch on already (another instance tripped first)
//! records nothing.
//!
//! After a trip the guard only waits: it never clears the kill switch and never resumes a
//! ramp. When a human clears the kill switch the window restarts and it watches again.

use std::sync::Arc;
use std::time::Duration;

use strangler_control::{Change, ControlError, Overrides};
use strangler_flags::guard::Breach;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::live::config::LiveConfig;
use crate::live::flag_store::{FlagStore, FlagStoreError, CONNECT_TIMEOUT};
use crate::resilience::guard::{guarded, GuardState, Guards, Trip};
use crate::resilience::guard_window::RouteWindow;

/// How often every guarded route is judged.
pub const TICK: Duration = Duration::from_secs(1);
/// The actor of the guard's audit entries.
pub const ACTOR: &str = "guard";

/// What the evaluator does next for one route.
enum Step {
    Nothing,
    /// A breach: roll the route back.
    Trip(Breach),
    /// The store has not recorded the last trip yet.
    Retry,
}

/// Judges every guarded route every [`TICK`] until `shutdown` turns true.
pub async fn run(
    guards: Arc<Guards>,
    live: Arc<LiveConfig>,
    flags: Arc<FlagStore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        evaluate(&guards, &live, &flags).await;
    }
}

/// One pass over the guarded routes of the snapshot serving now.
async fn evaluate(guards: &Guards, live: &LiveConfig, flags: &FlagStore) {
    let loaded = live.current();
    guards.follow(&loaded.file);
    let table = guards.table();
    let now = guards.now();
    for (route, window) in guarded(&table) {
        let killed = loaded.snapshot.route(route).is_some_and(|r| r.killed());
        match step(guards, route, window, killed, now) {
            Step::Nothing => {}
            Step::Trip(breach) => trip(guards, live, flags, route, breach).await,
            Step::Retry => {
                if let Err(error) = record(guards, live, flags, route).await {
                    tracing::debug!(target: "strangler::guard", route, %error, "the guard's trip is still not recorded");
                }
            }
        }
        let state = guards.watches().get(route).map(|w| w.state);
        let state = state.unwrap_or(GuardState::Watching);
        metrics::gauge!("strangler_guard_state", "route" => route.to_owned()).set(state.gauge());
    }
}

/// Moves one route's state on: a kill switch seen or cleared, a breach, a pending write.
fn step(guards: &Guards, route: &str, window: &RouteWindow, killed: bool, now: u64) -> Step {
    let mut watches = guards.watches();
    let Some(watch) = watches.get_mut(route) else {
        return Step::Nothing;
    };
    match (watch.state, killed) {
        (GuardState::Pending, _) => Step::Retry,
        (GuardState::Watching, true) => {
            watch.state = GuardState::Killed;
            Step::Nothing
        }
        (GuardState::Watching, false) => window
            .policy()
            .evaluate(&window.counts(now))
            .map_or(Step::Nothing, Step::Trip),
        (GuardState::Tripped | GuardState::Killed, true) => Step::Nothing,
        (GuardState::Tripped | GuardState::Killed, false) => {
            window.restart(now);
            watch.state = GuardState::Watching;
            tracing::info!(target: "strangler::guard", route, "kill switch cleared: the guard watches the new side again, its window restarted");
            Step::Nothing
        }
    }
}

/// Rolls `route` back: legacy at once in this process, then the store's record.
async fn trip(guards: &Guards, live: &LiveConfig, flags: &FlagStore, route: &str, breach: Breach) {
    metrics::counter!("strangler_guard_trips_total", "route" => route.to_owned()).increment(1);
    let (figures, limits) = (&breach.figures, &breach.limits);
    let reason: Vec<&str> = breach.exceeded.iter().map(|e| e.code()).collect();
    tracing::warn!(
        target: "strangler::guard",
        route,
        reason = %reason.join(","),
        requests = figures.requests,
        errors = figures.errors,
        error_rate = figures.error_rate,
        p95_ms = figures.p95_ms,
        max_error_rate = limits.max_error_rate,
        max_p95_ms = limits.max_p95_ms,
        window_s = limits.window_seconds,
        "guard tripped: the route goes to legacy"
    );
    if let Some(watch) = guards.watches().get_mut(route) {
        watch.state = GuardState::Pending;
        watch.last_trip = Some(Trip {
            at: OffsetDateTime::now_utc(),
            breach,
            entry: None,
        });
    }
    kill_locally(live, route);
    if let Err(error) = record(guards, live, flags, route).await {
        tracing::error!(target: "strangler::guard", route, %error, "the flag store did not record the guard's trip: the route goes to legacy in this process only until it does; retrying every second");
    }
}

/// Writes the pending trip of `route` to the store; on failure keeps the route on legacy
/// in this process and leaves the trip pending for the next tick.
async fn record(
    guards: &Guards,
    live: &LiveConfig,
    flags: &FlagStore,
    route: &str,
) -> Result<(), FlagStoreError> {
    let pending = guards
        .watches()
        .get(route)
        .and_then(|w| w.last_trip.clone());
    let Some(trip) = pending else {
        return Ok(());
    };
    let summary = trip.breach.summary();
    let change = Change::GuardTrip {
        route: route.to_owned(),
        breach: trip.breach,
    };
    let written = tokio::time::timeout(CONNECT_TIMEOUT, flags.apply(change, ACTOR, Some(&summary)))
        .await
        .unwrap_or(Err(FlagStoreError::Timeout(CONNECT_TIMEOUT)));
    let (state, entry) = match written {
        Ok(entry) => {
            tracing::info!(target: "strangler::guard", route, entry = entry.id, "guard trip recorded in the flag store");
            (GuardState::Tripped, Some(entry.id))
        }
        Err(FlagStoreError::Control(ControlError::AlreadyKilled(_))) => {
            tracing::info!(target: "strangler::guard", route, "the kill switch was on already (another instance tripped first): nothing recorded");
            (GuardState::Tripped, None)
        }
        Err(error) => {
            keep_on_legacy(live, route);
            return Err(error);
        }
    };
    if let Some(watch) = guards.watches().get_mut(route) {
        watch.state = state;
        if let Some(trip) = &mut watch.last_trip {
            trip.entry = entry;
        }
    }
    Ok(())
}

/// The store could not record the trip: the route stays on legacy here, again if a read
/// of the store replaced the in-process override meanwhile.
fn keep_on_legacy(live: &LiveConfig, route: &str) {
    let snapshot = live.current().snapshot.clone();
    if !snapshot.route(route).is_some_and(|r| r.killed()) {
        kill_locally(live, route);
    }
}

/// Folds a kill switch for `route` over the flags this process applies now. The store
/// does not know of it; its next read that moved replaces it.
fn kill_locally(live: &LiveConfig, route: &str) {
    let mut overrides = Overrides::clone(&live.overrides());
    overrides.routes.entry(route.to_owned()).or_default().killed = true;
    live.apply_overrides(overrides);
}
