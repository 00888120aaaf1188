//! kbscan-lzx against the fixtures encoder (original bytes) and the `lzxd` oracle.

use kbscan_fixtures::lzx::{compress_folder, BlockKind, LzxFrame, LzxOptions, FRAME_SIZE};
use kbscan_fixtures::noise;
use kbscan_lzx::{Decoder, Error};

const KINDS: [BlockKind; 4] = [
    BlockKind::Verbatim,
    BlockKind::Aligned,
    BlockKind::Uncompressed,
    BlockKind::Mixed,
];

fn ours(frames: &[LzxFrame], bits: u8) -> Result<Vec<u8>, (usize, Error)> {
    let mut d = Decoder::new(bits).expect("window bits");
    let mut out = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let chunk = d
            .decode_frame(&f.compressed, usize::from(f.uncompressed_len))
            .map_err(|e| (i, e))?;
        out.extend_from_slice(chunk);
    }
    Ok(out)
}

fn lzxd_window(bits: u8) -> lzxd::WindowSize {
    use lzxd::WindowSize::*;
    [KB32, KB64, KB128, KB256, KB512, MB1, MB2][usize::from(bits - 15)]
}

fn oracle(frames: &[LzxFrame], bits: u8) -> Vec<u8> {
    let mut d = lzxd::Lzxd::new(lzxd_window(bits));
    let mut out = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let chunk = d
            .decompress_next(&f.compressed, usize::from(f.uncompressed_len))
            .unwrap_or_else(|e| panic!("lzxd frame {i}: {e}"));
        out.extend_from_slice(chunk);
    }
    out
}

#[track_caller]
fn check(data: &[u8], bits: u8, opts: &LzxOptions) {
    let frames = compress_folder(data, bits, opts);
    let got = ours(&frames, bits).unwrap_or_else(|(i, e)| {
        panic!(
            "frame {i}: {e} (window {bits}, {opts:?}, {} bytes)",
            data.len()
        )
    });
    if got != data {
        let at = got.iter().zip(data).position(|(a, b)| a != b);
        panic!(
            "decoded {} vs {} bytes, first difference at {at:?} (window {bits}, {opts:?})",
            got.len(),
            data.len()
        );
    }
    assert!(
        oracle(&frames, bits) == got,
        "lzxd disagrees (window {bits}, {opts:?})"
    );
}

/// Compressible, with literal runs, short and long repeats, E8 bytes and long-distance copies.
fn mixed(len: usize, seed: u64) -> Vec<u8> {
    let noise = noise(len + 64, seed);
    let mut out = Vec::with_capacity(len + 600);
    let mut i = 0usize;
    while out.len() < len {
        match noise[i % len] % 6 {
            0 => out.extend_from_slice(&noise[i % len..][..(noise[(i + 1) % len] % 40) as usize]),
            1 => {
                let rel = (i32::from(noise[(i + 2) % len]) - 128) * 4099;
                out.push(0xE8);
                out.extend_from_slice(&rel.to_le_bytes());
            }
            2 => out.extend(std::iter::repeat_n(
                noise[i % len],
                (noise[(i + 3) % len] % 70) as usize,
            )),
            3 if out.len() > 1000 => {
                let back = 1 + (usize::from(noise[(i + 4) % len]) << 4) % out.len().min(900_000);
                let n = 3 + (noise[(i + 5) % len] as usize) * 2 % 300;
                let start = out.len() - back;
                for k in 0..n {
                    let b = out[start + k];
                    out.push(b);
                }
            }
            _ => out.extend_from_slice(b"KERNEL32.dll\0GetProcAddress\0\x8b\xff\x55\x8b\xec"),
        }
        i += 7;
    }
    out.truncate(len);
    out
}

#[test]
fn every_window_kind_and_e8() {
    for bits in 15..=21u8 {
        for kind in KINDS {
            for e8 in [false, true] {
                let opts = LzxOptions {
                    block_kind: kind,
                    e8,
                };
                check(&mixed(5 * FRAME_SIZE + 1234, u64::from(bits)), bits, &opts);
            }
        }
    }
}

#[test]
fn window_wraps_many_times() {
    // Small windows wrap often; long-distance copies reach across the wrap point.
    for bits in [15u8, 16, 17] {
        for kind in [BlockKind::Verbatim, BlockKind::Mixed, BlockKind::Aligned] {
            let opts = LzxOptions {
                block_kind: kind,
                e8: true,
            };
            check(
                &mixed((1 << bits) * 5 + 777, 9 + u64::from(bits)),
                bits,
                &opts,
            );
        }
    }
}

