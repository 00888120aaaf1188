//! MS-CAB reader for untrusted, in-memory cabinets.
//!
//! # Why not the `cab` crate
//! crates.io `cab` 0.6 is kept as a test oracle only. Its `read_file` builds a fresh folder
//! decoder per file and decodes from the folder start each time, which is O(n²) on the solid
//! folders of thousands of files that Windows update payloads use; it exposes no folder-level
//! stream to walk instead; and it panics on a folder with no data blocks. kbscan must decode
//! **each folder once, front to back**, so this module owns the container format and only
//! delegates the codecs: `flate2` (zlib-rs) for MSZIP, kbscan's own `kbscan-lzx` for LZX
//! (`lzxd` was 4x slower than 7-Zip and is now only a test oracle). Quantum is reported as
//! unsupported.
//!
//! # Shape
//! [`Cabinet::parse`] reads the header, folder and file tables (never the data) and fails only
//! when those tables are unreadable. [`Cabinet::walk`] / [`Cabinet::for_each_file`] then stream
//! every folder once; anything that goes wrong inside a folder becomes a per-file error and the
//! walk carries on with the next folder.
//!
//! # File table
//! CFFILE entries are read from `coffFiles`, as MS-CAB says and as 7-Zip does. libmspack
//! (cabextract) instead reads them directly after the folder table; libmspack's
//! `hidden-files.cab` shows that the two disagree when a writer leaves a gap. The gap is kept in
//! [`Header::file_table_gap`] so the scanner can flag such a cabinet.

mod buffer;
mod checksum;
mod codec;
mod walk;

use std::fmt;

use std::borrow::Cow;

use crate::cursor::{CStrError, Cursor, Truncated};
use crate::limits::{self, Limits};
use crate::source::Source;

pub use walk::{DecodeStats, WalkReport};

/// `flags` bit: this cabinet continues a set (prev cabinet/disk strings present).
pub const FLAG_PREV_CABINET: u16 = 0x0001;
/// `flags` bit: the set continues in another cabinet (next cabinet/disk strings present).
pub const FLAG_NEXT_CABINET: u16 = 0x0002;
/// `flags` bit: reserve sizes present after the fixed header.
pub const FLAG_RESERVE_PRESENT: u16 = 0x0004;
/// CFFILE `attribs` bit: the name is UTF-8 rather than the writer's code page.
pub const ATTR_NAME_IS_UTF8: u16 = 0x0080;

const IFOLD_CONTINUED_FROM_PREV: u16 = 0xFFFD;
const IFOLD_CONTINUED_TO_NEXT: u16 = 0xFFFE;
const IFOLD_CONTINUED_PREV_AND_NEXT: u16 = 0xFFFF;

/// The fixed part of CFHEADER is 36 bytes.
const HEADER_LEN: usize = 36;

/// A parsed cabinet borrowing its bytes (memory or a file range). Decoding happens in
/// [`Cabinet::walk`].
#[derive(Debug, Clone)]
pub struct Cabinet<'a> {
    pub header: Header,
    pub folders: Vec<Folder>,
    pub files: Vec<FileEntry>,
    src: Source<'a>,
    limits: Limits,
}

/// CFHEADER fields a report may want.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `cbCabinet`: the cabinet's own idea of its length.
    pub total_size: u32,
    pub set_id: u16,
    pub set_index: u16,
    pub flags: u16,
    pub version_major: u8,
    pub version_minor: u8,
    pub prev_cabinet: Option<String>,
    pub prev_disk: Option<String>,
    pub next_cabinet: Option<String>,
    pub next_disk: Option<String>,
    pub header_reserve: u16,
    pub folder_reserve: u8,
    pub data_reserve: u8,
    /// Bytes after `cbCabinet` (an appended Authenticode signature on genuine payloads).
    pub trailing_bytes: u64,
    /// Bytes between the end of the folder table and `coffFiles`. Non-zero means readers that
    /// ignore `coffFiles` (libmspack) see a different file list: see the module doc.
    pub file_table_gap: u64,
}

