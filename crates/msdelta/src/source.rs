//! Source transforms of PE deltas: the basis image `S` is rewritten into `T(S)`, the
//! buffer the patch's source copies read, so that the bytes a delta copies already
//! carry the target's addresses. i386 (PE32) and amd64 (PE32+) bases; the copy rift
//! that places source copies is built here too ([`crate::rift::copy_rift`]).
//!
//! The RVAs and VAs the image stores are moved through the pre-processing RVA rift
//! (source RVA → target RVA; `map`: the offset of the last entry at or below the
//! value, none below the first). In the order the flags are applied:
//! - header (always): the optional-header `CheckSum` is cleared, `TimeDateStamp` and
//!   the image base take the values of the pre-processing buffer (zero in a buffer
//!   without target facts); directory time stamps are left alone;
//! - `MARK`: every byte outside the raw data of an executable section is owned (the
//!   branch transforms below skip owned bytes and branches into owned bytes);
//! - `IMPORTS`: each import descriptor's name / thunk-array RVAs and every by-name
//!   thunk (ILT and IAT; 4 or 8 bytes) are mapped; a bound IAT (descriptor time stamp
//!   set) holds VAs, mapped like relocations; all these fields become owned;
//! - `EXPORTS`: the directory's name and array RVAs, every function and name RVA;
//! - `RESOURCES`: the directory tree (bounded walk, every directory visited once):
//!   subdirectory, name and data-entry offsets, relative to the section start, are
//!   moved by how far their target moved relative to the directory;
//! - `RELOCS`: every `HIGHLOW` / `DIR64` operand is re-based (`VA − base` mapped, plus
//!   the target base) and owned; the block list is rewritten from the mapped sites,
//!   sorted, regrouped by page;
//! - i386 `I386_JMPS`: in executable sections, `E9` and `0F 8x` near branches whose
//!   displacement does not fit a byte get their displacement mapped
//!   (`map(target) − map(next instruction)`), and become short forms when the new one
//!   fits a byte; `I386_CALLS`: the same for `E8` calls (no short form);
//! - amd64 `AMD64_PDATA`: the three RVAs of every `RUNTIME_FUNCTION`.
//!
//! Not implemented, and listed in [`Prepared::missing`] when the basis has what they
//! rewrite (the decode then fails with their names unless the hash proves it right):
//! `AMD64_DISASM` (RIP-relative and rel32 operands of the `.pdata` functions),
//! `UNBIND` (bound imports), `I386_SMASHLOCK` (a lock prefix table). CLI (.NET) images
//! and other machines are refused.
//!
//! The transform order, the fields each transform moves and the ownership rules follow
//! the public description in jlevere/msdelta's `src/pe/transform.rs` and
//! `src/pa30/mod.rs` (learned there, written here from scratch). What the genuine
//! KB2999226 targets prove (all 166 deltas against a basis decode to their header MD5
//! and index SHA-1; leaving one piece out makes some fail): the header fixups (each of
//! checksum, time stamp and image base), `EXPORTS` (28 deltas fail without it),
//! `RELOCS` (5) and the copy rift. `MARK`, `IMPORTS`, `RESOURCES`, `I386_JMPS`,
//! `I386_CALLS` and `AMD64_PDATA` change nothing those deltas copy (their images are
//! forwarder stubs and data-only DLLs): they follow the public description, unproven
//! here beyond the hand-built unit tests.

use crate::pe::{
    dir, put_u16, put_u32, put_u64, u16_at, u32_at, u64_at, PeImage, MACHINE_AMD64, MACHINE_I386,
    SCN_EXECUTE,
};
use crate::rift::{map_through, PePreprocess, RiftEntry};
use std::collections::BTreeSet;

/// `DELTA_FLAG_*` bits of the source transforms.
pub mod flag {
    pub const MARK: u64 = 0x2;
    pub const IMPORTS: u64 = 0x4;
    pub const EXPORTS: u64 = 0x8;
    pub const RESOURCES: u64 = 0x10;
    pub const RELOCS: u64 = 0x20;
    pub const I386_SMASHLOCK: u64 = 0x40;
    pub const I386_JMPS: u64 = 0x80;
    pub const I386_CALLS: u64 = 0x100;
    pub const AMD64_DISASM: u64 = 0x200;
    pub const AMD64_PDATA: u64 = 0x400;
    pub const UNBIND: u64 = 0x2000;
    pub const CLI_DISASM: u64 = 0x4000;
    pub const CLI_METADATA: u64 = 0x8000;
}

