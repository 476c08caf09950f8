//! What recovering from mistakes in routes.yaml took out of it ([`super::recover`]), kept
//! for the problems found after: the way back from paths in the pruned value to the file's
//! (removing a sequence item renumbers the items after it), and the mappings that lost an
//! entry, whose own complaints follow from the first message and are not repeated.

use std::collections::{HashMap, HashSet};

/// What recovering took out of the file's value: the way back from pruned paths to the
/// file's, and the mappings that lost something.
#[derive(Debug, Default, Clone)]
pub(crate) struct Pruned {
    /// For a sequence (by its path in the file), the file indexes of the items still there,
    /// in order.
    kept: HashMap<String, Vec<usize>>,
    /// The file paths of the mappings an entry was removed from.
    pub(super) damaged: HashSet<String>,
}

impl Pruned {
    /// Whether the node at `path` (a file path) lost an entry while recovering.
    pub(crate) fn damaged(&self, path: &str) -> bool {
        self.damaged.contains(path)
    }

    /// The file's path for `path`, a path in the pruned value (`routes[1].service`).
    pub(crate) fn original(&self, path: &str) -> String {
        if self.kept.is_empty() {
            return path.to_owned();
        }
        let mut out = String::with_capacity(path.len());
        let mut rest = path;
        while let Some(open) = rest.find('[') {
            let close = open + rest[open..].find(']').unwrap_or(rest.len() - open);
            out.push_str(&rest[..open]);
            let index: Option<usize> = rest[open + 1..close].parse().ok();
            let mapped = index.map(|i| self.file_index(&out, i));
            match mapped {
                Some(i) => out.push_str(&format!("[{i}]")),
                None => out.push_str(&rest[open..=close.min(rest.len() - 1)]),
            }
            rest = rest.get(close + 1..).unwrap_or("");
        }
        out.push_str(rest);
        out
    }

    /// The file index of item `index` of the sequence at `sequence` (a file path).
    fn file_index(&self, sequence: &str, index: usize) -> usize {
        match self.kept.get(sequence) {
            Some(kept) => kept.get(index).copied().unwrap_or(index),
            None => index,
        }
    }

    /// Records that item `index` (pruned numbering) of the sequence at `sequence` (a file
    /// path) of `length` items (pruned) was removed.
    pub(super) fn remove(&mut self, sequence: &str, index: usize, length: usize) {
        let kept = self
            .kept
            .entry(sequence.to_owned())
            .or_insert_with(|| (0..length).collect());
        if index < kept.len() {
            kept.remove(index);
        }
    }
}
