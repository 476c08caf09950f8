//! User accounts, which only the monolith serves. User `n` (1 to [`LAST_ID`]) is a pure
//! function of `n`.

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;

use crate::reply::Reply;

/// The highest user id that exists.
const LAST_ID: u64 = 50;

const FIRST_NAMES: [&str; 7] = [
    "Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis",
];
const LAST_NAMES: [&str; 5] = ["Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson"];
const ROLES: [&str; 3] = ["admin", "accountant", "viewer"];

/// `GET /api/users/{id}`.
pub(crate) fn router() -> Router {
    Router::new().route("/api/users/{id}", get(show))
}

#[derive(Serialize)]
struct User {
    id: u64,
    name: String,
    email: String,
    role: &'static str,
}

impl User {
    fn fixed(id: u64) -> Option<User> {
        if !(1..=LAST_ID).contains(&id) {
            return None;
        }
        let first = FIRST_NAMES[(id % 7) as usize];
        let last = LAST_NAMES[(id % 5) as usize];
        Some(User {
            id,
            name: format!("{first} {last}"),
            email: format!("{}.{}{id}@example.com", first, last).to_lowercase(),
            role: ROLES[(id % 3) as usize],
        })
    }
}

async fn show(reply: Reply, Path(id): Path<u64>) -> Response {
    match User::fixed(id) {
        Some(user) => reply.json(user).into_response(),
        None => reply.not_found(format!("user {id} not found")),
    }
}
