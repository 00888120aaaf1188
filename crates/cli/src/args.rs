//! The clap definition and its translation into a validated [`ScanConfig`].

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXIT_CODES: &str = "EXIT CODES:
  0  every input was read without error
  1  the run finished, but some inputs (or parts of them) failed; the report lists each error
  2  usage error or fatal error (unreadable path, unwritable output)";

#[derive(Debug, Parser)]
#[command(name = "kbscan", version, about = "Offline analyzer for Microsoft update packages (MSU, CAB, ZIP)", after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every package, component and file (with versions) under the given paths.
    #[command(after_help = EXIT_CODES)]
    Scan(ScanArgs),
    /// Build moves, revision ceilings, anomalies and forecasts for the packages under the given paths.
    #[command(after_help = EXIT_CODES)]
    Report(ReportArgs),
    /// Every version of one file (e.g. ntoskrnl.exe) across the packages under the given paths.
    #[command(after_help = EXIT_CODES)]
    History(HistoryArgs),
    /// Write a stable, diffable snapshot (packages, file versions and hashes, build moves,
    /// close ceiling findings, errors) of the given paths, for `kbscan check`.
    #[command(after_help = BASELINE_EXIT_CODES)]
    Baseline(BaselineArgs),
    /// Scan the given paths and compare with a baseline: print what was added, removed or
    /// changed; fail when a change of a selected kind is found.
    #[command(after_help = CHECK_EXIT_CODES)]
    Check(CheckArgs),
    /// Extract an MSU or CAB (and the cabinets inside it) into a directory, keeping the
    /// component folder layout. Unsafe member names are refused, never rewritten.
    #[command(after_help = EXTRACT_HELP)]
    Extract(ExtractArgs),
}

const EXTRACT_HELP: &str =
    "Nested cabinets (the payload CAB of an MSU, sub-CABs) are written as files and \
also expanded into a folder named after them, like `expand -F:*` followed by expanding the payload.
Refused member names (reported, not written): absolute paths, drive letters, '..' components,
NUL or control characters, characters Windows forbids (: * ? \" < > |), reserved device names
(CON, NUL, COM1, ...), components ending in a dot or space. Symbolic links inside DIR are never
followed; existing files are not overwritten unless --force.

EXIT CODES:
  0  every member was written (or filtered out by --pattern)
  1  some members were refused or could not be read; the others were written
  2  usage or fatal error (not a cabinet, unwritable DIR)";

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The MSU or CAB file to extract.
    #[arg(value_name = "PACKAGE")]
    pub package: PathBuf,
    /// Output directory (created if missing).
    #[arg(short = 'd', long = "dir", value_name = "DIR")]
    pub dir: PathBuf,
    /// Only write members whose path (or file name) matches GLOB, case-insensitively; repeatable.
    #[arg(long, value_name = "GLOB")]
    pub pattern: Vec<String>,
    /// Overwrite existing regular files.
    #[arg(long)]
    pub force: bool,
    /// Do not list written files.
    #[arg(short, long)]
    pub quiet: bool,
}

const BASELINE_EXIT_CODES: &str =
    "Paths in the baseline are relative to the given PATHs, so it can be \
committed and checked on any machine. The kbscan version is recorded for information only.

EXIT CODES:
  0  the baseline was written and every input was read without error
  1  the baseline was written, but some inputs failed (their errors are recorded in it)
  2  usage error or fatal error (unreadable path, unwritable output)";

const CHECK_EXIT_CODES: &str =
    "CHANGE KINDS (for --fail-on, comma-separated; also `all` and `none`):
  package-added, package-removed, package-changed, file-added, file-removed, version-change,
  hash-change, new-build-move, build-move-removed, ceiling, scan-error

A scan error counts only when it is new against the baseline (or a recorded one is gone):
errors already in the baseline do not fail the check.

EXIT CODES:
  0  no change of a kind selected by --fail-on (other changes are still printed)
  1  changes of a selected kind found (new scan errors are `scan-error` changes)
  2  usage error or fatal error (unreadable path or baseline, baseline from an
     unsupported schema version, unwritable output)";

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutFormat {
    Table,
    Json,
    Jsonl,
    Csv,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or folders to scan (folders are walked recursively).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutFormat,
    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Worker threads (default: one per core). Output is identical for any value.
    #[arg(short = 'j', long = "threads", value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar and no summary on standard error.
    #[arg(short, long)]
    pub quiet: bool,
    /// Maximum container nesting depth.
    #[arg(long, value_name = "N", default_value_t = kbscan_scan::ScanOptions::default().max_depth)]
    pub max_depth: u32,
    /// Largest single member (decompressed) read from an archive, in bytes.
    #[arg(long, value_name = "BYTES")]
    pub max_entry_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormatArg {
    Table,
    /// With `-o FILE.md`, charts are written as SVG files to `FILE.charts/` and linked.
    Markdown,
    Json,
    /// One self-contained page (inline CSS and SVG charts, no script, no network).
    Html,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Files or folders to analyse (folders are walked recursively).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: ReportFormatArg,
    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Ceiling rules (TOML) added to or overriding the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub ceilings: Option<PathBuf>,
    /// Worker threads (default: one per core). Output is identical for any value.
    #[arg(short = 'j', long = "threads", value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar and no summary on standard error.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum HistoryFormatArg {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// File name to follow, matched case-insensitively (e.g. ntoskrnl.exe).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Files or folders to scan (default: the current folder).
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: HistoryFormatArg,
    /// Worker threads (default: one per core). Output is identical for any value.
    #[arg(short = 'j', long = "threads", value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar and no summary on standard error.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Files or folders to snapshot (folders are walked recursively).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Write the baseline to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Ceiling rules (TOML) added to or overriding the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub ceilings: Option<PathBuf>,
    /// Worker threads (default: one per core). Output is identical for any value.
    #[arg(short = 'j', long = "threads", value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar and no summary on standard error.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CheckFormatArg {
    Text,
    Json,
    Junit,
    Github,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files or folders to scan (give the same PATHs the baseline was written from).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The baseline written by `kbscan baseline`.
    #[arg(long, value_name = "FILE")]
    pub baseline: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: CheckFormatArg,
    /// Change kinds that fail the run (comma-separated; `all`, `none`). Default: all.
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    pub fail_on: Vec<String>,
    /// Write the result to FILE instead of standard output (e.g. a JUnit report).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Ceiling rules (TOML) added to or overriding the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub ceilings: Option<PathBuf>,
    /// Worker threads (default: one per core). Output is identical for any value.
    #[arg(short = 'j', long = "threads", value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar and no summary on standard error.
    #[arg(short, long)]
    pub quiet: bool,
}

pub struct ScanConfig {
    pub paths: Vec<PathBuf>,
    pub format: kbscan_report::Format,
    pub output: Option<PathBuf>,
    pub quiet: bool,
    pub scan: kbscan_scan::ScanOptions,
}

impl ScanArgs {
    pub fn into_config(self) -> anyhow::Result<ScanConfig> {
        let mut scan = crate::common::scan_options(self.threads, &self.paths)?;
        scan.max_depth = self.max_depth;
        if let Some(b) = self.max_entry_bytes {
            scan.limits.max_entry_bytes = b;
        }
        Ok(ScanConfig {
            format: match self.format {
                OutFormat::Table => kbscan_report::Format::Table,
                OutFormat::Json => kbscan_report::Format::Json,
                OutFormat::Jsonl => kbscan_report::Format::Jsonl,
                OutFormat::Csv => kbscan_report::Format::Csv,
            },
            paths: self.paths,
            output: self.output,
            quiet: self.quiet,
            scan,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }
}
