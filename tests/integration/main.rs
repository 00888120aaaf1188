//! End-to-end tests of the `kbscan` binary, one module per subcommand or concern.
//!
//! They are one test target (as in ripgrep's `tests/`) because each target is a separate
//! link of the whole dependency graph: six targets cost six links on every change, and
//! helpers written once in `util` could not be shared between them. Run one module with
//! `cargo test --test integration report::`.

mod check;
mod cli;
mod extract;
mod hostile;
mod html;
mod ipd;
mod report;
mod util;
