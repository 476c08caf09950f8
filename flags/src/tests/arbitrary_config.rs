//! Properties over arbitrary configuration and routes: loading routes.yaml never panics,
//! whatever the text (random text, or a valid file with random edits), and every error it
//! reports points inside the file; the route trie picks exactly the route a brute-force
//! reading of the precedence rules picks, for any set of routes that loads and any path.

use proptest::prelude::*;

use super::{Fake, FakeRequest, BASE};
use crate::pattern::{split, Pattern, Segment};
use crate::{ConfigErrors, Snapshot};

/// A valid file using most sections, as the base for random edits.
const RICH: &str = r#"listen: 127.0.0.1:8080
admin: 127.0.0.1:9180
threads: 2
debug_headers: true
connect_timeout: 250ms
legacy: http://127.0.0.1:3000
services: { billing: http://127.0.0.1:3001, search: "http://localhost:3002" }
tenant:
  sources: [ { header: X-Tenant-Id }, { subdomain: .shop.example.com }, { path: "/t/{tenant}/**" } ]
  default: legacy
diffs: { in_flight: 8, max_age: 1d, relative_threshold: 0.05 }
qa: { tenants: [qa-internal], header: x-strangler-side }
routes:
  - name: invoices
    match: { path: "/api/invoices/**", methods: [GET, POST], host: "*.example.com" }
    service: billing
    cohort: money
    rollout: { percent: 12.5, tenants: { qa-internal: new, bigcorp: legacy } }
    shadow: { sample: 50, ignore: ["/served_by"], noise: 20, timeout: 2s }
  - name: pdf
    match: { path: "/api/invoices/{id}/pdf" }
    service: search
"#;

/// Loads `text`; on failure checks every located error points inside the file.
fn load_checked(text: &str) -> Result<(), TestCaseError> {
    let Err(errors) = Snapshot::parse(text, "routes.yaml", &Fake::default()) else {
        return Ok(());
    };
    let ConfigErrors(errors) = errors;
    prop_assert!(!errors.is_empty());
    let lines = text.lines().count().max(1) + 1;
    for error in errors {
        prop_assert!(!error.message.is_empty());
        prop_assert_eq!(error.origin.as_str(), "routes.yaml");
        if let Some(line) = error.line {
            prop_assert!(
                (1..=lines).contains(&line),
                "line {} of {}: {}",
                line,
                lines,
                error
            );
        }
    }
    Ok(())
}

/// One random edit of `text` at a char boundary: delete a span, insert a snippet, or
/// duplicate a line.
fn edited(text: &str, edit: (u8, usize, usize, String)) -> String {
    let (kind, at, len, snippet) = edit;
    let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let start = boundaries[at % boundaries.len()];
    let end = boundaries
        .get((at % boundaries.len()) + len)
        .copied()
        .unwrap_or(text.len());
    let mut out = text.to_owned();
    match kind % 3 {
        0 => out.replace_range(start..end, ""),
        1 => out.insert_str(start, &snippet),
        _ => {
            let lines: Vec<&str> = text.lines().collect();
            let line = lines[at % lines.len()];
            out = text.replacen(line, &format!("{line}\n{line}"), 1);
        }
    }
    out
}

fn snippet() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,12}",
        Just(": ".to_owned()),
        Just("\n  - ".to_owned()),
        Just("{".to_owned()),
        Just("\t".to_owned()),
        Just("percent: 101".to_owned()),
        Just("path: \"/**/x\"".to_owned()),
        Just("&a *a".to_owned()),
    ]
}

/// A pattern of up to four segments over a tiny alphabet, so patterns overlap often.
fn pattern() -> impl Strategy<Value = String> {
    let segment = prop_oneof!["[ab]", Just("{p}".to_owned())];
    (prop::collection::vec(segment, 0..4), any::<bool>()).prop_map(|(segments, globstar)| {
        let mut all = segments;
        if globstar {
            all.push("**".to_owned());
        }
        format!("/{}", all.join("/"))
    })
}

fn request_path() -> impl Strategy<Value = String> {
    prop::collection::vec("[abc]", 0..5).prop_map(|segments| format!("/{}", segments.join("/")))
}

/// Whether `pattern` matches `path` (segments of a tiny alphabet, none empty), read
/// straight from the rules: literals equal, a parameter takes one segment, `**` the rest.
fn reference_match(pattern: &Pattern, path: &str) -> bool {
    let mut request = split(path).filter(|segment| !segment.is_empty());
    for segment in pattern.segments() {
        match segment {
            Segment::Globstar => return true,
            Segment::Literal(literal) if request.next() != Some(&**literal) => return false,
            Segment::Param(_) if request.next().is_none() => return false,
            _ => {}
        }
    }
    request.next().is_none()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics_the_loader(text in "\\PC{0,400}") {
        load_checked(&text)?;
    }

    #[test]
    fn random_edits_of_a_valid_file_never_panic_the_loader(
        edits in prop::collection::vec((any::<u8>(), any::<usize>(), 0usize..40, snippet()), 1..4)
    ) {
        let mut text = RICH.to_owned();
        for edit in edits {
            text = edited(&text, edit);
        }
        load_checked(&text)?;
    }

    #[test]
    fn the_trie_picks_the_most_specific_matching_route(
        patterns in prop::collection::vec(pattern(), 1..8),
        paths in prop::collection::vec(request_path(), 1..16),
    ) {
        let routes: String = patterns
            .iter()
            .enumerate()
            .map(|(i, p)| format!("  - {{ name: r{i}, match: {{ path: \"{p}\" }}, service: billing }}\n"))
            .collect();
        // Equal-rank overlaps are refused at load; those sets say nothing about matching.
        let Ok(snapshot) = Snapshot::parse(&format!("{BASE}routes:\n{routes}"), "routes.yaml", &Fake::default()) else {
            return Ok(());
        };
        for path in &paths {
            let expected = snapshot
                .routes()
                .iter()
                .filter(|route| reference_match(&Pattern::parse(route.pattern()).expect("loaded"), path))
                .max_by_key(|route| route.rank())
                .map(|route| route.name().to_owned());
            let req = FakeRequest::get(path);
            let decision = snapshot.decide(&req).expect("a plain path decides");
            let found = decision.route.map(|route| route.name().to_owned());
            prop_assert_eq!(found, expected, "path {}", path);
        }
    }
}

#[test]
fn the_rich_base_file_loads() {
    Snapshot::parse(RICH, "routes.yaml", &Fake::default())
        .unwrap_or_else(|errors| panic!("{errors}"));
}
