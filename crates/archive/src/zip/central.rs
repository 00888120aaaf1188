//! The ZIP end records and the central directory: finding the End of Central Directory (and
//! its ZIP64 record), reading central records one by one with their ZIP64 extra fields. Only
//! bounded positioned reads; every offset checked against the source.

#![allow(clippy::wildcard_imports)]
use super::*;

/// Little-endian fields of a record already read whole; `None` past its end.
pub(super) struct Fields<'b> {
    pub(super) b: &'b [u8],
    pub(super) pos: usize,
}

impl<'b> Fields<'b> {
    pub(super) fn new(b: &'b [u8]) -> Self {
        Fields { b, pos: 0 }
    }

    pub(super) fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let end = self.pos.checked_add(N)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        s.try_into().ok()
    }

    pub(super) fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_le_bytes)
    }

    pub(super) fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }

    pub(super) fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }
}

/// Exactly `n` bytes at `pos` (borrowed from memory, read from a file), or why not.
pub(super) fn fetch<'s>(
    src: &Source<'s>,
    pos: u64,
    n: usize,
    what: &str,
) -> Result<Cow<'s, [u8]>, ZipError> {
    let got = src
        .read_upto(pos, n)
        .map_err(|source| ZipError::ArchiveRead {
            offset: pos,
            source,
        })?;
    if got.len() < n {
        return Err(archive_err(
            pos,
            format!(
                "{what} runs past the end of the archive ({} bytes)",
                src.len()
            ),
        ));
    }
    Ok(got)
}

/// The End of Central Directory record: where it is and its fields.
pub(super) struct Eocd {
    pub(super) offset: u64,
    pub(super) disk: u16,
    pub(super) cd_disk: u16,
    pub(super) entries: u16,
    pub(super) cd_size: u32,
    pub(super) cd_offset: u32,
    pub(super) comment: Vec<u8>,
    pub(super) trailing: u64,
}

pub(super) fn find_eocd(src: &Source<'_>) -> Result<Eocd, ZipError> {
    let len = src.len();
    if len < EOCD_LEN {
        return Err(archive_err(
            0,
            format!("{len} bytes is too short for an end of central directory record"),
        ));
    }
    let start = len.saturating_sub(EOCD_LEN + MAX_COMMENT);
    // At most 65,557 bytes: fits any usize.
    let tail = fetch(src, start, (len - start) as usize, "end of archive")?;
    let mut fitting = None;
    let mut exact = None;
    for i in (0..=tail.len().saturating_sub(EOCD_LEN as usize)).rev() {
        let mut f = Fields::new(tail.get(i..).unwrap_or_default());
        if f.u32() != Some(SIG_EOCD) {
            continue;
        }
        let Some(comment_len) = Fields::new(tail.get(i + 20..).unwrap_or_default()).u16() else {
            continue;
        };
        let end = i + EOCD_LEN as usize + usize::from(comment_len);
        if end == tail.len() {
            exact = Some(i);
            break;
        }
        if end < tail.len() && fitting.is_none() {
            fitting = Some(i);
        }
    }
    let i = exact.or(fitting).ok_or_else(|| {
        archive_err(
            start,
            "no end of central directory record in the last 65,557 bytes",
        )
    })?;
    let rec = tail.get(i..).unwrap_or_default();
    let mut f = Fields::new(rec);
    let mut parse = || -> Option<Eocd> {
        let _sig = f.u32()?;
        let disk = f.u16()?;
        let cd_disk = f.u16()?;
        let _entries_on_disk = f.u16()?;
        let entries = f.u16()?;
        let cd_size = f.u32()?;
        let cd_offset = f.u32()?;
        let comment_len = usize::from(f.u16()?);
        let comment = rec.get(22..22 + comment_len)?.to_vec();
        Some(Eocd {
            offset: start + i as u64,
            disk,
            cd_disk,
            entries,
            cd_size,
            cd_offset,
            trailing: (tail.len() - i - 22 - comment_len) as u64,
            comment,
        })
    };
    parse().ok_or_else(|| archive_err(start + i as u64, "truncated end of central directory"))
}

/// ZIP64 EOCD values, when a locator precedes the EOCD record.
pub(super) struct Zip64Eocd {
    pub(super) disk: u32,
    pub(super) cd_disk: u32,
    pub(super) entries: u64,
    pub(super) cd_size: u64,
    pub(super) cd_offset: u64,
}

