//! Streaming every folder once, front to back.
//!
//! Invariants:
//! - A folder's blocks are decoded in order, each at most once; `DecodeStats::blocks_decoded`
//!   counts them so tests can prove linearity without timing anything.
//! - Files of a folder are delivered in `(uoffFolderStart, table index)` order as soon as their
//!   last byte has been decoded. Only the span from the first undelivered file's start to the
//!   current stream position is buffered. While the input's [`crate::limits::MemoryBudget`]
//!   allows, that span is in memory; beyond it the span moves to an anonymous temporary file
//!   ([`crate::Spill`]) and files are delivered as [`Source::File`], so memory is bounded by
//!   the budget plus one block, not by member or folder sizes.
//! - Overlapping and duplicate files are each delivered with their own bytes, and **every
//!   byte delivered is charged**: the decoded stream is charged block by block, and a file
//!   that repeats bytes an earlier file of its folder already delivered is charged for them
//!   again (to `max_total_bytes` and the package budget), so a table of overlapping entries
//!   cannot multiply output for free. Gaps between files are decoded (the codec needs them)
//!   and dropped.
//! - Decoding of a folder stops as soon as no undelivered file needs more bytes.
//! - An error in a folder is copied to every file of that folder not yet delivered; other
//!   folders are unaffected (except `max_total_bytes`, which is per cabinet).

use std::collections::VecDeque;

use super::buffer::Rolling;
use super::checksum::checksum;
use super::codec::Codec;
use super::{CabError, Cabinet, FileEntry, FolderRef, FLAG_NEXT_CABINET};
use crate::cursor::Cursor;
use crate::limits::{self, Limits};
use crate::source::Source;

/// Counters from one walk; a counter, not a timing, so tests can assert on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Folders whose decoding started.
    pub folders_decoded: u32,
    /// CFDATA blocks decoded (each block at most once per walk).
    pub blocks_decoded: u64,
    /// Uncompressed bytes produced by the codecs.
    pub bytes_decoded: u64,
    /// Files handed to the sink.
    pub files_delivered: u64,
}

/// Result of [`Cabinet::walk`].
#[derive(Debug, Clone, Default)]
pub struct WalkReport {
    /// Per-file errors as `(index into Cabinet::files, error)`, sorted by index.
    pub errors: Vec<(usize, CabError)>,
    pub stats: DecodeStats,
}

/// What a walk hands out: each file's table index, entry and bytes. Returning `false` stops
/// the walk (nothing more is decoded or delivered, and no error is added for what is left).
pub(super) type FileSink<'s> = dyn FnMut(usize, &FileEntry, Source<'_>) -> bool + 's;

pub(super) fn walk(cab: &Cabinet<'_>, sink: &mut FileSink<'_>) -> WalkReport {
    let mut report = WalkReport::default();
    let folder_count = cab.folders.len();
    let last_folder = folder_count.checked_sub(1);

    // A folder whose data began in the previous cabinet cannot be decoded here: the codec
    // state (MSZIP history, LZX window) and the stream offsets start in that other cabinet.
    let first_continued = cab.files.iter().any(|f| {
        matches!(
            f.folder,
            FolderRef::ContinuedFromPrev | FolderRef::ContinuedPrevAndNext
        )
    });

    let mut members: Vec<Vec<usize>> = vec![Vec::new(); folder_count];
    for (i, f) in cab.files.iter().enumerate() {
        let split = |reason| CabError::SplitCabinet {
            file: f.name.clone(),
            reason,
        };
        match f.folder {
            FolderRef::Index(ix) if usize::from(ix) < folder_count => {
                if ix == 0 && first_continued {
                    report
                        .errors
                        .push((i, split("its folder continues from the previous cabinet")));
                } else if f.size as u64 > cab.limits.max_entry_bytes {
                    report.errors.push((i, entry_limit(f, &cab.limits)));
                } else if let Some(m) = members.get_mut(usize::from(ix)) {
                    m.push(i);
                }
            }
            FolderRef::Index(ix) => report.errors.push((
                i,
                CabError::FolderIndexOutOfRange {
                    file: f.name.clone(),
                    index: ix,
                    folders: folder_count as u16,
                },
            )),
            FolderRef::ContinuedFromPrev => report
                .errors
                .push((i, split("continued from the previous cabinet"))),
            FolderRef::ContinuedToNext => report
                .errors
                .push((i, split("continued in the next cabinet"))),
            FolderRef::ContinuedPrevAndNext => report.errors.push((
                i,
                split("continued from the previous and in the next cabinet"),
            )),
        }
    }

    let mut total: u64 = 0;
    for (fi, mut m) in members.into_iter().enumerate() {
        if m.is_empty() {
            continue;
        }
        // Stable order: by offset, ties by table index (the input order).
        m.sort_by_key(|&i| (cab.files.get(i).map_or(0, |f| f.offset), i));
        let continues_to_next =
            Some(fi) == last_folder && cab.header.flags & FLAG_NEXT_CABINET != 0;
        let mut folder = FolderWalk {
            cab,
            folder: fi as u16,
            queue: m.into(),
            buf: Rolling::new(cab.limits.memory.as_ref().map(|m| m.claim())),
            pos: 0,
            delivered_hi: 0,
            stopped: false,
        };
        folder.run(continues_to_next, &mut total, sink, &mut report);
        if folder.stopped {
            break;
        }
    }
    report.errors.sort_by_key(|(i, _)| *i);
    report
}

