//! `kbscan`: the command-line front end. It owns argument parsing, the terminal
//! (progress bar, messages) and exit codes; everything it knows about packages comes
//! from the library crates.

mod analyze;
mod args;
mod baseline_cmd;
mod common;
mod extract;
mod output;
mod progress;

use args::{Cli, Command};
use clap::Parser;
use std::process::ExitCode;

/// Exit codes, documented in `--help` and the README.
pub mod exit {
    /// Every input was read without error.
    pub const OK: u8 = 0;
    /// The run finished but some inputs (or parts of them) failed.
    pub const INPUT_FAILED: u8 = 1;
    /// Usage error or a fatal error (unreadable path, cannot write output).
    pub const FATAL: u8 = 2;
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::FATAL
            } else {
                exit::OK
            });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // Messages name paths, which can hold any character: shown escaped.
            eprintln!(
                "kbscan: error: {}",
                kbscan_report::printable(&format!("{e:#}"))
            );
            ExitCode::from(exit::FATAL)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Scan(a) => {
            let cfg = a.into_config()?;
            common::scan_to_output(&cfg)
        }
        Command::Report(a) => analyze::report(a.into_config()?),
        Command::History(a) => analyze::history(a.into_config()?),
        Command::Baseline(a) => baseline_cmd::baseline(a.into_config()?),
        Command::Check(a) => baseline_cmd::check(a.into_config()?),
        Command::Extract(a) => extract::run(a),
    }
}
