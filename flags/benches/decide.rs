//! The full request decision (tenant from a header, route match, rollout) against 1,000
//! routes, with 1,000, 10,000, 100,000 and 1,000,000 tenant overrides spread over them: the
//! cost should stay flat as overrides grow. Target: under 300 ns a decision. Each snapshot's
//! load time, the bytes it holds (a counting allocator; decisions allocate nothing, so it
//! costs them nothing) and the process's resident size are printed to stderr. Then the same
//! table with a second route beside every third one that has a header regex and a cookie
//! condition (`decide/conditions`), with requests that meet them, miss the cookie or
//! send none. Also the cost of loading the largest of those files, which is what a reload
//! pays.
//!
//! Run: `CARGO_TARGET_DIR=/tmp/target-flags cargo bench -p strangler-flags --bench decide`

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use strangler_flags::{Offline, RequestView, Snapshot};

const ROUTES: usize = 1_000;

/// The system allocator, counting the bytes allocated and not yet freed.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A request as the proxy presents it, with one tenant header.
struct Request {
    path: String,
    tenant: String,
}

impl RequestView for Request {
    fn method(&self) -> &str {
        "GET"
    }

    fn path(&self) -> &str {
        &self.path
    }

    fn host(&self) -> Option<&str> {
        Some("shop.example.com")
    }

    fn header(&self, lowercase_name: &str) -> Option<&str> {
        (lowercase_name == "x-tenant-id").then_some(self.tenant.as_str())
    }

    fn query(&self) -> Option<&str> {
        None
    }
}

/// A request with an app version header and a `Cookie` header besides its tenant.
struct Conditioned {
    plain: Request,
    version: &'static str,
    cookie: &'static str,
}

impl RequestView for Conditioned {
    fn method(&self) -> &str {
        "GET"
    }

    fn path(&self) -> &str {
        &self.plain.path
    }

    fn host(&self) -> Option<&str> {
        self.plain.host()
    }

    fn header(&self, lowercase_name: &str) -> Option<&str> {
        match lowercase_name {
            "x-tenant-id" => Some(&self.plain.tenant),
            "x-app-version" => Some(self.version),
            "cookie" => Some(self.cookie),
            _ => None,
        }
    }

    fn query(&self) -> Option<&str> {
        None
    }
}

/// routes.yaml with 1,000 routes of mixed shapes and `overrides` tenant overrides.
fn routes_yaml(overrides: usize) -> String {
    let mut yaml = String::from(
        "listen: 127.0.0.1:8080\nlegacy: http://127.0.0.1:3000\nservices: { billing: http://127.0.0.1:3001 }\ntenant:\n  sources:\n    - header: X-Tenant-Id\nroutes:\n",
    );
    let per_route = overrides / ROUTES;
    for route in 0..ROUTES {
        let pattern = match route % 3 {
            0 => format!("/svc{route}/**"),
            1 => format!("/svc{route}/{{id}}/items"),
            _ => format!("/api/svc{route}/{{id}}/**"),
        };
        write!(yaml, "  - name: r{route}\n    match: {{ path: \"{pattern}\" }}\n    service: billing\n    rollout:\n      percent: 25\n      tenants: {{").unwrap();
        for k in 0..per_route {
            let side = if k % 2 == 0 { "new" } else { "legacy" };
            write!(yaml, " t{route}-{k}: {side},").unwrap();
        }
        yaml.push_str(" }\n");
    }
    yaml
}

/// 1,024 requests over all routes, half of them from overridden tenants.
fn requests(overrides: usize) -> Vec<Request> {
    let per_route = overrides / ROUTES;
    (0..1_024)
        .map(|i| {
            let route = (i * 7) % ROUTES;
            let path = match route % 3 {
                0 => format!("/svc{route}/a/b"),
                1 => format!("/svc{route}/{i}/items"),
                _ => format!("/api/svc{route}/{i}/pdf"),
            };
            let tenant = match i % 2 {
                0 => format!("t{route}-{}", i % per_route),
                _ => format!("tenant-{i}"),
            };
            Request { path, tenant }
        })
        .collect()
}

