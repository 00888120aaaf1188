//! Writes seed inputs for the `lzx` fuzz target (format in fuzz/fuzz_targets/lzx.rs) from the
//! fixtures encoder: every window size, block kind, E8 off and on.
//!
//! `cargo run -p kbscan-lzx --example fuzz_seeds -- DIR`

use kbscan_fixtures::lzx::{compress_folder, BlockKind, LzxOptions, FRAME_SIZE};

fn main() {
    let dir = std::env::args().nth(1).expect("usage: fuzz_seeds DIR");
    std::fs::create_dir_all(&dir).expect("create seed dir");
    let mut data = Vec::new();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    while data.len() < 2 * FRAME_SIZE + 3000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        match x % 4 {
            0 => data.extend_from_slice(b"\xE8\x10\x20\x00\x00KERNEL32.dll\0"),
            1 => data.extend_from_slice(&x.to_le_bytes()[..(x >> 60) as usize % 8]),
            2 => data.extend(std::iter::repeat_n((x >> 8) as u8, (x >> 16) as usize % 40)),
            _ => {
                let back = ((x >> 20) as usize % data.len().max(1)).max(1);
                let start = data.len() - back.min(data.len());
                let chunk: Vec<u8> = data[start..].iter().copied().take(30).collect();
                data.extend_from_slice(&chunk);
            }
        }
    }
    // The last frame is 2001 bytes: expressible in the target's short-frame grid.
    data.truncate(2 * FRAME_SIZE + 2001);
    let kinds = [
        BlockKind::Verbatim,
        BlockKind::Aligned,
        BlockKind::Uncompressed,
        BlockKind::Mixed,
    ];
    let mut n = 0;
    for bits in 15..=21u8 {
        for kind in kinds {
            for e8 in [false, true] {
                let frames = compress_folder(
                    &data,
                    bits,
                    &LzxOptions {
                        block_kind: kind,
                        e8,
                    },
                );
                let mut seed = vec![bits - 15];
                for f in &frames {
                    seed.extend_from_slice(&(f.compressed.len() as u16).to_le_bytes());
                    let len = usize::from(f.uncompressed_len);
                    // Full frames are kind 0; the short last one is `(kind & 15) * 2000 + 1`.
                    seed.push(if len == FRAME_SIZE {
                        0
                    } else {
                        0xF0 | (len / 2000) as u8
                    });
                    seed.extend_from_slice(&f.compressed);
                }
                let path = format!("{dir}/w{bits}-{kind:?}-e8{e8}.bin");
                std::fs::write(&path, seed).expect("write seed");
                n += 1;
            }
        }
    }
    eprintln!("fuzz_seeds: {n} seeds in {dir}");
}
