//! The `jwt:` tenant source: a valid token routes by its claim, every way a token can be
//! wrong is refused (or sent to legacy under `on_invalid: legacy`), the algorithm is the
//! configuration's and never the token's, and key problems are located load errors. Keys
//! are the test-only fixtures in `tests/fixtures/jwt/`; tokens are minted per test.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::{decide, load, route, Fake, FakeRequest};
use crate::tenant::jwt::LEEWAY_SECS;
use crate::{Reason, RequestError, Side, Snapshot, TenantSourceKind};

/// The environment variable the HS256 tests read, which the tests' [`super::Fake`] holds.
pub(super) const SECRET_ENV: &str = "STRANGLER_FLAGS_TEST_JWT_SECRET";
pub(super) const SECRET: &str = "test-only-secret-of-at-least-32-bytes!";
/// `{"alg":"none","typ":"JWT"}`, base64url.
const NONE_HEADER: &str = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";

pub(super) fn fixture(name: &str) -> String {
    format!(
        "{}/../tests/fixtures/jwt/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

pub(super) fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture")
}

pub(super) fn now() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    elapsed.as_secs() as i64
}

/// Claims with `tenant_id` and an `exp` an hour away, plus `extra`.
fn claims(tenant: &str, extra: Value) -> Value {
    let mut claims = json!({ "sub": "user-1", "tenant_id": tenant, "exp": now() + 3600 });
    if let (Some(all), Some(more)) = (claims.as_object_mut(), extra.as_object()) {
        all.extend(more.clone());
    }
    claims
}

pub(super) fn hs256(claims: &Value) -> String {
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    encode(&Header::new(Algorithm::HS256), claims, &key).expect("signs")
}

fn signed(algorithm: Algorithm, private_pem: &str, kid: Option<&str>, claims: &Value) -> String {
    let pem = fixture_bytes(private_pem);
    let key = match algorithm {
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
        _ => EncodingKey::from_rsa_pem(&pem),
    };
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &key.expect("key")).expect("signs")
}

/// A snapshot whose only tenant source is `jwt: { <jwt> }`, plus `tenant_extra` lines.
fn jwt_snapshot(jwt: &str, tenant_extra: &str) -> Snapshot {
    load(&jwt_yaml(jwt, tenant_extra))
}

