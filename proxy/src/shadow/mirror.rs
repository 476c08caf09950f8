//! What a shadowed request keeps while the primary serves it: the request as the upstream
//! got it, its body and the primary's answer, each only up to the route's `max_body`.
//!
//! The primary is never waited on and never changed: the hooks hand this capture the
//! chunks that flow, which it copies, and the shadow call itself starts in
//! `logging`, after the client has its whole answer ([`crate::shadow::dispatch`]). Whether a
//! request is shadowed is decided once, in `request_filter`: the route has a `shadow:`
//! policy that allows the method, its kill switch is off, the request is not itself a
//! mirror (no loops through a chained proxy), it falls in the sample (a hash of its request
//! id with a salt drawn at start, so a client cannot choose to be sampled), it is not an
//! upgrade, and a slot is free among the `diffs.in_flight` allowed (else it is skipped as
//! `overloaded`, never queued). A capture that gives up frees its slot at once.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use pingora::http::{RequestHeader, ResponseHeader};
use strangler_flags::shadow_policy::CompiledPolicy;
use strangler_flags::{Reason, Route};
use strangler_shadow::{Captured, SkipReason};
use tokio::sync::OwnedSemaphorePermit;

/// The header that tells a backend a request is a mirror, not a customer's; the diff
/// engine leaves it out of echoed answers by construction.
pub const SHADOW_HEADER: &str = strangler_shadow::MARKER;

/// The salts of the sampling and the noise hashes, drawn once per process: independent of
/// rollout buckets, and unknown to a client that picks its own `x-request-id`.
fn salts() -> &'static (String, String) {
    static SALTS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    SALTS.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let random = || {
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        };
        (
            format!("sample-{:016x}", random()),
            format!("noise-{:016x}", random()),
        )
    })
}

/// The capture of one shadowed request.
pub struct Mirror {
    /// The route's policy as it was when the request started.
    pub policy: Arc<CompiledPolicy>,
    /// Whether the primary is asked a second time, to measure noise.
    pub noise: bool,
    /// The request head as legacy gets it (after the proxy's own headers).
    pub request: Option<RequestHeader>,
    /// With a route's `rewrite:`, the head the new side gets and its redirects' way back.
    pub new_layout: Option<Box<crate::shadow::layout::NewLayout>>,
    /// The request body, while it fits.
    request_body: BytesMut,
    /// The primary's response head, converted for the diff only on the shadow thread.
    response: Option<ResponseHeader>,
    /// The primary's body, while it fits.
    response_body: BytesMut,
    /// Set when the comparison can no longer be made; buffers are then dropped.
    pub skip: Option<SkipReason>,
    /// Holds one of the `diffs.in_flight` slots until the shadow call ends (or the capture
    /// gives up).
    pub permit: Option<OwnedSemaphorePermit>,
}

/// Whether a request is shadowed, decided before a slot is taken.
pub enum Eligibility<'r> {
    /// Not shadowed: the route has no policy, or it excludes the method or the sample.
    No,
    /// Shadowed, but it cannot be compared (an upgrade): counted as skipped.
    Skip(SkipReason),
    /// Shadowed under this policy, if a slot is free.
    Yes(&'r Arc<CompiledPolicy>),
}

/// Whether a request on `route`, decided for `reason`, is to be shadowed.
pub fn eligible<'r>(
    route: &'r Route,
    reason: Reason,
    req: &RequestHeader,
    request_id: &str,
) -> Eligibility<'r> {
    let Some(policy) = route.shadow() else {
        return Eligibility::No;
    };
    // A killed route sends nothing to the new side, mirrors included; a mirror is never
    // mirrored again; an identity that did not verify is never sent anywhere else.
    let refused = route.killed()
        || matches!(reason, Reason::InvalidToken(_))
        || req.headers.contains_key(SHADOW_HEADER);
    if refused {
        return Eligibility::No;
    }
    let sampled = policy
        .sample
        .admits(strangler_flags::bucket(&salts().0, request_id));
    if !sampled || !policy.allows_method(req.method.as_str()) {
        return Eligibility::No;
    }
    match req.headers.contains_key(http::header::UPGRADE) {
        true => Eligibility::Skip(SkipReason::Upgraded),
        false => Eligibility::Yes(policy),
    }
}

