//! `VS_VERSIONINFO` parser. Every block is
//! `wLength, wValueLength, wType, szKey (UTF-16, NUL), pad to 4, Value, pad to 4, Children`.
//!
//! Nothing in a block is trusted: `wLength` is clamped to the parent (and recorded when it
//! lies), `wValueLength` is only used where nothing better exists (string values end at
//! their NUL or at the block end, because compilers disagree on whether it counts bytes or
//! characters), and a malformed block ends the walk of its parent with an anomaly rather
//! than an error. Offsets are relative to the start of the resource, which the loader
//! keeps DWORD aligned, so alignment is computed on them directly.

use crate::cursor::{align4, bytes_at, u16_at, u32_at};
use crate::image::push;
use crate::limits;
use kbscan_version::Version;

const SIZEOF_BLOCK_HEADER: usize = 6;
const SIZEOF_FIXED_FILE_INFO: usize = 52;
const VS_FFI_SIGNATURE: u32 = 0xFEEF_04BD;
const ROOT_KEY: &str = "VS_VERSION_INFO";
const US_ENGLISH: &str = "0409";

/// What the parser found, before `lib.rs` derives the public fields.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// `(dwFileVersionMS, LS, dwProductVersionMS, LS)` when a signed fixed info exists.
    pub fixed: Option<(Version, Version)>,
    /// String tables in file order: key and its strings in file order.
    pub tables: Vec<(String, Vec<(String, String)>)>,
}

struct Block {
    start: usize,
    /// End of the block: `start + wLength`, clamped to the parent.
    end: usize,
    value_len: u16,
    key: String,
    /// First byte after the key's padding.
    value_start: usize,
}

struct Parser<'a> {
    data: &'a [u8],
    blocks: usize,
    anomalies: &'a mut Vec<String>,
}

