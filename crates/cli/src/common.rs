//! What every subcommand shares: argument checks before scanning, the scan with its
//! progress bar, writing the output, and the exit code for failed inputs.

use crate::exit;
use crate::progress::Progress;
use anyhow::{bail, Context};
use kbscan_scan::{ScanOptions, ScanReport};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// A thread count of at least one and paths that exist: checked before any work so a
/// typo fails in milliseconds with exit 2.
pub fn scan_options(threads: Option<usize>, paths: &[PathBuf]) -> anyhow::Result<ScanOptions> {
    if threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    for p in paths {
        if !p.exists() {
            bail!("no such file or directory: {}", p.display());
        }
    }
    Ok(ScanOptions {
        threads,
        ..Default::default()
    })
}

/// Scans with a progress bar on stderr when it is a terminal and `quiet` is off.
pub fn scan(paths: &[PathBuf], options: &ScanOptions, quiet: bool) -> anyhow::Result<ScanReport> {
    let observer = Progress::new(!quiet && std::io::stderr().is_terminal());
    let report = kbscan_scan::scan_paths(paths, options, &observer).context("scan failed")?;
    observer.finish();
    Ok(report)
}

pub fn emit(buf: &[u8], output: Option<&Path>) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            std::fs::write(path, buf).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(buf).and_then(|_| out.flush()) {
                // A closed pipe (`kbscan scan . | head`) is the reader's choice, not a failure.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(e).context("cannot write to standard output")
                }
                _ => Ok(()),
            }
        }
    }
}

/// 1 when some input failed (saying so on stderr unless quiet), else 0.
pub fn exit_code(report: &ScanReport, quiet: bool) -> u8 {
    if report.totals.failed == 0 {
        return exit::OK;
    }
    if !quiet {
        eprintln!(
            "kbscan: {} of {} inputs failed ({} errors); see the report's errors",
            report.totals.failed, report.totals.inputs, report.totals.errors
        );
    }
    exit::INPUT_FAILED
}
