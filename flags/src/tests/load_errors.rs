//! Load errors: each is refused with `file:line:col` at the offending node, and
//! validation reports every problem, not just the first.

use super::{load_errors, BASE};

fn routes(body: &str) -> String {
    format!("{BASE}routes:\n{body}")
}

const INVOICES: &str = "  - name: invoices\n    match: { path: \"/api/invoices/**\" }\n";

#[test]
fn unknown_key_is_located() {
    let errors = load_errors(&routes(&format!(
        "{INVOICES}    service: billing\n    rollout:\n      percnt: 25\n"
    )));
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("routes.yaml:14:7: "), "{}", errors[0]);
    assert!(
        errors[0].contains("unknown field `percnt`"),
        "{}",
        errors[0]
    );
}

#[test]
fn undefined_service_is_located_at_the_service_value() {
    let errors = load_errors(&routes(&format!("{INVOICES}    service: biling\n")));
    assert_eq!(
        errors,
        ["routes.yaml:12:14: undefined service \"biling\" in route \"invoices\""]
    );
}

#[test]
fn out_of_range_percent_is_located() {
    let errors = load_errors(&routes(&format!(
        "{INVOICES}    service: billing\n    rollout: {{ percent: 101 }}\n"
    )));
    assert_eq!(
        errors,
        ["routes.yaml:13:25: route \"invoices\": percent 101 is out of range 0 to 100"]
    );
}

#[test]
fn percent_with_three_decimals_is_located() {
    let errors = load_errors(&routes(&format!(
        "{INVOICES}    service: billing\n    rollout: {{ percent: 25.555 }}\n"
    )));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with(
            "routes.yaml:13:25: route \"invoices\": percent 25.555 has more than two decimals"
        ),
        "{}",
        errors[0]
    );
}

#[test]
fn negative_percent_is_located() {
    let errors = load_errors(&routes(&format!(
        "{INVOICES}    service: billing\n    rollout: {{ percent: -1 }}\n"
    )));
    assert_eq!(
        errors,
        ["routes.yaml:13:25: route \"invoices\": percent -1 is out of range 0 to 100"]
    );
}

#[test]
fn bad_address_is_located() {
    let yaml = BASE.replace("http://127.0.0.1:3001", "http://127.0.0.1:99999");
    let errors = load_errors(&yaml);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .starts_with("routes.yaml:4:12: cannot resolve upstream \"http://127.0.0.1:99999\""),
        "{}",
        errors[0]
    );
}

#[test]
fn bad_listen_address_is_located() {
    let errors = load_errors(&BASE.replace("listen: 127.0.0.1:8080", "listen: localhost"));
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("routes.yaml:1:9: "), "{}", errors[0]);
}

#[test]
fn bad_pattern_is_located() {
    let errors = load_errors(&routes(
        "  - name: x\n    match: { path: \"/a/**/b\" }\n    service: billing\n",
    ));
    assert_eq!(errors, ["routes.yaml:11:20: route \"x\": path pattern \"/a/**/b\": '**' is only allowed as the whole last segment"]);
}

#[test]
fn duplicate_route_names_are_located_at_the_second() {
    let errors = load_errors(&routes(
        "  - { name: x, match: { path: /a }, service: billing }\n  - { name: x, match: { path: /b }, service: billing }\n",
    ));
    assert_eq!(
        errors,
        ["routes.yaml:11:13: duplicate route name \"x\" (first defined at routes.yaml:10:13)"]
    );
}

#[test]
fn route_name_unsafe_for_labels_and_headers_is_located() {
    let errors = load_errors(&routes(
        "  - { name: \"in voices\", match: { path: /a }, service: billing }\n",
    ));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("routes.yaml:10:13: route name \"in voices\" may only use"),
        "{}",
        errors[0]
    );
}

#[test]
fn invalid_override_tenant_is_located_at_its_key() {
    let errors = load_errors(&routes(&format!(
        "{INVOICES}    service: billing\n    rollout:\n      tenants:\n        \"bad tenant\": new\n"
    )));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .starts_with("routes.yaml:15:9: route \"invoices\": invalid tenant id \"bad tenant\""),
        "{}",
        errors[0]
    );
}

