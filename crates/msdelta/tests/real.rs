//! Opt-in proof on genuine Microsoft payloads (`../shared/real`, see its README): every
//! PA30 blob of the KB2999226 Vista x64/x86 payload CABs and of the Windows 7 x64 MSU
//! parses, its target size equals the `_manifest_.cix.xml` length of its target, and
//! its two body buffers end exactly at the end of the blob. Then every PA30 and COPY
//! target is decoded, bases first: each decoded target's MD5 equals the PA30 header
//! hash (checked by `apply`) and its SHA-1 the index hash (checked here); the counts
//! of decoded targets and of failures by reason are printed, with the decode speed.
//! Skips with `SKIP: …` when `../shared/real` or `cabextract` is absent (fails instead under
//! `KBSCAN_REQUIRE_TOOLS=1`).

use kbscan_fixtures::require;
use std::path::Path;
use std::process::Command;

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
    /// PA30 targets decoded and verified by MD5 and SHA-1.
    decoded: usize,
    /// COPY targets whose decoded basis verified by SHA-1.
    copies: usize,
    /// PA30 targets that decode without a basis.
    null_source: usize,
    /// PE pre-processing buffers with target facts / all zero.
    pre_facts: usize,
    pre_empty: usize,
    /// Failures by error kind.
    failed: std::collections::BTreeMap<String, usize>,
    bytes: u64,
    secs: f64,
}

fn sha1_matches(t: &kbscan_cbs::CixFile, data: &[u8]) -> bool {
    use sha1::{Digest, Sha1};
    t.hash.as_deref() == Some(&Sha1::digest(data)[..])
}

/// Decodes every PA30 and COPY target of the payload, each after its basis.
fn decode_payload(label: &str, dir: &Path, index: &kbscan_cbs::ContainerIndex, out: &mut Outcome) {
    use std::collections::BTreeMap;
    let by_id: BTreeMap<u32, usize> = index
        .files
        .iter()
        .enumerate()
        .filter_map(|(i, f)| Some((f.id?, i)))
        .collect();
    // Position → decoded bytes (None: failed or not a delta target).
    let mut done: BTreeMap<usize, Option<Vec<u8>>> = BTreeMap::new();
    loop {
        let mut progress = false;
        for (i, t) in index.files.iter().enumerate() {
            let Some(delta) = &t.delta else { continue };
            if done.contains_key(&i) {
                continue;
            }
            let basis = delta.basis.first().and_then(|id| by_id.get(id).copied());
            let basis_bytes = match basis {
                Some(b) => match done.get(&b) {
                    None if index.files[b].delta.as_ref().is_some_and(|d| {
                        d.source.is_none()
                            || d.source
                                .as_ref()
                                .is_some_and(|s| s.source_type == kbscan_cbs::SourceType::Pa30)
                    }) =>
                    {
                        continue; // wait for the basis
                    }
                    Some(Some(v)) => Some(v.clone()),
                    _ => {
                        done.insert(i, None);
                        *out.failed.entry("basis_not_decoded".into()).or_default() += 1;
                        progress = true;
                        continue;
                    }
                },
                None => None,
            };
            progress = true;
            match &delta.source {
                None => {
                    let v = basis_bytes.expect("a copy has a basis");
                    assert!(sha1_matches(t, &v), "{label} {}: copy SHA-1", t.name);
                    out.copies += 1;
                    done.insert(i, Some(v));
                }
                Some(src) if src.source_type == kbscan_cbs::SourceType::Pa30 => {
                    let blob = std::fs::read(dir.join(&src.source_name)).unwrap();
                    let start = std::time::Instant::now();
                    let r = kbscan_msdelta::apply(&blob, basis_bytes.as_deref());
                    let dt = start.elapsed().as_secs_f64();
                    match r {
                        Ok(d) => {
                            assert!(d.md5_verified, "{label} {}", t.name);
                            assert!(sha1_matches(t, &d.data), "{label} {}: SHA-1", t.name);
                            out.decoded += 1;
                            out.null_source += usize::from(basis.is_none());
                            out.bytes += d.data.len() as u64;
                            out.secs += dt;
                            done.insert(i, Some(d.data));
                        }
                        Err(e) => {
                            assert!(
                                basis.is_some(),
                                "{label} {}: null-source target failed: {e}",
                                t.name
                            );
                            assert!(e.header().is_some(), "{label} {}: header kept", t.name);
                            let key = match &e {
                                kbscan_msdelta::DecodeError::Unsupported { what, .. } => {
                                    let short = what.split(" (").next().unwrap_or(what);
                                    format!("{}: {short}", e.kind())
                                }
                                _ => e.kind().to_string(),
                            };
                            *out.failed.entry(key).or_default() += 1;
                            done.insert(i, None);
                        }
                    }
                }
                Some(_) => {
                    done.insert(i, None);
                }
            }
        }
        if !progress {
            break;
        }
    }
}

