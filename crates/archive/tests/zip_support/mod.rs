//! Helpers of the ZIP tests: a raw ZIP writer that writes exactly the fields it is told (the
//! malformed fixtures: duplicate names, raw name bytes, lying sizes, shared local entries,
//! ZIP64 records), and the one place that decides whether an external tool is there.
#![allow(dead_code)]

use std::io::Write;
use std::process::Command;

use flate2::write::DeflateEncoder;
use flate2::{Compression, Crc};

/// `true` when `tool` can be run; otherwise prints `SKIP: …` and the caller returns.
pub fn tool_or_skip(tool: &str) -> bool {
    let found = Command::new(tool).arg("--help").output().is_ok();
    if !found {
        eprintln!("SKIP: {tool} not installed (CI installs it)");
    }
    found
}

pub fn crc32(data: &[u8]) -> u32 {
    let mut c = Crc::new();
    c.update(data);
    c.sum()
}

pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("deflate to memory");
    e.finish().expect("deflate to memory")
}

/// Deterministic, poorly compressible bytes.
pub fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// One entry as written: every field the tests lie about is explicit.
#[derive(Debug, Clone)]
pub struct RawEntry {
    pub name: Vec<u8>,
    pub flags: u16,
    pub method: u16,
    /// The bytes stored after the local header (already compressed).
    pub data: Vec<u8>,
    pub crc: u32,
    /// Declared sizes.
    pub usize: u64,
    pub csize: u64,
    /// Share the local header and data of this earlier entry instead of writing its own.
    pub local_of: Option<usize>,
    /// Local header offset to declare instead of the real one.
    pub offset: Option<u64>,
    /// Saturate the 32-bit sizes and offset and put them in a ZIP64 extra field.
    pub zip64: bool,
    /// Extra field bytes to write in the central directory instead of the ZIP64 one.
    pub central_extra: Option<Vec<u8>>,
}

impl RawEntry {
    pub fn stored(name: impl AsRef<[u8]>, data: &[u8]) -> Self {
        RawEntry {
            name: name.as_ref().to_vec(),
            flags: 0,
            method: 0,
            data: data.to_vec(),
            crc: crc32(data),
            usize: data.len() as u64,
            csize: data.len() as u64,
            local_of: None,
            offset: None,
            zip64: false,
            central_extra: None,
        }
    }

    pub fn deflated(name: impl AsRef<[u8]>, data: &[u8]) -> Self {
        let packed = deflate(data);
        RawEntry {
            method: 8,
            csize: packed.len() as u64,
            data: packed,
            ..RawEntry::stored(name, data)
        }
    }

    /// A central entry sharing entry `i`'s local header and data.
    pub fn sharing(&self, i: usize, name: impl AsRef<[u8]>) -> Self {
        RawEntry {
            name: name.as_ref().to_vec(),
            local_of: Some(i),
            ..self.clone()
        }
    }

    pub fn flags(mut self, flags: u16) -> Self {
        self.flags = flags;
        self
    }

    pub fn zip64(mut self) -> Self {
        self.zip64 = true;
        self
    }
}

/// Archive-level choices of [`write`].
#[derive(Debug, Clone, Default)]
pub struct RawOptions {
    /// Write a ZIP64 EOCD record and locator (EOCD fields saturated).
    pub zip64_eocd: bool,
    /// Entry count to declare instead of the real one.
    pub declared: Option<u64>,
    pub comment: Vec<u8>,
    /// Bytes appended after the EOCD comment.
    pub trailing: Vec<u8>,
    /// Values the ZIP64 record declares instead of the real ones (count, size, offset).
    pub zip64_lie: Option<(u64, u64, u64)>,
}

