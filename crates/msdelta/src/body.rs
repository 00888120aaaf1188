//! The patch buffer as a bit stream ([`BodyReader`]) and why it does not decode
//! ([`BodyError`]): shared by the Huffman tables, the rift tables and the pseudo-LZX
//! stream, so it sits below all three.

/// Why a patch buffer does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("patch bit stream ends inside the {what} (output byte {pos})")]
    Truncated { what: &'static str, pos: u64 },
    #[error("padding count {pad} of the patch bit stream exceeds its {available} bits")]
    BadPadding { pad: u32, available: u64 },
    #[error("{table} code lengths do not form a prefix code ({detail})")]
    BadCode { table: &'static str, detail: String },
    #[error("bit pattern at output byte {pos} is no {table} code")]
    BadSymbol { table: &'static str, pos: u64 },
    #[error("code length {index} of block {block} out of range ({value})")]
    LengthOutOfRange {
        block: u32,
        index: usize,
        value: i32,
    },
    #[error("code-length run of {len} at index {index} runs past the {max} lengths")]
    RunTooLong {
        index: usize,
        len: usize,
        max: usize,
    },
    #[error("code-length fill at index 0 has no previous length")]
    FillAtStart,
    #[error("composite format declares {count} blocks (must be 1..=MAX_BLOCKS = {max})")]
    BlockCount { count: u32, max: u32 },
    #[error("block {block} starts at output byte {start}, before block {prev} at {prev_start}")]
    BlockOrder {
        block: u32,
        start: u64,
        prev: u32,
        prev_start: u64,
    },
    #[error("no Huffman tables cover output byte {pos} (first block starts at {first})")]
    NoTables { pos: u64, first: u64 },
    #[error("match at output byte {pos} copies from distance {distance}, outside the source and the output so far")]
    BadOffset { pos: u64, distance: i64 },
    #[error("match length {length} at output byte {pos} is out of range")]
    BadLength { pos: u64, length: u64 },
    #[error("non-empty rift table (source-to-target address map): not implemented")]
    RiftTable,
}

impl BodyError {
    /// Stable snake_case name of the error kind.
    pub fn kind(&self) -> &'static str {
        match self {
            BodyError::Truncated { .. } => "truncated",
            BodyError::BadPadding { .. } => "bad_padding",
            BodyError::BadCode { .. } => "bad_huffman_lengths",
            BodyError::BadSymbol { .. } => "bad_huffman_symbol",
            BodyError::LengthOutOfRange { .. } => "code_length_out_of_range",
            BodyError::RunTooLong { .. } => "code_length_run_too_long",
            BodyError::FillAtStart => "code_length_fill_at_start",
            BodyError::BlockCount { .. } => "bad_block_count",
            BodyError::BlockOrder { .. } => "block_order",
            BodyError::NoTables { .. } => "no_tables",
            BodyError::BadOffset { .. } => "bad_offset",
            BodyError::BadLength { .. } => "bad_length",
            BodyError::RiftTable => "rift_table_unsupported",
        }
    }
}

/// LSB-first bit reader over the patch buffer, 64-bit accumulator. Like the header
/// stream, the buffer's first 3 bits count the unused bits of its last byte.
#[derive(Debug, Clone)]
pub struct BodyReader<'a> {
    data: &'a [u8],
    /// Next byte to load.
    pos: usize,
    acc: u64,
    /// Valid bits in `acc` (bits above are zero or padding).
    n: u32,
    pad: u32,
}

impl<'a> BodyReader<'a> {
    pub fn new(data: &'a [u8]) -> Result<Self, BodyError> {
        let mut r = BodyReader {
            data,
            pos: 0,
            acc: 0,
            n: 0,
            pad: 0,
        };
        r.refill();
        let Some(pad) = r.bits(3) else {
            return Err(BodyError::Truncated {
                what: "padding count",
                pos: 0,
            });
        };
        if pad > r.n {
            return Err(BodyError::BadPadding {
                pad,
                available: u64::from(r.n),
            });
        }
        if r.pos == data.len() {
            // The last byte is already loaded.
            r.n -= pad;
        } else {
            r.pad = pad;
        }
        Ok(r)
    }

    #[inline]
    fn refill(&mut self) {
        while self.n <= 56 && self.pos < self.data.len() {
            self.acc |= u64::from(self.data[self.pos]) << self.n;
            self.n += 8;
            self.pos += 1;
            if self.pos == self.data.len() {
                self.n -= self.pad;
            }
        }
    }

    /// The next `k` ≤ 32 bits without consuming them (zero-filled past the end).
    #[inline]
    pub fn peek(&mut self, k: u32) -> u64 {
        if self.n < k {
            self.refill();
        }
        self.acc & ((1u64 << k) - 1)
    }

    /// Consumes `k` bits; false (and nothing consumed) if fewer are left.
    #[inline]
    pub fn consume(&mut self, k: u32) -> bool {
        if self.n < k {
            self.refill();
            if self.n < k {
                return false;
            }
        }
        self.acc >>= k;
        self.n -= k;
        true
    }

    /// Reads `k` ≤ 32 bits, first bit = least significant.
    #[inline]
    pub fn bits(&mut self, k: u32) -> Option<u32> {
        let v = self.peek(k);
        self.consume(k).then_some(v as u32)
    }

    /// Bits left (not counting padding).
    pub fn remaining(&self) -> u64 {
        u64::from(self.n) + 8 * (self.data.len() - self.pos) as u64
            - u64::from(self.pad) * u64::from(self.pos < self.data.len())
    }

    /// Header-style integer: `k` zero bits and a one bit, then `4 (k + 1)` value bits;
    /// at most `max_nibbles` nibbles.
    pub(crate) fn number(&mut self, max_nibbles: u32) -> Option<u64> {
        let mut zeros = 0;
        while self.bits(1)? == 0 {
            zeros += 1;
            if zeros >= max_nibbles {
                return None;
            }
        }
        let total = 4 * (zeros + 1);
        let lo = u64::from(self.bits(total.min(32))?);
        let hi = if total > 32 {
            u64::from(self.bits(total - 32)?)
        } else {
            0
        };
        Some(lo | (hi << 32))
    }

    /// Long match lengths: `k` < 24 zero bits and a one bit, then `k + 8` bits under
    /// an implicit leading one (so the value is at least 256).
    pub(crate) fn number_8(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bits(1)? == 0 {
            zeros += 1;
            if zeros >= 24 {
                return None;
            }
        }
        let len = zeros + 8;
        Some((1 << len) | self.bits(len)?)
    }
}
