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
use std::panic::{catch_unwind, AssertUnwindSafe};

use flate2::{Decompress, FlushDecompress, Status};

use super::checksum::checksum;
use super::{CabError, Cabinet, Compression, FileEntry, FolderRef, FLAG_NEXT_CABINET};
use crate::cursor::Cursor;
use crate::limits::{self, Held, Limits};
use crate::source::{Source, Spill};

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

/// The folder-stream bytes `[base, end)` still needed, without re-copying on every discard:
/// the dead prefix is compacted only when it dominates the buffer (amortised O(1)).
///
/// In memory while the input's memory budget lets the buffer grow (`held`, `None` = no
/// budget); otherwise the live bytes move to a [`Spill`] and everything appended goes
/// there until no file needs them any more, when the buffer returns to memory.
struct Rolling {
    data: Vec<u8>,
    head: usize,
    base: u64,
    held: Option<Held>,
    /// While spilled: stream offset of the spill file's first byte.
    spill: Option<(Spill, u64)>,
    /// A spill file kept between uses, emptied.
    spare: Option<Spill>,
}

/// Compact once the dead prefix is at least this large and at least half the buffer.
const ROLLING_COMPACT_MIN: usize = 64 * 1024;
/// A spilled buffer whose live bytes shrink to this much is read back into memory.
const UNSPILL_MAX: u64 = 256 * 1024;
/// Capacity an emptied buffer keeps (and keeps claimed) for the next file.
const ROLLING_KEEP: usize = 16 << 20;

impl Rolling {
    fn new(held: Option<Held>) -> Self {
        Rolling {
            data: Vec::new(),
            head: 0,
            base: 0,
            held,
            spill: None,
            spare: None,
        }
    }

    fn end(&self) -> u64 {
        match &self.spill {
            Some((spill, at)) => at + spill.len(),
            None => self.base + (self.data.len() - self.head) as u64,
        }
    }

    /// Appends `chunk`, which starts at stream position `pos` (== `self.end()`), keeping only
    /// bytes at or after `keep_from`.
    fn append(&mut self, pos: u64, chunk: &[u8], keep_from: u64) -> std::io::Result<()> {
        debug_assert_eq!(pos, self.end());
        let skip = keep_from.saturating_sub(pos).min(chunk.len() as u64) as usize;
        let chunk = chunk.get(skip..).unwrap_or(&[]);
        if skip > 0 || self.live() == 0 {
            // Nothing before `keep_from` is buffered (it is past everything we hold).
            self.reset(pos + skip as u64)?;
        }
        if let Some((spill, _)) = &mut self.spill {
            return spill.append(chunk);
        }
        if !self.reserve(chunk.len()) {
            self.start_spill()?;
            if let Some((spill, _)) = &mut self.spill {
                return spill.append(chunk);
            }
        }
        self.data.extend_from_slice(chunk);
        Ok(())
    }

    fn live(&self) -> u64 {
        self.end() - self.base
    }

    /// Empties the buffer; the next byte appended is stream byte `base`.
    fn reset(&mut self, base: u64) -> std::io::Result<()> {
        if let Some((mut spill, _)) = self.spill.take() {
            spill.clear()?;
            self.spare = Some(spill);
        }
        self.data.clear();
        self.head = 0;
        if self.data.capacity() > ROLLING_KEEP {
            self.data.shrink_to(ROLLING_KEEP);
        }
        if let Some(h) = &mut self.held {
            h.shrink_to(self.data.capacity() as u64);
        }
        self.base = base;
        Ok(())
    }

    /// Makes room for `more` bytes in memory if the budget allows; `false` when it does not.
    fn reserve(&mut self, more: usize) -> bool {
        let Some(held) = &mut self.held else {
            return true;
        };
        let need = self.data.len().saturating_add(more);
        if need <= self.data.capacity() {
            return true;
        }
        // Grow geometrically, as `Vec` would, but claim the capacity before taking it.
        let want = need.max(self.data.capacity().saturating_mul(2));
        for target in [want, need] {
            let extra = (target as u64).saturating_sub(held.bytes());
            if held.grow(extra) {
                self.data.reserve_exact(target - self.data.len());
                return true;
            }
        }
        false
    }

    /// Moves the live bytes to a spill file; later bytes go there too.
    fn start_spill(&mut self) -> std::io::Result<()> {
        let mut spill = match self.spare.take() {
            Some(s) => s,
            None => Spill::new()?,
        };
        spill.append(self.data.get(self.head..).unwrap_or(&[]))?;
        self.spill = Some((spill, self.base));
        self.data = Vec::new();
        self.head = 0;
        if let Some(h) = &mut self.held {
            h.shrink_to(0);
        }
        Ok(())
    }