/// [`routes_yaml`] plus a `beta` route on every `/svc{n}/**` route's path with a header
/// regex and a cookie condition.
fn conditioned_yaml(overrides: usize) -> String {
    let mut yaml = routes_yaml(overrides);
    for route in (0..ROUTES).step_by(3) {
        write!(yaml, "  - name: beta{route}\n    match: {{ path: \"/svc{route}/**\", headers: {{ X-App-Version: \"~^(4|5)\\\\.\" }}, cookies: {{ beta: \"yes\" }} }}\n    service: billing\n    rollout: {{ percent: 50 }}\n").unwrap();
    }
    yaml
}

/// [`requests`] with a version and cookies: a third send the beta cookie among others, a
/// third other cookies, a third none; one in four has a version the regex refuses.
fn conditioned_requests(overrides: usize) -> Vec<Conditioned> {
    let cookies = ["session=abc; beta=yes", "session=abc; theme=dark", ""];
    requests(overrides)
        .into_iter()
        .enumerate()
        .map(|(i, plain)| Conditioned {
            plain,
            version: if i % 4 == 3 { "3.9" } else { "4.2.0" },
            cookie: cookies[i % 3],
        })
        .collect()
}

/// Decides `requests` round-robin on `snapshot`, as benchmark `id` of `group`.
fn bench_decisions<R: RequestView>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    snapshot: &Snapshot,
    requests: &[R],
) {
    group.bench_with_input(id, requests, |b, requests| {
        let mut next = 0;
        b.iter(|| {
            next = (next + 1) % requests.len();
            black_box(
                snapshot
                    .decide(black_box(&requests[next]))
                    .expect("decides")
                    .side,
            )
        });
    });
}

fn decide(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide/1000-routes");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    for overrides in [1_000, 10_000, 100_000, 1_000_000] {
        // Made first: made after a large load, the requests' strings land in the holes it
        // left, one page each, and the benchmark measures its own TLB misses (a proxy
        // reads a request from a buffer it just filled).
        let requests = requests(overrides);
        let snapshot = load_reporting(overrides);
        let id = BenchmarkId::new("overrides", overrides);
        bench_decisions(&mut group, id, &snapshot, &requests);
    }
    group.finish();
}

/// The snapshot of [`routes_yaml`]`(overrides)`, printing how long it took to load, the
/// bytes it holds (once the text is freed) and the process's resident size.
fn load_reporting(overrides: usize) -> Snapshot {
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let yaml = routes_yaml(overrides);
    let started = Instant::now();
    let snapshot = Snapshot::parse(&yaml, "bench.yaml", &Offline).expect("loads");
    let took = started.elapsed();
    drop(yaml);
    let held = LIVE_BYTES.load(Ordering::Relaxed).saturating_sub(before);
    eprintln!(
        "load {overrides} overrides: {took:.2?}, snapshot holds {:.1} MiB ({} B per override), resident {} KiB",
        held as f64 / (1 << 20) as f64,
        held / overrides,
        resident_kib()
    );
    snapshot
}

/// The process's resident set size (`VmRSS`), 0 where /proc is not there.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The same decision over the table with header and cookie conditions.
fn decide_with_conditions(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide/conditions");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    let overrides = 10_000;
    let snapshot =
        Snapshot::parse(&conditioned_yaml(overrides), "bench.yaml", &Offline).expect("loads");
    let id = BenchmarkId::new("header-and-cookie", overrides);
    bench_decisions(&mut group, id, &snapshot, &conditioned_requests(overrides));
    group.finish();
}

/// Parsing, validating and compiling the largest file: what a reload costs.
fn load(c: &mut Criterion) {
    let yaml = routes_yaml(100_000);
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.bench_function("1000-routes-100000-overrides", |b| {
        b.iter(|| Snapshot::parse(black_box(&yaml), "bench.yaml", &Offline).expect("loads"))
    });
    group.finish();
}

criterion_group!(benches, decide, decide_with_conditions, load);
criterion_main!(benches);
