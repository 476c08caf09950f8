//! `strangler check`: validate routes.yaml files like `nginx -t`, printing every problem
//! with its location.

use std::path::PathBuf;

use strangler_flags::Snapshot;

/// Checks each file; prints `FILE: ok (N routes)` or its errors. True when all passed.
pub fn check(files: &[PathBuf]) -> bool {
    let mut passed = true;
    for file in files {
        match Snapshot::load(file) {
            Ok(snapshot) => println!(
                "{}: ok ({} routes)",
                file.display(),
                snapshot.routes().len()
            ),
            Err(errors) => {
                eprintln!("{errors}");
                passed = false;
            }
        }
    }
    passed
}