#[test]
fn big_window_long_distances() {
    let mut data = noise(700_000, 5);
    data.extend_from_within(..);
    data.extend_from_slice(&mixed(300_000, 6));
    for kind in KINDS {
        check(
            &data,
            21,
            &LzxOptions {
                block_kind: kind,
                e8: true,
            },
        );
    }
}

#[test]
fn tiny_and_edge_lengths() {
    for kind in KINDS {
        for e8 in [false, true] {
            let opts = LzxOptions {
                block_kind: kind,
                e8,
            };
            for len in [
                1,
                2,
                3,
                10,
                11,
                12,
                100,
                FRAME_SIZE - 1,
                FRAME_SIZE,
                FRAME_SIZE + 1,
            ] {
                check(&mixed(len, len as u64), 15, &opts);
                check(&[0xE8; 40][..len.min(40)], 15, &opts);
                check(&vec![0u8; len], 16, &opts);
            }
        }
    }
}

/// E8 operands that translate to absolute 0 (`rel == -pos`): lzxd 0.2.7 gets them wrong,
/// kbscan-lzx must not.
#[test]
fn e8_absolute_zero_is_translated() {
    let mut data = noise(3 * FRAME_SIZE, 11)
        .into_iter()
        .map(|b| if b == 0xE8 { 0x90 } else { b })
        .collect::<Vec<u8>>();
    for pos in [0usize, 100, FRAME_SIZE + 7, 2 * FRAME_SIZE + 4000] {
        data[pos] = 0xE8;
        data[pos + 1..pos + 5].copy_from_slice(&(-(pos as i32)).to_le_bytes());
    }
    for kind in KINDS {
        let opts = LzxOptions {
            block_kind: kind,
            e8: true,
        };
        let frames = compress_folder(&data, 16, &opts);
        assert_eq!(ours(&frames, 16).expect("decode"), data, "{kind:?}");
    }
}

#[test]
fn decoder_reuse_and_reset() {
    let data = mixed(3 * FRAME_SIZE + 5, 42);
    let mut d = Decoder::new(21).unwrap();
    for bits in [21u8, 15, 18, 21] {
        let frames = compress_folder(
            &data,
            bits,
            &LzxOptions {
                block_kind: BlockKind::Mixed,
                e8: true,
            },
        );
        d.reset(bits).unwrap();
        let mut out = Vec::new();
        for f in &frames {
            out.extend_from_slice(
                d.decode_frame(&f.compressed, usize::from(f.uncompressed_len))
                    .unwrap(),
            );
        }
        assert_eq!(out, data, "window {bits}");
    }
    assert!(matches!(Decoder::new(14), Err(Error::WindowBits(14))));
    assert!(matches!(d.reset(22), Err(Error::WindowBits(22))));
}

#[test]
fn bad_inputs_give_specific_errors() {
    let mut d = Decoder::new(15).unwrap();
    // No E8, block type 0.
    assert_eq!(d.decode_frame(&[0, 0, 0, 0], 100), Err(Error::BlockType(0)));
    assert_eq!(d.decode_frame(&[0, 0, 0, 0], 100), Err(Error::Poisoned));
    d.reset(15).unwrap();
    assert_eq!(d.decode_frame(&[], 0), Err(Error::FrameSize(0)));
    assert_eq!(d.decode_frame(&[], 40000), Err(Error::FrameSize(40000)));
    // Truncated input: bits run out.
    let frames = compress_folder(&mixed(FRAME_SIZE, 1), 15, &LzxOptions::default());
    let cut = &frames[0].compressed[..frames[0].compressed.len() / 2];
    d.reset(15).unwrap();
    let e = d.decode_frame(cut, FRAME_SIZE).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Overrun { .. } | Error::MatchPastEnd { .. } | Error::OffsetBeyondOutput { .. }
        ),
        "{e}"
    );
    // Declared frame longer than the stream's block.
    let frames = compress_folder(&mixed(1000, 1), 15, &LzxOptions::default());
    d.reset(15).unwrap();
    let e = d.decode_frame(&frames[0].compressed, 2000).unwrap_err();
    assert!(
        matches!(
            e,
            Error::BlockType(_) | Error::Overrun { .. } | Error::BlockSizeZero
        ),
        "{e}"
    );
    // A short frame must be the last.
    let frames = compress_folder(&mixed(2 * FRAME_SIZE, 1), 15, &LzxOptions::default());
    d.reset(15).unwrap();
    let _ = d.decode_frame(&frames[0].compressed, 1000);
    assert!(matches!(
        d.decode_frame(&frames[1].compressed, FRAME_SIZE),
        Err(Error::AfterShortFrame { .. }) | Err(Error::Poisoned)
    ));
}

