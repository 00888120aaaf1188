//! The few PE facts the source transforms need, read by hand from a basis image.
//!
//! Every field is read with a bounds check; a header that does not fit yields `None`
//! and the transforms are then not attempted (the delta is refused, not guessed).

/// `IMAGE_FILE_MACHINE_I386`.
pub const MACHINE_I386: u16 = 0x014c;
/// `IMAGE_FILE_MACHINE_AMD64`.
pub const MACHINE_AMD64: u16 = 0x8664;
/// `IMAGE_SCN_MEM_EXECUTE`.
pub const SCN_EXECUTE: u32 = 0x2000_0000;
/// Most sections a PE may declare (the loader's own limit).
pub const MAX_SECTIONS: usize = 96;

/// Data directory indices used here.
pub mod dir {
    pub const EXPORT: usize = 0;
    pub const IMPORT: usize = 1;
    pub const RESOURCE: usize = 2;
    pub const EXCEPTION: usize = 3;
    pub const BASERELOC: usize = 5;
    pub const DEBUG: usize = 6;
    pub const LOAD_CONFIG: usize = 10;
    pub const BOUND_IMPORT: usize = 11;
    pub const IAT: usize = 12;
    pub const CLR: usize = 14;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    pub va: u32,
    pub vsize: u32,
    pub raw_off: u32,
    pub raw_size: u32,
    pub characteristics: u32,
}

impl Section {
    /// End of the RVA range this section claims: the larger of its virtual and raw
    /// sizes, as msdelta's RVA lookup does (a raw tail past the virtual size counts).
    fn rva_end(&self) -> u64 {
        u64::from(self.va) + u64::from(self.vsize.max(self.raw_size))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeImage {
    pub machine: u16,
    pub pe32_plus: bool,
    /// File offset of the COFF `TimeDateStamp`.
    pub timestamp_at: usize,
    /// File offset of the optional header.
    pub opt_at: usize,
    pub image_base: u64,
    pub size_of_image: u32,
    /// (RVA, size) per data directory.
    pub dirs: Vec<(u32, u32)>,
    pub sections: Vec<Section>,
}

pub(crate) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Stores `bytes` at `at` when they fit; `false` (nothing written) when they do not.
fn put_le<const N: usize>(b: &mut [u8], at: usize, bytes: [u8; N]) -> bool {
    match at.checked_add(N).and_then(|end| b.get_mut(at..end)) {
        Some(s) => {
            s.copy_from_slice(&bytes);
            true
        }
        None => false,
    }
}

pub(crate) fn put_u16(b: &mut [u8], at: usize, v: u16) -> bool {
    put_le(b, at, v.to_le_bytes())
}

pub(crate) fn put_u32(b: &mut [u8], at: usize, v: u32) -> bool {
    put_le(b, at, v.to_le_bytes())
}

pub(crate) fn put_u64(b: &mut [u8], at: usize, v: u64) -> bool {
    put_le(b, at, v.to_le_bytes())
}

impl PeImage {
    /// Parses the headers of `b`; `None` when it is not a PE whose headers fit.
    pub fn parse(b: &[u8]) -> Option<PeImage> {
        if b.get(..2)? != b"MZ" {
            return None;
        }
        let pe = u32_at(b, 0x3c)? as usize;
        if b.get(pe..pe.checked_add(4)?)? != b"PE\0\0" {
            return None;
        }
        let machine = u16_at(b, pe + 4)?;
        let nsec = usize::from(u16_at(b, pe + 6)?);
        let opt_size = usize::from(u16_at(b, pe + 20)?);
        let opt = pe + 24;
        let (pe32_plus, dirs_at, count_at) = match u16_at(b, opt)? {
            0x10b => (false, opt + 96, opt + 92),
            0x20b => (true, opt + 112, opt + 108),
            _ => return None,
        };
        let image_base = if pe32_plus {
            u64_at(b, opt + 24)?
        } else {
            u64::from(u32_at(b, opt + 28)?)
        };
        let size_of_image = u32_at(b, opt + 56)?;
        let ndirs = (u32_at(b, count_at)? as usize).min(16);
        let mut dirs = Vec::with_capacity(ndirs);
        for i in 0..ndirs {
            let at = dirs_at + 8 * i;
            dirs.push((u32_at(b, at)?, u32_at(b, at + 4)?));
        }
        if nsec > MAX_SECTIONS {
            return None;
        }
        let sec_at = opt.checked_add(opt_size)?;
        let mut sections = Vec::with_capacity(nsec);
        for i in 0..nsec {
            let s = sec_at + 40 * i;
            sections.push(Section {
                vsize: u32_at(b, s + 8)?,
                va: u32_at(b, s + 12)?,
                raw_size: u32_at(b, s + 16)?,
                raw_off: u32_at(b, s + 20)?,
                characteristics: u32_at(b, s + 36)?,
            });
        }
        Some(PeImage {
            machine,
            pe32_plus,
            timestamp_at: pe + 8,
            opt_at: opt,
            image_base,
            size_of_image,
            dirs,
            sections,
        })
    }

    /// File offset of the optional-header `CheckSum`.
    pub fn checksum_at(&self) -> usize {
        self.opt_at + 64
    }

    /// (RVA, size) of data directory `i`, `None` when absent or zero.
    pub fn dir(&self, i: usize) -> Option<(u32, u32)> {
        self.dirs.get(i).copied().filter(|d| d.0 != 0)
    }

    /// File offset of `rva`: the first section whose range (the larger of virtual and
    /// raw size) holds it. `None` outside every section.
    pub fn rva_to_offset(&self, rva: u64) -> Option<usize> {
        let s = self
            .sections
            .iter()
            .find(|s| rva >= u64::from(s.va) && rva < s.rva_end())?;
        usize::try_from(u64::from(s.raw_off) + (rva - u64::from(s.va))).ok()
    }

    /// Lowest section RVA (0 without sections).
    pub fn first_section_rva(&self) -> u64 {
        self.sections
            .iter()
            .map(|s| u64::from(s.va))
            .min()
            .unwrap_or(0)
    }

    /// Whether `rva` lies inside some section's range.
    pub fn in_section(&self, rva: u64) -> bool {
        self.sections
            .iter()
            .any(|s| rva >= u64::from(s.va) && rva < s.rva_end())
    }

    /// Managed (.NET) image: a CLR runtime header is present.
    pub fn is_managed(&self) -> bool {
        self.dir(dir::CLR).is_some()
    }
}
