//! ZIP reader for untrusted archives, from a [`Source`] (memory or a file range), bounded by
//! [`Limits`].
//!
//! # Why not the `zip` crate
//! crates.io `zip` (v9) is kept as a test oracle only (like `cab` for cabinets). It keys its
//! entries by name, so of two entries with the same name only the last can be read (issue 15:
//! the first was neither scanned, extracted nor reported); it decodes names lossily, so two
//! different invalid-UTF-8 names both became `U+FFFD` text and collided; and it reads
//! through `Read + Seek` with no way to bound what a caller holds. This module owns the
//! format so that:
//! - **every central-directory entry is delivered**, in central-directory order, duplicates
//!   included, each with its index; [`ZipEntry::duplicate_of`] says which earlier entry it
//!   repeats (the scanner reports that as `duplicate_member_name`);
//! - **names keep their raw bytes** ([`ZipEntry::name_raw`]) next to a text form that never
//!   merges two names (below);
//! - **reads are bounded positioned reads**: the end records are found in the last 64 KiB,
//!   the central directory is read record by record, data through a 64 KiB window (or
//!   borrowed in place from memory);
//! - **memory is bounded by [`Limits::memory`]**, not by member sizes: an inflated entry
//!   grows in one reused buffer while the [`crate::limits::MemoryBudget`] allows, and moves
//!   to one reused [`Spill`](crate::Spill) (anonymous temporary file) when it does not. Stored entries are
//!   never copied: they are handed out as a range of the archive's own source.
//!
//! # What is read
//! The End of Central Directory record is searched backwards in the last 65,535 + 22 bytes
//! (an EOCD whose comment ends exactly at the end of the source is preferred; otherwise the
//! last one that fits, and the bytes after it are [`ZipInfo::trailing_bytes`]). A ZIP64
//! locator right before it leads to the ZIP64 EOCD record, whose values replace the
//! saturated (`0xFFFF`, `0xFFFFFFFF`) ones; a non-saturated value that disagrees with the
//! ZIP64 record makes the archive unreadable (two readers would see two archives).
//! Offsets are from the start of the source: a self-extractor prefix is not compensated.
//! Multi-disk archives are refused. Central-directory records are read up to the declared
//! count, then on while further `PK\1\2` records follow inside the directory (an undeclared
//! entry is still an entry: [`ZipInfo::undeclared_entries`]). Sizes and the local header
//! offset come from the central directory, with the ZIP64 extra field (0x0001) for
//! saturated ones; the local header is read only for its name and extra lengths, to find
//! where the data starts. Data descriptors are not needed and not read; Info-ZIP Unicode
//! path extras (0x7075) are ignored: the central name is the name.
//!
//! Methods 0 (stored) and 8 (deflate, raw inflate through `flate2`) are decoded; others are
//! a per-entry [`ZipError::UnsupportedMethod`] that names the method, and encrypted entries
//! (flag bit 0 or 6) a per-entry [`ZipError::Encrypted`]. Every delivered entry's CRC-32 and
//! size are checked against the central directory.
//!
//! # Names
//! [`ZipEntry::name_raw`] holds the bytes as stored. [`ZipEntry::name`] is a text form that
//! is deterministic and never merges two raw names read the same way:
//! - with general-purpose bit 11 (UTF-8) set, or when the bytes are valid UTF-8: UTF-8, each
//!   byte of an invalid sequence written `\x{hh}` (two lower-case hex digits), never
//!   replaced by U+FFFD;
//! - otherwise IBM code page 437 (APPNOTE's default), one character per byte (0x00..=0x7F
//!   as ASCII), so every byte maps to a distinct character;
//! - in both, a backslash that begins a literal `\x{` is written `\x{5c}`, so every `\x{`
//!   in a text is an escape and the raw bytes can be recovered.
//!
//! A name is a duplicate ([`ZipEntry::duplicate_of`]) of the first earlier entry whose raw
//! bytes are equal (case-sensitively) once `\` is read as `/`, or whose text name is equal
//! once `\` is read as `/`: either way the two are one path to an extractor. The second test
//! catches one name spelt in two encodings (`é` as code page 437 `0x82` and as UTF-8), and
//! an escape whose backslash reads as a separator (the raw `a 0xFF` under the UTF-8 flag is
//! the text `a\x{ff}`, which `kbscan extract` would write where a literal `a/x{ff}` goes).
//!
//! # What this module must never do, whatever the input
//! - **panic**, or **loop without progress**: an inflate call that neither consumes nor
//!   produces ends the entry with [`ZipError::Decode`];
//! - **allocate by a declared count or size**: the entry list is capped by what the central
//!   directory can hold, buffers grow with bytes actually produced (the declared size is at
//!   most a 64 KiB first reservation), and one byte past
//!   `min(max_entry_bytes, max_total_bytes left)` proves an entry too large;
//! - **let a byte go uncharged**: every byte produced (stored bytes checked, inflated bytes,
//!   an oversized entry's bytes up to the proof, entries sharing one local entry) counts
//!   against [`Limits::max_total_bytes`] and [`Limits::package_budget`], so a bomb of many
//!   central entries pointing at one local entry is a limit error;
//! - **merge or drop an entry**: an unreadable central directory ends the archive
//!   ([`ZipError::Archive`]); everything else is a per-entry error and the walk goes on,
//!   unless a container-wide limit ([`ZipError::ends_container`]) stops it.

