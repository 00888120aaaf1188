//! `kbscan scan` for people (an aligned table) and machines (JSON, JSON Lines, CSV). The
//! JSON document and the CSV header are the scan's API; [`crate::Streamer`] drives these
//! renderers one input at a time.

use crate::error::RenderError;
use crate::format::{or_dash, printable};
use crate::text::Table;
use kbscan_model::{ErrorRecord, FileRecord, InputOutcome, Package, ScanReport, Totals};
use serde::Serialize;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Csv,
}

/// Pretty JSON with a trailing newline. Struct field order is fixed by the model and
/// maps are `BTreeMap`, so the bytes are stable.
pub fn json(report: &ScanReport, out: &mut dyn Write) -> Result<(), RenderError> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")?;
    Ok(())
}

#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(flatten)]
    value: &'a T,
}

#[derive(Serialize)]
struct FileLine<'a> {
    package: &'a str,
    kb: Option<&'a str>,
    #[serde(flatten)]
    file: &'a FileRecord,
}

#[derive(Serialize)]
struct PackageHead<'a> {
    source: &'a str,
    kind: &'a kbscan_model::PackageKind,
    kb: Option<&'a str>,
    identity: Option<&'a kbscan_model::Identity>,
    release_type: Option<&'a str>,
    architecture: Option<&'a str>,
    os_family: Option<&'a str>,
    os_builds: &'a std::collections::BTreeMap<String, Vec<kbscan_version::OsBuild>>,
    dates: &'a kbscan_model::Dates,
    sha256: &'a str,
    size: u64,
    components: usize,
    files: usize,
    errors: usize,
}

/// JSON Lines for one input: its `input` line, then each package (without its file
/// list) followed by its `component` and `file` lines, then the input's `error` lines.
/// The stream ends with one `totals` line ([`jsonl_totals`]). Streams well into `jq`.
pub(crate) fn jsonl_outcome(o: &InputOutcome, out: &mut dyn Write) -> Result<(), RenderError> {
    let mut line = |ty: &'static str, v: &dyn TaggedLine| -> Result<(), RenderError> {
        v.write_tagged(ty, out)?;
        Ok(())
    };
    line("input", &o.input)?;
    for p in &o.packages {
        line("package", &head(p))?;
        for c in &p.components {
            line("component", c)?;
        }
        for f in &p.files {
            line(
                "file",
                &FileLine {
                    package: &p.source,
                    kb: p.kb.as_deref(),
                    file: f,
                },
            )?;
        }
    }
    for e in &o.errors {
        line("error", e)?;
    }
    Ok(())
}

pub(crate) fn jsonl_totals(t: &Totals, out: &mut dyn Write) -> Result<(), RenderError> {
    TaggedLine::write_tagged(t, "totals", out)
}

/// A tiny object-safe shim so `jsonl` can tag heterogeneous records with one closure.
trait TaggedLine {
    fn write_tagged(&self, ty: &'static str, out: &mut dyn Write) -> Result<(), RenderError>;
}

impl<T: Serialize> TaggedLine for T {
    fn write_tagged(&self, ty: &'static str, out: &mut dyn Write) -> Result<(), RenderError> {
        serde_json::to_writer(&mut *out, &Line { ty, value: self })?;
        out.write_all(b"\n")?;
        Ok(())
    }
}

fn head(p: &Package) -> PackageHead<'_> {
    PackageHead {
        source: &p.source,
        kind: &p.kind,
        kb: p.kb.as_deref(),
        identity: p.identity.as_ref(),
        release_type: p.release_type.as_deref(),
        architecture: p.architecture.as_deref(),
        os_family: p.os_family.as_deref(),
        os_builds: &p.os_builds,
        dates: &p.dates,
        sha256: &p.sha256,
        size: p.size,
        components: p.components.len(),
        files: p.files.len(),
        errors: p.errors.len(),
    }
}

pub const CSV_HEADER: [&str; 20] = [
    "package",
    "kb",
    "architecture",
    "release_date",
    "path",
    "name",
    "kind",
    "component",
    "size",
    "sha256",
    "component_version",
    "folder_version",
    "pe_file_version",
    "pe_product_version",
    "file_version_string",
    "branch_tag",
    "machine",
    "delta",
    "mismatches",
    "checks",
];

