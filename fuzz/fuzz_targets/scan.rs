//! The whole pipeline on one hostile input file: the scan engine (container dispatch,
//! package assembly, IPD resolution and PA30 decoding, cross-checks, hashing on idle
//! workers), the analyses (build moves, ceilings, forecasts) and the JSON and HTML
//! renderers. The format targets cover each parser alone; this one covers what the engine
//! does with what they return. The engine turns a panic into an `internal_panic` error
//! record so a scan goes on; libFuzzer's panic hook makes any panic a crash here.
#![no_main]
use kbscan_scan::{ErrorKind, Limits, ScanOptions, SilentObserver};
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;

fn input_path() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kbscan-fuzz-scan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("input.bin")
}

fuzz_target!(|data: &[u8]| {
    // The engine reads inputs from disk; a file per process, rewritten each run.
    let path = input_path();
    std::fs::write(&path, data).expect("write input");
    // Small limits keep each run fast; the engine must honour them, not the fuzzer.
    let opts = ScanOptions {
        threads: None,
        limits: Limits {
            max_total_bytes: 32 << 20,
            max_entry_bytes: 8 << 20,
            ..Limits::default()
        },
        max_package_bytes: 64 << 20,
        // A small memory budget makes members spill and nested cabinets be read back from
        // the temporary file; a small record budget makes tables of members stop early.
        max_held_bytes: 256 << 10,
        max_records: 20_000,
        ..ScanOptions::default()
    };
    let report =
        kbscan_scan::scan_paths(&[path], &opts, &SilentObserver).expect("one readable input");
    assert_eq!(report.totals.inputs, 1, "every input is counted");
    for e in &report.errors {
        assert_ne!(e.kind, ErrorKind::InternalPanic, "{}", e.message);
    }
    let rules = kbscan_analysis::CeilingRules::defaults();
    let analysis = kbscan_analysis::analyze(&report, &rules);
    let mut out = Vec::new();
    kbscan_report::json(&report, &mut out).expect("JSON renders");
    kbscan_report::analysis::json(&analysis, &mut out).expect("analysis JSON renders");
    out.clear();
    kbscan_report::html::render(&report, &analysis, &mut out).expect("HTML renders");
});
