//! The legacy monolith: invoices, tickets and users behind one router, the way the
//! application looked before anything was strangled out of it. Every response carries
//! `x-served-by: legacy` and `"served_by": "legacy"`.
//!
//! Routes: `GET|POST /api/invoices`, `GET /api/invoices/{id}`,
//! `GET /api/invoices/{id}/pdf`, `GET /api/tickets`, `GET /api/tickets/{id}`,
//! `GET /api/users/{id}`; anything else is a JSON 404.

use axum::Router;

use crate::invoices::{self, Currency};
use crate::{reply, tickets, users};

/// The monolith writes currency codes the ISO 4217 way.
const CURRENCY: Currency = Currency("EUR");

/// The whole monolith, ready for [`crate::serve`].
pub fn router() -> Router {
    let routes = invoices::router(CURRENCY)
        .merge(tickets::router())
        .merge(users::router());
    reply::stamped(routes, "legacy")
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::router;
    use crate::probe;

    /// The volatile envelope fields, which change on every call.
    const VOLATILE: [&str; 2] = ["generated_at", "request_id"];

    fn without_volatile(mut body: Value) -> Value {
        for field in VOLATILE {
            body.as_object_mut().expect("object").remove(field);
        }
        body
    }

    #[tokio::test]
    async fn two_calls_differ_only_in_volatile_fields() {
        let addr = probe::start(router()).await;
        for path in [
            "/api/invoices",
            "/api/invoices/7",
            "/api/tickets/3",
            "/api/users/4",
        ] {
            let first = probe::get(addr, path, &[]).await.json();
            let second = probe::get(addr, path, &[]).await.json();
            for field in VOLATILE {
                assert_ne!(first[field], second[field], "{path} {field}");
            }
            assert_eq!(without_volatile(first), without_volatile(second), "{path}");
        }
    }

    #[tokio::test]
    async fn invoice_seven_is_always_the_same_invoice() {
        let addr = probe::start(router()).await;
        let invoice = probe::get(addr, "/api/invoices/7", &[]).await.json();
        assert_eq!(invoice["id"], 7);
        assert_eq!(invoice["customer"], "Globex SARL");
        assert_eq!(invoice["currency"], "EUR");
        assert_eq!(invoice["lines"].as_array().expect("lines").len(), 2);
        assert!(invoice["generated_at"]
            .as_str()
            .expect("time")
            .ends_with('Z'));
    }

    #[tokio::test]
    async fn every_response_says_legacy_served_it() {
        let addr = probe::start(router()).await;
        for (path, status) in [
            ("/api/invoices/7", 200),
            ("/api/tickets", 200),
            ("/api/users/4", 200),
            ("/api/users/999", 404),
            ("/no/such/path", 404),
        ] {
            let answer = probe::get(addr, path, &[]).await;
            assert_eq!(answer.status, status, "{path}");
            assert_eq!(answer.header("x-served-by"), Some("legacy"), "{path}");
            assert_eq!(answer.json()["served_by"], "legacy", "{path}");
        }
    }

    #[tokio::test]
    async fn tenant_is_echoed_from_the_proxy_header() {
        let addr = probe::start(router()).await;
        let tenant = [("x-strangler-tenant", "acme")];
        let with = probe::get(addr, "/api/tickets/3", &tenant).await.json();
        assert_eq!(with["tenant"], "acme");
        let without = probe::get(addr, "/api/tickets/3", &[]).await.json();
        assert_eq!(without["tenant"], Value::Null);
    }

    #[tokio::test]
    async fn invoice_pdf_is_a_pdf() {
        let addr = probe::start(router()).await;
        let answer = probe::get(addr, "/api/invoices/7/pdf", &[]).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("content-type"), Some("application/pdf"));
        assert_eq!(answer.header("x-served-by"), Some("legacy"));
        assert!(answer.body.starts_with(b"%PDF-"));
    }

    #[tokio::test]
    async fn create_answers_201_with_location() {
        let addr = probe::start(router()).await;
        let body = r#"{"customer":"Acme GmbH","lines":[{"description":"Support plan","quantity":2,"unit_price_cents":12000}]}"#;
        let json = [("content-type", "application/json")];
        let answer = probe::send(addr, "POST", "/api/invoices", &json, body).await;
        assert_eq!(answer.status, 201);
        let invoice = answer.json();
        let location = format!("/api/invoices/{}", invoice["id"]);
        assert_eq!(answer.header("location"), Some(location.as_str()));
        assert_eq!(invoice["total_cents"], 24_000);
        assert_eq!(invoice["status"], "open");
    }

    #[tokio::test]
    async fn create_without_lines_is_unprocessable() {
        let addr = probe::start(router()).await;
        let json = [("content-type", "application/json")];
        let body = r#"{"customer":"Acme GmbH","lines":[]}"#;
        let answer = probe::send(addr, "POST", "/api/invoices", &json, body).await;
        assert_eq!(answer.status, 422);
        assert_eq!(answer.header("x-served-by"), Some("legacy"));
    }
}
