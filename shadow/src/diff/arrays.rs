//! The three ways of pairing array elements before comparing them, chosen per array by
//! the policy's `arrays:` map: ordered (position by position), unordered (as multisets)
//! and keyed (by an identifying field). Multisets are compared through a canonical text of
//! each element that sorts object keys and leaves out ignored fields.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write;

use serde_json::Value;
use strangler_flags::shadow_policy::{ArrayPolicy, IgnoreRules};

use super::json::Walker;
use super::{render, Example, Kind};

impl Walker<'_> {
    /// Compares two arrays under the policy configured for the current path.
    pub(super) fn arrays(&mut self, a: &[Value], b: &[Value], alive: &[u32]) {
        let policy = self.policy;
        match policy.array_policy(&self.collapsed) {
            ArrayPolicy::Ordered => self.ordered(a, b, alive),
            ArrayPolicy::Unordered => self.unordered(a, b, alive),
            ArrayPolicy::Keyed { key } => self.keyed(a, b, key, alive),
        }
    }

    /// Position by position, then `array-length` if the lengths differ; when only the
    /// order differs, the per-position differences become one `order-only`.
    fn ordered(&mut self, a: &[Value], b: &[Value], alive: &[u32]) {
        let before = self.out.len();
        for (index, (x, y)) in a.iter().zip(b).enumerate() {
            if let Some((alive, mark)) = self.enter(alive, &index.to_string(), true) {
                self.value(x, y, &alive);
                self.leave(mark);
            }
        }
        if a.len() != b.len() {
            let (x, y) = (Value::from(a.len()), Value::from(b.len()));
            self.report(Kind::ArrayLength, Some(&x), Some(&y));
        } else if self.out.len() > before && self.same_multiset(a, b, alive) {
            self.out.truncate(before);
            let example = Example {
                primary: Some(render(a)),
                shadow: Some(render(b)),
            };
            self.report_example(Kind::OrderOnly, example);
        }
    }

    /// Elements without an equal partner on the other side are `missing` or `extra` at
    /// their own position, collapsed to `ARRAY/*`.
    fn unordered(&mut self, a: &[Value], b: &[Value], alive: &[u32]) {
        let mut unmatched: HashMap<String, VecDeque<usize>> = HashMap::new();
        for (index, canonical) in self.canonical_elements(b, alive) {
            unmatched.entry(canonical).or_default().push_back(index);
        }
        let mut missing = Vec::new();
        for (index, canonical) in self.canonical_elements(a, alive) {
            let partner = unmatched.get_mut(&canonical).and_then(VecDeque::pop_front);
            if partner.is_none() {
                missing.push(index);
            }
        }
        let mut extra: Vec<usize> = unmatched.into_values().flatten().collect();
        extra.sort_unstable();
        for index in missing {
            self.element(
                alive,
                &index.to_string(),
                Kind::Missing,
                Some(&a[index]),
                None,
            );
        }
        for index in extra {
            self.element(
                alive,
                &index.to_string(),
                Kind::Extra,
                None,
                Some(&b[index]),
            );
        }
    }

    /// Elements are paired by the value of `key` (in order among equal values) and
    /// compared under `ARRAY/{value}`; elements without the field pair by position.
    fn keyed(&mut self, a: &[Value], b: &[Value], key: &str, alive: &[u32]) {
        let mut unmatched: HashMap<String, VecDeque<usize>> = HashMap::new();
        for (index, element) in b.iter().enumerate() {
            unmatched
                .entry(identity(element, key, index))
                .or_default()
                .push_back(index);
        }
        for (index, x) in a.iter().enumerate() {
            let id = identity(x, key, index);
            match unmatched.get_mut(&id).and_then(VecDeque::pop_front) {
                Some(partner) => {
                    if let Some((alive, mark)) = self.enter(alive, &id, true) {
                        self.value(x, &b[partner], &alive);
                        self.leave(mark);
                    }
                }
                None => self.element(alive, &id, Kind::Missing, Some(x), None),
            }
        }
        let mut extra: Vec<(usize, String)> = unmatched
            .into_iter()
            .flat_map(|(id, indexes)| indexes.into_iter().map(move |index| (index, id.clone())))
            .collect();
        extra.sort_unstable();
        for (index, id) in extra {
            self.element(alive, &id, Kind::Extra, None, Some(&b[index]));
        }
    }

    /// Reports one whole element as missing or extra, unless it is ignored.
    fn element(
        &mut self,
        alive: &[u32],
        segment: &str,
        kind: Kind,
        a: Option<&Value>,
        b: Option<&Value>,
    ) {
        if let Some((_, mark)) = self.enter(alive, segment, true) {
            self.report(kind, a, b);
            self.leave(mark);
        }
    }

    /// Whether two arrays hold the same elements, counting repeats, in any order.
    fn same_multiset(&self, a: &[Value], b: &[Value], alive: &[u32]) -> bool {
        let mut balance: HashMap<String, i64> = HashMap::new();
        for (_, canonical) in self.canonical_elements(a, alive) {
            *balance.entry(canonical).or_default() += 1;
        }
        for (_, canonical) in self.canonical_elements(b, alive) {
            *balance.entry(canonical).or_default() -= 1;
        }
        balance.values().all(|count| *count == 0)
    }

    /// The canonical text of each element that is not ignored, with its position.
    fn canonical_elements(&self, elements: &[Value], alive: &[u32]) -> Vec<(usize, String)> {
        let ignore = &self.policy.ignore;
        let depth = self.depth;
        elements
            .iter()
            .enumerate()
            .filter_map(|(index, element)| {
                let alive = ignore.descend(alive, depth, &index.to_string())?;
                let mut text = String::new();
                canonical(element, ignore, &alive, depth + 1, &mut text);
                Some((index, text))
            })
            .collect()
    }
}

/// What pairs an element of a keyed array: its `key` field as text (a string as is), or
/// `#POSITION` when it has none.
fn identity(element: &Value, key: &str, index: usize) -> String {
    match element.get(key) {
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => format!("#{index}"),
    }
}

/// Writes a text for `value` that equal values share: object keys sorted, ignored fields
/// left out, numbers written as floats when fractional (so `1.0` and `1` agree).
fn canonical(value: &Value, ignore: &IgnoreRules, alive: &[u32], depth: usize, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for key in keys {
                if let Some(alive) = ignore.descend(alive, depth, key) {
                    let _ = write!(out, "{key:?}:");
                    canonical(&map[key], ignore, &alive, depth + 1, out);
                    out.push(',');
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if let Some(alive) = ignore.descend(alive, depth, &index.to_string()) {
                    canonical(item, ignore, &alive, depth + 1, out);
                    out.push(',');
                }
            }
            out.push(']');
        }
        Value::Number(number) if number.is_f64() => {
            let _ = write!(out, "{}", number.as_f64().unwrap_or_default());
        }
        Value::String(text) => {
            let _ = write!(out, "{text:?}");
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}
