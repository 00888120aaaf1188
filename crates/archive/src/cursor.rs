//! Bounds-checked little-endian reader over untrusted bytes.
//!
//! Every read names what it was reading so a short input becomes a [`Truncated`] (which
//! the format modules turn into their own error, e.g. `CabError::Truncated`) instead of a
//! slice-index panic. A cursor may cover a window of a larger container (a table read from
//! a file); `base` is the window's offset in the container, so reported offsets are always
//! container offsets.

/// A read ran past the end of the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Truncated {
    pub(crate) what: &'static str,
    pub(crate) offset: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Cursor {
            data,
            pos: 0,
            base: 0,
        }
    }

    /// A cursor over `data`, which starts at container offset `base`.
    pub(crate) fn window(data: &'a [u8], base: u64) -> Self {
        Cursor { data, pos: 0, base }
    }

    /// A cursor positioned at `pos`; fails if `pos` is past the end.
    pub(crate) fn at(data: &'a [u8], pos: u64, what: &'static str) -> Result<Self, Truncated> {
        match usize::try_from(pos) {
            Ok(p) if p <= data.len() => Ok(Cursor {
                data,
                pos: p,
                base: 0,
            }),
            _ => Err(Truncated { what, offset: pos }),
        }
    }

    /// Container offset of the next read.
    pub(crate) fn pos(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Truncated> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end.and_then(|e| self.data.get(self.pos..e)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(Truncated {
                what,
                offset: self.pos(),
            }),
        }
    }

    pub(crate) fn skip(&mut self, n: usize, what: &'static str) -> Result<(), Truncated> {
        self.bytes(n, what).map(|_| ())
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, Truncated> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, Truncated> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, Truncated> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Truncated> {
        let s = self.bytes(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// A NUL-terminated string of at most `max` bytes (excluding the NUL). The NUL must lie
    /// inside the input: an unterminated string is truncation, never a read past the end.
    /// Returns the bytes without the terminator; `TooLong` when no NUL occurs within
    /// `max + 1` bytes.
    pub(crate) fn cstr(&mut self, max: usize, what: &'static str) -> Result<&'a [u8], CStrError> {
        let start = self.pos;
        let rest = self.data.get(start..).unwrap_or(&[]);
        let window = &rest[..rest.len().min(max.saturating_add(1))];
        match window.iter().position(|&b| b == 0) {
            Some(n) => {
                self.pos = start + n + 1;
                Ok(&rest[..n])
            }
            None if window.len() > max => Err(CStrError::TooLong),
            None => Err(CStrError::Unterminated(Truncated {
                what,
                offset: self.base + start as u64,
            })),
        }
    }
}

pub(crate) enum CStrError {
    TooLong,
    Unterminated(Truncated),
}
