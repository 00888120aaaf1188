//! Rendering a scan while it runs, one input at a time, so that memory stays bounded by
//! what one input produced instead of growing with the corpus.

use crate::error::RenderError;
use crate::scan::{csv_package, jsonl_outcome, jsonl_totals, table, table_row, TableRow};
use crate::scan::{Format, CSV_HEADER};
use kbscan_model::{ErrorRecord, InputOutcome, InputRecord, ScanReport, Totals};
use std::io::{self, BufWriter, Seek, Write};

/// Renders [`InputOutcome`]s as they arrive: [`push`](Streamer::push) each one (in input
/// order), then [`finish`](Streamer::finish) with the totals. The bytes equal what the
/// same formats give for the whole report at once (the JSON is byte-identical to
/// pretty-printing the collected [`ScanReport`]; a test holds it to that).
pub struct Streamer<W: Write> {
    inner: Inner<W>,
}

enum Inner<W: Write> {
    /// Packages go to an anonymous temporary file as they come, because the document
    /// lists `inputs` (known only at the end) before `packages`. Inputs and errors are
    /// small and stay in memory.
    Json {
        out: W,
        spool: BufWriter<std::fs::File>,
        packages: u64,
        inputs: Vec<InputRecord>,
        errors: Vec<ErrorRecord>,
    },
    Jsonl {
        out: W,
    },
    Csv {
        w: Box<csv::Writer<W>>,
    },
    Table {
        out: W,
        rows: Vec<TableRow>,
        errors: Vec<ErrorRecord>,
    },
}

/// serde_json's pretty printer indents by two spaces per level; a package is an element
/// of the top-level object's `packages` array, two levels down.
const PACKAGE_INDENT: &[u8] = b"    ";
/// How the empty `packages` array appears in the pretty-printed report skeleton.
const EMPTY_PACKAGES: &str = "\n  \"packages\": [],\n";

impl<W: Write> Streamer<W> {
    /// Starts a rendering into `out`. JSON needs a temporary file (in `$TMPDIR`).
    pub fn new(format: Format, mut out: W) -> Result<Self, RenderError> {
        let inner = match format {
            Format::Json => Inner::Json {
                out,
                spool: BufWriter::new(tempfile()?),
                packages: 0,
                inputs: Vec::new(),
                errors: Vec::new(),
            },
            Format::Jsonl => Inner::Jsonl { out },
            Format::Csv => {
                let mut w = Box::new(csv::Writer::from_writer(out));
                w.write_record(CSV_HEADER)?;
                Inner::Csv { w }
            }
            Format::Table => {
                out.flush()?;
                Inner::Table {
                    out,
                    rows: Vec::new(),
                    errors: Vec::new(),
                }
            }
        };
        Ok(Streamer { inner })
    }

    /// Renders one input and everything it produced.
    pub fn push(&mut self, o: InputOutcome) -> Result<(), RenderError> {
        match &mut self.inner {
            Inner::Json {
                spool,
                packages,
                inputs,
                errors,
                ..
            } => {
                let mut buf = Vec::new();
                for p in &o.packages {
                    buf.clear();
                    serde_json::to_writer_pretty(&mut buf, p)?;
                    if *packages > 0 {
                        spool.write_all(b",\n")?;
                    }
                    for (i, line) in buf.split(|&b| b == b'\n').enumerate() {
                        if i > 0 {
                            spool.write_all(b"\n")?;
                        }
                        spool.write_all(PACKAGE_INDENT)?;
                        spool.write_all(line)?;
                    }
                    *packages += 1;
                }
                inputs.push(o.input);
                errors.extend(o.errors);
            }
            Inner::Jsonl { out } => jsonl_outcome(&o, out)?,
            Inner::Csv { w } => {
                for p in &o.packages {
                    csv_package(p, &mut **w)?;
                }
            }
            Inner::Table { rows, errors, .. } => {
                rows.extend(o.packages.iter().map(table_row));
                errors.extend(o.errors);
            }
        }
        Ok(())
    }

    /// Writes what comes after the last input and returns the writer, flushed.
    pub fn finish(self, totals: &Totals) -> Result<W, RenderError> {
        match self.inner {
            Inner::Json {
                mut out,
                spool,
                packages,
                inputs,
                errors,
            } => {
                let mut skeleton = ScanReport::empty();
                skeleton.inputs = inputs;
                skeleton.errors = errors;
                skeleton.totals = totals.clone();
                let text = serde_json::to_string_pretty(&skeleton)?;
                // Strings are escaped on one line, so the only line that is exactly the
                // top-level empty `packages` array is the one serde wrote for it.
                let at = text.find(EMPTY_PACKAGES).ok_or_else(|| {
                    io::Error::other("internal: report skeleton lacks the packages array")
                })?;
                let (before, after) = text.split_at(at + EMPTY_PACKAGES.len() - 4);
                let after = &after[2..]; // skip the skeleton's "[]"
                out.write_all(before.as_bytes())?;
                if packages == 0 {
                    out.write_all(b"[]")?;
                } else {
                    out.write_all(b"[\n")?;
                    let mut file = spool.into_inner().map_err(|e| e.into_error())?;
                    file.rewind()?;
                    io::copy(&mut file, &mut out)?;
                    out.write_all(b"\n  ]")?;
                }
                out.write_all(after.as_bytes())?;
                out.write_all(b"\n")?;
                out.flush()?;
                Ok(out)
            }
            Inner::Jsonl { mut out } => {
                jsonl_totals(totals, &mut out)?;
                out.flush()?;
                Ok(out)
            }
            Inner::Csv { w } => {
                let mut out = w.into_inner().map_err(|e| e.into_error())?;
                out.flush()?;
                Ok(out)
            }
            Inner::Table {
                mut out,
                rows,
                errors,
            } => {
                table(&rows, &errors, totals, &mut out)?;
                out.flush()?;
                Ok(out)
            }
        }
    }
}

fn tempfile() -> io::Result<std::fs::File> {
    tempfile::tempfile()
}
