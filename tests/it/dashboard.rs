//! The Grafana dashboard (`deploy/grafana/strangler.json`) against the proxy it shows:
//! every PromQL expression parses, and every metric and label it names is on a live
//! `/metrics` page of the demo's routes.yaml (or is a label Prometheus adds to each target).
//! A renamed metric or label breaks this test instead of a panel, silently.

use std::collections::{BTreeMap, BTreeSet};

use promql_parser::label::Matchers;
use promql_parser::parser::{self, Expr, LabelModifier};
use serde_json::Value;

use crate::support::demo::{repo, Demo};

/// Labels Prometheus adds to every series it scrapes.
const TARGET_LABELS: [&str; 2] = ["instance", "job"];

/// Metric name to the label names it has on `page`.
fn exported(page: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut metrics: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in page
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let end = line.find(['{', ' ']).unwrap_or(line.len());
        let labels = metrics.entry(line[..end].to_owned()).or_default();
        let Some(set) = line[end..]
            .strip_prefix('{')
            .and_then(|s| s.rsplit_once('}'))
        else {
            continue;
        };
        for pair in set.0.split("\",") {
            labels.insert(pair.split('=').next().unwrap_or_default().to_owned());
        }
    }
    metrics
}

/// The dashboard's expressions, with Grafana's variables replaced by values PromQL takes.
fn expressions(dashboard: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let panels = dashboard["panels"].as_array().expect("panels");
    for panel in panels {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("a PromQL target");
            found.push(
                expr.replace("$__rate_interval", "5m")
                    .replace("$__range", "6h")
                    .replace("$route", ".*"),
            );
        }
    }
    found
}

/// What one expression selects: metric names, and for each the label names it uses
/// (in matchers) beside those used by its aggregations and vector matching.
#[derive(Default)]
struct Names {
    selected: Vec<(String, Vec<String>)>,
    grouping: Vec<String>,
}

impl Names {
    fn walk(&mut self, expr: &Expr) {
        match expr {
            Expr::Aggregate(a) => {
                self.modifier(a.modifier.as_ref());
                self.walk(&a.expr);
                a.param.iter().for_each(|p| self.walk(p));
            }
            Expr::Binary(b) => {
                if let Some(m) = &b.modifier {
                    self.modifier(m.matching.as_ref());
                    let card = m
                        .card
                        .labels()
                        .map(|l| l.labels.clone())
                        .unwrap_or_default();
                    self.grouping.extend(card);
                }
                self.walk(&b.lhs);
                self.walk(&b.rhs);
            }
            Expr::Unary(u) => self.walk(&u.expr),
            Expr::Paren(p) => self.walk(&p.expr),
            Expr::Subquery(s) => self.walk(&s.expr),
            Expr::Call(c) => c.args.args.iter().for_each(|a| self.walk(a)),
            Expr::VectorSelector(v) => self.selector(v.name.as_deref(), &v.matchers),
            Expr::MatrixSelector(m) => self.selector(m.vs.name.as_deref(), &m.vs.matchers),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
        }
    }

    fn modifier(&mut self, modifier: Option<&LabelModifier>) {
        if let Some(m) = modifier {
            self.grouping.extend(m.labels().labels.iter().cloned());
        }
    }

    fn selector(&mut self, name: Option<&str>, matchers: &Matchers) {
        let name = name.expect("every selector names its metric").to_owned();
        let labels = matchers.matchers.iter().map(|m| m.name.clone()).collect();
        self.selected.push((name, labels));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_metric_and_label_of_the_dashboard_is_on_a_live_metrics_page() {
    let text = std::fs::read_to_string(repo().join("deploy/grafana/strangler.json"));
    let dashboard: Value = serde_json::from_str(&text.expect("dashboard")).expect("JSON");
    let demo = Demo::start().await;
    let exported = exported(&demo.metrics().await);
    let expressions = expressions(&dashboard);
    assert!(expressions.len() >= 20, "{expressions:?}");
    for expr in &expressions {
        let tree = parser::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let mut names = Names::default();
        names.walk(&tree);
        assert!(!names.selected.is_empty(), "{expr} selects nothing");
        let mut known = BTreeSet::new();
        for (metric, labels) in &names.selected {
            let has = exported
                .get(metric)
                .unwrap_or_else(|| panic!("{expr}: no {metric} on /metrics"));
            for label in labels {
                assert!(has.contains(label), "{expr}: {metric} has no label {label}");
            }
            known.extend(has.iter().cloned());
        }
        known.extend(TARGET_LABELS.map(String::from));
        for label in &names.grouping {
            assert!(
                known.contains(label),
                "{expr}: no metric it selects has {label}"
            );
        }
    }
}

#[test]
fn the_dashboard_has_a_route_variable_from_the_request_series_and_uses_it() {
    let text = std::fs::read_to_string(repo().join("deploy/grafana/strangler.json"));
    let dashboard: Value = serde_json::from_str(&text.expect("dashboard")).expect("JSON");
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("variables");
    let route = variables
        .iter()
        .find(|v| v["name"] == "route")
        .expect("a route variable");
    let query = route["query"]["query"].as_str().expect("its query");
    assert_eq!(query, "label_values(strangler_requests_total, route)");
    let panels = dashboard["panels"].as_array().expect("panels");
    let by_route = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter(|t| {
            t["expr"]
                .as_str()
                .is_some_and(|e| e.contains("route=~\"$route\""))
        })
        .count();
    assert!(by_route >= 10, "{by_route} expressions filter by $route");
}
