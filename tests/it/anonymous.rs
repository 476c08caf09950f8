//! `tenant.anonymous` through the real proxy: a browser without a tenant is given an id
//! cookie on its first answer and stays on one side for every request after it; the
//! share on the new side follows the percent; the cookie never reaches either upstream;
//! a forged id is replaced, never trusted; a tenant's request gets no cookie.

use std::collections::HashMap;

use reqwest::StatusCode;

use crate::support::process::strangler;
use crate::support::scratch::Scratch;
use crate::support::{send, Backend, Config, Proxy};

const PERCENT: u16 = 30;

async fn start() -> (Proxy, [Backend; 2]) {
    let backends = [
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    ];
    let config = Config::new(&backends[0])
        .service("billing", &backends[1])
        .tenant(
            "  sources: [ { header: X-Tenant-Id } ]\n  \
             anonymous: { cookie: strangler_id, max_age: 30d }",
        )
        .routes(&format!(
            "  - {{ name: app, match: {{ path: \"/app/**\" }}, service: billing, \
             rollout: {{ percent: {PERCENT} }} }}"
        ));
    (Proxy::start(&config).await, backends)
}

/// The id a `Set-Cookie` gives, if it sets `strangler_id`.
fn minted(set_cookie: Option<&str>) -> Option<String> {
    let value = set_cookie?.strip_prefix("strangler_id=")?;
    Some(value.split(';').next()?.to_owned())
}

/// One browser's first visit: the id it was given and the backend that answered.
async fn first_visit(proxy: &Proxy) -> (String, String) {
    let answer = send(proxy.get("/app/page")).await;
    assert_eq!(answer.status, StatusCode::OK);
    let set_cookie = answer.header("set-cookie").expect("an id cookie");
    assert!(
        set_cookie.ends_with("; Max-Age=2592000; Path=/; HttpOnly; SameSite=Lax"),
        "{set_cookie}"
    );
    let id = minted(Some(set_cookie)).expect("strangler_id");
    (id, answer.backend().to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_browsers_stay_on_their_side_over_a_thousand_requests() {
    let (proxy, _backends) = start().await;
    let mut sides: HashMap<String, String> = HashMap::new();
    for _ in 0..100 {
        let (id, backend) = first_visit(&proxy).await;
        let bucket = strangler_flags::bucket("app", &id);
        let expected = if bucket < PERCENT * 100 {
            "billing"
        } else {
            "legacy"
        };
        assert_eq!(backend, expected, "bucket {bucket} of {id}");
        sides.insert(id, backend);
    }
    for (id, side) in &sides {
        for _ in 0..9 {
            let cookie = format!("theme=dark; strangler_id={id}");
            let answer = send(proxy.get("/app/page").header("cookie", cookie)).await;
            assert_eq!(&answer.backend(), side, "browser {id} moved");
            assert_eq!(answer.header("set-cookie"), None, "an id is set once");
            assert_eq!(answer.decided("reason").map(|r| &r[..7]), Some("percent"));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_share_on_new_follows_the_percent_within_five_points() {
    // Over 1,000 first visits: with 100 random ids the share's standard deviation alone is
    // about 4.6 points, so 5 points over 100 would fail one run in three.
    let (proxy, _backends) = start().await;
    let mut new = 0;
    for _ in 0..1000 {
        if first_visit(&proxy).await.1 == "billing" {
            new += 1;
        }
    }
    let share = f64::from(new) / 10.0;
    assert!(
        (share - f64::from(PERCENT)).abs() <= 5.0,
        "{share} % on new"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_cookie_is_never_forwarded_to_either_side() {
    let (proxy, _backends) = start().await;
    let mut seen = HashMap::new();
    for _ in 0..40 {
        let (id, _) = first_visit(&proxy).await;
        let cookie = format!("theme=dark; strangler_id={id}; lang=fr");
        let answer = send(proxy.get("/app/page").header("cookie", cookie)).await;
        let forwarded = answer.upstream_header("cookie").map(str::to_owned);
        assert_eq!(forwarded.as_deref(), Some("theme=dark; lang=fr"));
        let alone = send(
            proxy
                .get("/app/page")
                .header("cookie", format!("strangler_id={id}")),
        )
        .await;
        assert_eq!(alone.upstream_header("cookie"), None);
        seen.insert(answer.backend().to_owned(), ());
    }
    assert_eq!(seen.len(), 2, "both sides were asked: {seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_anonymous_id_is_replaced_and_a_tenant_gets_no_cookie() {
    let (proxy, _backends) = start().await;
    for forged in ["acme", "ABCDEF0123456789ABCDEF0123456789", "0123"] {
        let cookie = format!("strangler_id={forged}");
        let answer = send(proxy.get("/app/page").header("cookie", cookie)).await;
        let replaced = minted(answer.header("set-cookie")).expect("a fresh id");
        assert_ne!(replaced, forged);
        assert_eq!(
            answer.upstream_header("cookie"),
            None,
            "not forwarded either"
        );
    }
    let tenant = send(proxy.get_as("acme", "/app/page")).await;
    assert_eq!(tenant.header("set-cookie"), None);
    assert_eq!(tenant.upstream_header("x-strangler-tenant"), Some("acme"));
}

#[test]
fn check_locates_a_bad_anonymous_cookie_and_max_age() {
    let scratch = Scratch::new();
    let text = Config::offline()
        .tenant("  anonymous: { cookie: \"a;b\", max_age: forever }")
        .render();
    let file = scratch.write("routes.yaml", &text);
    let output = strangler(&["check", file.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    let at = format!("{}:11:", file.display());
    assert!(
        err.contains(&format!("{at}24: \"a;b\" is not a valid cookie name")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{at}40: invalid duration \"forever\"")),
        "{err}"
    );
}

#[test]
fn explain_says_which_anonymous_id_bucketed_a_request() {
    let scratch = Scratch::new();
    let text = Config::offline()
        .tenant("  anonymous: {}")
        .routes("  - { name: app, match: { path: \"/app/**\" }, service: billing, rollout: { percent: 50 } }")
        .render();
    let file = scratch.write("routes.yaml", &text);
    let explain = |extra: &[&str]| {
        let config = file.to_str().expect("utf-8");
        let args = [
            &["explain", "--config", config, "--path", "/app/x"][..],
            extra,
        ]
        .concat();
        let output = strangler(&args);
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let id = "0123456789abcdef0123456789abcdef";
    let sent = explain(&["--cookie", &format!("strangler_id={id}")]);
    assert!(
        sent.contains(&format!("anonymous: bucketed by the id {id}")),
        "{sent}"
    );
    assert!(sent.contains("reason:   percent (bucket"), "{sent}");
    let forged = explain(&["--cookie", "strangler_id=acme"]);
    assert!(forged.contains("anonymous: none valid sent"), "{forged}");
    assert!(forged.contains("reason:   no-tenant"), "{forged}");
}
