//! Why the proxy answers a request itself, before any upstream sees it, and the one place
//! that writes that answer: a status, a JSON body naming the problem (`{"error": ...}`),
//! and the headers the status calls for.
//!
//! The request was refused by the decision (400 for a target, path or tenant it will not
//! route, 401 for a bearer token that does not verify) or by `limits:` (431, 413, 429).
//! A request whose exchange failed (502, 504, 408, from `fail_to_proxy`) is answered in the
//! same shape by [`respond_failure`]: the proxy never answers with an empty body, nor
//! names its engine in a `Server` header.

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::prelude::Session;
use pingora::Result;
use strangler_flags::RequestError;

/// Why the proxy answers a request itself.
#[derive(Debug, PartialEq)]
pub(super) enum Refusal {
    /// The request target is neither a path nor an absolute URL (`GET api/x`, `GET foo:/..`):
    /// Pingora would route it as `/` but forward the raw target.
    Target,
    /// The decision refused the path or the tenant.
    Request(RequestError),
    /// The request head is larger than `max_header`.
    HeaderTooLarge { limit: u64 },
    /// The declared body is larger than `max_body`.
    BodyTooLarge { limit: u64 },
    /// The tenant's bucket is empty.
    RateLimited { tenant: String, retry_after: u64 },
    /// The bucket of a client address's requests without a tenant is empty.
    AnonymousRateLimited { retry_after: u64 },
    /// More requests than `max_in_flight` are being served.
    OverCapacity,
}

impl Refusal {
    /// The log reason and the `reason` label of `strangler_rejected_requests_total`.
    pub(super) fn code(&self) -> &'static str {
        match self {
            Refusal::Target => "invalid-target",
            Refusal::Request(RequestError::InvalidTenant { .. }) => "invalid-tenant",
            Refusal::Request(RequestError::InvalidPath(_)) => "invalid-path",
            Refusal::Request(RequestError::InvalidToken(_)) => "invalid-token",
            Refusal::HeaderTooLarge { .. } => "header-too-large",
            Refusal::BodyTooLarge { .. } => "body-too-large",
            Refusal::RateLimited { .. } | Refusal::AnonymousRateLimited { .. } => "rate-limited",
            Refusal::OverCapacity => "over-capacity",
        }
    }

    fn status(&self) -> u16 {
        match self {
            Refusal::Target => 400,
            Refusal::Request(error) => error.http_status(),
            Refusal::HeaderTooLarge { .. } => 431,
            Refusal::BodyTooLarge { .. } => 413,
            Refusal::RateLimited { .. } | Refusal::AnonymousRateLimited { .. } => 429,
            Refusal::OverCapacity => 503,
        }
    }

    fn body(&self) -> serde_json::Value {
        match self {
            Refusal::Target => {
                serde_json::json!({ "error": "the request target must be a path starting with '/'" })
            }
            Refusal::Request(error) => serde_json::json!({ "error": error.to_string() }),
            Refusal::HeaderTooLarge { limit } => serde_json::json!({
                "error": format!("the request head is larger than {limit} bytes"),
            }),
            Refusal::BodyTooLarge { limit } => serde_json::json!({
                "error": format!("the request body is larger than {limit} bytes"),
            }),
            Refusal::RateLimited {
                tenant,
                retry_after,
            } => serde_json::json!({
                "error": "rate limit exceeded",
                "tenant": tenant,
                "retry_after": retry_after,
            }),
            Refusal::AnonymousRateLimited { retry_after } => serde_json::json!({
                "error": "rate limit exceeded for requests without a tenant from this address",
                "retry_after": retry_after,
            }),
            Refusal::OverCapacity => serde_json::json!({
                "error": "the proxy is serving as many requests as limits.max_in_flight allows",
                "retry_after": 1,
            }),
        }
    }
}

/// Answers the refusal: its status and JSON body, `WWW-Authenticate: Bearer` for a token,
/// `Retry-After` for a rate limit. Only a rate-limited connection is kept: after any other
/// refusal the client may still be sending what was refused, which must not be read as a
/// request.
pub(super) async fn respond(session: &mut Session, refusal: &Refusal) -> Result<()> {
    let (mut response, body) = json_answer(refusal.status(), &refusal.body())?;
    match refusal {
        Refusal::Request(RequestError::InvalidToken(_)) => {
            let challenge = r#"Bearer error="invalid_token""#;
            response.insert_header(http::header::WWW_AUTHENTICATE, challenge)?;
        }
        Refusal::RateLimited { retry_after, .. }
        | Refusal::AnonymousRateLimited { retry_after } => {
            response.insert_header(http::header::RETRY_AFTER, retry_after.to_string())?;
        }
        Refusal::OverCapacity => {
            response.insert_header(http::header::RETRY_AFTER, "1")?;
        }
        _ => {}
    }
    let rate_limited = matches!(
        refusal,
        Refusal::RateLimited { .. } | Refusal::AnonymousRateLimited { .. }
    );
    if !rate_limited {
        session.set_keepalive(None);
    }
    session
        .write_response_header(Box::new(response), false)
        .await?;
    session.write_response_body(Some(body), true).await
}

/// Answers a request whose exchange failed with `status` (502, 504, 408, ...) and a JSON
/// body saying what failed (and which `upstream`, when one did); the connection is closed
/// after it. Nothing is written when the response head was already sent.
pub(super) async fn respond_failure(
    session: &mut Session,
    status: u16,
    upstream: Option<&str>,
) -> Result<()> {
    let mut body = serde_json::json!({ "error": failure_message(status) });
    if let Some(upstream) = upstream {
        body["upstream"] = upstream.into();
    }
    let (response, body) = json_answer(status, &body)?;
    session.as_mut().write_error_response(response, body).await
}

/// What a failed exchange's answer says, by its status.
fn failure_message(status: u16) -> String {
    match status {
        400 => "the request could not be read".to_owned(),
        408 => "the client did not send the request in time".to_owned(),
        413 => "the request body is too large".to_owned(),
        500 => "the proxy failed to handle the request".to_owned(),
        502 => "the upstream failed before answering".to_owned(),
        504 => "the upstream did not answer in time".to_owned(),
        _ => http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("the request failed")
            .to_lowercase(),
    }
}

/// The head and body of a JSON answer with `status`.
fn json_answer(status: u16, body: &serde_json::Value) -> Result<(ResponseHeader, Bytes)> {
    let body = Bytes::from(body.to_string());
    let mut response = ResponseHeader::build(status, Some(4))?;
    response.insert_header(http::header::CONTENT_TYPE, "application/json")?;
    response.insert_header(http::header::CONTENT_LENGTH, body.len())?;
    Ok((response, body))
}
