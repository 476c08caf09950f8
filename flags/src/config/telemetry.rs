//! The `telemetry:` section: where the proxy sends its traces. `otlp:` names an OpenTelemetry
//! collector reached over OTLP/HTTP with protobuf bodies, the share of new traces kept
//! (`sample:`, decided on the trace id so every hop keeps the same traces) and, through an
//! environment variable, the headers the collector wants (an API key stays out of the file).
//!
//! Checked here: the endpoint is an `https://` URL (verified against the system's roots) or
//! an `http://` one (a collector on the host or a sidecar), the protocol is one the proxy speaks, the
//! percentage has at most two decimals and the variable is set and reads as `key=value`
//! pairs. The collector is not resolved at load: it may start after the proxy.

use schemars::JsonSchema;
use serde::Deserialize;

use super::guard::RawPercent;
use super::header::header_name;
use super::problems::Problems;
use crate::Surroundings;

/// The path an endpoint without one gets: OTLP/HTTP's traces path.
pub const TRACES_PATH: &str = "/v1/traces";

/// `telemetry:`.
///
/// ```yaml
/// telemetry:
///   otlp: { endpoint: http://collector:4318, protocol: http/protobuf, sample: 1%, headers_env: OTLP_HEADERS }
/// ```
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTelemetry {
    /// `otlp:` export a span per request (and one per upstream exchange) to an
    /// OpenTelemetry collector. Default: no traces are exported.
    pub otlp: Option<RawOtlp>,
}

/// `telemetry.otlp`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOtlp {
    /// `endpoint:` the collector, `https://host:port` or `http://host:port` (OTLP/HTTP's port is 4318). Without a
    /// path, spans are posted to `/v1/traces`; with one, to that path. Required.
    pub endpoint: String,
    /// `protocol:` `http/protobuf` (the default). `grpc` is refused for now.
    #[serde(default)]
    pub protocol: OtlpProtocol,
    /// `sample:` the share of new traces exported, `1%` or `1`, decided on the trace id. A
    /// request whose `traceparent` says sampled (or not) follows its caller. Default 100%.
    pub sample: Option<RawPercent>,
    /// `headers_env:` the environment variable holding the headers every export carries,
    /// `key=value` pairs separated by commas (like `OTEL_EXPORTER_OTLP_HEADERS`).
    pub headers_env: Option<String>,
}

/// The wire protocols of OTLP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum OtlpProtocol {
    /// Protobuf bodies posted over HTTP.
    #[default]
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    /// gRPC; not supported yet, refused at load.
    #[serde(rename = "grpc")]
    Grpc,
}

/// Header names (lowercase) and values sent with every export.
pub type Headers = Vec<(Box<str>, Box<str>)>;

/// A validated `telemetry.otlp`.
#[derive(Clone, PartialEq, Eq)]
pub struct Otlp {
    /// The URL spans are posted to (the endpoint, with [`TRACES_PATH`] when it had no path).
    pub url: Box<str>,
    /// New traces kept, in basis points (100% is 10000).
    pub sample_basis_points: u16,
    /// The headers of `headers_env`, names lowercase.
    pub headers: Headers,
}

impl std::fmt::Debug for Otlp {
    /// Leaves the header values out: they are usually credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| &**name).collect();
        f.debug_struct("Otlp")
            .field("url", &self.url)
            .field("sample_basis_points", &self.sample_basis_points)
            .field("header_names", &names)
            .finish()
    }
}

/// Validates `telemetry:`; `Some(None)` when it exports nothing, `None` on a problem.
pub(super) fn validate(
    raw: RawTelemetry,
    surroundings: &dyn Surroundings,
    problems: &mut Problems<'_>,
) -> Option<Option<Otlp>> {
    let Some(raw) = raw.otlp else {
        return Some(None);
    };
    if raw.protocol == OtlpProtocol::Grpc {
        let message =
            "protocol grpc is not supported yet: use http/protobuf (the collector's port 4318)";
        problems.at_value("telemetry.otlp.protocol", message);
    }
    let url = traces_url(&raw.endpoint)
        .map_err(|m| problems.at_value("telemetry.otlp.endpoint", m))
        .ok();
    let sample = match &raw.sample {
        None => Ok(10_000),
        Some(percent) => percent.basis_points(),
    }
    .map_err(|m| problems.at_value("telemetry.otlp.sample", m))
    .ok();
    let headers = match raw.headers_env.as_deref() {
        None => Ok(Vec::new()),
        Some(name) => env_headers(name, surroundings),
    }
    .map_err(|m| problems.at_value("telemetry.otlp.headers_env", m))
    .ok();
    (raw.protocol == OtlpProtocol::HttpProtobuf).then_some(())?;
    Some(Some(Otlp {
        url: url?,
        sample_basis_points: sample?,
        headers: headers?,
    }))
}

/// `https://host[:port][/path]` (verified against the system's roots) or `http://...`,
/// with [`TRACES_PATH`] when there is no path.
fn traces_url(endpoint: &str) -> Result<Box<str>, String> {
    let (scheme, rest) = match endpoint.strip_prefix("https://") {
        Some(rest) => ("https", rest),
        None => endpoint
            .strip_prefix("http://")
            .map(|rest| ("http", rest))
            .ok_or_else(|| format!("endpoint {endpoint:?} must be an http(s):// URL"))?,
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let bad = |c: char| c.is_whitespace() || matches!(c, '?' | '#' | '@');
    if authority.is_empty() || endpoint.contains(bad) {
        return Err(format!(
            "endpoint {endpoint:?} must be http(s)://host[:port][/path]"
        ));
    }
    Ok(match path.trim_end_matches('/') {
        "" => format!("{scheme}://{authority}{TRACES_PATH}").into(),
        _ => endpoint.into(),
    })
}

/// The `key=value,key=value` headers in the variable `name`.
fn env_headers(name: &str, surroundings: &dyn Surroundings) -> Result<Headers, String> {
    let value = surroundings
        .secret(name)
        .ok_or_else(|| format!("environment variable {name} is not set"))?;
    let value = value
        .into_string()
        .map_err(|_| format!("environment variable {name} is not UTF-8"))?;
    value
        .split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("{name}: expected key=value pairs separated by commas"))?;
            let key = header_name(key.trim()).map_err(|m| format!("{name}: {m}"))?;
            let value = value.trim();
            if value.bytes().any(|b| b.is_ascii_control()) {
                return Err(format!(
                    "{name}: the value of {key} has a control character"
                ));
            }
            Ok((key, value.into()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_without_a_path_gets_the_traces_path() {
        assert_eq!(
            &*traces_url("http://collector:4318").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            &*traces_url("http://collector:4318/").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            &*traces_url("http://c:1/otlp/v1/traces").unwrap(),
            "http://c:1/otlp/v1/traces"
        );
    }

    #[test]
    fn an_endpoint_that_is_not_an_http_or_https_url_is_refused() {
        assert_eq!(
            traces_url("https://c:4318").as_deref(),
            Ok("https://c:4318/v1/traces")
        );
        for bad in [
            "ftp://c:4318",
            "collector:4318",
            "http://",
            "http://a b",
            "http://u@c",
        ] {
            assert!(traces_url(bad).is_err(), "{bad}");
        }
    }
}
