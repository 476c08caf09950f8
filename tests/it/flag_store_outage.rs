//! The flag store going away and coming back: an instance keeps routing on the last flags it
//! has and says it is degraded, refuses flag changes it could not record, and honours what
//! changed in the store meanwhile once the store answers again; an instance started during
//! the outage serves routes.yaml with the flags cached by an earlier run. On PostgreSQL the
//! outage is a relay the test cuts (skipped with a note without `STRANGLER_TEST_POSTGRES_URL`);
//! on SQLite it is a directory that does not exist yet.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use strangler_control::testing::PostgresDatabase;
use strangler_control::{Change, Database};
use strangler_flags::Side;

use crate::runtime_flags::{flags_proxy_with, Flags};
use crate::support::eventually;
use crate::support::metrics::sample;
use crate::support::relay::Relay;
use crate::support::scratch::Scratch;

/// How long catching up may take: the longest retry wait (5 s), a connect and a read.
const CATCH_UP: Duration = Duration::from_secs(10);

impl Flags {
    /// `/admin/config`'s `flag_store`.
    async fn store_health(&self) -> Value {
        let (status, config) = self.call(Method::GET, "/admin/config", None).await;
        assert_eq!(status, StatusCode::OK, "{config}");
        config["flag_store"].clone()
    }

    /// `/readyz`: status and body.
    async fn readyz(&self) -> (StatusCode, String) {
        self.proxy.admin_get("/readyz").await
    }
}

/// Sets tenant sides straight in the store, as another instance would.
async fn set_in_store(url: &str, tenants: &[(&str, Side)]) {
    let store = Database::connect(url)
        .await
        .expect("the store, directly")
        .flags();
    let tenants: BTreeMap<String, Side> =
        tenants.iter().map(|(t, s)| (t.to_string(), *s)).collect();
    let change = Change::SetTenants {
        route: "invoices".into(),
        tenants,
    };
    store
        .apply(change, "on-call", Some("during the outage"), &|_| true)
        .await
        .expect("a change in the store");
}

/// `strangler_flag_store_up` of `store`.
async fn store_up(f: &Flags, store: &str) -> f64 {
    let page = f.proxy.metrics().await;
    sample(&page, "strangler_flag_store_up", &[("store", store)])
}

/// The store URL as the proxy names it (without credentials).
fn label(url: &str) -> String {
    strangler::without_credentials(url)
}

