//! `strangler report`: the readiness report (which routes' legacy paths can go), read from
//! the store that the config's `store:` names, as a table or JSON.

use std::path::Path;

use crate::cli::diffs::with_database;
use crate::cli::error::CliError;
use crate::live::routes_file;
use crate::readiness::{report, text};

/// Prints the readiness of every route of `config`: what proxies flushed to the store
/// (each flushes every minute), judged on the store's flags and audit log.
pub fn report(config: &Path, json: bool) -> Result<(), CliError> {
    let snapshot = routes_file::load(config)?;
    let report = with_database(&snapshot, |database| {
        let snapshot = &snapshot;
        async move { Ok(report::report(&database, snapshot).await?) }
    })?;
    match json {
        true => println!("{}", serde_json::to_string_pretty(&report)?),
        false => print!("{}", text::render(&report)),
    }
    Ok(())
}
