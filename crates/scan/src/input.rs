//! One input file, start to finish: read it (whole, or by position when it is larger than
//! the memory one input may hold), hash it, and dispatch it by signature (never by
//! extension) — cabinets and ZIPs to the container walker with the scanner's sink
//! (`crate::dispatch`), bare PE images to a package of their own — under its own
//! `catch_unwind`, into one [`InputOutcome`].

use crate::digest;
use crate::dispatch::{format_name, Cx};
use crate::options::ScanOptions;
use crate::walk::{InputBytes, InputFile};
use kbscan_archive::limits::{Budget, MemoryBudget};
use kbscan_archive::{sniff, Magic, NestedPath};
use kbscan_model::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub(crate) fn scan_input_guarded(
    f: &InputFile,
    opts: &ScanOptions,
    load: &digest::Workers,
) -> InputOutcome {
    match catch_unwind(AssertUnwindSafe(|| scan_input(f, opts, load))) {
        Ok(o) => o,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let err = ErrorRecord {
                path: f.display.clone(),
                kind: ErrorKind::InternalPanic,
                message: format!("kbscan bug: the scanner panicked on this input ({msg}); please report it with the file"),
            };
            InputOutcome {
                input: InputRecord {
                    path: f.display.clone(),
                    size: f.size,
                    sha256: None,
                    format: "unknown".into(),
                    status: InputStatus::Failed,
                    packages: 0,
                    errors: 1,
                    ignored: Vec::new(),
                },
                packages: Vec::new(),
                errors: vec![err],
            }
        }
    }
}

fn scan_input(f: &InputFile, opts: &ScanOptions, load: &digest::Workers) -> InputOutcome {
    // Every container read for this input (and only this input) draws on one allowance of
    // bytes produced, one of memory held and one of records.
    let mut opts = opts.clone();
    opts.limits.package_budget = Some(Budget::new(opts.max_package_bytes));
    let memory = MemoryBudget::new(opts.max_held_bytes);
    opts.limits.memory = Some(memory.clone());
    opts.limits.records = Some(Budget::new(opts.max_records));
    let opts = &opts;
    let mut input = InputRecord {
        path: f.display.clone(),
        size: f.size,
        sha256: None,
        format: "unknown".into(),
        status: InputStatus::Scanned,
        packages: 0,
        errors: 0,
        ignored: Vec::new(),
    };
    let root = NestedPath::new(f.display.clone());
    let slots = digest::Slots::default();
    let mut cx = Cx::new(opts, None);
    if f.size > opts.max_input_bytes {
        cx.error(
            &root,
            ErrorKind::Limit(LimitKind::InputSize),
            format!(
                "input is {} bytes, more than the limit of {} bytes (max_input_bytes)",
                f.size, opts.max_input_bytes
            ),
        );
    } else {
        // An input is read whole while the input's memory budget allows (the fast path:
        // members are cut out of it without a copy); a larger one is read by position.
        let mut held = memory.claim();
        let hold = if held.grow(f.size) { f.size } else { 0 };
        let read = InputBytes::open(&f.path, f.size, hold, opts.max_input_bytes);
        match read {
            Ok(data) => {
                let src = data.source();
                let head = src.read_upto(0, 8).unwrap_or_default();
                let magic = sniff(&head);
                input.format = format_name(magic).into();
                let found = rayon::in_place_scope(|s| {
                    let hasher = digest::Hasher::new(s, &slots, load);
                    let mut cx = Cx::new(opts, Some(&hasher));
                    let sha256 = hasher.whole(src);
                    match magic {
                        Magic::Cab | Magic::Zip => cx.walk_input(src, &root, sha256.clone()),
                        m => cx.leaf(src, m, &root, true, Some(sha256.clone())),
                    }
                    (sha256, cx.into_found())
                });
                input.sha256 = Some(slots.resolve(found.0));
                cx.absorb(found.1);
            }
            Err(e) => cx.error(&root, e.report_kind(), e.to_string()),
        }
    }
    // Any hashing scope has ended, so every job has filled its slot.
    let found = cx.into_found();
    let packages: Vec<Package> = found
        .packages
        .into_iter()
        .map(|b| b.resolve(&slots))
        .collect();
    input.packages = packages.len() as u32;
    input.ignored = found.ignored;
    let mut errors = found.errors;
    for p in &packages {
        errors.extend(p.errors.iter().cloned());
    }
    input.errors = errors.len() as u32;
    input.status = if !errors.is_empty() && !found.unsupported {
        InputStatus::Failed
    } else if found.unsupported {
        InputStatus::Unsupported
    } else if found.skipped {
        InputStatus::Skipped
    } else {
        InputStatus::Scanned
    };
    InputOutcome {
        input,
        packages,
        errors,
    }
}