pub(super) fn find_zip64(
    src: &Source<'_>,
    eocd_offset: u64,
) -> Result<Option<Zip64Eocd>, ZipError> {
    let Some(loc_pos) = eocd_offset.checked_sub(ZIP64_LOCATOR_LEN) else {
        return Ok(None);
    };
    let loc = fetch(src, loc_pos, ZIP64_LOCATOR_LEN as usize, "ZIP64 locator")?;
    let mut f = Fields::new(&loc);
    if f.u32() != Some(SIG_ZIP64_LOCATOR) {
        return Ok(None);
    }
    let bad = |what: &str| archive_err(loc_pos, format!("ZIP64 locator: {what}"));
    let _disk = f.u32().ok_or_else(|| bad("truncated"))?;
    let rec_pos = f.u64().ok_or_else(|| bad("truncated"))?;
    let _disks = f.u32().ok_or_else(|| bad("truncated"))?;
    let fits = rec_pos
        .checked_add(ZIP64_EOCD_LEN as u64)
        .is_some_and(|end| end <= loc_pos);
    if !fits {
        return Err(archive_err(
            loc_pos,
            format!("ZIP64 locator points at offset {rec_pos}, which leaves no room for the ZIP64 end of central directory record before the locator"),
        ));
    }
    let rec = fetch(
        src,
        rec_pos,
        ZIP64_EOCD_LEN,
        "ZIP64 end of central directory",
    )?;
    let mut f = Fields::new(&rec);
    if f.u32() != Some(SIG_ZIP64_EOCD) {
        return Err(archive_err(
            rec_pos,
            "no ZIP64 end of central directory record where the locator points",
        ));
    }
    let mut parse = || -> Option<Zip64Eocd> {
        let _size = f.u64()?;
        let _made_by = f.u16()?;
        let _needed = f.u16()?;
        let disk = f.u32()?;
        let cd_disk = f.u32()?;
        let _entries_on_disk = f.u64()?;
        let entries = f.u64()?;
        let cd_size = f.u64()?;
        let cd_offset = f.u64()?;
        Some(Zip64Eocd {
            disk,
            cd_disk,
            entries,
            cd_size,
            cd_offset,
        })
    };
    parse()
        .map(Some)
        .ok_or_else(|| archive_err(rec_pos, "truncated ZIP64 end of central directory"))
}

/// A 32-bit (or 16-bit) EOCD value and its ZIP64 counterpart: the ZIP64 value when the short
/// one is saturated, else the short one, which the ZIP64 value must then repeat.
pub(super) fn merge(
    short: u64,
    saturated: u64,
    long: Option<u64>,
    what: &str,
    at: u64,
) -> Result<u64, ZipError> {
    match long {
        None => Ok(short),
        Some(l) if short == saturated => Ok(l),
        Some(l) if l == short => Ok(l),
        Some(l) => Err(archive_err(
            at,
            format!("{what}: end of central directory says {short}, ZIP64 record says {l}"),
        )),
    }
}

/// The fixed 46 bytes of a central-directory record.
pub(super) struct Central {
    pub(super) made_by: u16,
    pub(super) needed: u16,
    pub(super) flags: u16,
    pub(super) method: u16,
    pub(super) time: u16,
    pub(super) date: u16,
    pub(super) crc: u32,
    pub(super) csize: u32,
    pub(super) usize: u32,
    pub(super) name_len: u16,
    pub(super) extra_len: u16,
    pub(super) comment_len: u16,
    pub(super) disk: u16,
    pub(super) external: u32,
    pub(super) offset: u32,
}

pub(super) fn central(b: &[u8]) -> Option<(u32, Central)> {
    let mut f = Fields::new(b);
    let sig = f.u32()?;
    let c = Central {
        made_by: f.u16()?,
        needed: f.u16()?,
        flags: f.u16()?,
        method: f.u16()?,
        time: f.u16()?,
        date: f.u16()?,
        crc: f.u32()?,
        csize: f.u32()?,
        usize: f.u32()?,
        name_len: f.u16()?,
        extra_len: f.u16()?,
        comment_len: f.u16()?,
        disk: f.u16()?,
        external: {
            let _internal = f.u16()?;
            f.u32()?
        },
        offset: f.u32()?,
    };
    Some((sig, c))
}