mod central;
use central::{fetch, find_eocd, find_zip64, merge, read_central, Fields};
mod name;
mod read;

use std::borrow::Cow;
use std::collections::HashMap;
use std::io;

use crate::limits::{self, Limits};
use crate::source::Source;

pub use name::decode_name;
pub use read::EntryReader;

/// General-purpose flag bit 0: the entry is encrypted.
pub const FLAG_ENCRYPTED: u16 = 0x0001;
/// General-purpose flag bit 3: sizes and CRC follow the data (the central directory has them).
pub const FLAG_DATA_DESCRIPTOR: u16 = 0x0008;
/// General-purpose flag bit 6: strong encryption.
pub const FLAG_STRONG_ENCRYPTION: u16 = 0x0040;
/// General-purpose flag bit 11: the name (and comment) are UTF-8.
pub const FLAG_UTF8: u16 = 0x0800;

/// Method 0: stored.
pub const METHOD_STORED: u16 = 0;
/// Method 8: deflate.
pub const METHOD_DEFLATE: u16 = 8;

const SIG_LOCAL: u32 = 0x0403_4b50;
const SIG_CENTRAL: u32 = 0x0201_4b50;
const SIG_EOCD: u32 = 0x0605_4b50;
const SIG_ZIP64_EOCD: u32 = 0x0606_4b50;
const SIG_ZIP64_LOCATOR: u32 = 0x0706_4b50;

const EOCD_LEN: u64 = 22;
const ZIP64_LOCATOR_LEN: u64 = 20;
const ZIP64_EOCD_LEN: usize = 56;
const CENTRAL_LEN: u64 = 46;
const LOCAL_LEN: u64 = 30;
/// The EOCD comment length is a `u16`.
const MAX_COMMENT: u64 = 65_535;
/// Extra field id of the ZIP64 extended information.
const EXTRA_ZIP64: u16 = 0x0001;

/// The name APPNOTE 4.4.5 gives a compression method, when kbscan knows it.
pub fn method_name(method: u16) -> Option<&'static str> {
    Some(match method {
        0 => "stored",
        1 => "shrunk",
        2..=5 => "reduced",
        6 => "imploded",
        8 => "deflate",
        9 => "deflate64",
        10 => "PKWARE DCL implode",
        12 => "bzip2",
        14 => "LZMA",
        18 => "IBM TERSE",
        19 => "IBM LZ77 z",
        20 | 93 => "zstd",
        94 => "MP3",
        95 => "xz",
        96 => "JPEG",
        97 => "WavPack",
        98 => "PPMd",
        99 => "AES",
        _ => return None,
    })
}

