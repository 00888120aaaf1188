//! ZIP reading through the `zip` crate, bounded by [`Limits`].
//!
//! Declared sizes in ZIP headers are attacker-controlled, so nothing is allocated from them:
//! each entry is read through `Read::take(max + 1)` into a buffer that grows with the bytes
//! actually produced, and one byte past the limit proves the entry is too big. Names are
//! handed to the sink as stored (`..`, absolute paths and all): this crate never writes to
//! disk, the scanner decides what a name means.

use std::io::{Cursor, Read};

use crate::limits::{self, Limits};

/// Errors from [`for_each_entry`]; `Archive` ends the container, the others are per entry.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("unreadable zip archive: {0}")]
    Archive(#[source] ::zip::result::ZipError),
    #[error("zip entry {index} ({name:?}): {source}")]
    Entry {
        index: usize,
        name: String,
        #[source]
        source: ::zip::result::ZipError,
    },
    #[error("zip entry {index} ({name:?}): read failed: {source}")]
    Read {
        index: usize,
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("limit {limit} exceeded: {value} > {max}")]
    Limit {
        limit: &'static str,
        value: u64,
        max: u64,
    },
}

impl ZipError {
    /// Stable snake_case identifier per variant.
    pub fn kind(&self) -> &'static str {
        match self {
            ZipError::Archive(_) => "zip_archive",
            ZipError::Entry { .. } => "zip_entry",
            ZipError::Read { .. } => "zip_read",
            ZipError::Limit { .. } => "zip_limit",
        }
    }
}

/// Receives each entry's raw name and its bytes, or why they could not be read.
pub type EntrySink<'s> = dyn FnMut(&str, Result<&[u8], ZipError>) + 's;

/// Initial buffer reservation per entry: small, because the declared size is not trusted.
const INITIAL_ENTRY_CAPACITY: u64 = 64 * 1024;

/// Calls `sink` once per file entry (directories are skipped) in central-directory order,
/// with the entry's bytes or the reason they could not be read. Returns `Err` only when the
/// archive itself is unreadable or a container-wide limit stops the walk.
pub fn for_each_entry(
    bytes: &[u8],
    limits: &Limits,
    sink: &mut EntrySink<'_>,
) -> Result<(), ZipError> {
    let mut archive = ::zip::ZipArchive::new(Cursor::new(bytes)).map_err(ZipError::Archive)?;
    let count = archive.len();
    if count as u64 > u64::from(limits.max_entries) {
        return Err(ZipError::Limit {
            limit: limits::LIMIT_ENTRIES,
            value: count as u64,
            max: limits.max_entries.into(),
        });
    }
    let mut total: u64 = 0;
    let mut buf = Vec::new();
    for index in 0..count {
        // Taken before opening the entry: an entry that fails to open still needs a name.
        let listed_name = match archive.name_for_index(index) {
            Some(Ok(n)) => n.into_owned(),
            _ => format!("#{index}"),
        };
        let mut file = match archive.by_index(index) {
            Ok(f) => f,
            Err(source) => {
                let name = listed_name;
                let err = ZipError::Entry {
                    index,
                    name: name.clone(),
                    source,
                };
                sink(&name, Err(err));
                continue;
            }
        };
        let name = match file.name() {
            Ok(n) => n.into_owned(),
            Err(_) => String::from_utf8_lossy(file.name_raw()).into_owned(),
        };
        if file.is_dir() {
            continue;
        }
        if name.len() > limits.max_name_len {
            sink(
                &name,
                Err(ZipError::Limit {
                    limit: limits::LIMIT_NAME_LEN,
                    value: name.len() as u64,
                    max: limits.max_name_len as u64,
                }),
            );
            continue;
        }
        let left = limits.max_total_bytes.saturating_sub(total);
        let cap = limits.max_entry_bytes.min(left);
        buf.clear();
        buf.reserve(file.size().min(cap).min(INITIAL_ENTRY_CAPACITY) as usize);
        let read = (&mut file)
            .take(cap.saturating_add(1))
            .read_to_end(&mut buf);
        drop(file);
        if let Err(source) = read {
            sink(
                &name,
                Err(ZipError::Read {
                    index,
                    name: name.clone(),
                    source,
                }),
            );
            continue;
        }
        let got = buf.len() as u64;
        if got > limits.max_entry_bytes {
            sink(
                &name,
                Err(ZipError::Limit {
                    limit: limits::LIMIT_ENTRY_BYTES,
                    value: got,
                    max: limits.max_entry_bytes,
                }),
            );
            continue;
        }
        if got > left {
            let err = || ZipError::Limit {
                limit: limits::LIMIT_TOTAL_BYTES,
                value: total.saturating_add(got),
                max: limits.max_total_bytes,
            };
            sink(&name, Err(err()));
            return Err(err());
        }
        if let Some(budget) = &limits.package_budget {
            if let Err(value) = budget.take(got) {
                let err = || ZipError::Limit {
                    limit: limits::LIMIT_PACKAGE_BYTES,
                    value,
                    max: budget.max(),
                };
                sink(&name, Err(err()));
                return Err(err());
            }
        }
        total += got;
        sink(&name, Ok(&buf));
    }
    Ok(())
}
