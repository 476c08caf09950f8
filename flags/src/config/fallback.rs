//! A route's `fallback:`: which failed answers of the new service legacy replaces, and for
//! which methods. The raw type is part of the routes.yaml reference; `validate` checks it
//! into a [`FallbackPolicy`], each problem located.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::resilience::{is_idempotent, FallbackPolicy};

use super::problems::Problems;

/// `fallback.on` when absent.
const DEFAULT_ON: [u16; 3] = [502, 503, 504];
/// `fallback.methods` when absent: the safe methods.
const DEFAULT_METHODS: [&str; 3] = ["GET", "HEAD", "OPTIONS"];

/// A route's `fallback:`, e.g. `{ on: [502, 503, 504, timeout], methods: [GET, HEAD] }`.
///
/// A failed answer of the new service (a listed status, or a timeout) is never sent to the
/// client: legacy is asked the same request and its answer is served instead, with reason
/// `fallback:status` (`fallback:timeout`). Only while the request body fits the 64 KiB
/// replay buffer, and never once any byte of the new service's answer reached the client.
/// Without `fallback:` only a failed connect falls back (`fallback:connect`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFallback {
    /// `on:` what counts as failed: 5xx statuses (500 to 599) and `timeout` (the
    /// service's `read_timeout` passed before its answer started). A connection the
    /// service drops before answering counts as `502`, which the client would get.
    /// Default `[502, 503, 504, timeout]`.
    pub on: Option<Vec<RawFallbackOn>>,
    /// `methods:` the methods that may be replayed on legacy. Each must be one the route
    /// matches, and idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) unless
    /// `idempotency_key` is true. Default `[GET, HEAD, OPTIONS]`.
    pub methods: Option<Vec<String>>,
    /// `idempotency_key:` when true, a non-idempotent method of `methods` (POST, PATCH) is
    /// replayed if the request carries an `Idempotency-Key` header; without the header it
    /// never is. Default false.
    #[serde(default)]
    pub idempotency_key: bool,
}

/// One item of `fallback.on`: a status code or a word.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawFallbackOn {
    /// `503`.
    Status(#[schemars(range(min = 500, max = 599))] i64),
    /// `timeout`.
    Word(#[schemars(pattern("^timeout$"))] String),
}

/// Checks a route's `fallback:` at node `at`; `matched` are the methods its `match:`
/// admits (None: any).
pub(super) fn validate(
    at: &str,
    raw: &RawFallback,
    matched: Option<&[Box<str>]>,
    problems: &mut Problems<'_>,
) -> Option<FallbackPolicy> {
    let on = triggers(at, raw.on.as_deref(), problems);
    let methods = methods(at, raw, matched, problems);
    let (statuses, timeout) = on?;
    Some(FallbackPolicy {
        statuses,
        timeout,
        methods: methods?,
        idempotency_key: raw.idempotency_key,
    })
}

/// The statuses and whether `timeout` is listed.
fn triggers(
    at: &str,
    on: Option<&[RawFallbackOn]>,
    problems: &mut Problems<'_>,
) -> Option<(Vec<u16>, bool)> {
    let Some(on) = on else {
        return Some((DEFAULT_ON.to_vec(), true));
    };
    if on.is_empty() {
        problems.at_value(
            &format!("{at}.on"),
            "fallback.on must not be empty (omit it for the default)",
        );
        return None;
    }
    let (mut statuses, mut timeout, mut valid) = (Vec::new(), false, true);
    for (index, item) in on.iter().enumerate() {
        match item {
            RawFallbackOn::Status(code @ 500..=599) => statuses.push(*code as u16),
            RawFallbackOn::Word(word) if word == "timeout" => timeout = true,
            other => {
                let shown = match other {
                    RawFallbackOn::Status(code) => code.to_string(),
                    RawFallbackOn::Word(word) => format!("{word:?}"),
                };
                let message = format!(
                    "fallback.on: {shown} is neither a 5xx status (500 to 599) nor `timeout`"
                );
                problems.at_value(&format!("{at}.on[{index}]"), message);
                valid = false;
            }
        }
    }
    valid.then_some((statuses, timeout))
}

/// The replayable methods, uppercase.
fn methods(
    at: &str,
    raw: &RawFallback,
    matched: Option<&[Box<str>]>,
    problems: &mut Problems<'_>,
) -> Option<Vec<Box<str>>> {
    let Some(listed) = &raw.methods else {
        return Some(DEFAULT_METHODS.iter().map(|&m| m.into()).collect());
    };
    if listed.is_empty() {
        problems.at_value(
            &format!("{at}.methods"),
            "fallback.methods must not be empty (omit the fallback instead)",
        );
        return None;
    }
    let mut valid = true;
    for (index, method) in listed.iter().enumerate() {
        if let Err(message) = method_problem(method, raw.idempotency_key, matched) {
            problems.at_value(&format!("{at}.methods[{index}]"), message);
            valid = false;
        }
    }
    if raw.idempotency_key
        && listed
            .iter()
            .all(|m| is_idempotent(&m.to_ascii_uppercase()))
    {
        let message = "fallback.idempotency_key applies to non-idempotent methods (POST, PATCH) \
                       and methods lists none";
        problems.at_value(&format!("{at}.idempotency_key"), message);
        valid = false;
    }
    valid.then(|| {
        listed
            .iter()
            .map(|m| m.to_ascii_uppercase().into())
            .collect()
    })
}

/// Why `method` cannot be in `fallback.methods`, if it cannot.
fn method_problem(
    method: &str,
    idempotency_key: bool,
    matched: Option<&[Box<str>]>,
) -> Result<(), String> {
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!(
            "fallback.methods: {method:?} is not an HTTP method"
        ));
    }
    let upper = method.to_ascii_uppercase();
    if matched.is_some_and(|matched| !matched.iter().any(|m| **m == *upper)) {
        return Err(format!(
            "fallback.methods: the route does not match {upper}"
        ));
    }
    if !is_idempotent(&upper) && !idempotency_key {
        return Err(format!(
            "fallback.methods: {upper} is not idempotent; replaying it on legacy could run it \
             twice (set idempotency_key: true to replay requests that carry an Idempotency-Key)"
        ));
    }
    Ok(())
}