/// Most import descriptors, thunks, resource directory entries or relocation sites
/// one transform walks (`MAX_WALK`); a genuine image has far fewer, a hostile one (say
/// many descriptors naming one huge thunk array) stops here.
pub const MAX_WALK: usize = 1 << 20;

/// The transformed source and the copy rift for the symbol decoder.
pub struct Prepared {
    pub source: Vec<u8>,
    pub copy_rift: Vec<RiftEntry>,
    /// Transforms the flags ask for on structures this basis has, that are not
    /// implemented (none of the genuine payloads needs them): named in the error when
    /// the target hash then does not match.
    pub missing: Vec<&'static str>,
}

/// Byte ownership, one bit per basis byte: set when a transform owns the byte (or, with
/// `MARK`, when it is not code).
struct Owned {
    bits: Vec<u64>,
    len: usize,
}

impl Owned {
    fn new(len: usize) -> Self {
        Owned {
            bits: vec![0; len.div_ceil(64)],
            len,
        }
    }

    fn is_set(&self, i: usize) -> bool {
        self.bits
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn put(&mut self, i: usize, on: bool) {
        if let Some(w) = self.bits.get_mut(i / 64) {
            if on {
                *w |= 1 << (i % 64);
            } else {
                *w &= !(1 << (i % 64));
            }
        }
    }

    /// Sets (or clears) `at..at + len`, clipped to the image.
    fn fill(&mut self, at: usize, len: usize, on: bool) {
        let end = at.saturating_add(len).min(self.len);
        for i in at.min(end)..end {
            self.put(i, on);
        }
    }

    fn set(&mut self, at: usize, len: usize) {
        self.fill(at, len, true);
    }

    fn any(&self, at: usize, len: usize) -> bool {
        // Past the end counts as owned: nothing there may be rewritten.
        match at.checked_add(len) {
            Some(end) if end <= self.len => (at..end).any(|i| self.is_set(i)),
            _ => true,
        }
    }

    fn get(&self, at: u64) -> bool {
        usize::try_from(at).is_ok_and(|i| i < self.len && self.is_set(i))
    }
}

struct Ctx<'a> {
    pe: &'a PeImage,
    rift: &'a [RiftEntry],
    target_base: u64,
    /// Steps left for the walk under way ([`MAX_WALK`] per transform).
    steps: std::cell::Cell<usize>,
}

impl Ctx<'_> {
    /// Takes one step of the walk under way; false once [`MAX_WALK`] are spent.
    fn step(&self) -> bool {
        let left = self.steps.get();
        self.steps.set(left.saturating_sub(1));
        left > 0
    }

    fn start_walk(&self) {
        self.steps.set(MAX_WALK);
    }

    fn map(&self, rva: i64) -> i64 {
        map_through(self.rift, rva)
    }

    /// Maps a 32-bit RVA field at `at` (zero stays zero) and owns it.
    fn map_field(&self, b: &mut [u8], owned: &mut Owned, at: usize) {
        if let Some(v) = u32_at(b, at) {
            if v != 0 {
                put_u32(b, at, self.map(i64::from(v)) as u32);
            }
            owned.set(at, 4);
        }
    }

    /// A VA of the source image as the same place in the target image.
    fn rebase(&self, va: u64) -> u64 {
        let rva = va.wrapping_sub(self.pe.image_base) as i64;
        self.target_base.wrapping_add(self.map(rva) as u64)
    }
}

