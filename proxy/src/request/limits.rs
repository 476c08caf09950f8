//! What `limits:` does to a request at the edge, once its tenant and route are known:
//! a request head over `max_header` is answered 431, a `Content-Length` over `max_body`
//! 413, and a tenant over its rate 429 with `Retry-After`, each before anything goes
//! upstream and each with a JSON body naming the limit ([`super::refusal`]). A body without a length is counted
//! as it streams and cut off past `max_body`; `client_timeout` bounds every wait for the
//! client's next body bytes and for the client to take more of the response, and
//! `timeouts.total` the whole upload ([`bound_upload`]: a body still arriving when the
//! exchange's deadline passes is cut with 408, `upload-timeout`). Pingora bounds HTTP/1 body
//! reads itself; an HTTP/2 stream's body waits are reported to
//! [`crate::connection::h2_stream`], which resets a stalled stream.
//!
//! The checks run from one call in `request_filter` ([`admit`]), in this order: the whole
//! proxy's `max_in_flight` (503), the size checks (they cost nothing and do not spend the
//! tenant's tokens), then the rate: the tenant's, or for a request without a tenant its
//! client address's (`anonymous`).

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pingora::http::RequestHeader;
use pingora::prelude::Session;
use pingora::{Error, ErrorSource, ErrorType, Result};
use strangler_flags::config::limits::{Limits, Rate};

use crate::connection::h2_stream::{self, CLIENT_TIMEOUT, UPLOAD_TIMEOUT};
use crate::live::loaded::Loaded;
use crate::request::rate_limit::{retry_after_seconds, RateLimiter, Verdict};
use crate::request::refusal::{self, Refusal};

/// Pingora's wait for the next bytes of a request body when `client_timeout` is not set.
const PINGORA_BODY_READ: Duration = Duration::from_secs(60);

/// What the limits keep about one request while it streams.
#[derive(Debug, Default)]
pub struct RequestLimits {
    /// The limit that refused the request (its log reason), if one did.
    refused: Option<&'static str>,
    /// Whether the refusal came before any upstream was chosen.
    up_front: bool,
    /// `limits.max_body`, for a body whose length was not known up front.
    max_body: Option<u64>,
    /// Request body bytes seen so far.
    body_seen: u64,
    /// When the upstream exchange must be over (`timeouts.total`), set by `upstream_peer`.
    pub(crate) deadline: Option<Instant>,
    /// Whether the wait for the next body bytes was cut at `deadline` ([`bound_upload`]),
    /// so a client read that times out is the upload running past `total`.
    read_cut_at_deadline: bool,
}

impl RequestLimits {
    /// The log reason of the limit that refused the request, if one did.
    pub fn refused(&self) -> Option<&'static str> {
        self.refused
    }

    /// Whether a limit answered the request before any upstream was chosen.
    pub fn refused_up_front(&self) -> bool {
        self.up_front
    }
}

/// Applies `limits:` to a decided request, `in_flight` counting it: sets the client read
/// and write timeouts (and an HTTP/2 stream's body watch), checks the proxy's capacity,
/// sizes and the rate, and answers the request itself when a limit refuses it (true).
pub async fn admit(
    session: &mut Session,
    loaded: &Loaded,
    limiter: &RateLimiter,
    (tenant, route): (Option<&str>, Option<usize>),
    in_flight: usize,
    state: &mut RequestLimits,
) -> Result<bool> {
    let limits = loaded.snapshot.limits();
    if let Some(timeout) = limits.client_timeout {
        session.set_read_timeout(Some(timeout));
        session.set_write_timeout(Some(timeout));
    }
    if session.as_ref().is_http2() && !session.is_body_done() {
        let per_read = limits.client_timeout.unwrap_or(PINGORA_BODY_READ);
        h2_stream::await_body(per_read, CLIENT_TIMEOUT);
    }
    // Read only for a request without a tenant, under an `anonymous` rate.
    let client = || {
        session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip())
    };
    let checked = over_capacity(limits, in_flight)
        .and_then(|()| check(session.req_header(), limits, state))
        .and_then(|()| check_rate(limits, limiter, (tenant, client), Instant::now));
    let Err(refusal) = checked else {
        return Ok(false);
    };
    match refusal {
        Refusal::RateLimited { .. } | Refusal::AnonymousRateLimited { .. } => {
            loaded.metrics.record_rate_limited(route)
        }
        _ => crate::telemetry::metrics::record_rejected(refusal.code()),
    }
    state.refused = Some(refusal.code());
    state.up_front = true;
    refusal::respond(session, &refusal).await?;
    Ok(true)
}

