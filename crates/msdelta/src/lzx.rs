//! The PA30 patch buffer: rift table, composite format (Huffman tables per output
//! block) and the pseudo-LZX symbol stream. See the crate documentation for the format.

use crate::body::{BodyError, BodyReader};
use crate::huffman::{CodeError, Huffman};

/// Symbols of the main table: 256 literals + 43 offset slots × 8 length slots.
pub const MAIN_SYMBOLS: usize = 0x258;
/// Symbols of the length table.
pub const LENGTH_SYMBOLS: usize = 0x100;
/// Symbols of the aligned-offset table.
pub const ALIGNED_SYMBOLS: usize = 0x10;
/// All code lengths of one block, in the order main, length, aligned.
pub const ALL_LENGTHS: usize = MAIN_SYMBOLS + LENGTH_SYMBOLS + ALIGNED_SYMBOLS;
/// Symbols of the pre-tree that codes the code lengths.
pub const PRETREE_SYMBOLS: usize = 39;
/// Most blocks (table sets) a composite format may declare (`MAX_BLOCKS`).
pub const MAX_BLOCKS: u32 = 4096;

/// The three tables of one block.
#[derive(Debug, Clone)]
struct Tables {
    main: Huffman,
    length: Huffman,
    aligned: Huffman,
}

impl Tables {
    fn from_lengths(l: &[u8; ALL_LENGTHS]) -> Result<Self, BodyError> {
        let build = |lens: &[u8], table: &'static str| {
            Huffman::from_lengths(lens, 16).map_err(|e| BodyError::BadCode {
                table,
                detail: match e {
                    CodeError::TooLong { symbol, len, max } => {
                        format!("symbol {symbol} has length {len} > {max}")
                    }
                    CodeError::Oversubscribed => "oversubscribed".into(),
                },
            })
        };
        Ok(Tables {
            main: build(&l[..MAIN_SYMBOLS], "main")?,
            length: build(&l[MAIN_SYMBOLS..MAIN_SYMBOLS + LENGTH_SYMBOLS], "length")?,
            aligned: build(&l[MAIN_SYMBOLS + LENGTH_SYMBOLS..], "aligned")?,
        })
    }
}

/// Output ranges and their code lengths.
struct Composite {
    /// (first output byte, code lengths), starts ascending.
    blocks: Vec<(u64, Box<[u8; ALL_LENGTHS]>)>,
}

fn truncated(what: &'static str) -> BodyError {
    BodyError::Truncated { what, pos: 0 }
}

fn read_composite(r: &mut BodyReader<'_>) -> Result<Composite, BodyError> {
    if r.bits(1).ok_or(truncated("composite format flag"))? == 1 {
        // One block, the default (flat) lengths.
        let mut l = Box::new([0u8; ALL_LENGTHS]);
        l[..MAIN_SYMBOLS].copy_from_slice(&Huffman::default_lengths(MAIN_SYMBOLS));
        l[MAIN_SYMBOLS..MAIN_SYMBOLS + LENGTH_SYMBOLS]
            .copy_from_slice(&Huffman::default_lengths(LENGTH_SYMBOLS));
        l[MAIN_SYMBOLS + LENGTH_SYMBOLS..]
            .copy_from_slice(&Huffman::default_lengths(ALIGNED_SYMBOLS));
        return Ok(Composite {
            blocks: vec![(0, l)],
        });
    }
    let count = r.number(8).ok_or(truncated("block count"))? as u32;
    if count == 0 || count > MAX_BLOCKS {
        return Err(BodyError::BlockCount {
            count,
            max: MAX_BLOCKS,
        });
    }
    let mut starts = Vec::with_capacity(count as usize);
    let mut start = 0u64;
    for block in 0..count {
        let delta = r.number(16).ok_or(truncated("block start"))?;
        let prev_start = start;
        start = start.checked_add(delta).ok_or(BodyError::BlockOrder {
            block,
            start: u64::MAX,
            prev: block.saturating_sub(1),
            prev_start,
        })?;
        starts.push(start);
    }
    let mut pre = [0u8; PRETREE_SYMBOLS];
    for p in &mut pre {
        *p = r.bits(4).ok_or(truncated("pre-tree"))? as u8;
    }
    let pretree = Huffman::from_lengths(&pre, 15).map_err(|_| BodyError::BadCode {
        table: "pre-tree",
        detail: format!("{pre:?}"),
    })?;
    let mut blocks: Vec<(u64, Box<[u8; ALL_LENGTHS]>)> = Vec::with_capacity(count as usize);
    let zeros = Box::new([0u8; ALL_LENGTHS]);
    for (block, &start) in starts.iter().enumerate() {
        let prev = blocks.last().map(|b| &b.1).unwrap_or(&zeros);
        let lens = read_lengths(r, &pretree, prev, block as u32)?;
        blocks.push((start, lens));
    }
    Ok(Composite { blocks })
}

