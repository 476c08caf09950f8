//! Why a request left the side it was decided for, and the rules that let it.
//!
//! - `fallback:connect`: the new service refused or timed out the connection; nothing was
//!   sent, so any request goes to legacy.
//! - `fallback:status` / `fallback:timeout`: the new service answered a status the route's
//!   `fallback.on` lists (a connection dropped before the answer counts as 502), or its
//!   `read_timeout` passed first. The answer is dropped in `upstream_response_filter`,
//!   before any byte of it is written to the client, and the request is sent again to
//!   legacy through Pingora's retry, which replays the body from its 64 KiB buffer. Only for
//!   the methods of `fallback.methods`, idempotent ones unless the route set
//!   `idempotency_key` and the request has an `Idempotency-Key`, and only while the body
//!   fits the buffer.
//! - `fallback:connection-lost`: the connection to the new service closed (or was reset)
//!   before any byte of its answer, on a route whose `fallback:` did not already cover it.
//!   Pooled or fresh, the proxy cannot tell whether the service saw the request (a pooled
//!   connection may have been closed by the service just as it was reused, a fresh one by
//!   a service that died), so it does what an HTTP client may do (RFC 9110 9.2.2): an
//!   idempotent request whose body was buffered whole is replayed once, on legacy, on every
//!   route. Any other request is a 502.
//! - `breaker-open`: the route's service has an open breaker ([`crate::resilience::breaker`]), so the
//!   request goes to legacy without trying it. That holds for tenants pinned to `new` by
//!   an override too: the breaker protects availability, not the rollout.
//!
//! [`BreakerTicket`] is the per-request part: the diversion, and the breaker admission whose
//! outcome this request must report.

use std::sync::Arc;
use std::time::Instant;

use pingora::http::RequestHeader;
use pingora::prelude::Session;
use pingora::{Error, ErrorSource, ErrorType};
use strangler_flags::resilience::{Diversion, FallbackPolicy, IDEMPOTENCY_KEY_HEADER};

use crate::resilience::breaker::Admission;
use crate::resilience::service_health::ServiceBreaker;

/// What one request owes the breaker, and whether it was diverted.
#[derive(Default)]
pub struct BreakerTicket {
    /// Why legacy serves the request instead of the new service, if it does.
    pub diverted: Option<Diversion>,
    /// The breaker of the request's service and what it admitted, while the request is on
    /// the new side.
    admitted: Option<(Arc<ServiceBreaker>, Admission)>,
    /// Set when `upstream_response_filter` dropped a failed answer to retry on legacy.
    replaying: bool,
    /// The breaker's state when it was asked (`closed`, `half-open`, `open`), for the span.
    state: Option<&'static str>,
}

impl BreakerTicket {
    /// Asks the service's breaker; false if it is open (the request is then diverted).
    pub fn admit(&mut self, service: Option<Arc<ServiceBreaker>>) -> bool {
        let Some(service) = service else {
            return true;
        };
        let admission = service.breaker.admit(Instant::now());
        self.state = Some(match admission {
            Admission::Pass => "closed",
            Admission::Probe => "half-open",
            Admission::Refuse => "open",
        });
        match admission {
            Admission::Refuse => {
                self.diverted = Some(Diversion::BreakerOpen);
                false
            }
            admission => {
                self.admitted = Some((service, admission));
                true
            }
        }
    }

    /// The state of the request's service breaker when it was asked; `None` when the
    /// request was not for a service with a breaker.
    pub fn breaker_state(&self) -> Option<&'static str> {
        self.state
    }

    /// Reports the new service's outcome to its breaker, once.
    pub fn record(&mut self, ok: bool) {
        if let Some((guarded, admission)) = self.admitted.take() {
            guarded.breaker.record(admission, ok, Instant::now());
        }
    }

    /// At the end of the request: a probe that never reported gives its slot back.
    pub fn finish(&mut self) {
        if let Some((guarded, Admission::Probe)) = self.admitted.take() {
            guarded.breaker.release_probe();
        }
    }

    /// Diverts to legacy after a failed answer; the next error is the one raised for it.
    pub fn replay(&mut self, diversion: Diversion) {
        self.diverted = Some(diversion);
        self.replaying = true;
    }

    /// Whether `error` is the one raised to replay on legacy (asked once).
    pub fn take_replaying(&mut self) -> bool {
        std::mem::take(&mut self.replaying)
    }
}