/// Everything that can go wrong reading a ZIP. `Archive` and `ArchiveRead` end the
/// container; [`ZipError::Limit`] ends it for the container-wide limits
/// ([`ZipError::ends_container`]); the others are per entry and name it.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("unreadable zip archive: {reason} (offset {offset})")]
    Archive { offset: u64, reason: String },
    #[error("unreadable zip archive: read at offset {offset} failed: {source}")]
    ArchiveRead {
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error("zip entry {index} ({name:?}): {reason}")]
    BadEntry {
        index: usize,
        name: String,
        reason: String,
    },
    #[error("zip entry {index} ({name:?}): compression method {method} ({}) is not supported",
        method_name(*.method).unwrap_or("unknown"))]
    UnsupportedMethod {
        index: usize,
        name: String,
        method: u16,
    },
    #[error("zip entry {index} ({name:?}) is encrypted")]
    Encrypted { index: usize, name: String },
    #[error("zip entry {index} ({name:?}): deflate data cannot be decoded: {reason}")]
    Decode {
        index: usize,
        name: String,
        reason: String,
    },
    #[error("zip entry {index} ({name:?}): CRC-32 mismatch: stored 0x{stored:08x}, computed 0x{computed:08x}")]
    Crc {
        index: usize,
        name: String,
        stored: u32,
        computed: u32,
    },
    #[error("zip entry {index} ({name:?}): {actual} bytes produced, the central directory says {declared}")]
    Size {
        index: usize,
        name: String,
        declared: u64,
        actual: u64,
    },
    #[error("zip entry {index} ({name:?}): read failed: {source}")]
    Read {
        index: usize,
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("zip entry {index} ({name:?}): spilling to a temporary file failed: {source}")]
    Spill {
        index: usize,
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("zip archive has no entry {index}")]
    NoEntry { index: usize },
    #[error("limit {limit} exceeded: {value} > {max}")]
    Limit {
        limit: &'static str,
        value: u64,
        max: u64,
    },
}

impl ZipError {
    /// Stable snake_case identifier per variant.
    pub fn kind(&self) -> &'static str {
        match self {
            ZipError::Archive { .. } | ZipError::ArchiveRead { .. } => "zip_archive",
            ZipError::BadEntry { .. } => "zip_bad_entry",
            ZipError::UnsupportedMethod { .. } => "zip_unsupported_method",
            ZipError::Encrypted { .. } => "zip_encrypted",
            ZipError::Decode { .. } => "zip_decode",
            ZipError::Crc { .. } => "zip_crc_mismatch",
            ZipError::Size { .. } => "zip_size_mismatch",
            ZipError::Read { .. } => "zip_read",
            ZipError::Spill { .. } => "zip_spill",
            ZipError::NoEntry { .. } => "zip_no_entry",
            ZipError::Limit { .. } => "zip_limit",
        }
    }

    /// Whether this error ends the walk of the whole container: an unreadable archive, or
    /// [`limits::LIMIT_TOTAL_BYTES`] / [`limits::LIMIT_PACKAGE_BYTES`] reached. Per-entry
    /// limits (entry size, name length) do not.
    pub fn ends_container(&self) -> bool {
        match self {
            ZipError::Archive { .. } | ZipError::ArchiveRead { .. } => true,
            ZipError::Limit { limit, .. } => {
                *limit == limits::LIMIT_TOTAL_BYTES || *limit == limits::LIMIT_PACKAGE_BYTES
            }
            _ => false,
        }
    }

    /// The entry a per-entry error is about.
    pub fn entry_index(&self) -> Option<usize> {
        match self {
            ZipError::BadEntry { index, .. }
            | ZipError::UnsupportedMethod { index, .. }
            | ZipError::Encrypted { index, .. }
            | ZipError::Decode { index, .. }
            | ZipError::Crc { index, .. }
            | ZipError::Size { index, .. }
            | ZipError::Read { index, .. }
            | ZipError::Spill { index, .. }
            | ZipError::NoEntry { index } => Some(*index),
            _ => None,
        }
    }

    fn limit(limit: &'static str, value: u64, max: u64) -> Self {
        ZipError::Limit { limit, value, max }
    }

    /// A copy of a limit error (the walk both hands it to the sink and returns it).
    pub fn copy_limit(&self) -> Option<Self> {
        match *self {
            ZipError::Limit { limit, value, max } => Some(ZipError::Limit { limit, value, max }),
            _ => None,
        }
    }
}

