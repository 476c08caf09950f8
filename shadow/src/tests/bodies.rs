//! Bodies by content type and encoding: gzip, text lines, opaque bytes, size limits.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::json;

use super::{at, only, policy, summary};
use strangler_flags::shadow_policy::CompiledPolicy;

use crate::{diff, Captured, SkipReason};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(data).expect("in memory");
    encoder.finish().expect("in memory")
}

fn gzipped_json(body: &str) -> Captured {
    let headers = [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    Captured::new(200, headers, gzip(body.as_bytes()))
}

fn text(body: &str) -> Captured {
    Captured::new(
        200,
        [("content-type", "text/plain; charset=utf-8")],
        body.to_owned(),
    )
}

#[test]
fn gzip_bodies_are_decoded_before_comparing() {
    let plain = Captured::new(
        200,
        [("content-type", "application/json")],
        r#"{"a":1,"b":2}"#,
    );
    let result = diff(
        &plain,
        &gzipped_json(r#"{"a":1,"b":3}"#),
        &CompiledPolicy::default(),
    );
    assert_eq!(only(&result), at("/b", "/b", "value-changed"));
}

#[test]
fn a_gzip_body_that_decodes_past_max_body_is_skipped() {
    let big = format!("[{}]", vec!["0"; 10_000].join(","));
    let result = diff(
        &gzipped_json(&big),
        &gzipped_json(&big),
        &policy("max_body: 1KiB"),
    );
    assert_eq!(result.skipped, Some(SkipReason::BodyTooLarge));
    assert!(!result.is_empty());
}

#[test]
fn a_body_larger_than_max_body_is_skipped_but_status_still_compared() {
    let a = Captured::new(200, [("content-type", "text/plain")], "x".repeat(2_000));
    let b = Captured::new(503, [("content-type", "text/plain")], "x".repeat(2_000));
    let result = diff(&a, &b, &policy("max_body: 1KiB"));
    assert_eq!(result.skipped, Some(SkipReason::BodyTooLarge));
    assert_eq!(summary(&result), [at("status", "status", "value-changed")]);
}

#[test]
fn a_body_that_is_not_gzip_is_a_bad_encoding() {
    let headers = [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    let broken = Captured::new(200, headers, "{}");
    let result = diff(&broken, &gzipped_json("{}"), &CompiledPolicy::default());
    assert_eq!(result.skipped, Some(SkipReason::BadEncoding));
}

#[test]
fn an_encoding_other_than_gzip_is_skipped() {
    let brotli = Captured::new(200, [("content-encoding", "br")], "abc");
    let result = diff(&brotli, &brotli, &CompiledPolicy::default());
    assert_eq!(result.skipped, Some(SkipReason::UnsupportedEncoding));
}

#[test]
fn text_is_compared_by_line() {
    let result = diff(
        &text("a\nb\nc\n"),
        &text("a\nB\nc\n"),
        &CompiledPolicy::default(),
    );
    assert_eq!(only(&result), at("line:2", "line:2", "value-changed"));
}

#[test]
fn an_inserted_line_is_one_extra_line() {
    let result = diff(
        &text("a\nb\nc"),
        &text("a\nb\nnew\nc"),
        &CompiledPolicy::default(),
    );
    assert_eq!(only(&result), at("line:3", "line:3", "extra"));
    let result = diff(&text("a\nb\nc"), &text("a\nc"), &CompiledPolicy::default());
    assert_eq!(only(&result), at("line:2", "line:2", "missing"));
}

#[test]
fn binary_bodies_are_compared_by_hash() {
    let png = |bytes: &'static [u8]| Captured::new(200, [("content-type", "image/png")], bytes);
    assert!(diff(
        &png(b"\x89PNG1"),
        &png(b"\x89PNG1"),
        &CompiledPolicy::default()
    )
    .is_empty());
    let result = diff(
        &png(b"\x89PNG1"),
        &png(b"\x89PNG22"),
        &CompiledPolicy::default(),
    );
    assert_eq!(only(&result), at("body", "body", "value-changed"));
    let primary = result.differences[0]
        .example
        .primary
        .clone()
        .unwrap_or_default();
    assert!(primary.starts_with("<5 bytes, fnv1a "), "{primary}");
}

#[test]
fn a_json_body_that_does_not_parse_is_compared_by_hash() {
    let a = Captured::new(
        200,
        [("content-type", "application/problem+json")],
        "{not json",
    );
    let b = Captured::new(
        200,
        [("content-type", "application/problem+json")],
        json!({"a": 1}).to_string(),
    );
    let result = diff(&a, &b, &CompiledPolicy::default());
    assert_eq!(only(&result), at("body", "body", "value-changed"));
}

#[test]
fn a_plus_json_content_type_is_compared_structurally() {
    let body = |value: i32| json!({"n": value}).to_string();
    let a = Captured::new(200, [("content-type", "application/vnd.api+json")], body(1));
    let b = Captured::new(200, [("content-type", "application/vnd.api+json")], body(2));
    assert_eq!(
        only(&diff(&a, &b, &CompiledPolicy::default())),
        at("/n", "/n", "value-changed")
    );
}
