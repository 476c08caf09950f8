//! What the shadow test modules share: a config with one shadowed route over `/api/**`
//! (legacy serving, the new service `billing` compared), the route's report once its
//! comparisons are in, and `strangler diffs` run on a proxy's config.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::scripted::Scripted;
use super::{eventually, Config, Proxy};

/// A config whose one route `route` covers `/api/**` at 0 % and shadows with `shadow` (the
/// YAML under the key, a flow mapping).
pub fn one_route(legacy: &Scripted, new: &Scripted, route: &str, shadow: &str) -> Config {
    Config::with_legacy_url(legacy.url())
        .service_url("billing", new.url())
        .routes(&format!(
            r#"
  - name: {route}
    match: {{ path: "/api/**" }}
    service: billing
    shadow: {shadow}
"#
        ))
}

/// The report of `route` from the admin API, once `count` of its comparisons (every
/// outcome) are in it.
pub async fn route_report(proxy: &Proxy, route: &str, count: u64) -> Value {
    let path = format!("/admin/diffs?route={route}&since=1h");
    let read = || async {
        let (status, body) = proxy.admin_get(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let body: Value = serde_json::from_str(&body).expect("report JSON");
        body["routes"][0].clone()
    };
    let total = |r: &Value| {
        let outcomes = r["outcomes"].as_object().cloned().unwrap_or_default();
        outcomes.values().filter_map(Value::as_u64).sum::<u64>()
    };
    let what = format!("{count} comparisons of {route} reported");
    eventually(Duration::from_secs(15), &what, || async {
        total(&read().await) >= count
    })
    .await;
    read().await
}

/// Runs `strangler diffs` with `args` on the proxy's config; its stdout.
pub fn strangler_diffs(proxy: &Proxy, args: &[&str]) -> String {
    proxy.strangler("diffs", args)
}