#[tokio::test(flavor = "multi_thread")]
async fn flags_hold_through_a_store_outage_and_changes_made_meanwhile_apply_after() {
    let db = PostgresDatabase::create().await;
    let (relay, via_relay) = Relay::in_front_of(&db).await;
    let f = flags_proxy_with(|config| config.store(&via_relay)).await;
    assert_eq!(f.set_side("acme", "new").await.0, StatusCode::OK);
    assert_eq!(f.side_of("acme").await, "billing");
    assert_eq!(f.store_health().await["state"], "connected");
    assert_eq!(store_up(&f, &label(&via_relay)).await, 1.0);

    relay.cut();
    eventually(CATCH_UP, "the proxy reports the store degraded", || async {
        f.store_health().await["state"] == "degraded"
    })
    .await;
    assert_eq!(f.side_of("acme").await, "billing", "the last flags serve");
    let (status, refused) = f.set_side("globex", "new").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    let message = refused["error"].as_str().unwrap_or_default();
    assert!(message.starts_with("the flag store failed: "), "{refused}");
    let (status, ready) = f.readyz().await;
    assert_eq!(status, StatusCode::OK, "degraded is still ready");
    assert!(ready.contains("flag store degraded since"), "{ready}");
    assert_eq!(store_up(&f, &label(&via_relay)).await, 0.0);

    set_in_store(db.url(), &[("acme", Side::Legacy)]).await;
    assert_eq!(
        f.side_of("acme").await,
        "billing",
        "the store is out of reach"
    );

    relay.restore();
    eventually(
        CATCH_UP,
        "the change made during the outage applies",
        || async { f.side_of("acme").await == "legacy" },
    )
    .await;
    let health = f.store_health().await;
    assert_eq!(health["state"], "connected", "{health}");
    assert_eq!(health["flags_version"], 2, "{health}");
    assert_eq!(store_up(&f, &label(&via_relay)).await, 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_started_during_an_outage_serves_the_cached_flags_then_catches_up() {
    let db = PostgresDatabase::create().await;
    let (relay, via_relay) = Relay::in_front_of(&db).await;
    let cache_dir = Scratch::new();
    let cache = cache_dir.path().join("flags-cache.json");
    let with_store = |config: crate::support::Config| config.store(&via_relay).store_cache(&cache);
    let first = flags_proxy_with(with_store).await;
    assert_eq!(first.set_side("acme", "new").await.0, StatusCode::OK);
    eventually(
        CATCH_UP,
        "the first instance caches acme's side",
        || async { cached(&cache).contains("acme") },
    )
    .await;
    drop(first);

    relay.cut();
    set_in_store(db.url(), &[("acme", Side::Legacy), ("globex", Side::New)]).await;
    let second = flags_proxy_with(with_store).await;
    assert_eq!(second.side_of("acme").await, "billing", "the cached side");
    assert_eq!(
        second.side_of("globex").await,
        "legacy",
        "routes.yaml's 0 %"
    );
    let health = second.store_health().await;
    assert_eq!(health["state"], "degraded", "{health}");
    assert_eq!(health["flags_source"], "cache", "{health}");
    assert_eq!(health["flags_version"], 1, "{health}");
    let (status, ready) = second.readyz().await;
    assert_eq!(status, StatusCode::OK);
    assert!(ready.contains("from the cache"), "{ready}");
    let (status, refused) = second.set_side("initech", "new").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    let message = refused["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("has not answered since this instance started"),
        "{refused}"
    );

    relay.restore();
    eventually(
        CATCH_UP,
        "the store's sides replace the cached ones",
        || async {
            second.side_of("acme").await == "legacy" && second.side_of("globex").await == "billing"
        },
    )
    .await;
    let health = second.store_health().await;
    assert_eq!(health["state"], "connected", "{health}");
    assert_eq!(health["flags_source"], "store", "{health}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_outage_is_noticed_within_two_seconds_and_changes_meanwhile_are_refused_at_once() {
    let db = PostgresDatabase::create().await;
    let (mut relay, via_relay) = Relay::in_front_of(&db).await;
    let f = flags_proxy_with(|config| config.store(&via_relay)).await;
    assert_eq!(f.set_side("acme", "new").await.0, StatusCode::OK);

    relay.stop();
    let cut = Instant::now();
    eventually(CATCH_UP, "the proxy reports the store degraded", || async {
        f.store_health().await["state"] == "degraded"
    })
    .await;
    let noticed = cut.elapsed();
    assert!(
        noticed < Duration::from_secs(2),
        "noticed after {noticed:?}"
    );
    for tenant in ["globex", "initech", "umbrella"] {
        let started = Instant::now();
        let (status, refused) = f.set_side(tenant, "new").await;
        let took = started.elapsed();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
        let message = refused["error"].as_str().unwrap_or_default();
        assert!(message.contains("is down since"), "{refused}");
        assert!(took < Duration::from_millis(600), "refused after {took:?}");
    }

    relay.resume(db.server_addr().await).await;
    let started = Instant::now();
    eventually(
        CATCH_UP,
        "a change goes through once the store is back",
        || async { f.set_side("globex", "new").await.0 == StatusCode::OK },
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a change waited for the poll: {:?}",
        started.elapsed()
    );
    eventually(
        CATCH_UP,
        "the proxy reports the store connected",
        || async { f.store_health().await["state"] == "connected" },
    )
    .await;
}

/// The cache file's text ("" while there is none).
fn cached(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A cache file holding `acme: new` at version 0 for `store`, as a run against another
/// database of the same name could have left.
fn write_cache(path: &Path, store: &str, text: Option<&str>) {
    let cached = json!({
        "format": 1,
        "store": store,
        "read_at": "2026-11-30T12:00:00Z",
        "overrides": {
            "version": 0,
            "global_kill": false,
            "global_kill_set_by": null,
            "routes": { "invoices": { "tenants": { "acme": "new" } } },
            "set_by": {},
        },
    });
    let text = text.map_or_else(|| cached.to_string(), str::to_string);
    std::fs::write(path, text).expect("writing the cache");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cached_flag_gives_way_to_the_store_once_it_answers_even_at_the_same_version() {
    let scratch = Scratch::new();
    let dir = scratch.path().join("not-yet");
    let store = format!("sqlite://{}/flags.db", dir.display());
    let cache = scratch.path().join("flags-cache.json");
    write_cache(&cache, &store, None);
    let f = flags_proxy_with(|config| config.store(&store).store_cache(&cache)).await;
    assert_eq!(
        f.side_of("acme").await,
        "billing",
        "the cached side, store unreachable"
    );
    assert_eq!(f.store_health().await["flags_source"], "cache");

    std::fs::create_dir_all(&dir).expect("the store's directory");
    eventually(CATCH_UP, "the empty store replaces the cache", || async {
        f.side_of("acme").await == "legacy"
    })
    .await;
    assert_eq!(f.store_health().await["state"], "connected");
    eventually(CATCH_UP, "the cache follows the store", || async {
        !cached(&cache).contains("acme")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_cache_is_ignored_and_routes_yaml_serves_alone() {
    let scratch = Scratch::new();
    let store = format!("sqlite://{}/missing/flags.db", scratch.path().display());
    let cache = scratch.path().join("flags-cache.json");
    write_cache(&cache, &store, Some("{\"format\": 1, \"store\": \"sqli"));
    let f = flags_proxy_with(|config| config.store(&store).store_cache(&cache)).await;
    assert_eq!(f.side_of("acme").await, "legacy");
    let health = f.store_health().await;
    assert_eq!(health["state"], "absent", "{health}");
    assert_eq!(health["flags_source"], "none", "{health}");
    let (status, ready) = f.readyz().await;
    assert_eq!(status, StatusCode::OK);
    assert!(ready.contains("serving routes.yaml alone"), "{ready}");
}
