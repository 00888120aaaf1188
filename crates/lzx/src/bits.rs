//! MSB-first bits packed in 16-bit little-endian words, read from one CFDATA payload.
//!
//! The words are first byte-swapped into a scratch buffer ([`Swapped`]), which turns the
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

/// Longest input the reader takes: a CFDATA payload's `cbData` is a `u16`.
pub(crate) const MAX_INPUT: usize = u16::MAX as usize;

/// Size of the swap buffer: the longest input rounded up to whole words, plus [`PAD`]. A
/// fixed size lets the refill's bounds check compare against a constant (no length to keep
/// in a register, no overflow test).
pub(crate) const SWAP_LEN: usize = MAX_INPUT + 1 + PAD;

/// The word-swapped stream: every byte past the current stream's words is zero.
pub(crate) struct Swapped {
    buf: Box<[u8; SWAP_LEN]>,
    /// Bytes that may be nonzero (everything from here on is zero).
    dirty: usize,
}

impl Swapped {
    pub(crate) fn new() -> Self {
        Swapped {
            buf: vec![0u8; SWAP_LEN]
                .into_boxed_slice()
                .try_into()
                .unwrap_or_else(|_| unreachable!()),
            dirty: 0,
        }
    }

    /// Stores `input` (at most [`MAX_INPUT`] bytes; longer input is cut there) as big-endian
    /// words and returns a reader over it. An odd trailing byte is the low half of a word whose
    /// high half is missing (zero). Only the bytes the previous stream left nonzero beyond
    /// this one are cleared, not the whole buffer (clearing per frame was 2% of decoding).
    pub(crate) fn load(&mut self, input: &[u8]) -> Bits<'_> {
        let input = input.get(..MAX_INPUT).unwrap_or(input);
        let out = &mut self.buf[..];
        let swap = |s: &[u8], d: &mut [u8]| {
            let mut b = [0u8; 8];
            b.copy_from_slice(s);
            let x = u64::from_le_bytes(b);
            let y = ((x >> 8) & 0x00FF_00FF_00FF_00FF) | ((x & 0x00FF_00FF_00FF_00FF) << 8);
            d.copy_from_slice(&y.to_le_bytes());
        };
        // Eight bytes at a time (swap the bytes of each 16-bit lane), then the tail
        // zero-extended to eight bytes (the padding has room for it).
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
        let written = done + 8;
        if let Some(stale) = out.get_mut(written..self.dirty.max(written)) {
            stale.fill(0);
        }
        self.dirty = written;
        Bits {
            data: &self.buf,
            len: input.len(),
            pos: 0,
            buf: 0,
            n: 0,
        }
    }
}

/// A 64-bit bit buffer over a word-swapped stream (see [`Swapped`]).
#[derive(Clone)]
pub(crate) struct Bits<'a> {
    /// Swapped stream, zeros after it.
    data: &'a [u8; SWAP_LEN],
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
    /// Ensures at least 56 valid bits.
    #[inline(always)]
    pub(crate) fn refill(&mut self) {
        // Against a constant: the compiler then knows the slice below is in bounds.
        if self.pos <= SWAP_LEN - 8 {
            let mut be = [0u8; 8];
            be.copy_from_slice(&self.data[self.pos..self.pos + 8]);
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
fn refill_slow(
    data: &[u8; SWAP_LEN],
    mut pos: usize,
    mut buf: u64,
    mut n: u32,
) -> (usize, u64, u32) {
    while n < 56 {
        let b = data.get(pos).copied().unwrap_or(0);
        buf |= u64::from(b) << (56 - n);
        pos = pos.saturating_add(1);
        n += 8;
    }
    (pos, buf, n)
}
