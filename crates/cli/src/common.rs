//! What every subcommand shares: the scan with its progress bar, writing the output,
//! and the exit code for failed inputs.

use crate::args::ScanConfig;
use crate::exit;
use crate::output::Staged;
use crate::progress::Progress;
use anyhow::Context;
use kbscan_report::{RenderError, Streamer};
use kbscan_scan::{ScanOptions, ScanReport, StreamError, Totals};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// `kbscan scan`: renders each input as soon as it and all before it are scanned, so
/// memory does not grow with the corpus. With `-o` naming a regular file, the report goes
/// to a temporary file beside it that replaces it only when complete: a failed run never
/// leaves half a report under the name a CI job reads, and a killed one leaves no
/// temporary file ([`Staged`]). Devices and FIFOs are written in place ([`OutputTarget`]).
/// Neither the output nor its temporary file is ever an input of the run.
pub fn scan_to_output(cfg: &ScanConfig) -> anyhow::Result<u8> {
    let observer = Progress::new(!cfg.quiet && std::io::stderr().is_terminal());
    let totals = match cfg.output.as_deref() {
        Some(path) => {
            let cannot_write = || format!("cannot write {}", path.display());
            match output_target(path) {
                OutputTarget::Replace(file) => {
                    let staged = Staged::create(&file).with_context(cannot_write)?;
                    let mut opts = cfg.scan.clone();
                    opts.exclude.push(staged.id().with_context(cannot_write)?);
                    let out = std::io::BufWriter::new(staged.file().with_context(cannot_write)?);
                    let (totals, out) = stream(cfg, &opts, &observer, out, &cannot_write)?;
                    out.into_inner()
                        .map_err(|e| e.into_error())
                        .with_context(cannot_write)?;
                    staged.commit(&file).with_context(cannot_write)?;
                    totals
                }
                OutputTarget::Direct => {
                    let f = std::fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .open(path)
                        .with_context(cannot_write)?;
                    let out = std::io::BufWriter::new(f);
                    let (totals, out) = stream(cfg, &cfg.scan, &observer, out, &cannot_write)?;
                    out.into_inner()
                        .map_err(|e| e.into_error())
                        .with_context(cannot_write)?;
                    totals
                }
            }
        }
        None => {
            let out = std::io::BufWriter::new(std::io::stdout().lock());
            let cannot_write = || "cannot write to standard output".to_string();
            match stream(cfg, &cfg.scan, &observer, out, &cannot_write) {
                Ok((totals, _)) => totals,
                // A closed pipe (`kbscan scan . | head`) is the reader's choice, not a
                // failure; the scan stops there.
                Err(e) if is_broken_pipe(&e) => {
                    observer.finish();
                    return Ok(exit::OK);
                }
                Err(e) => return Err(e),
            }
        }
    };
    observer.finish();
    Ok(exit_code_for(&totals, cfg.quiet))
}

/// How `-o FILE` is written.
#[derive(Debug, PartialEq)]
enum OutputTarget {
    /// A regular file (or none yet): write a temporary file beside it and rename it over
    /// this path when complete. Through a symlink, the file it points to is replaced and
    /// the link kept.
    Replace(PathBuf),
    /// Anything else (`/dev/null`, a FIFO, a terminal, a dangling link): open and write in
    /// place. A rename would replace the device node or FIFO itself with a regular file;
    /// found when `kbscan scan -o /dev/null` turned a machine's /dev/null into a file.
    Direct,
}

fn output_target(path: &Path) -> OutputTarget {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => OutputTarget::Replace(path.into()),
        Ok(m) if m.file_type().is_file() => OutputTarget::Replace(path.into()),
        Ok(m) if m.file_type().is_symlink() => match std::fs::canonicalize(path) {
            Ok(target) if target.is_file() => OutputTarget::Replace(target),
            _ => OutputTarget::Direct,
        },
        _ => OutputTarget::Direct,
    }
}

/// Scans and renders into `out`. A failure to write carries `cannot_write` as its context;
/// a scan failure says so (it is not a write error, whatever the output).
fn stream<W: Write>(
    cfg: &ScanConfig,
    opts: &ScanOptions,
    observer: &Progress,
    out: W,
    cannot_write: &dyn Fn() -> String,
) -> anyhow::Result<(Totals, W)> {
    let mut streamer = Streamer::new(cfg.format, out).with_context(cannot_write)?;
    let totals =
        kbscan_scan::scan_paths_streaming(&cfg.paths, opts, observer, |o| streamer.push(o))
            .map_err(|e| match e {
                StreamError::Scan(e) => anyhow::Error::new(e).context("scan failed"),
                StreamError::Sink(e) => anyhow::Error::new(e).context(cannot_write()),
            })?;
    let out = streamer.finish(&totals).with_context(cannot_write)?;
    Ok((totals, out))
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        let io = c
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe);
        io || c
            .downcast_ref::<RenderError>()
            .is_some_and(RenderError::is_broken_pipe)
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
    exit_code_for(&report.totals, quiet)
}

fn exit_code_for(t: &Totals, quiet: bool) -> u8 {
    if t.failed == 0 {
        return exit::OK;
    }
    if !quiet {
        eprintln!(
            "kbscan: {} of {} inputs failed ({} errors); see the report's errors",
            t.failed, t.inputs, t.errors
        );
    }
    exit::INPUT_FAILED
}
