//! The PA30 reader and decoder: any bytes give a header, a verified target or a
//! specific error — never a panic, a hang, or bytes that fail the header's hash. The
//! same input is also read as a basis and a delta against it (the first two bytes give
//! the basis length), which drives the PE source transforms and the copy rift.
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
    if let [lo, hi, rest @ ..] = data {
        let n = usize::from(u16::from_le_bytes([*lo, *hi])).min(rest.len());
        let (basis, delta) = rest.split_at(n);
        match kbscan_msdelta::apply(delta, Some(basis)) {
            Ok(d) => {
                assert_eq!(d.data.len() as u64, d.header.target_size);
                assert!(d.md5_verified || d.header.hash.is_empty());
            }
            Err(e) => {
                let _ = (e.kind(), e.to_string(), e.header());
            }
        }
        if let Ok(f) = kbscan_msdelta::parse_framing(delta) {
            if let Ok(p) = kbscan_msdelta::rift::parse_pe_preprocess(&delta[f.preprocess.clone()]) {
                let _ = kbscan_msdelta::source::prepare(basis, &p, f.header.flags);
            }
        }
    }
});
