//! What every test module needs: the binary run in the checkout, its JSON, temporary
//! folders, and the tools and samples from outside the repository ([`require`]).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use kbscan_fixtures::require;

/// The checkout. The binary runs there, so corpus paths in arguments and in its output
/// are the relative ones the expectations are written with.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `kbscan ARGS…` in the checkout. A backtrace setting inherited from the caller
/// would change what a failing run prints, and `KBSCAN_BLESS` is meant for the test, not
/// the binary: both are removed.
#[track_caller]
pub fn kbscan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kbscan"))
        .args(args)
        .current_dir(root())
        .env_remove("RUST_BACKTRACE")
        .env_remove("KBSCAN_BLESS")
        .output()
        .expect("run kbscan")
}

/// [`kbscan`], asserting exit code 0 (the failure shows standard error).
#[track_caller]
pub fn kbscan_ok(args: &[&str]) -> Output {
    let out = kbscan(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "kbscan {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `kbscan scan --format json --quiet ARGS…`: the report and the exit code.
#[track_caller]
pub fn scan_json(args: &[&str]) -> (Value, i32) {
    let mut a = vec!["scan", "--format", "json", "--quiet"];
    a.extend_from_slice(args);
    let out = kbscan(&a);
    (stdout_json(&out), out.status.code().expect("exit code"))
}

/// Standard output parsed as JSON; when it is not, the panic shows both streams.
#[track_caller]
pub fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            stdout(out),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A path as a command-line argument (temporary and checkout paths are UTF-8 here).
#[track_caller]
pub fn arg(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// A fresh temporary folder, removed on drop.
#[track_caller]
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary folder")
}
