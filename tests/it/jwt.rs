//! Verified tenants through the real proxy: a `jwt:` source routes by the claim of a token
//! it verified, answers 401 with `WWW-Authenticate: Bearer` for a token it cannot verify
//! (or sends it to legacy under `on_invalid: legacy`), and never lets a client-sent tenant
//! header route or reach the upstream. Keys are the test-only fixtures in
//! `tests/fixtures/jwt/`; tokens are minted per test.

use std::process::Command;

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::metrics::sample;
use crate::support::scratch::Scratch;
use crate::support::tokens::{hs256, now};
use crate::support::{send, Answer, Backend, Config, Proxy, TENANT};

const FORWARDED: &str = "x-strangler-tenant";
/// The environment variable of the one HS256 test; set once, never changed.
const SECRET_ENV: &str = "STRANGLER_IT_JWT_SECRET";
const SECRET: &str = "integration-test-only-secret-32-bytes+";
/// `{"alg":"none","typ":"JWT"}`, base64url.
const NONE_HEADER: &str = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";

/// `jwt-invoices` at 0 % with `acme` on new, so the side shows which tenant was verified.
const ROUTES: &str = r#"
  - name: jwt-invoices
    match: { path: "/api/invoices/**" }
    service: billing
    rollout: { percent: 0, tenants: { acme: new } }
"#;

