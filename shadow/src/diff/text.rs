//! Comparison of bodies that are not JSON: `text/*` line by line, reported as `line:N`
//! (1-based), and anything else as a whole, reported at `body` with a length and hash.

use super::marker::is_marker_line;
use super::{Difference, Kind};

/// Compares two texts line by line, leaving out an echo of the mirror marker (numbers
/// are then those of the lines kept). Lines the two share at the start and at the end are
/// skipped first, so one inserted line is one `extra`, not a change of every line after it.
pub(super) fn lines(a: &str, b: &str, out: &mut Vec<Difference>) {
    let (a, b) = (kept_lines(a), kept_lines(b));
    let shorter = a.len().min(b.len());
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
        .min(shorter - prefix);
    let middle_a = &a[prefix..a.len() - suffix];
    let middle_b = &b[prefix..b.len() - suffix];
    for index in 0..middle_a.len().max(middle_b.len()) {
        let (x, y) = (middle_a.get(index).copied(), middle_b.get(index).copied());
        let kind = match (x, y) {
            (Some(_), None) => Kind::Missing,
            (None, Some(_)) => Kind::Extra,
            _ => Kind::ValueChanged,
        };
        let path = format!("line:{}", prefix + index + 1);
        out.push(Difference::new(&path, kind, x, y));
    }
}

/// The lines of `text` but an echo of the mirror marker.
fn kept_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|line| !is_marker_line(line)).collect()
}

/// Compares two opaque bodies as wholes; the example gives each one's length and hash.
pub(super) fn bytes(a: &[u8], b: &[u8], out: &mut Vec<Difference>) {
    if a != b {
        let (x, y) = (describe(a), describe(b));
        out.push(Difference::new(
            "body",
            Kind::ValueChanged,
            Some(&x),
            Some(&y),
        ));
    }
}

/// `"<N bytes, fnv1a 0123456789abcdef>"`: enough to tell two bodies apart in a report.
fn describe(body: &[u8]) -> String {
    format!("<{} bytes, fnv1a {:016x}>", body.len(), fnv1a(body))
}

/// FNV-1a, 64 bits: stable across runs and Rust versions, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
