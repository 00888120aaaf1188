//! MSB-first bits packed in 16-bit little-endian words, read from one CFDATA payload.
//!
//! The words are first byte-swapped into a scratch buffer ([`swap_words`]), which turns the
//! stream into a plain MSB-first byte stream: a refill is then one unaligned big-endian 8-byte
//! load that tops the buffer up to 56..=63 bits, enough for a whole match (main symbol 16 +
//! length symbol 16 + footer 17, or 14 + aligned symbol 7) without a second refill.
//!
//! The reader never fails: past the end of its input it supplies zeros and remembers how far
//! it went, so the hot decode loop has no error paths for input exhaustion. Callers check
//! [`Bits::overrun`] at every block header and at the end of every frame, which bounds the
//! work done on a truncated stream to one frame.

/// Zero bytes after the swapped words, so that refills near the end stay on the fast path.
pub(crate) const PAD: usize = 16;

/// Writes `input` as big-endian words into `out` (old contents overwritten), then [`PAD`] zero
/// bytes. An odd trailing byte is the low half of a word whose high half is missing (zero).
pub(crate) fn swap_words(input: &[u8], out: &mut Vec<u8>) {
    let words = input.len().div_ceil(2) * 2;
    // No `clear` first: `resize` then zeroes only newly grown bytes, and every byte below
    // `words + PAD` is written below (zeroing the whole buffer per frame was 2% of decoding).
    out.resize(words + PAD, 0);
    let swap = |s: &[u8], d: &mut [u8]| {
        let mut b = [0u8; 8];
        b.copy_from_slice(s);
        let x = u64::from_le_bytes(b);
        let y = ((x >> 8) & 0x00FF_00FF_00FF_00FF) | ((x & 0x00FF_00FF_00FF_00FF) << 8);
        d.copy_from_slice(&y.to_le_bytes());
    };
    // Eight bytes at a time (swap the bytes of each 16-bit lane), then the tail zero-extended
    // to eight bytes (the padding has room for it), then the padding.
    let mut dst = out.chunks_exact_mut(8);
    let mut src = input.chunks_exact(8);
    for (d, s) in dst.by_ref().zip(src.by_ref()) {
        swap(s, d);
    }
    let done = input.len() - src.remainder().len();
    let mut tail = [0u8; 8];
    if let Some(t) = tail.get_mut(..src.remainder().len()) {
        t.copy_from_slice(src.remainder());
    }
    if let Some(d) = out.get_mut(done..done + 8) {
        swap(&tail, d);
    }
    if let Some(p) = out.get_mut(words..) {
        p.fill(0);
    }
}

/// A 64-bit bit buffer over a word-swapped stream (see [`swap_words`]).
#[derive(Clone)]
pub(crate) struct Bits<'a> {
    /// Swapped stream plus padding.
    data: &'a [u8],
    /// Real stream bytes (without padding).
    len: usize,
    /// Next byte to load; may run past `data.len()` (those bytes read as zero).
    pos: usize,
    /// Valid bits, left-aligned. The bits below them are zero or the exact next stream bits
    /// (a refill loads more than it counts), so OR-ing in a refill is idempotent.
    buf: u64,
    /// Number of valid bits in `buf`.
    n: u32,
}

impl<'a> Bits<'a> {
    /// `data` from [`swap_words`] of a `len`-byte stream.
    pub(crate) fn new(data: &'a [u8], len: usize) -> Self {
        Bits {
            data,
            len,
            pos: 0,
            buf: 0,
            n: 0,
        }
    }

    /// Ensures at least 56 valid bits.
    #[inline(always)]
    pub(crate) fn refill(&mut self) {
        if let Some(b) = self.data.get(self.pos..self.pos.wrapping_add(8)) {
            let mut be = [0u8; 8];
            be.copy_from_slice(b);
            self.buf |= u64::from_be_bytes(be) >> self.n;
            self.pos += (63 - self.n as usize) >> 3;
            self.n |= 56;
        } else {
            (self.pos, self.buf, self.n) = refill_slow(self.data, self.pos, self.buf, self.n);
        }
    }

    /// The buffered bits, left-aligned (only the first `n` are meaningful).
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

    /// Bits consumed so far.
    fn consumed(&self) -> u64 {
        self.pos as u64 * 8 - u64::from(self.n)
    }

    /// Bits consumed beyond the end of the input, if any.
    pub(crate) fn overrun(&self) -> bool {
        self.consumed() > self.len as u64 * 8
    }

    /// Skips to the next 16-bit boundary of the word stream (a no-op when aligned).
    pub(crate) fn align_word(&mut self) {
        self.refill();
        let k = ((16 - self.consumed() % 16) % 16) as u32;
        self.consume(k);
    }

    /// For an uncompressed block header: skips 1 to 16 padding bits to the next word boundary
    /// (a whole word when already aligned) and returns the stream byte offset that follows.
    pub(crate) fn byte_pos_after_padding(&mut self) -> usize {
        let c = self.consumed();
        let skip = 16 - c % 16;
        usize::try_from((c + skip) / 8).unwrap_or(usize::MAX)
    }
}

/// Byte-at-a-time refill near (or past) the end of the input. Takes and returns the state by
/// value: a `&mut Bits` passed out of line would keep the reader out of registers.
#[cold]
#[inline(never)]
fn refill_slow(data: &[u8], mut pos: usize, mut buf: u64, mut n: u32) -> (usize, u64, u32) {
    while n < 56 {
        let b = data.get(pos).copied().unwrap_or(0);
        buf |= u64::from(b) << (56 - n);
        pos = pos.saturating_add(1);
        n += 8;
    }
    (pos, buf, n)
}
