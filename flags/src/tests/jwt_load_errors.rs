//! Load errors of the `jwt:` tenant source, each located at its routes.yaml node: the
//! secret's variable, key files that are missing, private, on another curve or not a JWKS,
//! JWKS keys that cannot be used, the key sources, the claim path, and the rule that a
//! verified source stands alone.

use serde_json::{json, Value};

use super::jwt::{fixture, fixture_bytes, jwt_yaml, SECRET_ENV};
use super::{load_errors, load_errors_in, Fake};

/// One load error for `jwt: { <jwt> }` with `tenant_extra`, as `file:line:col: message`.
fn jwt_error(jwt: &str, tenant_extra: &str) -> String {
    jwt_error_in(jwt, tenant_extra, &Fake::default())
}

/// [`jwt_error`] with the key files of `surroundings`.
fn jwt_error_in(jwt: &str, tenant_extra: &str, surroundings: &Fake) -> String {
    let errors = load_errors_in(&jwt_yaml(jwt, tenant_extra), surroundings);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors[0].clone()
}

#[test]
fn missing_secret_variable_is_located() {
    let error = jwt_error(
        "claim: t, hs256_secret_env: STRANGLER_TEST_UNSET_VARIABLE",
        "",
    );
    assert!(error.starts_with("routes.yaml:6:42: "), "{error}");
    assert!(error.contains("STRANGLER_TEST_UNSET_VARIABLE"), "{error}");
}

#[test]
fn short_secret_is_refused() {
    let error = jwt_error(
        "claim: t, hs256_secret_env: STRANGLER_FLAGS_TEST_SHORT_SECRET",
        "",
    );
    assert!(error.contains("at least 32"), "{error}");
}

#[test]
fn missing_or_wrong_key_files_are_located() {
    let missing = jwt_error("claim: t, public_key_file: /nonexistent/key.pem", "");
    assert!(
        missing.starts_with("routes.yaml:6:41: cannot read /nonexistent/key.pem"),
        "{missing}"
    );
    let private = jwt_error(
        &format!("claim: t, public_key_file: {}", fixture("rsa-private.pem")),
        "",
    );
    assert!(private.contains("expected a PEM public key"), "{private}");
    let p384 = jwt_error(
        &format!("claim: t, public_key_file: {}", fixture("p384-public.pem")),
        "",
    );
    assert!(p384.contains("p384-public.pem"), "{p384}");
    let not_jwks = jwt_error(
        &format!("claim: t, jwks_file: {}", fixture("rsa-public.pem")),
        "",
    );
    assert!(not_jwks.contains("not a JWKS"), "{not_jwks}");
}

#[test]
fn jwt_source_needs_exactly_one_key_source() {
    let none = jwt_error("claim: t", "");
    assert!(
        none.contains("exactly one of hs256_secret_env, public_key_file or jwks_file"),
        "{none}"
    );
    let two = jwt_error(
        &format!("claim: t, hs256_secret_env: {SECRET_ENV}, jwks_file: x.json"),
        "",
    );
    assert!(two.contains("exactly one of"), "{two}");
}

#[test]
fn claim_path_has_no_empty_part() {
    let error = jwt_error(
        &format!("claim: org..t, hs256_secret_env: {SECRET_ENV}"),
        "",
    );
    assert!(error.contains("dotted path"), "{error}");
}

#[test]
fn jwt_next_to_an_unverified_source_is_refused() {
    let yaml = jwt_yaml(&format!("claim: t, hs256_secret_env: {SECRET_ENV}"), "")
        .replace("  sources:\n", "  sources:\n    - header: X-Tenant-Id\n");
    let errors = load_errors(&yaml);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("routes.yaml:6:5: a jwt source must be the only"),
        "{errors:?}"
    );
}

#[test]
fn on_invalid_without_a_jwt_source_is_refused() {
    let yaml = super::BASE.replace("tenant:\n", "tenant:\n  on_invalid: legacy\n");
    let errors = load_errors(&format!("{yaml}routes: []\n"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("on_invalid applies to a jwt tenant source"),
        "{errors:?}"
    );
}

#[test]
fn jwks_with_unusable_or_repeated_keys_is_refused() {
    let oct = r#"{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}"#;
    let rsa: Value = serde_json::from_slice(&fixture_bytes("jwks.json")).expect("JWKS");
    let twice = json!({ "keys": [rsa["keys"][0], rsa["keys"][0]] }).to_string();
    let cases = [
        (oct, "only RSA and P-256 keys"),
        (&twice, "appears twice"),
        (r#"{"keys":[]}"#, "has no keys"),
    ];
    for (index, (text, expected)) in cases.iter().enumerate() {
        let path = format!("/keys/jwks-{index}.json");
        let surroundings = Fake::default().with_key(&path, text);
        let error = jwt_error_in(&format!("claim: t, jwks_file: {path}"), "", &surroundings);
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn a_verified_source_without_forward_header_is_refused() {
    // With the default `x-strangler-tenant`, a client's own X-Tenant-Id would reach a
    // monolith that reads it beside the verified tenant.
    let yaml = jwt_yaml(&format!("claim: t, hs256_secret_env: {SECRET_ENV}"), "")
        .replace("  forward_header: X-Tenant-Id\n", "");
    let errors = load_errors(&yaml);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("routes.yaml:4:1: "), "{}", errors[0]);
    assert!(errors[0].contains("tenant.forward_header"), "{}", errors[0]);
}

#[test]
fn strip_headers_must_be_header_names() {
    let error = jwt_error(
        &format!("claim: t, hs256_secret_env: {SECRET_ENV}"),
        "  strip_headers: [X-User-Id, \"not a header\"]\n",
    );
    assert!(error.starts_with("routes.yaml:8:30: "), "{error}");
    assert!(error.contains("not a valid header name"), "{error}");
}