/// Every single-byte corruption of a small mixed stream: no panic, and whatever succeeds is
/// the declared length.
#[test]
fn corruptions_never_panic() {
    let data = mixed(2 * FRAME_SIZE + 300, 3);
    let frames = compress_folder(
        &data,
        15,
        &LzxOptions {
            block_kind: BlockKind::Mixed,
            e8: true,
        },
    );
    let mut d = Decoder::new(15).unwrap();
    let mut runs = 0;
    for fi in 0..frames.len() {
        let n = frames[fi].compressed.len();
        for at in (0..n).step_by(n / 200 + 1) {
            for flip in [0x01u8, 0x80, 0xFF] {
                d.reset(15).unwrap();
                for (j, f) in frames.iter().enumerate() {
                    let mut c = f.compressed.clone();
                    if j == fi {
                        c[at] ^= flip;
                    }
                    match d.decode_frame(&c, usize::from(f.uncompressed_len)) {
                        Ok(out) => assert_eq!(out.len(), usize::from(f.uncompressed_len)),
                        Err(_) => break,
                    }
                }
                runs += 1;
            }
        }
    }
    assert!(runs > 500);
}

/// MSB-first bits into 16-bit little-endian words (just enough for block headers).
#[derive(Default)]
struct Words {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl Words {
    fn put(&mut self, value: u32, bits: u32) {
        for i in (0..bits).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.n += 1;
            if self.n == 16 {
                self.out.extend_from_slice(&(self.acc as u16).to_le_bytes());
                self.acc = 0;
                self.n = 0;
            }
        }
    }
    /// Uncompressed block header: type 3, size, 1..=16 zero bits to a word boundary.
    fn uncompressed_header(&mut self, size: u32) {
        self.put(3, 3);
        self.put(size, 24);
        let pad = 16 - self.n;
        self.put(0, pad);
    }
    fn take(&mut self) -> Vec<u8> {
        assert_eq!(self.n, 0);
        std::mem::take(&mut self.out)
    }
}

/// Hand-built stream: an odd uncompressed block (pad byte), then an even one that spans the
/// frame boundary with an odd number of bytes left in the second CFDATA, so the next block
/// header starts at an odd byte offset there (what genuine KB2999226 cabinets do; an earlier
/// attempt got exactly this wrong), then a final odd block.
#[test]
fn uncompressed_blocks_spanning_frames_and_odd_restart() {
    let a: Vec<u8> = (0..5u8).collect();
    let b = noise(32_770, 8);
    let c = vec![0xC1, 0xC2, 0xC3];
    let r = |v: [u32; 3]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();

    let mut w = Words::default();
    w.put(0, 1); // no E8 translation
    w.uncompressed_header(5);
    let mut cf1 = w.take();
    cf1.extend_from_slice(&r([1, 1, 1]));
    cf1.extend_from_slice(&a);
    cf1.push(0); // pad: odd block length
    w.uncompressed_header(32_770);
    cf1.extend_from_slice(&w.take());
    cf1.extend_from_slice(&r([7, 8, 9]));
    let in_first = FRAME_SIZE - a.len();
    cf1.extend_from_slice(&b[..in_first]);
    assert_eq!(cf1.len() % 2, 1, "first CFDATA ends mid-word");

    let mut cf2 = b[in_first..].to_vec();
    assert_eq!(cf2.len() % 2, 1, "next header at an odd offset");
    w.uncompressed_header(3);
    cf2.extend_from_slice(&w.take());
    cf2.extend_from_slice(&r([1, 2, 3]));
    cf2.extend_from_slice(&c);
    cf2.push(0);

    let expected: Vec<u8> = [a, b, c].concat();
    let out2 = expected.len() - FRAME_SIZE;
    let mut d = Decoder::new(15).unwrap();
    let mut got = d.decode_frame(&cf1, FRAME_SIZE).unwrap().to_vec();
    got.extend_from_slice(d.decode_frame(&cf2, out2).unwrap());
    assert!(got == expected, "kbscan-lzx");

    let mut l = lzxd::Lzxd::new(lzxd::WindowSize::KB32);
    let mut theirs = l.decompress_next(&cf1, FRAME_SIZE).unwrap().to_vec();
    theirs.extend_from_slice(l.decompress_next(&cf2, out2).unwrap());
    assert!(theirs == expected, "lzxd");
}