/// One CFFOLDER entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub index: u16,
    pub compression: Compression,
    /// `coffCabStart`: offset of the first CFDATA block.
    pub data_offset: u32,
    /// `cCFData`.
    pub block_count: u16,
}

/// `typeCompress` decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Stored,
    MsZip,
    Quantum { level: u8, window: u8 },
    Lzx { window_bits: u8 },
    Unknown(u16),
}

impl Compression {
    /// Decodes the 16-bit `typeCompress`: method in bits 0-3, LZX window / Quantum memory in
    /// bits 8-12, Quantum level in bits 4-7.
    pub fn from_raw(raw: u16) -> Self {
        let window = ((raw >> 8) & 0x1F) as u8;
        match raw & 0x000F {
            0 => Compression::Stored,
            1 => Compression::MsZip,
            2 => Compression::Quantum {
                level: ((raw >> 4) & 0xF) as u8,
                window,
            },
            3 => Compression::Lzx {
                window_bits: window,
            },
            _ => Compression::Unknown(raw),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compression::Stored => f.write_str("None"),
            Compression::MsZip => f.write_str("MSZIP"),
            Compression::Quantum { level, window } => write!(f, "Quantum:{level}:{window}"),
            Compression::Lzx { window_bits } => write!(f, "LZX:{window_bits}"),
            Compression::Unknown(raw) => write!(f, "unknown(0x{raw:04x})"),
        }
    }
}

/// Which folder a file's bytes live in (`iFolder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderRef {
    Index(u16),
    /// Starts in the previous cabinet of the set; its data is in this cabinet's first folder.
    ContinuedFromPrev,
    /// Continues into the next cabinet; its data starts in this cabinet's last folder.
    ContinuedToNext,
    ContinuedPrevAndNext,
}

impl FolderRef {
    fn from_raw(raw: u16) -> Self {
        match raw {
            IFOLD_CONTINUED_FROM_PREV => FolderRef::ContinuedFromPrev,
            IFOLD_CONTINUED_TO_NEXT => FolderRef::ContinuedToNext,
            IFOLD_CONTINUED_PREV_AND_NEXT => FolderRef::ContinuedPrevAndNext,
            i => FolderRef::Index(i),
        }
    }
}

/// One CFFILE entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The stored name, unchanged apart from decoding: may contain `..`, `\`, drive letters.
    /// Non-UTF-8 bytes (code-page names) are mapped byte-for-char (Latin-1) so that the
    /// name stays deterministic and distinct; with the UTF-8 attribute, invalid sequences
    /// become U+FFFD.
    pub name: String,
    pub name_is_utf8: bool,
    /// `cbFile`.
    pub size: u32,
    pub folder: FolderRef,
    /// `uoffFolderStart`: offset in the folder's uncompressed stream.
    pub offset: u32,
    pub date: u16,
    pub time: u16,
    pub attribs: u16,
}

impl FileEntry {
    /// End of this file in its folder stream; cannot overflow in `u64`.
    pub fn end(&self) -> u64 {
        u64::from(self.offset) + u64::from(self.size)
    }
}

