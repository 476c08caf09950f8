//! Support tickets, which only the monolith serves: the part of the system nobody has
//! migrated yet, so every ticket request should still reach legacy through the proxy.
//!
//! Ticket `n` (1 to [`LAST_ID`]) is a pure function of `n`.

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;

use crate::clock;
use crate::reply::Reply;

/// The highest ticket id that exists.
const LAST_ID: u64 = 50;
/// How many tickets the list returns (ids 1 to this).
const LIST_LEN: u64 = 10;
/// Days from 1970-01-01 to 2024-03-01: ticket `n` was opened `n` days after that.
const FIRST_OPEN_DAY: u64 = 19_783;

const SUBJECTS: [&str; 5] = [
    "Invoice PDF does not open",
    "Wrong VAT number on invoice",
    "Cannot add a seat",
    "Password reset mail never arrives",
    "Export to CSV times out",
];
const STATUSES: [&str; 3] = ["new", "in-progress", "closed"];
const PRIORITIES: [&str; 3] = ["low", "normal", "high"];

/// `GET /api/tickets` and `GET /api/tickets/{id}`.
pub(crate) fn router() -> Router {
    Router::new()
        .route("/api/tickets", get(list))
        .route("/api/tickets/{id}", get(show))
}

#[derive(Serialize)]
struct Ticket {
    id: u64,
    subject: &'static str,
    status: &'static str,
    priority: &'static str,
    /// The user who opened it; see `GET /api/users/{id}`.
    opened_by: u64,
    opened_on: String,
}

#[derive(Serialize)]
struct TicketList {
    tickets: Vec<Ticket>,
}

impl Ticket {
    fn fixed(id: u64) -> Option<Ticket> {
        (1..=LAST_ID).contains(&id).then(|| Ticket {
            id,
            subject: SUBJECTS[(id % 5) as usize],
            status: STATUSES[(id % 3) as usize],
            priority: PRIORITIES[(id * 7 % 3) as usize],
            opened_by: 1 + id * 13 % 50,
            opened_on: clock::date(FIRST_OPEN_DAY + id),
        })
    }
}

async fn list(reply: Reply) -> Response {
    let tickets = (1..=LIST_LEN).filter_map(Ticket::fixed).collect();
    reply.json(TicketList { tickets }).into_response()
}

async fn show(reply: Reply, Path(id): Path<u64>) -> Response {
    match Ticket::fixed(id) {
        Some(ticket) => reply.json(ticket).into_response(),
        None => reply.not_found(format!("ticket {id} not found")),
    }
}
