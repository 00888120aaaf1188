//! Rendering a [`ScanReport`] for people (table) and machines (JSON, JSON Lines, CSV).
//!
//! Every renderer writes to any `io::Write` and is a pure function of the report: the
//! same report gives the same bytes. Scan reports are rendered as the scan goes
//! ([`Streamer`]), one input at a time, so memory does not grow with the corpus. This crate never decides what is true about a
//! package (that is the scanner's and the analyses' job) and never touches a terminal.

pub mod analysis;
pub mod charts;
pub mod check;
pub mod html;
mod stream;
pub mod text;

pub use stream::Streamer;

use kbscan_model::{ErrorRecord, FileRecord, InputOutcome, Package, ScanReport, Totals};
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Csv,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("write failed: {0}")]
    Io(#[from] io::Error),
    #[error("JSON encoding failed: {0}")]
    Json(#[from] serde_json::Error),
    #[error("CSV encoding failed: {0}")]
    Csv(#[from] csv::Error),
    #[error("chart drawing failed: {0}")]
    Chart(String),
    #[error("HTML template failed: {0:#}")]
    Template(#[from] minijinja::Error),
}

impl RenderError {
    /// The reader of a pipe went away (`kbscan scan | head`): the caller's choice.
    pub fn is_broken_pipe(&self) -> bool {
        let kind = match self {
            RenderError::Io(e) => Some(e.kind()),
            RenderError::Json(e) => e.io_error_kind(),
            RenderError::Csv(e) => match e.kind() {
                csv::ErrorKind::Io(e) => Some(e.kind()),
                _ => None,
            },
            RenderError::Chart(_) | RenderError::Template(_) => None,
        };
        kind == Some(io::ErrorKind::BrokenPipe)
    }
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
fn jsonl_outcome(o: &InputOutcome, out: &mut dyn Write) -> Result<(), RenderError> {
    let mut line = |ty: &'static str, v: &dyn erased::Ser| -> Result<(), RenderError> {
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

fn jsonl_totals(t: &Totals, out: &mut dyn Write) -> Result<(), RenderError> {
    erased::Ser::write_tagged(t, "totals", out)
}

/// A tiny object-safe shim so `jsonl` can tag heterogeneous records with one closure.
mod erased {
    use super::*;
    pub trait Ser {
        fn write_tagged(&self, ty: &'static str, out: &mut dyn Write) -> Result<(), RenderError>;
    }
    impl<T: Serialize> Ser for T {
        fn write_tagged(&self, ty: &'static str, out: &mut dyn Write) -> Result<(), RenderError> {
            serde_json::to_writer(&mut *out, &Line { ty, value: self })?;
            out.write_all(b"\n")?;
            Ok(())
        }
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
fn csv_package<W: Write>(p: &Package, w: &mut csv::Writer<W>) -> Result<(), RenderError> {
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

/// Makes an untrusted string (a name or message from a package, a file name on disk) safe
/// to show to a person: control characters would let a hostile package rewrite the
/// terminal (escape sequences), and invisible format characters would let it disguise a
/// name (U+202E RIGHT-TO-LEFT OVERRIDE shows `evil\u{202e}txt.exe` as `evilexe.txt`). Both
/// are shown as `\u{…}` ([`is_disguising`] lists the second set). Every human format
/// (tables, Markdown, HTML, stderr messages, `extract`'s listing) goes through this;
/// machine formats (JSON, JSON Lines, CSV) keep the real string: escaping it for display is
/// the consumer's business.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || is_disguising(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters that are invisible or reorder the text around them, besides the control
/// characters (Unicode Cc), which [`printable`] also escapes:
/// - bidirectional controls: U+061C ARABIC LETTER MARK, U+200E/U+200F (LRM, RLM),
///   U+202A–U+202E (embeddings and overrides), U+2066–U+2069 (isolates);
/// - zero-width and invisible characters: U+00AD SOFT HYPHEN, U+180E MONGOLIAN VOWEL
///   SEPARATOR, U+200B–U+200D (zero-width space, non-joiner, joiner), U+2060–U+2064 (word
///   joiner, invisible operators), U+206A–U+206F (deprecated format controls), U+FEFF
///   (zero-width no-break space, BOM), U+FFF9–U+FFFB (interlinear annotation), and the tag
///   characters U+E0000–U+E007F (invisible look-alikes of ASCII);
/// - U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR, which break a line like `\n`.
///
/// Names in genuine update packages are ASCII, so escaping these never hides a real name.
pub fn is_disguising(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{061c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

type TableRow = [String; 7];

fn table_row(p: &Package) -> TableRow {
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
        printable(p.kb.as_deref().unwrap_or("-")),
        printable(p.architecture.as_deref().unwrap_or("-")),
        printable(p.dates.release.as_deref().unwrap_or("-")),
        printable(&builds.join(" ")),
        format!("{}/{}", p.components.len(), p.files.len()),
        max_ver,
        printable(short_source(&p.source)),
    ]
}

/// The table aligns its columns, so it is written at the end from one short row per
/// package (a few hundred bytes each, not the package).
fn table(
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
    crate::text::Table::new(&header).rows(rows).write(out)?;
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

    #[test]
    fn control_chars_shown() {
        assert_eq!(printable("a\x1b[2Jb"), "a\\u{1b}[2Jb");
    }

    /// Regression (issue 15): U+202E RIGHT-TO-LEFT OVERRIDE made `x\u{202e}txt.exe` print
    /// as `xexe.txt`. Every character of the documented set is escaped, its neighbours are
    /// not, and ordinary non-ASCII text is left alone.
    #[test]
    fn bidi_and_invisible_format_characters_shown() {
        assert_eq!(printable("x\u{202e}txt.exe"), "x\\u{202e}txt.exe");
        let set = [
            0xad, 0x61c, 0x180e, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a,
            0x202b, 0x202c, 0x202d, 0x202e, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0x2066, 0x2067,
            0x2068, 0x2069, 0x206a, 0x206f, 0xfeff, 0xfff9, 0xfffb, 0xe0001, 0xe0041, 0xe007f,
        ];
        for cp in set {
            let c = char::from_u32(cp).unwrap();
            assert_eq!(printable(&c.to_string()), format!("\\u{{{cp:x}}}"));
        }
        for ok in [
            0x20, 0xe9, 0x2027, 0x202f, 0x2065, 0x2070, 0xfefe, 0xfff8, 0xfffc, 0xe0080,
        ] {
            let c = char::from_u32(ok).unwrap();
            assert_eq!(printable(&c.to_string()), c.to_string(), "U+{ok:04X}");
        }
        assert_eq!(
            printable("Überprüfung ntoskrnl.exe"),
            "Überprüfung ntoskrnl.exe"
        );
    }
}
