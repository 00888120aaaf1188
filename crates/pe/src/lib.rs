//! kbscan-pe: the facts kbscan needs from a PE image — machine, kind, timestamp and the
//! `VS_VERSIONINFO` resource — read from untrusted bytes.
//!
//! goblin reads the COFF and optional headers; the section table, the resource directory
//! and the version resource are walked here through a bounds-checked cursor, because
//! goblin fails the whole parse on malformed resources and kbscan must still report the
//! file. A damaged version resource is never an error: it becomes an anomaly next to
//! whatever could be read. Only damage that makes the file unreadable as a PE, or a
//! resource directory whose `RT_VERSION` path cannot be followed (truncated, looping), is
//! an error.
//!
//! What this crate must never do:
//! - panic or index an input slice (every read goes through `cursor`, every
//!   `offset + len` is `checked_add`ed);
//! - allocate in proportion to a length read from the file (all such lengths are clamped
//!   by the named constants in [`limits`], and by the file size);
//! - follow a resource directory loop (exactly three levels, ancestors refused);
//! - compare versions as strings (it hands out [`kbscan_version::Version`]).

mod cursor;
mod image;
pub mod limits;
mod rsrc;
mod version_info;

use image::{push, Image, Unmapped};
pub use kbscan_version::Version;
use serde::Serialize;
use std::collections::BTreeMap;

const IMAGE_FILE_DLL: u16 = 0x2000;
const IMAGE_FILE_EXECUTABLE_IMAGE: u16 = 0x0002;
const IMAGE_SUBSYSTEM_NATIVE: u16 = 1;

/// Facts about one PE image.
#[derive(Debug, Clone, Serialize)]
pub struct PeInfo {
    /// COFF `Machine`.
    pub machine: u16,
    /// `"x86"`, `"x64"`, `"arm64"`, `"ia64"`, … or `"0x…"` for anything else.
    pub machine_name: String,
    /// PE32+ optional header.
    pub is_64: bool,
    pub kind: Kind,
    /// COFF `TimeDateStamp` (for recent Windows builds a hash, not a time).
    pub timestamp: u32,
    pub version: Option<VersionResource>,
    /// Things that were wrong but did not stop the read, in the order found.
    pub anomalies: Vec<String>,
}

/// What the image is, from the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `IMAGE_FILE_DLL`.
    Dll,
    /// Native subsystem and not a DLL: kernel drivers, but also e.g. `smss.exe`.
    Sys,
    /// Any other executable image.
    Exe,
    /// Not marked executable.
    Other,
}

/// What the `VS_VERSIONINFO` resource says.
#[derive(Debug, Clone, Serialize)]
pub struct VersionResource {
    /// `VS_FIXEDFILEINFO` file version; `None` when the fixed info is missing or zero.
    pub file_version: Option<Version>,
    /// `VS_FIXEDFILEINFO` product version; `None` when the fixed info is missing or zero.
    pub product_version: Option<Version>,
    /// Key of the string table used, e.g. `"040904B0"` (US English first, else the first).
    pub string_table: Option<String>,
    /// Every string of that table.
    pub strings: BTreeMap<String, String>,
    /// The `FileVersion` string, e.g. `6.0.6003.20489 (vistasp2_ldr_escrow.190320-1700)`.
    pub file_version_string: Option<String>,
    /// The version at the start of `file_version_string`.
    pub file_version_from_string: Option<Version>,
    /// Text in the parentheses after that version, e.g. `vistasp2_ldr_escrow.190320-1700`.
    pub branch_tag: Option<String>,
    pub product_version_string: Option<String>,
    pub original_filename: Option<String>,
    pub company_name: Option<String>,
}

