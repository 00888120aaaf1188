use super::*;

/// Writes bits LSB-first, the mirror of [`BitReader`] (test-only ground truth).
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    bits: u64,
}

impl BitWriter {
    fn bits(&mut self, value: u64, n: u32) -> &mut Self {
        for i in 0..n {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let bit = ((value >> i) & 1) as u8;
            let last = self.bytes.len() - 1;
            self.bytes[last] |= bit << (self.bits % 8);
            self.bits += 1;
        }
        self
    }

    /// Integer with the minimal number of nibbles.
    fn int(&mut self, value: u64) -> &mut Self {
        let nibbles = if value == 0 {
            1
        } else {
            (64 - value.leading_zeros()).div_ceil(4)
        };
        self.int_n(value, nibbles)
    }

    /// Integer coded with exactly `nibbles` nibbles (may be longer than needed).
    fn int_n(&mut self, value: u64, nibbles: u32) -> &mut Self {
        self.bits(0, nibbles - 1).bits(1, 1);
        for i in 0..nibbles {
            self.bits((value >> (4 * i)) & 0xf, 4);
        }
        self
    }

    fn align(&mut self) -> &mut Self {
        while !self.bits.is_multiple_of(8) {
            self.bits(0, 1);
        }
        self
    }

    fn buffer(&mut self, data: &[u8]) -> &mut Self {
        self.int(data.len() as u64).align();
        for b in data {
            self.bits(u64::from(*b), 8);
        }
        self
    }
}

const MD5: [u8; 16] = [
    0x5b, 0x55, 0xe9, 0xa1, 0x36, 0x0a, 0x6c, 0x52, 0xcc, 0x98, 0x8d, 0xa6, 0x80, 0x4d, 0x6c, 0xa2,
];
const FT: u64 = 130_816_985_122_994_592; // 2015-07-18T13:08:32Z

fn delta(pad: u64, body: impl FnOnce(&mut BitWriter)) -> Vec<u8> {
    let mut w = BitWriter::default();
    w.bits(pad, 3);
    body(&mut w);
    let mut out = b"PA30".to_vec();
    out.extend_from_slice(&FT.to_le_bytes());
    out.extend_from_slice(&w.bytes);
    out
}

fn sample() -> Vec<u8> {
    delta(0, |w| {
        w.int(0x0f)
            .int(0x08)
            .int(0x2e63e)
            .int(901_264)
            .int(u64::from(CALG_MD5))
            .buffer(&MD5)
            .buffer(b"pre")
            .buffer(b"patch body");
    })
}

#[test]
fn parses_hand_built_header() {
    let d = sample();
    let h = parse_header(&d).unwrap();
    assert_eq!(h.target_filetime, FT);
    assert_eq!(h.file_type_set, 0x0f);
    assert_eq!(h.file_type, 0x08);
    assert_eq!(h.flags, 0x2e63e);
    assert_eq!(h.target_size, 901_264);
    assert_eq!(h.hash_alg, CALG_MD5);
    assert_eq!(h.hash, MD5);
    assert_eq!(h.target_time_utc().as_deref(), Some("2015-07-18T13:08:32Z"));
    assert_eq!(file_type_name(h.file_type), Some("amd64"));
    assert_eq!(file_type_set_name(h.file_type_set), Some("executables-1"));
    assert_eq!(hash_alg_name(h.hash_alg), Some("MD5"));
    assert_eq!(
        describe(&h),
        "delta-compressed, target 901,264 bytes, MD5 5b55e9a1360a6c52cc988da6804d6ca2"
    );
    let f = parse_framing(&d).unwrap();
    assert_eq!(&d[f.preprocess.clone()], b"pre");
    assert_eq!(&d[f.patch.clone()], b"patch body");
    assert_eq!(f.trailing, 0);
}

