//! `fallback:` on routes and the mapping form of `services:`: what they compile to, and
//! each mistake refused with `file:line:col` at the offending node.

use std::time::Duration;

use super::{load, load_errors, BASE};

/// [`BASE`]'s listeners and tenant with `services:` replaced by `services`.
fn with_services(services: &str) -> String {
    let base = BASE.replace(
        "  billing: http://127.0.0.1:3001\n  search: http://127.0.0.1:3002\n",
        services,
    );
    format!("{base}routes: []\n")
}

/// [`BASE`] with one GET/POST route whose `fallback:` is `fallback`.
fn with_fallback(fallback: &str) -> String {
    format!(
        "{BASE}routes:\n  - name: invoices\n    match: {{ path: \"/api/**\", methods: [GET, POST] }}\n    \
         service: billing\n    fallback: {fallback}\n"
    )
}

#[test]
fn fallback_defaults_to_5xx_gateway_errors_and_timeouts_for_safe_methods() {
    let snapshot = load(&with_fallback("{}"));
    let policy = snapshot.routes()[0].fallback().expect("fallback");
    assert_eq!(policy.statuses, [502, 503, 504]);
    assert!(policy.timeout);
    assert!(policy.replays("GET", false));
    assert!(!policy.replays("POST", true));
}

#[test]
fn a_route_without_fallback_has_none() {
    let snapshot = load(&format!("{BASE}routes:\n{}", super::route("r", "path: /a")));
    assert!(snapshot.routes()[0].fallback().is_none());
}

#[test]
fn unknown_fallback_trigger_is_located() {
    let errors = load_errors(&with_fallback("{ on: [503, 404, oops] }"));
    assert_eq!(
        errors,
        [
            "routes.yaml:13:27: fallback.on: 404 is neither a 5xx status (500 to 599) nor `timeout`",
            "routes.yaml:13:32: fallback.on: \"oops\" is neither a 5xx status (500 to 599) nor `timeout`",
        ]
    );
}

#[test]
fn non_idempotent_fallback_method_needs_the_opt_in() {
    let errors = load_errors(&with_fallback("{ methods: [GET, POST] }"));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("routes.yaml:13:32: fallback.methods: POST is not idempotent"),
        "{}",
        errors[0]
    );
    let snapshot = load(&with_fallback(
        "{ methods: [GET, POST], idempotency_key: true }",
    ));
    assert!(snapshot.routes()[0]
        .fallback()
        .expect("fallback")
        .replays("POST", true));
}

#[test]
fn fallback_method_the_route_does_not_match_is_located() {
    let errors = load_errors(&with_fallback("{ methods: [get, PUT] }"));
    assert_eq!(
        errors,
        ["routes.yaml:13:32: fallback.methods: the route does not match PUT"]
    );
}

#[test]
fn idempotency_key_without_a_non_idempotent_method_is_located() {
    let errors = load_errors(&with_fallback("{ methods: [GET], idempotency_key: true }"));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("routes.yaml:13:50: fallback.idempotency_key"),
        "{}",
        errors[0]
    );
}

#[test]
fn plain_and_mapping_services_load_side_by_side() {
    let snapshot = load(&with_services(
        "  billing: http://127.0.0.1:3001\n  search:\n    url: http://127.0.0.1:3002\n    \
         read_timeout: 2s\n    health: { path: /healthz, interval: 500ms }\n",
    ));
    assert_eq!(
        snapshot.services()[1].addr,
        "127.0.0.1:3002".parse().unwrap()
    );
    assert_eq!(*snapshot.service_policy(0), Default::default());
    let search = snapshot.service_policy(1);
    assert_eq!(search.read_timeout, Some(Duration::from_secs(2)));
    let health = search.health.as_ref().expect("health");
    assert_eq!(
        (health.interval, health.healthy, health.unhealthy),
        (Duration::from_millis(500), 2, 3)
    );
    assert_eq!(
        search.breaker,
        Some(Default::default()),
        "health implies a breaker"
    );
}

#[test]
fn breaker_keys_compile() {
    let snapshot = load(&with_services(
        "  billing: { url: http://127.0.0.1:3001, breaker: { consecutive_failures: 3, error_rate: 25%, \
         window: 5s, min_requests: 4, open_for: 1s, max_open_for: 8s } }\n",
    ));
    let breaker = snapshot.service_policy(0).breaker.clone().expect("breaker");
    assert_eq!(breaker.consecutive_failures, 3);
    assert_eq!(breaker.error_rate, Some(2500));
    assert_eq!(
        (breaker.window, breaker.min_requests),
        (Duration::from_secs(5), 4)
    );
    assert_eq!(
        (breaker.open_for, breaker.max_open_for),
        (Duration::from_secs(1), Duration::from_secs(8))
    );
}

#[test]
fn unknown_service_key_is_located() {
    let errors = load_errors(&with_services(
        "  billing:\n    url: http://127.0.0.1:3001\n    breaker: { open_fro: 1s }\n",
    ));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .starts_with("routes.yaml:6:16: services.billing.breaker: unknown field `open_fro`"),
        "{}",
        errors[0]
    );
}

#[test]
fn bad_breaker_and_health_values_are_located() {
    let errors = load_errors(&with_services(
        "  billing:\n    url: http://127.0.0.1:3001\n    read_timeout: 0s\n    \
         health: { path: healthz, unhealthy: 0 }\n    \
         breaker: { error_rate: 150%, open_for: 10s, max_open_for: 5s }\n",
    ));
    assert_eq!(
        errors,
        [
            "routes.yaml:6:19: read_timeout must be greater than 0",
            "routes.yaml:7:21: health path \"healthz\" must start with '/'",
            "routes.yaml:7:41: unhealthy must be at least 1",
            "routes.yaml:8:28: error_rate \"150%\" must be above 0% and at most 100%",
            "routes.yaml:8:63: max_open_for (5s) must not be shorter than open_for (10s)",
        ]
    );
}

#[test]
fn a_mapping_service_without_url_is_refused() {
    let errors = load_errors(&with_services("  billing: { read_timeout: 1s }\n"));
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("missing field `url`"), "{}", errors[0]);
}

#[test]
fn every_mapping_key_is_located() {
    let errors = load_errors(&with_services(
        "  billing:\n    url: ftp://127.0.0.1:3001\n    \
         health: { path: /h, interval: 2x, timeout: 0ms, healthy: 0 }\n    \
         breaker: { consecutive_failures: 0, window: 0s, min_requests: 0, open_for: soon }\n",
    ));
    let located: Vec<&str> = errors
        .iter()
        .map(|e| e.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        located,
        [
            "routes.yaml:5:10",
            "routes.yaml:6:35",
            "routes.yaml:6:48",
            "routes.yaml:6:62",
            "routes.yaml:7:38",
            "routes.yaml:7:49",
            "routes.yaml:7:67",
            "routes.yaml:7:80",
        ],
        "{errors:#?}"
    );
}
