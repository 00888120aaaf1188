//! kbscan-msdelta: reads and applies MSDelta (`PA30`) deltas.
//!
//! Genuine Windows 6.x update payloads are Intra-Package Delta containers whose binaries
//! are `PA30` blobs. This crate parses the PA30 **header** — the target FILETIME, the
//! file-type set, the target file type, the transform flags, the target size and the
//! target hash with its algorithm — and the framing of the two body buffers that follow
//! (pre-processing data and the coded patch), and [`apply`] decodes the body — against
//! nothing (a compressed full file) or against a basis — undoes the E8 transform, and
//! returns the target only when its MD5 matched the header. PE deltas against a basis
//! (file type i386 or amd64) first rewrite the basis into the buffer the delta was
//! made against ([`source`]: header fixups and the transforms the flags name, driven
//! by the pre-processing buffer) and place source copies through the PE copy rift
//! ([`rift::copy_rift`]); when the result does not match the hash, the error names
//! what is not implemented or that the transforms did not reproduce the target
//! ([`DecodeError::Unsupported`]).
//!
//! What it must never do: panic, allocate in proportion to a length field it has not
//! checked against the input or a named limit, read outside the input slice, call
//! Windows' `msdelta.dll` or any external program, or return bytes that did not verify.
//! Every read is bounds-checked; limits are named in [`limits`] and errors quote them.
//!
//! # Format
//! Learned from public descriptions (the `smilingthax/msdelta-pa30-format` notes and
//! reader, `jlevere/msdelta`, Wine's `msdelta.h`, patent US 2007/0260653), implemented
//! here from scratch and proved on the genuine KB2999226 payloads (every target, null-
//! source and against a basis, decodes to the header MD5 and the index SHA-1).
//!
//! **Header** ([`parse_header`], [`parse_framing`]):
//! - bytes 0..4: `"PA30"`; bytes 4..12: target FILETIME, little-endian (100 ns units
//!   since 1601-01-01 UTC);
//! - then a bit stream read LSB-first. Its first 3 bits give the number of unused
//!   padding bits in the stream's very last byte;
//! - integers: `n` zero bits then a one bit say the value has `n + 1` nibbles; the next
//!   `4 * (n + 1)` bits are the value, least significant bit first. 32-bit fields allow
//!   at most 8 nibbles, 64-bit fields at most 16;
//! - buffers: a 32-bit integer length, then the stream skips to the next byte boundary
//!   and the buffer is that many whole bytes;
//! - header fields in order: file-type set (64), file type (64), flags (64), target size
//!   (64), hash algorithm id (32, a Windows `ALG_ID`), hash (buffer); then two buffers:
//!   the pre-processing buffer (empty for raw targets; PE targets carry the source
//!   transform data there) and the patch buffer.
//!
//! **Patch buffer** ([`lzx`]) — a bit stream of its own ([`body::BodyReader`]: again
//! LSB-first, with its own 3-bit padding count):
//! 1. rift table: one bit, 0 = empty (every genuine delta). 1 = a source-to-target
//!    address map (two Huffman-coded integer formats and delta-coded pairs; empty in
//!    every genuine delta seen; not read here: [`body::BodyError::RiftTable`]);
//! 2. composite format: one bit, 1 = a single block with the default code lengths;
//!    0 = a block count (32-bit integer), one 64-bit integer per block (its start in
//!    the output, delta-coded from the previous block's), 39 pre-tree code lengths of 4
//!    bits, then per block the 872 code lengths of its three tables (main 600, length
//!    256, aligned 16) coded with the pre-tree against the previous block's lengths
//!    (all zero before the first): 0..=16 a length, 17..=19 previous + 1..3, 20..=22
//!    previous − 1..3, 23..=30 a run of the last length, 31..=38 a run copied from the
//!    previous block (run length in the low 3 bits: 0..2 → 1..3, `c` ≥ 3 → `c − 1`
//!    more bits under an implicit leading one);
//! 3. Huffman codes are canonical but "left-leaning" ([`huffman`]): the longest codes
//!    take the smallest values, sent most significant bit first;
//! 4. symbols until the target is full. Main symbol < 256: a literal. Otherwise
//!    `s = sym − 256`, offset slot `s >> 3`, length slot `s & 7` (1..7 → length 2..8;
//!    0 → a length-table symbol `l`: `l + 8`, or for `l = 0` a long length: `k` < 24
//!    zero bits, a one bit, then `k + 8` bits under an implicit leading one, plus 8).
//!    Positions are virtual: the source occupies `0..len`, the output follows; a copy
//!    reads at (virtual position − distance). Offset slots: 0..=2 a source copy at a
//!    rift-mapped position with a signed delta `d` (14 bits − 0x2000; 16 bits: below
//!    0x8000 − 0xa000, else − 0x6000; 18 bits: below 0x20000 − 0x2a000, else − 0x16000):
//!    at output offset `t`, under the copy-rift entry `(t0, s0)` in force there, it
//!    reads the source from `s0 + (t − t0) − d` on (without a copy rift: `t − d`);
//!    3 a whole-source copy (at `s0 + (t − t0)`, re-placed at every copy-rift entry it
//!    runs into, which slots 0..=2 are not); 4..=6 the recent distances
//!    (LRU of 3); 7 an escape to
//!    slots 43..=70 (`0` + 2 bits, `10` + 3 bits, `11` + 4 bits); 8..=10 offsets 1..3;
//!    11.. offset `(2 | (slot − 11) & 1) << e` with `e = (slot − 9) >> 1` low bits:
//!    read directly when `e` < 4, else `e − 4` bits then an aligned-table symbol for the
//!    low nibble. Copies may overlap their output; every match moves its distance to
//!    the front of the recent list. The offset bits come before the length symbol.
//!    Block starts of the composite format count in the virtual space;
//! 5. PE pre-processing buffer ([`rift::parse_pe_preprocess`]), a bit stream of its own:
//!    target image base (64 raw bits), checksum (32), timestamp (32), a rift table
//!    (target RVA → file offset), a CLI metadata presence bit, a rift table (source
//!    RVA → target RVA), a CLI map presence bit. Every genuine buffer (166) parses to
//!    exactly its last bit; 127 carry target facts (image base 0x10000000 or
//!    0x180000000, the build's timestamp, a PE rift starting at (0, 0) then the
//!    sections, e.g. (0x1000 → 0x400)), 39 are all zero (cross-architecture deltas);
//! 6. source transforms ([`source`]) of PE deltas, applied to the basis before the
//!    body decodes: header (checksum cleared, target time stamp and image base), `MARK`,
//!    `IMPORTS`, `EXPORTS`, `RESOURCES`, `RELOCS` (`HIGHLOW`, `DIR64`, block list
//!    rebuilt), `I386_JMPS` and `I386_CALLS` (near branches re-targeted, jumps
//!    shortened when they fit), `AMD64_PDATA`; RVAs move through the RVA rift. The
//!    copy rift is the inverse ([`rift::reverse`]: earlier pieces keep overlapping
//!    images, the region below 0 wraps to the last offset) of source file offset →
//!    RVA → target RVA → target file offset ([`rift::compose`]). Not implemented, and
//!    named when a basis needs them: `AMD64_DISASM` (RIP-relative operands of `.pdata`
//!    functions), `UNBIND` (bound imports), `I386_SMASHLOCK` (lock prefix tables), CLI
//!    metadata;
//! 7. output transforms ([`transform`]): `DELTA_FLAG_E8` on an i386 image undoes the
//!    classic LZX call translation with the target size as translation size.
//!
//! Seen in the genuine KB2999226 payloads (177 PA30 blobs): 11 deltas against nothing,
//! all file type raw, flags `IGNORE_FILE_SIZE_LIMIT` (8) or that plus `E8` (3, the
//! 901,264-byte x86 `ucrtbase.dll`), all in the explicit composite format; 166 deltas
//! against a basis, file type i386 (flags 0x2e1fe) or amd64 (0x2e63e). Their file type
//! is the *source's*: the amd64 `api-ms-win-core-datetime-l1-1-0.dll` of the Vista x64
//! payload (blob 70) is an i386 delta against the x86 one (blob 68), with an all-zero
//! pre-processing buffer. All 177 targets decode to their header MD5 and their index
//! SHA-1 (and so do the 177 COPY targets that repeat them). What the genuine targets
//! proved, each by deltas that failed without it: the export transform (the x86
//! `api-ms-win-core-sysinfo-l1-1-0.dll`, Vista x86 blob 36, came out with an export
//! directory at RVA 0x1110 whose RVAs were garbage against the plain basis), the
//! copy-rift inverse's overlap and gap rule (Vista x64 blob 152: with a plain swap,
//! where later pieces win, its export ordinal and name tables come out garbled),
//! re-anchoring of whole-source copies but not of delta copies at copy-rift
//! breakpoints (re-anchoring none fails Vista x86 blob 29, re-anchoring all fails
//! blob 152), the header fixups with directory time stamps left alone (rewriting them
//! breaks the cross-architecture deltas), and `RELOCS`. Leaving out `MARK`, `IMPORTS`,
//! `RESOURCES`, `I386_JMPS`, `I386_CALLS` or `AMD64_PDATA` changes no genuine target
//! (forwarder stubs and data-only DLLs); the genuine images have no `.pdata` with code,
//! no bound imports and no lock prefix tables.

