//! `kbscan report` and `kbscan history`: scan, analyse, render. The clap structs live in
//! `args.rs`; this file turns them into validated configs and runs them.

use crate::args::{HistoryArgs, HistoryFormatArg, ReportArgs, ReportFormatArg};
use crate::exit;
use crate::progress::Progress;
use anyhow::{bail, Context};
use kbscan_analysis::CeilingRules;
use kbscan_report::analysis::{HistoryFormat, ReportFormat};
use kbscan_scan::{ScanOptions, ScanReport};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

pub struct ReportConfig {
    pub paths: Vec<PathBuf>,
    pub format: ReportFormat,
    pub output: Option<PathBuf>,
    pub rules: CeilingRules,
    pub quiet: bool,
    pub scan: ScanOptions,
}

pub struct HistoryConfig {
    pub name: String,
    pub paths: Vec<PathBuf>,
    pub format: HistoryFormat,
    pub quiet: bool,
    pub scan: ScanOptions,
}

/// What `scan` validates too: a thread count of at least one and paths that exist.
fn scan_options(threads: Option<usize>, paths: &[PathBuf]) -> anyhow::Result<ScanOptions> {
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

/// Reads and validates `--ceilings` before any scanning: a typo in the rules must cost
/// the user seconds, not the length of a scan.
pub fn load_ceilings(path: Option<&Path>) -> anyhow::Result<CeilingRules> {
    let Some(path) = path else {
        return Ok(CeilingRules::defaults());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read ceilings file {}", path.display()))?;
    CeilingRules::with_user_toml(&text)
        .with_context(|| format!("invalid ceilings file {}", path.display()))
}

impl ReportArgs {
    pub fn into_config(self) -> anyhow::Result<ReportConfig> {
        let scan = scan_options(self.threads, &self.paths)?;
        let rules = load_ceilings(self.ceilings.as_deref())?;
        Ok(ReportConfig {
            format: match self.format {
                ReportFormatArg::Table => ReportFormat::Table,
                ReportFormatArg::Markdown => ReportFormat::Markdown,
                ReportFormatArg::Json => ReportFormat::Json,
            },
            paths: self.paths,
            output: self.output,
            rules,
            quiet: self.quiet,
            scan,
        })
    }
}

impl HistoryArgs {
    pub fn into_config(self) -> anyhow::Result<HistoryConfig> {
        if self.name.trim().is_empty() {
            bail!("the file name to follow is empty");
        }
        let scan = scan_options(self.threads, &self.paths)?;
        Ok(HistoryConfig {
            format: match self.format {
                HistoryFormatArg::Table => HistoryFormat::Table,
                HistoryFormatArg::Json => HistoryFormat::Json,
            },
            name: self.name,
            paths: self.paths,
            quiet: self.quiet,
            scan,
        })
    }
}

fn scan(paths: &[PathBuf], options: &ScanOptions, quiet: bool) -> anyhow::Result<ScanReport> {
    let observer = Progress::new(!quiet && std::io::stderr().is_terminal());
    let report = kbscan_scan::scan_paths(paths, options, &observer).context("scan failed")?;
    observer.finish();
    Ok(report)
}

fn emit(buf: &[u8], output: Option<&Path>) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            std::fs::write(path, buf).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(buf).and_then(|_| out.flush()) {
                // A closed pipe (`kbscan report . | head`) is the reader's choice.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(e).context("cannot write to standard output")
                }
                _ => Ok(()),
            }
        }
    }
}

/// Same rule as `scan`: 1 when some input failed, and say so unless asked to be quiet.
fn exit_code(report: &ScanReport, quiet: bool) -> u8 {
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

pub fn report(cfg: ReportConfig) -> anyhow::Result<u8> {
    let scanned = scan(&cfg.paths, &cfg.scan, cfg.quiet)?;
    let analysis = kbscan_analysis::analyze(&scanned, &cfg.rules);
    let mut buf = Vec::new();
    kbscan_report::analysis::render_report(&analysis, cfg.format, &mut buf)
        .context("cannot render report")?;
    emit(&buf, cfg.output.as_deref())?;
    Ok(exit_code(&scanned, cfg.quiet))
}

pub fn history(cfg: HistoryConfig) -> anyhow::Result<u8> {
    let scanned = scan(&cfg.paths, &cfg.scan, cfg.quiet)?;
    let h = kbscan_analysis::history(&scanned, &cfg.name, &CeilingRules::defaults());
    let mut buf = Vec::new();
    kbscan_report::analysis::render_history(&h, cfg.format, &mut buf)
        .context("cannot render history")?;
    emit(&buf, None)?;
    Ok(exit_code(&scanned, cfg.quiet))
}
