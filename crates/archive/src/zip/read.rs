//! Entry data: stored entries checked in place, deflate entries inflated into one reused
//! buffer or, beyond the memory budget, into one reused spill file; every byte charged.

use std::io;

use flate2::{Crc, Decompress, FlushDecompress, Status};

use super::{ZipArchive, ZipEntry, ZipError, LOCAL_LEN, METHOD_DEFLATE, METHOD_STORED, SIG_LOCAL};
use crate::limits::{self, Held, Limits};
use crate::source::{Source, Spill};

/// Compressed bytes read from a file source per refill (a window, not member bytes).
const INPUT_WINDOW: usize = 64 * 1024;
/// Most bytes one inflate call may produce: the spill mode's output window, and the step at
/// which production is charged to the package budget.
const OUTPUT_WINDOW: usize = 256 * 1024;
/// Largest first reservation of an entry buffer; the declared size (untrusted) can only make
/// it smaller.
const FIRST_RESERVATION: u64 = 64 * 1024;
/// Buffer capacity kept from one entry to the next; beyond it, given back.
const KEEP_BETWEEN_ENTRIES: usize = 1 << 20;

/// Reads entries of one [`ZipArchive`], reusing one buffer, one spill file and one inflater.
/// Counts the bytes it produces against [`Limits::max_total_bytes`] (per reader) and the
/// shared [`Limits::package_budget`]; once a container-wide limit is hit, every further
/// [`read`](Self::read) returns that limit error.
pub struct EntryReader<'z, 'a> {
    zip: &'z ZipArchive<'a>,
    buf: Vec<u8>,
    /// Claim on [`Limits::memory`] for `buf`'s capacity; `None` = unbounded.
    held: Option<Held>,
    spill: Option<Spill>,
    in_win: Vec<u8>,
    out_win: Vec<u8>,
    inflater: Decompress,
    total: u64,
    stopped: Option<(&'static str, u64, u64)>,
}

impl std::fmt::Debug for EntryReader<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryReader")
            .field("buffer_capacity", &self.buf.capacity())
            .field("spill", &self.spill.as_ref().map(Spill::len))
            .field("total", &self.total)
            .field("stopped", &self.stopped)
            .finish()
    }
}

/// Where an entry's bytes ended up.
enum Place {
    /// `len` bytes of the archive's source at `start` (stored entries).
    InArchive {
        start: u64,
        len: u64,
    },
    Buffer,
    Spill,
}

/// What producing an entry gave: how many bytes (all charged), their CRC, where they are,
/// and the failure that stopped production early, if any.
struct Produced {
    bytes: u64,
    crc: u32,
    place: Place,
    failure: Option<ZipError>,
}

/// Compressed input: borrowed from memory, or refilled from a file through a window.
struct Input<'s> {
    src: Source<'s>,
    /// Next byte of `src` not yet in the window (memory: not yet consumed).
    pos: u64,
    end: u64,
    /// Unconsumed part of the window.
    lo: usize,
    hi: usize,
}

impl<'s> Input<'s> {
    fn peek<'b>(&'b mut self, win: &'b mut Vec<u8>) -> io::Result<&'b [u8]>
    where
        's: 'b,
    {
        match self.src {
            Source::Mem(b) => {
                // A bounded slice per call (inflate counts its input in 32 bits).
                let n = (self.end - self.pos).min(1 << 20);
                Ok(b.get(self.pos as usize..(self.pos + n) as usize)
                    .unwrap_or_default())
            }
            Source::File(_) => {
                if self.lo == self.hi && self.pos < self.end {
                    let n = (self.end - self.pos).min(INPUT_WINDOW as u64) as usize;
                    win.resize(n, 0);
                    self.src
                        .read_exact_at(self.pos, win.get_mut(..n).unwrap_or_default())?;
                    self.pos += n as u64;
                    (self.lo, self.hi) = (0, n);
                }
                Ok(win.get(self.lo..self.hi).unwrap_or_default())
            }
        }
    }