/// One block's 872 code lengths, coded with the pre-tree against the previous block's:
/// 0..=16 a length; 17..=19 previous + 1..3; 20..=22 previous − 1..3; 23..=30 a run of
/// the last length; 31..=38 a run copied from the previous block. Run symbols code
/// their length in the low 3 bits: 0..2 mean 1..3, `c` ≥ 3 means `c − 1` more bits
/// under an implicit leading one.
fn read_lengths(
    r: &mut BodyReader<'_>,
    pretree: &Huffman,
    prev: &[u8; ALL_LENGTHS],
    block: u32,
) -> Result<Box<[u8; ALL_LENGTHS]>, BodyError> {
    let mut out = Box::new([0u8; ALL_LENGTHS]);
    let mut i = 0;
    while i < ALL_LENGTHS {
        let sym = pretree.decode(r).ok_or(BodyError::BadSymbol {
            table: "pre-tree",
            pos: 0,
        })?;
        match sym {
            0..=16 => {
                out[i] = sym as u8;
                i += 1;
            }
            17..=22 => {
                let d = if sym < 20 {
                    sym as i32 - 16
                } else {
                    19 - sym as i32
                };
                let value = i32::from(prev[i]) + d;
                if !(0..=16).contains(&value) {
                    return Err(BodyError::LengthOutOfRange {
                        block,
                        index: i,
                        value,
                    });
                }
                out[i] = value as u8;
                i += 1;
            }
            _ => {
                let run = sym - 23;
                let code = run & 7;
                let len = if code < 3 {
                    code as usize + 1
                } else {
                    let extra = r.bits(code - 1).ok_or(truncated("code-length run"))?;
                    ((1u32 << (code - 1)) | extra) as usize
                };
                if i + len > ALL_LENGTHS {
                    return Err(BodyError::RunTooLong {
                        index: i,
                        len,
                        max: ALL_LENGTHS,
                    });
                }
                if run < 8 {
                    if i == 0 {
                        return Err(BodyError::FillAtStart);
                    }
                    let v = out[i - 1];
                    out[i..i + len].fill(v);
                } else {
                    out[i..i + len].copy_from_slice(&prev[i..i + len]);
                }
                i += len;
            }
        }
    }
    Ok(out)
}