fn archive_err(offset: u64, reason: impl Into<String>) -> ZipError {
    ZipError::Archive {
        offset,
        reason: reason.into(),
    }
}

/// Facts about the archive as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipInfo {
    /// Offset of the End of Central Directory record.
    pub eocd_offset: u64,
    /// Whether a ZIP64 EOCD record was read.
    pub zip64: bool,
    pub cd_offset: u64,
    pub cd_size: u64,
    /// Entry count the end records declare.
    pub declared_entries: u64,
    /// Central-directory records found after the declared count (delivered like the others;
    /// a sign of an archive that readers disagree on).
    pub undeclared_entries: u64,
    /// The archive comment, raw.
    pub comment: Vec<u8>,
    /// Bytes after the EOCD record and its comment.
    pub trailing_bytes: u64,
}

/// One central-directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipEntry {
    /// Position in the central directory, from 0.
    pub index: usize,
    /// The name as stored (only its first [`Limits::max_name_len`] bytes when it is longer:
    /// such an entry is a name-length limit error).
    pub name_raw: Vec<u8>,
    /// Text form of [`name_raw`](Self::name_raw) (module doc: never lossy, never merged).
    pub name: String,
    /// Whether `name` was read as UTF-8 (flag bit 11 or valid UTF-8) rather than code page 437.
    pub name_is_utf8: bool,
    pub version_made_by: u16,
    pub version_needed: u16,
    /// General-purpose bit flags.
    pub flags: u16,
    pub method: u16,
    /// MS-DOS time and date of last modification.
    pub dos_time: u16,
    pub dos_date: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub local_header_offset: u64,
    pub external_attributes: u32,
    /// The name ends with `/` or `\`.
    pub is_dir: bool,
    /// The first earlier entry naming the same file (module doc: raw bytes or text name, each
    /// with `\` read as `/`).
    pub duplicate_of: Option<usize>,
    issue: Option<Issue>,
}

/// Why an entry cannot be read, known from the central directory alone.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Issue {
    NameTooLong(u64),
    Bad(&'static str),
}

impl ZipEntry {
    pub fn is_encrypted(&self) -> bool {
        self.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0
    }

    /// The method's name, when known ([`method_name`]).
    pub fn method_name(&self) -> Option<&'static str> {
        method_name(self.method)
    }

    /// Why this entry cannot be read, when the central directory alone says so (name too
    /// long, unusable ZIP64 extra field). [`EntryReader::read`] returns the same error.
    pub fn problem(&self, limits: &Limits) -> Option<ZipError> {
        match &self.issue {
            None => None,
            Some(Issue::NameTooLong(len)) => Some(ZipError::limit(
                limits::LIMIT_NAME_LEN,
                *len,
                limits.max_name_len as u64,
            )),
            Some(Issue::Bad(reason)) => Some(self.bad(*reason)),
        }
    }

    fn bad(&self, reason: impl Into<String>) -> ZipError {
        ZipError::BadEntry {
            index: self.index,
            name: self.name.clone(),
            reason: reason.into(),
        }
    }
}

/// A parsed ZIP: the end records and every central-directory entry. Reading data happens in
/// [`ZipArchive::for_each`] or through an [`EntryReader`].
#[derive(Debug, Clone)]
pub struct ZipArchive<'a> {
    pub info: ZipInfo,
    /// Every central-directory entry, in central-directory order; `entries[i].index == i`.
    pub entries: Vec<ZipEntry>,
    src: Source<'a>,
    limits: Limits,
}

