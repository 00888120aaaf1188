//! Rendering an [`Analysis`] (`kbscan report`) and a [`History`] (`kbscan history`).
//!
//! Tables fit a 100-column terminal: long names are shortened in the middle (`…`),
//! never wrapped, and every string that came from a package goes through
//! [`printable`](crate::printable) first. JSON is the analysis itself, pretty-printed,
//! with its `schema_version`; markdown carries the same sections as the table.

use crate::error::RenderError;
use crate::format::{
    anomaly_kind, display_or_dash, forecast_when, list_kbs, or_dash, package_label, printable,
    signed, slope, track_and_counter,
};
use crate::text::{width, wrap, Table};
use kbscan_analysis::{
    Analysis, BuildMove, CeilingFinding, Forecast, ForecastScope, History, MovingPackage,
    PackageRef, Scheme, VersionKind,
};
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
        ReportFormat::Table => write_doc(a, Style::Table, None, out)?,
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
            write_doc(a, Style::Markdown, Some((scan, &files, &titles)), out)?;
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
        HistoryFormat::Table => history_table(h, out),
    }
}

/// Pretty JSON with a trailing newline; field order is the model's, so bytes are stable.
pub fn json(a: &Analysis, out: &mut dyn Write) -> Result<(), RenderError> {
    serde_json::to_writer_pretty(&mut *out, a)?;
    out.write_all(b"\n")?;
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Table,
    Markdown,
}

/// A block of rows: aligned columns for the table (one column may shrink to keep the
/// line within [`TABLE_WIDTH`]), a pipe table for markdown.
struct Grid<'a> {
    headers: &'a [&'a str],
    rows: Vec<Vec<String>>,
    /// The column that gives up width when the line is too long.
    flex: Option<usize>,
    indent: usize,
}

impl Grid<'_> {
    fn write(&self, style: Style, out: &mut dyn Write) -> std::io::Result<()> {
        match style {
            Style::Markdown => {
                writeln!(out, "| {} |", self.headers.join(" | "))?;
                writeln!(out, "|{}", "---|".repeat(self.headers.len()))?;
                for r in &self.rows {
                    let cells: Vec<String> = r.iter().map(|c| md(c)).collect();
                    writeln!(out, "| {} |", cells.join(" | "))?;
                }
                writeln!(out)
            }
            Style::Table => {
                let mut table = Table::new(self.headers).indent(self.indent);
                if let Some(f) = self.flex {
                    table = table.shrink(f, TABLE_WIDTH);
                }
                table.rows(self.rows.iter()).write(out)
            }
        }
    }
}

fn heading(style: Style, title: &str, out: &mut dyn Write) -> std::io::Result<()> {
    match style {
        Style::Table => {
            let title = title.to_uppercase();
            writeln!(out, "{title}\n{}", "=".repeat(width(&title)))
        }
        Style::Markdown => writeln!(out, "## {title}\n"),
    }
}

fn subheading(style: Style, title: &str, out: &mut dyn Write) -> std::io::Result<()> {
    match style {
        Style::Table => writeln!(out, "{title}"),
        Style::Markdown => writeln!(out, "### {}\n", md(title)),
    }
}

/// A line of prose: indented and word-wrapped in the table, a paragraph in markdown.
fn para(style: Style, text: &str, out: &mut dyn Write) -> std::io::Result<()> {
    match style {
        Style::Table => {
            for line in wrap(text, TABLE_WIDTH - 2) {
                writeln!(out, "  {line}")?;
            }
            Ok(())
        }
        Style::Markdown => writeln!(out, "{}\n", md(text)),
    }
}

/// Markdown would read `*`, `_`, `|`, brackets and HTML tags in package strings as
/// markup. `<` is escaped only where it could open a tag, so `<= 64` stays readable.
fn md(s: &str) -> String {
    let mut r = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let tag = c == '<'
            && chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?'));
        if tag || matches!(c, '*' | '_' | '|' | '`' | '[' | ']' | '\\') {
            r.push('\\');
        }
        r.push(c);
    }
    r
}

fn date(p: &PackageRef) -> String {
    or_dash(p.date.as_deref())
}

