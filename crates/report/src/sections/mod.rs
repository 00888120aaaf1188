//! The sections of `kbscan report` as text and Markdown: summary, build moves, ceilings,
//! anomalies, forecast and errors, in that order (Markdown adds the charts and the package
//! list). Each section is written once against the two-style vocabulary of [`doc`], so the
//! two formats never disagree. The HTML page has its own view model ([`crate::html`]); it
//! shares the formatting of values ([`crate::format`]), not the layout.

mod ceilings;
pub(crate) mod doc;
mod forecast;
mod markdown;
mod moves;
mod summary;

pub(crate) use doc::Style;
pub(crate) use markdown::ChartLink;

use crate::error::RenderError;
use crate::format::printable;
use ceilings::{anomalies, ceilings};
use doc::{heading, md, para};
use forecast::forecasts;
use kbscan_analysis::Analysis;
use kbscan_model::ScanReport;
use markdown::{charts_md, packages_md};
use moves::moves;
use std::io::Write;
use summary::summary;

/// What only the Markdown report shows: the scan (every package) and the chart files.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MarkdownExtra<'a> {
    pub(crate) scan: &'a ScanReport,
    pub(crate) charts: &'a [ChartLink<'a>],
}

/// Writes the whole report, section by section, in `style`; `extra` is for Markdown.
pub(crate) fn write(
    a: &Analysis,
    style: Style,
    extra: Option<MarkdownExtra<'_>>,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    if style == Style::Markdown {
        writeln!(out, "# kbscan report\n")?;
    }
    summary(a, style, out)?;
    writeln!(out)?;
    if let Some(x) = extra {
        charts_md(x.charts, out)?;
        writeln!(out)?;
    }
    moves(a, style, out)?;
    writeln!(out)?;
    ceilings(a, style, out)?;
    writeln!(out)?;
    anomalies(a, style, out)?;
    writeln!(out)?;
    forecasts(a, style, out)?;
    writeln!(out)?;
    if let Some(x) = extra {
        packages_md(x.scan, out)?;
        writeln!(out)?;
    }
    errors(a, style, out)?;
    Ok(())
}

fn errors(a: &Analysis, style: Style, out: &mut dyn Write) -> Result<(), RenderError> {
    heading(style, &format!("Errors ({})", a.errors.len()), out)?;
    if a.errors.is_empty() {
        para(style, "None: every input was read.", out)?;
        return Ok(());
    }
    for e in &a.errors {
        let line = format!(
            "{}: [{}] {}",
            printable(&e.path),
            e.kind,
            printable(&e.message)
        );
        match style {
            Style::Table => writeln!(out, "  {line}")?,
            Style::Markdown => writeln!(out, "- {}", md(&line))?,
        }
    }
    Ok(())
}