/// Everything that can go wrong reading a cabinet. Parse errors end the cabinet; walk errors
/// are per file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CabError {
    #[error("truncated cabinet: {what} at offset {offset} runs past the end of the data")]
    Truncated { what: &'static str, offset: u64 },
    #[error("not a cabinet: signature is not MSCF")]
    BadSignature,
    #[error("cabinet lists {folders} folders and {files} files; a usable cabinet has at least one of each")]
    Empty { folders: u16, files: u16 },
    #[error("bad checksum in folder {folder} block {block} at offset {offset}: stored 0x{stored:08x}, computed 0x{computed:08x}")]
    BadChecksum {
        folder: u16,
        block: u16,
        offset: u64,
        stored: u32,
        computed: u32,
    },
    #[error("bad data block in folder {folder} block {block} at offset {offset}: {reason}")]
    BadBlock {
        folder: u16,
        block: u16,
        offset: u64,
        reason: String,
    },
    #[error("file {file:?} refers to folder {index} but the cabinet has {folders} folders")]
    FolderIndexOutOfRange {
        file: String,
        index: u16,
        folders: u16,
    },
    #[error("unsupported compression: {method} (folder {folder})")]
    UnsupportedCompression { folder: u16, method: String },
    #[error("{method} decode error in folder {folder} block {block}: {reason}")]
    Decode {
        folder: u16,
        block: u16,
        method: &'static str,
        reason: String,
    },
    #[error("folder {folder} has no data blocks")]
    FolderNoData { folder: u16 },
    #[error("file {file:?} ends at {end} but its folder stream is only {folder_len} bytes")]
    FileBeyondFolder {
        file: String,
        end: u64,
        folder_len: u64,
    },
    #[error("limit {limit} exceeded: {value} > {max}")]
    Limit {
        limit: &'static str,
        value: u64,
        max: u64,
    },
    #[error("bad name of file {index} at offset {offset}: {reason}")]
    BadName {
        index: usize,
        offset: u64,
        reason: &'static str,
    },
    #[error("file {file:?} spans cabinets of a multi-part set ({reason}); not decoded")]
    SplitCabinet { file: String, reason: &'static str },
    #[error("LZX decoder panicked decoding folder {folder} block {block}")]
    DecoderPanic { folder: u16, block: u16 },
    /// Reading the cabinet's bytes from its file, or spilling a large member to a
    /// temporary file, failed.
    #[error("I/O error at offset {offset}: {reason}")]
    Io { offset: u64, reason: String },
}

impl From<Truncated> for CabError {
    fn from(t: Truncated) -> Self {
        CabError::Truncated {
            what: t.what,
            offset: t.offset,
        }
    }
}

impl CabError {
    /// Stable snake_case identifier per variant, for tests and machine-readable reports.
    pub fn kind(&self) -> &'static str {
        match self {
            CabError::Truncated { .. } => "cab_truncated",
            CabError::BadSignature => "cab_bad_signature",
            CabError::Empty { .. } => "cab_empty",
            CabError::BadChecksum { .. } => "cab_bad_checksum",
            CabError::BadBlock { .. } => "cab_bad_block",
            CabError::FolderIndexOutOfRange { .. } => "cab_folder_index_out_of_range",
            CabError::UnsupportedCompression { .. } => "cab_unsupported_compression",
            CabError::Decode { .. } => "cab_decode",
            CabError::FolderNoData { .. } => "cab_folder_no_data",
            CabError::FileBeyondFolder { .. } => "cab_file_beyond_folder",
            CabError::Limit { .. } => "cab_limit",
            CabError::BadName { .. } => "cab_bad_name",
            CabError::SplitCabinet { .. } => "cab_split_cabinet",
            CabError::DecoderPanic { .. } => "cab_decoder_panic",
            CabError::Io { .. } => "cab_io",
        }
    }
}

