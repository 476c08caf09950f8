//! `notify:`: where the proxy sends notifications of what happened to the rollout (a guard
//! trip, a kill switch, a ramp step, a reload that failed, the flag store lost), in which
//! format and for which events ([`RawNotify`] documents the keys), validated into
//! [`NotifyTarget`]s with every problem located. The proxy delivers them
//! (`proxy/src/telemetry/notify`).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::problems::Problems;
use crate::Surroundings;

/// One entry of `notify:`.
///
/// ```yaml
/// notify:
///   - url: http://hooks.internal/strangler
///     format: json
///     events: [guard-trip, kill, unkill, ramp-step, ramp-waiting, revert, reload-error, store-down, store-up]
///     secret_env: STRANGLER_NOTIFY_SECRET
/// ```
///
/// Notifications are sent from a background queue, retried with backoff for up to an hour,
/// one per event across a fleet (docs/notifications.md says which instance sends which).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    /// `url:` the receiver, `https://host[:port][/path]` (its certificate verified against
    /// the system's roots) or `http://...` for a receiver inside the network.
    pub url: String,
    /// `format:` `json` (the schema of docs/notifications.md) or `slack` (an incoming
    /// webhook's `{"text": ...}`). Default `json`.
    #[serde(default)]
    pub format: NotifyFormat,
    /// `events:` which events go to this receiver: `guard-trip`, `kill`, `unkill`,
    /// `ramp-step`, `ramp-waiting`, `revert`, `reload-error`, `store-down`, `store-up`.
    pub events: Vec<String>,
    /// `secret_env:` the environment variable holding the key of the
    /// `X-Strangler-Signature` header (`sha256=` and the hex HMAC-SHA256 of the body);
    /// `json` format only.
    pub secret_env: Option<String>,
}

/// How a notification's body is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NotifyFormat {
    /// The documented JSON schema, signed when a secret is set.
    #[default]
    Json,
    /// A Slack incoming webhook's `{"text": ...}`.
    Slack,
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    /// The rollback guard (or a ramp's hard gate) sent a route to legacy.
    GuardTrip,
    /// A kill switch was turned on by hand.
    Kill,
    /// A kill switch was turned off.
    Unkill,
    /// A gated ramp moved to its next step.
    RampStep,
    /// A gated ramp's step is due but a gate holds it.
    RampWaiting,
    /// An audit entry was reverted.
    Revert,
    /// A reload of routes.yaml failed; the previous configuration serves.
    ReloadError,
    /// This instance lost the flag store.
    StoreDown,
    /// This instance reached the flag store again.
    StoreUp,
}

/// Every event, in the order the docs list them.
pub const EVENTS: [Event; 9] = [
    Event::GuardTrip,
    Event::Kill,
    Event::Unkill,
    Event::RampStep,
    Event::RampWaiting,
    Event::Revert,
    Event::ReloadError,
    Event::StoreDown,
    Event::StoreUp,
];

/// A validated `notify:` entry.
#[derive(Clone, PartialEq, Eq)]
pub struct NotifyTarget {
    /// Where to POST.
    pub url: Box<str>,
    /// How to write the body.
    pub format: NotifyFormat,
    /// The events it wants.
    pub events: Vec<Event>,
    /// The HMAC key from `secret_env`, if any.
    pub secret: Option<Box<[u8]>>,
}

impl fmt::Debug for NotifyTarget {
    /// Leaves the secret out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyTarget")
            .field("url", &self.url)
            .field("format", &self.format)
            .field("events", &self.events)
            .field("signed", &self.secret.is_some())
            .finish()
    }
}

impl Event {
    /// `guard-trip`, as written in routes.yaml and sent.
    pub fn code(self) -> &'static str {
        match self {
            Event::GuardTrip => "guard-trip",
            Event::Kill => "kill",
            Event::Unkill => "unkill",
            Event::RampStep => "ramp-step",
            Event::RampWaiting => "ramp-waiting",
            Event::Revert => "revert",
            Event::ReloadError => "reload-error",
            Event::StoreDown => "store-down",
            Event::StoreUp => "store-up",
        }
    }

    fn parse(text: &str) -> Option<Event> {
        EVENTS.into_iter().find(|event| event.code() == text)
    }
}