/// Decodes a patch buffer against `source` (empty for a delta against nothing) into
/// exactly `target_size` bytes (the caller has bounded `target_size`).
///
/// Positions are virtual: the source occupies `0..source.len()`, the output follows.
/// Block starts count in that space. A copy's distance is subtracted from the current
/// virtual position; source-relative copies (slots 0..=3) are placed through the rift:
/// `copy_rift` maps output offsets to source offsets (empty: the identity), so a
/// source copy with delta `d` at an output offset `t` that the rift entry `(t0, s0)`
/// covers reads the source at `s0 + (t − t0) − d` onwards, and a whole-source copy
/// at `s0 + (t − t0)`, re-placed at every later entry it runs into. The patch's own
/// rift table must be empty.
pub fn decode(
    patch: &[u8],
    source: &[u8],
    target_size: usize,
    copy_rift: &[crate::rift::RiftEntry],
) -> Result<Vec<u8>, BodyError> {
    let mut r = BodyReader::new(patch)?;
    if r.bits(1).ok_or(truncated("rift table flag"))? == 1 {
        return Err(BodyError::RiftTable);
    }
    let composite = read_composite(&mut r)?;
    let first = composite.blocks[0].0;
    let src_len = source.len() as i64;
    let offsets = OffsetTable::new(src_len, copy_rift);
    let mut next_offset = 0usize;
    let mut rift = 0i64;
    let mut out: Vec<u8> = Vec::with_capacity(target_size);
    let mut lru = [0i64; 3];
    let mut next_block = 0usize;
    let mut tables: Option<Tables> = None;
    let mut next_start = composite.blocks[0].0;
    while out.len() < target_size {
        let pos = out.len() as u64;
        let vpos = src_len + pos as i64;
        while let Some(&(key, off)) = offsets.0.get(next_offset) {
            if key > vpos {
                break;
            }
            rift = off;
            next_offset += 1;
        }
        while vpos as u64 >= next_start {
            tables = Some(Tables::from_lengths(&composite.blocks[next_block].1)?);
            next_block += 1;
            next_start = composite.blocks.get(next_block).map_or(u64::MAX, |b| b.0);
        }
        let Some(t) = tables.as_ref() else {
            return Err(BodyError::NoTables {
                pos: vpos as u64,
                first,
            });
        };
        let sym = t
            .main
            .decode(&mut r)
            .ok_or(BodyError::BadSymbol { table: "main", pos })?;
        if sym < 256 {
            out.push(sym as u8);
            continue;
        }
        let s = sym - 256;
        let mut slot = s >> 3;
        let len_slot = s & 7;
        let tr = || truncated("offset bits");
        let distance: i64 = match slot {
            // The rift offset comes from the (hostile) pre-processing buffer: its
            // arithmetic wraps, and the copy below checks where it lands.
            0 => (i64::from(r.bits(14).ok_or_else(tr)?) - 0x2000).wrapping_sub(rift),
            1 => {
                let v = i64::from(r.bits(16).ok_or_else(tr)?);
                (if v < 0x8000 { v - 0xa000 } else { v - 0x6000 }).wrapping_sub(rift)
            }
            2 => {
                let v = i64::from(r.bits(18).ok_or_else(tr)?);
                (if v < 0x20000 {
                    v - 0x2a000
                } else {
                    v - 0x16000
                })
                .wrapping_sub(rift)
            }
            3 => rift.wrapping_neg(),
            4..=6 => lru[(slot - 4) as usize],
            _ => {
                if slot == 7 {
                    // Escape to slots 43..=70: `0` + 2 bits, `10` + 3 bits, `11` + 4 bits.
                    let tr = || truncated("offset slot escape");
                    slot = if r.bits(1).ok_or_else(tr)? == 0 {
                        43 + r.bits(2).ok_or_else(tr)?
                    } else if r.bits(1).ok_or_else(tr)? == 0 {
                        47 + r.bits(3).ok_or_else(tr)?
                    } else {
                        55 + r.bits(4).ok_or_else(tr)?
                    };
                }
                if slot <= 10 {
                    i64::from(slot - 7)
                } else {
                    let extra_bits = (slot - 9) >> 1;
                    let top = i64::from(2 | ((slot - 11) & 1));
                    let mut off = top << extra_bits;
                    if extra_bits < 4 {
                        off |= i64::from(r.bits(extra_bits).ok_or_else(tr)?);
                    } else {
                        if extra_bits > 4 {
                            off |= i64::from(r.bits(extra_bits - 4).ok_or_else(tr)?) << 4;
                        }
                        off |= i64::from(t.aligned.decode(&mut r).ok_or(BodyError::BadSymbol {
                            table: "aligned",
                            pos,
                        })?);
                    }
                    off
                }
            }
        };
        let length = if len_slot != 0 {
            u64::from(len_slot) + 1
        } else {
            let l = t.length.decode(&mut r).ok_or(BodyError::BadSymbol {
                table: "length",
                pos,
            })?;
            if l == 0 {
                u64::from(r.number_8().ok_or(truncated("long match length"))?) + 8
            } else {
                u64::from(l) + 8
            }
        };
        // Every match moves its distance to the front of the recent-distances list.
        if lru[0] != distance {
            if lru[1] != distance {
                lru[2] = lru[1];
            }
            lru[1] = lru[0];
            lru[0] = distance;
        }
        let left = (target_size - out.len()) as u64;
        let mut length = length.min(left) as usize;
        let mut distance = distance;
        let mut vpos = vpos;
        loop {
            // A whole-source copy (slot 3) follows the rift: where it crosses a rift
            // breakpoint, the rest is read where the new entry places it. Copies
            // with an explicit delta (slots 0..=2) keep the place they started at
            // (both proven by genuine targets: each rule alone fails some).
            let chunk = match offsets.0.get(next_offset) {
                Some(&(key, _)) if slot == 3 => (key - vpos).clamp(1, length as i64) as usize,
                _ => length,
            };
            copy_match(&mut out, source, vpos, distance, chunk, pos)?;
            length -= chunk;
            if length == 0 {
                break;
            }
            vpos += chunk as i64;
            let old = rift;
            while let Some(&(key, off)) = offsets.0.get(next_offset) {
                if key > vpos {
                    break;
                }
                rift = off;
                next_offset += 1;
            }
            distance = distance.wrapping_sub(rift.wrapping_sub(old));
        }
    }
    Ok(out)
}

