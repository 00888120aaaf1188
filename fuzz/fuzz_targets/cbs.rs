//! Every CBS/XML parser on the same bytes; a successful parse is serialised, which
//! walks every field the scanner could read.
#![no_main]
use libfuzzer_sys::fuzz_target;

fn touch<T: serde::Serialize>(r: Result<T, kbscan_cbs::CbsError>) {
    match r {
        Ok(v) => {
            let _ = serde_json::to_vec(&v);
        }
        Err(e) => {
            let _ = (e.kind(), e.to_string());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = kbscan_cbs::sniff_manifest(data);
    touch(kbscan_cbs::parse_package_mum(data));
    touch(kbscan_cbs::parse_component_manifest(data));
    touch(kbscan_cbs::parse_container_index(data));
    touch(kbscan_cbs::parse_unattend(data));
    if let Ok(p) = kbscan_cbs::parse_pkg_properties(data) {
        let _ = (
            p.build_date(),
            p.kb_article(),
            p.processor_architecture(),
            p.get("Applies to"),
        );
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = kbscan_cbs::parse_component_key(s);
    }
});
