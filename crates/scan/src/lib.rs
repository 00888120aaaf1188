//! The scan engine: turns paths on disk into a [`ScanReport`].
//!
//! It walks directories, opens every input by signature (never by extension), follows
//! the nesting of real update packages (ZIP → MSU → payload CAB → sub-CAB) through
//! `kbscan-archive`, hands manifests to `kbscan-cbs` and PE images to `kbscan-pe`, and
//! cross-checks what they say about each file.
//!
//! Invariants:
//! - one input never ends the scan: each runs under its own `catch_unwind`, every
//!   failure becomes an [`ErrorRecord`] naming the nested path, and every input is
//!   counted in [`Totals`];
//! - each CAB folder is decoded once (the archive crate streams files in folder order;
//!   this crate never asks for a file twice);
//! - output order is independent of the thread count: results are delivered in input
//!   order and nothing iterates a hash map into the report;
//! - only regular files are opened (devices, FIFOs and sockets are listed as skipped,
//!   never read), each read through a cap of `max_input_bytes`, and nothing the walk
//!   meets (an unreadable directory, a failed `stat`) ends the run: see `walk`;
//! - memory is bounded by a reorder window of a few inputs per thread, not by the corpus,
//!   when the caller consumes [`scan_paths_streaming`] as it goes.
//!
//! This crate never prints; progress goes through [`Observer`].

mod convert;
mod digest;
mod dispatch;
mod input;
mod options;
mod package;
mod pipeline;
mod walk;

pub use kbscan_archive::limits::Limits;
pub use options::{ScanOptions, MAX_INPUT_BYTES, MAX_NESTING_DEPTH};
pub use pipeline::{
    scan_paths, scan_paths_streaming, Observer, ScanError, SilentObserver, StreamError,
};
// The report types live in `kbscan-model` (the API boundary); re-exported so that a
// caller of the engine needs one crate.
pub use kbscan_model::*;
pub use walk::{file_type_name, read_regular_file, FileId, InputBytes, ReadError};