/// Builds `T(basis)` and the copy rift, or says which transform is missing.
pub fn prepare(basis: &[u8], pre: &PePreprocess, flags: u64) -> Result<Prepared, String> {
    let pe = PeImage::parse(basis).ok_or("a basis that is not a readable PE image")?;
    if pe.is_managed() || pre.cli_metadata || pre.cli_map {
        return Err("CLI (.NET) metadata transforms".into());
    }
    let machine_ok = match pe.machine {
        MACHINE_I386 => !pe.pe32_plus,
        MACHINE_AMD64 => pe.pe32_plus,
        _ => false,
    };
    if !machine_ok {
        return Err(format!(
            "source transforms for a basis of machine {:#06x}",
            pe.machine
        ));
    }
    let mut b = basis.to_vec();
    let cx = Ctx {
        pe: &pe,
        rift: &pre.rva_rift,
        target_base: pre.image_base,
        steps: std::cell::Cell::new(MAX_WALK),
    };
    fix_header(&mut b, &pe, pre);
    let mut owned = Owned::new(b.len());
    if flags & flag::MARK != 0 {
        mark_non_code(&pe, &mut owned);
    }
    if flags & flag::IMPORTS != 0 {
        imports(&cx, &mut b, &mut owned);
    }
    if flags & flag::EXPORTS != 0 {
        exports(&cx, &mut b, &mut owned);
    }
    if flags & flag::RESOURCES != 0 {
        resources(&cx, &mut b, &mut owned);
    }
    if flags & flag::RELOCS != 0 {
        relocs(&cx, &mut b, &mut owned);
    }
    let mut missing = Vec::new();
    if pe.machine == MACHINE_I386 {
        if flags & flag::I386_JMPS != 0 {
            branches(&cx, &mut b, &owned, Branch::Jump);
        }
        if flags & flag::I386_CALLS != 0 {
            branches(&cx, &mut b, &owned, Branch::Call);
        }
        if flags & flag::I386_SMASHLOCK != 0 && has_lock_prefix_table(&pe, basis) {
            missing.push("I386_SMASHLOCK (the basis has a lock prefix table)");
        }
    }
    if pe.machine == MACHINE_AMD64 && pe.dir(dir::EXCEPTION).is_some() {
        if flags & flag::AMD64_DISASM != 0 {
            missing.push("AMD64_DISASM (the basis has .pdata functions)");
        }
        if flags & flag::AMD64_PDATA != 0 {
            pdata(&cx, &mut b);
        }
    }
    if flags & flag::UNBIND != 0 && pe.dir(dir::BOUND_IMPORT).is_some() {
        missing.push("UNBIND (the basis has bound imports)");
    }
    let io2rva = io2rva(&pe);
    let copy_rift = crate::rift::copy_rift(&io2rva, &pre.rva_rift, &pre.pe_rift)
        .ok_or("a copy rift larger than MAX_COMPOSED_ENTRIES")?;
    Ok(Prepared {
        source: b,
        copy_rift,
        missing,
    })
}

/// Whether the i386 load configuration names a lock prefix table (the list of `LOCK`
/// prefixes a uniprocessor build smashes).
fn has_lock_prefix_table(pe: &PeImage, b: &[u8]) -> bool {
    pe.dir(dir::LOAD_CONFIG)
        .and_then(|d| pe.rva_to_offset(d.0.into()))
        .and_then(|at| {
            let size = u32_at(b, at)?;
            // `LockPrefixTable` sits at offset 0x20 of IMAGE_LOAD_CONFIG_DIRECTORY32.
            (size >= 0x24).then(|| u32_at(b, at + 0x20)).flatten()
        })
        .is_some_and(|v| v != 0)
}

/// File offset → RVA of the source: `(0, 0)`, then each section's raw start at its
/// RVA (sections without either are left out).
fn io2rva(pe: &PeImage) -> Vec<RiftEntry> {
    let mut v = vec![RiftEntry {
        source: 0,
        target: 0,
    }];
    v.extend(
        pe.sections
            .iter()
            .filter(|s| s.va != 0 && s.raw_off != 0)
            .map(|s| RiftEntry {
                source: i64::from(s.raw_off),
                target: i64::from(s.va),
            }),
    );
    v.sort_by_key(|e| e.source);
    v
}

/// The header fields the target's pre-processing facts replace. Directory time stamps
/// (export, debug) keep the source's: rewriting them too changes no genuine target
/// that has target facts and breaks every cross-architecture one.
fn fix_header(b: &mut [u8], pe: &PeImage, pre: &PePreprocess) {
    put_u32(b, pe.checksum_at(), 0);
    put_u32(b, pe.timestamp_at, pre.timestamp);
    if pe.pe32_plus {
        put_u64(b, pe.opt_at + 24, pre.image_base);
    } else {
        put_u32(b, pe.opt_at + 28, pre.image_base as u32);
    }
}

fn mark_non_code(pe: &PeImage, owned: &mut Owned) {
    owned.bits.fill(!0);
    for s in pe
        .sections
        .iter()
        .filter(|s| s.characteristics & SCN_EXECUTE != 0)
    {
        owned.fill(s.raw_off as usize, s.vsize.min(s.raw_size) as usize, false);
    }
}

