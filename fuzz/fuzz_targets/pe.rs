//! The PE version reader: any bytes give a result or a specific error; a result
//! serialises (every accessor walked).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| match kbscan_pe::read(data) {
    Ok(info) => {
        let _ = serde_json::to_vec(&info);
        if let Some(v) = &info.version {
            let _ = (
                v.file_version.map(|v| v.nt6()),
                &v.branch_tag,
                v.strings.len(),
            );
        }
    }
    Err(e) => {
        let _ = (e.kind(), e.to_string());
    }
});