/// The worked example of the public format notes: pad 0, then 14, then 17 → `e8 46`.
#[test]
fn matches_published_bit_example() {
    let mut w = BitWriter::default();
    w.bits(0, 3).int(14).int(17);
    assert_eq!(&w.bytes[..2], &[0xe8, 0x46]);
    let mut r = BitReader::new(&w.bytes).unwrap();
    assert_eq!(r.read_int64(Field::FileTypeSet).unwrap(), 14);
    assert_eq!(r.read_int64(Field::FileType).unwrap(), 17);
}

#[test]
fn integer_widths_round_trip() {
    for v in [
        0u64,
        1,
        0xf,
        0x10,
        0xff,
        0x1234_5678,
        u64::from(u32::MAX),
        u64::MAX,
    ] {
        let mut w = BitWriter::default();
        w.bits(0, 3).int(v);
        let mut r = BitReader::new(&w.bytes).unwrap();
        assert_eq!(r.read_int64(Field::Flags).unwrap(), v, "{v:#x}");
    }
    // A value coded with more nibbles than needed is still that value.
    let mut w = BitWriter::default();
    w.bits(0, 3).int_n(5, 4);
    let mut r = BitReader::new(&w.bytes).unwrap();
    assert_eq!(r.read_int32(Field::HashSize).unwrap(), 5);
}

#[test]
fn flags_and_names() {
    assert_eq!(
        flag_names(0x20001),
        vec!["E8".to_string(), "IGNORE_FILE_SIZE_LIMIT".to_string()]
    );
    assert_eq!(flag_names(1 << 40), vec!["0x10000000000".to_string()]);
    assert_eq!(file_type_name(3), None);
    assert_eq!(hash_alg_name(0x1234), None);
}

#[test]
fn filetime_edges() {
    assert_eq!(filetime_to_utc(0).as_deref(), Some("1601-01-01T00:00:00Z"));
    assert_eq!(
        filetime_to_utc(116_444_736_000_000_000).as_deref(),
        Some("1970-01-01T00:00:00Z")
    );
    assert_eq!(filetime_to_utc(u64::MAX), None);
}

#[test]
fn signature_errors() {
    assert_eq!(
        parse_header(b"PA19xxxxxxxxxx").unwrap_err(),
        DeltaError::Pa19
    );
    assert_eq!(
        parse_header(b"MZ\x90\x00abcdefghij").unwrap_err().kind(),
        "msdelta_bad_signature"
    );
    assert_eq!(
        parse_header(b"PA30").unwrap_err().kind(),
        "msdelta_too_short"
    );
    assert_eq!(
        parse_header(b"PA30\0\0\0\0\0\0\0\0").unwrap_err().kind(),
        "msdelta_too_short"
    );
    assert_eq!(parse_header(b"").unwrap_err().kind(), "msdelta_too_short");
}