    fn discard_before(&mut self, at: u64) -> std::io::Result<()> {
        let n = at.saturating_sub(self.base).min(self.live());
        self.base += n;
        if self.spill.is_some() {
            // A spill is not compacted: it is emptied once nothing in it is needed, or read
            // back once what is still needed is small (the files after a large one then come
            // from memory again).
            let live = self.live();
            if live == 0 {
                self.reset(self.base)?;
            } else if live <= UNSPILL_MAX && self.data.is_empty() && self.reserve(live as usize) {
                if let Some((mut spill, at)) = self.spill.take() {
                    self.data.resize(live as usize, 0);
                    self.head = 0;
                    spill
                        .source(self.base - at, live)
                        .read_exact_at(0, &mut self.data)?;
                    spill.clear()?;
                    self.spare = Some(spill);
                }
            }
            return Ok(());
        }
        self.head += n as usize;
        if self.head == self.data.len() {
            self.reset(self.base)?;
        } else if self.head >= ROLLING_COMPACT_MIN && self.head * 2 >= self.data.len() {
            self.data.drain(..self.head);
            self.head = 0;
        }
        Ok(())
    }

    fn slice(&self, start: u64, end: u64) -> Option<Source<'_>> {
        let len = end.checked_sub(start)?;
        if start < self.base || end > self.end() {
            return None;
        }
        match &self.spill {
            Some((spill, at)) => Some(spill.source(start.checked_sub(*at)?, len)),
            None => {
                let s = usize::try_from(start - self.base).ok()?;
                let e = usize::try_from(end - self.base).ok()?;
                let s = self.head.checked_add(s)?;
                let e = self.head.checked_add(e)?;
                self.data.get(s..e).map(Source::Mem)
            }
        }
    }
}

enum Codec {
    Stored,
    MsZip(Box<MsZip>),
    Lzx(Lzx),
}

thread_local! {
    /// One LZX decoder per thread, kept between folders so the 2 MiB window and the tables
    /// are allocated once per thread, not once per folder (payload CABs nest small cabinets).
    static LZX_SPARE: std::cell::RefCell<Option<Box<kbscan_lzx::Decoder>>> =
        const { std::cell::RefCell::new(None) };
}

/// A folder's LZX decoder, returned to the thread's spare slot when the folder is done.
struct Lzx(Option<Box<kbscan_lzx::Decoder>>);

impl Lzx {
    fn new(window_bits: u8) -> Result<Self, kbscan_lzx::Error> {
        let spare = LZX_SPARE.with(|s| s.borrow_mut().take());
        let decoder = match spare {
            Some(mut d) => {
                d.reset(window_bits)?;
                d
            }
            None => Box::new(kbscan_lzx::Decoder::new(window_bits)?),
        };
        Ok(Lzx(Some(decoder)))
    }
}

impl Drop for Lzx {
    fn drop(&mut self) {
        if let Some(d) = self.0.take() {
            // A decoder that panicked is not worth keeping (its state is unknown); `reset`
            // re-initialises everything anyway, so keeping it would also be sound.
            if !std::thread::panicking() {
                LZX_SPARE.with(|s| *s.borrow_mut() = Some(d));
            }
        }
    }
}

impl Codec {
    /// Err carries the method name for `UnsupportedCompression`.
    fn new(c: Compression) -> Result<Self, String> {
        match c {
            Compression::Stored => Ok(Codec::Stored),
            Compression::MsZip => Ok(Codec::MsZip(Box::new(MsZip::new()))),
            Compression::Lzx { window_bits } => {
                Lzx::new(window_bits).map(Codec::Lzx).map_err(|_| {
                    format!(
                        "LZX:{window_bits} (window bits must be {}..={})",
                        limits::LZX_MIN_WINDOW_BITS,
                        limits::LZX_MAX_WINDOW_BITS
                    )
                })
            }
            // Quantum is legal MS-CAB but absent from Windows update payloads; no maintained
            // crate decodes it, and a hand-written decoder is not worth its attack surface.
            Compression::Quantum { .. } => Err("Quantum".into()),
            Compression::Unknown(raw) => Err(format!("unknown method 0x{raw:04x}")),
        }
    }

