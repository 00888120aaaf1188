//! Decode-only floor for `scripts/bench`: walks every CAB folder of every input (and of every
//! cabinet nested in it) with `kbscan-archive`, single thread, without hashing or parsing
//! members. What it costs is what kbscan cannot avoid: read, checksum, decompress, cut files.
//!
//! `cargo run --release -p kbscan-archive --example decode_only -- [--raw] PATH...` (files or
//! directories, not recursive). Prints one summary line; exit code 1 if any member failed.
//!
//! `--raw` skips kbscan-archive altogether: a minimal CAB reader for *trusted* inputs (the
//! generated benchmark corpus; it indexes slices and would panic on hostile bytes) feeds every
//! CFDATA straight to `flate2` (MSZIP, preset dictionary per block) or `kbscan-lzx` (LZX): no
//! checksums, no file cutting except to find nested cabinets. That is the per-core
//! decompression limit of the decoders kbscan uses. `--raw-lzxd` does the same with the
//! `lzxd` crate for LZX (the decoder kbscan used before issue 9, now the test oracle).

use kbscan_archive::{sniff, Cabinet, Limits, Magic};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Default)]
struct Totals {
    inputs: u64,
    cabinets: u64,
    folders: u64,
    blocks: u64,
    decoded: u64,
    files: u64,
    errors: u64,
}

fn walk_cab(bytes: &[u8], limits: &Limits, depth: u32, t: &mut Totals) {
    let cab = match Cabinet::parse(bytes, limits) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("decode_only: cabinet at depth {depth}: {e}");
            t.errors += 1;
            return;
        }
    };
    t.cabinets += 1;
    let mut nested: Vec<Vec<u8>> = Vec::new();
    let report = cab.walk(&mut |_, data| {
        // Nested cabinets are walked after this one, like the scanner's recursion.
        if depth < 4 && matches!(sniff(data), Magic::Cab) {
            nested.push(data.to_vec());
        }
    });
    t.folders += u64::from(report.stats.folders_decoded);
    t.blocks += report.stats.blocks_decoded;
    t.decoded += report.stats.bytes_decoded;
    t.files += report.stats.files_delivered;
    t.errors += report.errors.len() as u64;
    for n in nested {
        walk_cab(&n, limits, depth + 1, t);
    }
}

