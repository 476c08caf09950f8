//! The one place a store URL is made fit to print. `store:` may carry a password
//! (`postgres://app:secret@db/flags`, or `?password=secret`); everything that names the
//! store to a person or a machine (logs, metric labels, admin responses, error messages,
//! the flag cache) goes through [`without_credentials`], and any text that may quote the
//! URL (a database driver's error) through [`scrub`]. It lives in this crate, the lowest
//! one, because routes.yaml's own errors name `store:` too; `strangler-control` and the
//! proxy use it from here.

use std::fmt;

/// What replaces a password that [`scrub`] finds in a text.
pub const REDACTED: &str = "[redacted]";

/// The `store:` URL, which prints without its credentials (`Debug` and `Display`); only
/// [`StoreUrl::expose`] gives the URL to connect with.
#[derive(Clone, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct StoreUrl(
    #[schemars(pattern("^(sqlite:|postgres://|postgresql://)"))]
    Box<str>,
);

impl StoreUrl {
    /// Wraps `url`.
    pub fn new(url: &str) -> StoreUrl {
        StoreUrl(url.into())
    }

    /// The whole URL, password included: for connecting only, never for printing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", without_credentials(&self.0))
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&without_credentials(&self.0))
    }
}

/// `url` without the user, the password and a `password=` query parameter: what the cache
/// file, the logs and the metrics name the store by (`postgres://app:secret@db/flags` is
/// `postgres://db/flags`).
pub fn without_credentials(url: &str) -> String {
    // A SQLite URL has no user part: an `@` there is part of the file's name.
    if url.starts_with("sqlite:") {
        return without_password_parameter(url);
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return without_password_parameter(url);
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let rest = match rest[..authority_end].rfind('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    without_password_parameter(&format!("{scheme}://{rest}"))
}

/// `text` with every occurrence of `url`'s password (as written and percent-decoded)
/// replaced by [`REDACTED`], and `url` itself by its [`without_credentials`] form: for an
/// error whose message may quote the URL it was connecting to.
pub fn scrub(text: &str, url: &str) -> String {
    let mut text = text.replace(url, &without_credentials(url));
    for secret in passwords(url) {
        text = text.replace(&secret, REDACTED);
    }
    text
}

/// The password of `url`'s user info and of its `password=` parameter, each as written
/// and percent-decoded (empty ones left out).
fn passwords(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Some((_, rest)) = url.split_once("://") {
        let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
        if let Some((user_info, _)) = authority.rsplit_once('@') {
            if let Some((_, password)) = user_info.split_once(':') {
                found.push(password.to_owned());
            }
        }
    }
    if let Some((_, query)) = url.split_once('?') {
        let parameters = query.split('&').filter_map(|p| p.split_once('='));
        found.extend(
            parameters
                .filter(|(k, _)| *k == "password")
                .map(|(_, v)| v.into()),
        );
    }
    let decoded: Vec<String> = found.iter().map(|p| percent_decoded(p)).collect();
    found.extend(decoded);
    found.retain(|p| !p.is_empty());
    found
}

/// `url` without a `password=` query parameter.
fn without_password_parameter(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.starts_with("password="))
        .collect();
    match kept.is_empty() {
        true => base.to_owned(),
        false => format!("{base}?{}", kept.join("&")),
    }
}

/// `%XX` escapes decoded (a malformed one kept as written).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_dropped_from_the_store_name() {
        assert_eq!(
            without_credentials("postgres://u:p@h:5/db?sslmode=require"),
            "postgres://h:5/db?sslmode=require"
        );
        assert_eq!(
            without_credentials("postgres://h/db?password=p&sslmode=require"),
            "postgres://h/db?sslmode=require"
        );
        assert_eq!(
            without_credentials("postgres://u:p@h?password=p"),
            "postgres://h"
        );
        assert_eq!(
            without_credentials("sqlite://dir/a@b.db"),
            "sqlite://dir/a@b.db"
        );
        assert_eq!(without_credentials("sqlite:flags.db"), "sqlite:flags.db");
    }

    #[test]
    fn a_driver_error_quoting_the_url_or_the_password_is_scrubbed() {
        let url = "postgres://app:s%40cret@db:5432/flags";
        let error = format!("cannot connect to {url}: password s@cret rejected");
        let scrubbed = scrub(&error, url);
        assert_eq!(
            scrubbed,
            "cannot connect to postgres://db:5432/flags: password [redacted] rejected"
        );
    }

    #[test]
    fn the_store_url_prints_without_its_password() {
        let url = StoreUrl::new("postgres://app:secret@db/flags");
        assert_eq!(
            format!("{url:?} {url}"),
            "\"postgres://db/flags\" postgres://db/flags"
        );
        assert_eq!(url.expose(), "postgres://app:secret@db/flags");
    }
}

/// The file of a `sqlite:` store URL (`sqlite://strangler.db`, `sqlite:x.db`,
/// `sqlite:///var/lib/x.db`), without its query; `None` for another scheme or an in-memory
/// database.
pub fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    match path.is_empty() || path.starts_with(':') {
        true => None,
        false => Some(path),
    }
}

/// `url` with its relative SQLite path taken as relative to `dir` (routes.yaml's
/// directory), query kept; `None` when there is nothing to change (another scheme, an
/// absolute path, or no directory).
pub fn sqlite_relative_to(url: &str, dir: &std::path::Path) -> Option<String> {
    let path = sqlite_path(url)?;
    if path.starts_with('/') || dir.as_os_str().is_empty() {
        return None;
    }
    let query = url
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    Some(format!("sqlite://{}{query}", dir.join(path).display()))
}

#[cfg(test)]
mod sqlite_tests {
    use super::*;

    #[test]
    fn a_relative_sqlite_path_is_taken_relative_to_the_config_directory() {
        let dir = std::path::Path::new("/etc/strangler");
        assert_eq!(sqlite_path("sqlite://strangler.db"), Some("strangler.db"));
        assert_eq!(sqlite_path("sqlite:x.db?mode=rwc"), Some("x.db"));
        assert_eq!(sqlite_path("sqlite:///var/x.db"), Some("/var/x.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://db/x"), None);
        assert_eq!(
            sqlite_relative_to("sqlite://strangler.db?mode=rwc", dir).as_deref(),
            Some("sqlite:///etc/strangler/strangler.db?mode=rwc")
        );
        assert_eq!(sqlite_relative_to("sqlite:///var/x.db", dir), None);
        assert_eq!(
            sqlite_relative_to("sqlite://x.db", std::path::Path::new("")),
            None
        );
    }
}