    fn consume(&mut self, n: usize) {
        match self.src {
            Source::Mem(_) => self.pos += n as u64,
            Source::File(_) => self.lo += n,
        }
    }

    fn exhausted(&self) -> bool {
        self.lo == self.hi && self.pos == self.end
    }
}

fn charge(limits: &Limits, n: u64) -> Result<(), ZipError> {
    match &limits.package_budget {
        Some(b) => b.take(n).map_err(|value| ZipError::Limit {
            limit: limits::LIMIT_PACKAGE_BYTES,
            value,
            max: b.max(),
        }),
        None => Ok(()),
    }
}

impl<'z, 'a> EntryReader<'z, 'a> {
    pub(super) fn new(zip: &'z ZipArchive<'a>) -> Self {
        EntryReader {
            zip,
            buf: Vec::new(),
            held: zip.limits.memory.as_ref().map(|m| m.claim()),
            spill: None,
            in_win: Vec::new(),
            out_win: Vec::new(),
            inflater: Decompress::new(false),
            total: 0,
            stopped: None,
        }
    }

    /// Bytes produced so far (all entries, including failed and oversized ones).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The data of entry `index`, checked (CRC-32, size) and charged, or why not. The
    /// [`Source`] borrows this reader's buffer or spill file (or the archive's source, for a
    /// stored entry) until the next call.
    pub fn read(&mut self, index: usize) -> Result<Source<'_>, ZipError> {
        let zip = self.zip;
        let e = zip.entries.get(index).ok_or(ZipError::NoEntry { index })?;
        if let Some((limit, value, max)) = self.stopped {
            return Err(ZipError::Limit { limit, value, max });
        }
        let limits = &zip.limits;
        if let Some(err) = e.problem(limits) {
            return Err(err);
        }
        if e.is_encrypted() {
            return Err(ZipError::Encrypted {
                index,
                name: e.name.clone(),
            });
        }
        if e.method != METHOD_STORED && e.method != METHOD_DEFLATE {
            return Err(ZipError::UnsupportedMethod {
                index,
                name: e.name.clone(),
                method: e.method,
            });
        }
        let start = data_start(&zip.src, e)?;
        let src_len = zip.src.len();
        let end = start
            .checked_add(e.compressed_size)
            .filter(|&end| end <= src_len)
            .ok_or_else(|| {
                e.bad(format!(
                    "{} bytes of data at offset {start} run past the end of the archive ({src_len} bytes)",
                    e.compressed_size
                ))
            })?;
        self.release_between_entries();

        let left = limits.max_total_bytes.saturating_sub(self.total);
        let cap = limits.max_entry_bytes.min(left);
        // One byte past the cap proves the entry too large.
        let most = cap.saturating_add(1);
        let got = if e.method == METHOD_STORED {
            self.stored(e, start, most)
        } else {
            self.inflate(e, start, end, most)
        };
        self.total = self.total.saturating_add(got.bytes);

