//! Diff throughput on generated JSON bodies of about 10 KB and 1 MB: an array of order
//! records keyed by `id` (the policy a real route would use), compared when the bytes are
//! equal (the shortcut), when the documents are equal but serialized differently (the full
//! structural walk) and when a few fields differ. Parsing both bodies is included, as the
//! proxy would pay it; `parse-both-only` measures that parsing alone, for comparison.
//!
//! Run: `CARGO_TARGET_DIR=/tmp/target-shadow cargo bench -p strangler-shadow --bench diff`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Value};
use strangler_flags::shadow_policy::{ArrayPolicy, CompiledPolicy, ShadowPolicy};
use strangler_shadow::{diff, Captured};

/// A document of `items` order lines, about 170 bytes each when compact.
fn document(items: usize) -> Value {
    let items: Vec<Value> = (0..items)
        .map(|i| {
            json!({
                "id": format!("sku-{i:06}"),
                "name": format!("Item number {i}"),
                "price": (i % 997) as f64 * 1.25,
                "currency": "EUR",
                "quantity": i % 7,
                "etag": format!("{:016x}", i * 2_654_435_761),
                "tags": ["blue", "large", "sale"],
            })
        })
        .collect();
    json!({"generated_at": "2025-01-01T00:00:00Z", "total": items.len(), "items": items})
}

/// The same document with three prices and one currency changed, and reversed items.
fn with_differences(mut value: Value) -> Value {
    let items = value["items"].as_array_mut().expect("items");
    for index in [1, items.len() / 2, items.len() - 1] {
        items[index]["price"] = json!(-1.0);
    }
    items[0]["currency"] = json!("eur");
    items.reverse();
    value
}

fn captured(text: String) -> Captured {
    Captured::new(200, [("content-type", "application/json")], text)
}

fn policy() -> CompiledPolicy {
    let raw = ShadowPolicy {
        ignore: vec!["/generated_at".into(), "/items/*/etag".into()],
        arrays: [("/items".to_owned(), ArrayPolicy::Keyed { key: "id".into() })].into(),
        max_body: Some("4MiB".into()),
        tolerance: Some(0.001),
        ..ShadowPolicy::default()
    };
    raw.compile().expect("valid policy")
}

fn bench(c: &mut Criterion) {
    let policy = policy();
    let mut group = c.benchmark_group("diff");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    for (label, items) in [("10KB", 60), ("1MB", 6_000)] {
        let value = document(items);
        let compact = value.to_string();
        let primary = captured(compact.clone());
        let cases = [
            ("equal-bytes", captured(compact.clone())),
            (
                "equal-reserialized",
                captured(serde_json::to_string_pretty(&value).expect("json")),
            ),
            (
                "4-differences",
                captured(with_differences(value.clone()).to_string()),
            ),
        ];
        group.throughput(Throughput::Bytes(compact.len() as u64));
        let reserialized = cases[1].1.body.clone();
        let baseline = BenchmarkId::new(
            "parse-both-only",
            format!("{label} ({} bytes)", compact.len()),
        );
        group.bench_function(baseline, |b| {
            b.iter(|| {
                let a: Value = serde_json::from_slice(black_box(&primary.body)).expect("json");
                let b: Value = serde_json::from_slice(black_box(&reserialized)).expect("json");
                (a, b)
            })
        });
        for (case, shadow) in cases {
            let id = BenchmarkId::new(case, format!("{label} ({} bytes)", compact.len()));
            group.bench_with_input(id, &shadow, |b, shadow| {
                b.iter(|| diff(black_box(&primary), black_box(shadow), &policy))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
