//! The CAB container walker: parse, then decode every folder once and touch every
//! accessor, recursing into nested cabinets the way the scanner does.
#![no_main]
use kbscan_archive::cab::Cabinet;
use kbscan_archive::{sniff, Limits, Magic};
use libfuzzer_sys::fuzz_target;

/// Small limits keep each input fast; the parsers must honour them, not the fuzzer.
fn limits() -> Limits {
    Limits {
        max_total_bytes: 32 << 20,
        max_entry_bytes: 8 << 20,
        ..Limits::default()
    }
}

fn walk(bytes: &[u8], depth: u32) {
    let Ok(cab) = Cabinet::parse(bytes, &limits()) else {
        return;
    };
    let h = &cab.header;
    let _ = (
        h.total_size,
        h.set_id,
        h.flags,
        &h.prev_cabinet,
        &h.next_cabinet,
        h.trailing_bytes,
    );
    for f in &cab.folders {
        let _ = (f.compression.to_string(), f.block_count, f.data_offset);
    }
    let mut nested = Vec::new();
    let report = cab.walk(&mut |entry, data| {
        let _ = (
            &entry.name,
            entry.size,
            entry.end(),
            entry.folder,
            entry.attribs,
        );
        assert!(data.len() as u64 <= limits().max_entry_bytes);
        if depth < 3 && sniff(data) == Magic::Cab {
            nested.push(data.to_vec());
        }
    });
    for (i, e) in &report.errors {
        assert!(*i < cab.files.len());
        let _ = (e.kind(), e.to_string());
    }
    for n in nested {
        walk(&n, depth + 1);
    }
}

fuzz_target!(|data: &[u8]| walk(data, 0));