fn entry_limit(f: &FileEntry, limits: &Limits) -> CabError {
    CabError::Limit {
        limit: limits::LIMIT_ENTRY_BYTES,
        value: f.size.into(),
        max: limits.max_entry_bytes,
    }
}

struct FolderWalk<'c, 'a> {
    cab: &'c Cabinet<'a>,
    folder: u16,
    /// Undelivered files of this folder, in delivery order.
    queue: VecDeque<usize>,
    buf: Rolling,
    /// Folder-stream bytes decoded so far.
    pos: u64,
    /// Highest end offset of a file delivered so far: bytes below it were handed out
    /// before, and handing them out again is charged again.
    delivered_hi: u64,
    /// The sink asked to stop.
    stopped: bool,
}

impl FolderWalk<'_, '_> {
    fn file(&self, i: usize) -> Option<&FileEntry> {
        self.cab.files.get(i)
    }

    /// Hands out every queued file whose bytes are complete, then drops buffered bytes
    /// nobody needs any more.
    fn deliver_ready(&mut self, total: &mut u64, sink: &mut FileSink<'_>, report: &mut WalkReport) {
        while let Some(&i) = self.queue.front() {
            let Some(f) = self.cab.files.get(i) else {
                self.queue.pop_front();
                continue;
            };
            if f.end() > self.pos {
                break;
            }
            self.deliver(i, f, total, sink, report);
            self.queue.pop_front();
            if self.stopped {
                self.queue.clear();
                return;
            }
        }
        let keep_from = self.keep_from();
        if let Err(e) = self.buf.discard_before(keep_from) {
            let offset = self.pos;
            self.fail_rest(|_| io_error(offset, &e), report);
        }
    }

    /// Charges and hands out one complete file (its bytes are buffered by the invariant).
    fn deliver(
        &mut self,
        i: usize,
        f: &FileEntry,
        total: &mut u64,
        sink: &mut FileSink<'_>,
        report: &mut WalkReport,
    ) {
        let again = self
            .delivered_hi
            .min(f.end())
            .saturating_sub(f.offset.into());
        if let Err(e) = charge(&self.cab.limits, total, again) {
            return report.errors.push((i, e));
        }
        self.delivered_hi = self.delivered_hi.max(f.end());
        match self.buf.slice(f.offset.into(), f.end()) {
            Some(bytes) => {
                if !sink(i, f, bytes) {
                    self.stopped = true;
                }
                report.stats.files_delivered += 1;
            }
            // Unreachable by the buffering invariant; reported rather than panicking.
            None => report.errors.push((
                i,
                CabError::FileBeyondFolder {
                    file: f.name.clone(),
                    end: f.end(),
                    folder_len: self.pos,
                },
            )),
        }
    }

    /// Stream offset of the first byte still needed.
    fn keep_from(&self) -> u64 {
        self.queue
            .front()
            .and_then(|&i| self.file(i))
            .map_or(self.pos, |f| u64::from(f.offset).min(self.pos))
    }

    /// Copies `err` to every undelivered file of this folder.
    fn fail_rest(&mut self, err: impl Fn(&FileEntry) -> CabError, report: &mut WalkReport) {
        while let Some(i) = self.queue.pop_front() {
            if let Some(f) = self.cab.files.get(i) {
                report.errors.push((i, err(f)));
            }
        }
    }

    /// The folder stream has ended (normally or not). Files that are complete but were queued
    /// behind an incomplete one are still delivered (everything from the queue head's offset
    /// on is buffered); the incomplete ones get `err`.
    fn finish(
        &mut self,
        err: impl Fn(&FileEntry) -> CabError,
        total: &mut u64,
        sink: &mut FileSink<'_>,
        report: &mut WalkReport,
    ) {
        while let Some(i) = self.queue.pop_front() {
            let Some(f) = self.cab.files.get(i) else {
                continue;
            };
            if self.stopped {
                continue;
            }
            if f.end() <= self.pos && self.buf.slice(f.offset.into(), f.end()).is_some() {
                self.deliver(i, f, total, sink, report);
            } else {
                report.errors.push((i, err(f)));
            }
        }
    }

