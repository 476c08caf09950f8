//! The worker threads as routes.yaml sets them: `work_stealing: false` gives each worker a
//! runtime of its own and still serves every connection; `alt_timer: true` in a build
//! without tokio's alternative timer is refused (at start here; a reload and `strangler
//! check` refuse it the same way), not ignored.

use crate::support::{send, Backend, Config, Proxy};

#[tokio::test(flavor = "multi_thread")]
async fn workers_that_do_not_steal_serve_every_connection_and_stop() {
    let legacy = Backend::echo("legacy").await;
    // Config::new sets `threads: 2`: two single-threaded runtimes, connections spread over
    // them at random.
    let config = Config::new(&legacy).section("work_stealing: false");
    let proxy = Proxy::start(&config).await;
    let mut clients = Vec::new();
    for _ in 0..8 {
        // A client each, so the requests arrive on several connections.
        let client = reqwest::Client::new();
        let url = proxy.url("/hello");
        clients.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..5 {
                statuses.push(send(client.get(&url)).await.status.as_u16());
            }
            statuses
        }));
    }
    for client in clients {
        assert_eq!(client.await.unwrap(), [200; 5]);
    }
    assert_eq!(legacy.hits(), 40);
    // A graceful stop joins each worker's runtime: it must return, not hang on one.
    proxy.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_alternative_timer_without_tokio_unstable_is_refused_at_start() {
    let legacy = Backend::echo("legacy").await;
    let error = Proxy::refused(&Config::new(&legacy).section("alt_timer: true")).await;
    assert!(error.contains("tokio_unstable"), "{error}");
}
