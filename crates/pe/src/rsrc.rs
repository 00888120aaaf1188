//! Walks the resource directory to the `RT_VERSION` data entries.
//!
//! The tree has exactly three levels (type → name → language) and then an
//! `IMAGE_RESOURCE_DATA_ENTRY`. Subdirectory offsets are relative to the directory root
//! and untrusted: we follow exactly three levels, refuse any offset that points back to
//! an ancestor (a loop), and cap the entries examined per table and overall.

use crate::cursor::{u16_at, u32_at, Cursor, OutOfBounds};
use crate::image::push;
use crate::limits;

const RT_VERSION: u32 = 16;
const SIZEOF_DIRECTORY: usize = 16;
const SIZEOF_ENTRY: usize = 8;
const SIZEOF_DATA_ENTRY: usize = 16;
const HIGH_BIT: u32 = 0x8000_0000;

/// A resource name or id. Ids sort before names, as in the directory itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Key {
    Id(u32),
    /// Named entry; we keep its position, not the string.
    Named(u32),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Id(id) => write!(f, "{id}"),
            Key::Named(i) => write!(f, "name#{i}"),
        }
    }
}

/// One `RT_VERSION` resource: its name and language, and where its data is (an RVA).
#[derive(Debug, Clone)]
pub(crate) struct VersionEntry {
    pub name: Key,
    pub lang: Key,
    pub data_rva: u32,
    pub data_size: u32,
}

/// Why the walk failed, with the offset relative to the directory root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DirError {
    pub reason: String,
    pub offset: usize,
}

struct Walker<'a> {
    rsrc: &'a [u8],
    budget: u32,
}

struct Entry {
    key: Key,
    target: u32,
}

fn truncated(what: &str, e: OutOfBounds) -> DirError {
    DirError {
        reason: format!(
            "{what} at offset {:#x} (+{} bytes) runs past the end of the resource section",
            e.offset, e.len
        ),
        offset: e.offset,
    }
}

impl<'a> Walker<'a> {
    /// Reads the entries of the table at `offset`, calling `visit` for each until it
    /// returns `false`.
    fn entries(
        &mut self,
        offset: usize,
        anomalies: &mut Vec<String>,
        mut visit: impl FnMut(Entry) -> Result<bool, DirError>,
    ) -> Result<(), DirError> {
        let mut c = Cursor::at(self.rsrc, offset);
        let header = c
            .bytes(SIZEOF_DIRECTORY)
            .map_err(|e| truncated("resource directory table", e))?;
        let named = u32::from(u16_at(header, 12).unwrap_or(0));
        let ids = u32::from(u16_at(header, 14).unwrap_or(0));
        let total = named + ids;
        let mut count = total;
        if count > limits::MAX_DIR_ENTRIES {
            push(
                anomalies,
                format!(
                    "resource directory at {offset:#x} claims {total} entries; only {} examined",
                    limits::MAX_DIR_ENTRIES
                ),
            );
            count = limits::MAX_DIR_ENTRIES;
        }
        for i in 0..count {
            if self.budget == 0 {
                return Err(DirError {
                    reason: format!(
                        "more than {} resource directory entries examined",
                        limits::MAX_TOTAL_DIR_ENTRIES
                    ),
                    offset: c.pos(),
                });
            }
            self.budget -= 1;
            let e = c
                .bytes(SIZEOF_ENTRY)
                .map_err(|e| truncated("resource directory entry", e))?;
            let name = u32_at(e, 0).unwrap_or(0);
            let target = u32_at(e, 4).unwrap_or(0);
            let key = if i < named || name & HIGH_BIT != 0 {
                Key::Named(i)
            } else {
                Key::Id(name)
            };
            if !visit(Entry { key, target })? {
                break;
            }
        }
        Ok(())
    }
}

/// Follows a subdirectory pointer, refusing loops and leaf pointers where a table is due.
fn subdir(target: u32, at: usize, ancestors: &[usize]) -> Result<usize, DirError> {
    if target & HIGH_BIT == 0 {
        return Err(DirError {
            reason: format!("entry points to data at {target:#x} where a subdirectory is expected"),
            offset: at,
        });
    }
    let off = (target & !HIGH_BIT) as usize;
    if ancestors.contains(&off) {
        return Err(DirError {
            reason: format!("resource directory loops back to offset {off:#x}"),
            offset: off,
        });
    }
    Ok(off)
}

/// All `RT_VERSION` entries, sorted by (name, language). `rsrc` starts at the directory
/// root and ends at the end of the section's raw data (clamped to the file).
pub(crate) fn version_entries(
    rsrc: &[u8],
    anomalies: &mut Vec<String>,
) -> Result<Vec<VersionEntry>, DirError> {
    let mut w = Walker {
        rsrc,
        budget: limits::MAX_TOTAL_DIR_ENTRIES,
    };
    let root = 0usize;
    let mut type_dirs = Vec::new();
    w.entries(root, anomalies, |e| match e.key {
        Key::Id(RT_VERSION) => {
            type_dirs.push(subdir(e.target, root, &[root])?);
            Ok(true)
        }
        // Id entries are sorted: once past RT_VERSION there is nothing more to find,
        // and a damaged tail of the root table cannot hurt us.
        Key::Id(id) if id > RT_VERSION => Ok(false),
        _ => Ok(true),
    })?;
    if type_dirs.len() > 1 {
        push(
            anomalies,
            format!(
                "{} RT_VERSION type entries in the root directory",
                type_dirs.len()
            ),
        );
    }

    let mut found = Vec::new();
    for type_dir in type_dirs {
        let mut name_dirs = Vec::new();
        w.entries(type_dir, anomalies, |e| {
            name_dirs.push((e.key, subdir(e.target, type_dir, &[root, type_dir])?));
            Ok(name_dirs.len() < limits::MAX_VERSION_CANDIDATES)
        })?;
        for (name, lang_dir) in name_dirs {
            let mut leaves = Vec::new();
            w.entries(lang_dir, anomalies, |e| {
                if e.target & HIGH_BIT != 0 {
                    let off = (e.target & !HIGH_BIT) as usize;
                    let reason = if [root, type_dir, lang_dir].contains(&off) {
                        format!("resource directory loops back to offset {off:#x}")
                    } else {
                        format!(
                            "resource tree deeper than {} levels at offset {off:#x}",
                            limits::RESOURCE_DEPTH
                        )
                    };
                    return Err(DirError {
                        reason,
                        offset: off,
                    });
                }
                leaves.push((e.key, e.target as usize));
                Ok(leaves.len() < limits::MAX_VERSION_CANDIDATES)
            })?;
            for (lang, data_off) in leaves {
                let mut c = Cursor::at(rsrc, data_off);
                let d = c
                    .bytes(SIZEOF_DATA_ENTRY)
                    .map_err(|e| truncated("resource data entry", e))?;
                found.push(VersionEntry {
                    name,
                    lang,
                    data_rva: u32_at(d, 0).unwrap_or(0),
                    data_size: u32_at(d, 4).unwrap_or(0),
                });
            }
            if found.len() >= limits::MAX_VERSION_CANDIDATES {
                break;
            }
        }
    }
    found.sort_by_key(|e| (e.name, e.lang));
    Ok(found)
}
