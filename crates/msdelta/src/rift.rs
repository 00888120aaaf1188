//! Rift tables (sorted address maps) and the PE pre-processing buffer that carries them.
//!
//! A rift table is one presence bit, then (when present) two "integer formats" — Huffman
//! codes over 252 symbols for signed integers — the entry count (a header-style 64-bit
//! integer), and per entry a source delta and a target delta, each coded with its own
//! format. Entry `k` is `(Σ source deltas, Σ target deltas + source)`.
//!
//! An integer format is 8 bits `p` (explicit lengths of positive symbols), 8 bits `n`
//! (explicit lengths of negative symbols), 8 bits `d` (how many of the remaining
//! symbols take the default length), `p` then `n` lengths of 4 bits (+1), a default
//! length of 4 bits (+1); the remaining positive symbols, then the remaining negative
//! ones, take the default length for the first `d` of them and one bit less after.
//! Symbols `0..126` are magnitudes of non-negative values, `126..252` of negative ones
//! (value `!m`); magnitude index `i` ≤ 3 is the value, else `(2 | i & 1) << h` plus `h`
//! more bits, `h = i / 2 − 1`.
//!
//! This layout follows `jlevere/msdelta`'s description; it is proved here by parsing
//! every genuine pre-processing buffer exactly to its end, and by the 166 genuine
//! deltas against a basis whose targets verify only with these tables driving the
//! source transforms and the copy rift (see the crate's real-payload test).
//!
//! Table algebra for the copy rift: [`map_through`] (how transforms map one RVA),
//! [`compose`] (one map after another), [`reverse`] (the inverse, with msdelta's rule
//! for overlapping images and gaps) and [`copy_rift`].

use crate::body::{BodyError, BodyReader};
use crate::huffman::Huffman;

/// Symbols of an integer format.
const INT_SYMBOLS: usize = 252;
const INT_HALF: usize = 126;
/// Most entries a rift table may declare (`MAX_RIFT_ENTRIES`).
pub const MAX_RIFT_ENTRIES: u64 = 1 << 20;

/// One entry: positions at or after `source` map by `target - source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiftEntry {
    pub source: i64,
    pub target: i64,
}

fn trunc(what: &'static str) -> BodyError {
    BodyError::Truncated { what, pos: 0 }
}

struct IntFormat {
    code: Huffman,
}

impl IntFormat {
    fn read(r: &mut BodyReader<'_>) -> Result<Self, BodyError> {
        let t = || trunc("rift integer format");
        let pos = r.bits(8).ok_or_else(t)? as usize;
        let neg = r.bits(8).ok_or_else(t)? as usize;
        let dflt = r.bits(8).ok_or_else(t)? as usize;
        if pos > INT_HALF || neg > INT_HALF {
            return Err(BodyError::BadCode {
                table: "rift integer format",
                detail: format!(
                    "{pos} positive / {neg} negative explicit lengths (max {INT_HALF})"
                ),
            });
        }
        let mut lens = [0u8; INT_SYMBOLS];
        for l in lens.iter_mut().take(pos) {
            *l = r.bits(4).ok_or_else(t)? as u8 + 1;
        }
        for l in lens.iter_mut().skip(INT_HALF).take(neg) {
            *l = r.bits(4).ok_or_else(t)? as u8 + 1;
        }
        let default = r.bits(4).ok_or_else(t)? as u8 + 1;
        let rest = (pos..INT_HALF).chain(INT_HALF + neg..INT_SYMBOLS);
        for (k, i) in rest.enumerate() {
            lens[i] = if k < dflt {
                default
            } else {
                default.saturating_sub(1)
            };
        }
        let code = Huffman::from_lengths(&lens, 16).map_err(|e| BodyError::BadCode {
            table: "rift integer format",
            detail: format!("{e:?}"),
        })?;
        Ok(IntFormat { code })
    }

