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

/// Runs `kbscan ARGS` as a child and kills it after 20 s, so a run that blocks on a FIFO
/// or reads a device without end fails the test instead of hanging it.
#[cfg(unix)]
#[track_caller]
pub fn kbscan_within_20s<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kbscan"))
        .args(args)
        .current_dir(root())
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kbscan");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "kbscan {:?} still running after 20 s: killed",
                args.iter().map(|a| a.as_ref()).collect::<Vec<_>>()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

#[cfg(unix)]
pub fn mkfifo(p: &Path) {
    let made = Command::new("mkfifo").arg(p).status().expect("run mkfifo");
    assert!(made.success(), "mkfifo {}", p.display());
}
