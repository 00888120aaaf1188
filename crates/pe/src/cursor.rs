//! Bounds-checked little-endian reads over untrusted bytes. Nothing here indexes a slice
//! directly: every `offset + len` is computed with `checked_add` and read with `get`.

/// A read that would leave the buffer: where it started and how many bytes it needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutOfBounds {
    pub offset: usize,
    pub len: usize,
}

/// `len` bytes at `offset`, or `OutOfBounds`.
pub(crate) fn bytes_at(data: &[u8], offset: usize, len: usize) -> Result<&[u8], OutOfBounds> {
    offset
        .checked_add(len)
        .and_then(|end| data.get(offset..end))
        .ok_or(OutOfBounds { offset, len })
}

pub(crate) fn u16_at(data: &[u8], offset: usize) -> Result<u16, OutOfBounds> {
    let b = bytes_at(data, offset, 2)?;
    let mut a = [0u8; 2];
    a.copy_from_slice(b);
    Ok(u16::from_le_bytes(a))
}

pub(crate) fn u32_at(data: &[u8], offset: usize) -> Result<u32, OutOfBounds> {
    let b = bytes_at(data, offset, 4)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    Ok(u32::from_le_bytes(a))
}

/// A position in `data` that advances as it reads.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn at(data: &'a [u8], pos: usize) -> Self {
        Cursor { data, pos }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn bytes(&mut self, len: usize) -> Result<&'a [u8], OutOfBounds> {
        let b = bytes_at(self.data, self.pos, len)?;
        // Cannot overflow: bytes_at checked pos + len.
        self.pos += len;
        Ok(b)
    }
}

/// Rounds up to a multiple of 4 (version blocks are DWORD aligned); `None` on overflow.
pub(crate) fn align4(v: usize) -> Option<usize> {
    v.checked_add(3).map(|x| x & !3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end() {
        let d = [1u8, 0, 2, 0, 0, 0];
        assert_eq!(u16_at(&d, 0), Ok(1));
        assert_eq!(u32_at(&d, 2), Ok(2));
        assert!(u32_at(&d, 3).is_err());
        assert!(bytes_at(&d, usize::MAX, 2).is_err());
        let mut c = Cursor::at(&d, 4);
        assert_eq!(c.bytes(2), Ok(&[0u8, 0][..]));
        assert!(c.bytes(1).is_err());
        assert_eq!(c.pos(), 6);
        assert_eq!(align4(5), Some(8));
        assert_eq!(align4(usize::MAX), None);
    }
}