fn imports(cx: &Ctx<'_>, b: &mut [u8], owned: &mut Owned) {
    let Some(first) = cx
        .pe
        .dir(dir::IMPORT)
        .and_then(|d| cx.pe.rva_to_offset(d.0.into()))
    else {
        return;
    };
    cx.start_walk();
    for k in 0..MAX_WALK {
        if !cx.step() {
            return;
        }
        let Some(d) = first.checked_add(20 * k) else {
            return;
        };
        let (Some(ilt), Some(stamp), Some(name), Some(iat)) = (
            u32_at(b, d),
            u32_at(b, d + 4),
            u32_at(b, d + 12),
            u32_at(b, d + 16),
        ) else {
            return;
        };
        if ilt == 0 && name == 0 && iat == 0 {
            return;
        }
        thunks(cx, b, owned, ilt, false);
        thunks(cx, b, owned, iat, stamp != 0);
        for at in [d + 12, d, d + 16] {
            cx.map_field(b, owned, at);
        }
    }
}

/// One thunk array up to its zero entry: by-name entries are RVAs, by-ordinal ones are
/// left alone, a bound IAT holds VAs. Every entry becomes owned.
fn thunks(cx: &Ctx<'_>, b: &mut [u8], owned: &mut Owned, rva: u32, bound: bool) {
    if rva == 0 {
        return;
    }
    let Some(first) = cx.pe.rva_to_offset(rva.into()) else {
        return;
    };
    let wide = cx.pe.pe32_plus;
    let (size, ordinal) = if wide {
        (8, 1u64 << 63)
    } else {
        (4, 1u64 << 31)
    };
    for k in 0..MAX_WALK {
        if !cx.step() {
            return;
        }
        let Some(at) = first.checked_add(size * k) else {
            return;
        };
        let v = if wide {
            u64_at(b, at)
        } else {
            u32_at(b, at).map(u64::from)
        };
        let Some(v) = v else { return };
        if v == 0 {
            return;
        }
        let new = if bound {
            Some(cx.rebase(v))
        } else if v & ordinal == 0 {
            // A by-name entry: the RVA of its hint/name record.
            Some(cx.map(v as i64) as u64)
        } else {
            None
        };
        if let Some(nv) = new {
            if wide {
                put_u64(b, at, nv);
            } else {
                put_u32(b, at, nv as u32);
            }
        }
        owned.set(at, size);
    }
}

/// `AMD64_PDATA`: the begin, end and unwind-data RVAs of every `RUNTIME_FUNCTION`.
fn pdata(cx: &Ctx<'_>, b: &mut [u8]) {
    let Some((rva, size)) = cx.pe.dir(dir::EXCEPTION) else {
        return;
    };
    let Some(at) = cx.pe.rva_to_offset(rva.into()) else {
        return;
    };
    let end = at.saturating_add(size as usize).min(b.len());
    let mut e = at;
    while e.saturating_add(12) <= end {
        for f in [e, e + 4, e + 8] {
            if let Some(v) = u32_at(b, f) {
                if v != 0 {
                    put_u32(b, f, cx.map(i64::from(v)) as u32);
                }
            }
        }
        e += 12;
    }
}

fn exports(cx: &Ctx<'_>, b: &mut [u8], owned: &mut Owned) {
    let Some(d) = cx
        .pe
        .dir(dir::EXPORT)
        .and_then(|d| cx.pe.rva_to_offset(d.0.into()))
    else {
        return;
    };
    let (Some(nfuncs), Some(nnames), Some(funcs), Some(names)) = (
        u32_at(b, d + 20),
        u32_at(b, d + 24),
        u32_at(b, d + 28),
        u32_at(b, d + 32),
    ) else {
        return;
    };
    if u32_at(b, d + 36).is_none() {
        return;
    }
    for (rva, n) in [(funcs, nfuncs), (names, nnames)] {
        if rva == 0 {
            continue;
        }
        if let Some(at) = cx.pe.rva_to_offset(rva.into()) {
            // Entries past the end of the image map nothing; stop there.
            let n = (n as usize).min(b.len() / 4);
            for k in 0..n {
                cx.map_field(b, owned, at + 4 * k);
            }
        }
    }
    for off in [12, 28, 32, 36] {
        cx.map_field(b, owned, d + off);
    }
}

