//! The new billing service, the first piece carved out of the monolith. It serves the
//! invoice endpoints only (`GET|POST /api/invoices`, `GET /api/invoices/{id}`,
//! `GET /api/invoices/{id}/pdf`), in the same shapes as [`crate::legacy`], with
//! `x-served-by: billing` and `"served_by": "billing"`.
//!
//! # The deliberate difference
//!
//! Billing writes the `currency` field in lowercase, `"eur"`, where the monolith writes
//! `"EUR"`: in the invoice detail, the list summaries and the created invoice. Everything
//! else (ids, customers, lines, `total_cents`, the PDF bytes) is identical. It is the kind
//! of small regression a rewrite ships without noticing, and the one a shadow comparison
//! must report once `generated_at`, `request_id` and `served_by` are ignored as noise.

use axum::Router;

use crate::invoices::{self, Currency};
use crate::reply;

/// Lowercase on purpose: see the module documentation.
const CURRENCY: Currency = Currency("eur");

/// The billing service, ready for [`crate::serve`].
pub fn router() -> Router {
    reply::stamped(invoices::router(CURRENCY), "billing")
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value};

    use super::router;
    use crate::{legacy, probe};

    /// The fields of `billing` that differ from `legacy`, ignoring the envelope's noise.
    fn differing_fields(legacy: Value, billing: Value) -> Vec<String> {
        let noise = ["generated_at", "request_id", "served_by"];
        let legacy: Map<String, Value> = serde_json::from_value(legacy).expect("object");
        let billing: Map<String, Value> = serde_json::from_value(billing).expect("object");
        let mut differing: Vec<String> = billing
            .iter()
            .filter(|(field, value)| legacy.get(*field) != Some(value))
            .map(|(field, _)| field.clone())
            .filter(|field| !noise.contains(&field.as_str()))
            .collect();
        differing.extend(legacy.keys().filter(|f| !billing.contains_key(*f)).cloned());
        differing
    }

    #[tokio::test]
    async fn currency_is_the_only_difference_from_legacy() {
        let billing = probe::start(router()).await;
        let legacy = probe::start(legacy::router()).await;
        let from_billing = probe::get(billing, "/api/invoices/7", &[]).await.json();
        let from_legacy = probe::get(legacy, "/api/invoices/7", &[]).await.json();
        assert_eq!(from_billing["currency"], "eur");
        assert_eq!(from_legacy["currency"], "EUR");
        assert_eq!(differing_fields(from_legacy, from_billing), ["currency"]);
    }

    #[tokio::test]
    async fn pdf_bytes_match_legacy() {
        let billing = probe::start(router()).await;
        let legacy = probe::start(legacy::router()).await;
        let from_billing = probe::get(billing, "/api/invoices/7/pdf", &[]).await;
        let from_legacy = probe::get(legacy, "/api/invoices/7/pdf", &[]).await;
        assert_eq!(from_billing.header("content-type"), Some("application/pdf"));
        assert_eq!(from_billing.body, from_legacy.body);
    }

    #[tokio::test]
    async fn says_billing_served_it_and_echoes_the_tenant() {
        let addr = probe::start(router()).await;
        let tenant = [("x-strangler-tenant", "qa-internal")];
        let answer = probe::get(addr, "/api/invoices", &tenant).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("x-served-by"), Some("billing"));
        let list = answer.json();
        assert_eq!(list["served_by"], "billing");
        assert_eq!(list["tenant"], "qa-internal");
        assert_eq!(list["invoices"][0]["currency"], "eur");
    }

    #[tokio::test]
    async fn two_calls_differ_only_in_volatile_fields() {
        let addr = probe::start(router()).await;
        let first = probe::get(addr, "/api/invoices/7", &[]).await.json();
        let second = probe::get(addr, "/api/invoices/7", &[]).await.json();
        assert_ne!(first["request_id"], second["request_id"]);
        assert_ne!(first["generated_at"], second["generated_at"]);
        let without_noise = |mut body: Value| {
            let object = body.as_object_mut().expect("object");
            object.remove("request_id");
            object.remove("generated_at");
            body
        };
        assert_eq!(without_noise(first), without_noise(second));
    }

    #[tokio::test]
    async fn created_invoice_gets_the_same_id_as_on_legacy() {
        let billing = probe::start(router()).await;
        let legacy = probe::start(legacy::router()).await;
        let json = [("content-type", "application/json")];
        let body = r#"{"customer":"Hooli Oy","lines":[{"description":"Extra seat","quantity":3,"unit_price_cents":1500}]}"#;
        let on_billing = probe::send(billing, "POST", "/api/invoices", &json, body).await;
        let on_legacy = probe::send(legacy, "POST", "/api/invoices", &json, body).await;
        assert_eq!(on_billing.status, 201);
        assert_eq!(on_billing.json()["id"], on_legacy.json()["id"]);
    }

    #[tokio::test]
    async fn tickets_never_moved_here() {
        let addr = probe::start(router()).await;
        let answer = probe::get(addr, "/api/tickets/3", &[]).await;
        assert_eq!(answer.status, 404);
        assert_eq!(answer.header("x-served-by"), Some("billing"));
    }
}
