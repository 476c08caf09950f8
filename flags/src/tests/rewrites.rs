//! `rewrite:`: each key compiled against its route's pattern, and each mistake refused at
//! load at its `file:line:col`.

use super::{load, load_errors, BASE};

fn with_rewrite(path: &str, rewrite: &str) -> String {
    format!(
        "{BASE}routes:\n  - name: invoices\n    match: {{ path: \"{path}\" }}\n    \
         service: billing\n    rewrite: {rewrite}\n"
    )
}

#[test]
fn every_rewrite_key_compiles() {
    let snapshot = load(&with_rewrite(
        "/legacy/app/**",
        "{ strip_prefix: /legacy/app, add_prefix: /v2, host: \"billing.internal:8443\", \
         headers: { set: { X-Source: strangler }, remove: [X-Legacy-Session] } }",
    ));
    let route = snapshot.route("invoices").unwrap();
    let rewrite = route.rewrite().unwrap();
    let upstream = rewrite.upstream_path(route.path_pattern(), "/legacy/app/api/7");
    assert_eq!(upstream.as_deref(), Some("/v2/api/7"));
    assert_eq!(rewrite.host(), Some("billing.internal:8443"));
    assert_eq!(&*rewrite.set_headers()[0].0, "x-source");
    assert_eq!(&*rewrite.removed_headers()[0], "x-legacy-session");
}

#[test]
fn a_path_template_names_only_parameters_of_the_match() {
    let snapshot = load(&with_rewrite(
        "/api/invoices/{id}",
        "{ path: \"/invoices/{id}\" }",
    ));
    let route = snapshot.route("invoices").unwrap();
    let upstream = route
        .rewrite()
        .unwrap()
        .upstream_path(route.path_pattern(), "/api/invoices/42");
    assert_eq!(upstream.as_deref(), Some("/invoices/42"));
    let errors = load_errors(&with_rewrite(
        "/api/invoices/{id}",
        "{ path: \"/invoices/{number}\" }",
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("routes.yaml:13:22: "),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("unknown parameter {number}"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_strip_prefix_the_pattern_cannot_start_with_is_located() {
    for (pattern, prefix) in [
        ("/api/**", "/legacy"),
        ("/{x}/app/**", "/legacy/app"),
        ("/legacy", "/legacy/app"),
        ("/Legacy/**", "/legacy"),
    ] {
        let errors = load_errors(&with_rewrite(
            pattern,
            &format!("{{ strip_prefix: {prefix} }}"),
        ));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("routes.yaml:13:30: "),
            "{}",
            errors[0]
        );
        assert!(errors[0].contains("not a literal prefix"), "{}", errors[0]);
    }
}

#[test]
fn bad_header_names_hosts_and_prefixes_are_each_located() {
    let errors = load_errors(&with_rewrite(
        "/api/**",
        "\n      add_prefix: /v2/\n      host: \"bad host\"\n      headers:\n        \
         set: { \"X Bad\": 1, Host: x, X-Ok: \"a\\nb\" }\n        remove: [Content-Length]\n",
    ));
    let places: Vec<&str> = errors
        .iter()
        .map(|e| e.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        places,
        [
            "routes.yaml:14:19:",
            "routes.yaml:15:13:",
            "routes.yaml:17:16:",
            "routes.yaml:17:28:",
            "routes.yaml:17:43:",
            "routes.yaml:18:18:",
        ],
        "{errors:#?}"
    );
}

#[test]
fn path_beside_a_prefix_and_unknown_rewrite_keys_are_refused() {
    let errors = load_errors(&with_rewrite(
        "/api/{id}",
        "{ strip_prefix: /api, path: \"/x/{id}\" }",
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("without strip_prefix"), "{}", errors[0]);
    let errors = load_errors(&with_rewrite("/api/**", "{ strip: /api }"));
    assert!(errors[0].contains("unknown field `strip`"), "{}", errors[0]);
}
