//! What a caller tunes: [`ScanOptions`] and the engine's own limits.

use kbscan_archive::limits::Limits;

/// How deep containers may nest (ZIP → ZIP → MSU → payload → sub-CAB is 5). Deeper
/// nesting is not seen in real packages and is the shape of a recursion bomb.
pub const MAX_NESTING_DEPTH: u32 = 6;

/// Largest input file read from disk. Real MSUs reach ~1 GiB (Windows 10 LCUs);
/// anything far beyond is not an update package we can hold in memory.
pub const MAX_INPUT_BYTES: u64 = 8 << 30;

#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Worker threads; `None` = one per core.
    pub threads: Option<usize>,
    pub limits: Limits,
    pub max_depth: u32,
    pub max_input_bytes: u64,
    /// Decompressed bytes allowed for one input file with everything nested in it; each
    /// input gets its own [`kbscan_archive::limits::Budget`] of this size.
    pub max_package_bytes: u64,
    /// Member bytes one input may hold in memory at once (a
    /// [`kbscan_archive::limits::MemoryBudget`] per input); larger members are spilled to a
    /// temporary file, and a larger input is read by position instead of whole.
    pub max_held_bytes: u64,
    /// Records (members at every nesting level, decoded delta targets) one input may yield.
    pub max_records: u64,
    /// Files never scanned, by identity (the run's own output and its temporary file);
    /// they appear nowhere in the report.
    pub exclude: Vec<crate::walk::FileId>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            threads: None,
            limits: Limits::default(),
            max_depth: MAX_NESTING_DEPTH,
            max_input_bytes: MAX_INPUT_BYTES,
            max_package_bytes: kbscan_archive::limits::DEFAULT_MAX_PACKAGE_BYTES,
            max_held_bytes: kbscan_archive::limits::DEFAULT_MAX_HELD_BYTES,
            max_records: kbscan_archive::limits::DEFAULT_MAX_RECORDS,
            exclude: Vec::new(),
        }
    }
}