impl<'a> ZipArchive<'a> {
    /// Reads the end records and the whole central directory (never the data). Fails only
    /// when those are unreadable or hold more than [`Limits::max_entries`] entries; nothing
    /// is allocated beyond what the source can hold.
    pub fn parse(src: Source<'a>, limits: &Limits) -> Result<Self, ZipError> {
        let eocd = find_eocd(&src)?;
        let z64 = find_zip64(&src, eocd.offset)?;
        let at = eocd.offset;
        let disk = merge(
            eocd.disk.into(),
            u16::MAX.into(),
            z64.as_ref().map(|z| z.disk.into()),
            "disk number",
            at,
        )?;
        let cd_disk = merge(
            eocd.cd_disk.into(),
            u16::MAX.into(),
            z64.as_ref().map(|z| z.cd_disk.into()),
            "central directory disk",
            at,
        )?;
        let declared = merge(
            eocd.entries.into(),
            u16::MAX.into(),
            z64.as_ref().map(|z| z.entries),
            "entry count",
            at,
        )?;
        let cd_size = merge(
            eocd.cd_size.into(),
            u32::MAX.into(),
            z64.as_ref().map(|z| z.cd_size),
            "central directory size",
            at,
        )?;
        let cd_offset = merge(
            eocd.cd_offset.into(),
            u32::MAX.into(),
            z64.as_ref().map(|z| z.cd_offset),
            "central directory offset",
            at,
        )?;
        if disk != 0 || cd_disk != 0 {
            return Err(archive_err(
                at,
                format!("multi-disk archives are not supported (disk {disk}, central directory on disk {cd_disk})"),
            ));
        }
        if declared > u64::from(limits.max_entries) {
            return Err(ZipError::limit(
                limits::LIMIT_ENTRIES,
                declared,
                limits.max_entries.into(),
            ));
        }
        let cd_end = cd_offset
            .checked_add(cd_size)
            .filter(|&end| end <= eocd.offset)
            .ok_or_else(|| {
                archive_err(
                    at,
                    format!("central directory ({cd_size} bytes at offset {cd_offset}) does not end before the end of central directory record"),
                )
            })?;
        let fits = declared
            .checked_mul(CENTRAL_LEN)
            .is_some_and(|n| n <= cd_size);
        if !fits {
            return Err(archive_err(
                cd_offset,
                format!("{declared} entries cannot fit in a central directory of {cd_size} bytes"),
            ));
        }

        // `declared` is within the directory's size, so this is bounded by the source.
        let mut entries: Vec<ZipEntry> = Vec::with_capacity(declared as usize);
        let mut pos = cd_offset;
        let mut undeclared = 0u64;
        loop {
            let index = entries.len();
            let is_declared = (index as u64) < declared;
            if !is_declared {
                // Undeclared records: only well-formed ones that fit, within the entry limit.
                let next = fetch(&src, pos, 4, "central directory").ok();
                let more = pos.checked_add(CENTRAL_LEN).is_some_and(|e| e <= cd_end)
                    && next.as_deref() == Some(&SIG_CENTRAL.to_le_bytes()[..]);
                if !more {
                    break;
                }
                if index as u64 >= u64::from(limits.max_entries) {
                    return Err(ZipError::limit(
                        limits::LIMIT_ENTRIES,
                        index as u64 + 1,
                        limits.max_entries.into(),
                    ));
                }
            }
            match read_central(&src, pos, cd_end, index, limits) {
                Ok((entry, next)) => {
                    entries.push(entry);
                    pos = next;
                    if !is_declared {
                        undeclared += 1;
                    }
                }
                Err(e) if is_declared => return Err(e),
                Err(_) => break,
            }
        }
        mark_duplicates(&mut entries);
        Ok(ZipArchive {
            info: ZipInfo {
                eocd_offset: eocd.offset,
                zip64: z64.is_some(),
                cd_offset,
                cd_size,
                declared_entries: declared,
                undeclared_entries: undeclared,
                comment: eocd.comment,
                trailing_bytes: eocd.trailing,
            },
            entries,
            src,
            limits: limits.clone(),
        })
    }