pub mod bits;
pub mod body;
mod decode;
pub mod huffman;
pub mod lzx;
mod names;
pub mod pe;
pub mod rift;
pub mod source;
pub mod transform;

pub use decode::{apply, DecodeError, Decoded, FILE_TYPE_RAW, FLAG_E8};

pub use names::{file_type_name, file_type_set_name, flag_names, hash_alg_name};

use bits::BitReader;

/// Named limits; errors quote them.
pub mod limits {
    /// Bytes before the bit stream: the signature and the FILETIME.
    pub const FIXED_HEADER_LEN: usize = 12;
    /// Largest hash a PA30 header may carry (`DELTA_MAX_HASH_SIZE`).
    pub const MAX_HASH_SIZE: usize = 32;
    /// Most nibbles a 32-bit integer field may use.
    pub const MAX_NIBBLES_32: u32 = 8;
    /// Most nibbles a 64-bit integer field may use.
    pub const MAX_NIBBLES_64: u32 = 16;
    /// Largest target (and basis) [`apply`](crate::apply) decodes: 256 MiB. The
    /// output buffer is allocated once, at the header's target size, after this check.
    pub const MAX_TARGET_SIZE: u64 = 256 << 20;
}

/// The signature of MSDelta deltas this crate reads.
pub const PA30_MAGIC: &[u8; 4] = b"PA30";
/// The signature of legacy mspatcha deltas (not read).
pub const PA19_MAGIC: &[u8; 4] = b"PA19";

