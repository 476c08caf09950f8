//! A faithful mirror (issue #14, item 3): the proxy's own marker never becomes a
//! difference when an upstream echoes the request's headers, and a request's framing
//! headers reach the shadow as the primary got them.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::scripted::Scripted;
use crate::support::shadowing::{one_route, route_report};
use crate::support::{send, Proxy};

async fn proxy(legacy: &Scripted, new: &Scripted, route: &str, shadow: &str) -> Proxy {
    Proxy::start(&one_route(legacy, new, route, shadow)).await
}

/// Both sides echo every request header, as JSON keys, as `[name, value]` pairs and as
/// text: the mirror's and the noise probe's `x-strangler-shadow` is neither a difference
/// nor noise.
#[tokio::test(flavor = "multi_thread")]
async fn marker_an_upstream_that_echoes_request_headers_shows_no_marker_anywhere() {
    let echo = |_: u64, received: &crate::support::scripted::Received| {
        let pairs: Vec<Value> = received
            .headers
            .iter()
            .map(|(n, v)| json!([n, v]))
            .collect();
        let text: Vec<String> = received
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .collect();
        json!({"headers": received.headers, "pairs": pairs, "raw": text.join("\n")})
    };
    let (legacy, new) = (Scripted::start(echo).await, Scripted::start(echo).await);
    let route = "marker-echo";
    let proxy = proxy(&legacy, &new, route, "{ ignore: [\"/raw\"] }").await;
    for i in 0..12 {
        let answer = send(proxy.get_as(&format!("t{i}"), "/api/echo")).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let report = route_report(&proxy, route, 12).await;
    let text = report.to_string();
    assert!(
        !text.contains("strangler"),
        "no marker in differences or noise: {report}"
    );
    assert_eq!(report["mismatched"], 0, "{report}");
    assert!(
        new.mirrored().len() == 12 && legacy.mirrored().len() >= 10,
        "marked mirrors and probes were sent"
    );
}

/// A request sent with a repeated `Content-Length` (two `5` lines) reaches the shadow with
/// the same header lines as it reached the primary, not one the mirror's client
/// recomputed. (A single `Content-Length: 5, 5` line is refused with 400 by Pingora's
/// parser before any side sees it.)
#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_content_length_reaches_the_shadow_as_the_primary_got_it() {
    let answer = |_: u64, _: &_| json!({"ok": true});
    let (legacy, new) = (Scripted::start(answer).await, Scripted::start(answer).await);
    let route = "mirror-framing";
    let proxy = proxy(&legacy, &new, route, "{ methods: [POST], noise: 0 }").await;
    let addr = proxy.running().proxy_addr();
    let request = "POST /api/orders HTTP/1.1\r\nHost: shop.example\r\nX-Tenant-Id: acme\r\n\
                   Content-Type: text/plain\r\nContent-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    let (status, body) = crate::support::raw_http::exchange(addr, request).await;
    assert_eq!(status, 200, "{body} legacy got {:?}", legacy.received());
    route_report(&proxy, route, 1).await;
    let lengths = |r: crate::support::scripted::Received| -> Vec<String> {
        let lines = r.header_lines.into_iter();
        lines
            .filter(|(n, _)| n == "content-length")
            .map(|(_, v)| v)
            .collect()
    };
    let primary = legacy.received().remove(0);
    let mirrored = new.mirrored().remove(0);
    let body_lens = (primary.body_len, mirrored.body_len);
    let primary_lengths = lengths(primary);
    assert_eq!(
        primary_lengths,
        ["5"],
        "Pingora sends one Content-Length upstream"
    );
    assert_eq!(lengths(mirrored), primary_lengths, "as the primary got it");
    assert_eq!(body_lens, (5, 5));
    let one_line = request.replace(
        "Content-Length: 5\r\nContent-Length: 5",
        "Content-Length: 5, 5",
    );
    let (status, _) = crate::support::raw_http::exchange(addr, &one_line).await;
    assert_eq!(status, 400, "refused before either side");
    assert_eq!((legacy.received().len(), new.received().len()), (1, 1));
}