fn u16le(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn u32le(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn u64le(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn short(x: u64, zip64: bool) -> u32 {
    if zip64 {
        u32::MAX
    } else {
        x as u32
    }
}

/// A ZIP with exactly these entries, in this order, local headers first.
pub fn write(entries: &[RawEntry], opts: &RawOptions) -> Vec<u8> {
    let mut out = Vec::new();
    let mut local_offsets = Vec::new();
    for e in entries {
        if let Some(i) = e.local_of {
            local_offsets.push(local_offsets[i]);
            continue;
        }
        local_offsets.push(out.len() as u64);
        let mut extra = Vec::new();
        if e.zip64 {
            u16le(&mut extra, 1);
            u16le(&mut extra, 16);
            u64le(&mut extra, e.usize);
            u64le(&mut extra, e.csize);
        }
        u32le(&mut out, 0x0403_4b50);
        u16le(&mut out, if e.zip64 { 45 } else { 20 });
        u16le(&mut out, e.flags);
        u16le(&mut out, e.method);
        u16le(&mut out, 0);
        u16le(&mut out, 0x21);
        u32le(&mut out, e.crc);
        u32le(&mut out, short(e.csize, e.zip64));
        u32le(&mut out, short(e.usize, e.zip64));
        u16le(&mut out, e.name.len() as u16);
        u16le(&mut out, extra.len() as u16);
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&extra);
        out.extend_from_slice(&e.data);
    }
    let cd_offset = out.len() as u64;
    for (e, &local) in entries.iter().zip(&local_offsets) {
        let offset = e.offset.unwrap_or(local);
        let extra = match &e.central_extra {
            Some(x) => x.clone(),
            None if e.zip64 => {
                let mut x = Vec::new();
                u16le(&mut x, 1);
                u16le(&mut x, 24);
                u64le(&mut x, e.usize);
                u64le(&mut x, e.csize);
                u64le(&mut x, offset);
                x
            }
            None => Vec::new(),
        };
        u32le(&mut out, 0x0201_4b50);
        u16le(&mut out, 0x031E);
        u16le(&mut out, if e.zip64 { 45 } else { 20 });
        u16le(&mut out, e.flags);
        u16le(&mut out, e.method);
        u16le(&mut out, 0);
        u16le(&mut out, 0x21);
        u32le(&mut out, e.crc);
        u32le(&mut out, short(e.csize, e.zip64));
        u32le(&mut out, short(e.usize, e.zip64));
        u16le(&mut out, e.name.len() as u16);
        u16le(&mut out, extra.len() as u16);
        u16le(&mut out, 0);
        u16le(&mut out, 0);
        u16le(&mut out, 0);
        u32le(&mut out, 0);
        u32le(&mut out, short(offset, e.zip64));
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&extra);
    }
    let cd_size = out.len() as u64 - cd_offset;
    let count = opts.declared.unwrap_or(entries.len() as u64);
    if opts.zip64_eocd {
        let (n, size, off) = opts.zip64_lie.unwrap_or((count, cd_size, cd_offset));
        let rec = out.len() as u64;
        u32le(&mut out, 0x0606_4b50);
        u64le(&mut out, 44);
        u16le(&mut out, 45);
        u16le(&mut out, 45);
        u32le(&mut out, 0);
        u32le(&mut out, 0);
        u64le(&mut out, n);
        u64le(&mut out, n);
        u64le(&mut out, size);
        u64le(&mut out, off);
        u32le(&mut out, 0x0706_4b50);
        u32le(&mut out, 0);
        u64le(&mut out, rec);
        u32le(&mut out, 1);
    }
    let sat = opts.zip64_eocd;
    u32le(&mut out, 0x0605_4b50);
    u16le(&mut out, 0);
    u16le(&mut out, 0);
    let n16 = if sat { u16::MAX } else { count as u16 };
    u16le(&mut out, n16);
    u16le(&mut out, n16);
    u32le(&mut out, short(cd_size, sat));
    u32le(&mut out, short(cd_offset, sat));
    u16le(&mut out, opts.comment.len() as u16);
    out.extend_from_slice(&opts.comment);
    out.extend_from_slice(&opts.trailing);
    out
}