/// `CALG_MD5`, the hash algorithm genuine IPD payloads use for their targets.
pub const CALG_MD5: u32 = 0x8003;

/// A header field, named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Padding,
    FileTypeSet,
    FileType,
    Flags,
    TargetSize,
    HashAlgorithm,
    HashSize,
    Hash,
    PreprocessSize,
    Preprocess,
    PatchSize,
    Patch,
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Field::Padding => "padding count",
            Field::FileTypeSet => "file-type set",
            Field::FileType => "file type",
            Field::Flags => "flags",
            Field::TargetSize => "target size",
            Field::HashAlgorithm => "hash algorithm",
            Field::HashSize => "hash size",
            Field::Hash => "hash",
            Field::PreprocessSize => "pre-processing buffer size",
            Field::Preprocess => "pre-processing buffer",
            Field::PatchSize => "patch buffer size",
            Field::Patch => "patch buffer",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeltaError {
    #[error("input is {len} bytes, shorter than the {min}-byte PA30 signature and FILETIME (FIXED_HEADER_LEN) plus one byte of bit stream")]
    TooShort { len: usize, min: usize },
    #[error("legacy PA19 (mspatcha) delta: not supported")]
    Pa19,
    #[error("not a PA30 delta (signature {found:02x?})")]
    BadSignature { found: [u8; 4] },
    #[error("bit stream ends inside the {field} at bit {bit} (stream has {available} bits)")]
    Truncated {
        field: Field,
        bit: u64,
        available: u64,
    },
    #[error("{field} is coded with more than {max} nibbles (MAX_NIBBLES_{width}) at bit {bit}")]
    Overlong {
        field: Field,
        max: u32,
        width: u32,
        bit: u64,
    },
    #[error("padding count {pad} exceeds the {available} bits after it")]
    BadPadding { pad: u32, available: u64 },
    #[error("hash is {len} bytes, more than MAX_HASH_SIZE ({max})")]
    HashTooLong { len: u64, max: usize },
    #[error("{field} of {len} bytes at byte {offset} runs past the end of the {total}-byte input")]
    BufferOutOfBounds {
        field: Field,
        offset: u64,
        len: u64,
        total: usize,
    },
}

