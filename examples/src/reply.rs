//! How both services answer: who served the request, for which tenant, and when.
//!
//! [`stamped`] wraps a service's routes so that every response, including the 404 for an
//! unknown path, carries `x-served-by: <service>`, and so that handlers can take a
//! [`Reply`] that wraps their data in an [`Envelope`]. The envelope's `served_by` and
//! `tenant` let a person reading a response (or a diff) see which side answered and what
//! tenant the proxy resolved; `generated_at` and `request_id` are the volatile fields a
//! shadow comparison must learn to ignore.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;

use crate::clock;

/// The header the proxy uses to tell a backend which tenant it resolved.
const TENANT_HEADER: &str = "x-strangler-tenant";

/// The header naming the service that produced the response.
const SERVED_BY_HEADER: HeaderName = HeaderName::from_static("x-served-by");

/// Names the service answering; put in the request extensions by [`stamped`].
#[derive(Clone, Copy)]
struct ServedBy(&'static str);

/// Turns `routes` into the whole of service `name`: a JSON 404 for any other path, and the
/// service name on every request and response.
pub(crate) fn stamped(routes: Router, name: &'static str) -> Router {
    routes
        .fallback(no_route)
        .layer(middleware::from_fn_with_state(ServedBy(name), mark))
}

/// Records who serves this request for [`Reply`] and says so in `x-served-by`.
async fn mark(State(served_by): State<ServedBy>, mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(served_by);
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(SERVED_BY_HEADER, HeaderValue::from_static(served_by.0));
    response
}

async fn no_route(reply: Reply, uri: Uri) -> Response {
    reply.not_found(format!("no route for {}", uri.path()))
}

/// What a handler needs to answer: the serving service and the tenant the proxy resolved.
pub(crate) struct Reply {
    /// The service name from [`stamped`].
    served_by: &'static str,
    /// The `x-strangler-tenant` request header, if the proxy sent one.
    tenant: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Reply {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let served_by = parts
            .extensions
            .get::<ServedBy>()
            .map_or("unknown", |served_by| served_by.0);
        let tenant = parts
            .headers
            .get(TENANT_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        Ok(Reply { served_by, tenant })
    }
}

impl Reply {
    /// Wraps `data` in a freshly stamped envelope; a 200 unless combined with a status.
    pub(crate) fn json<T: Serialize>(self, data: T) -> Json<Envelope<T>> {
        Json(Envelope {
            data,
            served_by: self.served_by,
            tenant: self.tenant,
            generated_at: clock::now_rfc3339(),
            request_id: next_request_id(),
        })
    }

    /// A 404 whose body says what was not found.
    pub(crate) fn not_found(self, what: String) -> Response {
        self.problem(StatusCode::NOT_FOUND, what)
    }

    /// An error status whose body says why, in the same envelope as any other answer.
    pub(crate) fn problem(self, status: StatusCode, error: String) -> Response {
        (status, self.json(Problem { error })).into_response()
    }
}

/// A response body: the handler's data, flattened, followed by the envelope fields.
#[derive(Serialize)]
pub(crate) struct Envelope<T> {
    #[serde(flatten)]
    data: T,
    served_by: &'static str,
    tenant: Option<String>,
    /// Volatile: the time this body was built.
    generated_at: String,
    /// Volatile: unique per response.
    request_id: String,
}

/// The data of an error response.
#[derive(Serialize)]
struct Problem {
    error: String,
}

/// `req-<nanoseconds since the epoch, hex>-<process-wide counter, hex>`: unique within a
/// process thanks to the counter, and unlikely to repeat across restarts thanks to the time.
fn next_request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("req-{:x}-{count:04x}", clock::since_epoch().as_nanos())
}