    fn decode<'s>(
        &'s mut self,
        data: &'s [u8],
        out_len: usize,
        folder: u16,
        block: u16,
    ) -> Result<&'s [u8], CabError> {
        match self {
            Codec::Stored => {
                if data.len() != out_len {
                    return Err(CabError::Decode {
                        folder,
                        block,
                        method: "None",
                        reason: format!(
                            "stored block has cbData {} but cbUncomp {out_len}",
                            data.len()
                        ),
                    });
                }
                Ok(data)
            }
            Codec::MsZip(z) => z.block(data, out_len).map_err(|reason| CabError::Decode {
                folder,
                block,
                method: "MSZIP",
                reason,
            }),
            Codec::Lzx(Lzx(Some(lzx))) => {
                // kbscan-lzx is written not to panic; the guard stays as defence in depth
                // (it costs nothing on the normal path) and the frame is still borrowed
                // straight from the decoder's window.
                let lzx: &'s mut kbscan_lzx::Decoder = lzx;
                match catch_unwind(AssertUnwindSafe(move || {
                    // Moving the reference in makes the closure FnOnce, so the frame may
                    // borrow from it.
                    let lzx = lzx;
                    lzx.decode_frame(data, out_len)
                })) {
                    Ok(Ok(frame)) => Ok(frame),
                    Ok(Err(e)) => Err(CabError::Decode {
                        folder,
                        block,
                        method: "LZX",
                        reason: e.to_string(),
                    }),
                    // The decoder state is now unusable; the caller stops this folder.
                    Err(_) => Err(CabError::DecoderPanic { folder, block }),
                }
            }
            Codec::Lzx(Lzx(None)) => Err(CabError::DecoderPanic { folder, block }),
        }
    }
}

/// MSZIP: every block is `CK` + a complete raw deflate stream whose preset dictionary is the
/// last 32 KiB of the folder output so far.
struct MsZip {
    inflate: Decompress,
    history: Vec<u8>,
    out: Vec<u8>,
}

impl MsZip {
    fn new() -> Self {
        MsZip {
            inflate: Decompress::new(false),
            history: Vec::with_capacity(limits::MSZIP_HISTORY),
            out: Vec::with_capacity(limits::CAB_MAX_BLOCK_UNCOMPRESSED as usize + 1),
        }
    }

    fn block(&mut self, data: &[u8], out_len: usize) -> Result<&[u8], String> {
        let body = match data {
            [b'C', b'K', rest @ ..] => rest,
            _ => return Err("block does not start with the MSZIP signature \"CK\"".into()),
        };
        self.inflate.reset(false);
        if !self.history.is_empty() {
            self.inflate
                .set_dictionary(&self.history)
                .map_err(|e| format!("cannot set deflate dictionary: {e}"))?;
        }
        // One spare byte detects a block that inflates to more than cbUncomp.
        self.out.clear();
        self.out.resize(out_len + 1, 0);
        let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
        let (mut consumed, mut produced) = (0usize, 0usize);
        loop {
            let input = body.get(consumed..).unwrap_or(&[]);
            let output = self.out.get_mut(produced..).unwrap_or(&mut []);
            let status = self
                .inflate
                .decompress(input, output, FlushDecompress::Finish)
                .map_err(|e| format!("deflate: {e}"))?;
            let (c, p) = (
                (self.inflate.total_in() - in0) as usize,
                (self.inflate.total_out() - out0) as usize,
            );
            let progressed = c != consumed || p != produced;
            (consumed, produced) = (c, p);
            if produced > out_len {
                return Err(format!("block inflates to more than cbUncomp {out_len}"));
            }
            if status == Status::StreamEnd {
                break;
            }
            // Each call either consumes input or produces output; if neither happens the
            // stream is stuck (CVE-2010-2800 was an endless loop right here in libmspack).
            if !progressed {
                if produced == out_len && consumed == body.len() {
                    // Tolerated: a writer that omitted the final-block bit.
                    break;
                }
                return Err(format!(
                    "deflate stream stalled after {consumed} of {} input bytes, {produced} of {out_len} output bytes",
                    body.len()
                ));
            }
        }
        if produced != out_len {
            return Err(format!(
                "block inflated to {produced} bytes but cbUncomp is {out_len}"
            ));
        }
        let out = self.out.get(..produced).unwrap_or(&[]);
        if out.len() >= limits::MSZIP_HISTORY {
            self.history.clear();
            self.history
                .extend_from_slice(out.get(out.len() - limits::MSZIP_HISTORY..).unwrap_or(&[]));
        } else {
            self.history.extend_from_slice(out);
            let excess = self.history.len().saturating_sub(limits::MSZIP_HISTORY);
            self.history.drain(..excess);
        }
        Ok(out)
    }
}