/// Why an image could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum PeError {
    #[error("not a PE image: {reason}")]
    NotPe { reason: &'static str },
    #[error("PE image truncated: {what} at offset {offset:#x} runs past the end of the file")]
    Truncated { what: &'static str, offset: u64 },
    #[error("malformed PE {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("PE headers rejected")]
    Header {
        #[source]
        source: goblin::error::Error,
    },
    #[error("resource directory at offset {offset:#x}: {reason}")]
    ResourceDirectory { reason: String, offset: u64 },
    #[error("{what} is {value}, above the limit of {limit}")]
    TooLarge {
        what: &'static str,
        limit: u64,
        value: u64,
    },
}

impl PeError {
    /// Stable snake_case name of the variant, for reports and per-file error records.
    pub fn kind(&self) -> &'static str {
        match self {
            PeError::NotPe { .. } => "pe_not_pe",
            PeError::Truncated { .. } => "pe_truncated",
            PeError::Malformed { .. } => "pe_malformed",
            PeError::Header { .. } => "pe_header",
            PeError::ResourceDirectory { .. } => "pe_resource_directory",
            PeError::TooLarge { .. } => "pe_too_large",
        }
    }
}

/// Short architecture name of a COFF machine value.
pub fn machine_name(machine: u16) -> String {
    match machine {
        0x014C => "x86".into(),
        0x8664 => "x64".into(),
        0xAA64 => "arm64".into(),
        0xA641 => "arm64ec".into(),
        0x0200 => "ia64".into(),
        0x01C0 | 0x01C4 => "arm".into(),
        other => format!("{other:#06x}"),
    }
}

/// Reads an image. `Ok` with `version: None` when there is no version resource.
pub fn read(bytes: &[u8]) -> Result<PeInfo, PeError> {
    let mut anomalies = Vec::new();
    let image = Image::parse(bytes, &mut anomalies)?;
    let kind = if image.characteristics & IMAGE_FILE_DLL != 0 {
        Kind::Dll
    } else if image.subsystem == IMAGE_SUBSYSTEM_NATIVE {
        Kind::Sys
    } else if image.characteristics & IMAGE_FILE_EXECUTABLE_IMAGE != 0 {
        Kind::Exe
    } else {
        Kind::Other
    };
    let version = read_version(bytes, &image, &mut anomalies)?;
    Ok(PeInfo {
        machine: image.machine,
        machine_name: machine_name(image.machine),
        is_64: image.is_64,
        kind,
        timestamp: image.timestamp,
        version,
        anomalies,
    })
}

fn read_version(
    bytes: &[u8],
    image: &Image,
    anomalies: &mut Vec<String>,
) -> Result<Option<VersionResource>, PeError> {
    let Some((dir_rva, _)) = image.resource_dir else {
        return Ok(None);
    };
    let root = image
        .map_rva(dir_rva, bytes.len())
        .map_err(|why| PeError::ResourceDirectory {
            reason: match why {
                Unmapped::NoSection => format!("RVA {dir_rva:#x} is in no section"),
                Unmapped::NotInFile => format!("RVA {dir_rva:#x} is not backed by file data"),
            },
            offset: u64::from(dir_rva),
        })?;
    let rsrc = cursor::bytes_at(bytes, root.offset, root.available).unwrap_or_default();
    let entries =
        rsrc::version_entries(rsrc, anomalies).map_err(|e| PeError::ResourceDirectory {
            reason: e.reason,
            offset: (root.offset as u64).saturating_add(e.offset as u64),
        })?;
    let Some(first) = entries.first() else {
        return Ok(None);
    };
    if entries.len() > 1 {
        push(
            anomalies,
            format!(
                "{} RT_VERSION resources; using name {} language {}",
                entries.len(),
                first.name,
                first.lang
            ),
        );
    }

    let data = match image.map_rva(first.data_rva, bytes.len()) {
        Ok(m) => {
            let mut len = first.data_size;
            if len > limits::MAX_VERSION_BYTES {
                push(
                    anomalies,
                    format!(
                        "version resource size {len} above the limit of {}; clamped",
                        limits::MAX_VERSION_BYTES
                    ),
                );
                len = limits::MAX_VERSION_BYTES;
            }
            let mut len = len as usize;
            if len > m.available {
                push(
                    anomalies,
                    format!(
                        "version resource ({len} bytes) truncated to the {} bytes in the file",
                        m.available
                    ),
                );
                len = m.available;
            }
            cursor::bytes_at(bytes, m.offset, len).unwrap_or_default()
        }
        Err(_) => {
            push(
                anomalies,
                format!(
                    "version resource data at RVA {:#x} is not in the file",
                    first.data_rva
                ),
            );
            return Ok(None);
        }
    };

    let parsed = version_info::parse(data, anomalies);
    Ok(Some(build_resource(parsed, anomalies)))
}

