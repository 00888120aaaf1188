//! Every bound this crate enforces on untrusted input, in one place.
//!
//! Two kinds live here: format constants fixed by the specifications (a CFDATA block never
//! inflates to more than 32 KiB, an LZX window is 2^15..=2^21 bytes) and policy limits a
//! caller may tune through [`Limits`]. Errors that trip a policy limit name it by the
//! `LIMIT_*` string below, with the offending value and the maximum, so a report can say
//! exactly which knob to turn.

/// MS-CAB: a CFDATA block's `cbUncomp` is at most 32 KiB (LZX frames are exactly this).
pub const CAB_MAX_BLOCK_UNCOMPRESSED: u32 = 32_768;
/// Largest `cbData` accepted. Incompressible data makes a block's compressed form slightly
/// larger than its 32 KiB output (MSZIP stored blocks, LZX uncompressed blocks plus framing);
/// 6 KiB of slack covers that with a wide margin while still rejecting nonsense.
pub const CAB_MAX_BLOCK_COMPRESSED: u32 = CAB_MAX_BLOCK_UNCOMPRESSED + 6_144;
/// MSZIP: history carried from one block to the next (the deflate window).
pub const MSZIP_HISTORY: usize = 32_768;
/// LZX window sizes a CAB folder may declare (`typeCompress` bits 8..=12).
pub const LZX_MIN_WINDOW_BITS: u8 = 15;
/// See [`LZX_MIN_WINDOW_BITS`]; 21 is the largest window MS-CAB defines (and `kbscan-lzx` decodes).
pub const LZX_MAX_WINDOW_BITS: u8 = 21;
/// MS-CAB `CB_MAX_CAB_PATH` / `CB_MAX_DISK_NAME`: prev/next cabinet and disk strings.
pub const CAB_MAX_SET_STRING: usize = 256;

/// MS-CAB `CB_MAX_FILENAME` is 256 bytes including the terminating NUL. libmspack and
/// cabextract reject longer names (`cve-2017-11423-fname-overread.cab`), so do we.
pub const CAB_MAX_FILENAME: usize = 255;

/// Names used in [`crate::cab::CabError::Limit`] and [`crate::zip::ZipError::Limit`].
pub const LIMIT_ENTRIES: &str = "max_entries";
/// See [`LIMIT_ENTRIES`].
pub const LIMIT_ENTRY_BYTES: &str = "max_entry_bytes";
/// See [`LIMIT_ENTRIES`].
pub const LIMIT_TOTAL_BYTES: &str = "max_total_bytes";
/// See [`LIMIT_ENTRIES`]: the [`Budget`] shared by every container of one input.
pub const LIMIT_PACKAGE_BYTES: &str = "max_package_bytes";
/// See [`LIMIT_ENTRIES`].
pub const LIMIT_NAME_LEN: &str = "max_name_len";
/// See [`LIMIT_ENTRIES`]: members (and records derived from them) of one input.
pub const LIMIT_RECORDS: &str = "max_records";
/// See [`LIMIT_ENTRIES`]: the [`MemoryBudget`] of one input, when spilling is impossible.
pub const LIMIT_HELD_BYTES: &str = "max_held_bytes";
/// See [`LIMIT_ENTRIES`].
pub const LIMIT_HEADER_RESERVE: &str = "max_header_reserve";
/// Fixed by MS-CAB, not tunable: CFFILE names ([`CAB_MAX_FILENAME`]).
pub const LIMIT_CAB_FILENAME: &str = "cab_filename_len";
/// Fixed by MS-CAB, not tunable: strings naming the previous/next cabinet of a set.
pub const LIMIT_SET_STRING: &str = "cab_set_string_len";

/// Default for [`Limits::max_entries`]: CAB counts files in a `u16`; real MSU payloads
/// reach ~20,000. ZIP has no such bound, so the default keeps the same ceiling.
pub const DEFAULT_MAX_ENTRIES: u32 = 65_535;
/// Default for [`Limits::max_entry_bytes`]: the largest single files in Windows updates
/// (e.g. `MRT.exe`, language packs' `.esd` are elsewhere) are well under 1 GiB.
pub const DEFAULT_MAX_ENTRY_BYTES: u64 = 1 << 30;
/// Default for [`Limits::max_total_bytes`]: the largest payload cabinets of 6.x rollups
/// decompress to ~2-3 GiB; 8 GiB leaves room and still stops a bomb after seconds of CPU.
pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 8 << 30;
/// Default [`Budget`] for one input file with everything nested in it (an MSU, its payload
/// CAB, sub-CABs; a ZIP of MSUs). Without it, every nesting level would get its own
/// [`Limits::max_total_bytes`] and a bomb of nested cabinets would multiply the work.
pub const DEFAULT_MAX_PACKAGE_BYTES: u64 = 16 << 30;
/// Default [`MemoryBudget`] of one input: member bytes held in memory at once, across every
/// nesting level, before readers spill to an anonymous temporary file. Large enough that a
/// genuine payload CAB of a few hundred MB inside its MSU is read from memory (the fast
/// path); small enough that a nest of gigabyte members stays far below 1 GiB of RSS.
pub const DEFAULT_MAX_HELD_BYTES: u64 = 512 << 20;
/// Default number of records (members of every nesting level, and what a scanner derives
/// from them) one input may produce. Genuine packages hold tens of thousands of files; a
/// few hundred bytes of overlapping CFFILE entries can name millions, and each record costs
/// memory downstream (a scan keeps several hundred bytes per file).
pub const DEFAULT_MAX_RECORDS: u64 = 300_000;
/// Default for [`Limits::max_name_len`]: MS-CAB `CB_MAX_FILENAME` is 256; ZIP names in
/// update bundles are paths of a few hundred bytes. Allow some slack for both.
pub const DEFAULT_MAX_NAME_LEN: usize = 1_024;
/// Default for [`Limits::max_header_reserve`]: MS-CAB caps `cbCFHeader` at 60,000.
pub const DEFAULT_MAX_HEADER_RESERVE: u32 = 60_000;

