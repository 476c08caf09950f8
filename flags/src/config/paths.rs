//! The `paths:` section: how request paths are compared with route patterns beyond the
//! normalisation every path gets (`crate::request_path`).
//!
//! A case-insensitive monolith (IIS, a servlet container told to ignore case) serves
//! `/API/invoices/7` as `/api/invoices/7`; a case-sensitive match would send that spelling
//! to legacy's copy of a migrated `/api/**` route. `case: insensitive` closes that hole:
//! route pattern literals are compared with request segments regardless of ASCII case.

use schemars::JsonSchema;
use serde::Deserialize;

/// `paths:`.
///
/// ```yaml
/// paths: { case: insensitive }
/// ```
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPaths {
    /// `case:` `sensitive` (default): a route's literal segments match only the same bytes;
    /// `insensitive`: they match regardless of ASCII case (`/API/x` matches `/api/**`), for
    /// a monolith that serves every spelling of a path as one. Set it when the monolith
    /// ignores case, or a client reaches legacy's copy of a migrated route by changing the
    /// case of a letter. The new service then receives the path as the client spelt it.
    #[serde(default)]
    pub case: PathCase,
}

/// How route pattern literals compare with request path segments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PathCase {
    /// Byte for byte.
    #[default]
    Sensitive,
    /// Regardless of ASCII case.
    Insensitive,
}

impl PathCase {
    /// `sensitive` or `insensitive`, as written in routes.yaml.
    pub fn code(self) -> &'static str {
        match self {
            PathCase::Sensitive => "sensitive",
            PathCase::Insensitive => "insensitive",
        }
    }
}
