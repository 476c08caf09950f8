//! Reading routes.yaml that has mistakes, so `strangler check` reports all of them at once,
//! like a compiler, instead of the first.
//!
//! serde stops at the first unknown key or wrong type. When the direct read fails on text
//! that is valid YAML, the text is read once more as a YAML value and deserialized again
//! and again, each failure recorded at its node and the node taken out of the value: an
//! unknown key is removed from its mapping, any other failure removes the node it happened
//! at (a mapping entry, or a sequence item). A mapping that then misses a field because of
//! what was removed is removed in turn, without a second message. What is left finally
//! deserializes, and validation (undefined services, ranges, overlaps) runs on it, so the
//! semantic problems of every route that parsed are reported too.
//!
//! Removing a sequence item renumbers the items after it; [`Pruned`] maps the paths
//! validation reports (in the pruned value) back to the paths of the text, so every problem
//! is still located where it is in the file. It also knows the mappings something was
//! taken out of: validation's complaint about such a mapping itself (a guard left with no
//! threshold once its misspelt one was removed) follows from the first message and is not
//! repeated; problems further in, or elsewhere, are reported.

use serde_path_to_error::Segment;
use serde_yaml::Value;

use super::problems::Problems;
use super::pruned::Pruned;
use super::raw::RawConfig;

/// At most this many problems are recovered from; a file with more is reported in part.
const MAX_RECOVERIES: usize = 200;

/// Deserializes `value` (the file as a YAML value, after a direct read failed), recording
/// each failure in `problems`; returns what finally deserialized, if anything did, and the
/// way back to the file's paths.
pub(crate) fn recover(
    mut value: Value,
    problems: &mut Problems<'_>,
) -> (Option<RawConfig>, Pruned) {
    let mut pruned = Pruned::default();
    for _ in 0..MAX_RECOVERIES {
        let failure = match serde_path_to_error::deserialize::<_, RawConfig>(&value) {
            Ok(raw) => return (Some(raw), pruned),
            Err(failure) => failure,
        };
        let mut segments: Vec<Segment> = failure.path().iter().cloned().collect();
        let message = failure.inner().to_string();
        let failed = Failure::of(&message);
        if let Failure::UnknownKey(key) = &failed {
            // The path ends at the unknown key itself; its mapping is what is wrong.
            if matches!(segments.last(), Some(Segment::Map { key: last }) if last == key) {
                segments.pop();
            }
        }
        let file_path = pruned.original(&node_path(&segments));
        let removal = match failed {
            Failure::UnknownKey(key) => {
                let at = join(&file_path, &key);
                problems.at_key(&at, with_path(&file_path, &message));
                Removal::Key(segments.clone(), key)
            }
            Failure::MissingField if pruned.damaged(&file_path) => Removal::Node(segments.clone()),
            _ => {
                problems.at_value(&file_path, with_path(&file_path, &message));
                Removal::Node(segments.clone())
            }
        };
        let Some(parent) = removal.apply(&mut value, &mut pruned) else {
            return (None, pruned);
        };
        pruned.damaged.insert(parent);
    }
    (None, pruned)
}

/// What a failure message says.
enum Failure {
    /// `unknown field `x`, expected ...`: the key, taken out of its mapping.
    UnknownKey(String),
    /// `missing field `x``.
    MissingField,
    /// A wrong type or value.
    Other,
}

impl Failure {
    fn of(message: &str) -> Failure {
        let quoted = |prefix: &str| {
            let rest = message.strip_prefix(prefix)?;
            Some(rest[..rest.find('`')?].to_owned())
        };
        if let Some(key) = quoted("unknown field `") {
            return Failure::UnknownKey(key);
        }
        match message.starts_with("missing field `") {
            true => Failure::MissingField,
            false => Failure::Other,
        }
    }
}

/// What to take out of the value after a failure.
enum Removal {
    /// The entry `key` of the mapping at the path.
    Key(Vec<Segment>, String),
    /// The node at the path.
    Node(Vec<Segment>),
}

impl Removal {
    /// Takes the node out; returns the file path of its parent, which may now miss it, or
    /// `None` when there is nothing left to remove (the root itself failed).
    fn apply(self, root: &mut Value, pruned: &mut Pruned) -> Option<String> {
        let (parent, last) = match self {
            Removal::Key(path, key) => (path, Segment::Map { key }),
            Removal::Node(mut path) => {
                let last = path.pop()?;
                (path, last)
            }
        };
        let parent_file = pruned.original(&node_path(&parent));
        let container = walk(root, &parent)?;
        match (container, last) {
            (Value::Mapping(map), Segment::Map { key }) => {
                let found = map.keys().find(|k| key_text(k) == key).cloned()?;
                map.remove(&found);
            }
            (Value::Sequence(items), Segment::Seq { index }) if index < items.len() => {
                pruned.remove(&parent_file, index, items.len());
                items.remove(index);
            }
            (Value::Tagged(tagged), _) => tagged.value = Value::Null,
            _ => return None,
        }
        Some(parent_file)
    }
}

/// The node at `path` in `value`, if the path leads anywhere.
fn walk<'v>(mut value: &'v mut Value, path: &[Segment]) -> Option<&'v mut Value> {
    for segment in path {
        value = match (value, segment) {
            (Value::Mapping(map), Segment::Map { key }) => {
                let found = map.keys().find(|k| key_text(k) == *key).cloned()?;
                map.get_mut(&found)?
            }
            (Value::Sequence(items), Segment::Seq { index }) => items.get_mut(*index)?,
            (Value::Tagged(tagged), Segment::Enum { .. }) => &mut tagged.value,
            (value, Segment::Enum { .. }) => value,
            _ => return None,
        };
    }
    Some(value)
}

/// A mapping key as a path names it.
fn key_text(key: &Value) -> String {
    match key {
        Value::String(text) => text.clone(),
        other => serde_yaml::to_string(other)
            .map(|text| text.trim_end().to_owned())
            .unwrap_or_default(),
    }
}

/// The path the locator uses: keys joined with `.`, items as `[i]` (enum variants, which
/// are not nodes of their own, left out).
fn node_path(segments: &[Segment]) -> String {
    let mut path = String::new();
    for segment in segments {
        match segment {
            Segment::Map { key } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Segment::Seq { index } => path.push_str(&format!("[{index}]")),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    path
}

fn join(path: &str, key: &str) -> String {
    match path.is_empty() {
        true => key.to_owned(),
        false => format!("{path}.{key}"),
    }
}

/// The message as serde_yaml words it: the node's path, then what is wrong there.
fn with_path(path: &str, message: &str) -> String {
    match path.is_empty() {
        true => message.to_owned(),
        false => format!("{path}: {message}"),
    }
}