fn build_resource(parsed: version_info::Parsed, anomalies: &mut Vec<String>) -> VersionResource {
    let nonzero = |v: Version| (!v.is_zero()).then_some(v);
    let (file_version, product_version) = match parsed.fixed {
        Some((f, p)) => {
            if f.is_zero() && p.is_zero() {
                push(anomalies, "VS_FIXEDFILEINFO versions are all zero".into());
            }
            (nonzero(f), nonzero(p))
        }
        None => (None, None),
    };
    let chosen = version_info::preferred_table(&parsed.tables);
    let mut strings = BTreeMap::new();
    let mut string_table = None;
    if let Some((key, list)) = chosen.and_then(|i| parsed.tables.into_iter().nth(i)) {
        for (k, v) in list {
            if strings.contains_key(&k) {
                push(anomalies, format!("duplicate string {k:?}; first kept"));
                continue;
            }
            strings.insert(k, v);
        }
        string_table = Some(key);
    }
    let file_version_string = strings.get("FileVersion").cloned();
    let (file_version_from_string, branch_tag) = match &file_version_string {
        Some(s) => match Version::parse_prefix(s) {
            Some((v, rest)) => (Some(v), branch_tag(rest)),
            None => (None, None),
        },
        None => (None, None),
    };
    if let (Some(fixed), Some(from_string)) = (file_version, file_version_from_string) {
        if fixed != from_string {
            push(
                anomalies,
                format!("FileVersion string {from_string} differs from fixed file version {fixed}"),
            );
        }
    }
    VersionResource {
        file_version,
        product_version,
        string_table,
        file_version_string,
        file_version_from_string,
        branch_tag,
        product_version_string: strings.get("ProductVersion").cloned(),
        original_filename: strings.get("OriginalFilename").cloned(),
        company_name: strings.get("CompanyName").cloned(),
        strings,
    }
}

/// `"(vistasp2_ldr_escrow.190320-1700)"` → `vistasp2_ldr_escrow.190320-1700`. Text that
/// is not in parentheses is not a branch tag (e.g. `built by: WinDDK`).
fn branch_tag(rest: &str) -> Option<String> {
    let inner = rest.trim().strip_prefix('(')?;
    let inner = inner.split_once(')').map_or(inner, |(tag, _)| tag).trim();
    (!inner.is_empty()).then(|| inner.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_tag_needs_parentheses() {
        assert_eq!(
            branch_tag(" (vistasp2_ldr_escrow.190320-1700)").as_deref(),
            Some("vistasp2_ldr_escrow.190320-1700")
        );
        assert_eq!(branch_tag("(unclosed").as_deref(), Some("unclosed"));
        assert_eq!(branch_tag("built by: WinDDK"), None);
        assert_eq!(branch_tag("()"), None);
    }

    #[test]
    fn machine_names() {
        assert_eq!(machine_name(0x14C), "x86");
        assert_eq!(machine_name(0x8664), "x64");
        assert_eq!(machine_name(0x1234), "0x1234");
    }

    #[test]
    fn error_kinds_are_distinct() {
        let errs = [
            PeError::NotPe { reason: "" },
            PeError::Truncated {
                what: "",
                offset: 0,
            },
            PeError::Malformed {
                what: "",
                detail: String::new(),
            },
            PeError::ResourceDirectory {
                reason: String::new(),
                offset: 0,
            },
            PeError::TooLarge {
                what: "",
                limit: 0,
                value: 0,
            },
        ];
        let mut kinds: Vec<_> = errs.iter().map(PeError::kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), errs.len());
    }
}
