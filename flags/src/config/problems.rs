//! Where validation puts what it finds: every problem with routes.yaml located at its node
//! (`routes.yaml:12:7: ...`), all of them rather than the first, and the warnings (a
//! deprecated key) that do not stop the file loading. The YAML is only scanned for
//! positions once something is found, so a valid file never pays for it.

use std::cell::OnceCell;

use super::pruned::Pruned;
use crate::error::{ConfigError, ConfigErrors};
use crate::locate::{Locator, Position};

/// Collects located problems while validating, and the warnings that do not stop a load.
pub(crate) struct Problems<'a> {
    origin: &'a str,
    yaml: &'a str,
    /// Built on the first problem: a valid file (the usual reload) never pays for it.
    locator: OnceCell<Locator>,
    found: Vec<ConfigError>,
    /// Deprecated keys in use, located at the key.
    warnings: Vec<ConfigError>,
    /// What recovering from mistakes took out of the file ([`super::recover`]): the way
    /// back to the file's paths, and the mappings whose own problems are not repeated.
    pruned: Pruned,
}

impl<'a> Problems<'a> {
    /// Nothing found yet in `yaml`, which `origin` names.
    pub(crate) fn new(origin: &'a str, yaml: &'a str) -> Problems<'a> {
        Problems {
            origin,
            yaml,
            locator: OnceCell::new(),
            found: Vec::new(),
            warnings: Vec::new(),
            pruned: Pruned::default(),
        }
    }

    /// Paths given from now on are in a value that recovering pruned.
    pub(crate) fn after_recovery(&mut self, pruned: Pruned) {
        self.pruned = pruned;
    }

    /// Whether any problem was found.
    pub(crate) fn any(&self) -> bool {
        !self.found.is_empty()
    }

    /// Where the value at `path` (validation's numbering) starts in the file.
    fn value_at(&self, path: &str) -> Option<Position> {
        self.locator().value(&self.pruned.original(path))
    }

    /// Where the key of the entry at `path` (validation's numbering) starts in the file.
    fn key_at(&self, path: &str) -> Option<Position> {
        self.locator().key(&self.pruned.original(path))
    }

    fn locator(&self) -> &Locator {
        self.locator.get_or_init(|| Locator::new(self.yaml))
    }

    /// Records a problem with the value at node `path` (see [`Locator`]), unless that
    /// node lost an entry to an earlier problem (which this one then follows from).
    pub(crate) fn at_value(&mut self, path: &str, message: impl Into<String>) {
        if self.pruned.damaged(&self.pruned.original(path)) {
            return;
        }
        let position = self.value_at(path);
        let error = self.located(position, message.into());
        self.found.push(error);
    }

    /// Records a problem with the key of the mapping entry at `path`, unless that node lost
    /// an entry to an earlier problem.
    pub(crate) fn at_key(&mut self, path: &str, message: impl Into<String>) {
        if self.pruned.damaged(&self.pruned.original(path)) {
            return;
        }
        let position = self.key_at(path);
        let error = self.located(position, message.into());
        self.found.push(error);
    }

    /// Warns that the key at `path` is a deprecated alias of `canonical`: the file loads.
    pub(crate) fn deprecated(&mut self, path: &str, canonical: &str) {
        let position = self.key_at(path);
        let message = format!("{path} is deprecated: use {canonical}");
        let warning = self.located(position, message);
        self.warnings.push(warning);
    }

    /// Warns about the value at `path` (a risky but deliberate choice): the file loads.
    pub(crate) fn warn(&mut self, path: &str, message: impl Into<String>) {
        let position = self.value_at(path);
        let warning = self.located(position, message.into());
        self.warnings.push(warning);
    }

    /// `file:line:col` of the value at `path`, for messages naming a second place.
    pub(crate) fn place(&self, path: &str) -> String {
        match self.value_at(path) {
            Some((line, column)) => format!("{}:{line}:{column}", self.origin),
            None => self.origin.to_owned(),
        }
    }

    fn located(&self, position: Option<Position>, message: String) -> ConfigError {
        ConfigError {
            origin: self.origin.to_owned(),
            line: position.map(|(line, _)| line),
            column: position.map(|(_, column)| column),
            message,
        }
    }

    /// The value and the warnings if no problem was found, else every problem; both in
    /// file order.
    pub(crate) fn finish<T>(
        mut self,
        value: Option<T>,
    ) -> Result<(T, Vec<ConfigError>), ConfigErrors> {
        let in_file_order = |error: &ConfigError| (error.line, error.column);
        self.found.sort_by_key(in_file_order);
        self.warnings.sort_by_key(in_file_order);
        match (value, self.found.is_empty()) {
            (Some(value), true) => Ok((value, self.warnings)),
            _ => Err(ConfigErrors(self.found)),
        }
    }
}

/// A serde_yaml error (syntax, type, unknown key) with its own location.
pub(crate) fn syntax_error(err: &serde_yaml::Error, origin: &str) -> ConfigError {
    let location = err.location();
    let mut message = err.to_string();
    if let Some(location) = &location {
        let suffix = format!(" at line {} column {}", location.line(), location.column());
        if let Some(start) = message.find(&suffix) {
            message.replace_range(start..start + suffix.len(), "");
        }
    }
    ConfigError {
        origin: origin.to_owned(),
        line: location.as_ref().map(|l| l.line()),
        column: location.as_ref().map(|l| l.column()),
        message,
    }
}