        if let Some(failure) = got.failure {
            if failure.ends_container() {
                if let ZipError::Limit { limit, value, max } = failure {
                    self.stopped = Some((limit, value, max));
                }
            }
            return Err(failure);
        }
        if got.bytes > cap {
            if got.bytes > limits.max_entry_bytes {
                return Err(ZipError::Limit {
                    limit: limits::LIMIT_ENTRY_BYTES,
                    value: got.bytes,
                    max: limits.max_entry_bytes,
                });
            }
            let stop = (
                limits::LIMIT_TOTAL_BYTES,
                self.total,
                limits.max_total_bytes,
            );
            self.stopped = Some(stop);
            return Err(ZipError::Limit {
                limit: stop.0,
                value: stop.1,
                max: stop.2,
            });
        }
        if got.bytes != e.uncompressed_size {
            return Err(ZipError::Size {
                index,
                name: e.name.clone(),
                declared: e.uncompressed_size,
                actual: got.bytes,
            });
        }
        if got.crc != e.crc32 {
            return Err(ZipError::Crc {
                index,
                name: e.name.clone(),
                stored: e.crc32,
                computed: got.crc,
            });
        }
        Ok(match got.place {
            Place::InArchive { start, len } => zip.src.sub(start, len),
            Place::Buffer => Source::Mem(&self.buf),
            Place::Spill => match &self.spill {
                Some(s) => s.source(0, got.bytes),
                None => Source::Mem(&[]),
            },
        })
    }

    /// Gives back buffer capacity beyond [`KEEP_BETWEEN_ENTRIES`] and the spill file's
    /// space, so that one large entry does not keep memory or disk for the rest.
    fn release_between_entries(&mut self) {
        self.buf.clear();
        if self.buf.capacity() > KEEP_BETWEEN_ENTRIES {
            self.buf.shrink_to(KEEP_BETWEEN_ENTRIES);
            if let Some(h) = &mut self.held {
                h.shrink_to(self.buf.capacity() as u64);
            }
        }
        if let Some(s) = &mut self.spill {
            if !s.is_empty() {
                // Failing to truncate only keeps disk space: the next spill starts over anyway.
                let _ = s.clear();
            }
        }
    }

    /// A stored entry stays where it is: its bytes are checked (CRC-32) in place, through
    /// the input window when the source is a file.
    fn stored(&mut self, e: &ZipEntry, start: u64, most: u64) -> Produced {
        let limits = &self.zip.limits;
        let len = e.compressed_size;
        let bytes = len.min(most);
        let mut got = Produced {
            bytes,
            crc: 0,
            place: Place::InArchive { start, len },
            failure: charge(limits, bytes).err(),
        };
        if got.failure.is_some() || len >= most {
            return got;
        }
        let mut crc = Crc::new();
        let data = self.zip.src.sub(start, len);
        if let Some(b) = data.as_slice() {
            crc.update(b);
        } else {
            let mut pos = 0;
            while pos < len {
                let n = (len - pos).min(INPUT_WINDOW as u64) as usize;
                self.in_win.resize(n, 0);
                let win = self.in_win.get_mut(..n).unwrap_or_default();
                if let Err(source) = data.read_exact_at(pos, win) {
                    got.failure = Some(ZipError::Read {
                        index: e.index,
                        name: e.name.clone(),
                        source,
                    });
                    return got;
                }
                crc.update(win);
                pos += n as u64;
            }
        }
        got.crc = crc.sum();
        got
    }

    /// Raw inflate of `start..end` into the buffer while the memory budget allows, then into
    /// the spill file; at most `most` bytes.
    fn inflate(&mut self, e: &ZipEntry, start: u64, end: u64, most: u64) -> Produced {
        let EntryReader {
            zip,
            buf,
            held,
            spill,
            in_win,
            out_win,
            inflater,
            ..
        } = self;
        let limits = &zip.limits;
        inflater.reset(false);
        let mut input = Input {
            src: zip.src,
            pos: start,
            end,
            lo: 0,
            hi: 0,
        };
        let mut crc = Crc::new();
        let mut bytes = 0u64;
        let mut spilling = false;
        let spill_err = |source| ZipError::Spill {
            index: e.index,
            name: e.name.clone(),
            source,
        };
        let read_err = |source| ZipError::Read {
            index: e.index,
            name: e.name.clone(),
            source,
        };
        let decode_err = |reason: String| ZipError::Decode {
            index: e.index,
            name: e.name.clone(),
            reason,
        };
        let mut failure = None;
        while bytes < most {
            let room = (most - bytes).min(OUTPUT_WINDOW as u64) as usize;
            if !spilling && buf.len() == buf.capacity() {
                let want = if buf.capacity() == 0 {
                    e.uncompressed_size.saturating_add(1).min(FIRST_RESERVATION)
                } else {
                    buf.capacity() as u64
                };
                // `buf` holds exactly the bytes produced, so this is at least 1.
                let want = want.min(most - bytes) as usize;
                let allowed = held.as_mut().is_none_or(|h| h.grow(want as u64));
                if allowed {
                    buf.reserve_exact(want);
                } else {
                    // Over the memory budget: what was produced moves to the spill file, the
                    // buffer is given back, and the rest goes through the output window.
                    let moved = match spill {
                        Some(s) => s.clear().map(|()| s),
                        None => Spill::new().map(|s| spill.insert(s)),
                    }
                    .and_then(|s| s.append(buf));
                    if let Err(err) = moved {
                        failure = Some(spill_err(err));
                        break;
                    }
                    *buf = Vec::new();
                    if let Some(h) = held.as_mut() {
                        h.shrink_to(0);
                    }
                    spilling = true;
                }
            }
            let inp = match input.peek(in_win) {
                Ok(i) => i,
                Err(err) => {
                    failure = Some(read_err(err));
                    break;
                }
            };
            let (in0, out0) = (inflater.total_in(), inflater.total_out());
            let len0 = buf.len();
            let status = if spilling {
                out_win.resize(room, 0);
                inflater.decompress(
                    inp,
                    out_win.get_mut(..room).unwrap_or_default(),
                    FlushDecompress::None,
                )
            } else {
                let w = (buf.capacity() - len0).min(room);
                buf.resize(len0 + w, 0);
                inflater.decompress(
                    inp,
                    buf.get_mut(len0..).unwrap_or_default(),
                    FlushDecompress::None,
                )
            };
            let consumed = (inflater.total_in() - in0) as usize;
            let made = (inflater.total_out() - out0) as usize;
            input.consume(consumed);
            let out = if spilling {
                out_win.get(..made).unwrap_or_default()
            } else {
                buf.truncate(len0 + made);
                buf.get(len0..).unwrap_or_default()
            };
            crc.update(out);
            // Charged before anything else can fail: every byte produced counts.
            bytes += made as u64;
            let charged = if made > 0 {
                charge(limits, made as u64)
            } else {
                Ok(())
            };
            let kept = match (spilling, spill.as_mut()) {
                (false, _) => Ok(()),
                (true, Some(s)) => s.append(out),
                (true, None) => Err(io::Error::other("no spill file")),
            };
            if let Err(err) = charged {
                failure = Some(err);
                break;
            }
            if let Err(err) = kept {
                failure = Some(spill_err(err));
                break;
            }
            match status {
                Err(err) => {
                    failure = Some(decode_err(format!("invalid deflate data: {err}")));
                    break;
                }
                Ok(Status::StreamEnd) => break,
                Ok(_) if consumed == 0 && made == 0 => {
                    let reason = if input.exhausted() {
                        format!(
                            "the {} bytes of compressed data end before the deflate stream does",
                            e.compressed_size
                        )
                    } else {
                        "inflate made no progress".to_owned()
                    };
                    failure = Some(decode_err(reason));
                    break;
                }
                Ok(_) => {}
            }
        }
        Produced {
            bytes,
            crc: crc.sum(),
            place: if spilling {
                Place::Spill
            } else {
                Place::Buffer
            },
            failure,
        }
    }
}

/// Where entry `e`'s data starts: after its local header's name and extra field (the only
/// local fields read).
fn data_start(src: &Source<'_>, e: &ZipEntry) -> Result<u64, ZipError> {
    let at = e.local_header_offset;
    let mut h = [0u8; LOCAL_LEN as usize];
    if let Err(err) = src.read_exact_at(at, &mut h) {
        return Err(if err.kind() == io::ErrorKind::UnexpectedEof {
            e.bad(format!(
                "local header at offset {at} runs past the end of the archive ({} bytes)",
                src.len()
            ))
        } else {
            ZipError::Read {
                index: e.index,
                name: e.name.clone(),
                source: err,
            }
        });
    }
    let mut f = super::Fields::new(&h);
    if f.u32() != Some(SIG_LOCAL) {
        return Err(e.bad(format!("no local header signature at offset {at}")));
    }
    f.pos = 26;
    let lengths = f.u16().zip(f.u16());
    lengths
        .and_then(|(n, x)| at.checked_add(LOCAL_LEN + u64::from(n) + u64::from(x)))
        .ok_or_else(|| e.bad(format!("local header at offset {at} is unusable")))
}
