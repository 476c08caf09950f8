//! `listen:` in its three forms with TLS certificates, and `https://` upstreams with their
//! `tls:` and `http2:`: what loads, and each mistake located at its node.

use super::{load, load_errors, load_errors_in, Fake, BASE};

/// Surroundings with `site.pem` (names api.example.com and *.example.com), `other.pem`
/// (names other.org), their keys, and `ca.pem`.
fn files() -> Fake {
    Fake::default()
        .with_key("site.pem", "api.example.com\n*.example.com")
        .with_key("site.key", "key")
        .with_key("other.pem", "other.org")
        .with_key("other.key", "key")
        .with_key("ca.pem", "ca")
}

fn with_listen(listen: &str) -> String {
    BASE.replace("listen: 127.0.0.1:8080\n", listen)
}

fn parse(yaml: &str) -> crate::Snapshot {
    crate::Snapshot::parse(yaml, "routes.yaml", &files()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn listen_as_an_address_is_one_plain_listener() {
    let snapshot = load(BASE);
    assert_eq!(snapshot.listeners().len(), 1);
    assert!(snapshot.listeners()[0].tls.is_none());
}

#[test]
fn listen_as_a_list_mixes_plain_and_tls_listeners_and_names_come_from_certificates() {
    let snapshot = parse(&with_listen(
        "listen:\n  - 127.0.0.1:8080\n  - addr: 127.0.0.1:8443\n    tls: { cert: site.pem, key: site.key }\n",
    ));
    let listeners = snapshot.listeners();
    assert_eq!(listeners.len(), 2);
    assert_eq!(snapshot.listen(), "127.0.0.1:8080".parse().unwrap());
    let tls = listeners[1].tls.as_ref().expect("second is TLS");
    assert_eq!(tls.certs[0].names, ["api.example.com", "*.example.com"]);
    assert!(!tls.certs[0].names_written);
}

#[test]
fn several_certificates_keep_their_order_and_written_names() {
    let snapshot = parse(&with_listen(
        "listen:\n  addr: 127.0.0.1:8443\n  tls:\n    certs:\n      - { cert: site.pem, key: site.key }\n      - { cert: other.pem, key: other.key, names: [Other.ORG, \"*.other.org\"] }\n",
    ));
    let tls = snapshot.listeners()[0].tls.as_ref().unwrap();
    assert_eq!(tls.certs.len(), 2);
    assert_eq!(tls.certs[1].names, ["other.org", "*.other.org"]);
    assert!(tls.certs[1].names_written);
}

#[test]
fn a_certificate_that_does_not_load_is_located_at_its_cert_key() {
    let errors = load_errors_in(
        &with_listen(
            "listen:\n  addr: 127.0.0.1:8443\n  tls: { cert: missing.pem, key: site.key }\n",
        ),
        &files(),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("routes.yaml:3:16: missing.pem with site.key: "),
        "{}",
        errors[0]
    );
}

#[test]
fn tls_needs_cert_and_key_or_certs_and_not_both() {
    for tls in [
        "{ cert: site.pem }",
        "{ cert: site.pem, key: site.key, certs: [{ cert: site.pem, key: site.key }] }",
        "{ certs: [] }",
    ] {
        let yaml = with_listen(&format!("listen:\n  addr: 127.0.0.1:8443\n  tls: {tls}\n"));
        let errors = load_errors_in(&yaml, &files());
        assert_eq!(errors.len(), 1, "{tls}: {errors:?}");
        assert!(
            errors[0].starts_with("routes.yaml:3:8: tls needs cert:"),
            "{}",
            errors[0]
        );
    }
}

#[test]
fn the_same_address_twice_and_bad_server_names_are_located() {
    let errors = load_errors_in(
        &with_listen("listen:\n  - 127.0.0.1:8080\n  - 127.0.0.1:8080\n  - addr: 127.0.0.1:8443\n    tls: { certs: [{ cert: site.pem, key: site.key, names: [\"bad name\"] }] }\n"),
        &files(),
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with("routes.yaml:3:5: listen names 127.0.0.1:8080 twice"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("\"bad name\" is not a server name"),
        "{}",
        errors[1]
    );
}

#[test]
fn https_upstreams_take_ca_sni_and_client_certificates() {
    let yaml = BASE.replace(
        "  billing: http://127.0.0.1:3001\n",
        "  billing:\n    url: https://10.0.0.7:8443\n    http2: true\n    tls: { ca: ca.pem, sni: Billing.Internal, client_cert: site.pem, client_key: site.key }\n",
    );
    let snapshot = parse(&yaml);
    let billing = snapshot.service("billing").expect("billing");
    let tls = billing.tls.as_ref().expect("https");
    assert_eq!(
        (&*tls.sni, tls.verify, billing.http2),
        ("billing.internal", true, true)
    );
    assert_eq!(tls.ca.as_deref().map(<[_]>::len), Some(1));
    assert!(tls.client.is_some());
}

#[test]
fn legacy_takes_the_mapping_form_without_health_or_breaker() {
    let yaml = BASE.replace(
        "legacy: http://127.0.0.1:3000\n",
        "legacy: { url: https://127.0.0.1:3443, tls: { ca: ca.pem }, read_timeout: 5s }\n",
    );
    let snapshot = parse(&yaml);
    assert!(snapshot.legacy().tls.is_some());
    assert_eq!(
        snapshot.timeouts("legacy").read,
        std::time::Duration::from_secs(5)
    );
    let yaml = BASE.replace(
        "legacy: http://127.0.0.1:3000\n",
        "legacy: { url: http://127.0.0.1:3000, health: { path: /h } }\n",
    );
    let errors = load_errors(&yaml);
    assert_eq!(
        errors,
        ["routes.yaml:2:39: legacy has no health: there is nothing to fall back to"]
    );
}

#[test]
fn tls_mistakes_of_upstreams_are_located() {
    let yaml = BASE.replace(
        "  billing: http://127.0.0.1:3001\n  search: http://127.0.0.1:3002\n",
        "  billing: { url: http://127.0.0.1:3001, tls: { ca: ca.pem } }\n  search: { url: https://127.0.0.1:3002, tls: { client_cert: site.pem, ca: nope.pem } }\n",
    );
    let errors = load_errors_in(&yaml, &files());
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(
        errors[0].starts_with("routes.yaml:4:42: tls: applies to https://"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("client_cert: and client_key: go together"),
        "{}",
        errors[1]
    );
    assert!(errors[2].contains("nope.pem: "), "{}", errors[2]);
}

#[test]
fn verify_false_loads_with_a_warning() {
    let yaml = BASE.replace(
        "  billing: http://127.0.0.1:3001\n",
        "  billing: { url: https://127.0.0.1:3001, tls: { verify: false } }\n",
    );
    let snapshot = parse(&yaml);
    assert!(
        !snapshot
            .service("billing")
            .unwrap()
            .tls
            .as_ref()
            .unwrap()
            .verify
    );
    let warnings: Vec<String> = snapshot
        .warnings()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("is not checked"), "{}", warnings[0]);
}

#[test]
fn a_route_to_an_http2_service_is_neither_shadowed_nor_falls_back_on_statuses() {
    let yaml = BASE.replace(
        "  billing: http://127.0.0.1:3001\n",
        "  billing: { url: http://127.0.0.1:3001, http2: true }\n",
    );
    let yaml = format!(
        "{yaml}routes:\n  - name: rpc\n    match: {{ path: \"/billing.Billing/**\" }}\n    service: billing\n    shadow: {{}}\n    fallback: {{ on: [503] }}\n"
    );
    let errors = load_errors(&yaml);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].starts_with("routes.yaml:13:5: route \"rpc\" goes to an http2 service: shadow"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1]
            .starts_with("routes.yaml:14:5: route \"rpc\" goes to an http2 service: gRPC errors"),
        "{}",
        errors[1]
    );
    let timeout_only = yaml
        .replace("    shadow: {}\n", "")
        .replace("on: [503]", "on: [timeout]");
    let snapshot = load(&timeout_only);
    assert!(snapshot.service("billing").unwrap().http2);
}
