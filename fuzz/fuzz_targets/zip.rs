//! The ZIP reader: every central-directory entry delivered within limits or with a specific
//! error, the accessors walked after a successful parse, the invariants of names and
//! duplicates checked, the memory budget given back (a small budget makes larger entries
//! spill), and the slice adapter the scanner uses.
#![no_main]
use kbscan_archive::limits::MemoryBudget;
use kbscan_archive::zip::{for_each_entry, ZipArchive};
use kbscan_archive::{Limits, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let memory = MemoryBudget::new(64 << 10);
    let limits = Limits {
        max_total_bytes: 32 << 20,
        max_entry_bytes: 8 << 20,
        memory: Some(memory.clone()),
        ..Limits::default()
    };
    match ZipArchive::parse(Source::Mem(data), &limits) {
        Err(e) => {
            let _ = (e.kind(), e.to_string(), e.ends_container());
        }
        Ok(zip) => {
            let _ = format!("{:?}", zip.info);
            for (i, e) in zip.entries.iter().enumerate() {
                assert_eq!(e.index, i);
                assert!(e.name_raw.len() <= limits.max_name_len);
                assert!(!e.name.contains('\u{fffd}') || e.name_is_utf8);
                let _ = (e.method_name(), e.is_encrypted(), e.is_dir);
                if let Some(p) = e.problem(&limits) {
                    let _ = (p.kind(), p.to_string());
                }
                if let Some(j) = e.duplicate_of {
                    assert!(j < i);
                }
                for f in &zip.entries[..i] {
                    // One text per raw name read one way: distinct raw names never merge.
                    if f.name == e.name && f.name_is_utf8 == e.name_is_utf8 {
                        assert_eq!(f.name_raw, e.name_raw);
                    }
                }
            }
            assert!(zip.duplicates().all(|(e, f)| f.index < e.index));
            let mut delivered = 0usize;
            let res = zip.for_each(&mut |e, got| match got {
                Ok(src) => {
                    delivered += 1;
                    assert_eq!(src.len(), e.uncompressed_size);
                    assert!(src.len() <= limits.max_entry_bytes);
                    let _ = src.read_upto(0, 16).expect("delivered data is readable");
                }
                Err(err) => {
                    let _ = (err.kind(), err.to_string(), err.entry_index());
                }
            });
            if let Err(e) = res {
                assert!(e.ends_container());
            }
            assert!(delivered <= zip.entries.len());
            // Random access, last entry first.
            let mut r = zip.reader();
            for i in (0..zip.entries.len()).rev().take(4) {
                let _ = r.read(i).map(|s| s.len());
            }
            drop(r);
            assert_eq!(memory.held(), 0, "memory budget given back");
        }
    }
    let res = for_each_entry(data, &limits, &mut |name, entry| {
        let _ = name.len();
        match entry {
            Ok(bytes) => assert!(bytes.len() as u64 <= limits.max_entry_bytes),
            Err(e) => {
                let _ = (e.kind(), e.to_string());
            }
        }
    });
    if let Err(e) = res {
        let _ = (e.kind(), e.to_string());
    }
    assert_eq!(memory.held(), 0);
});