/// How many leading bytes [`Cabinet::parse_source`] needs from a file: the fixed header,
/// the reserve area, four set strings and the folder table, as declared by the first 40
/// bytes (which may be short or garbage: the result is only an upper bound to read).
fn table_window(fixed: &[u8], limits: &Limits) -> usize {
    let u16_at = |o: usize| {
        fixed
            .get(o..o + 2)
            .map_or(0, |b| usize::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let flags = u16_at(30);
    let folders = u16_at(26);
    let (mut reserve, mut folder_reserve) = (0usize, 0usize);
    if flags & usize::from(FLAG_RESERVE_PRESENT) != 0 {
        reserve = 4 + u16_at(36).min(limits.max_header_reserve as usize);
        folder_reserve = fixed.get(38).map_or(0, |&b| usize::from(b));
    }
    let strings = 4 * (limits::CAB_MAX_SET_STRING + 1);
    HEADER_LEN + reserve + strings + folders * (8 + folder_reserve)
}

fn set_string(c: &mut Cursor<'_>, what: &'static str) -> Result<String, CabError> {
    match c.cstr(limits::CAB_MAX_SET_STRING, what) {
        Ok(raw) => Ok(decode_name(raw, false)),
        Err(CStrError::Unterminated(e)) => Err(e.into()),
        Err(CStrError::TooLong) => Err(CabError::Limit {
            limit: limits::LIMIT_SET_STRING,
            value: limits::CAB_MAX_SET_STRING as u64 + 1,
            max: limits::CAB_MAX_SET_STRING as u64,
        }),
    }
}

/// UTF-8 when flagged (lossy), otherwise UTF-8 if it happens to be valid, else Latin-1: CAB
/// names without the flag are in an unknown OEM/ANSI code page, and a 1:1 byte mapping keeps
/// distinct raw names distinct.
fn decode_name(raw: &[u8], utf8: bool) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_owned(),
        Err(_) if utf8 => String::from_utf8_lossy(raw).into_owned(),
        Err(_) => raw.iter().map(|&b| char::from(b)).collect(),
    }
}

impl<'a> Cabinet<'a> {
    /// Reads the header, folder and file tables of an in-memory cabinet. Never touches
    /// CFDATA, never allocates by a declared count beyond what the input can actually hold.
    pub fn parse(bytes: &'a [u8], limits: &Limits) -> Result<Self, CabError> {
        Self::parse_source(Source::Mem(bytes), limits)
    }

    /// [`Cabinet::parse`] for any [`Source`]. From a file only the table windows are read:
    /// at most the fixed header, reserve area, set strings and folder table (bounded by the
    /// counts they declare) and the CFFILE table (`files` × the largest CFFILE).
    pub fn parse_source(src: Source<'a>, limits: &Limits) -> Result<Self, CabError> {
        let io = |offset: u64| {
            move |e: std::io::Error| CabError::Io {
                offset,
                reason: e.to_string(),
            }
        };
        // Fixed header + reserve sizes, then everything up to the end of the folder table.
        let fixed = src.read_upto(0, HEADER_LEN + 4).map_err(io(0))?;
        let head: Cow<'a, [u8]> = match src.as_slice() {
            Some(b) => Cow::Borrowed(b),
            None => {
                let head_len = table_window(&fixed, limits);
                src.read_upto(0, head_len).map_err(io(0))?
            }
        };
        let bytes: &[u8] = &head;
        let mut c = Cursor::new(bytes);
        match bytes.get(..4) {
            Some(b"MSCF") => {}
            Some(_) => return Err(CabError::BadSignature),
            None if b"MSCF".starts_with(bytes) && !bytes.is_empty() => {
                return Err(CabError::Truncated {
                    what: "CFHEADER",
                    offset: 0,
                })
            }
            None => return Err(CabError::BadSignature),
        }
        if bytes.len() < HEADER_LEN {
            return Err(CabError::Truncated {
                what: "CFHEADER",
                offset: 0,
            });
        }
        c.skip(4, "signature")?;
        let _reserved1 = c.u32("CFHEADER")?;
        let total_size = c.u32("CFHEADER")?;
        let _reserved2 = c.u32("CFHEADER")?;
        let coff_files = c.u32("CFHEADER")?;
        let _reserved3 = c.u32("CFHEADER")?;
        let version_minor = c.u8("CFHEADER")?;
        let version_major = c.u8("CFHEADER")?;
        let folder_count = c.u16("CFHEADER")?;
        let file_count = c.u16("CFHEADER")?;
        let flags = c.u16("CFHEADER")?;
        let set_id = c.u16("CFHEADER")?;
        let set_index = c.u16("CFHEADER")?;

