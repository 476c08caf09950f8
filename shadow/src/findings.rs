//! A route's real differences as a person reads them: one finding per transformation, not
//! one line per path. A service that lower-cases JSON keys differs at every key as a
//! `missing` and an `extra` path; those pairs become one `key-case` finding under their
//! parent with a count and examples. Keys spelt another way with the same name once case
//! and `_`/`-` are set aside, or a lone missing/extra pair with the same value, are one
//! `renamed` finding; type changes from one JSON type to the same other type at sibling
//! paths are one `type-changed` finding; three or more keys of one object that only one
//! side has are one `missing` (or `extra`) finding. Everything else stays a finding of its
//! own.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::report::{DifferenceReport, JsonExample};
use crate::{Example, Kind};

/// Examples kept per finding.
const EXAMPLES: usize = 3;

/// One thing that differs, at one path or as one transformation at sibling paths.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// A difference kind (`value-changed`, `missing`, ...), or `key-case` or `renamed`.
    pub kind: String,
    /// The path; for a transformation at several paths, their parent object's.
    pub path: String,
    /// How many paths it covers (1 for a single difference).
    pub paths: u64,
    /// Comparisons in which it was seen (the most of any of its paths).
    pub count: u64,
    /// Up to three examples: the path (`old → new` for a key) and both values.
    pub examples: Vec<FindingExample>,
}

/// One example of a finding; in JSON its values are JSON values, not JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingExample {
    /// The path, or `parent/old → new` for a renamed or re-cased key.
    pub path: String,
    /// The primary's value as the example text of [`Example`] writes it.
    pub primary: Option<String>,
    /// The shadow's value.
    pub shadow: Option<String>,
}

impl Serialize for FindingExample {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            path: &'a str,
            #[serde(flatten)]
            values: JsonExample,
        }
        let example = Example {
            primary: self.primary.clone(),
            shadow: self.shadow.clone(),
        };
        let values = JsonExample::of(&self.path, &example);
        Wire {
            path: &self.path,
            values,
        }
        .serialize(serializer)
    }
}

/// What a group of sibling differences has in common.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Transformation {
    KeyCase,
    Renamed,
    TypeChanged(&'static str, &'static str),
    /// Keys only one side has (`missing` or `extra`), at least [`SIBLINGS`] of them.
    Absent(Kind),
}

/// Missing (or extra) keys of one object grouped into one finding from this many on.
const SIBLINGS: usize = 3;

/// Sibling differences grouped by parent and transformation, with the most comparisons
/// any of them was seen in.
#[derive(Default)]
struct Groups {
    examples: BTreeMap<(String, Transformation), Vec<FindingExample>>,
    counts: BTreeMap<(String, Transformation), u64>,
}

impl Groups {
    fn add(&mut self, parent: &str, how: Transformation, count: u64, example: FindingExample) {
        let key = (parent.to_owned(), how);
        let most = self.counts.entry(key.clone()).or_default();
        *most = (*most).max(count);
        self.examples.entry(key).or_default().push(example);
    }

    /// One finding per group.
    fn findings(self) -> impl Iterator<Item = Finding> {
        let counts = self.counts;
        self.examples
            .into_iter()
            .map(move |((parent, how), examples)| {
                let count = counts.get(&(parent.clone(), how.clone())).copied();
                group(parent, how, examples, count.unwrap_or(0))
            })
    }
}

/// The findings of `differences` (a route's real differences), most frequent first.
pub fn findings(differences: &[DifferenceReport]) -> Vec<Finding> {
    let mut groups = Groups::default();
    let mut used = vec![false; differences.len()];
    for (i, j, how) in pairs(differences) {
        (used[i], used[j]) = (true, true);
        let (a, b) = (&differences[i], &differences[j]);
        let (parent, old) = split(&a.path).unwrap_or_default();
        let new = split(&b.path).map_or("", |(_, key)| key);
        let example = FindingExample {
            path: format!("{parent}/{old} → {new}"),
            primary: a.example.primary.clone(),
            shadow: b.example.shadow.clone(),
        };
        groups.add(parent, how, a.count.max(b.count), example);
    }
    for i in type_changes(differences, &used) {
        used[i] = true;
        let d = &differences[i];
        let (parent, _) = split(&d.path).unwrap_or_default();
        let (from, to) = type_change(d).unwrap_or_default();
        groups.add(
            parent,
            Transformation::TypeChanged(from, to),
            d.count,
            example(d),
        );
    }
    for i in absent_siblings(differences, &used) {
        used[i] = true;
        let d = &differences[i];
        let (parent, _) = split(&d.path).unwrap_or_default();
        groups.add(parent, Transformation::Absent(d.kind), d.count, example(d));
    }
    let singles = differences.iter().zip(&used).filter(|(_, used)| !**used);
    let mut findings: Vec<Finding> = groups.findings().collect();
    findings.extend(singles.map(|(d, _)| single(d)));
    findings.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.path.cmp(&b.path)));
    findings
}

/// The type changes not yet `used` that share their parent and their two types with at
/// least one sibling.
fn type_changes(differences: &[DifferenceReport], used: &[bool]) -> Vec<usize> {
    let shapes: Vec<_> = differences.iter().map(type_shape).collect();
    (0..differences.len())
        .filter(|&i| !used[i] && shapes[i].is_some())
        .filter(|&i| shapes.iter().filter(|s| **s == shapes[i]).count() >= 2)
        .collect()
}