/// One row per file, for spreadsheets ([`CSV_HEADER`] first).
pub(crate) fn csv_package<W: Write>(
    p: &Package,
    w: &mut csv::Writer<W>,
) -> Result<(), RenderError> {
    let s = |v: Option<String>| v.unwrap_or_default();
    for f in &p.files {
        let mismatches: Vec<String> = f
            .checks
            .iter()
            .filter(|c| c.outcome == kbscan_model::CheckOutcome::Mismatch)
            .map(|c| {
                format!(
                    "{}: expected {} got {}",
                    c.check,
                    c.expected.as_deref().unwrap_or("-"),
                    c.actual.as_deref().unwrap_or("-")
                )
            })
            .collect();
        let row: [String; 20] = [
            p.source.clone(),
            s(p.kb.clone()),
            s(p.architecture.clone()),
            s(p.dates.release.clone()),
            f.path.clone(),
            f.name.clone(),
            kind_name(f),
            s(f.component.clone()),
            f.size.to_string(),
            f.sha256.clone(),
            s(f.versions.component.map(|v| v.to_string())),
            s(f.versions.folder.map(|v| v.to_string())),
            s(f.versions.pe_file.map(|v| v.to_string())),
            s(f.versions.pe_product.map(|v| v.to_string())),
            s(f.pe.as_ref().and_then(|p| p.file_version_string.clone())),
            s(f.pe.as_ref().and_then(|p| p.branch_tag.clone())),
            s(f.pe.as_ref().map(|p| p.machine.clone())),
            s(f.delta.as_ref().map(|d| d.format.clone())),
            mismatches.join("; "),
            f.checks.len().to_string(),
        ];
        w.write_record(row.iter().map(|c| sanitize_cell(c)))?;
    }
    Ok(())
}

fn kind_name(f: &FileRecord) -> String {
    serde_json::to_value(f.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Package strings are untrusted: a cell starting with `=`, `+`, `-` or `@` would be
/// run as a formula by spreadsheet programs (CSV injection), so it gets a leading `'`.
fn sanitize_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '@']) || (s.starts_with('-') && s.parse::<f64>().is_err()) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

pub(crate) type TableRow = [String; 7];

pub(crate) fn table_row(p: &Package) -> TableRow {
    let builds: Vec<String> = p
        .os_builds
        .iter()
        .map(|(arch, b)| {
            format!(
                "{arch}:{}",
                b.iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })
        .collect();
    let max_ver = p
        .files
        .iter()
        .filter_map(|f| f.versions.pe_file.or(f.versions.component))
        .max()
        .map(|v| v.to_string())
        .unwrap_or_else(|| "-".into());
    [
        or_dash(p.kb.as_deref()),
        or_dash(p.architecture.as_deref()),
        or_dash(p.dates.release.as_deref()),
        printable(&builds.join(" ")),
        format!("{}/{}", p.components.len(), p.files.len()),
        max_ver,
        printable(short_source(&p.source)),
    ]
}

/// The table aligns its columns, so it is written at the end from one short row per
/// package (a few hundred bytes each, not the package).
pub(crate) fn table(
    rows: &[TableRow],
    errors: &[ErrorRecord],
    t: &Totals,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    let header = [
        "KB",
        "ARCH",
        "DATE",
        "OS BUILDS",
        "COMP/FILES",
        "MAX VERSION",
        "SOURCE",
    ];
    Table::new(&header).rows(rows).write(out)?;
    if !errors.is_empty() {
        writeln!(out)?;
        writeln!(out, "ERRORS ({})", errors.len())?;
        for e in errors {
            writeln!(
                out,
                "  {}: [{}] {}",
                printable(&e.path),
                e.kind,
                printable(&e.message)
            )?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "{} inputs: {} scanned, {} failed, {} unsupported, {} skipped; {} packages, {} components, {} files ({} PE); {} errors",
        t.inputs, t.scanned, t.failed, t.unsupported, t.skipped, t.packages, t.components, t.files, t.pe_files, t.errors
    )?;
    Ok(())
}

/// The last two levels of a nested path are what tells packages apart in a table.
fn short_source(s: &str) -> &str {
    let base = s.rsplit('!').next().unwrap_or(s);
    if s.contains('!') {
        s
    } else {
        base.rsplit('/').next().unwrap_or(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_injection_is_defused() {
        assert_eq!(sanitize_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(sanitize_cell("-5"), "-5");
        assert_eq!(sanitize_cell("6.0.6002.24566"), "6.0.6002.24566");
    }
}