/// The `limits` object of `/admin/config`: what is configured, and how many tenants have a
/// bucket now.
pub fn admin_report(limits: &Limits, limiter: &RateLimiter) -> serde_json::Value {
    let rate = |rate: Rate| serde_json::json!({ "rps": rate.per_second, "burst": rate.burst });
    serde_json::json!({
        "per_tenant": limits.rates.per_tenant().map(rate),
        "anonymous": limits.anonymous.map(rate),
        "max_in_flight": limits.max_in_flight,
        "tiered_tenants": limits.rates.tiered_tenants(),
        "tracked_tenants": limiter.tracked(),
        "max_body": limits.max_body,
        "max_header": limits.max_header,
        "client_timeout_ms": limits.client_timeout.map(|t| t.as_millis() as u64),
    })
}

/// The size checks; remembers `max_body` for a body of unknown length.
fn check(req: &RequestHeader, limits: &Limits, state: &mut RequestLimits) -> Result<(), Refusal> {
    if let Some(limit) = limits.max_header {
        if head_size(req) > limit {
            return Err(Refusal::HeaderTooLarge { limit });
        }
    }
    let Some(limit) = limits.max_body else {
        return Ok(());
    };
    match declared_length(req) {
        Some(length) if length > limit => Err(Refusal::BodyTooLarge { limit }),
        Some(_) => Ok(()),
        None => {
            state.max_body = Some(limit);
            Ok(())
        }
    }
}

/// 503 once more requests than `max_in_flight` are being served (`in_flight` counts this
/// one).
fn over_capacity(limits: &Limits, in_flight: usize) -> Result<(), Refusal> {
    match limits.max_in_flight {
        Some(max) if in_flight > max => Err(Refusal::OverCapacity),
        _ => Ok(()),
    }
}

/// Takes a token from the tenant's bucket or, for a request without a tenant, from its
/// client address's (`anonymous`, keyed with a NUL no tenant id can hold).
fn check_rate(
    limits: &Limits,
    limiter: &RateLimiter,
    (tenant, client): (Option<&str>, impl FnOnce() -> Option<IpAddr>),
    now: impl FnOnce() -> Instant,
) -> Result<(), Refusal> {
    let (key, rate) = match (tenant, limits.anonymous) {
        (Some(tenant), _) => match limits.rates.rate_for(tenant) {
            Some(rate) => (Cow::Borrowed(tenant), rate),
            None => return Ok(()),
        },
        (None, Some(rate)) => match client() {
            Some(ip) => (Cow::Owned(format!("\0{ip}")), rate),
            None => return Ok(()),
        },
        (None, None) => return Ok(()),
    };
    let Verdict::Limited { retry_after } = limiter.check(&key, rate, now()) else {
        return Ok(());
    };
    let retry_after = retry_after_seconds(retry_after);
    Err(match tenant {
        Some(tenant) => Refusal::RateLimited {
            tenant: tenant.to_owned(),
            retry_after,
        },
        None => Refusal::AnonymousRateLimited { retry_after },
    })
}

/// Starts counting the request body again: Pingora replays its retry buffer through the
/// body filter when it retries the request on another upstream.
pub fn restart_body(state: &mut RequestLimits) {
    state.body_seen = 0;
}

/// Counts a chunk of request body; past `max_body` the request fails with 413 (sent if the
/// client has no response yet; the upstream request is aborted either way).
pub fn count_body(state: &mut RequestLimits, chunk: Option<&Bytes>) -> Result<()> {
    let Some(limit) = state.max_body else {
        return Ok(());
    };
    state.body_seen += chunk.map_or(0, |c| c.len() as u64);
    if state.body_seen <= limit {
        return Ok(());
    }
    state.refused = Some("body-too-large");
    crate::telemetry::metrics::record_rejected("body-too-large");
    // The client caused it: the error says so (its source is downstream).
    let mut error = Error::explain(
        ErrorType::HTTPStatus(413),
        format!("the request body grew past max_body ({limit} bytes)"),
    );
    error.as_down();
    Err(error)
}