/// The missing (or extra) keys not yet `used` whose object has at least [`SIBLINGS`]
/// keys missing (or extra).
fn absent_siblings(differences: &[DifferenceReport], used: &[bool]) -> Vec<usize> {
    let shape = |i: usize| {
        let d = &differences[i];
        let absent = matches!(d.kind, Kind::Missing | Kind::Extra) && !used[i];
        absent.then(|| split(&d.path).map(|(parent, _)| (parent, d.kind)))?
    };
    let shapes: Vec<_> = (0..differences.len()).map(shape).collect();
    (0..differences.len())
        .filter(|&i| shapes[i].is_some())
        .filter(|&i| shapes.iter().filter(|s| **s == shapes[i]).count() >= SIBLINGS)
        .collect()
}

/// A type change's parent and two types; `None` for any other difference.
fn type_shape(d: &DifferenceReport) -> Option<(&str, (&'static str, &'static str))> {
    let types = (d.kind == Kind::TypeChanged)
        .then(|| type_change(d))
        .flatten()?;
    Some((split(&d.path)?.0, types))
}

/// The finding of a group of sibling differences.
fn group(
    parent: String,
    how: Transformation,
    examples: Vec<FindingExample>,
    count: u64,
) -> Finding {
    let kind = match how {
        Transformation::KeyCase => "key-case".to_owned(),
        Transformation::Renamed => "renamed".to_owned(),
        Transformation::TypeChanged(from, to) => format!("type-changed {from} → {to}"),
        Transformation::Absent(kind) => kind.code().to_owned(),
    };
    Finding {
        kind,
        path: if parent.is_empty() {
            "/".to_owned()
        } else {
            parent
        },
        paths: examples.len() as u64,
        count,
        examples: examples.into_iter().take(EXAMPLES).collect(),
    }
}

/// The finding of one difference on its own.
fn single(d: &DifferenceReport) -> Finding {
    Finding {
        kind: d.kind.code().to_owned(),
        path: d.path.clone(),
        paths: 1,
        count: d.count,
        examples: vec![example(d)],
    }
}

fn example(d: &DifferenceReport) -> FindingExample {
    FindingExample {
        path: d.path.clone(),
        primary: d.example.primary.clone(),
        shadow: d.example.shadow.clone(),
    }
}

/// Whether two keys are one key spelt two ways.
type SameKey = fn(&str, &str) -> bool;

/// Missing/extra pairs under the same parent that are one key spelt two ways: the same
/// key but for case, the same once `_` and `-` are dropped too, or the only missing and
/// the only extra key of their parent holding the same value.
fn pairs(differences: &[DifferenceReport]) -> Vec<(usize, usize, Transformation)> {
    let keyed = |kind: Kind| -> Vec<(usize, &str, &str)> {
        let of_kind = differences
            .iter()
            .enumerate()
            .filter(|(_, d)| d.kind == kind);
        of_kind
            .filter_map(|(i, d)| split(&d.path).map(|(parent, key)| (i, parent, key)))
            .collect()
    };
    let (missing, mut extra) = (keyed(Kind::Missing), keyed(Kind::Extra));
    let mut found = Vec::new();
    let rules: [(Transformation, SameKey); 2] = [
        (Transformation::KeyCase, |a, b| a.eq_ignore_ascii_case(b)),
        (Transformation::Renamed, |a, b| squash(a) == squash(b)),
    ];
    let mut unpaired = Vec::new();
    'missing: for &(i, parent, key) in &missing {
        for (how, same) in &rules {
            let hit = extra
                .iter()
                .position(|&(_, p, k)| p == parent && same(key, k));
            if let Some(position) = hit {
                found.push((i, extra.remove(position).0, how.clone()));
                continue 'missing;
            }
        }
        unpaired.push((i, parent));
    }
    for &(i, parent) in &unpaired {
        let alone = unpaired.iter().filter(|(_, p)| *p == parent).count() == 1;
        let candidates: Vec<usize> = extra
            .iter()
            .enumerate()
            .filter(|(_, (_, p, _))| *p == parent)
            .map(|(position, _)| position)
            .collect();
        if let ([position], true) = (candidates.as_slice(), alone) {
            let j = extra[*position].0;
            if differences[i].example.primary == differences[j].example.shadow {
                found.push((i, extra.remove(*position).0, Transformation::Renamed));
            }
        }
    }
    found
}

/// A key without case, `_` or `-`: `customer_id`, `customerId` and `Customer-ID` agree.
fn squash(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A JSON pointer's parent and last key; `None` for `status`, `header:...`, `line:N`,
/// `body` and an array position (`*`).
fn split(path: &str) -> Option<(&str, &str)> {
    let (parent, key) = path.strip_prefix('/').map(|_| path.rsplit_once('/'))??;
    (key != "*").then_some((parent, key))
}

/// The JSON types of a type change's two example values.
fn type_change(d: &DifferenceReport) -> Option<(&'static str, &'static str)> {
    let kind = |value: &Option<String>| {
        let value: serde_json::Value = serde_json::from_str(value.as_deref()?).ok()?;
        Some(match value {
            serde_json::Value::Null => "null",
            serde_json::Value::Bool(_) => "boolean",
            serde_json::Value::Number(_) => "number",
            serde_json::Value::String(_) => "string",
            serde_json::Value::Array(_) => "array",
            serde_json::Value::Object(_) => "object",
        })
    };
    Some((kind(&d.example.primary)?, kind(&d.example.shadow)?))
}