#[test]
fn every_truncation_is_a_specific_error() {
    let d = sample();
    let h = parse_header(&d).unwrap();
    let header_bytes = h.end_bit.div_ceil(8) as usize;
    for cut in 0..header_bytes {
        let e = parse_header(&d[..cut]).unwrap_err();
        assert!(
            matches!(
                e,
                DeltaError::TooShort { .. }
                    | DeltaError::Truncated { .. }
                    | DeltaError::BufferOutOfBounds { .. }
            ),
            "cut {cut}: {e:?}"
        );
    }
    // Cut inside the hash: the buffer runs past the end.
    let e = parse_header(&d[..header_bytes - 1]).unwrap_err();
    assert_eq!(e.kind(), "msdelta_buffer_out_of_bounds");
    // Cut inside the body: the header still parses, the framing does not.
    let e = parse_framing(&d[..d.len() - 1]).unwrap_err();
    assert!(
        matches!(
            e,
            DeltaError::BufferOutOfBounds {
                field: Field::Patch,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn truncated_integer_names_its_field() {
    // Stream: 4 padding bits, file-type set, then the file type's length prefix and
    // 3 of its 4 value bits (the 4 bits after them are padding).
    let d = delta(4, |w| {
        w.int(0xf).bits(1, 1).bits(0b011, 3);
    });
    match parse_header(&d).unwrap_err() {
        DeltaError::Truncated { field, .. } => assert_eq!(field, Field::FileType),
        e => panic!("{e:?}"),
    }
}

#[test]
fn overlong_integers_are_rejected() {
    // 16 zero bits: a 64-bit field may use at most 16 nibbles (15 zeros then a one).
    let d = delta(0, |w| {
        w.bits(0, 16).bits(1, 1).bits(0, 64);
    });
    assert!(matches!(
        parse_header(&d).unwrap_err(),
        DeltaError::Overlong {
            field: Field::FileTypeSet,
            max: 16,
            ..
        }
    ));
    // The longest legal 64-bit coding is accepted.
    let d = delta(0, |w| {
        w.int_n(u64::MAX, 16)
            .int(1)
            .int(0)
            .int(1)
            .int(0)
            .buffer(&[]);
    });
    assert_eq!(parse_header(&d).unwrap().file_type_set, u64::MAX);
    // 8 zero bits: too long for the 32-bit hash algorithm id.
    let d = delta(0, |w| {
        w.int(0xf)
            .int(1)
            .int(0)
            .int(10)
            .bits(0, 8)
            .bits(1, 1)
            .bits(0, 36);
    });
    assert!(matches!(
        parse_header(&d).unwrap_err(),
        DeltaError::Overlong {
            field: Field::HashAlgorithm,
            max: 8,
            ..
        }
    ));
}

#[test]
fn hash_limit_and_padding() {
    let d = delta(0, |w| {
        w.int(0xf)
            .int(1)
            .int(0)
            .int(10)
            .int(u64::from(CALG_MD5))
            .buffer(&[0u8; 33]);
    });
    assert_eq!(
        parse_header(&d).unwrap_err(),
        DeltaError::HashTooLong {
            len: 33,
            max: limits::MAX_HASH_SIZE
        }
    );
    // Padding may not exceed the bits after the count: a one-byte stream has 5.
    let mut d = b"PA30".to_vec();
    d.extend_from_slice(&[0; 8]);
    d.push(0b0000_0111);
    assert_eq!(
        parse_header(&d).unwrap_err(),
        DeltaError::BadPadding {
            pad: 7,
            available: 5
        }
    );
    // Padding hides the last bits of the stream: a value that ends in them is truncated.
    let d = delta(3, |w| {
        w.int(0xf);
    });
    assert!(matches!(
        parse_header(&d).unwrap_err(),
        DeltaError::Truncated { .. }
    ));
}

#[test]
fn error_kinds_are_distinct() {
    let errs = [
        DeltaError::TooShort { len: 0, min: 12 },
        DeltaError::Pa19,
        DeltaError::BadSignature { found: [0; 4] },
        DeltaError::Truncated {
            field: Field::Flags,
            bit: 0,
            available: 0,
        },
        DeltaError::Overlong {
            field: Field::Flags,
            max: 16,
            width: 64,
            bit: 0,
        },
        DeltaError::BadPadding {
            pad: 7,
            available: 5,
        },
        DeltaError::HashTooLong { len: 33, max: 32 },
        DeltaError::BufferOutOfBounds {
            field: Field::Hash,
            offset: 0,
            len: 1,
            total: 0,
        },
    ];
    let mut kinds: Vec<_> = errs.iter().map(DeltaError::kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds.len(), errs.len());
    for e in &errs {
        assert!(!e.to_string().is_empty());
    }
}

/// Deterministic mutation loop: flips, truncations and byte rewrites of a valid delta
/// never panic and never claim a hash longer than the limit.
#[test]
fn mutations_never_panic() {
    let base = sample();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut parsed = 0;
    for _ in 0..20_000 {
        let mut d = base.clone();
        let edits = 1 + next() % 4;
        for _ in 0..edits {
            let r = next();
            match r % 4 {
                0 if !d.is_empty() => {
                    let i = (next() % d.len() as u64) as usize;
                    d[i] ^= 1 << (next() % 8);
                }
                1 if !d.is_empty() => {
                    let i = (next() % d.len() as u64) as usize;
                    d[i] = next() as u8;
                }
                2 => {
                    let n = (next() % (d.len() as u64 + 1)) as usize;
                    d.truncate(n);
                }
                _ => d.push(next() as u8),
            }
        }
        if let Ok(h) = parse_header(&d) {
            parsed += 1;
            assert!(h.hash.len() <= limits::MAX_HASH_SIZE);
            let _ = describe(&h);
            let _ = h.target_time_utc();
        }
        if let Ok(f) = parse_framing(&d) {
            assert!(f.patch.end <= d.len() && f.preprocess.end <= f.patch.start);
        }
    }
    assert!(parsed > 0);
}

// ---- body decoding -------------------------------------------------------------

/// Writes a code of `len` bits most significant bit first (how Huffman codes are sent).
fn code(w: &mut BitWriter, value: u32, len: u32) {
    for i in (0..len).rev() {
        w.bits(u64::from((value >> i) & 1), 1);
    }
}

/// The default main code, derived by hand: 424 codes of 9 bits then 176 of 10 bits;
/// 10-bit codes start at 0, 9-bit codes at (0 + 176) / 2 = 88.
fn main_sym(w: &mut BitWriter, sym: u32) {
    if sym < 424 {
        code(w, 88 + sym, 9);
    } else {
        code(w, sym - 424, 10);
    }
}

/// A patch buffer in the default composite format: empty rift table, default tables.
fn default_patch(body: impl FnOnce(&mut BitWriter)) -> Vec<u8> {
    let mut w = BitWriter::default();
    w.bits(0, 3); // padding count, patched below
    w.bits(0, 1); // empty rift table
    w.bits(1, 1); // default composite format
    body(&mut w);
    let pad = (8 - w.bits % 8) % 8;
    w.bytes[0] |= pad as u8;
    w.bytes
}

fn md5(data: &[u8]) -> Vec<u8> {
    use md5::{Digest, Md5};
    Md5::digest(data).to_vec()
}

fn raw_delta(target: &[u8], flags: u64, patch: &[u8]) -> Vec<u8> {
    delta(0, |w| {
        w.int(0x01)
            .int(0x01)
            .int(flags)
            .int(target.len() as u64)
            .int(u64::from(CALG_MD5))
            .buffer(&md5(target))
            .buffer(&[])
            .buffer(patch);
    })
}

#[test]
fn default_lengths_are_complete_codes() {
    use crate::huffman::Huffman;
    let l = Huffman::default_lengths(600);
    assert_eq!(l.iter().filter(|&&x| x == 9).count(), 424);
    assert_eq!(l.iter().filter(|&&x| x == 10).count(), 176);
    assert_eq!(Huffman::default_lengths(256), vec![8; 256]);
    assert_eq!(Huffman::default_lengths(2), vec![1; 2]);
    assert_eq!(Huffman::default_lengths(3), vec![1, 2, 2]);
}

#[test]
fn huffman_left_leaning_codes() {
    use crate::huffman::{CodeError, Huffman};
    use crate::lzx::BodyReader;
    // Lengths {1, 2, 2}: 2-bit codes start at 0 (00, 01), the 1-bit code is 1.
    let h = Huffman::from_lengths(&[1, 2, 2], 16).unwrap();
    let mut w = BitWriter::default();
    w.bits(0, 3);
    code(&mut w, 1, 1);
    code(&mut w, 0b00, 2);
    code(&mut w, 0b01, 2);
    let pad = (8 - w.bits % 8) % 8;
    w.bytes[0] |= pad as u8;
    let mut r = BodyReader::new(&w.bytes).unwrap();
    assert_eq!(h.decode(&mut r), Some(0));
    assert_eq!(h.decode(&mut r), Some(1));
    assert_eq!(h.decode(&mut r), Some(2));
    assert_eq!(h.decode(&mut r), None);
    assert_eq!(
        Huffman::from_lengths(&[1, 1, 1], 16).unwrap_err(),
        CodeError::Oversubscribed
    );
    assert!(matches!(
        Huffman::from_lengths(&[17], 16).unwrap_err(),
        CodeError::TooLong { .. }
    ));
    // No symbols: every decode fails.
    let h = Huffman::from_lengths(&[0, 0], 16).unwrap();
    let mut r = BodyReader::new(&[0xf0, 0xff]).unwrap();
    assert_eq!(h.decode(&mut r), None);
}

/// Literals, a back-reference with a long length, a recent-offset match and an
/// overlapping copy, in the default tables; proved by the MD5 in the header.
#[test]
fn decodes_hand_built_null_source_delta() {
    let target = b"abcabcabcabcabcxyzxyzxyzzzzzzzzz";
    let patch = default_patch(|w| {
        for &b in b"abc" {
            main_sym(w, u32::from(b));
        }
        // DST offset 3 (slot 10), length slot 0 → length symbol 4 → 4 + 8 = 12 bytes.
        main_sym(w, 256 + 10 * 8);
        code(w, 4, 8);
        for &b in b"xyz" {
            main_sym(w, u32::from(b));
        }
        // Recent offset 0 (slot 4) = 3, length slot 5 → 6 bytes: "xyzxyz".
        main_sym(w, 256 + 4 * 8 + 5);
        // 'z' then DST offset 1 (slot 8) length 7 (slot 6): overlapping run.
        main_sym(w, u32::from(b'z'));
        main_sym(w, 256 + 8 * 8 + 6);
    });
    let d = raw_delta(target, 0x20000, &patch);
    let out = apply(&d, None).unwrap();
    assert_eq!(out.data, target);
    assert!(out.md5_verified);
    assert_eq!(out.e8_sites, 0);
    // A delta that claims a different hash is refused, bytes withheld.
    let mut bad = raw_delta(target, 0x20000, &patch);
    let pos = bad.windows(16).position(|w| w == md5(target)).unwrap();
    bad[pos] ^= 1;
    let e = apply(&bad, None).unwrap_err();
    assert_eq!(e.kind(), "msdelta_hash_mismatch");
    assert!(e.header().is_some());
}

#[test]
fn extended_offsets_and_long_lengths() {
    // 300 literal bytes, then a copy 290 back (slot 23: 3 verbatim bits + an aligned
    // nibble), length 300 via the long form.
    let mut target: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
    // Offset 290 = 0b1_0010_0010: top bits 2 (slot even) with 7 extra bits → slot
    // 11 + 2 * (7 - 1) = 23; verbatim high 3 bits then an aligned low nibble.
    let offset = 290u32;
    for _ in 0..300 {
        let b = target[target.len() - offset as usize];
        target.push(b);
    }
    let patch = default_patch(|w| {
        for &b in &target[..300] {
            main_sym(w, u32::from(b));
        }
        main_sym(w, 256 + 23 * 8); // length slot 0
        w.bits(u64::from((offset >> 4) & 0b111), 3); // verbatim bits above the nibble
        code(w, offset & 0xf, 4); // aligned symbol (default code: 4 bits, code = sym)
        code(w, 0, 8); // length symbol 0: long length follows
                       // 300 - 8 = 292 = 1_0010_0100b: no zero bit, the one bit, then the 8 bits below
                       // the implicit leading one.
        w.bits(1, 1).bits(292 & 0xff, 8);
    });
    let d = raw_delta(&target, 0x20000, &patch);
    let out = apply(&d, None).unwrap();
    assert_eq!(out.data, target);
}

#[test]
fn body_errors_are_precise() {
    let target = b"hello";
    // Non-empty rift table without a basis.
    let mut w = BitWriter::default();
    w.bits(0, 3).bits(1, 1);
    let e = apply(&raw_delta(target, 0x20000, &w.bytes), None).unwrap_err();
    assert!(e.to_string().contains("rift table"), "{e}");
    // A copy further back than the output.
    let patch = default_patch(|w| {
        main_sym(w, u32::from(b'h'));
        main_sym(w, 256 + 9 * 8 + 1); // offset 2 at output byte 1
    });
    let e = apply(&raw_delta(target, 0x20000, &patch), None).unwrap_err();
    assert!(
        matches!(
            e,
            DecodeError::Body {
                error: crate::lzx::BodyError::BadOffset {
                    pos: 1,
                    distance: 2
                },
                ..
            }
        ),
        "{e:?}"
    );
    // A source copy in a delta against nothing.
    let patch = default_patch(|w| {
        main_sym(w, 256 + 3 * 8 + 1);
    });
    let e = apply(&raw_delta(target, 0x20000, &patch), None).unwrap_err();
    assert!(e.to_string().contains("distance 0"), "{e}");
    // Stream ends early.
    let patch = default_patch(|w| {
        main_sym(w, u32::from(b'h'));
    });
    let e = apply(&raw_delta(target, 0x20000, &patch), None).unwrap_err();
    assert_eq!(e.kind(), "msdelta_body");
    // Unsupported flags and file types name themselves; the header is kept.
    let e = apply(&raw_delta(target, 0x20004, &patch), None).unwrap_err();
    assert!(e.to_string().contains("IMPORTS"), "{e}");
    assert!(e.header().is_some());
    let e = apply(&sample(), Some(b"basis")).unwrap_err();
    assert!(e.to_string().contains("amd64 source transforms"), "{e}");
    // Target size above the limit.
    let big = delta(0, |w| {
        w.int(1)
            .int(1)
            .int(0)
            .int(limits::MAX_TARGET_SIZE + 1)
            .int(0)
            .buffer(&[])
            .buffer(&[])
            .buffer(&[]);
    });
    assert_eq!(
        apply(&big, None).unwrap_err().kind(),
        "msdelta_target_too_large"
    );
}

#[test]
fn e8_translation_is_undone_on_i386_images() {
    use crate::transform::undo_e8;
    let mut img = vec![0u8; 0x200];
    img[0x3c] = 0x80;
    img[0x80..0x84].copy_from_slice(b"PE\0\0");
    img[0x84..0x86].copy_from_slice(&0x014cu16.to_le_bytes());
    // A call at 0x100 to 0x150, stored absolute (0x150), becomes relative 0x50.
    img[0x100] = 0xe8;
    img[0x101..0x105].copy_from_slice(&0x150i32.to_le_bytes());
    // A stored negative value -0x10 (>= -i) becomes -0x10 + size.
    img[0x120] = 0xe8;
    img[0x121..0x125].copy_from_slice(&(-0x10i32).to_le_bytes());
    // Out of range: left alone.
    img[0x140] = 0xe8;
    img[0x141..0x145].copy_from_slice(&0x7000_0000i32.to_le_bytes());
    let mut out = img.clone();
    assert_eq!(undo_e8(&mut out), 2);
    assert_eq!(&out[0x101..0x105], &0x50i32.to_le_bytes());
    assert_eq!(&out[0x121..0x125], &(0x200 - 0x10i32).to_le_bytes());
    assert_eq!(&out[0x141..0x145], &img[0x141..0x145]);
    // Not i386: untouched.
    let mut amd64 = img.clone();
    amd64[0x84..0x86].copy_from_slice(&0x8664u16.to_le_bytes());
    assert_eq!(undo_e8(&mut amd64), 0);
}

/// Mutated deltas never panic, never hang, and never return bytes that fail the hash.
#[test]
fn body_mutations_never_panic() {
    let target = b"abcabcabcabcabcxyzxyzxyzzzzzzzzz";
    let patch = default_patch(|w| {
        for &b in b"abc" {
            main_sym(w, u32::from(b));
        }
        main_sym(w, 256 + 10 * 8);
        code(w, 4, 8);
        for &b in b"xyzxyzxyzzzzzzzzz" {
            main_sym(w, u32::from(b));
        }
    });
    let base = raw_delta(target, 0x20000, &patch);
    assert_eq!(apply(&base, None).unwrap().data, target);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for _ in 0..20_000 {
        let mut d = base.clone();
        for _ in 0..1 + next() % 3 {
            let i = (next() % d.len() as u64) as usize;
            d[i] ^= 1 << (next() % 8);
        }
        if let Ok(out) = apply(&d, None) {
            assert_eq!(md5(&out.data), out.header.hash);
        }
    }
}

/// A raw delta against a basis: a whole-source copy (slot 3) and a rift-placed source
/// copy (slot 0, delta 0) read the basis at the output position (the rift table holds
/// only its boundary entry). This proves the decoder against a hand-built delta, by its
/// MD5; genuine raw deltas against a basis were not available to prove it against.
#[test]
fn decodes_hand_built_delta_against_a_basis() {
    let basis = b"The quick brown fox jumps";
    let target = b"The quick brown cat jumps over";
    let patch = default_patch(|w| {
        main_sym(w, 256 + 3 * 8); // whole-source copy, length from the length table
        code(w, 8, 8); // 8 + 8 = 16 bytes: "The quick brown "
        for &b in b"cat" {
            main_sym(w, u32::from(b));
        }
        main_sym(w, 256 + 5); // slot 0, length 6
        w.bits(0x2000, 14); // delta 0: " jumps"
        for &b in b" over" {
            main_sym(w, u32::from(b));
        }
    });
    let d = raw_delta(target, 0x20000, &patch);
    let out = apply(&d, Some(basis)).unwrap();
    assert_eq!(out.data, target);
    // The same delta against nothing: the copies read outside the output.
    assert_eq!(apply(&d, None).unwrap_err().kind(), "msdelta_body");
}

#[test]
fn pe_preprocess_buffer_layout() {
    use crate::rift::parse_pe_preprocess;
    // 3 bits of padding count (1), 64 + 32 + 32 zero bits, three absent records (PE
    // rift, CLI metadata, RVA rift) and an absent CLI map: 135 bits in 17 bytes, as in
    // the genuine 17-byte buffers.
    let mut w = BitWriter::default();
    w.bits(1, 3)
        .bits(0, 64)
        .bits(0x1000_0000, 32)
        .bits(0x55a5_bf54, 32);
    w.bits(0, 4);
    assert_eq!(w.bytes.len(), 17);
    let p = parse_pe_preprocess(&w.bytes).unwrap();
    assert_eq!(p.image_base, 0);
    assert_eq!(p.checksum, 0x1000_0000);
    assert_eq!(p.timestamp, 0x55a5_bf54);
    assert!(p.pe_rift.is_empty() && p.rva_rift.is_empty() && !p.cli_map);
    assert_eq!(p.unread_bits, 0);
    for cut in 0..w.bytes.len() {
        assert!(parse_pe_preprocess(&w.bytes[..cut]).is_err(), "cut {cut}");
    }
    // A present rift table with a garbage integer format fails cleanly.
    let mut w = BitWriter::default();
    w.bits(0, 3)
        .bits(0, 64)
        .bits(0, 64)
        .bits(1, 1)
        .bits(200, 8)
        .bits(0, 40);
    assert!(parse_pe_preprocess(&w.bytes).is_err());
}
