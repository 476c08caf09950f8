//! An upstream's `tls:` and `http2:` (of `legacy:` or a service in its mapping form): the CA
//! to trust instead of the system's, the server name to send and verify, a client
//! certificate for mTLS, `verify: false` as an explicit, warned choice; and whether to speak
//! HTTP/2 to it. Files are read through the [`Surroundings`], relative to routes.yaml.

use std::path::Path;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::route::Route;
use crate::tls::UpstreamTls;
use crate::upstream::Upstream;
use crate::Surroundings;

use super::problems::Problems;

/// An upstream's `tls:` section.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUpstreamTls {
    /// `ca:` a PEM file of the CA certificates to trust for this upstream, instead of the
    /// system's roots (a private CA).
    pub ca: Option<String>,
    /// `sni:` the server name sent and verified. Default: the URL's host (needed when the
    /// URL is an IP address and the certificate names a host).
    pub sni: Option<String>,
    /// `client_cert:` a PEM chain the proxy presents (mTLS); needs `client_key:`.
    pub client_cert: Option<String>,
    /// `client_key:` the PEM key of `client_cert:`.
    pub client_key: Option<String>,
    /// `verify:` false skips the check of the upstream's certificate: the connection is
    /// encrypted but not authenticated. Warned at load and labelled `verify="off"` in the
    /// upstream TLS metrics. Default true.
    pub verify: Option<bool>,
}

/// What an upstream entry adds to its URL: `tls:` and `http2:`.
pub(super) struct Transport<'a> {
    /// `tls:`, if written.
    pub tls: Option<&'a RawUpstreamTls>,
    /// `http2:`, if written.
    pub http2: Option<bool>,
}

/// Applies `transport` to `upstream` (resolved from the entry's URL at node `at`).
pub(super) fn apply(
    at: &str,
    mut upstream: Upstream,
    transport: Transport<'_>,
    (base, surroundings): (&Path, &dyn Surroundings),
    problems: &mut Problems<'_>,
) -> Option<Upstream> {
    upstream.http2 = transport.http2.unwrap_or(false);
    let Some(raw) = transport.tls else {
        return Some(upstream);
    };
    let Some(default) = upstream.tls.as_deref() else {
        let message = "tls: applies to https:// upstreams; this one is http://";
        problems.at_key(&format!("{at}.tls"), message);
        return None;
    };
    let tls = section(
        &format!("{at}.tls"),
        raw,
        default,
        (base, surroundings),
        problems,
    )?;
    if !tls.verify {
        let message = format!(
            "tls.verify is false: the certificate of upstream {:?} is not checked",
            upstream.name
        );
        problems.warn(&format!("{at}.tls.verify"), message);
    }
    upstream.tls = Some(Arc::new(tls));
    Some(upstream)
}

/// The checked `tls:` section over the URL's defaults.
fn section(
    at: &str,
    raw: &RawUpstreamTls,
    default: &UpstreamTls,
    (base, surroundings): (&Path, &dyn Surroundings),
    problems: &mut Problems<'_>,
) -> Option<UpstreamTls> {
    let ca = match &raw.ca {
        None => Some(None),
        Some(file) => surroundings
            .ca_bundle(&base.join(file))
            .map(|roots| Some(Arc::from(roots)))
            .map_err(|e| problems.at_value(&format!("{at}.ca"), format!("{file}: {e}")))
            .ok(),
    };
    let client = match (&raw.client_cert, &raw.client_key) {
        (None, None) => Some(None),
        (Some(cert), Some(key)) => surroundings
            .certificate(&base.join(cert), &base.join(key))
            .inspect(|pair| {
                let warning = surroundings
                    .now_unix()
                    .and_then(|now| pair.expiry_warning(now));
                if let Some(warning) = warning {
                    problems.warn(&format!("{at}.client_cert"), format!("{cert}: {warning}"));
                }
            })
            .map(|pair| Some(Arc::new(pair)))
            .map_err(|e| {
                let message = format!("{cert} with {key}: {e}");
                problems.at_value(&format!("{at}.client_cert"), message)
            })
            .ok(),
        _ => {
            let message = "client_cert: and client_key: go together";
            problems.at_value(at, message);
            None
        }
    };
    let sni = match raw.sni.as_deref() {
        Some("") => {
            problems.at_value(&format!("{at}.sni"), "sni must name a server");
            None
        }
        Some(sni) => Some(sni.to_ascii_lowercase().into()),
        None => Some(default.sni.clone()),
    };
    Some(UpstreamTls {
        sni: sni?,
        verify: raw.verify.unwrap_or(true),
        ca: ca?,
        client: client?,
    })
}

/// A route to an `http2: true` service (gRPC) cannot be shadowed (the shadow client speaks
/// HTTP/1.1 and compares JSON and text, not protobuf frames), and does not fall back on
/// statuses (a gRPC error is a `grpc-status` trailer on a 200).
pub(super) fn grpc_routes(routes: &[Route], services: &[Upstream], problems: &mut Problems<'_>) {
    for (index, route) in routes.iter().enumerate() {
        if !services.get(route.service_index()).is_some_and(|s| s.http2) {
            continue;
        }
        if route.shadow().is_some() {
            let message = format!(
                "route {:?} goes to an http2 service: shadow compares HTTP/1.1 answers, not gRPC",
                route.name
            );
            problems.at_key(&format!("routes[{index}].shadow"), message);
        }
        if route.fallback().is_some_and(|f| !f.statuses.is_empty()) {
            let message = format!(
                "route {:?} goes to an http2 service: gRPC errors are grpc-status trailers, \
                 not statuses; fall back on timeout only (fallback.on: [timeout])",
                route.name
            );
            problems.at_key(&format!("routes[{index}].fallback"), message);
        }
    }
}
