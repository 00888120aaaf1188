//! Dev tool: decodes every PA30 target of an extracted IPD payload directory, bases
//! first, and describes each delta against a basis that fails:
//! `cargo run --release -p kbscan-msdelta --example pa30-chain -- DIR [-o OUT] [--seeds SEEDS]`.
//!
//! `--seeds SEEDS` writes, for every verified delta against a basis of at most 65,535
//! bytes, a seed for the `msdelta` fuzz target in the layout it splits (basis length,
//! 2 bytes little-endian; the basis; the delta), so fuzzing starts from genuine pairs
//! that reach the PE source transforms instead of from deltas alone.
use std::collections::BTreeMap;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("payload directory"));
    let (mut out, mut seeds) = (None, None);
    while let Some(flag) = args.next() {
        let value = args.next().map(std::path::PathBuf::from);
        match flag.as_str() {
            "-o" => out = value,
            "--seeds" => seeds = value,
            other => panic!("unknown option {other}"),
        }
    }
    let cix = std::fs::read(dir.join("_manifest_.cix.xml")).expect("index");
    let index = kbscan_cbs::parse_container_index(&cix).expect("index parses");
    let by_id: BTreeMap<u32, usize> = index
        .files
        .iter()
        .enumerate()
        .filter_map(|(i, f)| Some((f.id?, i)))
        .collect();
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
                    None if index.files[b].delta.is_some() => continue,
                    Some(Some(v)) => Some(v.clone()),
                    _ => {
                        done.insert(i, None);
                        progress = true;
                        continue;
                    }
                },
                None => None,
            };
            progress = true;
            match &delta.source {
                None => {
                    done.insert(i, basis_bytes);
                }
                Some(src) if src.source_type == kbscan_cbs::SourceType::Pa30 => {
                    let blob = std::fs::read(dir.join(&src.source_name)).unwrap();
                    match kbscan_msdelta::apply(&blob, basis_bytes.as_deref()) {
                        Ok(d) => {
                            if std::env::var_os("SHOW_OK").is_some() {
                                let f = kbscan_msdelta::parse_framing(&blob).unwrap();
                                if let Ok(p) = kbscan_msdelta::rift::parse_pe_preprocess(
                                    &blob[f.preprocess.clone()],
                                ) {
                                    println!(
                                        "OK blob {} basis {} size {} rva_rift {:x?}",
                                        src.source_name,
                                        basis_bytes.as_ref().map_or(0, |b| b.len()),
                                        d.data.len(),
                                        p.rva_rift
                                            .iter()
                                            .take(5)
                                            .map(|e| (e.source, e.target))
                                            .collect::<Vec<_>>()
                                    );
                                }
                            }
                            if let Some(o) = &out {
                                std::fs::write(o.join(format!("ok-{}", src.source_name)), &d.data)
                                    .ok();
                            }
                            if let (Some(s), Some(b)) = (&seeds, basis_bytes.as_deref()) {
                                if let Ok(n) = u16::try_from(b.len()) {
                                    let mut seed = n.to_le_bytes().to_vec();
                                    seed.extend_from_slice(b);
                                    seed.extend_from_slice(&blob);
                                    let name = format!(
                                        "pair-{}-{}",
                                        dir.file_name().unwrap_or_default().to_string_lossy(),
                                        src.source_name
                                    );
                                    std::fs::write(s.join(name), seed).expect("write seed");
                                }
                            }
                            done.insert(i, Some(d.data));
                        }
                        Err(e) => {
                            let f = kbscan_msdelta::parse_framing(&blob).unwrap();
                            let pre = kbscan_msdelta::rift::parse_pe_preprocess(
                                &blob[f.preprocess.clone()],
                            );
                            let b = basis_bytes.as_deref().unwrap_or(&[]);
                            let pe = kbscan_msdelta::pe::PeImage::parse(b);
                            println!(
                                "FAIL blob {} basis blob {:?} {} size {} basis {} flags {:#x}: {}",
                                src.source_name,
                                basis.and_then(|b| index.files[b]
                                    .delta
                                    .as_ref()
                                    .and_then(|d| d.source.as_ref())
                                    .map(|s| s.source_name.clone())),
                                t.name,
                                f.header.target_size,
                                b.len(),
                                f.header.flags,
                                e
                            );
                            if let Ok(p) = pre {
                                println!(
                                    "  pre: base {:#x} ts {:#x} pe_rift {:x?} rva_rift {} entries {:x?}",
                                    p.image_base,
                                    p.timestamp,
                                    p.pe_rift.iter().map(|e| (e.source, e.target)).collect::<Vec<_>>(),
                                    p.rva_rift.len(),
                                    p.rva_rift.iter().take(6).map(|e| (e.source, e.target)).collect::<Vec<_>>()
                                );
                            }
                            if let Some(pe) = pe {
                                println!(
                                    "  basis: machine {:#x} base {:#x} dirs {:x?}",
                                    pe.machine, pe.image_base, pe.dirs
                                );
                                for s in &pe.sections {
                                    println!("   sec {s:x?}");
                                }
                            }
                            if let Some(o) = &out {
                                std::fs::write(o.join(format!("{}.basis", src.source_name)), b)
                                    .ok();
                            }
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