    fn run(
        &mut self,
        continues_to_next: bool,
        total: &mut u64,
        sink: &mut FileSink<'_>,
        report: &mut WalkReport,
    ) {
        let folder_ix = self.folder;
        let Some(folder) = self.cab.folders.get(usize::from(folder_ix)).cloned() else {
            return;
        };
        // Empty files at offset 0 need no data at all.
        self.deliver_ready(total, sink, report);
        if self.queue.is_empty() {
            return;
        }
        let mut codec = match Codec::new(folder.compression) {
            Ok(c) => c,
            Err(method) => {
                return self.fail_rest(
                    |_| CabError::UnsupportedCompression {
                        folder: folder_ix,
                        method: method.clone(),
                    },
                    report,
                )
            }
        };
        if folder.block_count == 0 {
            return self.fail_rest(|_| CabError::FolderNoData { folder: folder_ix }, report);
        }
        report.stats.folders_decoded += 1;

        let data_reserve = usize::from(self.cab.header.data_reserve);
        if u64::from(folder.data_offset) > self.cab.src.len() {
            let e = CabError::Truncated {
                what: "CFDATA",
                offset: folder.data_offset.into(),
            };
            return self.fail_rest(|_| e.clone(), report);
        }
        let mut blocks = Blocks {
            src: self.cab.src,
            pos: folder.data_offset.into(),
            buf: Vec::new(),
        };
        for block in 0..folder.block_count {
            if self.queue.is_empty() {
                return;
            }
            let step = self.block(
                &mut blocks,
                &mut codec,
                block,
                data_reserve,
                continues_to_next && block + 1 == folder.block_count,
                total,
                report,
            );
            match step {
                Ok(true) => self.deliver_ready(total, sink, report),
                Ok(false) => {
                    return self.finish(
                        |f| CabError::SplitCabinet {
                            file: f.name.clone(),
                            reason: "its data continues in the next cabinet",
                        },
                        total,
                        sink,
                        report,
                    )
                }
                Err(e) => return self.finish(|_| e.clone(), total, sink, report),
            }
        }
        let folder_len = self.pos;
        self.finish(
            |f| CabError::FileBeyondFolder {
                file: f.name.clone(),
                end: f.end(),
                folder_len,
            },
            total,
            sink,
            report,
        );
    }

    /// Reads, verifies and decodes one CFDATA block, appending what is still needed.
    /// `Ok(false)`: the block is the first half of a block split across cabinets.
    #[allow(clippy::too_many_arguments)]
    fn block(
        &mut self,
        blocks: &mut Blocks<'_>,
        codec: &mut Codec,
        block: u16,
        data_reserve: usize,
        may_be_split: bool,
        total: &mut u64,
        report: &mut WalkReport,
    ) -> Result<bool, CabError> {
        let folder = self.folder;
        let offset = blocks.pos;
        let Block {
            stored,
            sizes,
            reserve,
            data,
        } = blocks.next(data_reserve)?;
        let comp_len = u16::from_le_bytes([sizes[0], sizes[1]]);
        let uncomp_len = u16::from_le_bytes([sizes[2], sizes[3]]);
        let bad = |reason: String| CabError::BadBlock {
            folder,
            block,
            offset,
            reason,
        };
        if uncomp_len == 0 {
            if may_be_split {
                return Ok(false);
            }
            return Err(bad(
                "cbUncomp is 0 in a block that does not continue in another cabinet".into(),
            ));
        }
        if u32::from(uncomp_len) > limits::CAB_MAX_BLOCK_UNCOMPRESSED {
            return Err(bad(format!(
                "cbUncomp {uncomp_len} exceeds {}",
                limits::CAB_MAX_BLOCK_UNCOMPRESSED
            )));
        }
        if u32::from(comp_len) > limits::CAB_MAX_BLOCK_COMPRESSED {
            return Err(bad(format!(
                "cbData {comp_len} exceeds {}",
                limits::CAB_MAX_BLOCK_COMPRESSED
            )));
        }
        // csum 0 means the writer did not compute one.
        if stored != 0 {
            // MS-CAB describes the checksum as covering the block from cbData to the end of
            // the data, i.e. including the per-block reserve area; libmspack leaves the
            // reserve out. No sample with both a data reserve and a non-zero csum was at
            // hand to settle it, so either reading is accepted (they coincide without a
            // reserve, which is every Windows update payload seen so far).
            let data_sum = checksum(data, 0);
            let computed = checksum(reserve, checksum(&sizes, data_sum));
            let without_reserve = checksum(&sizes, data_sum);
            if computed != stored && without_reserve != stored {
                return Err(CabError::BadChecksum {
                    folder,
                    block,
                    offset,
                    stored,
                    computed,
                });
            }
        }
        charge(&self.cab.limits, total, uncomp_len.into())?;
        let out = codec.decode(data, uncomp_len.into(), folder, block)?;
        report.stats.blocks_decoded += 1;
        report.stats.bytes_decoded += out.len() as u64;
        let keep_from = self.keep_from();
        self.buf
            .append(self.pos, out, keep_from)
            .map_err(|e| io_error(self.pos, &e))?;
        self.pos += out.len() as u64;
        Ok(true)
    }
}

