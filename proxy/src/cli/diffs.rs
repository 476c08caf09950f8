//! `strangler diffs`: how the shadowed routes compare, read from the diff store that the
//! config's `store:` names, as text or JSON.

use std::path::Path;

use crate::cli::error::CliError;
use crate::live::routes_file;
use crate::shadow::reports;

/// The window `--since` defaults to.
pub const DEFAULT_SINCE: &str = reports::DEFAULT_SINCE;

/// Prints the report of the comparisons of the last `since` (`90s`, `15m`, `1h`, `7d`), of
/// one route or all.
pub fn diffs(config: &Path, route: Option<&str>, since: &str, json: bool) -> Result<(), CliError> {
    let snapshot = routes_file::load(config)?;
    if let Some(route) = route {
        if snapshot.route(route).is_none() {
            let message = format!("unknown route {route:?} in {}", config.display());
            return Err(CliError::Usage(message));
        }
    }
    let since = reports::parse_since(since).map_err(CliError::Usage)?;
    let settings = snapshot.diffs();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::io("starting a runtime"))?;
    let report = runtime.block_on(async {
        let database = strangler_control::Database::connect(snapshot.store_url()).await?;
        let store = database.diffs(settings.samples_per_signature);
        Ok::<_, CliError>(reports::report(&store, route, since, &settings.thresholds).await?)
    })?;
    match json {
        true => println!("{}", serde_json::to_string_pretty(&report)?),
        false => print!("{}", reports::render(&report)),
    }
    Ok(())
}