fn resources(cx: &Ctx<'_>, b: &mut [u8], owned: &mut Owned) {
    let Some((rva, size)) = cx.pe.dir(dir::RESOURCE) else {
        return;
    };
    let Some(base) = cx.pe.rva_to_offset(rva.into()) else {
        return;
    };
    let end = base.saturating_add(size as usize).min(b.len());
    let dirbase = i64::from(rva);
    let base_mapped = cx.map(dirbase);
    // Offsets are relative to the directory start: move them by how far the byte they
    // name moved relative to the start.
    let remap = |off: u32| cx.map(dirbase + i64::from(off)).wrapping_sub(base_mapped) as u32;
    let mut stack = vec![base];
    let mut seen = BTreeSet::new();
    cx.start_walk();
    while let Some(d) = stack.pop() {
        if !seen.insert(d) || d < base || d.saturating_add(16) > end {
            continue;
        }
        let (Some(named), Some(ids)) = (u16_at(b, d + 12), u16_at(b, d + 14)) else {
            continue;
        };
        let count = (usize::from(named) + usize::from(ids)).min((end - d - 16) / 8);
        for k in 0..count {
            if !cx.step() {
                return;
            }
            let e = d + 16 + 8 * k;
            let Some(off) = u32_at(b, e + 4) else { break };
            let rel = off & 0x7fff_ffff;
            if off & 0x8000_0000 != 0 {
                let child = base.saturating_add(rel as usize);
                if child.saturating_add(16) <= end && child > e && !seen.contains(&child) {
                    stack.push(child);
                }
                put_u32(b, e + 4, 0x8000_0000 | (remap(rel) & 0x7fff_ffff));
                owned.set(e + 4, 4);
            } else {
                let data = base.saturating_add(rel as usize);
                if data.saturating_add(16) <= end {
                    if let Some(v) = u32_at(b, data) {
                        put_u32(b, data, remap(v));
                        owned.set(data, 4);
                    }
                }
            }
            if let Some(name) = u32_at(b, e) {
                if name & 0x8000_0000 != 0 {
                    put_u32(
                        b,
                        e,
                        0x8000_0000 | (remap(name & 0x7fff_ffff) & 0x7fff_ffff),
                    );
                    owned.set(e, 4);
                }
            }
        }
    }
}

/// `IMAGE_REL_BASED_*` types the relocation transform handles.
const REL_ABSOLUTE: u16 = 0;
const REL_HIGH: u16 = 1;
const REL_LOW: u16 = 2;
const REL_HIGHLOW: u16 = 3;
const REL_HIGHADJ: u16 = 4;
const REL_DIR64: u16 = 10;