    /// The source this archive was parsed from.
    pub fn source(&self) -> Source<'a> {
        self.src
    }

    /// The limits this archive was parsed with (also applied while reading).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// `(entry, earlier)` for every entry that repeats an earlier entry's name
    /// ([`ZipEntry::duplicate_of`]), in central-directory order.
    pub fn duplicates(&self) -> impl Iterator<Item = (&ZipEntry, &ZipEntry)> + '_ {
        self.entries.iter().filter_map(move |e| {
            e.duplicate_of
                .and_then(|j| self.entries.get(j))
                .map(|first| (e, first))
        })
    }

    /// A reader of entry data with its own buffer, spill file and byte count
    /// (`max_total_bytes` applies per reader).
    pub fn reader(&self) -> EntryReader<'_, 'a> {
        EntryReader::new(self)
    }

    /// Calls `sink` once per central-directory entry, in order, duplicates and directories
    /// included, with its data or why it could not be read. The data is a [`Source::Mem`]
    /// of a reused buffer (or of the archive itself for stored entries), or a
    /// [`Source::File`] of the reused spill file: valid only during the call. Returns `Err`
    /// only when a container-wide limit stops the walk (the sink has seen the same error
    /// for the entry that hit it).
    pub fn for_each(
        &self,
        sink: &mut dyn FnMut(&ZipEntry, Result<Source<'_>, ZipError>),
    ) -> Result<(), ZipError> {
        let mut reader = self.reader();
        for entry in &self.entries {
            match reader.read(entry.index) {
                Ok(data) => sink(entry, Ok(data)),
                Err(e) => {
                    let stop = if e.ends_container() {
                        e.copy_limit()
                    } else {
                        None
                    };
                    sink(entry, Err(e));
                    if let Some(stop) = stop {
                        return Err(stop);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Sets [`ZipEntry::duplicate_of`] (module doc). Names cut at the length limit are not
/// compared: their full bytes are unknown, and they are errors anyway.
fn mark_duplicates(entries: &mut [ZipEntry]) {
    let mut by_raw: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut by_text: HashMap<String, usize> = HashMap::new();
    for e in entries.iter_mut() {
        if matches!(e.issue, Some(Issue::NameTooLong(_))) {
            continue;
        }
        let raw = *by_raw.entry(name::raw_key(&e.name_raw)).or_insert(e.index);
        let text = *by_text.entry(name::text_key(&e.name)).or_insert(e.index);
        let first = raw.min(text);
        e.duplicate_of = (first != e.index).then_some(first);
    }
}

/// Receives each entry's text name and its bytes, or why they could not be read.
pub type EntrySink<'s> = dyn FnMut(&str, Result<&[u8], ZipError>) + 's;

/// Calls `sink` once per file entry (directories are skipped), duplicates included, in
/// central-directory order, with the entry's text name ([`ZipEntry::name`]) and its bytes or
/// the reason they could not be read. Returns `Err` only when the archive itself is
/// unreadable or a container-wide limit stops the walk.
///
/// A thin adapter over [`ZipArchive::for_each`] for callers that need slices (the scan
/// engine and `kbscan extract`, until they take a [`Source`]): an entry that was spilled to
/// a temporary file because [`Limits::memory`] refused to hold it is read back into memory
/// here, which defeats the memory bound for that entry; callers that care use
/// [`ZipArchive`] directly.
pub fn for_each_entry(
    bytes: &[u8],
    limits: &Limits,
    sink: &mut EntrySink<'_>,
) -> Result<(), ZipError> {
    let archive = ZipArchive::parse(Source::Mem(bytes), limits)?;
    archive.for_each(&mut |entry, data| {
        if entry.is_dir {
            return;
        }
        match data {
            Ok(Source::Mem(b)) => sink(&entry.name, Ok(b)),
            Ok(src) => match src.to_bytes(u64::MAX).and_then(|b| {
                b.ok_or_else(|| io::Error::other("spilled entry too large to read back"))
            }) {
                Ok(b) => sink(&entry.name, Ok(&b)),
                Err(source) => sink(
                    &entry.name,
                    Err(ZipError::Spill {
                        index: entry.index,
                        name: entry.name.clone(),
                        source,
                    }),
                ),
            },
            Err(e) => sink(&entry.name, Err(e)),
        }
    })
}
