//! The entry points of `kbscan report` (an [`Analysis`]) and `kbscan history` (a
//! [`History`]): the formats and the functions the CLI calls; the rendering itself is in
//! the report sections (text and Markdown), `history`, [`crate::html`] and [`crate::charts`].
//!
//! Tables fit a 100-column terminal ([`TABLE_WIDTH`]): long names are shortened in the
//! middle (`…`), never wrapped, and every string that came from a package goes through
//! [`printable`](crate::printable) first. JSON is the analysis itself, pretty-printed,
//! with its `schema_version`; markdown carries the same sections as the table.

use crate::error::RenderError;
use crate::sections::{self, ChartLink, MarkdownExtra, Style};
use kbscan_analysis::{Analysis, History};
use kbscan_model::ScanReport;
use std::io::Write;

pub use crate::text::TABLE_WIDTH;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Markdown,
    Json,
    /// One self-contained page with inline SVG charts ([`crate::html`]).
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryFormat {
    Table,
    Json,
}

/// Where the markdown report's charts go: nowhere (standard output has no place for
/// files; the report says so), or SVG files in a folder beside the markdown file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartFiles<'a> {
    None,
    /// The folder, relative to the markdown file, e.g. `report.charts`.
    Beside(&'a str),
}

/// A chart the caller writes beside the markdown file (this crate does no file I/O).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartFile {
    /// Relative to the markdown file: `report.charts/timeline-6.0.svg`.
    pub path: String,
    pub svg: String,
}

/// Renders the report; returns the chart files a markdown report links to (empty for
/// every other format, and for markdown without [`ChartFiles::Beside`]).
pub fn render_report(
    scan: &ScanReport,
    a: &Analysis,
    format: ReportFormat,
    charts: ChartFiles<'_>,
    out: &mut dyn Write,
) -> Result<Vec<ChartFile>, RenderError> {
    match format {
        ReportFormat::Json => json(a, out)?,
        ReportFormat::Table => sections::write(a, Style::Table, None, out)?,
        ReportFormat::Html => crate::html::render(scan, a, out)?,
        ReportFormat::Markdown => {
            let (files, titles): (Vec<ChartFile>, Vec<String>) = match charts {
                ChartFiles::None => (Vec::new(), Vec::new()),
                ChartFiles::Beside(dir) => crate::charts::all(scan, a)?
                    .into_iter()
                    .map(|c| {
                        let file = ChartFile {
                            path: format!("{dir}/{}.svg", c.id),
                            svg: c.svg,
                        };
                        (file, c.title)
                    })
                    .unzip(),
            };
            let links: Vec<ChartLink<'_>> = files
                .iter()
                .zip(&titles)
                .map(|(f, title)| ChartLink {
                    path: &f.path,
                    title,
                })
                .collect();
            let extra = MarkdownExtra {
                scan,
                charts: &links,
            };
            sections::write(a, Style::Markdown, Some(extra), out)?;
            return Ok(files);
        }
    }
    Ok(Vec::new())
}

pub fn render_history(
    h: &History,
    format: HistoryFormat,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    match format {
        HistoryFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, h)?;
            out.write_all(b"\n")?;
            Ok(())
        }
        HistoryFormat::Table => crate::history::table(h, out),
    }
}

/// Pretty JSON with a trailing newline; field order is the model's, so bytes are stable.
pub fn json(a: &Analysis, out: &mut dyn Write) -> Result<(), RenderError> {
    serde_json::to_writer_pretty(&mut *out, a)?;
    out.write_all(b"\n")?;
    Ok(())
}