    fn value(&self, r: &mut BodyReader<'_>) -> Result<i64, BodyError> {
        let sym = self.code.decode(r).ok_or(BodyError::BadSymbol {
            table: "rift integer format",
            pos: 0,
        })? as usize;
        let (m, negative) = if sym < INT_HALF {
            (sym, false)
        } else {
            (sym - INT_HALF, true)
        };
        let v = if m <= 3 {
            m as i64
        } else {
            let h = (m as u32 >> 1) - 1;
            let base = (2 | (m as i64 & 1)) << h;
            let extra = if h > 32 {
                let lo = i64::from(r.bits(32).ok_or_else(|| trunc("rift value"))?);
                let hi = i64::from(r.bits(h - 32).ok_or_else(|| trunc("rift value"))?);
                lo | (hi << 32)
            } else {
                i64::from(r.bits(h).ok_or_else(|| trunc("rift value"))?)
            };
            base | extra
        };
        Ok(if negative { !v } else { v })
    }
}

/// Reads a rift table (presence bit first); entries sorted by source.
pub fn read_rift(r: &mut BodyReader<'_>) -> Result<Vec<RiftEntry>, BodyError> {
    if r.bits(1).ok_or_else(|| trunc("rift table flag"))? == 0 {
        return Ok(Vec::new());
    }
    let src = IntFormat::read(r)?;
    let dst = IntFormat::read(r)?;
    let count = r.number(16).ok_or_else(|| trunc("rift entry count"))?;
    if count > MAX_RIFT_ENTRIES || count > r.remaining() {
        return Err(BodyError::BadCode {
            table: "rift table",
            detail: format!(
                "{count} entries (MAX_RIFT_ENTRIES {MAX_RIFT_ENTRIES}, {} bits left)",
                r.remaining()
            ),
        });
    }
    let mut out = Vec::with_capacity(count as usize);
    let (mut s, mut d) = (0i64, 0i64);
    for _ in 0..count {
        s = s.wrapping_add(src.value(r)?);
        d = d.wrapping_add(dst.value(r)?);
        out.push(RiftEntry {
            source: s,
            target: d.wrapping_add(s),
        });
    }
    out.sort_by_key(|e| e.source);
    Ok(out)
}

/// What the pre-processing buffer of a PE delta says about the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PePreprocess {
    pub image_base: u64,
    /// Optional-header `CheckSum` of the target.
    pub checksum: u32,
    /// `TimeDateStamp` of the target.
    pub timestamp: u32,
    /// Target RVA → target file offset.
    pub pe_rift: Vec<RiftEntry>,
    /// CLI (.NET) metadata record present.
    pub cli_metadata: bool,
    /// Source RVA → target RVA.
    pub rva_rift: Vec<RiftEntry>,
    /// CLI map present.
    pub cli_map: bool,
    /// Bits left unread after the last field (0 in every genuine buffer).
    pub unread_bits: u64,
}

/// Parses a PE pre-processing buffer: image base (64 bits), checksum (32), timestamp
/// (32), the PE rift table, a CLI metadata presence bit, the RVA rift table, a CLI map
/// presence bit. A present CLI record is not read ([`BodyError::RiftTable`] is not
/// used for it: the error names the CLI record).
pub fn parse_pe_preprocess(data: &[u8]) -> Result<PePreprocess, BodyError> {
    let mut r = BodyReader::new(data)?;
    let t = || trunc("pre-processing header");
    let lo = u64::from(r.bits(32).ok_or_else(t)?);
    let hi = u64::from(r.bits(32).ok_or_else(t)?);
    let checksum = r.bits(32).ok_or_else(t)?;
    let timestamp = r.bits(32).ok_or_else(t)?;
    let pe_rift = read_rift(&mut r)?;
    let cli_metadata = r.bits(1).ok_or_else(t)? == 1;
    if cli_metadata {
        return Err(BodyError::BadCode {
            table: "pre-processing buffer",
            detail: "CLI metadata record present (not read)".into(),
        });
    }
    let rva_rift = read_rift(&mut r)?;
    let cli_map = r.remaining() > 0 && r.bits(1).ok_or_else(t)? == 1;
    Ok(PePreprocess {
        image_base: lo | (hi << 32),
        checksum,
        timestamp,
        pe_rift,
        cli_metadata,
        rva_rift,
        cli_map,
        unread_bits: r.remaining(),
    })
}

