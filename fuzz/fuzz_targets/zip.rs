//! The ZIP walker: every entry delivered within limits or with a specific error.
#![no_main]
use kbscan_archive::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_total_bytes: 32 << 20,
        max_entry_bytes: 8 << 20,
        ..Limits::default()
    };
    let res = kbscan_archive::zip::for_each_entry(data, &limits, &mut |name, entry| {
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
});