fn check_payload(label: &str, dir: &Path) -> Outcome {
    let cix = std::fs::read(dir.join("_manifest_.cix.xml")).expect("payload has an IPD index");
    let index = kbscan_cbs::parse_container_index(&cix).expect("index parses");
    let mut out = Outcome {
        pa30: 0,
        matched: 0,
        decoded: 0,
        copies: 0,
        null_source: 0,
        pre_facts: 0,
        pre_empty: 0,
        failed: Default::default(),
        bytes: 0,
        secs: 0.0,
    };
    for t in &index.files {
        let Some(src) = t.delta.as_ref().and_then(|d| d.source.as_ref()) else {
            continue;
        };
        if src.source_type != kbscan_cbs::SourceType::Pa30 {
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
        if !f.preprocess.is_empty() {
            // PE deltas: the pre-processing buffer parses exactly to its end.
            let p = kbscan_msdelta::rift::parse_pe_preprocess(&blob[f.preprocess.clone()])
                .unwrap_or_else(|e| panic!("{label} {}: pre-processing buffer: {e}", t.name));
            assert_eq!(p.unread_bits, 0, "{label} {}", t.name);
            assert!(!p.cli_metadata && !p.cli_map);
            if p.image_base == 0 {
                // No target facts (seen on cross-architecture deltas): nothing at all.
                assert!(p.timestamp == 0 && p.pe_rift.is_empty() && p.rva_rift.is_empty());
                out.pre_empty += 1;
            } else {
                // Target RVA → file offset: starts at (0, 0), sections above.
                assert_eq!(
                    p.pe_rift.first(),
                    Some(&kbscan_msdelta::rift::RiftEntry {
                        source: 0,
                        target: 0
                    })
                );
                assert!(
                    p.pe_rift.len() >= 2 && p.timestamp != 0,
                    "{label} {}",
                    t.name
                );
                out.pre_facts += 1;
            }
        }
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
    println!(
        "{label}: PE pre-processing buffers parsed to their end: {} with target facts, {} all zero",
        out.pre_facts, out.pre_empty
    );
    decode_payload(label, dir, &index, &mut out);
    println!(
        "{label}: {} PA30 targets decoded ({} without a basis), MD5 and SHA-1 verified; {} COPY targets verified; failed: {:?}",
        out.decoded, out.null_source, out.copies, out.failed
    );
    out
}

#[test]
fn genuine_pa30_headers_match_the_index() {
    let Some(real) = require::shared_real() else {
        return;
    };
    if !require::tool("cabextract") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut total = 0;
    let (mut decoded, mut null_source, mut bytes, mut secs) = (0, 0, 0u64, 0f64);
    let mut tally = |o: &Outcome| {
        decoded += o.decoded;
        null_source += o.null_source;
        bytes += o.bytes;
        secs += o.secs;
    };
    for arch in ["x64", "x86"] {
        let cab = real.join(format!("cab/Windows6.0-KB2999226-{arch}.cab"));
        let dir = tmp.path().join(format!("vista-{arch}"));
        assert!(cabextract(&cab, &dir), "cabextract {}", cab.display());
        let o = check_payload(&format!("vista-{arch}"), &dir);
        assert!(o.pa30 > 0);
        assert!(o.failed.is_empty(), "vista-{arch}: failures {:?}", o.failed);
        assert_eq!(o.pa30, o.matched);
        tally(&o);
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
    assert!(o.failed.is_empty(), "win7-x64: failures {:?}", o.failed);
    assert_eq!(o.pa30, o.matched);
    tally(&o);
    total += o.pa30;
    println!("all payloads: {total} PA30 headers, all target sizes match");
    println!(
        "all payloads: {decoded} PA30 targets decoded and verified ({null_source} without a basis), {bytes} bytes, {:.1} MB/s (this build's profile)",
        bytes as f64 / secs.max(1e-9) / 1e6
    );
    // Every null-source target of the three payloads (6 + 4 + 1) decodes and verifies,
    // and so do the deltas against a basis whose source transforms are implemented.
    assert!(
        null_source >= 11,
        "{null_source} null-source targets decoded"
    );
    assert_eq!(
        decoded, 177,
        "{decoded} PA30 targets decoded (all 177 expected: 11 null-source, 166 against a basis)"
    );
}