/// Most entries a composed or reversed rift may hold (`MAX_COMPOSED_ENTRIES`): the
/// composition of the section map, the RVA rift and the PE rift has at most one piece
/// per breakpoint of each, so genuine tables stay far below this.
pub const MAX_COMPOSED_ENTRIES: usize = 1 << 22;

/// Maps `x` through `table` the way msdelta's transforms map an RVA: by the offset
/// (`target − source`) of the last entry at or below `x`; unchanged below the first
/// entry or with an empty table.
pub fn map_through(table: &[RiftEntry], x: i64) -> i64 {
    let i = table.partition_point(|e| e.source <= x);
    match i.checked_sub(1).and_then(|k| table.get(k)) {
        Some(e) => x.wrapping_add(e.target.wrapping_sub(e.source)),
        None => x,
    }
}

/// The segment offset at `x` and the first position past its segment, as table
/// composition sees a table: below the first entry the table wraps to its last
/// entry's offset (the region before the first breakpoint continues the last one).
fn segment_at(table: &[RiftEntry], x: i64) -> (i64, Option<i64>) {
    let i = table.partition_point(|e| e.source <= x);
    let offset = |e: &RiftEntry| e.target.wrapping_sub(e.source);
    let here = match i.checked_sub(1).and_then(|k| table.get(k)) {
        Some(e) => offset(e),
        None => table.last().map_or(0, offset),
    };
    (here, table.get(i).map(|e| e.source))
}

/// `b ∘ a`: the table that maps `x` to `b(a(x))`, both read as piecewise-constant
/// offsets (below its first entry a table continues its last entry's offset). `None` past [`MAX_COMPOSED_ENTRIES`]. An empty operand is
/// the identity.
pub fn compose(a: &[RiftEntry], b: &[RiftEntry]) -> Option<Vec<RiftEntry>> {
    if a.is_empty() {
        return Some(b.to_vec());
    }
    if b.is_empty() {
        return Some(a.to_vec());
    }
    let mut out: Vec<RiftEntry> = Vec::new();
    for (k, seg) in a.iter().enumerate() {
        let off = seg.target.wrapping_sub(seg.source);
        let end = a.get(k + 1).map(|e| e.source);
        let mut x = seg.source;
        // Each step moves past one breakpoint of `b`, so the walk ends within |b| + 1
        // steps per segment of `a`.
        loop {
            if out.len() >= MAX_COMPOSED_ENTRIES {
                return None;
            }
            let image = x.wrapping_add(off);
            let (b_off, b_next) = segment_at(b, image);
            out.push(RiftEntry {
                source: x,
                target: image.wrapping_add(b_off),
            });
            let Some(next_image) = b_next else { break };
            let next = next_image.wrapping_sub(off);
            if next <= x || end.is_some_and(|e| next >= e) {
                break;
            }
            x = next;
        }
    }
    out.sort_by_key(|e| e.source);
    // Neighbours with one offset are one segment.
    out.dedup_by(|later, earlier| {
        later.target.wrapping_sub(later.source) == earlier.target.wrapping_sub(earlier.source)
    });
    Some(out)
}

