//! The shadow runtime takes jobs in per burst, not per job (`proxy/src/shadow/intake.rs`):
//! a burst of shadowed requests, sent while it is busy, and a request sent after it went
//! back to waiting on its queue are all compared.

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::scripted::Scripted;
use crate::support::shadowing::{one_route, route_report};
use crate::support::{send, Proxy};

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_and_a_request_after_the_intake_went_idle_are_all_compared() {
    let answer = |_: u64, _: &_| json!({"ok": true});
    let (legacy, new) = (Scripted::start(answer).await, Scripted::start(answer).await);
    let route = "intake";
    let proxy = Proxy::start(&one_route(&legacy, &new, route, "{ noise: 0 }")).await;
    let burst = (0..40).map(|i| send(proxy.get_as(&format!("t{i}"), "/api/burst")));
    for answer in join_all(burst).await {
        assert_eq!(answer.status, StatusCode::OK);
    }
    let report = route_report(&proxy, route, 40).await;
    assert_eq!(report["compared"], 40, "{report}");
    // Many ticks (2 ms) later, the intake has found its queue empty and waits on it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let late = send(proxy.get_as("late", "/api/late")).await;
    assert_eq!(late.status, StatusCode::OK);
    let report = route_report(&proxy, route, 41).await;
    assert_eq!(report["compared"], 41, "{report}");
    let late_mirrored = new
        .mirrored()
        .iter()
        .filter(|r| r.target == "/api/late")
        .count();
    assert_eq!(late_mirrored, 1, "the late request reached the shadow side");
}