#[test]
fn tenant_path_source_needs_exactly_one_tenant_segment() {
    let errors = load_errors(&BASE.replace("- header: X-Tenant-Id", "- path: \"/t/{id}/**\""));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("routes.yaml:8:13: tenant path pattern"),
        "{}",
        errors[0]
    );
}

#[test]
fn every_semantic_error_is_reported_at_once() {
    let errors = load_errors(&routes(
        "  - { name: a, match: { path: /a }, service: nope }\n  - { name: b, match: { path: b }, service: billing }\n  - { name: c, match: { path: /c }, service: billing, rollout: { percent: 200 } }\n",
    ));
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].starts_with("routes.yaml:10:"), "{errors:?}");
    assert!(errors[1].starts_with("routes.yaml:11:"), "{errors:?}");
    assert!(errors[2].starts_with("routes.yaml:12:"), "{errors:?}");
}

#[test]
fn a_tenant_source_with_two_kinds_is_located() {
    let errors = load_errors(&BASE.replace(
        "- header: X-Tenant-Id",
        "- { header: X-Tenant-Id, path: \"/t/{tenant}\" }",
    ));
    assert_eq!(
        errors,
        ["routes.yaml:8:7: a tenant source has exactly one of header, subdomain, path or jwt"]
    );
}

#[test]
fn bad_connect_timeout_and_zero_threads_are_both_reported() {
    let errors = load_errors(&format!("{BASE}threads: 0\nconnect_timeout: 1.5s\n"));
    assert_eq!(
        errors,
        [
            "routes.yaml:9:10: threads must be at least 1",
            "routes.yaml:10:18: invalid duration \"1.5s\": expected e.g. 250ms, 1s or 2m",
        ]
    );
}

#[test]
fn an_alternative_timer_without_work_stealing_is_located() {
    let errors = load_errors(&format!("{BASE}work_stealing: false\nalt_timer: true\n"));
    assert_eq!(
        errors,
        ["routes.yaml:10:12: alt_timer applies to work-stealing workers only: set work_stealing: true or drop alt_timer"]
    );
}

#[test]
fn an_alternative_timer_in_a_build_without_one_is_located() {
    let yaml = format!("{BASE}alt_timer: true\n");
    let errors = crate::Snapshot::parse(&yaml, "routes.yaml", &crate::Offline)
        .expect_err("a build without tokio_unstable has no alternative timer");
    assert_eq!(
        errors.to_string().trim(),
        "routes.yaml:9:12: alt_timer: true needs a strangler built with RUSTFLAGS=\"--cfg tokio_unstable\"; this one was not (drop alt_timer, or rebuild)"
    );
}

#[test]
fn one_worker_does_not_steal_unless_told_and_more_do() {
    let workers = crate::tests::load(&format!("{BASE}threads: 3\n")).workers();
    assert_eq!((workers.threads, workers.alt_timer), (Some(3), false));
    assert!(workers.steals(3));
    assert!(!workers.steals(1));
    let told = crate::tests::load(&format!("{BASE}work_stealing: true\n")).workers();
    assert!(told.steals(1));
    let told = crate::tests::load(&format!("{BASE}work_stealing: false\n")).workers();
    assert!(!told.steals(4));
    let timer = crate::tests::load(&format!("{BASE}alt_timer: true\n")).workers();
    assert!(
        timer.steals(1),
        "the alternative timer needs a stealing runtime"
    );
}

#[test]
fn store_with_an_unknown_scheme_is_located() {
    let errors = load_errors(&format!("{BASE}store: mysql://db/strangler\n"));
    assert_eq!(
        errors,
        ["routes.yaml:9:8: store \"mysql://db/strangler\": unknown scheme; expected one of sqlite:, postgres://, postgresql://"]
    );
}

#[test]
fn invalid_shutdown_grace_is_located() {
    let errors = load_errors(&format!("{BASE}shutdown_grace: 30 seconds\n"));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("routes.yaml:9:17: shutdown_grace: invalid duration"),
        "{}",
        errors[0]
    );
}