impl Parser<'_> {
    fn anomaly(&mut self, msg: String) {
        push(self.anomalies, msg);
    }

    /// Reads the header and key of the block at `start`, which must end by `parent_end`.
    /// `None` when no further block can be read there (the caller stops iterating).
    fn block(&mut self, start: usize, parent_end: usize) -> Option<Block> {
        if self.blocks >= limits::MAX_VERSION_BLOCKS {
            self.anomaly(format!(
                "version resource has more than {} blocks; rest ignored",
                limits::MAX_VERSION_BLOCKS
            ));
            return None;
        }
        self.blocks += 1;
        let header_end = start.checked_add(SIZEOF_BLOCK_HEADER)?;
        if header_end > parent_end {
            self.anomaly(format!("version block header at {start:#x} is cut off"));
            return None;
        }
        let w_length = usize::from(u16_at(self.data, start).ok()?);
        let value_len = u16_at(self.data, start + 2).ok()?;
        if w_length < SIZEOF_BLOCK_HEADER {
            // Zero would never advance; anything below the header is unusable.
            self.anomaly(format!(
                "version block at {start:#x} has wLength {w_length}"
            ));
            return None;
        }
        let mut end = start.checked_add(w_length)?;
        if end > parent_end {
            self.anomaly(format!(
                "version block at {start:#x}: wLength {w_length} overruns its parent by {} bytes",
                end - parent_end
            ));
            end = parent_end;
        }
        let (key, after_key, terminated) = self.utf16z(header_end, end, limits::MAX_KEY_UNITS);
        if !terminated {
            self.anomaly(format!("version block key at {start:#x} has no terminator"));
        }
        let value_start = align4(after_key)?.min(end);
        Some(Block {
            start,
            end,
            value_len,
            key,
            value_start,
        })
    }

    /// UTF-16LE from `start` up to a NUL, `end` or `max_units`. Returns the text, the
    /// offset after the terminator (or where reading stopped) and whether a NUL was seen.
    fn utf16z(&self, start: usize, end: usize, max_units: usize) -> (String, usize, bool) {
        let mut units = Vec::new();
        let mut pos = start;
        while units.len() < max_units {
            let Some(next) = pos.checked_add(2).filter(|&n| n <= end) else {
                break;
            };
            let Ok(u) = u16_at(self.data, pos) else {
                break;
            };
            pos = next;
            if u == 0 {
                return (String::from_utf16_lossy(&units), pos, true);
            }
            units.push(u);
        }
        (String::from_utf16_lossy(&units), pos, false)
    }

    /// Calls `f` for each child block between `from` and `end`.
    fn children(&mut self, from: usize, end: usize, mut f: impl FnMut(&mut Self, Block)) {
        let mut pos = from;
        while let Some(p) = align4(pos) {
            // A trailing remainder smaller than a header is just padding.
            if p.saturating_add(SIZEOF_BLOCK_HEADER) > end {
                break;
            }
            let Some(b) = self.block(p, end) else {
                break;
            };
            pos = b.end;
            f(self, b);
        }
    }

    fn root(&mut self) -> Parsed {
        let mut parsed = Parsed::default();
        let Some(root) = self.block(0, self.data.len()) else {
            return parsed;
        };
        if root.key != ROOT_KEY {
            self.anomaly(format!("version resource root key is {:?}", root.key));
        }
        let children_from = self.fixed_info(&root, &mut parsed);
        self.children(children_from, root.end, |p, child| {
            match child.key.as_str() {
                "StringFileInfo" => {
                    p.children(child.value_start, child.end, |p, table| {
                        let strings = p.string_table(&table);
                        parsed.tables.push((table.key, strings));
                    });
                }
                "VarFileInfo" => {}
                other => p.anomaly(format!(
                    "unknown version block {other:?} at {:#x}",
                    child.start
                )),
            }
        });
        parsed
    }

    /// Reads `VS_FIXEDFILEINFO` and returns where the children start.
    fn fixed_info(&mut self, root: &Block, parsed: &mut Parsed) -> usize {
        let at = root.value_start;
        let fixed = bytes_at(self.data, at, SIZEOF_FIXED_FILE_INFO)
            .ok()
            .filter(|_| at.saturating_add(SIZEOF_FIXED_FILE_INFO) <= root.end);
        let signed = fixed.filter(|f| u32_at(f, 0) == Ok(VS_FFI_SIGNATURE));
        let declared = usize::from(root.value_len);
        if let Some(f) = signed {
            if declared != SIZEOF_FIXED_FILE_INFO {
                self.anomaly(format!(
                    "VS_VERSIONINFO wValueLength is {declared}, not {SIZEOF_FIXED_FILE_INFO}"
                ));
            }
            let d = |i: usize| u32_at(f, i * 4).unwrap_or(0);
            let file = Version::from_ms_ls(d(2), d(3));
            let product = Version::from_ms_ls(d(4), d(5));
            parsed.fixed = Some((file, product));
            // The signature is better evidence of the value's size than wValueLength.
            return at + SIZEOF_FIXED_FILE_INFO;
        }
        if declared == 0 {
            self.anomaly("version resource has no VS_FIXEDFILEINFO".into());
            return at;
        }
        self.anomaly(format!(
            "VS_FIXEDFILEINFO missing or without signature {VS_FFI_SIGNATURE:#x} \
             (wValueLength {declared})"
        ));
        at.saturating_add(declared).min(root.end)
    }

    fn string_table(&mut self, table: &Block) -> Vec<(String, String)> {
        let mut strings = Vec::new();
        let mut dropped = 0usize;
        let key = table.key.clone();
        self.children(table.value_start, table.end, |p, s| {
            if strings.len() >= limits::MAX_STRINGS {
                dropped += 1;
                return;
            }
            let (value, _, terminated) = p.utf16z(s.value_start, s.end, usize::MAX);
            if !terminated && s.value_start < s.end {
                p.anomaly(format!("string {:?} has no terminator", s.key));
            }
            strings.push((s.key, value));
        });
        if dropped > 0 {
            self.anomaly(format!(
                "string table {key} has {dropped} strings beyond the limit of {}",
                limits::MAX_STRINGS
            ));
        }
        strings
    }
}

/// Parses one `VS_VERSIONINFO`. Never fails: what cannot be read is an anomaly.
pub(crate) fn parse(data: &[u8], anomalies: &mut Vec<String>) -> Parsed {
    Parser {
        data,
        blocks: 0,
        anomalies,
    }
    .root()
}

/// The table to report: US English if present, else the first.
pub(crate) fn preferred_table(tables: &[(String, Vec<(String, String)>)]) -> Option<usize> {
    tables
        .iter()
        .position(|(k, _)| {
            k.get(..4)
                .is_some_and(|lang| lang.eq_ignore_ascii_case(US_ENGLISH))
        })
        .or(if tables.is_empty() { None } else { Some(0) })
}
