//! `strangler flags`: the runtime flags of a running proxy, over its admin API
//! ([`crate::admin::flags`]). Each command becomes one [`Call`] (method, path, body), is sent
//! with the admin token from `STRANGLER_ADMIN_TOKEN`, and its answer is printed as a table,
//! a one-line summary, or with `--json` as the server's JSON. A non-2xx answer becomes
//! [`FlagsError::Refused`] with the server's own message, so the operator sees why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reqwest::{Method, Url};
use serde_json::{json, Value};
use strangler_flags::Side;

use crate::admin::tokens::TOKEN_ENV;

pub mod args;
pub mod ramp;
mod render;

use args::{parse_side, FlagsArgs, FlagsCommand, Target, TenantsAction};

/// Why a flags command failed.
#[derive(Debug, thiserror::Error)]
pub enum FlagsError {
    /// The admin URL does not parse.
    #[error("admin URL {url:?} is not an http URL: {reason}")]
    AdminUrl { url: String, reason: String },
    /// Nothing answered at the admin URL, or the answer was cut off.
    #[error("cannot reach the admin API at {url}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered non-2xx; `message` is its `error`.
    #[error("{status}: {message}")]
    Refused {
        status: reqwest::StatusCode,
        message: String,
    },
    /// The tenants file cannot be read.
    #[error("{}", path.display())]
    TenantsFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line of the tenants file is not `tenant side` or `tenant=side`.
    #[error("{}:{line}: {message}", path.display())]
    TenantsLine {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// The async runtime could not start.
    #[error("starting the runtime")]
    Runtime(#[source] std::io::Error),
}

/// One request to the admin API.
#[derive(Debug, PartialEq)]
pub struct Call {
    method: Method,
    /// Path segments after the admin URL, each escaped on its own.
    segments: Vec<String>,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
}

impl Call {
    fn new(method: Method, segments: &[&str]) -> Call {
        Call {
            method,
            segments: segments.iter().map(|s| s.to_string()).collect(),
            query: Vec::new(),
            body: None,
        }
    }

    fn body(mut self, body: Value) -> Call {
        self.body = Some(body);
        self
    }

    /// The call with `comment` added to its JSON body (one is made when it has none).
    fn body_comment(mut self, comment: &Option<String>) -> Call {
        let Some(comment) = comment else {
            return self;
        };
        let mut body = self.body.take().unwrap_or_else(|| json!({}));
        if let Some(map) = body.as_object_mut() {
            map.insert("comment".into(), json!(comment));
        }
        self.body(body)
    }
}

/// Runs `args` and prints the answer.
pub fn run(args: FlagsArgs) -> Result<(), FlagsError> {
    let call = call_for(&args.command)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(FlagsError::Runtime)?;
    let token = std::env::var(TOKEN_ENV).ok();
    let answer = runtime.block_on(send(&args.admin, token.as_deref(), call))?;
    if args.json {
        println!("{}", pretty(&answer));
    } else {
        print!("{}", render::answer(&args.command, &answer));
    }
    Ok(())
}

fn pretty(answer: &Value) -> String {
    serde_json::to_string_pretty(answer).unwrap_or_else(|_| answer.to_string())
}

/// The request a command makes (reading `--file` for `tenants set`).
pub fn call_for(command: &FlagsCommand) -> Result<Call, FlagsError> {
    use FlagsCommand as C;
    Ok(match command {
        C::List => Call::new(Method::GET, &["admin", "routes"]),
        C::Export => Call::new(Method::GET, &["admin", "export"]),
        C::SetPercent {
            route,
            percent,
            comment,
        } => Call::new(Method::PUT, &["admin", "routes", route, "percent"])
            .body(json!({ "percent": percent, "comment": comment })),
        C::ClearPercent { route, comment } => {
            Call::new(Method::DELETE, &["admin", "routes", route, "percent"])
                .body(json!({ "comment": comment }))
        }
        C::ShadowSample {
            route,
            percent,
            comment,
            ..
        } => shadow_call(route, *percent, comment),
        C::Tenants { route, action } => tenants_call(route, action)?,
        C::Kill { target, comment } => kill_call(Method::POST, target, comment),
        C::Unkill { target, comment } => kill_call(Method::DELETE, target, comment),
        C::Schedule {
            route,
            steps,
            every,
            by,
            until,
            start,
            clear,
            pause,
            resume,
            comment,
        } => {
            let steps = match every {
                Some(every) => vec![interval_step(every, *by, *until, start.as_deref())],
                None => steps.clone(),
            };
            schedule_call(route, &steps, *clear, *pause, *resume).body_comment(comment)
        }
        C::Ramp(args) => ramp::call(args),
        C::Audit { route, limit } => audit_call(route.as_deref(), *limit),
        C::Revert { id, comment } => {
            Call::new(Method::POST, &["admin", "audit", &id.to_string(), "revert"])
                .body(json!({ "comment": comment }))
        }
    })
}

fn tenants_call(route: &str, action: &TenantsAction) -> Result<Call, FlagsError> {
    Ok(match action {
        TenantsAction::Set {
            pairs,
            file,
            comment,
        } => {
            let tenants: BTreeMap<String, Side> = match file {
                Some(file) => read_tenants(file)?,
                None => pairs.iter().cloned().collect(),
            };
            Call::new(Method::PUT, &["admin", "routes", route, "tenants"])
                .body(json!({ "tenants": tenants, "comment": comment }))
        }
        TenantsAction::Clear {
            tenant: Some(tenant),
            comment,
            ..
        } => Call::new(
            Method::DELETE,
            &["admin", "routes", route, "tenants", tenant],
        )
        .body(json!({ "comment": comment })),
        TenantsAction::Clear {
            tenant: None,
            comment,
            ..
        } => Call::new(Method::DELETE, &["admin", "routes", route, "tenants"])
            .body(json!({ "comment": comment })),
    })
}

fn kill_call(method: Method, target: &Target, comment: &Option<String>) -> Call {
    let call = match &target.route {
        Some(route) => Call::new(method, &["admin", "routes", route, "kill"]),
        None => Call::new(method, &["admin", "kill"]),
    };
    call.body(json!({ "comment": comment }))
}

fn schedule_call(route: &str, steps: &[Value], clear: bool, pause: bool, resume: bool) -> Call {
    let base = ["admin", "routes", route, "schedule"];
    if clear {
        Call::new(Method::DELETE, &base)
    } else if pause {
        Call::new(Method::POST, &[&base[..], &["pause"]].concat())
    } else if resume {
        Call::new(Method::POST, &[&base[..], &["resume"]].concat())
    } else {
        Call::new(Method::PUT, &base).body(json!({ "schedule": { "steps": steps } }))
    }
}

/// Sets (`Some`) or clears (`None`) a route's runtime shadow sample.
fn shadow_call(route: &str, percent: Option<f64>, comment: &Option<String>) -> Call {
    let path = ["admin", "routes", route, "shadow"];
    match percent {
        Some(sample) => {
            Call::new(Method::PUT, &path).body(json!({ "sample": sample, "comment": comment }))
        }
        None => Call::new(Method::DELETE, &path).body(json!({ "comment": comment })),
    }
}

/// One interval step: from `start` (default now), `by` more every `every` until `until`.
fn interval_step(every: &str, by: Option<f64>, until: Option<f64>, start: Option<&str>) -> Value {
    let start = match start {
        Some(start) => json!(start),
        None => json!(time::OffsetDateTime::now_utc().unix_timestamp()),
    };
    json!({ "start": start, "every": every, "step": by, "until": until })
}

fn audit_call(route: Option<&str>, limit: Option<u32>) -> Call {
    let mut call = Call::new(Method::GET, &["admin", "audit"]);
    if let Some(route) = route {
        call.query.push(("route", route.to_string()));
    }
    if let Some(limit) = limit {
        call.query.push(("limit", limit.to_string()));
    }
    call
}

/// Every non-blank line of `path`, `tenant side` or `tenant=side`.
pub fn read_tenants(path: &Path) -> Result<BTreeMap<String, Side>, FlagsError> {
    let text = std::fs::read_to_string(path).map_err(|source| FlagsError::TenantsFile {
        path: path.to_path_buf(),
        source,
    })?;
    let mut tenants = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let pair = line.replacen('=', " ", 1);
        let (tenant, side) = match pair.split_whitespace().collect::<Vec<_>>()[..] {
            [tenant, side] => parse_side(side).map(|side| (tenant.to_string(), side)),
            _ => Err(format!("{line:?} is not `tenant side` or `tenant=side`")),
        }
        .map_err(|message| FlagsError::TenantsLine {
            path: path.to_path_buf(),
            line: index + 1,
            message,
        })?;
        tenants.insert(tenant, side);
    }
    Ok(tenants)
}

/// Sends `call` and returns the JSON answer, or the server's error.
async fn send(admin: &str, token: Option<&str>, call: Call) -> Result<Value, FlagsError> {
    let url = url_for(admin, &call)?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|source| unreachable(admin, source))?;
    let mut request = client.request(call.method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = &call.body {
        request = request.json(body);
    }
    let response = request
        .send()
        .await
        .map_err(|source| unreachable(admin, source))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|source| unreachable(admin, source))?;
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status.is_success() {
        return Ok(body);
    }
    let message = match &body {
        Value::Object(map) => map.get("error").and_then(Value::as_str).map(str::to_string),
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        _ => None,
    };
    Err(FlagsError::Refused {
        status,
        message: message.unwrap_or_else(|| body.to_string()),
    })
}

fn unreachable(admin: &str, source: reqwest::Error) -> FlagsError {
    FlagsError::Unreachable {
        url: admin.to_string(),
        source,
    }
}

/// The admin URL with the call's path segments (escaped) and query.
fn url_for(admin: &str, call: &Call) -> Result<Url, FlagsError> {
    let bad = |reason: String| FlagsError::AdminUrl {
        url: admin.to_string(),
        reason,
    };
    let mut url = Url::parse(admin).map_err(|e| bad(e.to_string()))?;
    url.path_segments_mut()
        .map_err(|()| bad("it has no path".to_string()))?
        .pop_if_empty()
        .extend(&call.segments);
    if !call.query.is_empty() {
        url.query_pairs_mut().extend_pairs(&call.query);
    }
    Ok(url)
}
