//! One notification to one receiver: the body in the receiver's format (the JSON schema of
//! docs/notifications.md, signed with HMAC-SHA256 when the receiver has a secret, or a
//! Slack `{"text"}`), posted until a 2xx answers, waiting [`super::FIRST_RETRY`] then twice
//! as long each time (at most [`super::MAX_RETRY`]), given up after [`super::GIVE_UP`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use strangler_flags::config::notify::{NotifyFormat, NotifyTarget};
use time::OffsetDateTime;

use super::{count, remember, Failure, Notice, GIVE_UP, MAX_RETRY};

/// The header carrying `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "x-strangler-signature";
/// How long one try may take.
const TRY_TIMEOUT: Duration = Duration::from_secs(10);
/// The `schema` field of the JSON format.
pub const SCHEMA: &str = "strangler.notification/1";

/// The client every delivery uses.
pub(super) fn client() -> reqwest::Client {
    crate::telemetry::outbound::client_builder()
        .timeout(TRY_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// One notice for one receiver.
pub(super) struct Delivery {
    pub(super) client: reqwest::Client,
    pub(super) target: NotifyTarget,
    pub(super) notice: Notice,
    pub(super) first_retry: Duration,
    pub(super) failures: Arc<Mutex<VecDeque<Failure>>>,
}

impl Delivery {
    /// Tries until delivered or given up.
    pub(super) async fn run(self) {
        let body = body(&self.target, &self.notice);
        let started = Instant::now();
        let mut wait = self.first_retry;
        loop {
            let error = match self.post(&body).await {
                Ok(()) => return count(self.notice.event, "delivered"),
                Err(error) => error,
            };
            count(self.notice.event, "failed");
            tracing::warn!(target: "strangler::notify", event = self.notice.event.code(), id = %self.notice.id, url = %self.target.url, %error, "notification not delivered; retrying");
            remember(&self.failures, self.failure(error));
            if started.elapsed() + wait > GIVE_UP {
                tracing::error!(target: "strangler::notify", event = self.notice.event.code(), id = %self.notice.id, url = %self.target.url, "notification given up after an hour of retries");
                return count(self.notice.event, "gave-up");
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_RETRY);
        }
    }

    /// One POST; an error unless a 2xx answered.
    async fn post(&self, body: &str) -> Result<(), String> {
        let mut request = self
            .client
            .post(&*self.target.url)
            .header("content-type", "application/json")
            .header("x-strangler-event", self.notice.event.code())
            .header("x-strangler-delivery", &self.notice.id)
            .body(body.to_owned());
        if let (NotifyFormat::Json, Some(secret)) = (self.target.format, &self.target.secret) {
            request = request.header(SIGNATURE_HEADER, signature(secret, body.as_bytes()));
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        match response.status() {
            status if status.is_success() => Ok(()),
            status => Err(format!("answered {status}")),
        }
    }

    fn failure(&self, error: String) -> Failure {
        Failure {
            at: OffsetDateTime::now_utc(),
            event: self.notice.event,
            id: self.notice.id.clone(),
            url: self.target.url.to_string(),
            error,
        }
    }
}

/// The body in the receiver's format.
fn body(target: &NotifyTarget, notice: &Notice) -> String {
    let value = match target.format {
        NotifyFormat::Json => json!({
            "schema": SCHEMA,
            "id": notice.id,
            "event": notice.event,
            "at": notice.at.format(&time::format_description::well_known::Rfc3339).ok(),
            "route": notice.route,
            "summary": notice.summary,
            "details": notice.details,
        }),
        NotifyFormat::Slack => {
            let route = notice
                .route
                .as_deref()
                .map(|r| format!(" {r}"))
                .unwrap_or_default();
            json!({ "text": format!("strangler {}{route}: {}", notice.event.code(), notice.summary) })
        }
    };
    value.to_string()
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slack_receiver_gets_one_line_of_text_unsigned_fields_left_out() {
        let target = NotifyTarget {
            url: "http://hooks.internal/x".into(),
            format: NotifyFormat::Slack,
            events: vec![strangler_flags::config::notify::Event::Kill],
            secret: None,
        };
        let notice = Notice {
            event: strangler_flags::config::notify::Event::Kill,
            id: "audit-7".into(),
            at: OffsetDateTime::UNIX_EPOCH,
            route: Some("invoices".into()),
            summary: "kill by rm on invoices: on fire".into(),
            details: json!({ "audit": {} }),
        };
        assert_eq!(
            body(&target, &notice),
            r#"{"text":"strangler kill invoices: kill by rm on invoices: on fire"}"#
        );
    }

    #[test]
    fn the_signature_is_the_rfc_4231_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        let signature = signature(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            signature,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