impl Mirror {
    /// Starts capturing a request that holds `permit`.
    pub fn new(
        policy: Arc<CompiledPolicy>,
        request_id: &str,
        permit: OwnedSemaphorePermit,
    ) -> Mirror {
        let noise = policy
            .noise
            .admits(strangler_flags::bucket(&salts().1, request_id));
        Mirror {
            policy,
            noise,
            request: None,
            new_layout: None,
            request_body: BytesMut::new(),
            response: None,
            response_body: BytesMut::new(),
            skip: None,
            permit: Some(permit),
        }
    }

    /// Keeps the request head as legacy gets it, and the new side's when the route
    /// rewrites (the last ones, after a fallback or a retry, which sends the body again: so
    /// the body kept so far is dropped).
    pub fn on_upstream_request(
        &mut self,
        upstream: &RequestHeader,
        new_layout: Option<crate::shadow::layout::NewLayout>,
    ) {
        self.request = Some(upstream.clone());
        self.new_layout = new_layout.map(Box::new);
        self.request_body.clear();
    }

    /// Keeps a chunk of the request body, or gives up past `max_body`.
    pub fn on_request_body(&mut self, chunk: Option<&Bytes>) {
        if let Some(chunk) = chunk {
            self.keep(chunk, SkipReason::RequestTooLarge, Part::Request);
        }
    }

    /// Keeps the primary's status and headers; an upgrade or a stream cannot be compared.
    pub fn on_response(&mut self, response: &ResponseHeader) {
        let status = response.status.as_u16();
        let streaming = response
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
        match (status, streaming) {
            (101, _) => self.give_up(SkipReason::Upgraded),
            (304 | 206, _) => self.give_up(SkipReason::Conditional),
            (_, true) => self.give_up(SkipReason::Streaming),
            _ => {}
        }
        self.response = Some(response.clone());
    }

    /// Keeps a chunk of the primary's body, or gives up past `max_body`.
    pub fn on_response_body(&mut self, chunk: Option<&Bytes>) {
        if let Some(chunk) = chunk {
            self.keep(chunk, SkipReason::BodyTooLarge, Part::Response);
        }
    }

    /// The request body and the primary's answer, once the response has ended (called on
    /// the shadow thread).
    pub fn take(&mut self) -> Option<(Bytes, Captured)> {
        let response = self.response.take()?;
        let status = response.status.as_u16();
        let headers = header_pairs(&response.headers);
        let body = std::mem::take(&mut self.response_body).freeze();
        let request_body = std::mem::take(&mut self.request_body).freeze();
        Some((
            request_body,
            Captured {
                status,
                headers,
                body,
            },
        ))
    }

    fn keep(&mut self, chunk: &Bytes, too_large: SkipReason, part: Part) {
        if self.skip.is_some() {
            return;
        }
        let buffer = match part {
            Part::Request => &mut self.request_body,
            Part::Response => &mut self.response_body,
        };
        if buffer.len() + chunk.len() > self.policy.max_body {
            self.give_up(too_large);
            return;
        }
        buffer.extend_from_slice(chunk);
    }

    /// Gives up on the comparison: buffers and the slot are released at once (a long
    /// stream must not hold a slot), the reason is kept for the record.
    pub fn give_up(&mut self, reason: SkipReason) {
        self.skip.get_or_insert(reason);
        self.request_body = BytesMut::new();
        self.response_body = BytesMut::new();
        self.permit = None;
    }
}

/// Which buffer a chunk goes to.
enum Part {
    Request,
    Response,
}

/// Header names and values as the diff takes them; values that are not visible ASCII are
/// left out (they cannot be shown in a report either).
pub fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}