/// Appends `length` bytes read at virtual position `vpos − distance` (the source, then
/// the output so far; the copy may overlap what it writes).
fn copy_match(
    out: &mut Vec<u8>,
    source: &[u8],
    vpos: i64,
    distance: i64,
    length: usize,
    pos: u64,
) -> Result<(), BodyError> {
    let bad = || BodyError::BadOffset { pos, distance };
    if distance <= 0 {
        return Err(bad());
    }
    let from = vpos
        .checked_sub(distance)
        .and_then(|f| usize::try_from(f).ok())
        .ok_or_else(bad)?;
    let end = from.checked_add(length).ok_or_else(bad)?;
    let src = source.len();
    if let Some(s) = source.get(from..end) {
        out.extend_from_slice(s);
    } else if from >= src && end - src <= out.len() {
        out.extend_from_within(from - src..end - src);
    } else {
        for k in from..end {
            let b = if k < src {
                source.get(k)
            } else {
                out.get(k - src)
            };
            let Some(&b) = b else {
                return Err(bad());
            };
            out.push(b);
        }
    }
    Ok(())
}

/// The rift as the symbol decoder reads it: (virtual position, offset to add to it)
/// sorted by position; the offset in force at a position is that of the last key at
/// or below it. The end of the source carries the boundary entry (identity map from
/// output offsets to source offsets) and every copy-rift entry `(t, s)` becomes
/// `(len + t, s − (len + t))`.
struct OffsetTable(Vec<(i64, i64)>);

impl OffsetTable {
    fn new(src_len: i64, copy_rift: &[crate::rift::RiftEntry]) -> Self {
        let mut v = Vec::with_capacity(copy_rift.len() + 1);
        v.push((src_len, -src_len));
        for e in copy_rift {
            let key = src_len.wrapping_add(e.source);
            v.push((key, e.target.wrapping_sub(key)));
        }
        // Stable: at one key the later entry wins, as the lookup takes the last.
        v.sort_by_key(|p| p.0);
        OffsetTable(v)
    }
}
