//! The canonical Huffman code of the PA30 body ("left-leaning": long codes get the
//! small values).
//!
//! From a list of code lengths (0 = unused symbol): with `count[l]` codes of length
//! `l` and `max` the longest length, the first code of each length is computed from
//! the longest down — `first[max] = 0`, `first[l - 1] = (first[l] + count[l]) >> 1` —
//! and the symbols of one length take consecutive codes from `first[l]` in symbol
//! order. A code is sent most significant bit first, so in the LSB-first stream the
//! next `l` bits, read as an integer, are the code bit-reversed. Decoding is one
//! lookup in a table indexed by the next `max` stream bits.

use crate::body::BodyReader;

/// Longest code length any PA30 table may use.
pub const MAX_CODE_LEN: u8 = 16;

/// Why a list of code lengths does not make a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeError {
    /// A length above the table's maximum.
    TooLong { symbol: usize, len: u8, max: u8 },
    /// More codes of some length than the lengths above leave room for.
    Oversubscribed,
}

/// A decoding table. Entries are `symbol << 5 | length`; 0 marks a bit pattern no
/// code starts with (incomplete codes are accepted, their holes are decode errors).
#[derive(Debug, Clone)]
pub struct Huffman {
    table: Vec<u32>,
    bits: u32,
}

impl Huffman {
    /// Builds the code for `lens` (at most `max_len` bits per code).
    pub fn from_lengths(lens: &[u8], max_len: u8) -> Result<Self, CodeError> {
        let max_len = max_len.min(MAX_CODE_LEN);
        let mut count = [0u32; MAX_CODE_LEN as usize + 1];
        let mut longest = 0u8;
        for (symbol, &len) in lens.iter().enumerate() {
            if len > max_len {
                return Err(CodeError::TooLong {
                    symbol,
                    len,
                    max: max_len,
                });
            }
            count[len as usize] += 1;
            longest = longest.max(len);
        }
        if longest == 0 {
            // No symbol at all: every decode is an error.
            return Ok(Huffman {
                table: vec![0],
                bits: 0,
            });
        }
        // Kraft: the codes must fit in the code space.
        let mut space: u64 = 0;
        for (l, &c) in count.iter().enumerate().take(longest as usize + 1).skip(1) {
            space += u64::from(c) << (longest as usize - l);
        }
        if space > 1u64 << longest {
            return Err(CodeError::Oversubscribed);
        }
        let mut next = [0u32; MAX_CODE_LEN as usize + 2];
        let mut acc = 0u32;
        for l in (1..=longest as usize).rev() {
            next[l] = acc;
            acc = (acc + count[l]) >> 1;
        }
        let bits = u32::from(longest);
        let mut table = vec![0u32; 1usize << bits];
        for (symbol, &len) in lens.iter().enumerate() {
            if len == 0 {
                continue;
            }
            let l = len as usize;
            let code = next[l];
            next[l] += 1;
            if code >= 1 << l {
                return Err(CodeError::Oversubscribed);
            }
            let rev = code.reverse_bits() >> (32 - l);
            let entry = ((symbol as u32) << 5) | u32::from(len);
            let step = 1usize << l;
            let mut i = rev as usize;
            while i < table.len() {
                table[i] = entry;
                i += step;
            }
        }
        Ok(Huffman { table, bits })
    }

    /// The code of the format's "default" lengths for `size` symbols: every symbol
    /// gets `ceil(log2 size)` bits except the first `2^bits - size`, which get one bit
    /// fewer (a complete code).
    pub fn default_lengths(size: usize) -> Vec<u8> {
        if size <= 2 {
            return vec![1; size];
        }
        let len = usize::BITS - (size - 1).leading_zeros();
        let shorter = (1usize << len) - size;
        let mut v = vec![len as u8 - 1; shorter];
        v.resize(size, len as u8);
        v
    }

    /// Decodes one symbol; `None` at a pattern no code has or when the stream ends.
    #[inline]
    pub fn decode(&self, r: &mut BodyReader<'_>) -> Option<u32> {
        let peek = r.peek(self.bits);
        let entry = self.table[peek as usize];
        let len = entry & 31;
        if len == 0 || !r.consume(len) {
            return None;
        }
        Some(entry >> 5)
    }
}
