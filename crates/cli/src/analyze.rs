//! `kbscan report` and `kbscan history`: scan, analyse, render. The clap structs live in
//! `args.rs`; this file turns them into validated configs and runs them.

use crate::args::{scan_options, HistoryArgs, HistoryFormatArg, ReportArgs, ReportFormatArg};
use crate::common::{emit, exit_code, scan};
use anyhow::{bail, Context};
use kbscan_analysis::CeilingRules;
use kbscan_report::analysis::{ChartFiles, HistoryFormat, ReportFormat};
use kbscan_scan::ScanOptions;
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
        let scan = scan_options(
            self.threads,
            &self.limits,
            &self.paths,
            self.output.as_deref(),
        )?;
        let rules = load_ceilings(self.ceilings.as_deref())?;
        Ok(ReportConfig {
            format: match self.format {
                ReportFormatArg::Table => ReportFormat::Table,
                ReportFormatArg::Markdown => ReportFormat::Markdown,
                ReportFormatArg::Json => ReportFormat::Json,
                ReportFormatArg::Html => ReportFormat::Html,
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
        let scan = scan_options(self.threads, &self.limits, &self.paths, None)?;
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

pub fn report(cfg: ReportConfig) -> anyhow::Result<u8> {
    let scanned = scan(&cfg.paths, &cfg.scan, cfg.quiet)?;
    let analysis = kbscan_analysis::analyze(&scanned, &cfg.rules);
    // A markdown file gets its charts as SVG files in `<stem>.charts/` beside it.
    let chart_dir = match (cfg.format, cfg.output.as_deref()) {
        (ReportFormat::Markdown, Some(out)) => Some(chart_dir_of(out)?),
        _ => None,
    };
    let charts = match &chart_dir {
        Some((name, _)) => ChartFiles::Beside(name),
        None => ChartFiles::None,
    };
    let mut buf = Vec::new();
    let files =
        kbscan_report::analysis::render_report(&scanned, &analysis, cfg.format, charts, &mut buf)
            .context("cannot render report")?;
    if let Some((_, dir)) = &chart_dir {
        if !files.is_empty() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        for f in &files {
            // `f.path` is `<dir name>/<chart id>.svg`; chart ids are ours (digits, dots, letters).
            let name = f.path.rsplit('/').next().unwrap_or(&f.path);
            let path = dir.join(name);
            std::fs::write(&path, &f.svg)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    emit(&buf, cfg.output.as_deref())?;
    Ok(exit_code(&scanned, cfg.quiet))
}

/// `report.md` → (`report.charts`, `<its folder>/report.charts`).
fn chart_dir_of(output: &Path) -> anyhow::Result<(String, PathBuf)> {
    let stem = output
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .with_context(|| format!("cannot name a chart folder after {}", output.display()))?;
    let name = format!("{stem}.charts");
    Ok((name.clone(), output.with_file_name(name)))
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
