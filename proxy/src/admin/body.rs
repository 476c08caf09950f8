//! An optional JSON body, as scripts send one: nothing at all, an empty body with a JSON
//! content type (what many HTTP clients send with `-X POST`), `{}`, or the fields. The
//! kill switch must never be refused for how its (empty) body was sent; a body that is there
//! and is not the JSON the endpoint takes is a 400 with the JSON error body of
//! [`crate::admin::reply`], whatever its content type.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::DeserializeOwned;

use crate::admin::reply;

/// The body as `T`, or `T::default()` when the body is empty or blank.
pub(crate) struct OptionalJson<T>(pub(crate) T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| reply::error(rejection.status(), &rejection.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(OptionalJson)
            .map_err(|error| {
                let message = format!("malformed request body: {error}");
                reply::error(StatusCode::BAD_REQUEST, &message)
            })
    }
}