fn fixture(name: &str) -> String {
    format!(
        "{}/../tests/fixtures/jwt/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A `tenant:` section verifying RS256 tokens with the fixture public key, plus `extra`;
/// the verified tenant goes upstream in [`FORWARDED`] unless `extra` names another header.
fn rs256_tenant(extra: &str) -> String {
    let key = fixture("rsa-public.pem");
    let forward = match extra.contains("forward_header") {
        true => String::new(),
        false => format!("  forward_header: {FORWARDED}\n"),
    };
    format!("  sources: [ {{ jwt: {{ claim: tenant_id, public_key_file: {key} }} }} ]\n{forward}{extra}")
}

/// Claims for `tenant` valid for an hour, with `extra` claims replacing or added.
fn claims(tenant: &str, extra: Value) -> Value {
    let mut claims = json!({ "sub": "user-1", "tenant_id": tenant, "exp": now() + 3600 });
    if let (Some(all), Some(more)) = (claims.as_object_mut(), extra.as_object()) {
        all.extend(more.clone());
    }
    claims
}

/// `claims` signed RS256 with the fixture key `private` (PEM).
fn rs256(private: &str, claims: &Value) -> String {
    let pem = std::fs::read(fixture(private)).expect("fixture key");
    let key = EncodingKey::from_rsa_pem(&pem).expect("RSA key");
    encode(&Header::new(Algorithm::RS256), claims, &key).expect("signs")
}

struct Verified {
    proxy: Proxy,
    _backends: [Backend; 2],
}

async fn verified(tenant_section: &str) -> Verified {
    let backends = [
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    ];
    let config = Config::new(&backends[0])
        .service("billing", &backends[1])
        .tenant(tenant_section)
        .routes(ROUTES);
    Verified {
        proxy: Proxy::start(&config).await,
        _backends: backends,
    }
}

impl Verified {
    async fn with_token(&self, token: &str) -> Answer {
        let request = self.proxy.get("/api/invoices/7").bearer_auth(token);
        send(request).await
    }
}

/// A 401 with the Bearer challenge and a JSON error containing `why`; no backend saw it.
fn assert_unauthorized(answer: &Answer, why: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    let challenge = answer.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let error = answer.body["error"].as_str().unwrap_or_default();
    assert!(error.contains(why), "{why:?} not in {error:?}");
    assert_eq!(
        answer.backend(),
        "",
        "no backend may see an unverified request"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn valid_token_routes_by_its_claim() {
    let t = verified(&rs256_tenant("")).await;
    let answer = t
        .with_token(&rs256("rsa-private.pem", &claims("acme", json!({}))))
        .await;
    assert_eq!(answer.backend(), "billing", "{answer:?}");
    assert_eq!(answer.decided("reason"), Some("tenant-override"));
    assert_eq!(answer.upstream_header(FORWARDED), Some("acme"));
    let auth = answer.upstream_header("authorization").unwrap_or_default();
    assert!(
        auth.starts_with("Bearer "),
        "the token is forwarded as sent"
    );
    let other = t
        .with_token(&rs256("rsa-private.pem", &claims("globex", json!({}))))
        .await;
    assert_eq!(
        (other.backend(), other.decided("reason")),
        ("legacy", Some("default"))
    );
    assert_eq!(other.upstream_header(FORWARDED), Some("globex"));
}

#[tokio::test(flavor = "multi_thread")]
async fn hs256_token_verifies_with_the_secret_from_the_environment() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::env::set_var(SECRET_ENV, SECRET));
    let section = format!(
        "  sources: [ {{ jwt: {{ claim: org.tenant, hs256_secret_env: {SECRET_ENV} }} }} ]\n  \
         forward_header: {FORWARDED}"
    );
    let t = verified(&section).await;
    let nested = claims("ignored", json!({ "org": { "tenant": "acme" } }));
    let answer = t.with_token(&hs256(SECRET.as_bytes(), &nested)).await;
    assert_eq!(answer.backend(), "billing", "{answer:?}");
    assert_eq!(answer.upstream_header(FORWARDED), Some("acme"));
    let forged = hs256(b"not-the-secret-but-just-as-long-32+", &nested);
    assert_unauthorized(&t.with_token(&forged).await, "bad signature");
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_token_is_refused_with_401() {
    let t = verified(&rs256_tenant("")).await;
    let expired = claims("acme", json!({ "exp": now() - 300 }));
    let answer = t.with_token(&rs256("rsa-private.pem", &expired)).await;
    assert_unauthorized(&answer, "expired");
    let page = t.proxy.metrics().await;
    let refused = sample(
        &page,
        "strangler_rejected_requests_total",
        &[("reason", "invalid-token")],
    );
    assert!(refused >= 1.0, "the refusal is counted");
}

#[tokio::test(flavor = "multi_thread")]
async fn token_not_yet_valid_is_refused_with_401() {
    let t = verified(&rs256_tenant("")).await;
    let early = claims("acme", json!({ "nbf": now() + 300 }));
    let answer = t.with_token(&rs256("rsa-private.pem", &early)).await;
    assert_unauthorized(&answer, "not yet valid");
}

#[tokio::test(flavor = "multi_thread")]
async fn token_signed_with_another_key_is_refused_with_401() {
    let t = verified(&rs256_tenant("")).await;
    let token = rs256("other-rsa-private.pem", &claims("acme", json!({})));
    assert_unauthorized(&t.with_token(&token).await, "bad signature");
}

#[tokio::test(flavor = "multi_thread")]
async fn alg_none_token_is_refused_with_401() {
    let t = verified(&rs256_tenant("")).await;
    let real = rs256("rsa-private.pem", &claims("acme", json!({})));
    let payload = real.split('.').nth(1).expect("a payload segment");
    let unsigned = format!("{NONE_HEADER}.{payload}.");
    assert_unauthorized(&t.with_token(&unsigned).await, "invalid bearer token");
}

/// HS256 "signed" with the RSA public key, which anyone has: the config says RS256, so the
/// token's own `alg` is refused instead of obeyed.
#[tokio::test(flavor = "multi_thread")]
async fn hs256_token_signed_with_the_rsa_public_key_is_refused_with_401() {
    let t = verified(&rs256_tenant("")).await;
    let public_pem = std::fs::read(fixture("rsa-public.pem")).expect("fixture");
    let token = hs256(&public_pem, &claims("acme", json!({})));
    assert_unauthorized(&t.with_token(&token).await, "algorithm not allowed");
}

#[tokio::test(flavor = "multi_thread")]
async fn token_without_the_tenant_claim_is_refused_with_401() {
    let t = verified(&rs256_tenant("")).await;
    let token = rs256("rsa-private.pem", &json!({ "sub": "u", "exp": now() + 60 }));
    assert_unauthorized(&t.with_token(&token).await, "no tenant claim");
}

/// No token is no tenant (`tenant.default`), not a 401 and not a reason to ask another
/// source: the client's tenant headers are neither read nor forwarded.
#[tokio::test(flavor = "multi_thread")]
async fn spoofed_tenant_headers_without_a_token_are_never_used() {
    let t = verified(&rs256_tenant("")).await;
    let spoofed = t
        .proxy
        .get_as("acme", "/api/invoices/7")
        .header(FORWARDED, "acme");
    let answer = send(spoofed).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        (answer.backend(), answer.decided("reason")),
        ("legacy", Some("no-tenant"))
    );
    assert_eq!(answer.upstream_header(FORWARDED), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn spoofed_tenant_headers_with_a_valid_token_are_never_used() {
    let t = verified(&rs256_tenant("")).await;
    let token = rs256("rsa-private.pem", &claims("globex", json!({})));
    let spoofed = t
        .proxy
        .get_as("acme", "/api/invoices/7")
        .header(FORWARDED, "acme")
        .bearer_auth(token);
    let answer = send(spoofed).await;
    assert_eq!(answer.backend(), "legacy", "globex, not acme, decides");
    assert_eq!(answer.upstream_header(FORWARDED), Some("globex"));
}

/// With `forward_header` set to the header the monolith already reads, the client's copy
/// is replaced by the verified tenant, or removed when there is none.
#[tokio::test(flavor = "multi_thread")]
async fn forward_header_carries_only_the_verified_tenant() {
    let t = verified(&rs256_tenant("  forward_header: X-Tenant-Id\n")).await;
    let token = rs256("rsa-private.pem", &claims("globex", json!({})));
    let with_token = t.proxy.get_as("acme", "/api/invoices/7").bearer_auth(token);
    let answer = send(with_token).await;
    assert_eq!(answer.upstream_header(TENANT), Some("globex"), "{answer:?}");
    let without = send(t.proxy.get_as("acme", "/api/invoices/7")).await;
    assert_eq!(without.upstream_header(TENANT), None, "{without:?}");
    assert_eq!(without.backend(), "legacy");
}

#[tokio::test(flavor = "multi_thread")]
async fn on_invalid_legacy_serves_a_bad_token_from_legacy_without_a_tenant() {
    let t = verified(&rs256_tenant("  on_invalid: legacy\n")).await;
    let expired = claims("acme", json!({ "exp": now() - 300 }));
    let answer = t.with_token(&rs256("rsa-private.pem", &expired)).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.backend(), "legacy");
    assert_eq!(answer.decided("reason"), Some("invalid-token (expired)"));
    assert_eq!(answer.upstream_header(FORWARDED), None);
}

/// A verified config must name the header the monolith reads the tenant from: with the
/// default, a client's own `X-Tenant-Id` would reach it beside the verified tenant.
#[tokio::test(flavor = "multi_thread")]
async fn a_verified_tenant_without_a_named_forward_header_is_refused_at_start() {
    let backend = Backend::echo("legacy").await;
    let key = fixture("rsa-public.pem");
    let section = format!("  sources: [ {{ jwt: {{ claim: t, public_key_file: {key} }} }} ]");
    let error = Proxy::refused(&Config::new(&backend).tenant(&section)).await;
    assert!(error.contains("tenant.forward_header"), "{error}");
}

/// `tenant.strip_headers` removes client headers the upstreams trust, whatever their case.
#[tokio::test(flavor = "multi_thread")]
async fn strip_headers_keep_a_client_from_setting_what_upstreams_trust() {
    let t = verified(&rs256_tenant("  strip_headers: [X-User-Id, X-Roles]\n")).await;
    let token = rs256("rsa-private.pem", &claims("acme", json!({})));
    let answer = send(
        t.proxy
            .get("/api/invoices/1")
            .bearer_auth(&token)
            .header("X-User-Id", "admin")
            .header("x-roles", "superuser")
            .header("X-Other", "kept"),
    )
    .await;
    assert_eq!(
        answer.upstream_header(FORWARDED),
        Some("acme"),
        "{answer:?}"
    );
    assert_eq!(answer.upstream_header("x-user-id"), None, "{answer:?}");
    assert_eq!(answer.upstream_header("x-roles"), None, "{answer:?}");
    assert_eq!(
        answer.upstream_header("x-other"),
        Some("kept"),
        "{answer:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn jwt_next_to_an_unverified_source_is_refused_at_start() {
    let backend = Backend::echo("legacy").await;
    let key = fixture("rsa-public.pem");
    let mixed = format!(
        "  sources: [ {{ header: X-Tenant-Id }}, {{ jwt: {{ claim: t, public_key_file: {key} }} }} ]"
    );
    let error = Proxy::refused(&Config::new(&backend).tenant(&mixed)).await;
    assert!(error.contains("a jwt source must be the only"), "{error}");
}

/// Key files are read at load: after the key file changes, an explicit reload of the
/// unchanged routes.yaml swaps the keys (the watcher follows routes.yaml only).
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_picks_up_a_rotated_key_file() {
    let keys = Scratch::new();
    let key_file = keys.path().join("key.pem");
    std::fs::copy(fixture("rsa-public.pem"), &key_file).expect("copying the key");
    let backends = [
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    ];
    let section = format!(
        "  sources: [ {{ jwt: {{ claim: tenant_id, public_key_file: {} }} }} ]\n  \
         forward_header: {FORWARDED}",
        key_file.display()
    );
    let config = Config::new(&backends[0])
        .service("billing", &backends[1])
        .tenant(&section)
        .routes(ROUTES);
    let proxy = Proxy::start_unwatched(&config).await;
    let acme = claims("acme", json!({}));
    let rsa_token = rs256("rsa-private.pem", &acme);
    let ec_pem = std::fs::read(fixture("ec-private.pem")).expect("fixture key");
    let ec_key = EncodingKey::from_ec_pem(&ec_pem).expect("EC key");
    let ec_token = encode(&Header::new(Algorithm::ES256), &acme, &ec_key).expect("signs");
    let get = |token: &str| proxy.get("/api/invoices/7").bearer_auth(token);
    assert_eq!(send(get(&rsa_token)).await.backend(), "billing");

    std::fs::copy(fixture("ec-public.pem"), &key_file).expect("rotating the key");
    let (status, body) = proxy.reload().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(send(get(&ec_token)).await.backend(), "billing");
    assert_unauthorized(&send(get(&rsa_token)).await, "algorithm not allowed");
}

/// `strangler explain` verifies the token passed with `--header`, like the proxy.
#[test]
fn explain_verifies_a_bearer_token_given_as_a_header() {
    let scratch = Scratch::new();
    let text = Config::with_legacy_url("http://127.0.0.1:3000".into())
        .service_url("billing", "http://127.0.0.1:3001".into())
        .tenant(&rs256_tenant(""))
        .routes(ROUTES)
        .render();
    let file = scratch.write("routes.yaml", &text);
    let explain = |extra: &[&str]| {
        let mut args = vec!["explain", "--config", file.to_str().expect("utf-8")];
        args.extend(["--path", "/api/invoices/7"]);
        args.extend(extra);
        Command::new(env!("CARGO_BIN_EXE_strangler"))
            .args(args)
            .output()
            .expect("running strangler")
    };
    let token = rs256("rsa-private.pem", &claims("acme", json!({})));
    let good = explain(&["--header", &format!("Authorization: Bearer {token}")]);
    let out = String::from_utf8_lossy(&good.stdout);
    assert!(good.status.success(), "{good:?}");
    assert!(out.contains("tenant:   acme (from jwt)"), "{out}");
    let expired = rs256(
        "rsa-private.pem",
        &claims("acme", json!({ "exp": now() - 300 })),
    );
    let bad = explain(&["--header", &format!("Authorization: Bearer {expired}")]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("401"), "{err}");
    let claimed = explain(&["--tenant", "acme"]);
    assert!(
        !claimed.status.success(),
        "--tenant cannot claim a verified tenant"
    );
}