fn relocs(cx: &Ctx<'_>, b: &mut [u8], owned: &mut Owned) {
    let pe = cx.pe;
    let Some((rva, size)) = pe.dir(dir::BASERELOC) else {
        return;
    };
    let Some(base) = pe.rva_to_offset(rva.into()) else {
        return;
    };
    let end = base.saturating_add(size as usize).min(b.len());
    // (mapped site RVA, type, HIGHADJ parameter)
    let mut sites: Vec<(u32, u16, u16)> = Vec::new();
    let mut blk = base;
    while blk.saturating_add(8) <= end {
        let (Some(page), Some(len)) = (u32_at(b, blk), u32_at(b, blk + 4)) else {
            break;
        };
        let len = len as usize;
        if len < 8 || blk.saturating_add(len) > end {
            break;
        }
        let n = (len - 8) / 2;
        let mut j = 0;
        while j < n {
            let Some(e) = u16_at(b, blk + 8 + 2 * j) else {
                break;
            };
            let mut kind = e >> 12;
            if kind == REL_ABSOLUTE {
                break;
            }
            let site = i64::from(page) + i64::from(e & 0xfff);
            let mut param = 0;
            if let Some(at) = pe.rva_to_offset(site as u64) {
                match kind {
                    REL_HIGHLOW => {
                        if let Some(v) = u32_at(b, at) {
                            put_u32(b, at, cx.rebase(v.into()) as u32);
                            owned.set(at, 4);
                        }
                    }
                    REL_DIR64 => {
                        if let Some(v) = u64_at(b, at) {
                            put_u64(b, at, cx.rebase(v));
                            owned.set(at, 8);
                        }
                    }
                    REL_HIGH | REL_LOW => owned.set(at, 2),
                    REL_HIGHADJ => {
                        owned.set(at, 2);
                        if j + 1 < n {
                            param = u16_at(b, blk + 8 + 2 * (j + 1)).unwrap_or(0);
                        }
                        j += 1;
                    }
                    _ => kind = REL_ABSOLUTE,
                }
            }
            if sites.len() >= MAX_WALK {
                return;
            }
            sites.push((cx.map(site) as u32, kind, param));
            j += 1;
        }
        blk += len;
    }
    sites.sort_by_key(|s| s.0);
    // The rewritten list may use the whole section from the directory on.
    let room = pe
        .sections
        .iter()
        .find(|s| {
            rva >= s.va && u64::from(rva) < u64::from(s.va) + u64::from(s.vsize.max(s.raw_size))
        })
        .map_or(size, |s| s.va.wrapping_add(s.vsize).wrapping_sub(rva))
        .max(size);
    let limit = base.saturating_add((room & !1) as usize).min(b.len());
    let mut out = base;
    let mut i = 0;
    while out + 8 <= limit {
        let Some(&(first, _, _)) = sites.get(i) else {
            break;
        };
        let page = first & !0xfff;
        let head = out;
        out += 8;
        let body = out;
        while let Some(&(site, kind, param)) = sites.get(i) {
            if site & !0xfff != page || out + 2 > limit {
                break;
            }
            put_u16(b, out, (kind << 12) | (site & 0xfff) as u16);
            out += 2;
            if kind == REL_HIGHADJ && out + 2 <= limit {
                put_u16(b, out, param);
                out += 2;
            }
            i += 1;
        }
        // Blocks end on a 4-byte boundary: an odd entry count gets a zero entry.
        if ((out - body) / 2) % 2 == 1 && out + 2 <= limit {
            put_u16(b, out, 0);
            out += 2;
        }
        put_u32(b, head, page);
        put_u32(b, head + 4, (out - head) as u32);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Branch {
    /// `E9` and `0F 8x` near jumps (may become short forms).
    Jump,
    /// `E8` calls.
    Call,
}

/// Whether a branch to `target` (a source RVA) is one the transform moves: nonzero,
/// inside the image, and before the first section or inside one; and the byte there
/// is not owned.
fn branch_target_ok(pe: &PeImage, owned: &Owned, target: u32) -> bool {
    let t = u64::from(target);
    if target == 0 || target >= pe.size_of_image {
        return false;
    }
    let first = pe.first_section_rva();
    if t < first {
        return !owned.get(t);
    }
    if !pe.in_section(t) {
        return false;
    }
    !owned.get(pe.rva_to_offset(t).map_or(t, |o| o as u64))
}

fn branches(cx: &Ctx<'_>, b: &mut [u8], owned: &Owned, kind: Branch) {
    let pe = cx.pe;
    for s in pe
        .sections
        .iter()
        .filter(|s| s.characteristics & SCN_EXECUTE != 0)
    {
        let start = s.raw_off as usize;
        let end = start
            .saturating_add(s.vsize.min(s.raw_size) as usize)
            .min(b.len());
        let mut i = start;
        while i.saturating_add(5) <= end {
            // `d`: the byte before the displacement.
            let (d, mut may_shorten) = match (kind, b.get(i), b.get(i + 1)) {
                (Branch::Jump, Some(0xe9), _) => (i, true),
                (Branch::Jump, Some(0x0f), Some(&op)) if op & 0xf0 == 0x80 => (i + 1, true),
                (Branch::Call, Some(0xe8), _) => (i, false),
                _ => {
                    i += 1;
                    continue;
                }
            };
            if d != i && owned.any(i, 1) {
                may_shorten = false;
            }
            if owned.any(d, 5) {
                i += 1;
                continue;
            }
            let Some(disp) = u32_at(b, d + 1) else { break };
            let disp = disp as i32;
            if kind == Branch::Jump && i8::try_from(disp).is_ok() {
                i += 1;
                continue;
            }
            let next = s.va.wrapping_add((d - start) as u32).wrapping_add(5);
            let target = next.wrapping_add(disp as u32);
            if !branch_target_ok(pe, owned, target) {
                i += 1;
                continue;
            }
            let new = cx
                .map(i64::from(target))
                .wrapping_sub(cx.map(i64::from(next))) as i32;
            match i8::try_from(new) {
                Ok(short) if may_shorten => {
                    // The short form takes the first two bytes; the rest stay as
                    // they were. `EB rel8` for a jump, `7x rel8` for a `0F 8x`.
                    let op = if d == i {
                        0xeb
                    } else {
                        0x70 | b.get(d).map_or(0, |c| c & 0x0f)
                    };
                    if let Some(two) = b.get_mut(i..i + 2) {
                        two.copy_from_slice(&[op, short as u8]);
                    }
                }
                _ => {
                    put_u32(b, d + 1, new as u32);
                }
            }
            i = d + 5;
        }
    }
}
