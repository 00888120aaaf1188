//! What only the Markdown report has: links to the chart files written beside it, and a
//! table of every package in scan order (the text report is for a terminal, which has
//! neither images nor room for the list).

use crate::error::RenderError;
use crate::format::{or_dash, printable};
use crate::sections::doc::{heading, md, para, Grid, Style};
use kbscan_model::ScanReport;
use std::io::Write;

/// A chart file beside the markdown file, as the report links it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChartLink<'a> {
    /// Relative to the markdown file.
    pub(crate) path: &'a str,
    pub(crate) title: &'a str,
}

/// A relative link target: unreserved characters and `/` as they are, anything else
/// percent-encoded, so a folder name with spaces or brackets still links.
fn link_target(path: &str) -> String {
    let mut r = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            r.push(b as char);
        } else {
            r.push_str(&format!("%{b:02X}"));
        }
    }
    r
}

pub(crate) fn charts_md(charts: &[ChartLink<'_>], out: &mut dyn Write) -> Result<(), RenderError> {
    heading(Style::Markdown, "Charts", out)?;
    if charts.is_empty() {
        para(
            Style::Markdown,
            "Charts (a revision timeline per OS version line, and the components closest to \
             their ceiling) need an output file: with -o FILE.md they are written as SVG files \
             to FILE.charts/ beside it and linked here; standard output carries none. \
             --format html embeds them in one page.",
            out,
        )?;
        return Ok(());
    }
    for c in charts {
        writeln!(out, "![{}]({})\n", md(c.title), link_target(c.path))?;
    }
    Ok(())
}

pub(crate) fn packages_md(scan: &ScanReport, out: &mut dyn Write) -> Result<(), RenderError> {
    heading(
        Style::Markdown,
        &format!("Packages ({})", scan.packages.len()),
        out,
    )?;
    para(
        Style::Markdown,
        "Every package in scan order (the summary lists the dated ones in release order).",
        out,
    )?;
    let rows = scan
        .packages
        .iter()
        .map(|p| {
            vec![
                or_dash(p.kb.as_deref()),
                or_dash(p.architecture.as_deref()),
                or_dash(p.dates.release.as_deref()),
                or_dash(p.release_type.as_deref()),
                p.components.len().to_string(),
                p.files.len().to_string(),
                p.errors.len().to_string(),
                printable(&p.source),
            ]
        })
        .collect();
    Grid {
        headers: &[
            "KB",
            "ARCH",
            "DATE",
            "TYPE",
            "COMPONENTS",
            "FILES",
            "ERRORS",
            "SOURCE",
        ],
        rows,
        flex: None,
        indent: 0,
    }
    .write(Style::Markdown, out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_links_are_percent_encoded() {
        assert_eq!(
            link_target("my report (1).charts/timeline-6.0.svg"),
            "my%20report%20%281%29.charts/timeline-6.0.svg"
        );
    }
}
