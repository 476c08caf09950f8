//! `strangler diffs sample ID`: one kept sample, for a person at a terminal: which request
//! it was, then both answers side by side (status, headers, the body pretty-printed), the
//! lines that differ marked in the gutter and, on a terminal that takes colour, coloured.
//! `--json` prints [`SampleView`] instead.

use std::io::IsTerminal;

use crate::shadow::reports::{self, AnswerView, SampleView};

/// The width when `COLUMNS` does not say.
const DEFAULT_WIDTH: usize = 160;
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const RESET: &str = "\x1b[0m";

/// Whether to colour: stdout is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`.
pub(crate) fn colour() -> bool {
    std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none()
        && std::env::var("TERM").map_or(true, |term| term != "dumb")
}

/// The terminal's width from `COLUMNS`, else [`DEFAULT_WIDTH`].
pub(crate) fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|columns| columns.parse().ok())
        .filter(|&columns: &usize| columns >= 40)
        .unwrap_or(DEFAULT_WIDTH)
}

/// The sample as text, `width` columns wide.
pub(crate) fn render(view: &SampleView, colour: bool, width: usize) -> String {
    let mut out = format!(
        "sample {} of route {} [{}]\n",
        view.id, view.route, view.signature
    );
    let primary_side = match &view.request {
        Some(request) => {
            let tenant = request.tenant.as_deref().unwrap_or("-");
            let at = reports::rfc3339(request.at_ms);
            out.push_str(&format!(
                "request: {} {}{}  tenant {tenant}  at {at}\n",
                request.method,
                request.target,
                reports::new_side_target(request)
            ));
            request.primary_side.as_str()
        }
        None => {
            out.push_str("request: (past retention)\n");
            "primary"
        }
    };
    let shadow_side = match primary_side {
        "legacy" => "new",
        "new" => "legacy",
        _ => "shadow",
    };
    let left = lines(&format!("primary ({primary_side})"), &view.primary);
    let right = lines(&format!("shadow ({shadow_side})"), &view.shadow);
    out.push('\n');
    out.push_str(&side_by_side(&left, &right, colour, width));
    out
}

/// One answer as lines: a title, the status, the headers, a blank line, the body.
fn lines(title: &str, answer: &AnswerView) -> Vec<String> {
    let mut lines = vec![title.to_owned(), format!("status {}", answer.status)];
    lines.extend(answer.headers.iter().map(|(n, v)| format!("{n}: {v}")));
    lines.push(String::new());
    let body = match &answer.body {
        serde_json::Value::String(text) => text.clone(),
        json => serde_json::to_string_pretty(json).unwrap_or_default(),
    };
    lines.extend(body.lines().map(str::to_owned));
    if answer.truncated {
        lines.push("[... cut at diffs.sample_body]".to_owned());
    }
    lines
}

/// Two columns with a gutter: `|` where the lines are equal, `*` where they differ.
fn side_by_side(left: &[String], right: &[String], colour: bool, width: usize) -> String {
    let column = (width.saturating_sub(3) / 2).max(10);
    let mut out = String::new();
    for index in 0..left.len().max(right.len()) {
        let l = left.get(index).map_or("", String::as_str);
        let r = right.get(index).map_or("", String::as_str);
        let same = l == r;
        let (l, r) = (fit(l, column), fit(r, column));
        let gutter = if same { '|' } else { '*' };
        match (colour && !same, index) {
            (true, 1..) => out.push_str(&format!(
                "{RED}{l:<column$}{RESET} {gutter} {GREEN}{r}{RESET}\n"
            )),
            _ => out.push_str(&format!("{l:<column$} {gutter} {r}\n")),
        }
    }
    out
}

/// `text` cut to `width` characters, with `…` where it was cut.
fn fit(text: &str, width: usize) -> String {
    match text.chars().count() > width {
        true => text.chars().take(width - 1).chain(['…']).collect(),
        false => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: serde_json::Value) -> AnswerView {
        AnswerView {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
            truncated: false,
        }
    }

    #[test]
    fn the_lines_that_differ_are_marked_and_the_request_is_named() {
        let view = SampleView {
            id: 7,
            route: "invoices".into(),
            signature: "/currency".into(),
            request: Some(strangler_shadow::SampleRequest {
                at_ms: 1_764_979_200_000,
                method: "GET".into(),
                target: "/api/invoices/7?x=1".into(),
                upstream_target: Some("/invoices/7?x=1".into()),
                tenant: Some("acme".into()),
                primary_side: "legacy".into(),
            }),
            primary: answer(serde_json::json!({"currency": "EUR", "id": 7})),
            shadow: answer(serde_json::json!({"currency": "eur", "id": 7})),
        };
        let text = render(&view, false, 80);
        assert!(
            text.contains(
                "request: GET /api/invoices/7?x=1 (new side: /invoices/7?x=1)  tenant acme  at \
                 2025-12-06T00:00:00Z"
            ),
            "{text}"
        );
        assert!(text.contains("primary (legacy)"), "{text}");
        assert!(text.contains("shadow (new)"), "{text}");
        let marked: Vec<&str> = text.lines().filter(|l| l.contains(" * ")).collect();
        assert_eq!(marked.len(), 2, "the titles and the currency line: {text}");
        assert!(
            marked[1].contains("\"EUR\"") && marked[1].contains("\"eur\""),
            "{text}"
        );
        assert!(!text.contains(RED), "no colour when asked for none");
        assert!(render(&view, true, 80).contains(RED));
    }
}
