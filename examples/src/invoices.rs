//! The invoice endpoints, shared by both services: the monolith had them first, and the
//! billing service re-implements the same contract. The only input that differs between
//! the two is the [`Currency`] spelling each passes to [`router`].
//!
//! Invoice `n` (1 to [`LAST_ID`]) is a pure function of `n`: customer, status, issue date
//! and line items never change, so two calls differ only in the envelope's volatile fields.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::reply::Reply;

/// The highest invoice id that exists; `GET` on any other id is a 404.
const LAST_ID: u64 = 50;
/// How many invoices the list returns (ids 1 to this).
const LIST_LEN: u64 = 10;
/// Days from 1970-01-01 to 2024-01-01: invoice `n` was issued `n` days after that.
const FIRST_ISSUE_DAY: u64 = 19_723;

const CUSTOMERS: [&str; 6] = [
    "Acme GmbH",
    "Globex SARL",
    "Initech BV",
    "Umbrella SpA",
    "Hooli Oy",
    "Stark AB",
];
const STATUSES: [&str; 3] = ["paid", "open", "overdue"];
/// (description, unit price in cents)
const PRODUCTS: [(&str, u64); 5] = [
    ("Hosting (monthly)", 4_900),
    ("Support plan", 12_000),
    ("Extra seat", 1_500),
    ("Backup storage 100 GB", 800),
    ("Onboarding workshop", 45_000),
];

/// How a service spells the ISO 4217 code in the `currency` field.
#[derive(Clone, Copy)]
pub(crate) struct Currency(pub(crate) &'static str);

/// `GET|POST /api/invoices`, `GET /api/invoices/{id}` and `GET /api/invoices/{id}/pdf`.
pub(crate) fn router(currency: Currency) -> Router {
    Router::new()
        .route("/api/invoices", get(list).post(create))
        .route("/api/invoices/{id}", get(show))
        .route("/api/invoices/{id}/pdf", get(pdf))
        .with_state(currency)
}

/// A full invoice, as `GET /api/invoices/{id}` and `POST /api/invoices` return it.
#[derive(Serialize)]
struct Invoice {
    id: u64,
    customer: String,
    status: &'static str,
    issued_on: String,
    currency: &'static str,
    lines: Vec<Line>,
    /// Sum of quantity × unit price over the lines, in cents so nothing rounds.
    total_cents: u64,
}

/// One billed item.
#[derive(Serialize, Deserialize)]
struct Line {
    description: String,
    quantity: u32,
    unit_price_cents: u64,
}

/// The body of `POST /api/invoices`: what an invoice is before it has an id.
#[derive(Deserialize)]
struct NewInvoice {
    customer: String,
    lines: Vec<Line>,
}

/// The list, one summary per invoice.
#[derive(Serialize)]
struct InvoiceList {
    invoices: Vec<Summary>,
}

#[derive(Serialize)]
struct Summary {
    id: u64,
    customer: String,
    status: &'static str,
    currency: &'static str,
    total_cents: u64,
}

impl Invoice {
    /// The fixed invoice `id`, or `None` if no such invoice exists.
    fn fixed(id: u64, currency: Currency) -> Option<Invoice> {
        if !(1..=LAST_ID).contains(&id) {
            return None;
        }
        let draft = NewInvoice {
            customer: CUSTOMERS[(id % 6) as usize].into(),
            lines: (0..1 + id % 3).map(|k| fixed_line(id, k)).collect(),
        };
        let issued_on = clock::date(FIRST_ISSUE_DAY + id);
        Some(Invoice::issue(
            id,
            draft,
            STATUSES[(id % 3) as usize],
            issued_on,
            currency,
        ))
    }

    /// Prices `draft` into invoice `id`.
    fn issue(
        id: u64,
        draft: NewInvoice,
        status: &'static str,
        issued_on: String,
        currency: Currency,
    ) -> Invoice {
        let total_cents = draft
            .lines
            .iter()
            .map(|line| u64::from(line.quantity) * line.unit_price_cents)
            .sum();
        Invoice {
            id,
            customer: draft.customer,
            status,
            issued_on,
            currency: currency.0,
            lines: draft.lines,
            total_cents,
        }
    }

    fn summary(self) -> Summary {
        Summary {
            id: self.id,
            customer: self.customer,
            status: self.status,
            currency: self.currency,
            total_cents: self.total_cents,
        }
    }
}

/// Line `k` of fixed invoice `id`.
fn fixed_line(id: u64, k: u64) -> Line {
    let (description, unit_price_cents) = PRODUCTS[((id + 2 * k) % 5) as usize];
    Line {
        description: description.into(),
        quantity: (1 + (id * (k + 1)) % 4) as u32,
        unit_price_cents,
    }
}

async fn list(State(currency): State<Currency>, reply: Reply) -> Response {
    let invoices = (1..=LIST_LEN)
        .filter_map(|id| Invoice::fixed(id, currency))
        .map(Invoice::summary)
        .collect();
    reply.json(InvoiceList { invoices }).into_response()
}

async fn show(State(currency): State<Currency>, reply: Reply, Path(id): Path<u64>) -> Response {
    match Invoice::fixed(id, currency) {
        Some(invoice) => reply.json(invoice).into_response(),
        None => reply.not_found(format!("invoice {id} not found")),
    }
}

/// Echoes the invoice back as created (201, `Location` set). The id is derived from the
/// body, so legacy and billing give the same request the same id.
async fn create(
    State(currency): State<Currency>,
    reply: Reply,
    Json(new): Json<NewInvoice>,
) -> Response {
    if new.customer.trim().is_empty() || new.lines.is_empty() {
        let why = "an invoice needs a customer and at least one line".to_owned();
        return reply.problem(StatusCode::UNPROCESSABLE_ENTITY, why);
    }
    let id = created_id(&new);
    let location = format!("/api/invoices/{id}");
    let invoice = Invoice::issue(id, new, "open", clock::today(), currency);
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        reply.json(invoice),
    )
        .into_response()
}

/// An id from 1000 to 9999, the FNV-1a hash of the customer and line descriptions.
fn created_id(new: &NewInvoice) -> u64 {
    let text = new.lines.iter().fold(new.customer.clone(), |text, line| {
        format!(
            "{text}\n{}x{}@{}",
            line.description, line.quantity, line.unit_price_cents
        )
    });
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    1_000 + hash % 9_000
}

/// A tiny, fixed PDF for the invoice. It names no currency, so both services send the
/// very same bytes: binary bodies need no noise rules.
async fn pdf(State(currency): State<Currency>, reply: Reply, Path(id): Path<u64>) -> Response {
    let Some(invoice) = Invoice::fixed(id, currency) else {
        return reply.not_found(format!("invoice {id} not found"));
    };
    let disposition = format!("inline; filename=\"invoice-{id}.pdf\"");
    let headers = [
        (header::CONTENT_TYPE, "application/pdf".to_owned()),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    (headers, pdf_bytes(&invoice)).into_response()
}

fn pdf_bytes(invoice: &Invoice) -> String {
    let text = format!(
        "Invoice {} for {}, total {}.{:02}",
        invoice.id,
        invoice.customer,
        invoice.total_cents / 100,
        invoice.total_cents % 100
    );
    format!(
        "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
         2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n\
         3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >> endobj\n\
         4 0 obj << >> stream\nBT /F1 12 Tf 72 770 Td ({text}) Tj ET\nendstream endobj\n\
         trailer << /Root 1 0 R >>\n%%EOF\n"
    )
}
