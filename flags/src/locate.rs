//! Finds where a node sits in the YAML text, so semantic errors found after
//! deserialization (an undefined service, overlapping routes) can still say
//! `file:line:col`. serde_yaml forgets positions once it has built the value, so this
//! replays the text through `yaml-rust2`'s marked event parser and records, for each node
//! path such as `routes[0].service`, where its key and its value start.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based (line, column) position in the YAML text.
pub type Position = (usize, usize);

/// Positions of every node in one YAML document, by node path.
///
/// Paths join mapping keys with `.` and sequence indexes with `[i]`:
/// `routes[1].rollout.tenants.bigcorp`. The root is the empty path.
#[derive(Debug, Default)]
pub struct Locator {
    values: HashMap<String, Position>,
    keys: HashMap<String, Position>,
}

impl Locator {
    /// Indexes `yaml`; text the YAML parser rejects yields an index of what came before.
    pub fn new(yaml: &str) -> Locator {
        let mut recorder = Recorder::default();
        // A syntax error has already been reported, located, by serde_yaml.
        let _ = Parser::new_from_str(yaml).load(&mut recorder, false);
        recorder.locator
    }

    /// Where the value at `path` starts.
    pub fn value(&self, path: &str) -> Option<Position> {
        self.values.get(path).copied()
    }

    /// Where the key of the mapping entry at `path` starts, falling back to its value.
    pub fn key(&self, path: &str) -> Option<Position> {
        self.keys.get(path).copied().or_else(|| self.value(path))
    }
}

/// One open collection while walking the events.
enum Frame {
    /// A mapping at `path`; `key` is the key whose value comes next, if any.
    Mapping { path: String, key: Option<String> },
    /// A sequence at `path`; `next` is the index of the next item.
    Sequence { path: String, next: usize },
}

#[derive(Default)]
struct Recorder {
    locator: Locator,
    stack: Vec<Frame>,
}

impl Recorder {
    /// The path of the node that starts now, or None when it is a mapping key (recorded).
    fn enter(&mut self, scalar: Option<&str>, position: Position) -> Option<String> {
        let path = match self.stack.last_mut() {
            None => String::new(),
            Some(Frame::Sequence { path, next }) => {
                *next += 1;
                format!("{path}[{}]", *next - 1)
            }
            Some(Frame::Mapping { path, key }) => match key.take() {
                Some(key) => join(path, &key),
                None => {
                    let name = scalar.unwrap_or("?").to_owned();
                    self.locator.keys.insert(join(path, &name), position);
                    *key = Some(name);
                    return None;
                }
            },
        };
        self.locator.values.insert(path.clone(), position);
        Some(path)
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl MarkedEventReceiver for Recorder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let position = (mark.line(), mark.col() + 1);
        match event {
            Event::Scalar(text, ..) => {
                self.enter(Some(&text), position);
            }
            Event::Alias(_) => {
                self.enter(Some("*alias"), position);
            }
            Event::MappingStart(..) => {
                let path = self.enter(None, position).unwrap_or_else(|| "?".to_owned());
                self.stack.push(Frame::Mapping { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.enter(None, position).unwrap_or_else(|| "?".to_owned());
                self.stack.push(Frame::Sequence { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str =
        "legacy: http://a:1\nroutes:\n  - name: x\n    match: { path: /a }\n    service: billing\n";

    #[test]
    fn sequence_items_and_nested_keys_are_located() {
        let locator = Locator::new(YAML);
        assert_eq!(locator.value("routes[0].service"), Some((5, 14)));
        assert_eq!(locator.key("routes[0].service"), Some((5, 5)));
        assert_eq!(locator.value("routes[0].match.path"), Some((4, 20)));
    }

    #[test]
    fn top_level_values_are_located() {
        let locator = Locator::new(YAML);
        assert_eq!(locator.value("legacy"), Some((1, 9)));
        assert_eq!(locator.key("routes"), Some((2, 1)));
    }
}