        let (mut header_reserve, mut folder_reserve, mut data_reserve) = (0u16, 0u8, 0u8);
        if flags & FLAG_RESERVE_PRESENT != 0 {
            header_reserve = c.u16("CFHEADER reserve sizes")?;
            folder_reserve = c.u8("CFHEADER reserve sizes")?;
            data_reserve = c.u8("CFHEADER reserve sizes")?;
            if u32::from(header_reserve) > limits.max_header_reserve {
                return Err(CabError::Limit {
                    limit: limits::LIMIT_HEADER_RESERVE,
                    value: header_reserve.into(),
                    max: limits.max_header_reserve.into(),
                });
            }
            c.skip(header_reserve.into(), "CFHEADER reserve area")?;
        }
        let (mut prev_cabinet, mut prev_disk, mut next_cabinet, mut next_disk) =
            (None, None, None, None);
        if flags & FLAG_PREV_CABINET != 0 {
            prev_cabinet = Some(set_string(&mut c, "szCabinetPrev")?);
            prev_disk = Some(set_string(&mut c, "szDiskPrev")?);
        }
        if flags & FLAG_NEXT_CABINET != 0 {
            next_cabinet = Some(set_string(&mut c, "szCabinetNext")?);
            next_disk = Some(set_string(&mut c, "szDiskNext")?);
        }
        if folder_count == 0 || file_count == 0 {
            return Err(CabError::Empty {
                folders: folder_count,
                files: file_count,
            });
        }
        if u32::from(file_count) > limits.max_entries {
            return Err(CabError::Limit {
                limit: limits::LIMIT_ENTRIES,
                value: file_count.into(),
                max: limits.max_entries.into(),
            });
        }

        // Each CFFOLDER is 8 bytes plus its reserve: cap the allocation by what fits.
        let folder_len = 8 + usize::from(folder_reserve);
        let mut folders =
            Vec::with_capacity(usize::from(folder_count).min(c.remaining() / folder_len));
        for index in 0..folder_count {
            let data_offset = c.u32("CFFOLDER")?;
            let block_count = c.u16("CFFOLDER")?;
            let raw = c.u16("CFFOLDER")?;
            c.skip(folder_reserve.into(), "CFFOLDER reserve area")?;
            folders.push(Folder {
                index,
                compression: Compression::from_raw(raw),
                data_offset,
                block_count,
            });
        }
        let folders_end = c.pos();

        let (max_name, name_limit) = if limits.max_name_len < limits::CAB_MAX_FILENAME {
            (limits.max_name_len, limits::LIMIT_NAME_LEN)
        } else {
            (limits::CAB_MAX_FILENAME, limits::LIMIT_CAB_FILENAME)
        };
        if u64::from(coff_files) > src.len() {
            return Err(CabError::Truncated {
                what: "CFFILE table (coffFiles)",
                offset: coff_files.into(),
            });
        }
        // CFFILE is 16 fixed bytes plus a name of at most CAB_MAX_FILENAME and its NUL.
        let table_max = usize::from(file_count) * (16 + limits::CAB_MAX_FILENAME + 1);
        let table = src
            .sub(coff_files.into(), table_max as u64)
            .read_upto(0, table_max)
            .map_err(io(coff_files.into()))?;
        let mut c = Cursor::window(&table, coff_files.into());
        // Smallest CFFILE is 16 fixed bytes plus a 1-byte name and its NUL.
        let mut files = Vec::with_capacity(usize::from(file_count).min(c.remaining() / 18));
        for index in 0..usize::from(file_count) {
            let size = c.u32("CFFILE")?;
            let offset = c.u32("CFFILE")?;
            let folder = FolderRef::from_raw(c.u16("CFFILE")?);
            let date = c.u16("CFFILE")?;
            let time = c.u16("CFFILE")?;
            let attribs = c.u16("CFFILE")?;
            let name_offset = c.pos();
            let raw = match c.cstr(max_name, "CFFILE name") {
                Ok(raw) => raw,
                Err(CStrError::Unterminated(e)) => return Err(e.into()),
                Err(CStrError::TooLong) => {
                    return Err(CabError::Limit {
                        limit: name_limit,
                        // Only "longer than max" is known: the scan stopped there.
                        value: max_name as u64 + 1,
                        max: max_name as u64,
                    });
                }
            };
            if raw.is_empty() {
                return Err(CabError::BadName {
                    index,
                    offset: name_offset,
                    reason: "empty name",
                });
            }
            let name_is_utf8 = attribs & ATTR_NAME_IS_UTF8 != 0;
            files.push(FileEntry {
                name: decode_name(raw, name_is_utf8),
                name_is_utf8,
                size,
                folder,
                offset,
                date,
                time,
                attribs,
            });
        }

