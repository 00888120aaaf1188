//! kbscan-lzx against the `lzxd` oracle on arbitrary streams.
//!
//! Input: byte 0 picks the window (`15 + b % 7`); then frames, each `len: u16 LE`,
//! `kind: u8`, `len` bytes of CFDATA payload. `kind < 0xF0` declares a full 32 KiB frame,
//! otherwise `(kind & 0x0F) * 2000 + 1` bytes (a short, final frame). At most 48 frames.
//! Seeds: `cargo run -p kbscan-lzx --example fuzz_seeds -- DIR` (the fixtures encoder).
//!
//! Asserts: kbscan-lzx never panics and an `Ok` frame has the declared length; when both
//! decoders accept a frame of an E8-off stream, the bytes are equal. E8-on streams are not
//! compared: `lzxd` 0.2.7 mistranslates operands whose absolute value is 0 and translates
//! even when the header's translation size is 0 (libmspack and kbscan-lzx do not), so
//! differences there are the oracle's, documented in crates/fixtures/src/lzx.rs. `lzxd`
//! panics are caught and end the comparison (they are not kbscan's bugs).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::panic::{catch_unwind, set_hook, take_hook, AssertUnwindSafe};

fn window(bits: u8) -> lzxd::WindowSize {
    use lzxd::WindowSize::*;
    [KB32, KB64, KB128, KB256, KB512, MB1, MB2][usize::from(bits - 15)]
}

fn frames(mut data: &[u8]) -> Vec<(&[u8], usize)> {
    let mut out = Vec::new();
    while let [lo, hi, kind, rest @ ..] = data {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(rest.len());
        let out_len = if *kind < 0xF0 {
            32768
        } else {
            usize::from(kind & 0x0F) * 2000 + 1
        };
        out.push((&rest[..len], out_len));
        data = &rest[len..];
        if out.len() == 48 {
            break;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&w, rest)) = data.split_first() else {
        return;
    };
    let bits = 15 + w % 7;
    let frames = frames(rest);
    let e8_off = frames
        .first()
        .is_some_and(|(f, _)| f.len() >= 2 && f[1] & 0x80 == 0);
    let mut ours = kbscan_lzx::Decoder::new(bits).expect("window 15..=21");
    let mut theirs = Some(lzxd::Lzxd::new(window(bits)));
    for (i, (input, out_len)) in frames.into_iter().enumerate() {
        let mine = ours.decode_frame(input, out_len);
        if let Ok(f) = &mine {
            assert_eq!(f.len(), out_len, "frame {i}");
        }
        let Some(lz) = theirs.as_mut() else {
            if mine.is_err() {
                break;
            }
            continue;
        };
        let hook = take_hook();
        set_hook(Box::new(|_| {}));
        let other = catch_unwind(AssertUnwindSafe(|| {
            lz.decompress_next(input, out_len).map(<[u8]>::to_vec)
        }));
        set_hook(hook);
        match (&mine, other) {
            (Ok(a), Ok(Ok(b))) if e8_off => assert!(*a == &b[..], "frame {i} differs from lzxd"),
            (_, Ok(Ok(_))) => {}
            _ => theirs = None,
        }
        if mine.is_err() {
            break;
        }
    }
});