/// A decompression allowance shared by all the containers read for one input: every CAB
/// block and ZIP member decoded takes from it, whatever its nesting level. Cloning shares
/// the allowance.
#[derive(Debug, Clone)]
pub struct Budget(std::sync::Arc<BudgetInner>);

#[derive(Debug)]
struct BudgetInner {
    max: u64,
    used: std::sync::atomic::AtomicU64,
}

impl Budget {
    pub fn new(max: u64) -> Self {
        Budget(std::sync::Arc::new(BudgetInner {
            max,
            used: std::sync::atomic::AtomicU64::new(0),
        }))
    }

    pub fn max(&self) -> u64 {
        self.0.max
    }

    /// Bytes taken so far (may exceed [`max`](Self::max) by the refused request).
    pub fn used(&self) -> u64 {
        self.0.used.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Takes `bytes`; when that crosses the maximum, returns the total it would reach.
    pub fn take(&self, bytes: u64) -> Result<(), u64> {
        let before = self
            .0
            .used
            .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
        let after = before.saturating_add(bytes);
        if after > self.0.max {
            Err(after)
        } else {
            Ok(())
        }
    }
}

/// Member bytes one input holds in memory at once, shared by every reader of that input (a
/// CAB folder buffer, a ZIP entry, a nested container's copy). A reader asks before it
/// grows; when the answer is no, it moves the member to a [`crate::Spill`] instead, so
/// memory is bounded by this budget plus fixed windows, never by member sizes. Cloning
/// shares the budget.
#[derive(Debug, Clone)]
pub struct MemoryBudget(std::sync::Arc<BudgetInner>);

impl MemoryBudget {
    pub fn new(max: u64) -> Self {
        MemoryBudget(std::sync::Arc::new(BudgetInner {
            max,
            used: std::sync::atomic::AtomicU64::new(0),
        }))
    }

    pub fn max(&self) -> u64 {
        self.0.max
    }

    /// Bytes held right now.
    pub fn held(&self) -> u64 {
        self.0.used.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A zero-sized claim that can [`Held::grow`].
    pub fn claim(&self) -> Held {
        Held {
            budget: self.clone(),
            bytes: 0,
        }
    }

    fn try_add(&self, n: u64) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        self.0
            .used
            .fetch_update(Relaxed, Relaxed, |u| {
                u.checked_add(n).filter(|&t| t <= self.0.max)
            })
            .is_ok()
    }

    fn sub(&self, n: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let _ = self
            .0
            .used
            .fetch_update(Relaxed, Relaxed, |u| Some(u.saturating_sub(n)));
    }
}

/// Bytes claimed from a [`MemoryBudget`]; given back when dropped.
#[derive(Debug)]
pub struct Held {
    budget: MemoryBudget,
    bytes: u64,
}

impl Held {
    /// Claims `n` more bytes; `false` (and nothing claimed) when that would pass the budget.
    #[must_use]
    pub fn grow(&mut self, n: u64) -> bool {
        let ok = self.budget.try_add(n);
        if ok {
            self.bytes += n;
        }
        ok
    }

    /// Gives back all but `keep` bytes.
    pub fn shrink_to(&mut self, keep: u64) {
        if keep < self.bytes {
            self.budget.sub(self.bytes - keep);
            self.bytes = keep;
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.sub(self.bytes);
    }
}

/// Two handles are equal when they share one budget.
impl PartialEq for MemoryBudget {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for MemoryBudget {}

/// Two handles are equal when they share one allowance.
impl PartialEq for Budget {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for Budget {}

/// Caller-tunable bounds applied while reading one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most files a single container may list.
    pub max_entries: u32,
    /// Largest decompressed entry delivered; bigger entries get a per-entry `Limit` error.
    pub max_entry_bytes: u64,
    /// Most decompressed bytes produced for one container (CAB: all folders together).
    pub max_total_bytes: u64,
    /// Longest entry name in bytes.
    pub max_name_len: usize,
    /// Largest CAB header reserve area (`cbCFHeader`).
    pub max_header_reserve: u32,
    /// Shared with the other containers of the same input; `None` = only the per-container
    /// limits apply.
    pub package_budget: Option<Budget>,
    /// Member bytes the readers of one input may hold in memory; beyond it they spill to a
    /// temporary file. `None` = no bound (everything in memory, as before spilling existed).
    pub memory: Option<MemoryBudget>,
    /// Records one input may produce, taken one per member by [`crate::walker::Walker`]
    /// (and by consumers for what they derive); `None` = no bound.
    pub records: Option<Budget>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: DEFAULT_MAX_ENTRIES,
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
            max_total_bytes: DEFAULT_MAX_TOTAL_BYTES,
            max_name_len: DEFAULT_MAX_NAME_LEN,
            max_header_reserve: DEFAULT_MAX_HEADER_RESERVE,
            package_budget: None,
            memory: None,
            records: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_budget_claims_and_gives_back() {
        let m = MemoryBudget::new(100);
        let mut a = m.claim();
        assert!(a.grow(60));
        let mut b = m.claim();
        assert!(!b.grow(41), "would pass the budget");
        assert_eq!(b.bytes(), 0);
        assert!(b.grow(40));
        assert_eq!(m.held(), 100);
        a.shrink_to(10);
        assert_eq!(m.held(), 50);
        drop(b);
        assert_eq!(m.held(), 10);
        assert!(!a.grow(u64::MAX), "no overflow");
        drop(a);
        assert_eq!(m.held(), 0);
    }
}
