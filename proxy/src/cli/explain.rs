//! `strangler explain`: why would this request go where it goes? It runs the same decision
//! function as the proxy on a request described on the command line, without sending it.

use std::path::Path;

use serde::Serialize;
use strangler_flags::{RequestError, RequestView, Snapshot};

use crate::cli::error::CliError;

/// Prints where `question` would go under `config`, and why, as text or JSON. `headers`
/// are `Name: value` lines.
pub fn command(config: &Path, question: Question<'_>, json: bool) -> Result<(), CliError> {
    let snapshot = crate::live::routes_file::load(config)?;
    if question.tenant.is_some() && snapshot.verified_tenants() {
        return Err(CliError::Usage(
            "--tenant cannot stand in for a verified (jwt) tenant: pass the token, \
             --header 'Authorization: Bearer <token>'"
                .to_owned(),
        ));
    }
    let answer = explain(&snapshot, &question).map_err(|e| CliError::Refused {
        status: e.http_status(),
        message: e.to_string(),
    })?;
    match json {
        true => println!("{}", serde_json::to_string_pretty(&answer)?),
        false => print!("{answer}"),
    }
    Ok(())
}

/// A `--header` argument, `Name: value`, as a lowercase name and a trimmed value.
pub fn parse_header(raw: &str) -> Result<(String, String), CliError> {
    let (name, value) = raw
        .split_once(':')
        .ok_or_else(|| CliError::Usage(format!("header {raw:?} is not `Name: value`")))?;
    Ok((name.trim().to_ascii_lowercase(), value.trim().to_string()))
}

/// A request described on the command line.
pub struct Question<'a> {
    /// HTTP method, e.g. `GET`.
    pub method: &'a str,
    /// Path, with or without a query string (ignored).
    pub path: &'a str,
    /// The `Host` the client would send.
    pub host: Option<&'a str>,
    /// A tenant, as if the client had sent it in the config's tenant header(s).
    pub tenant: Option<&'a str>,
    /// Other request headers, lowercase name and value.
    pub headers: &'a [(String, String)],
}

/// The answer, as printed (`--json` prints it as is).
#[derive(Debug, Serialize)]
pub struct Answer {
    /// The path as the decision matched it (normalised: escapes decoded, `//` collapsed,
    /// matrix parameters left out).
    pub path: String,
    /// `paths.case`: `sensitive`, or `insensitive` when route patterns matched the path
    /// regardless of ASCII case.
    pub path_case: &'static str,
    /// The matched route, or null.
    pub route: Option<String>,
    /// The resolved tenant, or null.
    pub tenant: Option<String>,
    /// Which source gave the tenant: header, subdomain, path or jwt.
    pub tenant_source: Option<&'static str>,
    /// `legacy` or `new`.
    pub side: &'static str,
    /// The upstream's name (`legacy` or the service name).
    pub upstream: String,
    /// The upstream's address.
    pub upstream_addr: String,
    /// The reason code (`percent`, `tenant-override`, ...).
    pub reason: &'static str,
    /// The reason with its figures.
    pub detail: String,
}

struct Asked<'q, 's> {
    question: &'q Question<'q>,
    snapshot: &'s Snapshot,
}

impl RequestView for Asked<'_, '_> {
    fn method(&self) -> &str {
        self.question.method
    }
    fn path(&self) -> &str {
        self.question.path.split('?').next().unwrap_or_default()
    }
    fn host(&self) -> Option<&str> {
        self.question.host
    }
    fn header(&self, name: &str) -> Option<&str> {
        let tenant_header = self.snapshot.tenant_headers().any(|h| h == name);
        match self.question.tenant {
            Some(tenant) if tenant_header => Some(tenant),
            _ => self
                .question
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str()),
        }
    }
}

/// Decides `question` on `snapshot`.
pub fn explain(snapshot: &Snapshot, question: &Question<'_>) -> Result<Answer, RequestError> {
    let asked = Asked { question, snapshot };
    let decision = snapshot.decide(&asked)?;
    let upstream = snapshot.upstream(decision.side, decision.route);
    Ok(Answer {
        path: strangler_flags::matched_path(asked.path())?.into_owned(),
        path_case: snapshot.path_case().code(),
        route: decision.route.map(|r| r.name.to_string()),
        tenant: decision.tenant.map(std::borrow::Cow::into_owned),
        tenant_source: decision.tenant_source.map(|s| s.code()),
        side: decision.side.code(),
        upstream: upstream.name.to_string(),
        upstream_addr: upstream.addr.to_string(),
        reason: decision.reason.code(),
        detail: decision.reason.to_string(),
    })
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let none = "-";
        match self.path_case {
            "insensitive" => writeln!(f, "path:     {} (matched case-insensitively)", self.path)?,
            _ => writeln!(f, "path:     {}", self.path)?,
        }
        writeln!(
            f,
            "route:    {}",
            self.route.as_deref().unwrap_or("- (no route matched)")
        )?;
        match (&self.tenant, self.tenant_source) {
            (Some(t), Some(source)) => writeln!(f, "tenant:   {t} (from {source})")?,
            (Some(t), None) => writeln!(f, "tenant:   {t}")?,
            _ => writeln!(f, "tenant:   {none}")?,
        }
        writeln!(f, "side:     {}", self.side)?;
        writeln!(f, "upstream: {} ({})", self.upstream, self.upstream_addr)?;
        writeln!(f, "reason:   {}", self.detail)
    }
}
