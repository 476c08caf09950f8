//! The `ignore:` rules: JSON pointers with `*` for any one segment, each ignoring the
//! node it names and everything below it, and `header:NAME` rules for headers.
//!
//! The diff walks both documents depth first and carries the set of pointer rules whose
//! first `depth` segments matched the path so far, so deciding whether a child is ignored
//! costs one segment comparison per still-matching rule, and nothing once none match.

use super::{pointer, PolicyError};

/// One segment of an ignore pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// `*`: any one key or position.
    Any,
    /// An exact, unescaped key or position.
    Literal(String),
}

/// The compiled `ignore:` list.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    /// Pointer rules, split into segments.
    pointers: Vec<Vec<Pattern>>,
    /// Lowercase names from `header:NAME` rules.
    headers: Vec<String>,
}

impl IgnoreRules {
    /// Sorts each written rule into a header or a pointer rule.
    pub fn compile(written: &[String]) -> Result<IgnoreRules, PolicyError> {
        let mut rules = IgnoreRules::default();
        for rule in written {
            let invalid = |reason| PolicyError::IgnoreRule {
                value: rule.clone(),
                reason,
            };
            if let Some(name) = rule.strip_prefix("header:") {
                if !pointer::is_header_name(name) {
                    return Err(invalid("not a header name"));
                }
                rules.headers.push(name.to_ascii_lowercase());
                continue;
            }
            let segments = pointer::parse(rule).map_err(invalid)?;
            if segments.is_empty() {
                return Err(invalid("ignoring the whole document compares nothing"));
            }
            rules
                .pointers
                .push(segments.into_iter().map(pattern).collect());
        }
        Ok(rules)
    }

    /// Whether the header with this lowercase name is ignored.
    pub fn ignores_header(&self, name: &str) -> bool {
        self.headers.iter().any(|ignored| ignored == name)
    }

    /// Whether there are no pointer rules (only header rules, or none).
    pub fn has_no_pointers(&self) -> bool {
        self.pointers.is_empty()
    }

    /// Whether a JSON pointer (`/items/3/price`) is at or below a pointer rule.
    pub fn matches_pointer(&self, path: &str) -> bool {
        let Ok(segments) = pointer::parse(path) else {
            return false;
        };
        let mut alive = self.at_root();
        for (depth, segment) in segments.iter().enumerate() {
            match self.descend(&alive, depth, segment) {
                None => return true,
                Some(still) if still.is_empty() => return false,
                Some(still) => alive = still,
            }
        }
        false
    }

    /// The rules that may match below the document root: all of them.
    pub fn at_root(&self) -> Vec<u32> {
        (0..self.pointers.len() as u32).collect()
    }

    /// Steps from a node at `depth` (with `alive` rules matching its path) to its child
    /// `segment`: `None` when the child is ignored, else the rules still matching.
    pub fn descend(&self, alive: &[u32], depth: usize, segment: &str) -> Option<Vec<u32>> {
        let mut still = Vec::new();
        for &rule in alive {
            let patterns = &self.pointers[rule as usize];
            let matches = match &patterns[depth] {
                Pattern::Any => true,
                Pattern::Literal(literal) => literal == segment,
            };
            if matches && patterns.len() == depth + 1 {
                return None;
            }
            if matches {
                still.push(rule);
            }
        }
        Some(still)
    }
}

/// `*` is a wildcard; anything else matches itself.
fn pattern(segment: String) -> Pattern {
    if segment == "*" {
        Pattern::Any
    } else {
        Pattern::Literal(segment)
    }
}