/// A request that never reached `logging` (an HTTP/2 stream reset for a stalled body,
/// [`crate::connection::h2_stream`]) still gives its probe slot back.
impl Drop for BreakerTicket {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Whether `req` may be sent again to legacy under `policy`, its body having been
/// buffered whole (`truncated` false).
pub fn replayable(policy: &FallbackPolicy, req: &RequestHeader, truncated: bool) -> bool {
    let has_key = req.headers.contains_key(IDEMPOTENCY_KEY_HEADER);
    !truncated && policy.replays(req.method.as_str(), has_key)
}

/// The diversion `policy` allows for an error of the exchange with the new service that
/// happened before any of its answer reached the client.
pub fn after_error(policy: &FallbackPolicy, error: &Error) -> Option<Diversion> {
    if *error.esource() != ErrorSource::Upstream {
        return None;
    }
    match error.etype() {
        ErrorType::ReadTimedout | ErrorType::WriteTimedout => {
            policy.timeout.then_some(Diversion::Timeout)
        }
        _ => policy.on_status(502).then_some(Diversion::Status),
    }
}

/// Whether the new service's answer `status` is dropped for legacy's: the route's
/// `fallback.on` lists it and the request may be replayed.
pub fn after_status(policy: Option<&FallbackPolicy>, session: &Session, status: u16) -> bool {
    let truncated = session.as_ref().retry_buffer_truncated();
    policy.is_some_and(|p| p.on_status(status) && replayable(p, session.req_header(), truncated))
}

/// The diversion after a failed exchange with the new service (a timeout, a dropped
/// connection), if the route's `fallback:` allows it, nothing of the answer reached the
/// client yet and the request may be replayed.
pub fn after_failed_exchange(
    policy: Option<&FallbackPolicy>,
    session: &Session,
    error: &Error,
) -> Option<Diversion> {
    let policy = policy?;
    let truncated = session.as_ref().retry_buffer_truncated();
    let replay =
        session.response_written().is_none() && replayable(policy, session.req_header(), truncated);
    replay.then(|| after_error(policy, error)).flatten()
}

/// [`Diversion::ConnectionLost`] when the connection to the new service closed before any
/// of its answer reached the client and the request is idempotent with its body buffered
/// whole; the same for a pooled and a fresh connection.
pub fn after_lost_connection(session: &Session, error: &Error) -> Option<Diversion> {
    let truncated = session.as_ref().retry_buffer_truncated();
    let replayable = session.req_header().method.is_idempotent() && !truncated;
    let unanswered = session.response_written().is_none();
    (connection_lost(error) && replayable && unanswered).then_some(Diversion::ConnectionLost)
}

/// Whether `error` is the upstream connection closing or being reset under the exchange.
fn connection_lost(error: &Error) -> bool {
    use ErrorType::{ConnectionClosed, ReadError, WriteError};
    *error.esource() == ErrorSource::Upstream
        && matches!(error.etype(), ConnectionClosed | ReadError | WriteError)
}

/// Pingora's own retry rule (its default `error_while_proxy`): an idempotent request whose
/// body was buffered whole is retried when the error says so, e.g. a pooled connection the
/// upstream had closed.
pub fn pingora_retry_rule(session: &Session, error: &mut Error, client_reused: bool) {
    let truncated = session.as_ref().retry_buffer_truncated();
    if !session.req_header().method.is_idempotent() || truncated {
        error.set_retry(false);
    } else {
        error.retry.decide_reuse(client_reused);
    }
}

/// The error that drops a failed answer of the new service so Pingora retries on legacy.
pub fn replay_error(status: u16) -> Box<Error> {
    let mut error = Error::explain(
        ErrorType::HTTPStatus(status),
        "the new service failed; legacy answers instead",
    );
    error.set_retry(true);
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> FallbackPolicy {
        FallbackPolicy {
            statuses: vec![502, 503],
            timeout: true,
            methods: vec!["GET".into(), "POST".into()],
            idempotency_key: true,
        }
    }

    fn request(method: &str, key: bool) -> RequestHeader {
        let mut req = RequestHeader::build(method, b"/", None).expect("request");
        if key {
            req.insert_header("Idempotency-Key", "k1").expect("header");
        }
        req
    }

    #[test]
    fn a_truncated_body_is_never_replayed() {
        assert!(replayable(&policy(), &request("GET", false), false));
        assert!(!replayable(&policy(), &request("GET", false), true));
    }

    #[test]
    fn a_post_is_replayed_only_with_its_idempotency_key() {
        assert!(!replayable(&policy(), &request("POST", false), false));
        assert!(replayable(&policy(), &request("POST", true), false));
    }

    #[test]
    fn only_a_closed_or_reset_upstream_connection_counts_as_lost() {
        let up = |etype| Error::new(etype).into_up();
        assert!(connection_lost(&up(ErrorType::ConnectionClosed)));
        assert!(connection_lost(&up(ErrorType::ReadError)));
        assert!(connection_lost(&up(ErrorType::WriteError)));
        assert!(!connection_lost(&up(ErrorType::ReadTimedout)));
        assert!(!connection_lost(&up(ErrorType::InvalidHTTPHeader)));
        assert!(!connection_lost(
            &Error::new(ErrorType::ConnectionClosed).into_down()
        ));
    }

    #[test]
    fn upstream_timeouts_and_dropped_connections_map_to_their_triggers() {
        let up = |etype| Error::new(etype).into_up();
        let timeout = up(ErrorType::ReadTimedout);
        assert_eq!(after_error(&policy(), &timeout), Some(Diversion::Timeout));
        let closed = up(ErrorType::ConnectionClosed);
        assert_eq!(after_error(&policy(), &closed), Some(Diversion::Status));
        let client_left = Error::new(ErrorType::ConnectionClosed).into_down();
        assert_eq!(after_error(&policy(), &client_left), None);
        let no_timeout = FallbackPolicy {
            timeout: false,
            ..policy()
        };
        assert_eq!(after_error(&no_timeout, &timeout), None);
    }
}