/// `--raw`: decode every folder of `cab` (and of cabinets nested in it) with the bare codecs.
fn raw_cab(cab: &[u8], depth: u32, use_lzxd: bool, t: &mut Totals) {
    let u16_at = |o: usize| u16::from_le_bytes([cab[o], cab[o + 1]]) as usize;
    let u32_at =
        |o: usize| u32::from_le_bytes([cab[o], cab[o + 1], cab[o + 2], cab[o + 3]]) as usize;
    t.cabinets += 1;
    let (coff_files, n_folders, n_files, flags) = (u32_at(16), u16_at(26), u16_at(28), u16_at(30));
    let (mut pos, mut folder_reserve, mut data_reserve) = (36usize, 0usize, 0usize);
    if flags & 0x0004 != 0 {
        let header_reserve = u16_at(36);
        folder_reserve = cab[38] as usize;
        data_reserve = cab[39] as usize;
        pos = 40 + header_reserve;
    }
    // Which folders hold a nested cabinet, and where: (folder, offset, size).
    let mut wanted: Vec<(usize, usize, usize)> = Vec::new();
    let mut f = coff_files;
    for _ in 0..n_files {
        let (size, offset, folder) = (u32_at(f), u32_at(f + 4), u16_at(f + 8));
        let name_end = f + 16 + cab[f + 16..].iter().position(|&b| b == 0).unwrap_or(0);
        let name = String::from_utf8_lossy(&cab[f + 16..name_end]).to_ascii_lowercase();
        if depth < 4 && name.ends_with(".cab") {
            wanted.push((folder, offset, size));
        }
        f = name_end + 1;
    }
    for i in 0..n_folders {
        let fo = pos + i * (8 + folder_reserve);
        let (mut d, blocks, kind) = (u32_at(fo), u16_at(fo + 4), u16_at(fo + 6));
        let keep = wanted.iter().any(|w| w.0 == i);
        let mut stream: Vec<u8> = Vec::new();
        let mut history: Vec<u8> = Vec::new();
        let mut inflate = flate2::Decompress::new(false);
        let mut out = vec![0u8; 32768 + 12];
        let window_bits = ((kind >> 8) & 0x1F) as u8;
        let mut ours = (kind & 0xF == 3 && !use_lzxd)
            .then(|| kbscan_lzx::Decoder::new(window_bits).expect("LZX window 15..=21"));
        let mut lzx = (kind & 0xF == 3 && use_lzxd).then(|| {
            lzxd::Lzxd::new(match window_bits {
                15 => lzxd::WindowSize::KB32,
                16 => lzxd::WindowSize::KB64,
                17 => lzxd::WindowSize::KB128,
                18 => lzxd::WindowSize::KB256,
                19 => lzxd::WindowSize::KB512,
                20 => lzxd::WindowSize::MB1,
                _ => lzxd::WindowSize::MB2,
            })
        });
        t.folders += 1;
        for _ in 0..blocks {
            let (cb_data, cb_uncomp) = (u16_at(d + 4), u16_at(d + 6));
            let data = &cab[d + 8 + data_reserve..d + 8 + data_reserve + cb_data];
            d += 8 + data_reserve + cb_data;
            let frame: &[u8] = match (kind & 0xF, lzx.as_mut()) {
                (3, None) => match ours.as_mut().map(|d| d.decode_frame(data, cb_uncomp)) {
                    Some(Ok(frame)) => frame,
                    _ => {
                        t.errors += 1;
                        break;
                    }
                },
                (3, Some(l)) => match l.decompress_next(data, cb_uncomp) {
                    Ok(frame) => frame,
                    Err(_) => {
                        t.errors += 1;
                        break;
                    }
                },
                (1, _) => {
                    inflate.reset(false);
                    if !history.is_empty() && inflate.set_dictionary(&history).is_err() {
                        t.errors += 1;
                        break;
                    }
                    let before = inflate.total_out();
                    let ok = inflate
                        .decompress(&data[2..], &mut out, flate2::FlushDecompress::Finish)
                        .is_ok();
                    let n = (inflate.total_out() - before) as usize;
                    if !ok || n != cb_uncomp {
                        t.errors += 1;
                        break;
                    }
                    let frame = &out[..n];
                    if n >= 32768 {
                        history.clear();
                        history.extend_from_slice(&frame[n - 32768..]);
                    } else {
                        history.extend_from_slice(frame);
                        let excess = history.len().saturating_sub(32768);
                        history.drain(..excess);
                    }
                    frame
                }
                (0, _) => data,
                _ => {
                    t.errors += 1;
                    break;
                }
            };
            t.blocks += 1;
            t.decoded += frame.len() as u64;
            if keep {
                stream.extend_from_slice(frame);
            }
        }
        for &(_, offset, size) in wanted.iter().filter(|w| w.0 == i) {
            if let Some(inner) = stream.get(offset..offset + size) {
                if inner.starts_with(b"MSCF") {
                    raw_cab(inner, depth + 1, use_lzxd, t);
                }
            }
        }
    }
}

fn main() -> ExitCode {
    let mut inputs: Vec<PathBuf> = Vec::new();
    let mut raw = false;
    let mut use_lzxd = false;
    for a in std::env::args_os().skip(1) {
        if a == "--raw" || a == "--raw-lzxd" {
            raw = true;
            use_lzxd = a == "--raw-lzxd";
            continue;
        }
        let p = PathBuf::from(a);
        if p.is_dir() {
            let Ok(rd) = std::fs::read_dir(&p) else {
                eprintln!("decode_only: cannot read {}", p.display());
                return ExitCode::from(2);
            };
            let mut v: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
            v.retain(|f| f.is_file());
            v.sort();
            inputs.extend(v);
        } else {
            inputs.push(p);
        }
    }
    if inputs.is_empty() {
        eprintln!("usage: decode_only [--raw | --raw-lzxd] PATH...");
        return ExitCode::from(2);
    }
    let limits = Limits::default();
    let mut t = Totals::default();
    let start = std::time::Instant::now();
    for p in &inputs {
        let bytes = match std::fs::read(p) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("decode_only: {}: {e}", p.display());
                t.errors += 1;
                continue;
            }
        };
        if matches!(sniff(&bytes), Magic::Cab) {
            t.inputs += 1;
            if raw {
                raw_cab(&bytes, 0, use_lzxd, &mut t);
            } else {
                walk_cab(&bytes, &limits, 0, &mut t);
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "decode_only{}: {} inputs, {} cabinets, {} folders, {} blocks, {} files, {} bytes decoded, \
         {} errors, {:.3} s, {:.1} MB/s",
        match (raw, use_lzxd) {
            (true, true) => " --raw-lzxd",
            (true, false) => " --raw",
            _ => "",
        },
        t.inputs,
        t.cabinets,
        t.folders,
        t.blocks,
        t.files,
        t.decoded,
        t.errors,
        secs,
        t.decoded as f64 / 1e6 / secs.max(1e-9)
    );
    if t.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
