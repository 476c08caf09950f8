//! `strangler schema`: prints the JSON Schema of routes.yaml (draft 2020-12), generated
//! from the raw config types (`strangler_flags::config::schema`). `docs/routes.schema.json`
//! is its output, for editors: `strangler schema > docs/routes.schema.json` refreshes it.

/// Prints the schema as pretty JSON, with a final newline.
pub fn print() {
    let schema = strangler_flags::config::schema::routes_schema();
    let text = serde_json::to_string_pretty(&schema).expect("a JSON value prints");
    println!("{text}");
}
