//! Regression guard for the request path: `Snapshot::decide` must not allocate (the
//! tenant is borrowed, reasons carry numbers, not strings). A counting global allocator
//! sees every allocation of this test binary, which holds this single test. Paths already
//! in canonical form (including a kept escape like `%3A`) are borrowed, not normalised
//! into a copy; only a path that must change (`//`, an escape to decode, matrix
//! parameters) is copied once. Header and cookie conditions read the request in place
//! (a regex's per-thread cache is made on its first use, so the test warms it up).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use strangler_flags::{Offline, RequestView, Side, Snapshot};

struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Path, tenant and `Cookie` header.
struct Request(&'static str, &'static str, &'static str);

impl RequestView for Request {
    fn method(&self) -> &str {
        "GET"
    }
    fn path(&self) -> &str {
        self.0
    }
    fn host(&self) -> Option<&str> {
        Some("acme.shop.example.com")
    }
    fn header(&self, lowercase_name: &str) -> Option<&str> {
        match lowercase_name {
            "x-tenant-id" => Some(self.1),
            "x-app-version" => Some("4.2"),
            "cookie" => Some(self.2),
            _ => None,
        }
    }

    fn query(&self) -> Option<&str> {
        None
    }
}

#[test]
fn deciding_a_request_allocates_nothing() {
    let snapshot =
        Snapshot::parse(include_str!("routes.yaml"), "routes.yaml", &Offline).expect("loads");
    let requests = [
        Request("/api/invoices/42", "qa-internal", ""),
        Request("/api/invoices/42", "tenant-7", "a=1; beta=yes"),
        Request("/api/invoices/42", "tenant-7", "beta=no"),
        Request("/api/invoices/42/pdf", "tenant-7", "beta=yes"),
        Request("/api/invoices/a%3Ab", "tenant-7", "garbled"),
        Request("/home", "tenant-7", ""),
        Request("/t/acme/x", "", ""),
    ];
    let beta = snapshot.decide(&requests[1]).expect("decides");
    assert_eq!(beta.route.map(|r| r.name()), Some("invoices-beta"));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut on_new = 0;
    for request in &requests {
        if let Ok(decision) = snapshot.decide(request) {
            on_new += usize::from(decision.side == Side::New);
        }
    }
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed) - before, 0);
    assert!(on_new >= 1);
}