        let header = Header {
            total_size,
            set_id,
            set_index,
            flags,
            version_major,
            version_minor,
            prev_cabinet,
            prev_disk,
            next_cabinet,
            next_disk,
            header_reserve,
            folder_reserve,
            data_reserve,
            trailing_bytes: src.len().saturating_sub(total_size.into()),
            file_table_gap: u64::from(coff_files).saturating_sub(folders_end),
        };
        Ok(Cabinet {
            header,
            folders,
            files,
            src,
            limits: limits.clone(),
        })
    }

    /// Decodes each folder once, front to back, and hands every file's bytes to `sink` in
    /// folder-stream order. A failure inside one folder (bad checksum, decode error, truncated
    /// data) becomes a per-file error for every file of that folder not yet delivered, and the
    /// walk goes on with the next folder. Returns those errors, sorted by file index.
    pub fn for_each_file(&self, sink: &mut dyn FnMut(&FileEntry, &[u8])) -> Vec<(usize, CabError)> {
        self.walk(sink).errors
    }

    /// [`Cabinet::for_each_file`] plus decode counters (blocks decoded, bytes produced).
    /// Files are handed out as slices: a file that was spilled to a temporary file (only
    /// with a [`crate::limits::MemoryBudget`] in the limits) is read back into memory for
    /// the callback, which defeats the budget for that file. Readers that must stay within
    /// it use [`Cabinet::walk_source`].
    pub fn walk(&self, sink: &mut dyn FnMut(&FileEntry, &[u8])) -> WalkReport {
        let mut unread = Vec::new();
        let mut report = walk::walk(self, &mut |i, f, src| {
            match src.as_slice() {
                Some(bytes) => sink(f, bytes),
                None => match src.to_bytes(u64::MAX) {
                    Ok(Some(bytes)) => sink(f, &bytes),
                    Ok(None) => {}
                    Err(e) => unread.push((i, e.to_string())),
                },
            }
            true
        });
        for (i, reason) in unread {
            report.errors.push((i, CabError::Io { offset: 0, reason }));
        }
        report.errors.sort_by_key(|(i, _)| *i);
        report
    }

    /// Like [`Cabinet::walk`], handing out each file as a [`Source`]: memory normally, a
    /// range of a temporary file when the input's memory budget did not allow holding it.
    pub fn walk_source(&self, sink: &mut dyn FnMut(&FileEntry, Source<'_>)) -> WalkReport {
        walk::walk(self, &mut |_, f, src| {
            sink(f, src);
            true
        })
    }

    /// [`Cabinet::walk_source`] with each file's table index, until `sink` returns `false`:
    /// then nothing more is decoded, and files not handed out get no error.
    pub fn walk_until(
        &self,
        sink: &mut dyn FnMut(usize, &FileEntry, Source<'_>) -> bool,
    ) -> WalkReport {
        walk::walk(self, sink)
    }

    /// Where this cabinet's bytes are.
    pub fn source(&self) -> Source<'a> {
        self.src
    }

    /// The limits this cabinet was parsed with (also applied while walking).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}