impl DeltaError {
    /// Stable snake_case name of the error kind.
    pub fn kind(&self) -> &'static str {
        match self {
            DeltaError::TooShort { .. } => "msdelta_too_short",
            DeltaError::Pa19 => "msdelta_pa19_unsupported",
            DeltaError::BadSignature { .. } => "msdelta_bad_signature",
            DeltaError::Truncated { .. } => "msdelta_truncated",
            DeltaError::Overlong { .. } => "msdelta_overlong_integer",
            DeltaError::BadPadding { .. } => "msdelta_bad_padding",
            DeltaError::HashTooLong { .. } => "msdelta_hash_too_long",
            DeltaError::BufferOutOfBounds { .. } => "msdelta_buffer_out_of_bounds",
        }
    }
}

/// What a PA30 header says about the target (the `DELTA_HEADER_INFO` of the format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pa30Header {
    /// Target FILETIME: 100 ns units since 1601-01-01 UTC.
    pub target_filetime: u64,
    /// `DELTA_FILE_TYPE_SET_*` the delta was created with (bit mask of file types).
    pub file_type_set: u64,
    /// `DELTA_FILE_TYPE_*` of the target (one bit: raw, i386, ia64, amd64, ...).
    pub file_type: u64,
    /// `DELTA_FLAG_*` transforms applied.
    pub flags: u64,
    pub target_size: u64,
    /// Windows `ALG_ID` of the target hash (`CALG_MD5` = 0x8003); 0 for none.
    pub hash_alg: u32,
    pub hash: Vec<u8>,
    /// Bit offset (from the start of the input) just after the hash.
    pub end_bit: u64,
}

impl Pa30Header {
    /// The target FILETIME as `yyyy-mm-ddThh:mm:ssZ` (UTC), `None` if out of range.
    pub fn target_time_utc(&self) -> Option<String> {
        filetime_to_utc(self.target_filetime)
    }

    /// The target hash as lower-case hex.
    pub fn hash_hex(&self) -> String {
        hex::encode(&self.hash)
    }
}

/// Where the body buffers of a PA30 delta lie (byte ranges into the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pa30Framing {
    pub header: Pa30Header,
    /// Pre-processing buffer (transform data, rift table input).
    pub preprocess: std::ops::Range<usize>,
    /// Patch buffer: the coded body.
    pub patch: std::ops::Range<usize>,
    /// Bytes after the patch buffer (0 in every genuine delta seen).
    pub trailing: usize,
}

