//! What the live snapshot decides for a described request, and why: the same decision
//! function as the proxy runs, on a request that is never sent. `strangler explain` asks it
//! of routes.yaml, the console's explain form (`POST /admin/explain`) of the configuration
//! serving now, runtime flags included.

use serde::Serialize;
use strangler_flags::tenant::anonymous::AnonymousId;
use strangler_flags::{RequestError, RequestView, Snapshot};

/// A request described by a person (on the command line, in the console).
pub struct Question<'a> {
    /// HTTP method, e.g. `GET`.
    pub method: &'a str,
    /// Path, with or without a query string (read by `match.query` conditions).
    pub path: &'a str,
    /// The `Host` the client would send.
    pub host: Option<&'a str>,
    /// A tenant, as if the client had sent it in the config's tenant header(s).
    pub tenant: Option<&'a str>,
    /// Other request headers, lowercase name and value.
    pub headers: &'a [(String, String)],
    /// Cookies, name and value, as if sent in the `Cookie` header (a `cookie` header in
    /// `headers` is read too, after these).
    pub cookies: &'a [(String, String)],
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
    /// The matched route's header, cookie and query conditions, all of which held: what
    /// chose it over a route with fewer (`header x-beta = "1"`, `cookie beta present`).
    pub conditions: Vec<String>,
    /// With `tenant.anonymous` and no tenant: the id that bucketed the request, or why
    /// none did (a new one would be minted).
    pub anonymous: Option<String>,
    /// The path the new side receives when the matched route has a `rewrite:` that changes
    /// it (legacy always gets the client's).
    pub upstream_path: Option<String>,
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
    fn query(&self) -> Option<&str> {
        self.question.path.split_once('?').map(|(_, query)| query)
    }
    fn cookie(&self, name: &str) -> Option<&str> {
        let given = self.question.cookies.iter().find(|(n, _)| n == name);
        given.map(|(_, value)| value.as_str()).or_else(|| {
            self.header("cookie")
                .and_then(|header| strangler_flags::cookie_in(header, name))
        })
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
    let path = strangler_flags::matched_path(asked.path())?.into_owned();
    let upstream_path = decision.route.and_then(|route| {
        let rewrite = route.rewrite()?;
        rewrite.upstream_path(route.path_pattern(), &path)
    });
    let anonymous = decision.anonymous.map(|id| match id {
        AnonymousId::Sent(id) => format!("bucketed by the id {id}"),
        AnonymousId::Missing => "none valid sent: the proxy mints one, sets it in a cookie \
                                 and buckets by it"
            .to_owned(),
    });
    Ok(Answer {
        path,
        path_case: snapshot.path_case().code(),
        route: decision.route.map(|r| r.name.to_string()),
        tenant: decision.tenant.map(std::borrow::Cow::into_owned),
        tenant_source: decision.tenant_source.map(|s| s.code()),
        side: decision.side.code(),
        upstream: upstream.name.to_string(),
        upstream_addr: upstream.addr.to_string(),
        reason: decision.reason.code(),
        detail: decision.reason.to_string(),
        conditions: decision
            .route
            .map(|route| route.conditions().iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
        anonymous,
        upstream_path,
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
        if !self.conditions.is_empty() {
            writeln!(f, "matched:  {}", self.conditions.join(", "))?;
        }
        if let Some(anonymous) = &self.anonymous {
            writeln!(f, "anonymous: {anonymous}")?;
        }
        writeln!(f, "side:     {}", self.side)?;
        if let Some(path) = &self.upstream_path {
            writeln!(f, "rewrite:  the new side receives {path}")?;
        }
        writeln!(f, "upstream: {} ({})", self.upstream, self.upstream_addr)?;
        writeln!(f, "reason:   {}", self.detail)
    }
}