/// Charges `bytes` produced to the cabinet's `max_total_bytes` (`total` so far) and to the
/// package budget shared by every container of the input.
fn charge(limits: &Limits, total: &mut u64, bytes: u64) -> Result<(), CabError> {
    if bytes == 0 {
        return Ok(());
    }
    let new_total = total.saturating_add(bytes);
    if new_total > limits.max_total_bytes {
        return Err(CabError::Limit {
            limit: limits::LIMIT_TOTAL_BYTES,
            value: new_total,
            max: limits.max_total_bytes,
        });
    }
    if let Some(budget) = &limits.package_budget {
        budget.take(bytes).map_err(|value| CabError::Limit {
            limit: limits::LIMIT_PACKAGE_BYTES,
            value,
            max: budget.max(),
        })?;
    }
    *total = new_total;
    Ok(())
}

fn io_error(offset: u64, e: &std::io::Error) -> CabError {
    CabError::Io {
        offset,
        reason: format!("spilling to a temporary file: {e}"),
    }
}

/// One CFDATA block's fields, borrowed from the source or from [`Blocks::buf`].
struct Block<'b> {
    stored: u32,
    sizes: [u8; 4],
    reserve: &'b [u8],
    data: &'b [u8],
}

/// Reads a folder's CFDATA blocks in order: straight out of memory, or with positioned
/// reads into one reused buffer when the cabinet is a file range.
struct Blocks<'a> {
    src: Source<'a>,
    pos: u64,
    buf: Vec<u8>,
}

impl Blocks<'_> {
    fn next(&mut self, data_reserve: usize) -> Result<Block<'_>, CabError> {
        let start = self.pos;
        match self.src.as_slice() {
            Some(bytes) => {
                let mut cur = Cursor::at(bytes, start, "CFDATA")?;
                let stored = cur.u32("CFDATA header")?;
                let s = cur.bytes(4, "CFDATA header")?;
                let sizes = [s[0], s[1], s[2], s[3]];
                let comp_len = u16::from_le_bytes([s[0], s[1]]);
                let reserve = cur.bytes(data_reserve, "CFDATA reserve area")?;
                let data = cur.bytes(comp_len.into(), "CFDATA data")?;
                self.pos = cur.pos();
                Ok(Block {
                    stored,
                    sizes,
                    reserve,
                    data,
                })
            }
            None => {
                let mut head = [0u8; 8];
                self.read(start, &mut head, "CFDATA header")?;
                let stored = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
                let sizes = [head[4], head[5], head[6], head[7]];
                let comp_len = usize::from(u16::from_le_bytes([head[4], head[5]]));
                // Reserve and data together: one read, at most 255 + 65,535 bytes.
                let body = start + 8;
                self.buf.resize(data_reserve + comp_len, 0);
                let mut buf = std::mem::take(&mut self.buf);
                let read = self.read(body, &mut buf[..data_reserve], "CFDATA reserve area");
                let read = read.and_then(|()| {
                    self.read(
                        body + data_reserve as u64,
                        &mut buf[data_reserve..],
                        "CFDATA data",
                    )
                });
                self.buf = buf;
                read?;
                self.pos = body + (data_reserve + comp_len) as u64;
                let (reserve, data) = self.buf.split_at(data_reserve);
                Ok(Block {
                    stored,
                    sizes,
                    reserve,
                    data,
                })
            }
        }
    }

    /// A positioned read; past the end is truncation (named like the in-memory path).
    fn read(&self, pos: u64, buf: &mut [u8], what: &'static str) -> Result<(), CabError> {
        if pos.saturating_add(buf.len() as u64) > self.src.len() {
            return Err(CabError::Truncated { what, offset: pos });
        }
        self.src.read_exact_at(pos, buf).map_err(|e| CabError::Io {
            offset: pos,
            reason: e.to_string(),
        })
    }
}
