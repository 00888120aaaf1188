//! Rendering what kbscan found, for people and for machines: a
//! [`ScanReport`](kbscan_model::ScanReport) as a table, JSON, JSON Lines or CSV
//! ([`Streamer`], [`json`]); its analysis (`kbscan report`) as a table, Markdown, JSON or
//! one HTML page with SVG charts ([`analysis`], [`html`], [`charts`]); a file's history
//! (`kbscan history`); and `kbscan check`'s changes as text, JSON, JUnit or GitHub
//! annotations ([`check`]).
//!
//! Every renderer writes to any `io::Write` and is a pure function of its input: the same
//! report gives the same bytes (no clock, no hash-map order). Scan reports are rendered as
//! the scan goes ([`Streamer`]), one input at a time, so memory does not grow with the
//! corpus. Every string from a package reaches a human format through [`printable`].
//!
//! This crate never decides what is true about a package (that is the scanner's and the
//! analyses' job), never opens a named file (the caller writes `-o` and the chart files;
//! the JSON streamer spools to an anonymous temporary file) and never touches a terminal.
//!
//! Modules, in dependency order (each uses only those before it): `error`, `format`
//! (shared formatting of values), [`text`] (the table type, truncation, wrap),
//! `scan`, `stream`, [`check`], `history`, `sections` (the text and Markdown report),
//! [`charts`], [`html`], and [`analysis`] (the entry points of `kbscan report`/`history`).

pub mod analysis;
pub mod charts;
pub mod check;
mod error;
mod format;
mod history;
pub mod html;
mod scan;
mod sections;
mod stream;
pub mod text;

pub use error::RenderError;
pub use format::{is_disguising, printable};
pub use scan::{json, Format, CSV_HEADER};
pub use stream::Streamer;
