//! `strangler check`: validate routes.yaml files like `nginx -t`, printing every problem
//! with its location.

use std::path::PathBuf;

use strangler_flags::ConfigError;

use crate::live::routes_file;

/// Checks each file; prints `FILE: ok (N routes)` (after its warnings, such as a deprecated
/// key, as `file:line:col: warning: ...`) or its errors. True when all passed.
pub fn check(files: &[PathBuf]) -> bool {
    let mut passed = true;
    for file in files {
        match routes_file::load(file) {
            Ok(snapshot) => {
                for warning in snapshot.warnings() {
                    let message = format!("warning: {}", warning.message);
                    eprintln!(
                        "{}",
                        ConfigError {
                            message,
                            ..warning.clone()
                        }
                    );
                }
                println!(
                    "{}: ok ({} routes)",
                    file.display(),
                    snapshot.routes().len()
                )
            }
            Err(errors) => {
                eprintln!("{errors}");
                passed = false;
            }
        }
    }
    passed
}
