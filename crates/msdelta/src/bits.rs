//! LSB-first bit reader for the PA30 stream, bounds-checked on every read.

use crate::{limits, DeltaError, Field};

/// Reads the PA30 bit stream: bits LSB-first within each byte, bytes in order.
/// The stream's first 3 bits give the number of padding bits at the end of its last
/// byte; those bits are never read.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Next bit to read, counted from the start of `data`.
    pos: u64,
    /// Bits that may be read: `8 * data.len()` minus the padding.
    end: u64,
}

impl<'a> BitReader<'a> {
    /// Opens the stream and consumes its 3-bit padding count.
    pub fn new(data: &'a [u8]) -> Result<Self, DeltaError> {
        let total = (data.len() as u64) * 8;
        let mut r = BitReader {
            data,
            pos: 0,
            end: total,
        };
        let pad = r.read_bits(3, Field::Padding)? as u32;
        let available = total - r.pos;
        if u64::from(pad) > available {
            return Err(DeltaError::BadPadding { pad, available });
        }
        r.end = total - u64::from(pad);
        Ok(r)
    }

    /// Bits consumed so far (including the padding count).
    pub fn bit_position(&self) -> u64 {
        self.pos
    }

    /// Bits left before the padding.
    pub fn remaining(&self) -> u64 {
        self.end.saturating_sub(self.pos)
    }

    /// Moves to `bit` (clamped to the end of the stream).
    pub fn seek_bit(&mut self, bit: u64) {
        self.pos = bit.min(self.end);
    }

    fn truncated(&self, field: Field) -> DeltaError {
        DeltaError::Truncated {
            field,
            bit: self.pos,
            available: self.end,
        }
    }

    /// Reads `n` ≤ 64 bits as an unsigned value, first bit read = least significant.
    pub fn read_bits(&mut self, n: u32, field: Field) -> Result<u64, DeltaError> {
        debug_assert!(n <= 64);
        if self.remaining() < u64::from(n) {
            return Err(self.truncated(field));
        }
        let mut value = 0u64;
        let mut got = 0u32;
        while got < n {
            let byte_index = (self.pos / 8) as usize;
            let bit_in_byte = (self.pos % 8) as u32;
            let Some(&byte) = self.data.get(byte_index) else {
                return Err(self.truncated(field));
            };
            let take = (8 - bit_in_byte).min(n - got);
            let mask = if take == 8 { 0xff } else { (1u32 << take) - 1 };
            let chunk = (u32::from(byte) >> bit_in_byte) & mask;
            value |= u64::from(chunk) << got;
            got += take;
            self.pos += u64::from(take);
        }
        Ok(value)
    }

    /// Reads a variable-length integer of at most `max_nibbles` nibbles: `k` zero bits
    /// and a one bit announce `k + 1` nibbles, then `4 * (k + 1)` value bits follow.
    fn read_varint(
        &mut self,
        field: Field,
        max_nibbles: u32,
        width: u32,
    ) -> Result<u64, DeltaError> {
        let start = self.pos;
        let mut zeros = 0u32;
        loop {
            if self.read_bits(1, field)? == 1 {
                break;
            }
            zeros += 1;
            if zeros >= max_nibbles {
                return Err(DeltaError::Overlong {
                    field,
                    max: max_nibbles,
                    width,
                    bit: start,
                });
            }
        }
        self.read_bits(4 * (zeros + 1), field)
    }

    /// A 32-bit integer field (at most [`limits::MAX_NIBBLES_32`] nibbles).
    pub fn read_int32(&mut self, field: Field) -> Result<u32, DeltaError> {
        // At most 32 value bits, so the value always fits.
        self.read_varint(field, limits::MAX_NIBBLES_32, 32)
            .map(|v| v as u32)
    }

    /// A 64-bit integer field (at most [`limits::MAX_NIBBLES_64`] nibbles).
    pub fn read_int64(&mut self, field: Field) -> Result<u64, DeltaError> {
        self.read_varint(field, limits::MAX_NIBBLES_64, 64)
    }

    /// Skips to the next byte boundary and returns the byte range of the next `len`
    /// bytes (indices into the reader's data), moving past them.
    pub fn byte_range(
        &mut self,
        len: u32,
        field: Field,
    ) -> Result<std::ops::Range<usize>, DeltaError> {
        let start = self.pos.div_ceil(8);
        let end = start + u64::from(len);
        // Whole bytes: the padding bits of the last byte do not shorten a buffer.
        if end > self.data.len() as u64 {
            return Err(DeltaError::BufferOutOfBounds {
                field,
                offset: start + limits::FIXED_HEADER_LEN as u64,
                len: u64::from(len),
                total: self.data.len() + limits::FIXED_HEADER_LEN,
            });
        }
        self.pos = end * 8;
        Ok(start as usize..end as usize)
    }

    /// Like [`byte_range`](Self::byte_range), returning the bytes.
    pub fn read_bytes(&mut self, len: u32, field: Field) -> Result<&'a [u8], DeltaError> {
        let r = self.byte_range(len, field)?;
        let data: &'a [u8] = self.data;
        data.get(r).ok_or(DeltaError::BufferOutOfBounds {
            field,
            offset: 0,
            len: u64::from(len),
            total: data.len() + limits::FIXED_HEADER_LEN,
        })
    }
}
