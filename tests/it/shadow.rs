//! Shadow-compare: a shadowed route's requests are served by the side the rollout picked,
//! copied to the other side, and the two answers compared into the report QA reads at
//! `GET /admin/diffs`. The primary's answer must be the same with shadowing on or off, and
//! nothing the shadow side does (slow, dead, huge) may reach the client.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::support::scripted::Scripted;
use crate::support::{eventually, send, Backend, Config, Proxy};

/// An invoice as both sides answer it, with the given currency spelling.
fn invoice(currency: &str) -> Value {
    json!({"id": 7, "customer": "Globex SARL", "currency": currency, "total_cents": 141000})
}

/// A config whose route `invoices` moves `percent` of tenants to `new` and shadows with
/// `shadow` (the YAML under the key, a flow mapping).
fn shadowed(legacy: &Scripted, new: &Scripted, percent: u32, shadow: &str) -> Config {
    Config::with_legacy_url(legacy.url())
        .service_url("billing", new.url())
        .routes(&format!(
            r#"
  - name: invoices
    match: {{ path: "/api/invoices/**" }}
    service: billing
    rollout: {{ percent: {percent} }}
    shadow: {shadow}
"#
        ))
}

/// A config whose route `invoices` covers the echo backends' `/_echo/**` at 0 % and
/// shadows with `shadow`.
fn echo_shadowed(legacy: &Backend, new: &Backend, shadow: &str) -> Config {
    Config::new(legacy).service("billing", new).routes(&format!(
        r#"
  - name: invoices
    match: {{ path: "/_echo/**" }}
    service: billing
    shadow: {shadow}
"#
    ))
}

/// The report of route `invoices` from the admin API (null before any comparison).
async fn report(proxy: &Proxy) -> Value {
    let (status, body) = proxy
        .admin_get("/admin/diffs?route=invoices&since=1h")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body: Value = serde_json::from_str(&body).expect("report JSON");
    body["routes"][0].clone()
}

