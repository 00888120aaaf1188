//! The clap definition and its translation into a validated [`ScanConfig`].

use anyhow::bail;
use clap::{Args, Parser, Subcommand, ValueEnum};
use kbscan_scan::ScanOptions;
use std::path::{Path, PathBuf};

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
    /// Extract an MSU, CAB or ZIP (and the containers inside it) into a directory, keeping
    /// the component folder layout. Unsafe member names are refused, never rewritten.
    #[command(after_help = EXTRACT_HELP)]
    Extract(ExtractArgs),
}

const EXTRACT_HELP: &str =
    "Nested containers (the payload CAB of an MSU, sub-CABs, MSUs in a ZIP) are written as \
files and also expanded into a folder named after them (x.cab -> x/), like `expand -F:*`
followed by expanding the payload. Members are written as they are decoded.
Refused member names (reported, not written): absolute paths, drive letters, '..' components,
NUL or control characters, characters Windows forbids (: * ? \" < > |), reserved device names
(CON, NUL, COM1, ...), components ending in a dot or space. Symbolic links inside DIR are never
followed; existing files are not overwritten unless --force.

EXIT CODES:
  0  every member was written (or filtered out by --pattern)
  1  some members were refused or could not be read; the others were written
  2  usage or fatal error (not a cabinet or ZIP, unwritable DIR)";

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The MSU, CAB or ZIP file to extract.
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
    #[command(flatten)]
    pub limits: LimitArgs,
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

/// Limits on hostile input, shared by every command that scans. Defaults are generous for
/// genuine updates; lower them to triage a suspicious folder quickly.
#[derive(Debug, Args)]
#[command(next_help_heading = "Limits (sizes accept K, M, G, T suffixes: powers of 1024)")]
pub struct LimitArgs {
    /// Deepest container nesting followed (ZIP → MSU → payload → sub-CAB is 4).
    #[arg(long, value_name = "N", default_value_t = kbscan_scan::MAX_NESTING_DEPTH)]
    pub max_depth: u32,
    /// Most members one archive may list.
    #[arg(long, value_name = "N", default_value_t = kbscan_scan::Limits::default().max_entries)]
    pub max_entries: u32,
    /// Largest single member, decompressed.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "1G")]
    pub max_entry_bytes: u64,
    /// Most bytes decompressed from one container (a CAB's folders together, a ZIP).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "8G")]
    pub max_total_bytes: u64,
    /// Most bytes decompressed for one input file with everything nested in it.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "16G")]
    pub max_package_bytes: u64,
    /// Largest input file read from disk.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "8G")]
    pub max_input_bytes: u64,
    /// Member bytes one input may hold in memory at once; larger members go to a temporary
    /// file in TMPDIR.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "512M")]
    pub max_held_bytes: u64,
    /// Most records (members at any nesting level, decoded delta targets) one input may yield.
    #[arg(long, value_name = "N", default_value_t = kbscan_archive::limits::DEFAULT_MAX_RECORDS)]
    pub max_records: u64,
}

/// `4096`, `64K`, `512M`, `1G`, `2GiB`, `16g`: binary units, because archive limits are
/// powers of two and `1G` meaning 10^9 here would surprise nobody less.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (e.g. 4096, 64K, 512M, 1G)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{s}` (use K, M, G or T)"
            ))
        }
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

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
    #[command(flatten)]
    pub limits: LimitArgs,
    /// No progress bar and no summary on standard error.
    #[arg(short, long)]
    pub quiet: bool,
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
    #[command(flatten)]
    pub limits: LimitArgs,
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
    #[command(flatten)]
    pub limits: LimitArgs,
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
    #[command(flatten)]
    pub limits: LimitArgs,
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
    #[command(flatten)]
    pub limits: LimitArgs,
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
        let scan = scan_options(
            self.threads,
            &self.limits,
            &self.paths,
            self.output.as_deref(),
        )?;
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

/// A thread count of at least one and paths that exist: checked before any work so a
/// typo fails in milliseconds with exit 2.
pub fn scan_options(
    threads: Option<usize>,
    limits: &LimitArgs,
    paths: &[PathBuf],
    output: Option<&Path>,
) -> anyhow::Result<ScanOptions> {
    if threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    if limits.max_entries == 0 {
        bail!("--max-entries must be at least 1");
    }
    for p in paths {
        // A name that is not there is a usage error; any other failure to look at it
        // (a loop of links, a name too long) is the scan's to report as a failed input.
        if let Err(e) = std::fs::metadata(p) {
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) {
                bail!("no such file or directory: {}", p.display());
            }
        }
    }
    let mut o = ScanOptions {
        threads,
        max_depth: limits.max_depth,
        max_input_bytes: limits.max_input_bytes,
        max_package_bytes: limits.max_package_bytes,
        max_held_bytes: limits.max_held_bytes,
        max_records: limits.max_records,
        ..Default::default()
    };
    o.limits.max_entries = limits.max_entries;
    o.limits.max_entry_bytes = limits.max_entry_bytes;
    o.limits.max_total_bytes = limits.max_total_bytes;
    if let Some(id) = output.and_then(|p| kbscan_scan::FileId::of_path(p).ok()) {
        o.exclude.push(id);
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes_parse_in_binary_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
        assert!(parse_size("").is_err());
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    /// The flags' documented defaults are the library's defaults, so `--help` never lies.
    #[test]
    fn limit_defaults_match_the_libraries() {
        let cli = Cli::try_parse_from(["kbscan", "scan", "."]).unwrap();
        let Command::Scan(a) = cli.command else {
            panic!("not scan")
        };
        let lib = kbscan_scan::ScanOptions::default();
        assert_eq!(a.limits.max_depth, lib.max_depth);
        assert_eq!(a.limits.max_entries, lib.limits.max_entries);
        assert_eq!(a.limits.max_entry_bytes, lib.limits.max_entry_bytes);
        assert_eq!(a.limits.max_total_bytes, lib.limits.max_total_bytes);
        assert_eq!(a.limits.max_package_bytes, lib.max_package_bytes);
        assert_eq!(a.limits.max_input_bytes, lib.max_input_bytes);
    }
}
