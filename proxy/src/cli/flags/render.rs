//! The text form of the admin API's answers: `list` and `audit` as aligned tables, every
//! change as one line naming its audit entry (the id `revert` takes).

use serde_json::Value;

use super::args::FlagsCommand;

/// The text to print for `command`'s answer.
pub fn answer(command: &FlagsCommand, answer: &Value) -> String {
    match command {
        FlagsCommand::List => routes(answer),
        FlagsCommand::Export => answer["yaml"].as_str().unwrap_or_default().to_string(),
        FlagsCommand::Audit { .. } => audit(answer),
        FlagsCommand::Ramp(args) if args.steps.is_empty() && answer.get("state").is_some() => {
            let line = super::ramp::summary(answer).unwrap_or_default();
            format!("{}: {line}\n", args.route)
        }
        _ => change(answer),
    }
}

/// Every route's effective flags, then the global kill switch.
fn routes(answer: &Value) -> String {
    let rows = list(&answer["routes"])
        .iter()
        .map(|route| {
            vec![
                text(&route["name"]),
                text(&route["service"]),
                killed(&route["killed"]),
                format!(
                    "{} {}",
                    percent(&route["percent"]["value"]),
                    source(&route["percent"])
                ),
                tenants(&route["tenants"]),
                super::ramp::summary(&route["ramp"])
                    .unwrap_or_else(|| schedule(&route["schedule"])),
            ]
        })
        .collect();
    let header = [
        "ROUTE", "SERVICE", "KILLED", "PERCENT", "TENANTS", "SCHEDULE",
    ];
    let global = if answer["global_kill"].as_bool() == Some(true) {
        "on: every request goes to legacy"
    } else {
        "off"
    };
    format!("{}global kill switch: {global}\n", table(&header, rows))
}

/// The audit entries, newest first as the server sends them.
fn audit(answer: &Value) -> String {
    let rows = list(&answer["entries"])
        .iter()
        .map(|entry| {
            vec![
                text(&entry["id"]),
                text(&entry["at"]),
                text(&entry["actor"]),
                optional(&entry["route"], "(global)"),
                text(&entry["change"]["kind"]),
                optional(&entry["comment"], "-"),
                optional(&entry["reverted_by"], "-"),
            ]
        })
        .collect();
    let header = [
        "ID",
        "TIME",
        "ACTOR",
        "ROUTE",
        "CHANGE",
        "COMMENT",
        "REVERTED BY",
    ];
    table(&header, rows)
}

/// `entry 12: kill invoices (revision 7)`.
fn change(answer: &Value) -> String {
    if answer["changed"] == false {
        return format!(
            "no change: the flags are already so (revision {})\n",
            text(&answer["revision"])
        );
    }
    let entry = &answer["audit"];
    format!(
        "entry {}: {} {} (revision {})\n",
        text(&entry["id"]),
        text(&entry["change"]["kind"]),
        optional(&entry["route"], "(global)"),
        text(&answer["revision"]),
    )
}

/// `no`, or `yes (runtime #3)`.
fn killed(killed: &Value) -> String {
    match killed["value"].as_bool() {
        Some(true) => format!("yes {}", source(killed)),
        _ => "no".to_string(),
    }
}

/// `(file)` or `(runtime #N)` for a sourced value.
fn source(sourced: &Value) -> String {
    match (sourced["source"].as_str(), sourced["entry"].as_i64()) {
        (Some("runtime"), Some(entry)) => format!("(runtime #{entry})"),
        (Some(source), _) => format!("({source})"),
        (None, _) => String::new(),
    }
}

/// `2 runtime / 1 file`: how many tenants have a side, by where it comes from.
fn tenants(tenants: &Value) -> String {
    let sides: Vec<&Value> = tenants
        .as_object()
        .map(|map| map.values().collect())
        .unwrap_or_default();
    let runtime = sides.iter().filter(|s| s["source"] == "runtime").count();
    format!("{runtime} runtime / {} file", sides.len() - runtime)
}

fn schedule(schedule: &Value) -> String {
    match schedule {
        Value::Null => "no".to_string(),
        _ if !schedule["paused_at"].is_null() => "yes (paused)".to_string(),
        _ => "yes".to_string(),
    }
}

/// `25`, or `2.5`: no trailing `.0`.
fn percent(value: &Value) -> String {
    match value.as_f64() {
        Some(p) if p.fract() == 0.0 => format!("{p:.0}"),
        Some(p) => p.to_string(),
        None => text(value),
    }
}

fn list(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn optional(value: &Value, absent: &str) -> String {
    match value {
        Value::Null => absent.to_string(),
        _ => text(value),
    }
}

/// A string without its quotes, anything else as JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        _ => value.to_string(),
    }
}

/// Columns padded to their widest cell, two spaces apart.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn list_shows_each_value_with_its_source() {
        let answer = json!({
            "global_kill": false,
            "routes": [{
                "name": "invoices", "service": "billing",
                "killed": {"value": true, "source": "runtime", "entry": 2},
                "percent": {"value": 25.0, "source": "file"},
                "tenants": {"acme": {"value": "new", "source": "runtime", "entry": 1},
                            "bigcorp": {"value": "legacy", "source": "file"}},
                "schedule": null,
            }],
        });
        let text = routes(&answer);
        assert!(
            text.contains("invoices  billing  yes (runtime #2)  25 (file)  1 runtime / 1 file  no"),
            "{text}"
        );
        assert!(text.ends_with("global kill switch: off\n"), "{text}");
    }
}
