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
    use crate::body::BodyReader;
    use crate::huffman::{CodeError, Huffman};
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
                error: crate::body::BodyError::BadOffset {
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

// ---- rift algebra ----------------------------------------------------------------

fn rift_of(pairs: &[(i64, i64)]) -> Vec<crate::rift::RiftEntry> {
    pairs
        .iter()
        .map(|&(source, target)| crate::rift::RiftEntry { source, target })
        .collect()
}

fn pairs_of(t: &[crate::rift::RiftEntry]) -> Vec<(i64, i64)> {
    t.iter().map(|e| (e.source, e.target)).collect()
}

#[test]
fn rift_mapping_is_identity_below_the_first_entry() {
    use crate::rift::map_through;
    let t = rift_of(&[(0x1000, 0x1010), (0x2000, 0x1ff0)]);
    assert_eq!(map_through(&t, 0xfff), 0xfff);
    assert_eq!(map_through(&t, 0x1000), 0x1010);
    assert_eq!(map_through(&t, 0x1fff), 0x200f);
    assert_eq!(map_through(&t, 0x2000), 0x1ff0);
    assert_eq!(map_through(&t, 0x9000), 0x8ff0);
    assert_eq!(map_through(&[], 0x1234), 0x1234);
}

#[test]
fn rift_composition_walks_both_tables() {
    use crate::rift::compose;
    // File offset → RVA, then RVA → RVA with one move inside the second section.
    let io2rva = rift_of(&[(0, 0), (0x400, 0x1000), (0x800, 0x2000)]);
    let moved = rift_of(&[(0, 0), (0x2100, 0x2140)]);
    let c = compose(&io2rva, &moved).unwrap();
    assert_eq!(
        pairs_of(&c),
        [(0, 0), (0x400, 0x1000), (0x800, 0x2000), (0x900, 0x2140)]
    );
    // Pieces with one offset merge; an empty operand is the identity.
    let same = compose(&rift_of(&[(0, 0), (0x10, 0x10)]), &[]).unwrap();
    assert_eq!(pairs_of(&same), [(0, 0), (0x10, 0x10)]);
    let merged = compose(&rift_of(&[(0, 5), (0x10, 0x15)]), &rift_of(&[(0, 0)])).unwrap();
    assert_eq!(pairs_of(&merged), [(0, 5)]);
}

/// The inverse keeps the earlier piece where images overlap, continues the entry
/// before a gap, and lets the wrapped region (below 0, at the last offset) claim the
/// gaps below its reach. The first two tables are the forward maps of genuine deltas
/// (Vista x86 blob 29, Vista x64 blob 152) that verify only with this rule.
#[test]
fn rift_reverse_resolves_overlaps_and_gaps() {
    use crate::rift::reverse;
    let fwd = rift_of(&[
        (0, 0),
        (0x548, 0x54c),
        (0x558, 0x560),
        (0x560, 0x56a),
        (0x800, 0x800),
    ]);
    assert_eq!(
        pairs_of(&reverse(&fwd)),
        [
            (0, 0),
            (0x54c, 0x548),
            (0x560, 0x558),
            (0x56a, 0x560),
            (0x80a, 0x80a)
        ]
    );
    let fwd = rift_of(&[
        (0, 0),
        (0x7a8, 0x750),
        (0xac8, 0xa18),
        (0xc58, 0xb7c),
        (0x2000, 0x1800),
    ]);
    assert_eq!(
        pairs_of(&reverse(&fwd)),
        [
            (0, 0),
            (0x7a8, 0x800),
            (0xa70, 0xb20),
            (0xba8, 0xc84),
            (0x1f24, 0x2724)
        ]
    );
    // Gaps below the last offset (0x1800) go to the wrapped region.
    let io2rva = rift_of(&[(0, 0), (0x400, 0x1000), (0x800, 0x2000)]);
    assert_eq!(
        pairs_of(&reverse(&io2rva)),
        [
            (0, 0),
            (0x400, -0x1400),
            (0x1000, 0x400),
            (0x1400, -0x400),
            (0x2000, 0x800)
        ]
    );
    // One distinct source: a single entry; nothing: nothing.
    assert_eq!(pairs_of(&reverse(&rift_of(&[(4, 9)]))), [(0, 5)]);
    assert!(reverse(&[]).is_empty());
    // Extreme values stay in range (no overflow, no sentinel entries).
    let wide = rift_of(&[(i64::MIN, i64::MAX), (0, 0), (i64::MAX, i64::MIN)]);
    let r = reverse(&wide);
    assert!(r
        .iter()
        .all(|e| e.source != i64::MIN && e.target != i64::MIN));
}

/// A whole-source copy follows the copy rift across its breakpoints; a copy with an
/// explicit delta keeps reading where it started.
#[test]
fn source_copies_and_rift_breakpoints() {
    let source = b"0123456789abcdef";
    let rift = rift_of(&[(0, 0), (4, 8)]);
    let whole = default_patch(|w| {
        main_sym(w, 256 + 3 * 8 + 7); // slot 3, length 8
        main_sym(w, 256 + 3); // slot 0, length 4
        w.bits(0x2000, 14); // delta 0
    });
    let out = crate::lzx::decode(&whole, source, 12, &rift).unwrap();
    assert_eq!(&out, b"012389abcdef");
    let delta0 = default_patch(|w| {
        main_sym(w, 256 + 7); // slot 0, length 8
        w.bits(0x2000, 14);
    });
    let out = crate::lzx::decode(&delta0, source, 8, &rift).unwrap();
    assert_eq!(&out, b"01234567");
    // Without a rift both read the source in place.
    let out = crate::lzx::decode(&whole, source, 12, &[]).unwrap();
    assert_eq!(&out, b"0123456789ab");
}

// ---- source transforms on a hand-built i386 image ------------------------------------

/// A two-section i386 image (`.text` at RVA 0x1000 / file 0x400, executable; `.data`
/// at RVA 0x2000 / file 0x800) with exports, imports, relocations and branches.
/// Little-endian stores for the hand-built images (tests only: they index freely).
fn put(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// File offset of an RVA in the two-section images below (`.text` at 0x1000 → 0x400,
/// data at 0x2000 → 0x800).
fn fo(rva: usize) -> usize {
    if rva >= 0x2000 {
        rva - 0x2000 + 0x800
    } else {
        rva - 0x1000 + 0x400
    }
}

/// A 0xa00-byte PE image with `machine`, an optional header of `opt_size` bytes and
/// `magic`, SizeOfImage 0x3000, CheckSum 0xdeadbeef, TimeDateStamp 0x11111111, and two
/// sections: code (0x1000, 0x400 bytes at 0x400) and data (0x2000, virtual size
/// `data_vsize`, 0x200 bytes at 0x800). Returns the image and the optional header's
/// offset; the caller sets the image base, the directory count and the directories.
fn two_section_pe(machine: u16, opt_size: u16, magic: u16, data_vsize: u32) -> (Vec<u8>, usize) {
    let mut b = vec![0u8; 0xa00];
    b[..2].copy_from_slice(b"MZ");
    put(&mut b, 0x3c, 0x40);
    b[0x40..0x44].copy_from_slice(b"PE\0\0");
    put16(&mut b, 0x44, machine);
    put16(&mut b, 0x46, 2);
    put(&mut b, 0x48, 0x1111_1111); // TimeDateStamp
    put16(&mut b, 0x54, opt_size);
    let opt = 0x58;
    put16(&mut b, opt, magic);
    put(&mut b, opt + 56, 0x3000); // SizeOfImage
    put(&mut b, opt + 64, 0xdead_beef); // CheckSum
    let sec = opt + usize::from(opt_size);
    for (k, (va, raw, ch)) in [
        (0x1000, 0x400, 0x6000_0020u32),
        (0x2000, 0x800, 0x4000_0040),
    ]
    .into_iter()
    .enumerate()
    {
        let s = sec + 40 * k;
        put(&mut b, s + 8, if k == 0 { 0x400 } else { data_vsize });
        put(&mut b, s + 12, va);
        put(&mut b, s + 16, if k == 0 { 0x400 } else { 0x200 });
        put(&mut b, s + 20, raw);
        put(&mut b, s + 36, ch);
    }
    (b, opt)
}

fn small_pe() -> Vec<u8> {
    let (mut b, opt) = two_section_pe(0x14c, 0xe0, 0x10b, 0x200);
    put(&mut b, opt + 28, 0x1000_0000); // ImageBase
    put(&mut b, opt + 92, 16);
    let dirs = opt + 96;
    put(&mut b, dirs, 0x1300); // exports
    put(&mut b, dirs + 4, 0x60);
    put(&mut b, dirs + 8, 0x2040); // imports
    put(&mut b, dirs + 12, 0x28);
    put(&mut b, dirs + 5 * 8, 0x2100); // relocations
    put(&mut b, dirs + 5 * 8 + 4, 0x10);
    let sec = opt + 0xe0;
    b[sec..sec + 5].copy_from_slice(b".text");
    // call 0x1250 at 0x1000; a call into .data (not code: left alone) at 0x1008.
    b[fo(0x1000)] = 0xe8;
    put(&mut b, fo(0x1001), 0x1250 - 0x1005);
    b[fo(0x1008)] = 0xe8;
    put(&mut b, fo(0x1009), 0x2010 - 0x100d);
    // jmp 0x1200 at 0x1100 and je 0x1210 at 0x1110: both become short forms.
    b[fo(0x1100)] = 0xe9;
    put(&mut b, fo(0x1101), 0x1200 - 0x1105);
    b[fo(0x1110)..fo(0x1112)].copy_from_slice(&[0x0f, 0x84]);
    put(&mut b, fo(0x1112), 0x1210 - 0x1116);
    // jmp 0x1000 at 0x1120: still far.
    b[fo(0x1120)] = 0xe9;
    put(&mut b, fo(0x1121), (0x1000i32 - 0x1125) as u32);
    // Relocated operands: VAs of 0x1250 and 0x2004.
    put(&mut b, fo(0x11f0), 0x1000_1250);
    put(&mut b, fo(0x1220), 0x1000_2004);
    // Exports: name, 2 functions, 2 names, ordinals.
    let e = fo(0x1300);
    put(&mut b, e + 12, 0x1380);
    put(&mut b, e + 16, 1);
    put(&mut b, e + 20, 2);
    put(&mut b, e + 24, 2);
    put(&mut b, e + 28, 0x1340);
    put(&mut b, e + 32, 0x1348);
    put(&mut b, e + 36, 0x1350);
    put(&mut b, fo(0x1340), 0x1000);
    put(&mut b, fo(0x1344), 0x1250);
    put(&mut b, fo(0x1348), 0x1360);
    put(&mut b, fo(0x134c), 0x1370);
    // Imports: one descriptor, ILT and IAT with a by-name and a by-ordinal entry.
    let d = fo(0x2040);
    put(&mut b, d, 0x2080);
    put(&mut b, d + 12, 0x20a0);
    put(&mut b, d + 16, 0x2090);
    for t in [0x2080, 0x2090] {
        put(&mut b, fo(t), 0x20b0);
        put(&mut b, fo(t + 4), 0x8000_0005);
    }
    // Relocation block for page 0x1000: HIGHLOW at 0x1220 and 0x11f0, then padding.
    let r = fo(0x2100);
    put(&mut b, r, 0x1000);
    put(&mut b, r + 4, 0x10);
    put16(&mut b, r + 8, 0x3220);
    put16(&mut b, r + 10, 0x31f0);
    b
}

fn small_pre() -> crate::rift::PePreprocess {
    crate::rift::PePreprocess {
        image_base: 0x2000_0000,
        checksum: 0x1234_5678,
        timestamp: 0x5555_5555,
        pe_rift: rift_of(&[(0, 0), (0x1000, 0x400), (0x2000, 0x800)]),
        cli_metadata: false,
        // Code from 0x1200 moves down by 0x80, data up by 8.
        rva_rift: rift_of(&[(0x1000, 0x1000), (0x1200, 0x1180), (0x2000, 0x2008)]),
        cli_map: false,
        unread_bits: 0,
    }
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

#[test]
fn i386_source_transforms_on_a_small_image() {
    let basis = small_pe();
    let p = crate::source::prepare(&basis, &small_pre(), 0x2e1fe).unwrap();
    let t = &p.source;
    assert!(p.missing.is_empty());
    // Header: checksum cleared, the target's time stamp and image base.
    assert_eq!(le32(t, 0x58 + 64), 0);
    assert_eq!(le32(t, 0x48), 0x5555_5555);
    assert_eq!(le32(t, 0x58 + 28), 0x2000_0000);
    // call 0x1250 (now 0x11d0) from 0x1005; the call into data is left alone.
    assert_eq!(le32(t, 0x401), 0x11d0 - 0x1005);
    assert_eq!(le32(t, 0x409), 0x2010 - 0x100d);
    // jmp / je to 0x1200 / 0x1210 (now 0x1180 / 0x1190) become EB / 74 short forms.
    assert_eq!(&t[0x500..0x502], &[0xeb, 0x7b]);
    assert_eq!(&t[0x510..0x512], &[0x74, 0x7a]);
    // A far jump whose displacement does not move keeps its bytes.
    assert_eq!(le32(t, 0x521), (0x1000i32 - 0x1125) as u32);
    // Relocated operands: re-based on the target base through the rift.
    assert_eq!(le32(t, 0x5f0), 0x2000_11d0);
    assert_eq!(le32(t, 0x620), 0x2000_200c);
    // The block list, rebuilt from the mapped sites (0x1220 → 0x11a0), sorted.
    assert_eq!(le32(t, 0x900), 0x1000);
    assert_eq!(le32(t, 0x904), 12);
    assert_eq!(&t[0x908..0x90c], &[0xa0, 0x31, 0xf0, 0x31]);
    // Exports: every RVA through the rift.
    let e = 0x700;
    assert_eq!(
        [
            le32(t, e + 12),
            le32(t, e + 28),
            le32(t, e + 32),
            le32(t, e + 36)
        ],
        [0x1300, 0x12c0, 0x12c8, 0x12d0]
    );
    assert_eq!([le32(t, 0x740), le32(t, 0x744)], [0x1000, 0x11d0]);
    assert_eq!([le32(t, 0x748), le32(t, 0x74c)], [0x12e0, 0x12f0]);
    // Imports: descriptor RVAs and by-name thunks move, ordinals stay.
    assert_eq!(
        [le32(t, 0x840), le32(t, 0x84c), le32(t, 0x850)],
        [0x2088, 0x20a8, 0x2098]
    );
    assert_eq!([le32(t, 0x880), le32(t, 0x884)], [0x20b8, 0x8000_0005]);
    assert_eq!([le32(t, 0x890), le32(t, 0x894)], [0x20b8, 0x8000_0005]);
    // Copy rift: target file offset → source file offset through both section maps;
    // where the moved code overlaps the code before it, the earlier piece keeps it.
    assert_eq!(crate::rift::map_through(&p.copy_rift, 0x580), 0x580);
    assert_eq!(crate::rift::map_through(&p.copy_rift, 0x600), 0x680);
    assert_eq!(crate::rift::map_through(&p.copy_rift, 0x808), 0x800);
    // Without MARK every byte may be code: the data call is then translated too,
    // its target (0x2010 → 0x2018) being in a section.
    let p = crate::source::prepare(&basis, &small_pre(), 0x2e1fe & !0x2).unwrap();
    assert_eq!(le32(&p.source, 0x409), 0x2018 - 0x100d);
}

#[test]
fn source_transforms_refuse_what_they_do_not_know() {
    let pre = small_pre();
    assert!(crate::source::prepare(b"not a PE", &pre, 0x2e1fe).is_err());
    let mut ia64 = small_pe();
    ia64[0x44..0x46].copy_from_slice(&0x200u16.to_le_bytes());
    let e = crate::source::prepare(&ia64, &pre, 0x2e1fe).err().unwrap();
    assert!(e.contains("0x0200"), "{e}");
    let mut cli = pre.clone();
    cli.cli_map = true;
    let e = crate::source::prepare(&small_pe(), &cli, 0x2e1fe)
        .err()
        .unwrap();
    assert!(e.contains("CLI"), "{e}");
    // A bound import directory: UNBIND is named as missing.
    let mut bound = small_pe();
    let at = 0x58 + 96 + 11 * 8;
    bound[at..at + 4].copy_from_slice(&0x2180u32.to_le_bytes());
    let p = crate::source::prepare(&bound, &pre, 0x2e1fe).unwrap();
    assert_eq!(p.missing, ["UNBIND (the basis has bound imports)"]);
}

/// Every truncation and mutation of the small image goes through the transforms
/// without a panic.
#[test]
fn source_transforms_survive_mutations() {
    let basis = small_pe();
    let pre = small_pre();
    for cut in (0..basis.len()).step_by(7) {
        let _ = crate::source::prepare(&basis[..cut], &pre, 0x2e63e);
        let _ = crate::source::prepare(&basis[..cut], &pre, 0x2e1fe);
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..400 {
        let mut m = basis.clone();
        for _ in 0..8 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed % m.len() as u64) as usize;
            m[at] = (seed >> 32) as u8;
        }
        let _ = crate::source::prepare(&m, &pre, 0x2e1fe);
    }
}

/// A hostile forward map whose images run backwards (each piece lands before the one
/// before it) inverts in O(n log n): 200,000 pieces, every one claiming its own image.
#[test]
fn rift_reverse_of_backward_pieces_is_fast() {
    let n = 200_000i64;
    let fwd: Vec<_> = (0..n)
        .map(|i| crate::rift::RiftEntry {
            source: i * 16,
            target: (n - i) * 16,
        })
        .collect();
    let r = crate::rift::reverse(&fwd);
    assert!(r.len() >= n as usize - 1, "{}", r.len());
    assert!(r.windows(2).all(|w| w[0].source <= w[1].source));
}

/// An i386 PE delta against the small image with an all-zero pre-processing buffer (as
/// the genuine cross-architecture deltas carry): one whole-source copy of the headers.
/// It decodes only against the transformed basis (checksum, time stamp and image base
/// take the buffer's zero values); against a wrong hash, or a basis that is no PE, the
/// error names why.
#[test]
fn pe_delta_reads_the_transformed_basis() {
    let basis = small_pe();
    let mut target = basis[..0x400].to_vec();
    for at in [0x58 + 64, 0x48, 0x58 + 28] {
        target[at..at + 4].fill(0);
    }
    let mut pre = BitWriter::default();
    pre.bits(1, 3)
        .bits(0, 64)
        .bits(0, 32)
        .bits(0, 32)
        .bits(0, 4);
    let patch = default_patch(|w| {
        main_sym(w, 256 + 3 * 8); // whole-source copy, length from the length table
        code(w, 0, 8); // length symbol 0: a long length
        w.bits(0b10, 2).bits(0x400 - 8 - 512, 9); // 512 + 504 + 8 = 0x400
    });
    let pe_delta = |hash: &[u8]| {
        delta(0, |w| {
            w.int(0x0f)
                .int(0x02)
                .int(0x2e1fe)
                .int(0x400)
                .int(u64::from(CALG_MD5))
                .buffer(hash)
                .buffer(&pre.bytes)
                .buffer(&patch);
        })
    };
    let out = apply(&pe_delta(&md5(&target)), Some(&basis)).unwrap();
    assert_eq!(out.data, target);
    assert!(out.md5_verified);
    let e = apply(&pe_delta(&[0; 16]), Some(&basis)).unwrap_err();
    assert_eq!(e.kind(), "msdelta_unsupported");
    assert!(
        e.to_string().contains("did not reproduce the target MD5"),
        "{e}"
    );
    let e = apply(&pe_delta(&md5(&target)), Some(&[0x4d; 0x500])).unwrap_err();
    assert!(e.to_string().contains("not a readable PE image"), "{e}");
}

/// The small image as PE32+ (amd64): 8-byte thunks, a `DIR64` relocation, `.pdata`.
fn small_pe64() -> Vec<u8> {
    let (mut b, opt) = two_section_pe(0x8664, 0xf0, 0x20b, 0x300);
    put64(&mut b, opt + 24, 0x1_8000_0000);
    put(&mut b, opt + 108, 16);
    let dirs = opt + 112;
    put(&mut b, dirs + 8, 0x2040); // imports
    put(&mut b, dirs + 12, 0x28);
    put(&mut b, dirs + 3 * 8, 0x21c0); // exceptions
    put(&mut b, dirs + 3 * 8 + 4, 12);
    put(&mut b, dirs + 5 * 8, 0x2100); // relocations
    put(&mut b, dirs + 5 * 8 + 4, 12);
    let d = fo(0x2040);
    put(&mut b, d, 0x2080);
    put(&mut b, d + 12, 0x20c0);
    put(&mut b, d + 16, 0x20a0);
    for t in [0x2080, 0x20a0] {
        put64(&mut b, fo(t), 0x20d0);
        put64(&mut b, fo(t + 8), 0x8000_0000_0000_0007);
    }
    // DIR64 at 0x1300 holding the VA of 0x1250.
    put64(&mut b, fo(0x1300), 0x1_8000_1250);
    let r = fo(0x2100);
    put(&mut b, r, 0x1000);
    put(&mut b, r + 4, 12);
    b[r + 8..r + 10].copy_from_slice(&0xa300u16.to_le_bytes());
    // One RUNTIME_FUNCTION: 0x1200..0x1260, unwind data at 0x2010.
    let p = fo(0x21c0);
    put(&mut b, p, 0x1200);
    put(&mut b, p + 4, 0x1260);
    put(&mut b, p + 8, 0x2010);
    b
}

#[test]
fn amd64_source_transforms_on_a_small_image() {
    let basis = small_pe64();
    let mut pre = small_pre();
    pre.image_base = 0x1_4000_0000;
    // Without AMD64_DISASM: every remap done, nothing missing.
    let p = crate::source::prepare(&basis, &pre, 0x2e63e & !0x200).unwrap();
    assert!(p.missing.is_empty());
    let t = &p.source;
    let le64 = |at: usize| u64::from_le_bytes(t[at..at + 8].try_into().unwrap());
    assert_eq!(le32(t, 0x58 + 64), 0);
    assert_eq!(le64(0x58 + 24), 0x1_4000_0000);
    // Thunks: the by-name RVA moves (+8 in .data), the ordinal stays; 8 bytes each.
    assert_eq!([le64(0x880), le64(0x888)], [0x20d8, 0x8000_0000_0000_0007]);
    assert_eq!([le64(0x8a0), le64(0x8a8)], [0x20d8, 0x8000_0000_0000_0007]);
    assert_eq!(
        [le32(t, 0x840), le32(t, 0x84c), le32(t, 0x850)],
        [0x2088, 0x20c8, 0x20a8]
    );
    // DIR64 operand re-based; its site moved to 0x1280 (code from 0x1200: −0x80).
    assert_eq!(le64(0x700), 0x1_4000_11d0);
    assert_eq!(le32(t, 0x900), 0x1000);
    assert_eq!(le32(t, 0x904), 12);
    assert_eq!(&t[0x908..0x90a], &0xa280u16.to_le_bytes());
    // .pdata: begin, end and unwind RVAs.
    assert_eq!(
        [le32(t, 0x9c0), le32(t, 0x9c4), le32(t, 0x9c8)],
        [0x1180, 0x11e0, 0x2018]
    );
    // With AMD64_DISASM asked for on an image with .pdata: named as missing.
    let p = crate::source::prepare(&basis, &pre, 0x2e63e).unwrap();
    assert_eq!(p.missing, ["AMD64_DISASM (the basis has .pdata functions)"]);
}

/// The resource tree of the small image, with a move inside `.rsrc`: offsets move by
/// how far their target moved relative to the directory start. (The genuine images
/// prove only the case where the whole tree moves as one; the rule for a data entry's
/// `OffsetToData`, read as directory-relative, follows the public description.)
#[test]
fn resource_transform_moves_offsets_relative_to_the_directory() {
    let mut b = small_pe();
    let dirs = 0x58 + 96;
    put(&mut b, dirs + 16, 0x2180);
    put(&mut b, dirs + 20, 0x60);
    b[0x98e] = 1; // root: one id entry
    put(&mut b, 0x990, 0x10);
    put(&mut b, 0x994, 0x8000_0018); // → subdirectory at +0x18
    b[0x998 + 12] = 1; // subdirectory: one named entry
    put(&mut b, 0x9a8, 0x8000_0040); // name string at +0x40
    put(&mut b, 0x9ac, 0x30); // → data entry at +0x30
    put(&mut b, 0x9b0, 0x21e0); // OffsetToData
    put(&mut b, 0x9b4, 4);
    let mut pre = small_pre();
    pre.rva_rift.push(crate::rift::RiftEntry {
        source: 0x21a0,
        target: 0x21b0,
    });
    let p = crate::source::prepare(&b, &pre, 0x10).unwrap();
    let t = &p.source;
    assert_eq!(le32(t, 0x994), 0x8000_0018); // 0x2198 and 0x2180 moved alike
    assert_eq!(le32(t, 0x9a8), 0x8000_0048); // 0x21c0 moved 8 more than 0x2180
    assert_eq!(le32(t, 0x9ac), 0x30); // a leaf's own offset is left alone
    assert_eq!(le32(t, 0x9b0), 0x21e8);
    // Only the RESOURCES flag: nothing else moved.
    assert_eq!(le32(t, 0x401), 0x1250 - 0x1005);
    // A directory naming itself (a cycle) ends the walk; nothing hangs.
    put(&mut b, 0x994, 0x8000_0000);
    assert!(crate::source::prepare(&b, &pre, 0x10).is_ok());
}

/// A pre-processing rift with extreme offsets (a hostile buffer can code any 64-bit
/// value) wraps instead of overflowing, in the transforms and in the copy placement.
#[test]
fn extreme_rift_offsets_do_not_overflow() {
    let basis = small_pe();
    let mut pre = small_pre();
    pre.rva_rift = rift_of(&[(0, i64::MIN), (0x1200, i64::MAX), (0x2000, i64::MIN + 5)]);
    pre.pe_rift = rift_of(&[(0, i64::MAX), (0x1000, i64::MIN)]);
    let p = crate::source::prepare(&basis, &pre, 0x2e1fe).unwrap();
    let whole = default_patch(|w| {
        for _ in 0..4 {
            main_sym(w, 256 + 3 * 8 + 7); // whole-source copies
        }
    });
    let _ = crate::lzx::decode(&whole, &p.source, 32, &p.copy_rift);
    let _ = crate::lzx::decode(
        &whole,
        &p.source,
        32,
        &rift_of(&[(0, i64::MIN), (8, i64::MAX)]),
    );
}
