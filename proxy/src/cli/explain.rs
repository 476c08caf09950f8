//! `strangler explain`: why would this request go where it goes? It runs the same decision
//! function as the proxy on a request described on the command line, without sending it.

use std::path::Path;

use crate::cli::error::CliError;
use crate::live::explain::explain;
pub use crate::live::explain::Question;

/// Prints where `question` would go under `config`, and why, as text or JSON.
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

/// A `--cookie` argument, `name=value`, as a name and a value (both as given).
pub fn parse_cookie(raw: &str) -> Result<(String, String), CliError> {
    match raw.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(CliError::Usage(format!(
            "cookie {raw:?} is not `name=value`"
        ))),
    }
}