/// Waits until `count` requests of `invoices` are accounted for in the report (compared,
/// skipped or failed) and returns it.
async fn settled(proxy: &Proxy, count: u64) -> Value {
    let total = |r: &Value| {
        ["compared", "skipped", "errors"]
            .iter()
            .map(|k| r[k].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    let what = format!("{count} shadowed requests reported");
    eventually(Duration::from_secs(10), &what, || async {
        total(&report(proxy).await) >= count
    })
    .await;
    report(proxy).await
}

async fn get_invoices(proxy: &Proxy, count: usize) -> Vec<Value> {
    let mut bodies = Vec::new();
    for i in 0..count {
        let answer = send(proxy.get_as(&format!("t{i}"), "/api/invoices/7")).await;
        assert_eq!(answer.status, StatusCode::OK);
        bodies.push(answer.body);
    }
    bodies
}

fn paths(list: &Value) -> Vec<&str> {
    list.as_array()
        .map(|items| items.iter().filter_map(|i| i["path"].as_str()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn identical_backends_match_every_time() {
    let legacy = Scripted::start(|_, _| invoice("EUR")).await;
    let new = Scripted::start(|_, _| invoice("EUR")).await;
    let proxy = Proxy::start(&shadowed(&legacy, &new, 0, "{}")).await;
    get_invoices(&proxy, 20).await;
    let report = settled(&proxy, 20).await;
    assert_eq!(report["compared"], 20, "{report}");
    assert_eq!(report["matched"], 20, "{report}");
    assert_eq!(report["match_rate"], 1.0);
    assert_eq!(new.mirrored().len(), 20, "each request is mirrored once");
}

#[tokio::test]
async fn a_deliberate_field_difference_is_reported_on_its_path_with_its_kind() {
    let legacy = Scripted::start(|_, _| invoice("EUR")).await;
    let new = Scripted::start(|_, _| invoice("eur")).await;
    let proxy = Proxy::start(&shadowed(&legacy, &new, 0, "{ noise: 0 }")).await;
    let bodies = get_invoices(&proxy, 10).await;
    assert!(
        bodies.iter().all(|b| b["currency"] == "EUR"),
        "legacy serves"
    );
    let report = settled(&proxy, 10).await;
    assert_eq!(report["mismatched"], 10, "{report}");
    let difference = &report["differences"][0];
    assert_eq!(difference["path"], "/currency");
    assert_eq!(difference["kind"], "value-changed");
    assert_eq!(difference["count"], 10);
    assert_eq!(
        difference["example"],
        json!({"primary": "EUR", "shadow": "eur"}),
        "values as JSON, not JSON text"
    );
}

#[tokio::test]
async fn a_random_id_is_noise_and_an_ignored_field_is_neither() {
    let volatile = |call: u64, _: &_| {
        let mut body = invoice("EUR");
        body["request_id"] = json!(format!(
            "req-{:016x}",
            call.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ));
        body["generated_at"] = json!(format!("2026-12-01T00:00:{:02}Z", call % 60));
        body
    };
    let legacy = Scripted::start(volatile).await;
    let new = Scripted::start(volatile).await;
    let shadow = r#"{ noise: 100, ignore: ["/generated_at"] }"#;
    let proxy = Proxy::start(&shadowed(&legacy, &new, 0, shadow)).await;
    get_invoices(&proxy, 20).await;
    let report = settled(&proxy, 20).await;
    assert_eq!(
        paths(&report["differences"]),
        Vec::<&str>::new(),
        "{report}"
    );
    assert_eq!(paths(&report["noise"]), vec!["/request_id"], "{report}");
    assert_eq!(report["matched"], 20);
    assert_eq!(
        legacy.mirrored().len(),
        20,
        "the primary was asked again for noise"
    );
}

#[tokio::test]
async fn keyed_and_unordered_arrays_compare_equal_in_any_order() {
    let legacy = Scripted::start(
        |_, _| json!({"items": [{"id": "a", "qty": 1}, {"id": "b", "qty": 2}], "tags": ["x", "y"]}),
    )
    .await;
    let new = Scripted::start(
        |_, _| json!({"items": [{"id": "b", "qty": 2}, {"id": "a", "qty": 1}], "tags": ["y", "x"]}),
    )
    .await;
    let shadow = r#"{ noise: 0, arrays: { "/items": { key: id }, "/tags": unordered } }"#;
    let proxy = Proxy::start(&shadowed(&legacy, &new, 0, shadow)).await;
    get_invoices(&proxy, 5).await;
    let report = settled(&proxy, 5).await;
    assert_eq!(report["matched"], 5, "{report}");
}

#[tokio::test]
async fn a_slow_shadow_side_never_holds_the_primary_answer() {
    let gate = Arc::new(Semaphore::new(0));
    let legacy = Scripted::start(|_, _| invoice("EUR")).await;
    let new = Scripted::with_gate(|_, _| invoice("EUR"), Some(gate.clone())).await;
    let proxy = Proxy::start(&shadowed(&legacy, &new, 0, "{ noise: 0, timeout: 10s }")).await;
    // Every answer arrives while the shadow side holds every mirrored request unanswered.
    get_invoices(&proxy, 5).await;
    eventually(Duration::from_secs(5), "5 mirrors waiting", || async {
        new.mirrored().len() == 5
    })
    .await;
    assert_eq!(
        report(&proxy).await["compared"],
        Value::Null,
        "nothing compared yet"
    );
    gate.add_permits(5);
    let report = settled(&proxy, 5).await;
    assert_eq!(report["matched"], 5, "{report}");
}

#[tokio::test]
async fn a_dead_shadow_side_leaves_the_primary_untouched_and_counts_errors() {
    let legacy = Scripted::start(|_, _| invoice("EUR")).await;
    let config = Config::with_legacy_url(legacy.url())
        .service_url("billing", crate::support::backend::closed_port_url())
        .routes(
            r#"
  - name: invoices
    match: { path: "/api/invoices/**" }
    service: billing
    shadow: {}
"#,
        );
    let proxy = Proxy::start(&config).await;
    let bodies = get_invoices(&proxy, 5).await;
    assert!(bodies.iter().all(|b| *b == invoice("EUR")));
    let report = settled(&proxy, 5).await;
    assert_eq!(report["errors"], 5, "{report}");
    let metrics = proxy.metrics().await;
    let errors = crate::support::metrics::sample(
        &metrics,
        "strangler_shadow_total",
        &[("route", "invoices"), ("outcome", "shadow-error")],
    );
    assert_eq!(errors, 5.0);
}

#[tokio::test]
async fn a_body_over_max_body_skips_the_comparison_and_the_primary_is_intact() {
    let legacy = Backend::echo("legacy").await;
    let new = Backend::echo("billing").await;
    let config = echo_shadowed(&legacy, &new, "{ max_body: 1MiB }");
    let proxy = Proxy::start(&config).await;
    let len = 10 << 20;
    let response = proxy
        .get(&format!("/_echo/stream/{len}"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.bytes().await.expect("body");
    assert_eq!(body.len(), len, "the client got every byte");
    assert_eq!(
        &body[..],
        &crate::support::body::pattern_bytes(len as u64)[..]
    );
    let (status, text) = proxy.admin_get("/admin/diffs?route=invoices").await;
    assert_eq!(status, StatusCode::OK);
    let what = "the skipped comparison is reported";
    eventually(Duration::from_secs(10), what, || async {
        let (_, text) = proxy.admin_get("/admin/diffs?route=invoices").await;
        let report: Value = serde_json::from_str(&text).unwrap();
        report["routes"][0]["skip_reasons"]["body-too-large"] == 1
    })
    .await;
    drop(text);
}

/// A request body over the route's shadow `max_body` cannot be replayed whole: the primary
/// gets all of it, nothing is mirrored, and the skip says why.
#[tokio::test]
async fn a_request_body_over_max_body_is_served_whole_and_skipped_not_mirrored() {
    let legacy = Scripted::start(|_, _| json!({"created": 1})).await;
    let new = Scripted::start(|_, _| json!({"created": 1})).await;
    let config = shadowed(
        &legacy,
        &new,
        0,
        "{ methods: [POST], max_body: 1KiB, noise: 0 }",
    );
    let proxy = Proxy::start(&config).await;
    let post = proxy
        .request(Method::POST, "/api/invoices")
        .body(vec![b'x'; 10 << 10]);
    assert_eq!(send(post).await.status, StatusCode::OK);
    let primary = legacy.received();
    assert_eq!(primary.len(), 1, "{primary:?}");
    assert_eq!(
        primary[0].body_len,
        10 << 10,
        "the primary got the whole body"
    );
    let report = settled(&proxy, 1).await;
    assert_eq!(report["skip_reasons"]["request-too-large"], 1, "{report}");
    assert!(new.mirrored().is_empty(), "nothing was mirrored");
}

#[tokio::test]
async fn a_post_is_mirrored_only_when_its_method_is_listed() {
    let legacy = Scripted::start(|_, _| json!({"created": 1})).await;
    let new = Scripted::start(|_, _| json!({"created": 1})).await;
    let proxy = Proxy::start(&shadowed(&legacy, &new, 0, "{}")).await;
    let post = proxy
        .request(Method::POST, "/api/invoices")
        .body("{\"a\":1}");
    assert_eq!(send(post).await.status, StatusCode::OK);
    get_invoices(&proxy, 1).await;
    settled(&proxy, 1).await;
    let mirrored = new.mirrored();
    assert_eq!(mirrored.len(), 1, "only the GET: {mirrored:?}");
    assert_eq!(mirrored[0].method, "GET");

    let listed = shadowed(&legacy, &new, 0, "{ methods: [POST], noise: 0 }");
    proxy.rewrite(&listed);
    crate::support::eventually(Duration::from_secs(5), "the reload", || async {
        proxy.admin_config().await["revision"]["counter"] == 2
    })
    .await;
    let post = proxy
        .request(Method::POST, "/api/invoices")
        .body("{\"a\":1}");
    assert_eq!(send(post).await.status, StatusCode::OK);
    eventually(Duration::from_secs(5), "the POST mirrored", || async {
        new.mirrored().iter().any(|r| r.method == "POST")
    })
    .await;
    let post = new
        .mirrored()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(post.body_len, 7, "the body is replayed");
}

#[tokio::test]
async fn a_full_in_flight_bound_drops_and_counts() {
    let gate = Arc::new(Semaphore::new(0));
    let legacy = Scripted::start(|_, _| invoice("EUR")).await;
    let new = Scripted::with_gate(|_, _| invoice("EUR"), Some(gate.clone())).await;
    let config = shadowed(&legacy, &new, 0, "{ noise: 0, timeout: 10s }");
    let proxy = Proxy::start(&config.diffs("in_flight: 2")).await;
    get_invoices(&proxy, 6).await;
    let report = settled(&proxy, 4).await;
    assert_eq!(report["skip_reasons"]["overloaded"], 4, "{report}");
    assert_eq!(new.mirrored().len(), 2, "only two calls were made");
    gate.add_permits(2);
    let report = settled(&proxy, 6).await;
    assert_eq!(report["compared"], 2, "{report}");
}

#[tokio::test]
async fn at_full_rollout_legacy_is_the_shadow() {
    let legacy = Scripted::start(|_, _| invoice("EUR")).await;
    let new = Scripted::start(|_, _| invoice("eur")).await;
    let proxy = Proxy::start(&shadowed(&legacy, &new, 100, "{ noise: 0 }")).await;
    let bodies = get_invoices(&proxy, 3).await;
    assert!(
        bodies.iter().all(|b| b["currency"] == "eur"),
        "the new side serves"
    );
    let report = settled(&proxy, 3).await;
    assert_eq!(legacy.mirrored().len(), 3);
    assert!(new.mirrored().is_empty());
    let example = &report["differences"][0]["example"];
    assert_eq!(*example, json!({"primary": "eur", "shadow": "EUR"}));
}

#[tokio::test]
async fn a_client_cannot_mark_its_request_as_a_mirror_or_loop_one() {
    let legacy = Scripted::start(|_, _| invoice("EUR")).await;
    let new = Scripted::start(|_, _| invoice("EUR")).await;
    let proxy = Proxy::start(&shadowed(&legacy, &new, 0, "{ noise: 0 }")).await;
    // A request that says it is a mirror is not mirrored again (no loops through chained
    // proxies), and the header never reaches the primary: a client can only opt out.
    let spoofed = proxy
        .get_as("acme", "/api/invoices/7")
        .header("x-strangler-shadow", "1");
    assert_eq!(send(spoofed).await.status, StatusCode::OK);
    assert_eq!(legacy.received().len(), 1);
    assert!(
        legacy.mirrored().is_empty(),
        "the primary never sees the header"
    );
    get_invoices(&proxy, 1).await;
    settled(&proxy, 1).await;
    assert_eq!(
        new.mirrored().len(),
        1,
        "only the plain request was mirrored"
    );
}

#[tokio::test]
async fn an_h2_request_is_mirrored_as_http1_with_a_host() {
    let legacy = Scripted::start(|_, _| invoice("EUR")).await;
    let new = Scripted::start(|_, _| invoice("EUR")).await;
    let proxy = Proxy::start(&shadowed(&legacy, &new, 0, "{ noise: 0 }")).await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .no_proxy()
        .build()
        .expect("h2c client");
    let response = client
        .get(proxy.url("/api/invoices/7?x=1"))
        .header("x-tenant-id", "acme")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    settled(&proxy, 1).await;
    let mirrored = &new.mirrored()[0];
    assert_eq!(mirrored.version, "HTTP/1.1");
    assert_eq!(mirrored.target, "/api/invoices/7?x=1");
    assert!(mirrored.headers.contains_key("host"), "{mirrored:?}");
    assert_eq!(mirrored.headers["x-strangler-tenant"], "acme");
}

/// The shadow gets the request the primary got: the same method, target, headers and body,
/// nothing added but the marker (no `Accept` or `User-Agent` the client did not send), and
/// a trace context that is a child of the client's trace with a span of its own.
#[tokio::test]
async fn the_mirror_is_the_primarys_request_but_for_the_marker_and_its_span() {
    let legacy = Scripted::start(|_, _| invoice("EUR")).await;
    let new = Scripted::start(|_, _| invoice("EUR")).await;
    let proxy = Proxy::start(&shadowed(&legacy, &new, 0, "{ noise: 0 }")).await;
    let addr = proxy.running().proxy_addr();
    let request = "GET /api/invoices/7?x=1 HTTP/1.1\r\nHost: shop.example\r\n\
                   X-Tenant-Id: acme\r\nX-Custom: kept\r\n\
                   traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\
                   Connection: close\r\n\r\n";
    let (status, _) = crate::support::raw_http::exchange(addr, request).await;
    assert_eq!(status, 200);
    settled(&proxy, 1).await;
    let primary = legacy.received().remove(0);
    let mut mirrored = new.mirrored().remove(0);
    assert_eq!(
        (&mirrored.method, &mirrored.target),
        (&primary.method, &primary.target)
    );
    assert_eq!(
        mirrored.headers.remove("x-strangler-shadow").as_deref(),
        Some("1")
    );
    let (primary_trace, mirror_trace) = (
        primary.headers["traceparent"].clone(),
        mirrored
            .headers
            .remove("traceparent")
            .expect("a traceparent"),
    );
    assert_eq!(primary_trace[..35], mirror_trace[..35], "the same trace");
    assert_ne!(
        primary_trace[36..52],
        mirror_trace[36..52],
        "a span of its own"
    );
    let mut primary_headers = primary.headers.clone();
    primary_headers.remove("traceparent");
    assert_eq!(
        mirrored.headers, primary_headers,
        "nothing else added or changed"
    );
    assert!(!mirrored.headers.contains_key("accept"), "{mirrored:?}");
}

#[tokio::test]
async fn a_sample_keeps_both_answers_with_redacted_fields() {
    let legacy = Scripted::start(|_, _| json!({"currency": "EUR", "card": "4111"})).await;
    let new = Scripted::start(|_, _| json!({"currency": "eur", "card": "4242"})).await;
    let config = shadowed(&legacy, &new, 0, "{ noise: 0 }");
    let proxy = Proxy::start(&config.diffs(r#"redact: ["/card"]"#)).await;
    get_invoices(&proxy, 3).await;
    let report = settled(&proxy, 3).await;
    assert_eq!(report["signatures"][0]["signature"], "/card,/currency");
    assert_eq!(report["signatures"][0]["count"], 3, "{report}");
    let samples = report["signatures"][0]["samples"]
        .as_array()
        .expect("samples")
        .clone();
    assert_eq!(samples.len(), 3, "{report}");
    let card = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == "/card");
    let redacted = json!({"primary": "[redacted]", "shadow": "[redacted]"});
    assert_eq!(
        card.expect("/card differs")["example"],
        redacted,
        "{report}"
    );
    let id = samples[0]["id"].as_i64().unwrap();
    let (status, text) = proxy.admin_get(&format!("/admin/diffs/samples/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let sample: Value = serde_json::from_str(&text).unwrap();
    let (primary, shadow) = (&sample["primary"]["body"], &sample["shadow"]["body"]);
    assert_eq!(
        *primary,
        json!({"currency": "EUR", "card": "[redacted]"}),
        "JSON, not a string"
    );
    assert_eq!(*shadow, json!({"currency": "eur", "card": "[redacted]"}));
    let request = &sample["request"];
    assert_eq!(request["method"], "GET", "{sample}");
    assert_eq!(request["target"], "/api/invoices/7", "{sample}");
    let tenant = request["tenant"].as_str().unwrap_or_default();
    assert!(
        ["t0", "t1", "t2"].contains(&tenant),
        "one of the requests: {sample}"
    );
    assert_eq!(request["primary_side"], "legacy", "{sample}");
    assert!(
        request["at_ms"].as_i64().is_some_and(|ms| ms > 0),
        "{sample}"
    );
    assert_eq!(
        samples[0]["request"], *request,
        "the report lists which request too"
    );
    let (status, _) = proxy.admin_get("/admin/diffs/samples/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = proxy.admin_get("/admin/diffs?since=forever").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = proxy.admin_get("/admin/diffs?route=nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn comparisons_survive_a_proxy_restart() {
    let legacy = Scripted::start(|_, _| invoice("EUR")).await;
    let new = Scripted::start(|_, _| invoice("eur")).await;
    let scratch = crate::support::scratch::Scratch::new();
    let store = format!("sqlite://{}/diffs.db", scratch.path().display());
    let config = shadowed(&legacy, &new, 0, "{ noise: 0 }").store(&store);
    let first = Proxy::start(&config).await;
    get_invoices(&first, 4).await;
    settled(&first, 4).await;
    drop(first);
    let second = Proxy::start(&config).await;
    let report = report(&second).await;
    assert_eq!(report["mismatched"], 4, "{report}");
    assert_eq!(paths(&report["differences"]), vec!["/currency"]);
}

#[tokio::test]
async fn strangler_diffs_reports_from_the_store_as_text_and_json() {
    let legacy = Scripted::start(|_, _| invoice("EUR")).await;
    let new = Scripted::start(|_, _| invoice("eur")).await;
    let proxy = Proxy::start(&shadowed(&legacy, &new, 0, "{ noise: 0 }")).await;
    get_invoices(&proxy, 3).await;
    settled(&proxy, 3).await;
    let config = proxy.config_path().to_str().unwrap().to_owned();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_strangler"))
            .args(args)
            .output()
            .expect("running strangler diffs")
    };
    let json = run(&[
        "diffs", "--config", &config, "--route", "invoices", "--json",
    ]);
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let report: Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let route = &report["routes"][0];
    assert_eq!(
        (route["route"].as_str(), route["compared"].as_u64()),
        (Some("invoices"), Some(3))
    );
    assert_eq!(paths(&route["differences"]), vec!["/currency"]);
    let text = run(&["diffs", "--config", &config]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("DIFFERENCE /currency (value-changed) in 3 of 3"),
        "{text}"
    );
    assert!(text.contains("GET /api/invoices/7 tenant t"), "{text}");
    let id = route["signatures"][0]["samples"][0]["id"]
        .as_i64()
        .expect("a sample")
        .to_string();
    let sample = run(&["diffs", "sample", &id, "--config", &config]);
    let sample = String::from_utf8_lossy(&sample.stdout);
    assert!(
        sample.contains("request: GET /api/invoices/7  tenant t"),
        "{sample}"
    );
    assert!(
        sample.contains("primary (legacy)") && sample.contains("shadow (new)"),
        "{sample}"
    );
    let differing: Vec<&str> = sample.lines().filter(|l| l.contains("\"EUR\"")).collect();
    assert!(
        differing.iter().all(|l| l.contains(" * ")),
        "marked: {sample}"
    );
    let json = run(&["diffs", "sample", &id, "--config", &config, "--json"]);
    let view: Value = serde_json::from_slice(&json.stdout).expect("sample JSON");
    assert_eq!(view["primary"]["body"]["currency"], "EUR", "{view}");
    let missing = run(&["diffs", "sample", "999999", "--config", &config]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no sample 999999"));
    let unknown = run(&["diffs", "--config", &config, "--route", "nope"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown route \"nope\""));
}

/// A relative `store:` is relative to routes.yaml's directory for the proxy and for
/// `strangler diffs` alike, wherever the command runs; a store that does not exist is an
/// error naming its path, not a new empty report.
#[tokio::test]
async fn strangler_diffs_finds_a_relative_store_beside_routes_yaml_from_anywhere() {
    let legacy = Scripted::start(|_, _| invoice("EUR")).await;
    let new = Scripted::start(|_, _| invoice("eur")).await;
    let config = shadowed(&legacy, &new, 0, "{ noise: 0 }").store("sqlite://diffs.db");
    let proxy = Proxy::start(&config).await;
    get_invoices(&proxy, 2).await;
    settled(&proxy, 2).await;
    let routes_yaml = proxy.config_path().to_owned();
    assert!(
        routes_yaml.with_file_name("diffs.db").exists(),
        "beside routes.yaml"
    );
    let elsewhere = crate::support::scratch::Scratch::new();
    let diffs = std::process::Command::new(env!("CARGO_BIN_EXE_strangler"))
        .args(["diffs", "--json", "--config"])
        .arg(&routes_yaml)
        .current_dir(elsewhere.path())
        .output()
        .expect("running strangler diffs");
    assert!(
        diffs.status.success(),
        "{}",
        String::from_utf8_lossy(&diffs.stderr)
    );
    let report: Value = serde_json::from_slice(&diffs.stdout).expect("JSON");
    assert_eq!(report["routes"][0]["compared"], 2, "{report}");
    assert!(
        !elsewhere.path().join("diffs.db").exists(),
        "no empty store made"
    );

    let other = elsewhere.write(
        "routes.yaml",
        &std::fs::read_to_string(&routes_yaml).unwrap(),
    );
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_strangler"))
        .args(["diffs", "--config"])
        .arg(&other)
        .output()
        .expect("running strangler diffs");
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    let expected = elsewhere.path().join("diffs.db");
    assert!(
        stderr.contains(&format!("no store at {}", expected.display())),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_bad_shadow_block_is_refused_with_its_location() {
    let legacy = Scripted::start(|_, _| invoice("EUR")).await;
    let new = Scripted::start(|_, _| invoice("EUR")).await;
    let error = Proxy::refused(&shadowed(&legacy, &new, 0, "{ sample: 150 }")).await;
    assert!(error.contains("routes.yaml:"), "{error}");
    assert!(
        error.contains("shadow.sample: 150 is not a percentage"),
        "{error}"
    );
    let error = Proxy::refused(&shadowed(&legacy, &new, 0, "{ sampel: 5 }")).await;
    assert!(error.contains("unknown field `sampel`"), "{error}");
}

#[tokio::test]
async fn the_shadow_sample_is_a_runtime_flag() {
    let legacy = Scripted::start(|_, _| invoice("EUR")).await;
    let new = Scripted::start(|_, _| invoice("EUR")).await;
    let config = shadowed(&legacy, &new, 0, "{ noise: 0 }");
    let proxy = Proxy::start_with_admin_token(&config, "secret").await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let admin = |method: Method, path: &str, body: Option<Value>| {
        let mut request = client
            .request(method, proxy.admin_url(path))
            .bearer_auth("secret");
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { request.send().await.expect("admin answers").status() }
    };
    let path = "/admin/routes/invoices/shadow";
    let off = json!({"sample": 0, "comment": "pause the comparison"});
    assert_eq!(admin(Method::PUT, path, Some(off)).await, StatusCode::OK);
    get_invoices(&proxy, 3).await;
    assert!(new.mirrored().is_empty(), "sample 0: nothing mirrored");
    let bad = json!({"sample": 101});
    assert_eq!(
        admin(Method::PUT, path, Some(bad)).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(admin(Method::DELETE, path, None).await, StatusCode::OK);
    get_invoices(&proxy, 2).await;
    eventually(Duration::from_secs(5), "mirrored again", || async {
        new.mirrored().len() == 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upgrade_is_served_and_counted_as_skipped() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let legacy = Backend::echo("legacy").await;
    let new = Backend::echo("billing").await;
    let config = echo_shadowed(&legacy, &new, "{}");
    let proxy = Proxy::start(&config).await;
    let request = proxy.url("/_echo/ws").replacen("http://", "ws://", 1);
    let request = request.into_client_request().expect("ws request");
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("handshake");
    socket.send(Message::text("hi")).await.expect("send");
    let echoed = socket.next().await.expect("an answer").expect("a frame");
    assert_eq!(echoed, Message::text("hi"));
    socket.close(None).await.expect("close");
    let report = settled(&proxy, 1).await;
    assert_eq!(report["skip_reasons"]["upgraded"], 1, "{report}");
    assert_eq!(new.hits(), 0, "nothing was mirrored");
}

#[tokio::test]
async fn a_store_that_cannot_be_reached_costs_comparisons_never_requests() {
    let legacy = Scripted::start(|_, _| invoice("EUR")).await;
    let new = Scripted::start(|_, _| invoice("EUR")).await;
    let scratch = crate::support::scratch::Scratch::new();
    let unreachable = format!("sqlite://{}/no/such/dir/diffs.db", scratch.path().display());
    let config = shadowed(&legacy, &new, 0, "{ noise: 0 }").store(&unreachable);
    let proxy = Proxy::start(&config).await;
    let bodies = get_invoices(&proxy, 5).await;
    assert!(
        bodies.iter().all(|b| *b == invoice("EUR")),
        "every request is served"
    );
    let (status, _) = proxy.admin_get("/admin/diffs").await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "no store, no report"
    );
    eventually(
        Duration::from_secs(10),
        "the dropped comparisons counted",
        || async {
            let metrics = proxy.metrics().await;
            let dropped = crate::support::metrics::sample(
                &metrics,
                "strangler_shadow_store_dropped_total",
                &[("reason", "store-down")],
            );
            dropped >= 5.0
        },
    )
    .await;
}

#[tokio::test]
async fn a_write_is_never_sent_twice_to_the_primary_for_noise() {
    let legacy = Scripted::start(|_, _| json!({"created": 1})).await;
    let new = Scripted::start(|_, _| json!({"created": 1})).await;
    let proxy = Proxy::start(&shadowed(
        &legacy,
        &new,
        0,
        "{ methods: [POST], noise: 100 }",
    ))
    .await;
    for _ in 0..3 {
        let post = proxy.request(Method::POST, "/api/invoices").body("{}");
        assert_eq!(send(post).await.status, StatusCode::OK);
    }
    let report = settled(&proxy, 3).await;
    assert_eq!(report["matched"], 3, "{report}");
    assert_eq!(
        legacy.received().len(),
        3,
        "each POST reached the primary once"
    );
    assert_eq!(new.mirrored().len(), 3);
}

#[tokio::test]
async fn a_killed_route_mirrors_nothing_to_the_new_side() {
    let legacy = Scripted::start(|_, _| invoice("EUR")).await;
    let new = Scripted::start(|_, _| invoice("EUR")).await;
    let config = shadowed(&legacy, &new, 0, "{ noise: 0 }");
    let proxy = Proxy::start_with_admin_token(&config, "secret").await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let kill = client
        .post(proxy.admin_url("/admin/routes/invoices/kill"))
        .bearer_auth("secret")
        .send()
        .await
        .expect("admin answers");
    assert_eq!(kill.status(), StatusCode::OK);
    get_invoices(&proxy, 3).await;
    assert_eq!(legacy.received().len(), 3);
    assert!(
        new.received().is_empty(),
        "the kill switch stops mirrors too"
    );
}

#[tokio::test]
async fn a_conditional_answer_is_skipped_not_reported_as_a_status_difference() {
    let legacy = Backend::echo("legacy").await;
    let new = Backend::echo("billing").await;
    let config = echo_shadowed(&legacy, &new, "{ noise: 0 }");
    let proxy = Proxy::start(&config).await;
    let answer = send(proxy.get("/_echo/status/304")).await;
    assert_eq!(answer.status, StatusCode::NOT_MODIFIED);
    let report = settled(&proxy, 1).await;
    assert_eq!(report["skip_reasons"]["conditional"], 1, "{report}");
}
