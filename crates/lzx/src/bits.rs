//! MSB-first bits packed in 16-bit little-endian words, read from one CFDATA payload.
//!
//! The reader never fails: past the end of its input it supplies zero words and remembers how
//! far it went, so the hot decode loop has no error paths for input exhaustion. Callers check
//! [`Bits::overrun`] at every block header and at the end of every frame, which bounds the
//! work done on a truncated stream to one frame.

/// A 64-bit bit buffer over `data`, starting at some byte offset (the word stream may start at
/// an odd offset after an uncompressed block).
pub(crate) struct Bits<'a> {
    data: &'a [u8],
    /// Next byte to load; may run past `data.len()` (those bytes read as zero).
    pos: usize,
    /// Valid bits, left-aligned. Bits below the valid ones are either zero or the exact next
    /// stream bits (a refill may load more than it counts), so OR-ing a refill is idempotent.
    buf: u64,
    /// Number of valid bits in `buf`.
    n: u32,
}

impl<'a> Bits<'a> {
    pub(crate) fn new(data: &'a [u8], at: usize) -> Self {
        Bits {
            data,
            pos: at,
            buf: 0,
            n: 0,
        }
    }

    /// Ensures at least 48 valid bits.
    #[inline(always)]
    pub(crate) fn refill(&mut self) {
        if self.n >= 48 {
            return;
        }
        if let Some(b) = self.data.get(self.pos..self.pos.wrapping_add(8)) {
            let mut le = [0u8; 8];
            le.copy_from_slice(b);
            let x = u64::from_le_bytes(le);
            // Four LE words w0..w3 (w0 first in the stream) → w0 w1 w2 w3 from the top.
            let v = (x << 48) | ((x & 0xFFFF_0000) << 16) | ((x >> 16) & 0xFFFF_0000) | (x >> 48);
            self.buf |= v >> self.n;
            let words = (64 - self.n) / 16;
            self.pos += 2 * words as usize;
            self.n += 16 * words;
        } else {
            self.refill_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn refill_slow(&mut self) {
        while self.n <= 48 {
            let lo = self.data.get(self.pos).copied().unwrap_or(0);
            let hi = self
                .data
                .get(self.pos.wrapping_add(1))
                .copied()
                .unwrap_or(0);
            let w = u64::from(u16::from_le_bytes([lo, hi]));
            self.buf |= w << (48 - self.n);
            self.pos = self.pos.saturating_add(2);
            self.n += 16;
        }
    }

    /// The top 64 bits (only the first `n` are meaningful).
    #[inline(always)]
    pub(crate) fn peek_buf(&self) -> u64 {
        self.buf
    }

    /// Drops `k` bits; `k` must not exceed the valid bits (callers refill first).
    #[inline(always)]
    pub(crate) fn consume(&mut self, k: u32) {
        debug_assert!(k <= self.n);
        self.buf <<= k;
        self.n -= k;
    }

    /// Reads `k <= 32` bits (0 allowed); at least `k` bits must be buffered.
    #[inline(always)]
    pub(crate) fn take(&mut self, k: u32) -> u32 {
        debug_assert!(k <= 32 && k <= self.n);
        let v = ((self.buf >> 32) >> (32 - k)) as u32;
        self.consume(k);
        v
    }

    /// Reads `k <= 32` bits, refilling as needed.
    pub(crate) fn read(&mut self, k: u32) -> u32 {
        if k > 16 {
            let hi = self.read(k - 16);
            return (hi << 16) | self.read(16);
        }
        self.refill();
        self.take(k)
    }

    /// Bits consumed beyond the end of the input, if any.
    pub(crate) fn overrun(&self) -> bool {
        let loaded = self.pos as u64 * 8;
        let consumed = loaded - u64::from(self.n);
        consumed > self.data.len() as u64 * 8
    }

    /// Skips to the next 16-bit boundary of the word stream (a no-op when aligned).
    pub(crate) fn align_word(&mut self) {
        self.consume(self.n % 16);
    }

    /// For an uncompressed block header: skips 1 to 16 padding bits to the next word boundary
    /// (a whole word when already aligned) and returns the byte offset that follows.
    pub(crate) fn byte_pos_after_padding(&mut self) -> usize {
        self.refill();
        let partial = self.n % 16;
        self.consume(if partial == 0 { 16 } else { partial });
        // Whole words still buffered are unread input.
        self.pos - (self.n / 8) as usize
    }
}