/// `timeouts.total` while the request body arrives: once the exchange's deadline has passed
/// the upload fails (408), and the wait for its next bytes is cut at the deadline (or at
/// `client_timeout`, if sooner), so a client trickling or stalling a body cannot hold the
/// exchange past `total`. Called when the peer is chosen and after every body chunk.
pub fn bound_upload(
    session: &mut Session,
    state: &mut RequestLimits,
    client_timeout: Option<Duration>,
) -> Result<()> {
    let Some(deadline) = state.deadline else {
        return Ok(());
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        state.read_cut_at_deadline = true;
        let mut error = Error::explain(
            ErrorType::ReadTimedout,
            "the request body was still arriving when timeouts.total passed",
        );
        error.as_down();
        return Err(error);
    }
    let per_read = client_timeout.unwrap_or(PINGORA_BODY_READ);
    state.read_cut_at_deadline = left < per_read;
    session.set_read_timeout(Some(per_read.min(left)));
    if session.as_ref().is_http2() && !session.is_body_done() {
        let reason = match state.read_cut_at_deadline {
            true => UPLOAD_TIMEOUT,
            false => CLIENT_TIMEOUT,
        };
        h2_stream::await_body(per_read.min(left), reason);
    }
    Ok(())
}

/// Reports a chunk of an HTTP/2 stream's request body, or its end, to the stream's body
/// watch (nothing for HTTP/1, whose reads Pingora bounds).
pub fn body_progress(end_of_stream: bool) {
    match end_of_stream {
        true => h2_stream::body_done(),
        false => h2_stream::body_arrived(),
    }
}

/// From `fail_to_proxy`: whether the request failed as an upload that `timeouts.total`
/// ended, then logged and counted as `upload-timeout` (and not held against the new
/// side's guard) and answered 408. That is a client read [`bound_upload`] cut at the
/// deadline, or any timeout past the deadline while the body (`body_done` false) was still
/// arriving: the upstream's read timeout, also bounded by `total`, can fire first.
pub fn note_late_upload(state: &mut RequestLimits, error: &Error, body_done: bool) -> bool {
    let timed_out = matches!(error.etype(), ErrorType::ReadTimedout);
    let client_cut = error.esource() == &ErrorSource::Downstream && state.read_cut_at_deadline;
    let past = state.deadline.is_some_and(|d| Instant::now() >= d);
    let late = timed_out && (client_cut || (past && !body_done));
    if late && state.refused.is_none() {
        state.refused = Some("upload-timeout");
        crate::telemetry::metrics::record_rejected("upload-timeout");
    }
    late
}

/// The request line and every header as HTTP/1.1 writes them (`name: value\r\n`).
fn head_size(req: &RequestHeader) -> u64 {
    let line = req.method.as_str().len() + req.raw_path().len() + " HTTP/1.1\r\n ".len();
    let headers: usize = req
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    (line + headers) as u64
}

/// The `Content-Length` the client declared, if it is one number.
fn declared_length(req: &RequestHeader) -> Option<u64> {
    let value = req.headers.get(http::header::CONTENT_LENGTH)?;
    value.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> RequestHeader {
        let mut req = RequestHeader::build("POST", b"/api/x", None).unwrap();
        for (name, value) in headers {
            req.insert_header(name.to_string(), *value).unwrap();
        }
        req
    }

    fn limits(max_body: Option<u64>, max_header: Option<u64>) -> Limits {
        Limits {
            max_body,
            max_header,
            ..Limits::default()
        }
    }

    #[test]
    fn a_declared_body_over_max_body_is_refused_up_front() {
        let mut state = RequestLimits::default();
        let req = request(&[("content-length", "11")]);
        let refused = check(&req, &limits(Some(10), None), &mut state);
        assert_eq!(refused, Err(Refusal::BodyTooLarge { limit: 10 }));
        let fits = request(&[("content-length", "10")]);
        assert_eq!(check(&fits, &limits(Some(10), None), &mut state), Ok(()));
        assert_eq!(state.max_body, None, "a known length needs no counting");
    }

    #[test]
    fn a_body_of_unknown_length_is_counted_and_cut_past_max_body() {
        let mut state = RequestLimits::default();
        let req = request(&[("transfer-encoding", "chunked")]);
        assert_eq!(check(&req, &limits(Some(10), None), &mut state), Ok(()));
        let chunk = Bytes::from_static(b"123456");
        assert!(count_body(&mut state, Some(&chunk)).is_ok());
        let error = count_body(&mut state, Some(&chunk)).unwrap_err();
        assert_eq!(error.etype(), &ErrorType::HTTPStatus(413));
        assert_eq!(error.esource(), &pingora::ErrorSource::Downstream);
        assert_eq!(state.refused, Some("body-too-large"));
    }

    #[test]
    fn a_head_over_max_header_is_refused() {
        let mut state = RequestLimits::default();
        let big = "x".repeat(100);
        let req = request(&[("x-big", big.as_str())]);
        let refused = check(&req, &limits(None, Some(64)), &mut state);
        assert_eq!(refused, Err(Refusal::HeaderTooLarge { limit: 64 }));
        assert_eq!(check(&req, &limits(None, Some(1024)), &mut state), Ok(()));
    }
}
