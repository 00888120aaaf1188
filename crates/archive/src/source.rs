//! Where a container's bytes come from: borrowed memory, or a byte range of an open file.
//!
//! Most containers are read from memory (an input file read whole, a member cut out of a
//! CAB folder buffer), which is the fast path and stays zero-copy. A member too large to
//! hold at once is spilled to an anonymous temporary file ([`Spill`]) and read back
//! through positioned reads, so memory is bounded by explicit caps rather than by member
//! sizes (issue 15). Parsers take a [`Source`] and never assume which one they have.
//!
//! Positioned reads (`pread` on Unix, `seek_read` on Windows) never move a shared file
//! cursor on Unix; on Windows they do, which is why [`Spill`] also writes at explicit
//! offsets and nothing in this crate relies on the cursor.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// Bytes to read a container from. Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    Mem(&'a [u8]),
    File(FileRange<'a>),
}

/// `len` bytes of `file` starting at `offset`.
#[derive(Debug, Clone, Copy)]
pub struct FileRange<'a> {
    pub file: &'a File,
    pub offset: u64,
    pub len: u64,
}

impl<'a> From<&'a [u8]> for Source<'a> {
    fn from(b: &'a [u8]) -> Self {
        Source::Mem(b)
    }
}

fn eof(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, what.to_string())
}

impl<'a> Source<'a> {
    pub fn len(&self) -> u64 {
        match self {
            Source::Mem(b) => b.len() as u64,
            Source::File(r) => r.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, when they are in memory.
    pub fn as_slice(&self) -> Option<&'a [u8]> {
        match self {
            Source::Mem(b) => Some(b),
            Source::File(_) => None,
        }
    }

    /// `len` bytes at `pos`, clamped to the end of the source (`pos` past the end gives an
    /// empty range).
    pub fn sub(&self, pos: u64, len: u64) -> Source<'a> {
        let start = pos.min(self.len());
        let len = len.min(self.len() - start);
        match *self {
            // Both fit in usize: they are within a slice's length.
            Source::Mem(b) => {
                Source::Mem(b.get(start as usize..(start + len) as usize).unwrap_or(&[]))
            }
            Source::File(r) => Source::File(FileRange {
                file: r.file,
                offset: r.offset + start,
                len,
            }),
        }
    }

    /// Fills `buf` from `pos`; `UnexpectedEof` when the source ends first.
    pub fn read_exact_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<()> {
        let end = pos
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= self.len())
            .ok_or_else(|| eof("read past the end of the source"))?;
        match self {
            Source::Mem(b) => {
                // In range by the check above.
                let s = b
                    .get(pos as usize..end as usize)
                    .ok_or_else(|| eof("read past the end"))?;
                buf.copy_from_slice(s);
                Ok(())
            }
            Source::File(r) => read_exact_at(r.file, buf, r.offset + pos),
        }
    }

    /// At most `max` bytes from `pos` (fewer when the source ends first): borrowed from
    /// memory, or read into a new buffer of exactly that size.
    pub fn read_upto(&self, pos: u64, max: usize) -> io::Result<Cow<'a, [u8]>> {
        let avail = self.len().saturating_sub(pos);
        let n = (max as u64).min(avail) as usize;
        match self {
            Source::Mem(b) => Ok(Cow::Borrowed(
                b.get(pos as usize..pos as usize + n).unwrap_or(&[]),
            )),
            Source::File(_) => {
                let mut v = vec![0u8; n];
                self.read_exact_at(pos, &mut v)?;
                Ok(Cow::Owned(v))
            }
        }
    }

    /// The whole source in memory when it holds at most `max` bytes (borrowed when it
    /// already is); `None` when it is larger.
    pub fn to_bytes(&self, max: u64) -> io::Result<Option<Cow<'a, [u8]>>> {
        if self.len() > max {
            return Ok(None);
        }
        self.read_upto(0, self.len() as usize).map(Some)
    }

    /// A `Read + Seek` view of the source (for readers built on `std::io`).
    pub fn reader(&self) -> SourceReader<'a> {
        SourceReader { src: *self, pos: 0 }
    }
}

/// Positioned read of a whole buffer.
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let (mut buf, mut offset) = (buf, offset);
        while !buf.is_empty() {
            match std::os::windows::fs::FileExt::seek_read(file, buf, offset) {
                Ok(0) => return Err(eof("file ended early")),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Positioned write of a whole buffer.
fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let (mut buf, mut offset) = (buf, offset);
        while !buf.is_empty() {
            match std::os::windows::fs::FileExt::seek_write(file, buf, offset) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "spill write")),
                Ok(n) => {
                    buf = &buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// `Read + Seek` over a [`Source`]; each reader has its own position.
#[derive(Debug, Clone)]
pub struct SourceReader<'a> {
    src: Source<'a>,
    pos: u64,
}

impl Read for SourceReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.src.len().saturating_sub(self.pos)) as usize;
        let dst = buf.get_mut(..n).unwrap_or(&mut []);
        self.src.read_exact_at(self.pos, dst)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SourceReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.src.len().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the source",
            )),
        }
    }
}

/// An anonymous temporary file that grows by appending and is read back by position; gone
/// when dropped (the OS removes it even if the process is killed: it never has a name on
/// Unix). It lives in the system temporary directory (`TMPDIR`): point that at a disk, not
/// a RAM-backed tmpfs, when large members are expected.
#[derive(Debug)]
pub struct Spill {
    file: File,
    len: u64,
}

impl Spill {
    pub fn new() -> io::Result<Self> {
        Ok(Spill {
            file: tempfile::tempfile()?,
            len: 0,
        })
    }

    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        write_all_at(&self.file, bytes, self.len)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Starts over with an empty file (the space is given back to the file system).
    pub fn clear(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.len = 0;
        Ok(())
    }

    /// `len` bytes at `pos` of what was appended.
    pub fn source(&self, pos: u64, len: u64) -> Source<'_> {
        Source::File(FileRange {
            file: &self.file,
            offset: 0,
            len: self.len,
        })
        .sub(pos, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_and_file_sources_read_the_same() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut spill = Spill::new().unwrap();
        for chunk in data.chunks(999) {
            spill.append(chunk).unwrap();
        }
        let mem = Source::Mem(&data);
        let file = spill.source(0, spill.len());
        assert_eq!(mem.len(), file.len());
        for (pos, n) in [(0u64, 10usize), (9_990, 10), (1234, 4321)] {
            let (mut a, mut b) = (vec![0; n], vec![0; n]);
            mem.read_exact_at(pos, &mut a).unwrap();
            file.read_exact_at(pos, &mut b).unwrap();
            assert_eq!(a, b);
        }
        assert!(file.read_exact_at(9_995, &mut [0; 6]).is_err());
        assert!(file.read_exact_at(u64::MAX, &mut [0; 1]).is_err());
        let sub = file.sub(100, 50);
        assert_eq!(sub.read_upto(0, 1000).unwrap().as_ref(), &data[100..150]);
        assert_eq!(mem.sub(9_999, 50).len(), 1);
        assert_eq!(mem.sub(20_000, 5).len(), 0);
        let mut all = Vec::new();
        let mut r = file.reader();
        r.seek(SeekFrom::Start(5)).unwrap();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all, &data[5..]);
        assert_eq!(file.to_bytes(10_000).unwrap().unwrap().as_ref(), &data[..]);
        assert!(file.to_bytes(9_999).unwrap().is_none());
        spill.clear().unwrap();
        assert_eq!(spill.source(0, 10).len(), 0);
    }
}
