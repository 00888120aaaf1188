//! LZX folders written by the fixtures encoder (checked against cabextract and 7-Zip in
//! kbscan-fixtures' tests/cab.rs), walked with kbscan-archive, i.e. decoded by kbscan-lzx:
//! every window size, block kind, E8 on and off, files spanning CFDATA blocks, and E8
//! operands that translate to absolute 0 (which the old `lzxd` path got wrong).

use kbscan_fixtures::noise;
use kbscan_fixtures::require;
use std::process::Command;

use kbscan_archive::cab::Cabinet;
use kbscan_archive::Limits;
use kbscan_fixtures::cab::{write_cab, CabFile, CabFolder, CabSpec, Compression};
use kbscan_fixtures::lzx::{BlockKind, LzxOptions, FRAME_SIZE};

/// PE-ish bytes: E8 calls (some translating to absolute 0), text, zeros and repeats.
fn payload(len: usize, seed: u64) -> Vec<u8> {
    let noise = noise(len, seed);
    let mut out = Vec::with_capacity(len + 64);
    let mut i = 0usize;
    while out.len() < len {
        match i % 5 {
            0 => {
                let pos = out.len() as i32;
                let rel = if matches!(i % 3, 0) {
                    -pos
                } else {
                    i32::from(noise[i % len]) * 301 - 30000
                };
                out.push(0xE8);
                out.extend_from_slice(&rel.to_le_bytes());
            }
            1 => out.extend_from_slice(b"ntoskrnl.exe\0KERNEL32.dll\0"),
            2 => out.extend_from_slice(&[0u8; 37]),
            3 => out.extend_from_slice(&noise[i % len..][..(len - i % len).min(23)]),
            _ => {
                let back = (i * 7919) % out.len().max(1);
                let start = out.len() - back.max(1).min(out.len());
                let chunk: Vec<u8> = out[start..].iter().copied().take(50).collect();
                out.extend_from_slice(&chunk);
            }
        }
        i += 1;
    }
    out.truncate(len);
    out
}

fn walk(cab: &[u8]) -> Vec<(String, Vec<u8>)> {
    let cab = Cabinet::parse(cab, &Limits::default()).expect("parse");
    let mut got = Vec::new();
    let report = cab.walk(&mut |f, b| got.push((f.name.clone(), b.to_vec())));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    got
}

fn spec(folders: Vec<CabFolder>) -> CabSpec {
    CabSpec {
        folders,
        set_id: 9,
        reserve: None,
    }
}

#[test]
fn every_window_kind_and_e8_matches_the_input() {
    let kinds = [
        BlockKind::Verbatim,
        BlockKind::Aligned,
        BlockKind::Uncompressed,
        BlockKind::Mixed,
    ];
    let mut folders = Vec::new();
    for bits in 15..=21u8 {
        for (k, kind) in kinds.into_iter().enumerate() {
            for e8 in [false, true] {
                // Three files per folder, the middle one spanning several CFDATA blocks.
                let seed = u64::from(bits) * 16 + k as u64 * 2 + u64::from(e8);
                let files = vec![
                    CabFile::new(format!("{bits}-{kind:?}-{e8}-a.bin"), payload(1000, seed)),
                    CabFile::new(
                        format!("{bits}-{kind:?}-{e8}-b.bin"),
                        payload(3 * FRAME_SIZE + 17, seed + 1),
                    ),
                    CabFile::new(format!("{bits}-{kind:?}-{e8}-c.bin"), payload(11, seed + 2)),
                ];
                folders.push(CabFolder {
                    compression: Compression::LzxWith {
                        window_bits: bits,
                        options: LzxOptions {
                            block_kind: kind,
                            e8,
                        },
                    },
                    files,
                });
            }
        }
    }
    let s = spec(folders);
    let expected: Vec<(String, Vec<u8>)> = s
        .folders
        .iter()
        .flat_map(|f| f.files.iter().map(|m| (m.name.clone(), m.data.clone())))
        .collect();
    let got = walk(&write_cab(&s));
    assert_eq!(got.len(), expected.len());
    for ((gn, gb), (en, eb)) in got.iter().zip(&expected) {
        assert_eq!(gn, en);
        assert!(gb == eb, "{gn} differs");
    }
}

