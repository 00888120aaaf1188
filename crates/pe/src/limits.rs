//! Every bound kbscan-pe puts on hostile input, in one place. Errors and anomalies name
//! the limit and the value that crossed it.

/// PE offsets and RVAs are 32-bit; a larger input cannot be a well-formed image.
pub const MAX_FILE_BYTES: u64 = u32::MAX as u64;

/// Section headers we are willing to read. Real system binaries have fewer than 20; the
/// format allows 65535, and the section table is copied into a `Vec`, so cap it.
pub const MAX_SECTIONS: u16 = 1024;

/// Entries examined in any one resource directory table (the header may claim up to
/// 2 × 65535). Entries past this are ignored with an anomaly.
pub const MAX_DIR_ENTRIES: u32 = 4096;

/// Entries examined over the whole walk, so shared subdirectories cannot multiply work.
pub const MAX_TOTAL_DIR_ENTRIES: u32 = 16_384;

/// Levels of the resource tree: type → name → language → data entry.
pub const RESOURCE_DEPTH: usize = 3;

/// `RT_VERSION` entries collected before we stop looking (only the first is used).
pub const MAX_VERSION_CANDIDATES: usize = 64;

/// Bytes of one `VS_VERSIONINFO` we parse. `wLength` is 16-bit, so a genuine resource is
/// below 64 KiB; a larger data entry is clamped to this.
pub const MAX_VERSION_BYTES: u32 = 64 * 1024;

/// Version blocks (any level) visited in one resource.
pub const MAX_VERSION_BLOCKS: usize = 2048;

/// Strings kept from one string table.
pub const MAX_STRINGS: usize = 256;

/// UTF-16 units read for a block key (`szKey`); real keys are under 32.
pub const MAX_KEY_UNITS: usize = 256;

/// Anomalies recorded per file; a hostile file could otherwise produce one per block.
pub const MAX_ANOMALIES: usize = 64;
