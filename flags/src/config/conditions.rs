//! Validation of a route's `match.headers`, `match.cookies` and `match.query`: names that
//! can appear in a request, values that parse (`*`, `~regex` compiled here with its size
//! limit, or an exact value), each problem located at its key or value.

use std::collections::BTreeMap;

use crate::route_condition::{Condition, Part, ValueMatch};

use super::problems::Problems;
use super::raw::RawMatch;

/// Compiles the conditions of `raw` (at node `at`, e.g. `routes[0].match`) of route
/// `name`; None if any is invalid.
pub(super) fn compile(
    at: &str,
    name: &str,
    raw: &RawMatch,
    problems: &mut Problems<'_>,
) -> Option<Box<[Condition]>> {
    let parts = [
        (Part::Header, &raw.headers),
        (Part::Cookie, &raw.cookies),
        (Part::Query, &raw.query),
    ];
    let mut conditions = Vec::new();
    let mut valid = true;
    for (part, entries) in parts {
        let field = format!("{at}.{}", field_of(part));
        valid &= compile_part(&field, name, part, entries, &mut conditions, problems);
    }
    valid.then(|| conditions.into_boxed_slice())
}

/// The routes.yaml key of a part's conditions.
fn field_of(part: Part) -> &'static str {
    match part {
        Part::Header => "headers",
        Part::Cookie => "cookies",
        Part::Query => "query",
    }
}

/// Compiles one part's entries into `conditions`; false if any is invalid.
fn compile_part(
    at: &str,
    route: &str,
    part: Part,
    entries: &BTreeMap<String, String>,
    conditions: &mut Vec<Condition>,
    problems: &mut Problems<'_>,
) -> bool {
    let mut valid = true;
    for (key, text) in entries {
        let at_entry = format!("{at}.{key}");
        let name = match check_name(part, key, conditions) {
            Ok(name) => Some(name),
            Err(reason) => {
                problems.at_key(&at_entry, format!("route {route:?}: {reason}"));
                None
            }
        };
        let value = ValueMatch::parse(text)
            .map_err(|reason| problems.at_value(&at_entry, format!("route {route:?}: {reason}")))
            .ok();
        match (name, value) {
            (Some(name), Some(value)) => conditions.push(Condition { part, name, value }),
            _ => valid = false,
        }
    }
    valid
}

/// The name as compared (a header's lowercase), or why it can never be in a request.
fn check_name(part: Part, key: &str, earlier: &[Condition]) -> Result<Box<str>, String> {
    let what = part.code();
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let valid = match part {
        Part::Header | Part::Cookie => !key.is_empty() && key.bytes().all(token),
        Part::Query => !key.is_empty() && !key.contains(['&', '=', '#', ' ']),
    };
    if !valid {
        return Err(format!("{key:?} is not a valid {what} name"));
    }
    let name: Box<str> = match part {
        Part::Header => key.to_ascii_lowercase().into(),
        Part::Cookie | Part::Query => key.into(),
    };
    let repeated = earlier.iter().any(|c| c.part == part && c.name == name);
    match repeated {
        true => Err(format!(
            "{what} {key:?} is named twice (header names ignore case)"
        )),
        false => Ok(name),
    }
}