/// The E8 absolute-0 case against 7-Zip directly (skipped when `7zz` is absent).
#[test]
fn e8_absolute_zero_agrees_with_7zip() {
    let mut data = vec![0xE8, 0, 0, 0, 0];
    data.extend_from_slice(b"padding bytes");
    data.extend_from_slice(&payload(2 * FRAME_SIZE, 5));
    let s = spec(vec![CabFolder {
        compression: Compression::LzxWith {
            window_bits: 15,
            options: LzxOptions {
                block_kind: BlockKind::Verbatim,
                e8: true,
            },
        },
        files: vec![CabFile::new("zero.bin", data.clone())],
    }]);
    let cab = write_cab(&s);
    let got = walk(&cab);
    assert!(got[0].1 == data, "kbscan-lzx: absolute 0 mistranslated");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("zero.cab");
    std::fs::write(&path, &cab).expect("write");
    if !require::tool("7zz") {
        return;
    }
    let o = Command::new("7zz")
        .arg("x")
        .arg("-y")
        .arg("-bso0")
        .arg("-bsp0")
        .arg(format!("-o{}", dir.path().join("out").display()))
        .arg(&path)
        .output()
        .expect("run 7zz");
    assert!(o.status.success(), "7zz failed");
    let theirs = std::fs::read(dir.path().join("out/zero.bin")).expect("7zz output");
    assert!(theirs == got[0].1, "differs from 7-Zip");
}

// ---------------------------------------------------------------------------------------------
// Genuine cabinets: kbscan-lzx against the `lzxd` oracle, frame by frame

/// Decodes every LZX folder of `bytes` with both decoders and compares each frame; returns
/// the number of frames compared. Also recurses into nested cabinets (an MSU's payload).
fn compare_with_lzxd(bytes: &[u8], name: &str) -> u64 {
    use kbscan_archive::cab::Compression as C;
    let cab = Cabinet::parse(bytes, &Limits::default()).expect("parse");
    let reserve = usize::from(cab.header.data_reserve);
    let mut frames = 0;
    for folder in &cab.folders {
        let C::Lzx { window_bits } = folder.compression else {
            continue;
        };
        let mut ours = kbscan_lzx::Decoder::new(window_bits).expect("window");
        let mut theirs = lzxd::Lzxd::new(match window_bits {
            15 => lzxd::WindowSize::KB32,
            16 => lzxd::WindowSize::KB64,
            17 => lzxd::WindowSize::KB128,
            18 => lzxd::WindowSize::KB256,
            19 => lzxd::WindowSize::KB512,
            20 => lzxd::WindowSize::MB1,
            _ => lzxd::WindowSize::MB2,
        });
        let mut at = folder.data_offset as usize;
        for block in 0..folder.block_count {
            let hdr = &bytes[at..at + 8];
            let cb_data = usize::from(u16::from_le_bytes([hdr[4], hdr[5]]));
            let cb_uncomp = usize::from(u16::from_le_bytes([hdr[6], hdr[7]]));
            let data = &bytes[at + 8 + reserve..at + 8 + reserve + cb_data];
            at += 8 + reserve + cb_data;
            let a = ours
                .decode_frame(data, cb_uncomp)
                .unwrap_or_else(|e| panic!("{name} folder {} block {block}: {e}", folder.index));
            let b = theirs.decompress_next(data, cb_uncomp).expect("lzxd");
            assert!(
                a == b,
                "{name} folder {} block {block} differs",
                folder.index
            );
            frames += 1;
        }
    }
    let mut nested = Vec::new();
    cab.walk(&mut |f, b| {
        if kbscan_archive::sniff(b) == kbscan_archive::Magic::Cab {
            nested.push((f.name.clone(), b.to_vec()));
        }
    });
    for (n, b) in nested {
        frames += compare_with_lzxd(&b, &format!("{name}/{n}"));
    }
    frames
}

#[test]
fn genuine_cabinets_and_msu_agree_with_lzxd() {
    let Some(dir) = require::shared_real() else {
        return;
    };
    for rel in [
        "cab/Windows6.0-KB2999226-x64.cab",
        "cab/Windows6.0-KB2999226-x86.cab",
        "msu/Windows6.1-KB2999226-x64.msu",
    ] {
        let bytes = std::fs::read(dir.join(rel)).expect("read");
        let n = compare_with_lzxd(&bytes, rel);
        assert!(n > 0, "{rel}: no LZX frames");
        eprintln!("{rel}: {n} LZX frames identical to lzxd");
    }
}
