//! What `timeouts:` does at the edge: the upstream peer's connect, read and write timeouts,
//! the whole-exchange deadline (`total`), and the status a failed exchange is answered with.
//!
//! Pingora bounds single waits (a connect, one read, one write), not an exchange, so
//! `total` is kept in two places: no single read may wait past the deadline (the peer's
//! read timeout is the smaller of `read` and `total`), and the response body stops at the
//! first chunk after it. A timed-out upstream is a 504 while the client has no response
//! head yet; after that the connection is closed, as nothing else can tell the client.

use std::time::Instant;

use pingora::prelude::{HttpPeer, Session};
use pingora::proxy::FailToProxy;
use pingora::{Error, ErrorSource, ErrorType, Result};
use strangler_flags::config::timeouts::UpstreamTimeouts;

use crate::request::refusal;

/// How long an idle upstream connection stays pooled: below the 5 s keep-alive of Node and
/// Apache, so the proxy never reuses a connection the backend is closing.
const UPSTREAM_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(4);

/// Sets the peer's timeouts for one upstream; returns the exchange's deadline, if bounded,
/// counted from `started` (when the request was decided).
pub fn apply(
    peer: &mut HttpPeer,
    timeouts: &UpstreamTimeouts,
    started: Instant,
) -> Option<Instant> {
    let read = match timeouts.total {
        Some(total) => timeouts.read.min(total),
        None => timeouts.read,
    };
    peer.options.connection_timeout = Some(timeouts.connect);
    peer.options.read_timeout = Some(read);
    peer.options.write_timeout = Some(timeouts.write);
    peer.options.idle_timeout = Some(UPSTREAM_IDLE_TIMEOUT);
    timeouts.total.map(|total| started + total)
}

/// Fails the exchange once its deadline has passed (called per response body chunk).
pub fn check_deadline(deadline: Option<Instant>) -> Result<()> {
    match deadline {
        Some(deadline) if Instant::now() >= deadline => Error::e_explain(
            ErrorType::ReadTimedout,
            "the upstream exchange took longer than timeouts.total",
        )
        .map_err(|mut e| {
            e.as_up();
            e
        }),
        _ => Ok(()),
    }
}

/// Answers a request that failed: 504 for an upstream that timed out, 408 for a client that
/// stalled, otherwise Pingora's own choice (502 upstream, 400 client, 500 internal, nothing
/// for a connection already gone), with a JSON body ([`refusal::respond_failure`]); 408 for
/// an upload `total` ended (`late_upload`). Nothing is written once the response head was
/// sent. A 502 or 504 names `upstream`, the upstream that failed.
pub async fn fail_to_proxy(
    session: &mut Session,
    e: &Error,
    late_upload: bool,
    upstream: Option<&str>,
) -> FailToProxy {
    let code = if late_upload { 408 } else { status_for(e) };
    let upstream = upstream.filter(|_| matches!(code, 502 | 504));
    if code > 0 {
        if let Err(error) = refusal::respond_failure(session, code, upstream).await {
            tracing::debug!(%error, "failed to send the error response");
        }
    }
    FailToProxy {
        error_code: code,
        can_reuse_downstream: false,
    }
}

/// The status a failed request is answered with; 0 for none.
fn status_for(e: &Error) -> u16 {
    use ErrorType::*;
    match (e.etype(), e.esource()) {
        (HTTPStatus(code), _) => *code,
        (
            ConnectTimedout | ReadTimedout | WriteTimedout | TLSHandshakeTimedout,
            ErrorSource::Upstream,
        ) => 504,
        (_, ErrorSource::Upstream) => 502,
        (WriteError | ReadError | ConnectionClosed, ErrorSource::Downstream) => 0,
        (ReadTimedout, ErrorSource::Downstream) => 408,
        (_, ErrorSource::Downstream) => 400,
        (_, ErrorSource::Internal | ErrorSource::Unset) => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(etype: ErrorType, source: ErrorSource) -> Box<Error> {
        match source {
            ErrorSource::Upstream => Error::new_up(etype),
            ErrorSource::Downstream => Error::new_down(etype),
            _ => Error::new(etype),
        }
    }

    #[test]
    fn upstream_timeouts_are_504_and_other_upstream_failures_502() {
        let up = ErrorSource::Upstream;
        assert_eq!(status_for(&error(ErrorType::ReadTimedout, up.clone())), 504);
        assert_eq!(
            status_for(&error(ErrorType::ConnectTimedout, up.clone())),
            504
        );
        assert_eq!(status_for(&error(ErrorType::ConnectRefused, up)), 502);
    }

    #[test]
    fn a_stalled_client_is_408_and_a_gone_one_gets_nothing() {
        let down = ErrorSource::Downstream;
        assert_eq!(
            status_for(&error(ErrorType::ReadTimedout, down.clone())),
            408
        );
        assert_eq!(
            status_for(&error(ErrorType::ConnectionClosed, down.clone())),
            0
        );
        assert_eq!(status_for(&error(ErrorType::InvalidHTTPHeader, down)), 400);
        assert_eq!(
            status_for(&error(ErrorType::HTTPStatus(413), ErrorSource::Unset)),
            413
        );
    }

    #[test]
    fn the_deadline_fails_the_exchange_once_passed() {
        assert!(check_deadline(None).is_ok());
        let later = Instant::now() + std::time::Duration::from_secs(60);
        assert!(check_deadline(Some(later)).is_ok());
        let passed = check_deadline(Some(Instant::now())).unwrap_err();
        assert_eq!(passed.esource(), &ErrorSource::Upstream);
    }
}
