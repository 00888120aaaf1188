//! Canonical Huffman decoding with one lookup table of `F` (a power of two) entries and a
//! canonical-code fallback for the rare codes longer than `log2(F)` bits.
//!
//! Tables live inside the decoder and are rebuilt in place for every block: no allocation
//! after construction.

use crate::bits::Bits;

/// Longest code LZX can describe (tree lengths are deltas mod 17, so 0..=16).
pub(crate) const MAX_LEN: usize = 16;

/// What [`Huff::decode`] returns for an empty tree (no alphabet here is this large).
pub(crate) const NONE: u16 = u16::MAX;

/// Why a set of code lengths is not a usable prefix code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// More codes than the lengths allow (Kraft sum above 1).
    Oversubscribed,
    /// Some bit patterns decode to nothing (Kraft sum below 1, not zero).
    Incomplete,
}

/// One Huffman tree. `F` fast-table entries; `S` the largest alphabet it is used for.
pub(crate) struct Huff<const F: usize, const S: usize> {
    /// `symbol << 4 | length`, or 0 for "code longer than the table" (or empty tree).
    /// `u16` keeps the 2048-entry main table at 4 KiB.
    fast: Box<[u16; F]>,
    /// Codes per length.
    count: [u16; MAX_LEN + 1],
    /// First canonical code of each length.
    first_code: [u32; MAX_LEN + 1],
    /// Index into `sorted` of each length's first symbol.
    first_index: [u16; MAX_LEN + 1],
    /// Symbols ordered by (length, symbol).
    sorted: Box<[u16; S]>,
    /// True when every length is zero (allowed for the length tree only).
    pub(crate) empty: bool,
}

impl<const F: usize, const S: usize> Huff<F, S> {
    const BITS: u32 = F.trailing_zeros();

    pub(crate) fn new() -> Self {
        Huff {
            fast: vec![0u16; F]
                .into_boxed_slice()
                .try_into()
                .unwrap_or_else(|_| unreachable!()),
            count: [0; MAX_LEN + 1],
            first_code: [0; MAX_LEN + 1],
            first_index: [0; MAX_LEN + 1],
            sorted: vec![0u16; S]
                .into_boxed_slice()
                .try_into()
                .unwrap_or_else(|_| unreachable!()),
            empty: true,
        }
    }

    /// Rebuilds the tree from `lens` (each `<= 16`, at most `S` of them).
    // Four arrays are indexed by code length in lockstep; an index loop says that best.
    #[allow(clippy::needless_range_loop)]
    pub(crate) fn build(&mut self, lens: &[u8]) -> Result<(), Shape> {
        debug_assert!(lens.len() <= S);
        debug_assert!(lens.iter().all(|&l| usize::from(l) <= MAX_LEN));
        // 32 counters so that `l & 31` needs neither a clamp nor a bounds check; lengths
        // above 16 never occur (callers produce 0..=16) and would only be ignored.
        let mut count32 = [0u16; 32];
        for &l in lens {
            count32[usize::from(l) & 31] += 1;
        }
        let mut count = [0u16; MAX_LEN + 1];
        count[1..].copy_from_slice(&count32[1..=MAX_LEN]);
        self.count = count;
        if count.iter().all(|&c| c == 0) {
            self.empty = true;
            self.fast.fill(0);
            return Ok(());
        }
        self.empty = false;
        // Kraft check in integers: `left` codes of the current length still unassigned.
        let mut left: i64 = 1;
        for &c in &count[1..] {
            left = left * 2 - i64::from(c);
            if left < 0 {
                return Err(Shape::Oversubscribed);
            }
        }
        if left > 0 {
            return Err(Shape::Incomplete);
        }
        let mut code = 0u32;
        let mut index = 0u16;
        for len in 1..=MAX_LEN {
            self.first_code[len] = code;
            self.first_index[len] = index;
            code = (code + u32::from(count[len])) << 1;
            index += count[len];
        }
        // Counting sort of all symbols by length, zero-length ones after the coded ones: every
        // symbol is stored, so the loop has no data-dependent branch (a skip for unused
        // symbols was mispredicted often enough to matter, once per block).
        let mut next = [0u16; 32];
        next[1..=MAX_LEN].copy_from_slice(&self.first_index[1..]);
        next[0] = index;
        for (sym, &l) in lens.iter().enumerate() {
            let n = &mut next[usize::from(l) & 31];
            if let Some(slot) = self.sorted.get_mut(usize::from(*n)) {
                *slot = sym as u16;
            }
            *n += 1;
        }
        // Fast table, one length at a time (a fill span that is constant per length keeps the
        // loops predictable): every short code fills its 2^(BITS - len) entries, every long
        // code marks its BITS-bit prefix 0 ("go to the fallback"). The code is complete, so
        // that covers every entry and the table needs no clearing first.
        let bits = Self::BITS as usize;
        for len in 1..=MAX_LEN {
            let first = self.first_code[len] as usize;
            let start = usize::from(self.first_index[len]);
            let n = usize::from(count[len]);
            let syms = self.sorted.get(start..start + n).unwrap_or(&[]);
            if len > bits {
                let shift = len - bits;
                for k in 0..n {
                    if let Some(e) = self.fast.get_mut((first + k) >> shift) {
                        *e = 0;
                    }
                }
                continue;
            }
            let span = 1usize << (bits - len);
            let from = first << (bits - len);
            let Some(entries) = self.fast.get_mut(from..from + n * span) else {
                continue;
            };
            for (chunk, &sym) in entries.chunks_exact_mut(span).zip(syms) {
                chunk.fill(sym << 4 | len as u16);
            }
        }
        Ok(())
    }

    /// The table entry for the next bits (`symbol << 4 | length`, 0 for a long code or an
    /// empty tree), without consuming anything.
    #[inline(always)]
    pub(crate) fn entry(&self, bits: &Bits<'_>) -> u16 {
        self.fast[(bits.peek_buf() >> (64 - Self::BITS)) as usize]
    }

    /// Decodes one symbol; at least 16 bits must be buffered. [`NONE`] only for an empty tree
    /// (a built, non-empty tree is complete, so every bit pattern decodes). Infallible rather
    /// than an `Option` so that the decode loop has no error branch per symbol: callers check
    /// `empty` once per block, or test for [`NONE`] where an empty tree is legal.
    #[inline(always)]
    pub(crate) fn decode(&self, bits: &mut Bits<'_>) -> u16 {
        let e = self.fast[(bits.peek_buf() >> (64 - Self::BITS)) as usize];
        if e & 0xF != 0 {
            bits.consume(u32::from(e & 0xF));
            return e >> 4;
        }
        // The fallback gets the bits by value: passing the reader out of line would force
        // it out of registers in the decode loop.
        let (sym, len) = self.decode_long((bits.peek_buf() >> 48) as u32);
        bits.consume(len);
        sym
    }

    /// Canonical decoding of a code longer than the table from the next 16 bits `c16`;
    /// returns the symbol and its length (`(NONE, 0)` for an empty tree).
    #[cold]
    #[inline(never)]
    fn decode_long(&self, c16: u32) -> (u16, u32) {
        if self.empty {
            return (NONE, 0);
        }
        for len in (Self::BITS as usize + 1)..=MAX_LEN {
            let code = c16 >> (MAX_LEN - len);
            let d = code.wrapping_sub(self.first_code[len]);
            if d < u32::from(self.count[len]) {
                let i = usize::from(self.first_index[len]) + d as usize;
                return match self.sorted.get(i) {
                    Some(&sym) => (sym, len as u32),
                    None => (NONE, 0),
                };
            }
        }
        (NONE, 0)
    }
}
