//! `kbscan baseline` and `kbscan check`: snapshot a corpus, and compare a fresh scan with
//! a committed snapshot. The model and the comparison live in
//! `kbscan_analysis::baseline`, the renderers in `kbscan_report::check`; this file
//! validates arguments, runs the scan and chooses the exit code.
//!
//! Exit codes of `check`: 0 when no change of a kind selected by `--fail-on` was found,
//! 1 when one was, 2 for usage and fatal errors (including a baseline this kbscan cannot
//! read). Scan failures count only as `scan-error` changes, i.e. only when they are new
//! against the baseline: a corpus that deliberately holds broken packages can be gated.

use crate::analyze::load_ceilings;
use crate::args::{scan_options, BaselineArgs, CheckArgs, CheckFormatArg};
use crate::common::emit;
use crate::exit;
use crate::progress::Progress;
use anyhow::Context;
use kbscan_analysis::baseline::{self, Baseline, ChangeKind, Roots};
use kbscan_analysis::CeilingRules;
use kbscan_report::check::{CheckFormat, CheckResult};
use kbscan_scan::{ScanOptions, ScanReport};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

pub struct BaselineConfig {
    pub paths: Vec<PathBuf>,
    pub output: Option<PathBuf>,
    pub rules: CeilingRules,
    pub quiet: bool,
    pub scan: ScanOptions,
}

pub struct CheckConfig {
    pub paths: Vec<PathBuf>,
    pub baseline: Baseline,
    pub format: CheckFormat,
    pub fail_on: Vec<ChangeKind>,
    pub output: Option<PathBuf>,
    pub rules: CeilingRules,
    pub quiet: bool,
    pub scan: ScanOptions,
}

/// `all` (or nothing given) selects every kind, `none` selects none.
pub fn parse_fail_on(values: &[String]) -> anyhow::Result<Vec<ChangeKind>> {
    if values.is_empty() {
        return Ok(ChangeKind::ALL.to_vec());
    }
    let mut kinds = Vec::new();
    for v in values.iter().map(|v| v.trim()) {
        match v {
            "all" => kinds.extend(ChangeKind::ALL),
            "none" => {}
            _ => kinds.push(
                v.parse::<ChangeKind>()
                    .map_err(|e| anyhow::anyhow!("--fail-on: {e}"))?,
            ),
        }
    }
    kinds.sort();
    kinds.dedup();
    Ok(kinds)
}

impl BaselineArgs {
    pub fn into_config(self) -> anyhow::Result<BaselineConfig> {
        let scan = scan_options(
            self.threads,
            &self.limits,
            &self.paths,
            self.output.as_deref(),
        )?;
        let rules = load_ceilings(self.ceilings.as_deref())?;
        Ok(BaselineConfig {
            paths: self.paths,
            output: self.output,
            rules,
            quiet: self.quiet,
            scan,
        })
    }
}

impl CheckArgs {
    pub fn into_config(self) -> anyhow::Result<CheckConfig> {
        let scan = scan_options(
            self.threads,
            &self.limits,
            &self.paths,
            self.output.as_deref(),
        )?;
        let rules = load_ceilings(self.ceilings.as_deref())?;
        let fail_on = parse_fail_on(&self.fail_on)?;
        // Read the baseline before scanning: a wrong file should cost seconds.
        let text = std::fs::read_to_string(&self.baseline)
            .with_context(|| format!("cannot read baseline {}", self.baseline.display()))?;
        let baseline = Baseline::from_json(&text)
            .with_context(|| format!("cannot use baseline {}", self.baseline.display()))?;
        Ok(CheckConfig {
            format: match self.format {
                CheckFormatArg::Text => CheckFormat::Text,
                CheckFormatArg::Json => CheckFormat::Json,
                CheckFormatArg::Junit => CheckFormat::Junit,
                CheckFormatArg::Github => CheckFormat::Github,
            },
            paths: self.paths,
            baseline,
            fail_on,
            output: self.output,
            rules,
            quiet: self.quiet,
            scan,
        })
    }
}

/// How the scan names a path: `/`-separated, without a leading `./`.
fn scan_name(p: &Path) -> String {
    let s = p.to_string_lossy().replace('\\', "/");
    let s = s.strip_prefix("./").unwrap_or(&s);
    s.trim_end_matches('/').to_string()
}

/// The folder each user path's entries are named under: the folder itself, or a file's
/// parent folder.
fn bases(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| {
            if p.is_dir() {
                scan_name(p)
            } else {
                p.parent().map(scan_name).unwrap_or_default()
            }
        })
        .collect()
}

fn snapshot(
    paths: &[PathBuf],
    options: &ScanOptions,
    rules: &CeilingRules,
    quiet: bool,
) -> anyhow::Result<(Baseline, ScanReport)> {
    let observer = Progress::new(!quiet && std::io::stderr().is_terminal());
    let report = kbscan_scan::scan_paths(paths, options, &observer).context("scan failed")?;
    observer.finish();
    let analysis = kbscan_analysis::analyze(&report, rules);
    let roots = Roots::new(bases(paths));
    Ok((Baseline::new(&report, &analysis, &roots), report))
}

pub fn baseline(cfg: BaselineConfig) -> anyhow::Result<u8> {
    let (snap, report) = snapshot(&cfg.paths, &cfg.scan, &cfg.rules, cfg.quiet)?;
    emit(snap.to_json().as_bytes(), cfg.output.as_deref())?;
    if report.totals.failed == 0 {
        return Ok(exit::OK);
    }
    if !cfg.quiet {
        eprintln!(
            "kbscan: {} of {} inputs failed ({} errors); they are recorded in the baseline",
            report.totals.failed, report.totals.inputs, report.totals.errors
        );
    }
    Ok(exit::INPUT_FAILED)
}

pub fn check(cfg: CheckConfig) -> anyhow::Result<u8> {
    let (snap, _) = snapshot(&cfg.paths, &cfg.scan, &cfg.rules, cfg.quiet)?;
    let changes = baseline::diff(&cfg.baseline, &snap);
    let bases = bases(&cfg.paths);
    let result = CheckResult {
        changes: &changes,
        fail_on: &cfg.fail_on,
        file_prefix: match bases.as_slice() {
            [one] => Some(one.as_str()),
            _ => None,
        },
    };
    let mut buf = Vec::new();
    kbscan_report::check::render_check(&result, cfg.format, &mut buf)
        .context("cannot render check result")?;
    emit(&buf, cfg.output.as_deref())?;
    let failing = result.failing();
    if !cfg.quiet && (cfg.output.is_some() || cfg.format != CheckFormat::Text) {
        eprintln!(
            "kbscan: {} change(s) against the baseline, {failing} of a kind selected by --fail-on",
            changes.changes.len()
        );
    }
    Ok(if failing > 0 {
        exit::INPUT_FAILED
    } else {
        exit::OK
    })
}
