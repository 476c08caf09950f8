//! The guard's evaluator: once a second, on the control runtime, each guarded route's
//! window is judged against its `guard:` and a breach rolls the route back.
//!
//! A trip sends the route to legacy in this process at once (a kill switch held by the
//! flag store's side of this process, folded over every read and written to the flag
//! cache, see [`crate::live::held_trips`]), then records it in the flag store through the
//! same path as an admin change: one [`Change::GuardTrip`] entry by the actor `guard` whose
//! comment and body carry the figures, turning the kill switch on and pausing a running
//! ramp. The store's answer then releases the held kill. While the store cannot record it
//! the route stays on legacy in this process and the write is retried every second; a
//! restart meanwhile finds the trip in the cache, holds it again and goes on retrying
//! ([`resume`]). A store that finds the kill switch on already (another instance tripped
//! first) records nothing.
//!
//! After a trip the guard only waits: it never clears the kill switch and never resumes a
//! ramp. When a human clears the kill switch the window restarts and it watches again.

use std::sync::Arc;
use std::time::Duration;

use strangler_control::{Change, ControlError};
use strangler_flags::guard::Breach;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::live::config::LiveConfig;
use crate::live::flag_store::{FlagStore, FlagStoreError, CONNECT_TIMEOUT};
use crate::live::held_trips::HeldTrip;
use crate::resilience::guard::{guarded, GuardState, Guards};
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

/// Takes up the trips an earlier run held but the store never recorded (read from the flag
/// cache at start): pending again, retried from the first tick of [`run`]. A held trip of a
/// route that has no `guard:` any more is let go, with a warning: nothing would record it.
pub async fn resume(guards: &Guards, flags: &FlagStore) {
    for (route, held) in flags.held() {
        if guards.set_pending(&route, held.at, held.breach) {
            tracing::warn!(target: "strangler::guard", route, tripped_at = %held.at, "a trip the flag store has not recorded yet (held in the flag cache): the route stays on legacy; recording it once the store answers");
        } else {
            tracing::warn!(target: "strangler::guard", route, tripped_at = %held.at, "the flag cache holds a trip the flag store never recorded, but the route has no guard: any more; its kill switch is let go");
            flags.release(&route).await;
        }
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
            Step::Trip(breach) => trip(guards, flags, route, breach).await,
            Step::Retry => {
                if let Err(error) = record(guards, flags, route).await {
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
async fn trip(guards: &Guards, flags: &FlagStore, route: &str, breach: Breach) {
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
    let at = OffsetDateTime::now_utc();
    guards.set_pending(route, at, breach.clone());
    flags.hold(route, HeldTrip { at, breach }).await;
    if let Err(error) = record(guards, flags, route).await {
        tracing::error!(target: "strangler::guard", route, %error, "the flag store did not record the guard's trip: the route goes to legacy in this process only until it does; retrying every second");
    }
}

/// Writes the pending trip of `route` to the store and lets the held kill go; on failure
/// the route stays on legacy (the kill is held) and the trip pending for the next tick.
async fn record(guards: &Guards, flags: &FlagStore, route: &str) -> Result<(), FlagStoreError> {
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
        Err(error) => return Err(error),
    };
    flags.release(route).await;
    if let Some(watch) = guards.watches().get_mut(route) {
        watch.state = state;
        if let Some(trip) = &mut watch.last_trip {
            trip.entry = entry;
        }
    }
    Ok(())
}