/// Validates `notify:`; None on a problem.
pub(super) fn validate(
    raw: Vec<RawNotify>,
    surroundings: &dyn Surroundings,
    problems: &mut Problems<'_>,
) -> Option<Vec<NotifyTarget>> {
    let targets: Vec<Option<NotifyTarget>> = raw
        .into_iter()
        .enumerate()
        .map(|(index, raw)| target(&format!("notify[{index}]"), raw, surroundings, problems))
        .collect();
    targets.into_iter().collect()
}

fn target(
    at: &str,
    raw: RawNotify,
    surroundings: &dyn Surroundings,
    problems: &mut Problems<'_>,
) -> Option<NotifyTarget> {
    let url = check_url(&raw.url)
        .map_err(|m| problems.at_value(&format!("{at}.url"), m))
        .ok();
    let mut events = Vec::new();
    for (index, text) in raw.events.iter().enumerate() {
        match Event::parse(text) {
            Some(event) => events.push(event),
            None => {
                let known: Vec<&str> = EVENTS.iter().map(|e| e.code()).collect();
                let message = format!(
                    "unknown event {text:?}: expected one of {}",
                    known.join(", ")
                );
                problems.at_value(&format!("{at}.events[{index}]"), message);
            }
        }
    }
    if raw.events.is_empty() {
        problems.at_value(
            &format!("{at}.events"),
            "events must name at least one event",
        );
    }
    let secret = secret(&raw, surroundings)
        .map_err(|m| problems.at_value(&format!("{at}.secret_env"), m))
        .ok();
    (events.len() == raw.events.len() && !events.is_empty()).then_some(())?;
    Some(NotifyTarget {
        url: url?,
        format: raw.format,
        events,
        secret: secret?,
    })
}

/// `https://host[:port][/path]` (verified against the system's roots), or `http://` for a
/// receiver inside the network.
fn check_url(url: &str) -> Result<Box<str>, String> {
    let rest = (url.strip_prefix("https://"))
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("url {url:?} must be an https:// or http:// URL"))?;
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let bad = |c: char| c.is_whitespace() || matches!(c, '#' | '@');
    if authority.is_empty() || url.contains(bad) {
        return Err(format!("url {url:?} must be http(s)://host[:port][/path]"));
    }
    Ok(url.into())
}

/// The key of `secret_env`, which must be set (and only with the json format).
fn secret(raw: &RawNotify, surroundings: &dyn Surroundings) -> Result<Option<Box<[u8]>>, String> {
    let Some(name) = raw.secret_env.as_deref() else {
        return Ok(None);
    };
    if raw.format != NotifyFormat::Json {
        return Err("secret_env signs json notifications only".into());
    }
    let value = surroundings
        .secret(name)
        .ok_or_else(|| format!("environment variable {name} is not set"))?;
    match value.into_encoded_bytes() {
        bytes if bytes.is_empty() => Err(format!("environment variable {name} is empty")),
        bytes => Ok(Some(bytes.into())),
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::{load, load_errors, BASE};

    fn with_notify(entry: &str) -> String {
        format!("{BASE}notify:\n  - {entry}\n")
    }

    #[test]
    fn a_receiver_compiles_with_its_events_and_json_by_default() {
        let snapshot = load(&with_notify(
            "{ url: \"http://hooks.internal/x\", events: [kill, ramp-step] }",
        ));
        let target = &snapshot.notify()[0];
        assert_eq!(&*target.url, "http://hooks.internal/x");
        assert_eq!(target.format, super::NotifyFormat::Json);
        assert_eq!(target.events, [super::Event::Kill, super::Event::RampStep]);
    }

    #[test]
    fn an_unknown_event_and_a_bad_url_are_located_at_their_values() {
        let text = with_notify("{ url: \"ftp://x\", events: [kill, explode] }");
        let line = text.lines().count();
        let errors = load_errors(&text);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with(&format!("routes.yaml:{line}:12: url \"ftp://x\"")),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with(&format!("routes.yaml:{line}:38: unknown event \"explode\"")),
            "{errors:?}"
        );
    }
}