/// `update.mum creationTimeStamp` → `mum`, `pkgProperties Build Date` → `props`:
/// the full names are in the summary's legend and in the JSON.
fn date_source_short(p: &PackageRef) -> String {
    match p.date_source.as_deref() {
        Some(s) if s.starts_with("update.mum") => "mum".into(),
        Some(s) if s.starts_with("pkgProperties") => "props".into(),
        Some(s) => printable(s),
        None => "-".into(),
    }
}

/// The markdown-only parts: the scan (package details), the chart files and their titles.
type MarkdownExtra<'a> = (&'a ScanReport, &'a [ChartFile], &'a [String]);

fn write_doc(
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
    if let Some((_, files, titles)) = extra {
        charts_md(files, titles, out)?;
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
    if let Some((scan, _, _)) = extra {
        packages_md(scan, out)?;
        writeln!(out)?;
    }
    errors(a, style, out)?;
    Ok(())
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

fn charts_md(
    files: &[ChartFile],
    titles: &[String],
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    heading(Style::Markdown, "Charts", out)?;
    if files.is_empty() {
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
    for (f, t) in files.iter().zip(titles) {
        writeln!(out, "![{}]({})\n", md(t), link_target(&f.path))?;
    }
    Ok(())
}

fn packages_md(scan: &ScanReport, out: &mut dyn Write) -> Result<(), RenderError> {
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

fn summary(a: &Analysis, style: Style, out: &mut dyn Write) -> Result<(), RenderError> {
    let s = &a.summary;
    heading(style, "Summary", out)?;
    let span = match (&s.first_date, &s.last_date) {
        (Some(f), Some(l)) => format!(" ({} … {})", printable(f), printable(l)),
        _ => String::new(),
    };
    let series: Vec<String> = a
        .series
        .iter()
        .map(|x| {
            let builds: Vec<String> = x.builds.iter().map(|b| b.build.to_string()).collect();
            format!("{} {} [{}]", x.os, printable(&x.platform), builds.join(","))
        })
        .collect();
    let close = &a.ceilings.close;
    let rows = vec![
        vec![
            "inputs".into(),
            format!("{} ({} failed)", s.inputs, s.inputs_failed),
        ],
        vec![
            "packages".into(),
            format!(
                "{}: {} dated{span}, {} undated",
                s.packages, s.dated, s.undated
            ),
        ],
        vec![
            "series".into(),
            format!("{}: {}", s.series, series.join("; ")),
        ],
        vec!["build moves".into(), s.moves.to_string()],
        vec![
            "ceilings".into(),
            format!(
                "{} of {} versions close (headroom <= {} or <= {}% of the range)",
                s.close_to_ceiling, s.versions_measured, close.headroom, close.percent
            ),
        ],
        vec!["anomalies".into(), s.anomalies.to_string()],
        vec!["forecasts".into(), s.forecasts.to_string()],
        vec!["errors".into(), s.errors.to_string()],
    ];
    Grid {
        headers: &["", ""],
        rows,
        flex: Some(1),
        indent: 2,
    }
    .write_summary(style, out)?;
    writeln!(out)?;
    para(
        style,
        "Packages are ordered by the release date inside them (DATE FROM: mum = update.mum \
         creationTimeStamp, props = pkgProperties Build Date), then KB, architecture, source.",
        out,
    )?;
    if style == Style::Table {
        writeln!(out)?;
    }
    let rows = a
        .packages
        .iter()
        .map(|p| {
            let builds: Vec<String> = p.builds.iter().map(|b| b.to_string()).collect();
            vec![
                date(&p.package),
                date_source_short(&p.package),
                package_label(&p.package),
                printable(&p.package.architecture),
                or_dash(p.package.release_type.as_deref()),
                builds.join(","),
            ]
        })
        .collect();
    Grid {
        headers: &["DATE", "FROM", "KB", "ARCH", "TYPE", "BUILDS"],
        rows,
        flex: Some(5),
        indent: 2,
    }
    .write(style, out)?;
    if !a.undated.is_empty() {
        writeln!(out)?;
        para(
            style,
            &format!(
                "Undated ({}): not ordered, not in build moves or forecasts.",
                a.undated.len()
            ),
            out,
        )?;
        if style == Style::Table {
            writeln!(out)?;
        }
        let rows = a
            .undated
            .iter()
            .map(|u| {
                vec![
                    or_dash(u.package.kb.as_deref()),
                    printable(&u.package.source),
                    printable(&u.reason),
                ]
            })
            .collect();
        Grid {
            headers: &["KB", "SOURCE", "WHY"],
            rows,
            flex: Some(1),
            indent: 2,
        }
        .write(style, out)?;
    }
    Ok(())
}

impl Grid<'_> {
    /// Key/value lines: no header row in the table, a two-column table in markdown.
    fn write_summary(&self, style: Style, out: &mut dyn Write) -> std::io::Result<()> {
        match style {
            Style::Markdown => {
                writeln!(out, "| | |\n|---|---|")?;
                for r in &self.rows {
                    writeln!(out, "| {} | {} |", r[0], md(&r[1]))?;
                }
                Ok(())
            }
            // No `trim_end` here ever: `series       0: ` keeps its blank.
            Style::Table => Table::without_header()
                .indent(self.indent)
                .cut_lines(TABLE_WIDTH)
                .keep_trailing_blanks()
                .rows(self.rows.iter())
                .write(out),
        }
    }
}

fn moves(a: &Analysis, style: Style, out: &mut dyn Write) -> Result<(), RenderError> {
    heading(style, "Build moves", out)?;
    para(
        style,
        "A package moves a series (major.minor on one platform) when it carries a higher build than \
         every earlier dated package of that series. RESET = after - before revision.",
        out,
    )?;
    if a.moves.is_empty() {
        para(style, "No build moves.", out)?;
        return Ok(());
    }
    for m in &a.moves {
        writeln!(out)?;
        one_move(m, style, out)?;
    }
    Ok(())
}

fn one_move(m: &BuildMove, style: Style, out: &mut dyn Write) -> Result<(), RenderError> {
    subheading(
        style,
        &format!(
            "{} {}: {} -> {}",
            m.os,
            printable(&m.platform),
            m.from,
            m.to
        ),
        out,
    )?;
    let f = &m.first_mover;
    let p = &f.package;
    para(
        style,
        &format!(
            "first mover: {} {} {} (date from {}), {}",
            package_label(p),
            printable(&p.architecture),
            date(p),
            or_dash(p.date_source.as_deref()),
            or_dash(p.release_type.as_deref()),
        ),
        out,
    )?;
    para(style, &format!("source: {}", printable(&p.source)), out)?;
    changes(f, style, out)?;
    if m.later_movers.is_empty() {
        para(style, "later packages carrying the new build: none", out)?;
    } else {
        para(
            style,
            &format!(
                "later packages carrying {} ({}):",
                m.to,
                m.later_movers.len()
            ),
            out,
        )?;
        let rows = m
            .later_movers
            .iter()
            .map(|l| {
                let mut what = Vec::new();
                if !l.changed.is_empty() {
                    what.push(format!("{} changed build", l.changed.len()));
                }
                if !l.new_components.is_empty() {
                    what.push(format!("{} new", l.new_components.len()));
                }
                vec![
                    package_label(&l.package),
                    date(&l.package),
                    or_dash(l.package.release_type.as_deref()),
                    if what.is_empty() {
                        "-".into()
                    } else {
                        what.join(", ")
                    },
                ]
            })
            .collect();
        Grid {
            headers: &["KB", "DATE", "TYPE", "COMPONENTS"],
            rows,
            flex: None,
            indent: 4,
        }
        .write(style, out)?;
        for l in m
            .later_movers
            .iter()
            .filter(|l| !l.changed.is_empty() || !l.new_components.is_empty())
        {
            para(
                style,
                &format!("in {} {}:", package_label(&l.package), date(&l.package)),
                out,
            )?;
            changes(l, style, out)?;
        }
    }
    if m.stragglers.is_empty() {
        para(
            style,
            "stragglers (later packages still on the old build): none",
            out,
        )?;
    } else {
        para(
            style,
            &format!(
                "stragglers (later packages still on the old build) ({}):",
                m.stragglers.len()
            ),
            out,
        )?;
        let rows = m
            .stragglers
            .iter()
            .map(|s| {
                vec![
                    package_label(&s.package),
                    date(&s.package),
                    s.builds
                        .iter()
                        .map(|b| b.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                    printable(&s.package.source),
                ]
            })
            .collect();
        Grid {
            headers: &["KB", "DATE", "BUILDS", "SOURCE"],
            rows,
            flex: Some(3),
            indent: 4,
        }
        .write(style, out)?;
    }
    Ok(())
}

fn changes(p: &MovingPackage, style: Style, out: &mut dyn Write) -> Result<(), RenderError> {
    let mut rows: Vec<Vec<String>> = p
        .changed
        .iter()
        .map(|c| {
            vec![
                printable(&c.name),
                printable(&c.architecture),
                c.before.to_string(),
                c.after.to_string(),
                signed(c.reset),
                printable(&c.before_package),
            ]
        })
        .collect();
    rows.extend(p.new_components.iter().map(|c| {
        vec![
            printable(&c.name),
            printable(&c.architecture),
            "(new)".into(),
            c.version.to_string(),
            "".into(),
            "".into(),
        ]
    }));
    if rows.is_empty() {
        return Ok(());
    }
    Grid {
        headers: &["COMPONENT", "ARCH", "BEFORE", "AFTER", "RESET", "BEFORE IN"],
        rows,
        flex: Some(0),
        indent: 4,
    }
    .write(style, out)?;
    Ok(())
}

fn finding_row(f: &CeilingFinding) -> Vec<String> {
    let (track, counter) = track_and_counter(f.nt6);
    vec![
        f.headroom.to_string(),
        f.version.to_string(),
        track,
        counter,
        f.revision_headroom.to_string(),
        printable(&f.name),
        printable(&f.architectures.join(",")),
        list_kbs(&f.packages, 1),
    ]
}

const FINDING_HEADERS: [&str; 8] = [
    "LEFT", "VERSION", "TRACK", "CTR", "TO 65535", "NAME", "ARCH", "PACKAGES",
];

/// Not-close findings shown per table after the close ones (JSON lists all).
const MORE_FINDINGS: usize = 5;

fn ceilings(a: &Analysis, style: Style, out: &mut dyn Write) -> Result<(), RenderError> {
    let c = &a.ceilings;
    heading(style, "Ceilings", out)?;
    let rules: Vec<String> = c
        .rules
        .iter()
        .map(|r| {
            let scope = match r.min_build {
                Some(b) => format!("{} (build >= {b})", printable(&r.os)),
                None => printable(&r.os),
            };
            let threshold = match (r.close_headroom, r.close_percent) {
                (None, None) => String::new(),
                (h, p) => format!(
                    ", close at <= {} or <= {}%",
                    h.unwrap_or(c.close.headroom),
                    p.unwrap_or(c.close.percent)
                ),
            };
            match (r.scheme, r.ceiling) {
                (Scheme::Nt6, _) => format!("{scope}: NT 6.x track window{threshold}"),
                (Scheme::Plain, c) => {
                    format!("{scope}: revision <= {}{threshold}", c.unwrap_or(u16::MAX))
                }
            }
        })
        .collect();
    para(
        style,
        &format!(
            "Rules: {}. LEFT = values left below the ceiling: for NT 6.x the 12-bit counter (CTR) \
             to 4095, the top of its track window (GDR 20479, LDR 24575); else the revision to \
             the rule's ceiling. TO 65535 = revision headroom to the 16-bit limit. Close: LEFT <= {} \
             or <= {}% of the range. One row per component (name + architecture) or file name \
             and version.",
            rules.join("; "),
            c.close.headroom,
            c.close.percent
        ),
        out,
    )?;
    if style == Style::Table {
        writeln!(out)?;
    }
    para(
        style,
        &format!(
            "{} of {} distinct versions are close; closest first.",
            c.findings_close,
            c.findings.len()
        ),
        out,
    )?;
    for (kind, title) in [
        (VersionKind::Component, "Components"),
        (VersionKind::File, "Files (PE file version)"),
    ] {
        let of_kind: Vec<&CeilingFinding> = c.findings.iter().filter(|f| f.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let close = of_kind.iter().filter(|f| f.close).count();
        let shown = close + (of_kind.len() - close).min(MORE_FINDINGS);
        writeln!(out)?;
        let more = if shown < of_kind.len() {
            format!(
                ", then {} of the {} not close",
                shown - close,
                of_kind.len() - close
            )
        } else {
            String::new()
        };
        subheading(style, &format!("{title}: {close} close{more}"), out)?;
        Grid {
            headers: &FINDING_HEADERS,
            rows: of_kind.iter().take(shown).map(|f| finding_row(f)).collect(),
            flex: Some(5),
            indent: 2,
        }
        .write(style, out)?;
    }
    Ok(())
}

fn anomalies(a: &Analysis, style: Style, out: &mut dyn Write) -> Result<(), RenderError> {
    heading(style, "Anomalies", out)?;
    if a.anomalies.is_empty() {
        para(
            style,
            "None: no revision in the unused or private NT 6.x track in a public package, and no \
             component counter going down without a build move.",
            out,
        )?;
        return Ok(());
    }
    let rows = a
        .anomalies
        .iter()
        .map(|x| {
            vec![
                anomaly_kind(x.kind).into(),
                printable(&x.name),
                printable(&x.architectures.join(",")),
                match x.previous {
                    Some(p) => format!("{p} -> {}", x.version),
                    None => x.version.to_string(),
                },
                list_kbs(&x.packages, 2),
            ]
        })
        .collect();
    Grid {
        headers: &["KIND", "NAME", "ARCH", "VERSION", "PACKAGES"],
        rows,
        flex: Some(1),
        indent: 2,
    }
    .write(style, out)?;
    Ok(())
}

fn forecasts(a: &Analysis, style: Style, out: &mut dyn Write) -> Result<(), RenderError> {
    heading(style, "Forecast", out)?;
    para(
        style,
        "Growth per month is the Theil-Sen estimate: the median slope over all pairs of points, one \
         point per release date (the highest value that day, all architectures together). VALUE \
         is the NT 6.x counter (or the revision, under a plain rule) at the last point, LEFT what \
         remains to its limit, REACHES the month the fitted line gets there.",
        out,
    )?;
    if a.forecasts.is_empty() {
        para(style, "No dated versions.", out)?;
        return Ok(());
    }
    if style == Style::Table {
        writeln!(out)?;
    }
    let track = |f: &Forecast| display_or_dash(f.track);
    let builds: Vec<&Forecast> = a
        .forecasts
        .iter()
        .filter(|f| f.scope == ForecastScope::OsBuild)
        .collect();
    Grid {
        headers: &[
            "BUILD", "TRACK", "PTS", "PAIRS", "FIRST", "LAST", "VALUE", "LEFT", "/MONTH", "REACHES",
        ],
        rows: builds
            .iter()
            .map(|f| {
                vec![
                    f.os_build.to_string(),
                    track(f),
                    f.points.to_string(),
                    f.pairs.to_string(),
                    f.first_date.clone(),
                    f.last_date.clone(),
                    f.last_value.to_string(),
                    f.headroom.to_string(),
                    slope(f.slope_per_month),
                    forecast_when(f),
                ]
            })
            .collect(),
        flex: None,
        indent: 2,
    }
    .write(style, out)?;
    if style == Style::Table {
        writeln!(out)?;
    }
    para(style, "Inputs (date value package):", out)?;
    for f in &builds {
        let pts: Vec<String> = f
            .inputs
            .iter()
            .map(|p| format!("{} {} {}", p.date, p.value, printable(&p.package)))
            .collect();
        let head = format!("{} {}:", f.os_build, track(f));
        match style {
            Style::Table => {
                // Wrapped, never cut: the inputs are the evidence for the forecast.
                let mut line = format!("    {head}");
                for (i, p) in pts.iter().enumerate() {
                    let sep = if i + 1 < pts.len() { "," } else { "" };
                    if i > 0 && width(&line) + 1 + width(p) + sep.len() > TABLE_WIDTH {
                        writeln!(out, "{line}")?;
                        line = format!("      {p}{sep}");
                    } else {
                        line.push(' ');
                        line.push_str(p);
                        line.push_str(sep);
                    }
                }
                writeln!(out, "{line}")?;
            }
            Style::Markdown => writeln!(out, "- {} {}", md(&head), md(&pts.join(", ")))?,
        }
    }
    for f in builds {
        let comps: Vec<&Forecast> = a
            .forecasts
            .iter()
            .filter(|c| {
                c.scope == ForecastScope::Component
                    && c.os_build == f.os_build
                    && c.track == f.track
            })
            .collect();
        if comps.is_empty() {
            continue;
        }
        writeln!(out)?;
        subheading(
            style,
            &format!("{} {} per component", f.os_build, track(f)),
            out,
        )?;
        Grid {
            headers: &[
                "COMPONENT",
                "PTS",
                "PAIRS",
                "LAST",
                "VALUE",
                "LEFT",
                "/MONTH",
                "REACHES",
            ],
            rows: comps
                .iter()
                .map(|c| {
                    vec![
                        or_dash(c.component.as_deref()),
                        c.points.to_string(),
                        c.pairs.to_string(),
                        c.last_date.clone(),
                        c.last_value.to_string(),
                        c.headroom.to_string(),
                        slope(c.slope_per_month),
                        forecast_when(c),
                    ]
                })
                .collect(),
            flex: Some(0),
            indent: 2,
        }
        .write(style, out)?;
    }
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

fn history_table(h: &History, out: &mut dyn Write) -> Result<(), RenderError> {
    let versions: usize = h.architectures.iter().map(|a| a.entries.len()).sum();
    writeln!(
        out,
        "{}: {} copies, {} distinct versions in {} architectures{}",
        printable(&h.name),
        h.matches,
        versions,
        h.architectures.len(),
        if h.unversioned > 0 {
            format!(" ({} without a version)", h.unversioned)
        } else {
            String::new()
        }
    )?;
    if h.architectures.is_empty() {
        writeln!(out, "  no file of that name in the scanned packages")?;
    }
    for arch in &h.architectures {
        writeln!(out)?;
        writeln!(out, "{}", printable(&arch.architecture))?;
        // Marker lines span the whole width; long lines are cut as a whole.
        let mut table = Table::new(&[
            "VERSION", "BUILD", "TRACK", "CTR", "LEFT", "TO 65535", "FIRST IN", "DATE", "ALSO IN",
        ])
        .indent(2)
        .cut_lines(TABLE_WIDTH);
        let mut line: Option<(u16, u16)> = None;
        for e in &arch.entries {
            let this = (e.version.major, e.version.minor);
            if line.is_some_and(|l| l != this) {
                table.note(format!("-- {}.{}: another OS version line", this.0, this.1));
            }
            line = Some(this);
            if let Some(mv) = &e.build_move {
                table.note(format!(
                    "-- build move {} -> {}: revision {} -> {} ({})",
                    mv.from,
                    e.build,
                    mv.previous.revision,
                    e.version.revision,
                    signed(mv.reset)
                ));
            }
            let (track, counter) = track_and_counter(e.nt6);
            let also: Vec<String> = e.packages.iter().skip(1).map(|p| p.label()).collect();
            table.row([
                e.version.to_string(),
                e.build.to_string(),
                track,
                counter,
                e.headroom.to_string(),
                e.revision_headroom.to_string(),
                package_label(&e.first),
                date(&e.first),
                list_kbs(&also, 2),
            ]);
        }
        table.write(out)?;
    }
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

    #[test]
    fn markdown_escapes_markup() {
        assert_eq!(md("a|b*c_d"), "a\\|b\\*c\\_d");
        assert_eq!(md("<script> <= 64 -> x"), "\\<script> <= 64 -> x");
    }

    #[test]
    fn grid_shrinks_the_flex_column_to_the_width() {
        let long = "x".repeat(200);
        let g = Grid {
            headers: &["A", "NAME", "B"],
            rows: vec![vec!["1".into(), long, "end".into()]],
            flex: Some(1),
            indent: 2,
        };
        let mut buf = Vec::new();
        g.write(Style::Table, &mut buf).expect("write");
        let text = String::from_utf8(buf).expect("utf8");
        assert!(
            text.lines().all(|l| l.chars().count() <= TABLE_WIDTH),
            "{text}"
        );
        assert!(text.contains('…'));
    }
}
