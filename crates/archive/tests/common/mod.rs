//! Helpers shared by this crate's integration tests.

use std::path::{Path, PathBuf};

/// `../shared/real` beside the checkout (genuine packages, libmspack's cabinets), or `None`
/// after saying why the test is skipped.
pub fn real_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/real");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIP: {} not found (real test data lives outside the repo)",
            dir.display()
        );
        None
    }
}
