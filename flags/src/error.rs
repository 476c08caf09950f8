//! Errors of the flags crate, in two families that never mix: [`ConfigErrors`] are found
//! while loading routes.yaml and carry the file, line and column of the offending node (so
//! `strangler check` can print them all, like `nginx -t`); [`RequestError`] is found while
//! deciding one request and makes the proxy answer 400 (401 for a bearer token).

use std::fmt;

use crate::tenant::kind::TenantSourceKind;

/// One problem in a routes.yaml file, located as precisely as the loader could.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file the text came from, as given to [`crate::Snapshot::parse`].
    pub origin: String,
    /// 1-based line of the offending node, when it could be located.
    pub line: Option<usize>,
    /// 1-based column of the offending node, when it could be located.
    pub column: Option<usize>,
    /// What is wrong, naming the route, service or tenant involved.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(f, "{}:{line}:{column}: {}", self.origin, self.message)
            }
            (Some(line), None) => write!(f, "{}:{line}: {}", self.origin, self.message),
            _ => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

/// Every problem found in one routes.yaml, in file order; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    /// One error a line, each as `file:line:col: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        ConfigErrors(vec![error])
    }
}

/// Why a single request cannot be decided; the proxy answers 400 with this Display, or 401
/// for [`RequestError::InvalidToken`].
///
/// `Display` and `Error` are written by hand because the field is named `source` (the
/// tenant source that produced the bad id), which `thiserror` would take for an error cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// A tenant source yielded a value that is not a valid tenant id.
    InvalidTenant {
        /// Which kind of source produced the value.
        source: TenantSourceKind,
        /// What is wrong with it, e.g. "longer than 128 characters".
        reason: &'static str,
    },
    /// The request path cannot be normalised safely: it does not start with `/`, has a
    /// `.` or `..` segment (plain, percent-encoded or with `;` parameters), an encoded `/`,
    /// `\`, NUL or `%`, a literal `\` or a malformed escape; routing it could escape the
    /// route the rules meant.
    InvalidPath(&'static str),
    /// A `jwt:` source found a token that does not verify (bad signature, expired, not yet
    /// valid, algorithm not allowed, unknown `kid`, malformed, tenant claim missing or not a
    /// valid tenant id) and `tenant.on_invalid` is `reject`.
    InvalidToken(&'static str),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::InvalidTenant { source, reason } => {
                write!(
                    f,
                    "invalid tenant id from {} source: {reason}",
                    source.code()
                )
            }
            RequestError::InvalidPath(reason) => write!(f, "invalid request path: {reason}"),
            RequestError::InvalidToken(reason) => write!(f, "invalid bearer token: {reason}"),
        }
    }
}

impl RequestError {
    /// The status the proxy answers with: 401 for a bearer token that does not verify
    /// (RFC 6750), 400 for everything else.
    pub fn http_status(&self) -> u16 {
        match self {
            RequestError::InvalidToken(_) => 401,
            RequestError::InvalidTenant { .. } | RequestError::InvalidPath(_) => 400,
        }
    }
}

impl std::error::Error for RequestError {}
