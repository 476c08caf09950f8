//! Stopping the proxy as `strangler run` does on SIGTERM: it stops accepting at once, lets
//! requests in flight finish within the grace period, then stops.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::support::{eventually, send, Backend, Config, Proxy};

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_drains_requests_in_flight_and_refuses_new_ones() {
    let legacy = Backend::echo("legacy").await;
    let proxy = Proxy::start(&Config::new(&legacy)).await;
    let addr = proxy.running().proxy_addr();
    let in_flight = tokio::spawn(send(proxy.get("/_echo/slow/700")));
    eventually(
        Duration::from_secs(5),
        "the slow request reached legacy",
        || async { legacy.hits() == 1 },
    )
    .await;

    let started = Instant::now();
    proxy.shutdown(Duration::from_secs(10)).await;
    let answer = in_flight.await.expect("request task");
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body, "slow answer\n");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "drained in {:?}",
        started.elapsed()
    );

    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let after = client.get(format!("http://{addr}/home")).send().await;
    assert!(after.is_err(), "a stopped proxy still answered: {after:?}");
}