#[test]
fn empty_upgrade_sock_is_located() {
    let errors = load_errors(&format!("{BASE}upgrade_sock: \"\"\n"));
    assert_eq!(errors, ["routes.yaml:9:15: upgrade_sock must name a file"]);
}

#[test]
fn shutdown_grace_defaults_to_30s_and_takes_a_duration() {
    let default = super::load(BASE);
    assert_eq!(
        default.lifecycle().shutdown_grace,
        std::time::Duration::from_secs(30)
    );
    let set = super::load(&format!(
        "{BASE}shutdown_grace: 2m\nupgrade_sock: up.sock\n"
    ));
    assert_eq!(
        set.lifecycle().shutdown_grace,
        std::time::Duration::from_secs(120)
    );
    assert_eq!(set.lifecycle().upgrade_sock, Some("up.sock".into()));
}

/// Five mistakes of every kind in one file, as `strangler check` meets them: a misspelt
/// key, a value of the wrong type, an unknown side, a percent out of range and an
/// undefined service, each on a route or section of its own.
const FIVE_MISTAKES: &str = "\
listen: 127.0.0.1:8080
threads: two
legacy: http://127.0.0.1:3000
services:
  billing: http://127.0.0.1:3001
tenant:
  default: neww
  sources:
    - header: X-Tenant-Id
routes:
  - name: invoices
    macth: { path: \"/api/invoices/**\" }
    service: billing
  - name: users
    match: { path: \"/api/users/**\" }
    service: billing
    rollout: { percent: 120 }
  - name: search
    match: { path: \"/api/search/**\" }
    service: serch
";

#[test]
fn every_mistake_is_reported_at_once_in_file_order() {
    let errors = load_errors(FIVE_MISTAKES);
    let located: Vec<&str> = errors
        .iter()
        .map(|e| e.split(": ").next().unwrap_or(""))
        .collect();
    assert_eq!(
        located,
        [
            "routes.yaml:2:10",
            "routes.yaml:7:12",
            "routes.yaml:12:5",
            "routes.yaml:17:25",
            "routes.yaml:20:14",
        ],
        "{errors:#?}"
    );
    assert!(
        errors[0].contains("threads: invalid type: string \"two\""),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("tenant.default: unknown variant `neww`"),
        "{}",
        errors[1]
    );
    assert!(errors[2].contains("unknown field `macth`"), "{}", errors[2]);
    assert!(
        errors[3].contains("route \"users\": percent 120 is out of range"),
        "{}",
        errors[3]
    );
    assert!(
        errors[4].contains("undefined service \"serch\" in route \"search\""),
        "{}",
        errors[4]
    );
}

#[test]
fn a_route_taken_out_by_its_mistake_leaves_the_next_routes_located_in_the_file() {
    // The misspelt route is dropped while recovering; the route after it is still named
    // at its own line, not at the line of the item that took its place.
    let yaml = routes(
        "  - name: broken\n    macth: { path: /a }\n    service: billing\n\
         \x20 - name: next\n    match: { path: /b }\n    service: nowhere\n",
    );
    let errors = load_errors(&yaml);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].starts_with("routes.yaml:11:5: "), "{}", errors[0]);
    assert!(
        errors[1].starts_with("routes.yaml:15:14: undefined service \"nowhere\""),
        "{}",
        errors[1]
    );
}

#[test]
fn a_yaml_syntax_error_is_reported_alone() {
    let errors = load_errors(&format!("{BASE}routes: [\n  - {{ name: x\n"));
    assert_eq!(errors.len(), 1, "{errors:#?}");
}

#[test]
fn readiness_removable_after_in_part_days_is_located() {
    let errors = load_errors(&format!("{BASE}readiness: {{ removable_after: 36h }}\n"));
    assert_eq!(
        errors,
        ["routes.yaml:9:31: readiness.removable_after must be whole days from 1d to 90d, got \"36h\""]
    );
    let unknown = load_errors(&format!("{BASE}readiness: {{ removable: 14d }}\n"));
    assert_eq!(unknown.len(), 1);
    assert!(unknown[0].starts_with("routes.yaml:9:"), "{}", unknown[0]);
}