pub(super) fn jwt_yaml(jwt: &str, tenant_extra: &str) -> String {
    format!(
        "\
listen: 127.0.0.1:8080
legacy: http://127.0.0.1:3000
services: {{ billing: http://127.0.0.1:3001 }}
tenant:
  sources:
    - jwt: {{ {jwt} }}
  forward_header: X-Tenant-Id
{tenant_extra}routes:
{}  - name: overrides
    match: {{ path: \"/o/**\" }}
    service: billing
    rollout: {{ percent: 0, tenants: {{ acme: new }} }}
",
        route("all", "path: \"/api/**\"")
    )
}

pub(super) fn hs_snapshot() -> Snapshot {
    jwt_snapshot(
        &format!("claim: tenant_id, hs256_secret_env: {SECRET_ENV}"),
        "",
    )
}

/// Verifying with the PEM public key fixture `public`.
fn pem_snapshot(public: &str) -> Snapshot {
    let jwt = format!("claim: tenant_id, public_key_file: {}", fixture(public));
    jwt_snapshot(&jwt, "")
}

/// Valid claims for `acme`.
fn acme() -> Value {
    claims("acme", json!({}))
}

/// The tenant decided for a request bearing `token`.
fn tenant_of(snapshot: &Snapshot, token: &str) -> Option<String> {
    decide(snapshot, &bearer(token))
        .tenant
        .map(|t| t.into_owned())
}

fn bearer(token: &str) -> FakeRequest {
    FakeRequest::get("/o/x").header("Authorization", &format!("Bearer {token}"))
}

/// Why `req` was refused: the reason of its `InvalidToken` error.
fn refusal(snapshot: &Snapshot, req: &FakeRequest) -> &'static str {
    match snapshot.decide(req) {
        Err(RequestError::InvalidToken(why)) => why,
        other => panic!("expected an invalid token, got {other:?}"),
    }
}

#[test]
fn valid_hs256_token_routes_by_its_claim() {
    let snapshot = hs_snapshot();
    let req = bearer(&hs256(&claims("acme", json!({}))));
    let decision = decide(&snapshot, &req);
    assert_eq!(decision.tenant.as_deref(), Some("acme"));
    assert_eq!(decision.tenant_source, Some(TenantSourceKind::Jwt));
    assert_eq!(
        (decision.side, decision.reason),
        (Side::New, Reason::TenantOverride)
    );
    assert!(snapshot.verified_tenants());
}

#[test]
fn claim_is_a_dotted_path_into_nested_objects() {
    let snapshot = jwt_snapshot(
        &format!("claim: org.tenant, hs256_secret_env: {SECRET_ENV}"),
        "",
    );
    let token = hs256(&claims("ignored", json!({ "org": { "tenant": "acme" } })));
    assert_eq!(
        decide(&snapshot, &bearer(&token)).tenant.as_deref(),
        Some("acme")
    );
}

#[test]
fn rs256_token_verifies_with_a_pem_public_key() {
    let token = signed(Algorithm::RS256, "rsa-private.pem", None, &acme());
    assert_eq!(
        tenant_of(&pem_snapshot("rsa-public.pem"), &token),
        Some("acme".into())
    );
}

#[test]
fn es256_token_verifies_with_a_p256_public_key() {
    let token = signed(Algorithm::ES256, "ec-private.pem", None, &acme());
    assert_eq!(
        tenant_of(&pem_snapshot("ec-public.pem"), &token),
        Some("acme".into())
    );
}

#[test]
fn jwks_key_is_chosen_by_kid() {
    let snapshot = jwt_snapshot(
        &format!("claim: tenant_id, jwks_file: {}", fixture("jwks.json")),
        "",
    );
    let acme = claims("acme", json!({}));
    let rsa = signed(Algorithm::RS256, "rsa-private.pem", Some("rsa-2026"), &acme);
    let ec = signed(Algorithm::ES256, "ec-private.pem", Some("ec-2026"), &acme);
    for token in [rsa, ec] {
        assert_eq!(
            decide(&snapshot, &bearer(&token)).tenant.as_deref(),
            Some("acme")
        );
    }
    let unknown = signed(Algorithm::RS256, "rsa-private.pem", Some("old"), &acme);
    assert_eq!(refusal(&snapshot, &bearer(&unknown)), "unknown kid");
    let none = signed(Algorithm::RS256, "rsa-private.pem", None, &acme);
    assert_eq!(
        refusal(&snapshot, &bearer(&none)),
        "no kid in the token header"
    );
}

#[test]
fn jwks_key_only_accepts_its_own_algorithm() {
    let snapshot = jwt_snapshot(
        &format!("claim: tenant_id, jwks_file: {}", fixture("jwks.json")),
        "",
    );
    let acme = claims("acme", json!({}));
    let ec_as_rsa = signed(Algorithm::ES256, "ec-private.pem", Some("rsa-2026"), &acme);
    assert_eq!(
        refusal(&snapshot, &bearer(&ec_as_rsa)),
        "algorithm not allowed"
    );
}

#[test]
fn expired_token_is_refused_past_the_leeway() {
    let snapshot = hs_snapshot();
    let leeway = LEEWAY_SECS as i64;
    let expired = hs256(&claims("acme", json!({ "exp": now() - leeway - 60 })));
    assert_eq!(refusal(&snapshot, &bearer(&expired)), "expired");
    let within = hs256(&claims("acme", json!({ "exp": now() - leeway / 3 })));
    assert_eq!(
        decide(&snapshot, &bearer(&within)).tenant.as_deref(),
        Some("acme")
    );
}

#[test]
fn token_not_yet_valid_is_refused_past_the_leeway() {
    let snapshot = hs_snapshot();
    let leeway = LEEWAY_SECS as i64;
    let early = hs256(&claims("acme", json!({ "nbf": now() + leeway + 60 })));
    assert_eq!(refusal(&snapshot, &bearer(&early)), "not yet valid");
    let within = hs256(&claims("acme", json!({ "nbf": now() + leeway / 3 })));
    assert_eq!(
        decide(&snapshot, &bearer(&within)).tenant.as_deref(),
        Some("acme")
    );
}

#[test]
fn token_without_exp_is_refused() {
    let snapshot = hs_snapshot();
    let token = hs256(&json!({ "tenant_id": "acme" }));
    assert_eq!(refusal(&snapshot, &bearer(&token)), "no exp claim");
}

#[test]
fn token_signed_with_another_key_is_refused() {
    let snapshot = pem_snapshot("rsa-public.pem");
    let acme = acme();
    let token = signed(Algorithm::RS256, "other-rsa-private.pem", None, &acme);
    assert_eq!(refusal(&snapshot, &bearer(&token)), "bad signature");
    let other_secret = EncodingKey::from_secret(b"another-secret-of-at-least-32-bytes!!");
    let forged = encode(&Header::new(Algorithm::HS256), &acme, &other_secret).expect("signs");
    assert_eq!(refusal(&hs_snapshot(), &bearer(&forged)), "bad signature");
}

#[test]
fn alg_none_is_refused() {
    let snapshot = hs_snapshot();
    let real = hs256(&claims("acme", json!({})));
    let payload = real.split('.').nth(1).expect("a payload segment");
    let unsigned = format!("{NONE_HEADER}.{payload}.");
    assert!(snapshot.decide(&bearer(&unsigned)).is_err());
}

/// The classic confusion: an HS256 token whose "secret" is the RSA public key, which is
/// public. The configuration says RS256, so the token's HS256 header is refused.
#[test]
fn hs256_token_signed_with_the_rsa_public_key_is_refused() {
    let snapshot = pem_snapshot("rsa-public.pem");
    let key = EncodingKey::from_secret(&fixture_bytes("rsa-public.pem"));
    let token = encode(&Header::new(Algorithm::HS256), &acme(), &key).expect("signs");
    assert_eq!(refusal(&snapshot, &bearer(&token)), "algorithm not allowed");
}

#[test]
fn missing_or_unusable_claim_is_refused() {
    let snapshot = hs_snapshot();
    let cases = [
        (json!({ "exp": now() + 60 }), "no tenant claim"),
        (
            json!({ "tenant_id": 42, "exp": now() + 60 }),
            "tenant claim is not a string",
        ),
        (
            json!({ "tenant_id": "acme corp", "exp": now() + 60 }),
            "tenant claim is not a valid tenant id",
        ),
    ];
    for (claims, why) in cases {
        assert_eq!(refusal(&snapshot, &bearer(&hs256(&claims))), why);
    }
}

#[test]
fn request_without_a_token_has_no_tenant() {
    let snapshot = hs_snapshot();
    let req = FakeRequest::get("/o/x").tenant("acme");
    let decision = decide(&snapshot, &req);
    assert_eq!((decision.tenant, decision.reason), (None, Reason::NoTenant));
    assert_eq!(decision.side, Side::Legacy, "tenant.default");
}

#[test]
fn authorization_must_be_a_bearer_credential() {
    let snapshot = hs_snapshot();
    let token = hs256(&claims("acme", json!({})));
    let basic = FakeRequest::get("/o/x").header("Authorization", "Basic dXNlcjpwYXNz");
    assert_eq!(refusal(&snapshot, &basic), "not a Bearer credential");
    let lower = FakeRequest::get("/o/x").header("authorization", &format!("bearer {token}"));
    assert_eq!(decide(&snapshot, &lower).tenant.as_deref(), Some("acme"));
    let empty = FakeRequest::get("/o/x").header("Authorization", "Bearer ");
    assert!(snapshot.decide(&empty).is_err());
}

#[test]
fn another_header_carries_the_bare_token() {
    let snapshot = jwt_snapshot(
        &format!("claim: tenant_id, header: X-Access-Token, hs256_secret_env: {SECRET_ENV}"),
        "",
    );
    let token = hs256(&claims("acme", json!({})));
    let req = FakeRequest::get("/o/x").header("x-access-token", &token);
    assert_eq!(decide(&snapshot, &req).tenant.as_deref(), Some("acme"));
    assert_eq!(
        decide(&snapshot, &bearer(&token)).tenant,
        None,
        "Authorization is not read"
    );
}

#[test]
fn on_invalid_legacy_sends_a_bad_token_to_legacy_without_a_tenant() {
    let snapshot = jwt_snapshot(
        &format!("claim: tenant_id, hs256_secret_env: {SECRET_ENV}"),
        "  on_invalid: legacy\n",
    );
    let expired = hs256(&claims("acme", json!({ "exp": now() - 3600 })));
    let req = FakeRequest::get("/api/x").header("Authorization", &format!("Bearer {expired}"));
    let decision = decide(&snapshot, &req);
    assert_eq!(decision.side, Side::Legacy);
    assert_eq!(decision.reason, Reason::InvalidToken("expired"));
    assert_eq!(decision.reason.to_string(), "invalid-token (expired)");
    assert_eq!((decision.tenant, decision.tenant_source), (None, None));
    assert_eq!(decision.route.map(|r| r.name()), Some("all"));
}

#[test]
fn debug_output_never_shows_the_secret() {
    let shown = format!("{:?}", hs_snapshot());
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains("HS256"), "{shown}");
}

#[test]
fn key_files_are_relative_to_the_directory_of_routes_yaml() {
    let yaml = jwt_yaml("claim: tenant_id, jwks_file: jwks.json", "");
    let snapshot =
        Snapshot::parse(&yaml, &fixture("routes.yaml"), &Fake::default()).expect("loads");
    assert!(snapshot.verified_tenants());
}

/// Three dot-separated base64url-ish segments, sometimes with a real header or payload, so
/// arbitrary tokens get past the first split and into header, key and claim handling.
pub(super) fn token_like() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let segment = "[A-Za-z0-9_=+/-]{0,60}";
    let real = hs256(&claims("acme", json!({})));
    let parts: Vec<String> = real.split('.').map(str::to_owned).collect();
    let header = prop_oneof![
        segment.prop_map(String::from),
        Just(parts[0].clone()),
        Just(NONE_HEADER.to_owned())
    ];
    let payload = prop_oneof![segment.prop_map(String::from), Just(parts[1].clone())];
    (header, payload, segment).prop_map(|(h, p, s)| format!("{h}.{p}.{s}"))
}

#[test]
fn audience_and_issuer_are_checked_when_configured() {
    let snapshot = jwt_snapshot(
        &format!(
            "claim: tenant_id, hs256_secret_env: {SECRET_ENV}, audience: strangler, issuer: \"https://id.example.com\""
        ),
        "",
    );
    let right = json!({ "aud": ["other", "strangler"], "iss": "https://id.example.com" });
    assert_eq!(
        tenant_of(&snapshot, &hs256(&claims("acme", right))),
        Some("acme".to_owned())
    );
    let wrong_aud = json!({ "aud": "other", "iss": "https://id.example.com" });
    let req = bearer(&hs256(&claims("acme", wrong_aud)));
    assert_eq!(refusal(&snapshot, &req), "wrong audience");
    let wrong_iss = json!({ "aud": "strangler", "iss": "https://evil.example.com" });
    let req = bearer(&hs256(&claims("acme", wrong_iss)));
    assert_eq!(refusal(&snapshot, &req), "wrong issuer");
    let no_iss = bearer(&hs256(&claims("acme", json!({ "aud": "strangler" }))));
    assert_eq!(refusal(&snapshot, &no_iss), "no iss claim");
    let no_aud = json!({ "iss": "https://id.example.com" });
    let req = bearer(&hs256(&claims("acme", no_aud)));
    assert_eq!(refusal(&snapshot, &req), "no aud claim");
}

#[test]
fn without_audience_an_aud_claim_is_not_checked() {
    let snapshot = hs_snapshot();
    let token = hs256(&claims(
        "acme",
        json!({ "aud": "anyone", "iss": "anybody" }),
    ));
    assert_eq!(tenant_of(&snapshot, &token), Some("acme".to_owned()));
}
