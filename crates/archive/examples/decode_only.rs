//! Decode-only floor for `scripts/bench`: walks every CAB folder of every input (and of every
//! cabinet nested in it) with `kbscan-archive`, single thread, without hashing or parsing
//! members. What it costs is what kbscan cannot avoid: read, checksum, decompress, cut files.
//!
//! `cargo run --release -p kbscan-archive --example decode_only -- PATH...` (files or
//! directories, not recursive). Prints one summary line; exit code 1 if any member failed.

use kbscan_archive::{sniff, Cabinet, Limits, Magic};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Default)]
struct Totals {
    inputs: u64,
    cabinets: u64,
    folders: u64,
    blocks: u64,
    decoded: u64,
    files: u64,
    errors: u64,
}

fn walk_cab(bytes: &[u8], limits: &Limits, depth: u32, t: &mut Totals) {
    let cab = match Cabinet::parse(bytes, limits) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("decode_only: cabinet at depth {depth}: {e}");
            t.errors += 1;
            return;
        }
    };
    t.cabinets += 1;
    let mut nested: Vec<Vec<u8>> = Vec::new();
    let report = cab.walk(&mut |_, data| {
        // Nested cabinets are walked after this one, like the scanner's recursion.
        if depth < 4 && matches!(sniff(data), Magic::Cab) {
            nested.push(data.to_vec());
        }
    });
    t.folders += u64::from(report.stats.folders_decoded);
    t.blocks += report.stats.blocks_decoded;
    t.decoded += report.stats.bytes_decoded;
    t.files += report.stats.files_delivered;
    t.errors += report.errors.len() as u64;
    for n in nested {
        walk_cab(&n, limits, depth + 1, t);
    }
}

fn main() -> ExitCode {
    let mut inputs: Vec<PathBuf> = Vec::new();
    for a in std::env::args_os().skip(1) {
        let p = PathBuf::from(a);
        if p.is_dir() {
            let Ok(rd) = std::fs::read_dir(&p) else {
                eprintln!("decode_only: cannot read {}", p.display());
                return ExitCode::from(2);
            };
            let mut v: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
            v.retain(|f| f.is_file());
            v.sort();
            inputs.extend(v);
        } else {
            inputs.push(p);
        }
    }
    if inputs.is_empty() {
        eprintln!("usage: decode_only PATH...");
        return ExitCode::from(2);
    }
    let limits = Limits::default();
    let mut t = Totals::default();
    let start = std::time::Instant::now();
    for p in &inputs {
        let bytes = match std::fs::read(p) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("decode_only: {}: {e}", p.display());
                t.errors += 1;
                continue;
            }
        };
        if matches!(sniff(&bytes), Magic::Cab) {
            t.inputs += 1;
            walk_cab(&bytes, &limits, 0, &mut t);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "decode_only: {} inputs, {} cabinets, {} folders, {} blocks, {} files, {} bytes decoded, \
         {} errors, {:.3} s, {:.1} MB/s",
        t.inputs,
        t.cabinets,
        t.folders,
        t.blocks,
        t.files,
        t.decoded,
        t.errors,
        secs,
        t.decoded as f64 / 1e6 / secs.max(1e-9)
    );
    if t.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