/// Parses the PA30 header of `data` (the whole delta, or at least its beginning).
pub fn parse_header(data: &[u8]) -> Result<Pa30Header, DeltaError> {
    let mut r = open(data)?;
    // `open` checked the length: bytes 4..12 exist.
    let target_filetime = data[4..limits::FIXED_HEADER_LEN]
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let file_type_set = r.read_int64(Field::FileTypeSet)?;
    let file_type = r.read_int64(Field::FileType)?;
    let flags = r.read_int64(Field::Flags)?;
    let target_size = r.read_int64(Field::TargetSize)?;
    let hash_alg = r.read_int32(Field::HashAlgorithm)?;
    let hash_len = r.read_int32(Field::HashSize)?;
    if hash_len as usize > limits::MAX_HASH_SIZE {
        return Err(DeltaError::HashTooLong {
            len: u64::from(hash_len),
            max: limits::MAX_HASH_SIZE,
        });
    }
    let hash = r.read_bytes(hash_len, Field::Hash)?.to_vec();
    Ok(Pa30Header {
        target_filetime,
        file_type_set,
        file_type,
        flags,
        target_size,
        hash_alg,
        hash,
        end_bit: r.bit_position() + (limits::FIXED_HEADER_LEN as u64) * 8,
    })
}

/// Parses the header and the framing of the two body buffers (without decoding them).
pub fn parse_framing(data: &[u8]) -> Result<Pa30Framing, DeltaError> {
    let header = parse_header(data)?;
    let mut r = open(data)?;
    r.seek_bit(header.end_bit - (limits::FIXED_HEADER_LEN as u64) * 8);
    let pre_len = r.read_int32(Field::PreprocessSize)?;
    let pre = r.byte_range(pre_len, Field::Preprocess)?;
    let patch_len = r.read_int32(Field::PatchSize)?;
    let patch = r.byte_range(patch_len, Field::Patch)?;
    let off = limits::FIXED_HEADER_LEN;
    let end = off + patch.end;
    Ok(Pa30Framing {
        header,
        preprocess: off + pre.start..off + pre.end,
        patch: off + patch.start..end,
        trailing: data.len() - end,
    })
}

fn open(data: &[u8]) -> Result<BitReader<'_>, DeltaError> {
    if data.len() >= 4 && &data[..4] == PA19_MAGIC {
        return Err(DeltaError::Pa19);
    }
    if data.len() >= 4 && &data[..4] != PA30_MAGIC {
        let mut found = [0u8; 4];
        found.copy_from_slice(&data[..4]);
        return Err(DeltaError::BadSignature { found });
    }
    if data.len() <= limits::FIXED_HEADER_LEN {
        return Err(DeltaError::TooShort {
            len: data.len(),
            min: limits::FIXED_HEADER_LEN,
        });
    }
    BitReader::new(&data[limits::FIXED_HEADER_LEN..])
}

/// FILETIME (100 ns since 1601-01-01 UTC) → `yyyy-mm-ddThh:mm:ssZ`.
pub fn filetime_to_utc(ft: u64) -> Option<String> {
    // Seconds between 1601-01-01 and 1970-01-01.
    const EPOCH_DIFF: i64 = 11_644_473_600;
    let secs = (ft / 10_000_000) as i64 - EPOCH_DIFF;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(1601..=9999).contains(&y) {
        return None;
    }
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// Days since 1970-01-01 → proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift to an era-based calendar starting 0000-03-01 (400-year eras of 146,097 days).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// One line for humans: "delta-compressed, target 901,264 bytes, MD5 5b55…".
pub fn describe(h: &Pa30Header) -> String {
    let mut s = format!(
        "delta-compressed, target {} bytes",
        group_thousands(h.target_size)
    );
    if !h.hash.is_empty() {
        let alg = hash_alg_name(h.hash_alg)
            .map(str::to_string)
            .unwrap_or_else(|| format!("ALG_ID {:#06x}", h.hash_alg));
        s.push_str(&format!(", {alg} {}", h.hash_hex()));
    }
    s
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