/// The inverse of a piecewise map, as msdelta builds it where images of segments
/// overlap or leave gaps (i386 file alignment makes both happen).
///
/// Segments are taken in source order starting at position 0: first the piece
/// `[0, next breakpoint)` with the offset in force at 0, then each later segment (the
/// last one reaching to +∞), and last the region below 0, which wraps to the last
/// segment's offset, then the segments that start at or below 0. Each piece claims
/// only the parts of its image that no earlier piece claimed: an entry
/// `(image position, source position)` opens every such part. So where images overlap
/// the earlier piece wins, and a gap keeps the entry before it unless the wrapped
/// region claims it. A table with one distinct source gives the single entry
/// `(0, target − source)`.
///
/// The interval semantics follow the public description of msdelta's `Reverse` in
/// jlevere/msdelta's `src/lzx/rift.rs` (learned there, written here from scratch).
pub fn reverse(a: &[RiftEntry]) -> Vec<RiftEntry> {
    let Some(first) = a.first() else {
        return Vec::new();
    };
    if a.iter().all(|e| e.source == first.source) {
        return vec![RiftEntry {
            source: 0,
            target: first.target.wrapping_sub(first.source),
        }];
    }
    // Wide arithmetic: the outermost pieces reach to ±∞.
    const NEG_INF: i128 = i64::MIN as i128;
    const POS_INF: i128 = i64::MAX as i128 + 1;
    let off = |e: &RiftEntry| i128::from(e.target) - i128::from(e.source);
    let src = |i: usize| a.get(i).map_or(POS_INF, |e| i128::from(e.source));
    let last_off = a.last().map_or(0, off);
    // (piece start, piece end, offset) in processing order.
    let mut pieces: Vec<(i128, i128, i128)> = Vec::with_capacity(a.len() + 2);
    let above = a.partition_point(|e| e.source <= 0);
    let at_zero = above
        .checked_sub(1)
        .and_then(|k| a.get(k))
        .map_or(last_off, off);
    pieces.push((0, src(above), at_zero));
    for i in above..a.len() {
        pieces.push((src(i), src(i + 1), a.get(i).map_or(0, off)));
    }
    pieces.push((NEG_INF, src(0).min(0), last_off));
    for i in 0..above {
        pieces.push((src(i), src(i + 1).min(0), a.get(i).map_or(0, off)));
    }
    // Claimed image intervals (start → end), disjoint, touching ones merged. A map
    // keeps every piece at O(log n) plus the intervals it swallows.
    let mut claimed: std::collections::BTreeMap<i128, i128> = Default::default();
    let mut out = Vec::new();
    for (s0, s1, o) in pieces {
        if s0 >= s1 {
            continue;
        }
        let lo = (s0 + o).max(NEG_INF);
        let hi = (s1 + o).min(POS_INF);
        if lo >= hi {
            continue;
        }
        // The intervals the image meets: one starting before `lo` that reaches it,
        // then those starting in `lo..=hi`.
        let mut met: Vec<(i128, i128)> = claimed
            .range(..lo)
            .next_back()
            .filter(|c| *c.1 >= lo)
            .map(|(&a, &b)| (a, b))
            .into_iter()
            .collect();
        met.extend(claimed.range(lo..=hi).map(|(&a, &b)| (a, b)));
        let mut at = lo;
        for &(c0, c1) in &met {
            if at < c0 {
                push_wide(&mut out, at, at - o);
            }
            at = at.max(c1);
        }
        if at < hi {
            push_wide(&mut out, at, at - o);
        }
        let merged_lo = met.first().map_or(lo, |c| c.0.min(lo));
        let merged_hi = met.last().map_or(hi, |c| c.1.max(hi));
        for (c0, _) in &met {
            claimed.remove(c0);
        }
        claimed.insert(merged_lo, merged_hi);
        if out.len() > MAX_COMPOSED_ENTRIES {
            break;
        }
    }
    out.sort_by_key(|e| e.source);
    out
}

/// Pushes an entry whose ends fit in 64 bits (the ±∞ ends of the outer pieces are
/// sentinels, not entries).
fn push_wide(out: &mut Vec<RiftEntry>, image: i128, source: i128) {
    if let (Ok(s), Ok(t)) = (i64::try_from(image), i64::try_from(source)) {
        if s != i64::MIN && t != i64::MIN {
            out.push(RiftEntry {
                source: s,
                target: t,
            });
        }
    }
}

/// The copy rift of a PE delta: target file offset → source file offset, so a source
/// copy at a target offset reads the basis byte that sits at the same place of the
/// image. It is the inverse of source file offset → RVA (`io2rva`, the section table)
/// → target RVA (the pre-processing RVA rift) → target file offset (the PE rift).
pub fn copy_rift(
    io2rva: &[RiftEntry],
    rva_rift: &[RiftEntry],
    pe_rift: &[RiftEntry],
) -> Option<Vec<RiftEntry>> {
    let forward = compose(&compose(io2rva, rva_rift)?, pe_rift)?;
    Some(reverse(&forward))
}
