//! `telemetry.otlp`: what a valid section compiles to, and each problem located at its node.

use super::{load, load_errors, BASE};

/// The variable of `headers_env` the tests' surroundings have.
pub(super) const HEADERS_ENV: &str = "STRANGLER_FLAGS_TEST_OTLP_HEADERS";
/// Its value.
pub(super) const HEADERS: &str = "Authorization=Bearer abc, x-team=payments";

fn with_otlp(body: &str) -> String {
    format!("{BASE}telemetry:\n  otlp:\n{body}")
}

#[test]
fn otlp_compiles_the_traces_url_the_sample_and_the_headers() {
    let snapshot = load(&with_otlp(&format!(
        "    endpoint: http://collector:4318\n    protocol: http/protobuf\n    sample: 1.5%\n    headers_env: {HEADERS_ENV}\n"
    )));
    let otlp = snapshot.otlp().expect("otlp");
    assert_eq!(&*otlp.url, "http://collector:4318/v1/traces");
    assert_eq!(otlp.sample_basis_points, 150);
    let headers: Vec<(&str, &str)> = otlp.headers.iter().map(|(k, v)| (&**k, &**v)).collect();
    assert_eq!(
        headers,
        [("authorization", "Bearer abc"), ("x-team", "payments")]
    );
    assert!(
        !format!("{otlp:?}").contains("abc"),
        "header values stay out of Debug"
    );
}

#[test]
fn no_telemetry_section_exports_nothing_and_sample_defaults_to_all() {
    assert!(load(BASE).otlp().is_none());
    let all = load(&with_otlp("    endpoint: http://127.0.0.1:4318/\n"));
    assert_eq!(all.otlp().map(|o| o.sample_basis_points), Some(10_000));
}

#[test]
fn grpc_is_refused_at_the_protocol() {
    let errors = load_errors(&with_otlp(
        "    endpoint: http://c:4317\n    protocol: grpc\n",
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("routes.yaml:12:15: protocol grpc is not supported"),
        "{}",
        errors[0]
    );
}

#[test]
fn every_otlp_problem_is_located() {
    let errors = load_errors(&with_otlp(
        "    endpoint: ftp://c:4318\n    sample: 0.125%\n    headers_env: STRANGLER_UNSET_VARIABLE\n",
    ));
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0]
            .starts_with("routes.yaml:11:15: endpoint \"ftp://c:4318\" must be an http(s):// URL"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with("routes.yaml:12:13: percent 0.125 has more than two decimals"),
        "{}",
        errors[1]
    );
    assert_eq!(
        errors[2],
        "routes.yaml:13:18: environment variable STRANGLER_UNSET_VARIABLE is not set"
    );
}

#[test]
fn a_misspelt_otlp_key_is_refused() {
    let errors = load_errors(&with_otlp("    endpoint: http://c:4318\n    sampel: 1%\n"));
    assert!(
        errors.iter().any(|e| e.contains("unknown field `sampel`")),
        "{errors:?}"
    );
}
