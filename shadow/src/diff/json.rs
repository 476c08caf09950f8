//! Structural comparison of two JSON documents. A [`Walker`] descends both documents
//! together, keeping the exact pointer, the collapsed pointer and the ignore rules still
//! matching the current path; it reports each difference at the highest node where the
//! two sides part (a missing object is one `missing`, not one per field). The mirror
//! marker is left out of both documents ([`super::marker`]).

use serde_json::{Map, Number, Value};

use super::marker::{is_marker_pair, names_marker};
use super::{render, Difference, Example, Kind};
use strangler_flags::shadow_policy::{pointer, CompiledPolicy};

/// Compares two parsed documents, appending differences to `out`.
pub(super) fn compare(a: &Value, b: &Value, policy: &CompiledPolicy, out: &mut Vec<Difference>) {
    let alive = policy.ignore.at_root();
    let mut walker = Walker {
        policy,
        path: String::new(),
        collapsed: String::new(),
        depth: 0,
        out,
    };
    walker.value(a, b, &alive);
}

/// The state of one walk down both documents.
pub(super) struct Walker<'a> {
    /// The policy: ignore rules, array policies, tolerance.
    pub(super) policy: &'a CompiledPolicy,
    /// Exact pointer of the current node.
    pub(super) path: String,
    /// Collapsed pointer of the current node.
    pub(super) collapsed: String,
    /// Number of segments in the current path.
    pub(super) depth: usize,
    /// Where differences go.
    pub(super) out: &'a mut Vec<Difference>,
}

/// Pointer lengths to restore when leaving a child.
pub(super) struct Mark {
    path: usize,
    collapsed: usize,
}

impl Walker<'_> {
    /// Compares two nodes at the current path.
    pub(super) fn value(&mut self, a: &Value, b: &Value, alive: &[u32]) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => self.objects(x, y, alive),
            (Value::Array(x), Value::Array(y)) => {
                let has_marker = |items: &[Value]| items.iter().any(is_marker_pair);
                match has_marker(x) || has_marker(y) {
                    true => self.arrays(&without_marker(x), &without_marker(y), alive),
                    false => self.arrays(x, y, alive),
                }
            }
            (Value::Number(x), Value::Number(y)) => {
                if !numbers_equal(x, y, self.policy.tolerance) {
                    self.report(Kind::ValueChanged, Some(a), Some(b));
                }
            }
            _ if std::mem::discriminant(a) == std::mem::discriminant(b) => {
                if a != b {
                    self.report(Kind::ValueChanged, Some(a), Some(b));
                }
            }
            _ => self.report(Kind::TypeChanged, Some(a), Some(b)),
        }
    }

    /// Compares fields present on both sides, then reports fields only one side has. Under
    /// a `case_insensitive_keys` pointer a key the other side spells in another case is
    /// the same field.
    fn objects(&mut self, a: &Map<String, Value>, b: &Map<String, Value>, alive: &[u32]) {
        let folded = self.folds_keys();
        for (key, x) in a.iter().filter(|(key, _)| !names_marker(key)) {
            let Some((alive, mark)) = self.enter(alive, key, false) else {
                continue;
            };
            match field(b, key, folded) {
                Some(y) => self.value(x, y, &alive),
                None => self.report(Kind::Missing, Some(x), None),
            }
            self.leave(mark);
        }
        let only_b = |key: &str| !names_marker(key) && field(a, key, folded).is_none();
        for (key, y) in b.iter().filter(|(key, _)| only_b(key)) {
            if let Some((_, mark)) = self.enter(alive, key, false) {
                self.report(Kind::Extra, None, Some(y));
                self.leave(mark);
            }
        }
    }

    /// Whether the object at the current path compares its keys ignoring case.
    fn folds_keys(&self) -> bool {
        let rules = &self.policy.case_insensitive_keys;
        !rules.has_no_pointers() && !self.path.is_empty() && rules.matches_pointer(&self.path)
    }

    /// Steps into the child `segment` (`element` when it is an array position): `None`
    /// when an ignore rule covers it, else the rules still matching and how to step back.
    pub(super) fn enter(
        &mut self,
        alive: &[u32],
        segment: &str,
        element: bool,
    ) -> Option<(Vec<u32>, Mark)> {
        let alive = self.policy.ignore.descend(alive, self.depth, segment)?;
        let mark = Mark {
            path: self.path.len(),
            collapsed: self.collapsed.len(),
        };
        pointer::push_segment(&mut self.path, segment);
        self.collapsed.push('/');
        pointer::push_collapsed(&mut self.collapsed, segment, element);
        self.depth += 1;
        Some((alive, mark))
    }

    /// Steps back to the parent of the current node.
    pub(super) fn leave(&mut self, mark: Mark) {
        self.path.truncate(mark.path);
        self.collapsed.truncate(mark.collapsed);
        self.depth -= 1;
    }

    /// Records a difference at the current path; the document root is called `body`.
    pub(super) fn report(&mut self, kind: Kind, a: Option<&Value>, b: Option<&Value>) {
        let example = Example {
            primary: a.map(render),
            shadow: b.map(render),
        };
        self.report_example(kind, example);
    }

    /// Records a difference at the current path with an already rendered example.
    pub(super) fn report_example(&mut self, kind: Kind, example: Example) {
        let (path, collapsed) = match self.path.is_empty() {
            true => ("body".to_owned(), "body".to_owned()),
            false => (self.path.clone(), self.collapsed.clone()),
        };
        self.out.push(Difference {
            path,
            collapsed,
            kind,
            example,
            noise: false,
        });
    }
}

/// The elements of `items` but the marker's `[name, value]` pairs.
fn without_marker(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .filter(|v| !is_marker_pair(v))
        .cloned()
        .collect()
}

/// The field `key` of `map`; with `folded`, spelt in any ASCII case when not exactly.
fn field<'m>(map: &'m Map<String, Value>, key: &str, folded: bool) -> Option<&'m Value> {
    match (map.get(key), folded) {
        (Some(found), _) => Some(found),
        (None, true) => map
            .iter()
            .find(|(other, _)| other.eq_ignore_ascii_case(key))
            .map(|(_, found)| found),
        (None, false) => None,
    }
}

/// Numbers are equal when they are the same number, or within `tolerance` of each other
/// as floats (so `1` equals `1.0`); two integers are only compared as floats when a
/// tolerance is set, as large integers lose precision there.
fn numbers_equal(a: &Number, b: &Number, tolerance: f64) -> bool {
    if a == b {
        return true;
    }
    let integers = !a.is_f64() && !b.is_f64();
    if integers && tolerance == 0.0 {
        return false;
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= tolerance,
        _ => false,
    }
}
