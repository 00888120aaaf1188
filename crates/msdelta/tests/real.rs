//! Opt-in proof on genuine Microsoft payloads (`../shared/real`, see its README): every
//! PA30 blob of the KB2999226 Vista x64/x86 payload CABs and of the Windows 7 x64 MSU
//! parses, its target size equals the `_manifest_.cix.xml` length of its target, and
//! its two body buffers end exactly at the end of the blob. Skips with `SKIP: …` when
//! `../shared/real` or `cabextract` is absent.

use std::path::{Path, PathBuf};
use std::process::Command;

fn real_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/real")
}

fn cabextract(file: &Path, dir: &Path) -> bool {
    Command::new("cabextract")
        .arg("-q")
        .arg("-d")
        .arg(dir)
        .arg(file)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

struct Outcome {
    pa30: usize,
    matched: usize,
}

fn check_payload(label: &str, dir: &Path) -> Outcome {
    let cix = std::fs::read(dir.join("_manifest_.cix.xml")).expect("payload has an IPD index");
    let index = kbscan_cbs::parse_container_index(&cix).expect("index parses");
    let mut out = Outcome {
        pa30: 0,
        matched: 0,
    };
    for t in &index.files {
        let Some(src) = t.delta.as_ref().and_then(|d| d.source.as_ref()) else {
            continue;
        };
        if !src.source_type.eq_ignore_ascii_case("PA30") {
            continue;
        }
        out.pa30 += 1;
        let blob = std::fs::read(dir.join(&src.source_name)).expect("blob extracted");
        let f = kbscan_msdelta::parse_framing(&blob)
            .unwrap_or_else(|e| panic!("{label} {}: {e} ({})", t.name, e.kind()));
        let h = &f.header;
        assert_eq!(
            f.trailing, 0,
            "{label} {}: bytes after the patch buffer",
            t.name
        );
        assert_eq!(h.hash_alg, kbscan_msdelta::CALG_MD5, "{label} {}", t.name);
        assert_eq!(h.hash.len(), 16, "{label} {}", t.name);
        assert!(kbscan_msdelta::file_type_name(h.file_type).is_some());
        assert!(h.target_time_utc().is_some());
        if Some(h.target_size) == t.length {
            out.matched += 1;
        } else {
            panic!(
                "{label} {}: PA30 target size {} but the index says {:?}",
                t.name, h.target_size, t.length
            );
        }
        println!(
            "{label} blob {:>4} {} set={} type={} flags={:#x} [{}] size={} {}={} pre={} patch={} {}",
            src.source_name,
            h.target_time_utc().unwrap_or_default(),
            kbscan_msdelta::file_type_set_name(h.file_type_set).unwrap_or("?"),
            kbscan_msdelta::file_type_name(h.file_type).unwrap_or("?"),
            h.flags,
            kbscan_msdelta::flag_names(h.flags).join("|"),
            h.target_size,
            kbscan_msdelta::hash_alg_name(h.hash_alg).unwrap_or("?"),
            h.hash_hex(),
            f.preprocess.len(),
            f.patch.len(),
            t.name.rsplit('\\').next().unwrap_or(&t.name),
        );
    }
    println!(
        "{label}: {} PA30 headers parsed, {} target sizes match the index",
        out.pa30, out.matched
    );
    out
}

#[test]
fn genuine_pa30_headers_match_the_index() {
    let real = real_dir();
    if !real.is_dir() {
        println!(
            "SKIP: {} not found (genuine packages are opt-in)",
            real.display()
        );
        return;
    }
    if Command::new("cabextract")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("SKIP: cabextract not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut total = 0;
    for arch in ["x64", "x86"] {
        let cab = real.join(format!("cab/Windows6.0-KB2999226-{arch}.cab"));
        let dir = tmp.path().join(format!("vista-{arch}"));
        assert!(cabextract(&cab, &dir), "cabextract {}", cab.display());
        let o = check_payload(&format!("vista-{arch}"), &dir);
        assert!(o.pa30 > 0);
        assert_eq!(o.pa30, o.matched);
        total += o.pa30;
    }
    let msu = real.join("msu/Windows6.1-KB2999226-x64.msu");
    let outer = tmp.path().join("win7-msu");
    assert!(cabextract(&msu, &outer), "cabextract {}", msu.display());
    let dir = tmp.path().join("win7-x64");
    assert!(cabextract(
        &outer.join("Windows6.1-KB2999226-x64.cab"),
        &dir
    ));
    let o = check_payload("win7-x64", &dir);
    assert!(o.pa30 > 0);
    assert_eq!(o.pa30, o.matched);
    total += o.pa30;
    println!("all payloads: {total} PA30 headers, all target sizes match");
}