/// Uncompressed size, compressed size and local header offset, each from the ZIP64 extra
/// field when its 32-bit field is saturated (APPNOTE 4.5.3: present in that order, only
/// those that are saturated). Without a ZIP64 field the 32-bit values are taken literally.
pub(super) fn zip64_sizes(c: &Central, extra: &[u8]) -> Result<(u64, u64, u64), &'static str> {
    const SAT: u32 = u32::MAX;
    let mut sizes = (u64::from(c.usize), u64::from(c.csize), u64::from(c.offset));
    let mut f = Fields::new(extra);
    while let (Some(id), Some(len)) = (f.u16(), f.u16()) {
        let start = f.pos;
        let Some(data) = start
            .checked_add(usize::from(len))
            .and_then(|end| extra.get(start..end))
        else {
            break;
        };
        f.pos += usize::from(len);
        if id != EXTRA_ZIP64 {
            continue;
        }
        let mut z = Fields::new(data);
        const SHORT: &str = "ZIP64 extra field is too short for the sizes it must hold";
        if c.usize == SAT {
            sizes.0 = z.u64().ok_or(SHORT)?;
        }
        if c.csize == SAT {
            sizes.1 = z.u64().ok_or(SHORT)?;
        }
        if c.offset == SAT {
            sizes.2 = z.u64().ok_or(SHORT)?;
        }
        if c.disk == u16::MAX {
            z.u32().ok_or(SHORT)?;
        }
        break;
    }
    Ok(sizes)
}

/// Reads the central-directory record at `pos`; returns it and where the next one starts.
pub(super) fn read_central(
    src: &Source<'_>,
    pos: u64,
    cd_end: u64,
    index: usize,
    limits: &Limits,
) -> Result<(ZipEntry, u64), ZipError> {
    let past = |what: &str| {
        archive_err(
            pos,
            format!("central directory entry {index}: {what} runs past the end of the central directory"),
        )
    };
    if pos.checked_add(CENTRAL_LEN).is_none_or(|e| e > cd_end) {
        return Err(past("fixed fields"));
    }
    let fixed = fetch(src, pos, CENTRAL_LEN as usize, "central directory entry")?;
    let (sig, c) = central(&fixed).ok_or_else(|| past("fixed fields"))?;
    if sig != SIG_CENTRAL {
        return Err(archive_err(
            pos,
            format!("central directory entry {index} has no PK\\1\\2 signature"),
        ));
    }
    let name_at = pos + CENTRAL_LEN;
    let extra_at = name_at + u64::from(c.name_len);
    let next = extra_at + u64::from(c.extra_len) + u64::from(c.comment_len);
    if next > cd_end {
        return Err(past("name, extra field or comment"));
    }
    let name_len = usize::from(c.name_len);
    let keep = name_len.min(limits.max_name_len);
    let name_raw = fetch(src, name_at, keep, "entry name")?.into_owned();
    let extra = fetch(src, extra_at, c.extra_len.into(), "extra field")?;
    let mut issue = (name_len > limits.max_name_len).then_some(Issue::NameTooLong(name_len as u64));
    let (usize_, csize, offset) = match zip64_sizes(&c, &extra) {
        Ok(s) => s,
        Err(reason) => {
            issue = issue.or(Some(Issue::Bad(reason)));
            (c.usize.into(), c.csize.into(), c.offset.into())
        }
    };
    let utf8_flag = c.flags & FLAG_UTF8 != 0;
    let entry = ZipEntry {
        index,
        name: decode_name(&name_raw, utf8_flag),
        name_is_utf8: name::reads_as_utf8(&name_raw, utf8_flag),
        is_dir: matches!(name_raw.last(), Some(b'/' | b'\\')),
        name_raw,
        version_made_by: c.made_by,
        version_needed: c.needed,
        flags: c.flags,
        method: c.method,
        dos_time: c.time,
        dos_date: c.date,
        crc32: c.crc,
        compressed_size: csize,
        uncompressed_size: usize_,
        local_header_offset: offset,
        external_attributes: c.external,
        duplicate_of: None,
        issue,
    };
    Ok((entry, next))
}
