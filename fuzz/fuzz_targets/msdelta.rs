//! The PA30 reader and decoder: any bytes give a header, a verified target or a
//! specific error — never a panic, a hang, or bytes that fail the header's hash.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = kbscan_msdelta::parse_framing(data) {
        let _ = (
            kbscan_msdelta::describe(&f.header),
            f.header.target_time_utc(),
        );
        let _ = kbscan_msdelta::rift::parse_pe_preprocess(&data[f.preprocess.clone()]);
    }
    match kbscan_msdelta::apply(data, None) {
        Ok(d) => {
            assert_eq!(d.data.len() as u64, d.header.target_size);
            assert!(d.md5_verified || d.header.hash.is_empty());
        }
        Err(e) => {
            let _ = (e.kind(), e.to_string(), e.header());
        }
    }
});
