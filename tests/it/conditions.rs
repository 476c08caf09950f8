//! Header, cookie and query conditions in `match:` through the real proxy and the real
//! binary: the route with more conditions wins when they all hold, a garbled `Cookie`
//! header is no cookie (never a 500), `strangler explain --cookie` and the console's
//! explain say which conditions decided, and `strangler check` locates a bad regex.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::process::strangler;
use crate::support::scratch::Scratch;
use crate::support::{send, Backend, Config, Proxy};

/// `beta` (billing) needs a version header, a cookie and `?api=v2`; `base` (catalog) does
/// not. Requests without a tenant go to the new side (`tenant.default: new`).
const ROUTES: &str = r#"
  - name: base
    match: { path: "/api/**" }
    service: catalog
  - name: beta
    match:
      path: "/api/**"
      headers: { X-App-Version: "~^(4|5)\\." }
      cookies: { beta: "yes" }
      query: { api: v2 }
    service: billing
"#;

const TOKEN: &str = "conditions-admin-token";

async fn start() -> (Proxy, [Backend; 3]) {
    let backends = [
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
        Backend::echo("catalog").await,
    ];
    let config = Config::new(&backends[0])
        .service("billing", &backends[1])
        .service("catalog", &backends[2])
        .tenant("  default: new")
        .routes(ROUTES);
    (
        Proxy::start_with_admin_token(&config, TOKEN).await,
        backends,
    )
}

/// The backend answering a GET of `path` with these headers.
async fn backend_for(proxy: &Proxy, path: &str, headers: &[(&str, &str)]) -> String {
    let mut request = proxy.get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer = send(request).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    answer.backend().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_route_whose_conditions_all_hold_wins_through_the_proxy() {
    let (proxy, _backends) = start().await;
    let version = ("x-app-version", "4.1");
    let beta = [version, ("cookie", "session=1; beta=yes")];
    assert_eq!(backend_for(&proxy, "/api/x?api=v2", &beta).await, "billing");
    assert_eq!(backend_for(&proxy, "/api/x?api=v1", &beta).await, "catalog");
    let split = [version, ("cookie", "session=1"), ("cookie", "beta=yes")];
    assert_eq!(
        backend_for(&proxy, "/api/x?api=v2", &split).await,
        "billing"
    );
    let old = [("x-app-version", "3.0"), ("cookie", "beta=yes")];
    assert_eq!(backend_for(&proxy, "/api/x?api=v2", &old).await, "catalog");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cookie_header_that_does_not_parse_is_no_cookie() {
    let (proxy, _backends) = start().await;
    let garbled = [("x-app-version", "4.1"), ("cookie", "beta=yes; ;;junk")];
    assert_eq!(
        backend_for(&proxy, "/api/x?api=v2", &garbled).await,
        "catalog"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_explain_takes_cookies_and_names_the_conditions() {
    let (proxy, _backends) = start().await;
    let body = json!({
        "path": "/api/x?api=v2",
        "headers": { "X-App-Version": "5.0" },
        "cookies": { "beta": "yes" },
    });
    let (status, answer) = proxy
        .admin_call(TOKEN, reqwest::Method::POST, "/admin/explain", Some(body))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["route"], "beta");
    assert_eq!(
        answer["conditions"],
        json!([
            "header x-app-version ~ \"^(4|5)\\\\.\"",
            "cookie beta = \"yes\"",
            "query api = \"v2\""
        ])
    );
}

/// A routes.yaml with `routes` and fixed upstreams, for the offline commands.
fn routes_file(scratch: &Scratch, routes: &str) -> std::path::PathBuf {
    scratch.write("routes.yaml", &Config::offline().routes(routes).render())
}

#[test]
fn explain_with_a_cookie_says_which_conditions_matched() {
    let scratch = Scratch::new();
    let file = routes_file(&scratch, ROUTES);
    let config = file.to_str().expect("utf-8");
    let args = ["explain", "--config", config, "--path", "/api/x?api=v2"];
    let asked = |extra: &[&str]| strangler(&[&args[..], extra].concat());
    let beta = asked(&["--header", "X-App-Version: 4.2", "--cookie", "beta=yes"]);
    let out = String::from_utf8_lossy(&beta.stdout);
    assert!(beta.status.success(), "{beta:?}");
    assert!(out.contains("route:    beta\n"), "{out}");
    let matched = "matched:  header x-app-version ~ \"^(4|5)\\\\.\", cookie beta = \"yes\", \
                   query api = \"v2\"";
    assert!(out.contains(matched), "{out}");
    let base = asked(&["--header", "X-App-Version: 4.2", "--cookie", "beta=no"]);
    let out = String::from_utf8_lossy(&base.stdout);
    assert!(
        out.contains("route:    base\n") && !out.contains("matched:"),
        "{out}"
    );
}

#[test]
fn check_locates_an_invalid_regex_and_a_bad_cookie_name() {
    let scratch = Scratch::new();
    let routes = r#"
  - name: beta
    match:
      path: "/api/**"
      headers: { X-App-Version: "~(4" }
      cookies: { "be ta": "yes" }
    service: billing
"#;
    let file = routes_file(&scratch, routes);
    let checked = strangler(&["check", file.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&checked.stderr);
    assert_eq!(checked.status.code(), Some(1), "{err}");
    assert!(
        err.contains("route \"beta\": invalid regex \"(4\""),
        "{err}"
    );
    assert!(
        err.contains("\"be ta\" is not a valid cookie name"),
        "{err}"
    );
    assert_eq!(
        err.matches(&*format!("{}:", file.display())).count(),
        2,
        "{err}"
    );
}
