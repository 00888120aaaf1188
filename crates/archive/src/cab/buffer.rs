//! The bytes of a folder stream that undelivered files still need ([`Rolling`]): in memory
//! while the input's memory budget allows, else in a [`Spill`] (anonymous temporary file).

use crate::limits::Held;
use crate::source::{Source, Spill};

/// The folder-stream bytes `[base, end)` still needed, without re-copying on every discard:
/// the dead prefix is compacted only when it dominates the buffer (amortised O(1)).
///
/// In memory while the input's memory budget lets the buffer grow (`held`, `None` = no
/// budget); otherwise the live bytes move to a [`Spill`] and everything appended goes
/// there until no file needs them any more, when the buffer returns to memory.
pub(super) struct Rolling {
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
    pub(super) fn new(held: Option<Held>) -> Self {
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
    pub(super) fn append(&mut self, pos: u64, chunk: &[u8], keep_from: u64) -> std::io::Result<()> {
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

    pub(super) fn discard_before(&mut self, at: u64) -> std::io::Result<()> {
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

    pub(super) fn slice(&self, start: u64, end: u64) -> Option<Source<'_>> {
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
