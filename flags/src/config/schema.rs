//! The JSON Schema of routes.yaml (draft 2020-12), generated from the [`raw`](super::raw)
//! types: their doc comments are the descriptions, `deny_unknown_fields` becomes
//! `additionalProperties: false`, and durations, sizes and percentages carry the patterns
//! of their parsers. `strangler schema` prints it and `docs/routes.schema.json` keeps a
//! copy, which editors find through the `# yaml-language-server: $schema=` comment at the
//! top of a routes.yaml, so they complete and check keys as people type.
//!
//! It checks the shape of a file, not its meaning: an undefined service, an overlap of
//! two routes or an unreadable key file still take `strangler check`.

use schemars::generate::SchemaSettings;

use super::raw::RawConfig;

/// The JSON Schema of routes.yaml.
pub fn routes_schema() -> serde_json::Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<RawConfig>();
    schema.insert("title".into(), "routes.yaml".into());
    schema.to_value()
}
