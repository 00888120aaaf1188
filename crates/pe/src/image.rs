//! PE headers: our own pre-checks for precise errors, goblin for the COFF and optional
//! headers, our own section table reader, and RVA → file offset mapping.

use crate::cursor::{bytes_at, u16_at, u32_at, Cursor};
use crate::limits;
use crate::PeError;
use goblin::pe::header::Header;

const DOS_MAGIC: &[u8] = b"MZ";
const PE_MAGIC: &[u8] = b"PE\0\0";
const E_LFANEW_OFFSET: usize = 0x3C;
const SIZEOF_COFF_HEADER: usize = 20;
const SIZEOF_SECTION_HEADER: usize = 40;
const OPTIONAL_MAGIC_PE32: u16 = 0x10B;
const OPTIONAL_MAGIC_PE32_PLUS: u16 = 0x20B;

/// One section header, as far as mapping needs it.
#[derive(Debug, Clone)]
pub(crate) struct Section {
    pub name: String,
    pub virtual_address: u32,
    pub virtual_size: u32,
    pub raw_offset: u32,
    pub raw_size: u32,
}

/// What `read` needs from the headers.
#[derive(Debug)]
pub(crate) struct Image {
    pub machine: u16,
    pub characteristics: u16,
    pub timestamp: u32,
    pub is_64: bool,
    pub subsystem: u16,
    pub size_of_headers: u32,
    pub resource_dir: Option<(u32, u32)>,
    pub sections: Vec<Section>,
}

/// Where an RVA lands in the file and how many bytes are really there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mapped {
    pub offset: usize,
    /// Bytes from `offset` to the end of the section's raw data, clamped to the file.
    pub available: usize,
}

/// Why an RVA could not be mapped to file bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unmapped {
    /// No section (and not the headers) covers it.
    NoSection,
    /// The section covers it only virtually (zero-fill) or its raw data starts past EOF.
    NotInFile,
}

impl Image {
    pub fn parse(bytes: &[u8], anomalies: &mut Vec<String>) -> Result<Image, PeError> {
        let len = bytes.len() as u64;
        if len > limits::MAX_FILE_BYTES {
            return Err(PeError::TooLarge {
                what: "file size",
                limit: limits::MAX_FILE_BYTES,
                value: len,
            });
        }
        if bytes.get(..2) != Some(DOS_MAGIC) {
            return Err(PeError::NotPe {
                reason: "no MZ signature",
            });
        }
        let e_lfanew = u32_at(bytes, E_LFANEW_OFFSET).map_err(|_| PeError::Truncated {
            what: "DOS header",
            offset: 0,
        })?;
        let pe_off = e_lfanew as usize;
        let sig = bytes_at(bytes, pe_off, 4).map_err(|_| PeError::Truncated {
            what: "PE signature",
            offset: u64::from(e_lfanew),
        })?;
        if sig != PE_MAGIC {
            return Err(PeError::NotPe {
                reason: "no PE signature at e_lfanew",
            });
        }
        let coff_off = pe_off + 4; // cannot overflow: pe_off + 4 <= len
        let mut c = Cursor::at(bytes, coff_off);
        let coff = c
            .bytes(SIZEOF_COFF_HEADER)
            .map_err(|_| PeError::Truncated {
                what: "COFF header",
                offset: coff_off as u64,
            })?;
        let n_sections = u16_at(coff, 2).unwrap_or(0);
        let size_of_optional = u16_at(coff, 16).unwrap_or(0);
        if size_of_optional == 0 {
            return Err(PeError::Malformed {
                what: "optional header",
                detail: "SizeOfOptionalHeader is 0 (an object file, not an image)".into(),
            });
        }
        let opt_off = c.pos();
        bytes_at(bytes, opt_off, usize::from(size_of_optional)).map_err(|_| {
            PeError::Truncated {
                what: "optional header",
                offset: opt_off as u64,
            }
        })?;
        if n_sections > limits::MAX_SECTIONS {
            return Err(PeError::TooLarge {
                what: "number of sections",
                limit: u64::from(limits::MAX_SECTIONS),
                value: u64::from(n_sections),
            });
        }

        // goblin reads the COFF and optional headers. `parse_without_dos` starts at the
        // PE signature and skips the Rich header, which a strict parse can reject and
        // which we never need.
        let pe_slice = bytes.get(pe_off..).unwrap_or_default();
        let header =
            Header::parse_without_dos(pe_slice).map_err(|source| PeError::Header { source })?;
        let opt = header.optional_header.ok_or(PeError::Malformed {
            what: "optional header",
            detail: "missing".into(),
        })?;
        let is_64 = match opt.standard_fields.magic {
            OPTIONAL_MAGIC_PE32 => false,
            OPTIONAL_MAGIC_PE32_PLUS => true,
            other => {
                return Err(PeError::Malformed {
                    what: "optional header",
                    detail: format!("magic {other:#x}"),
                })
            }
        };
        let machine = header.coff_header.machine;
        let expect_64 = matches!(machine, 0x8664 | 0xAA64 | 0x200 | 0xA641);
        let expect_32 = matches!(machine, 0x14C | 0x1C0 | 0x1C4);
        if (is_64 && expect_32) || (!is_64 && expect_64) {
            push(
                anomalies,
                format!(
                    "machine {} with a {} optional header",
                    crate::machine_name(machine),
                    if is_64 { "PE32+" } else { "PE32" }
                ),
            );
        }
        let resource_dir = opt
            .data_directories
            .get_resource_table()
            .filter(|d| d.virtual_address != 0)
            .map(|d| (d.virtual_address, d.size));

        // The section table is read here rather than by goblin: goblin resolves COFF
        // long names (`/nnn`, `//base64`) and fails the whole parse when one is
        // malformed, and images never need those names.
        // Cannot overflow: the optional header was just found inside `bytes`.
        let table_off = opt_off + usize::from(size_of_optional);
        let mut c = Cursor::at(bytes, table_off);
        let mut sections = Vec::with_capacity(usize::from(n_sections));
        for _ in 0..n_sections {
            let h = c
                .bytes(SIZEOF_SECTION_HEADER)
                .map_err(|e| PeError::Truncated {
                    what: "section table",
                    offset: e.offset as u64,
                })?;
            let field = |at| u32_at(h, at).unwrap_or(0);
            let name_bytes = bytes_at(h, 0, 8).unwrap_or_default();
            let name_end = name_bytes.iter().position(|&b| b == 0).unwrap_or(8);
            let name = String::from_utf8_lossy(name_bytes.get(..name_end).unwrap_or_default());
            let s = Section {
                name: name.into_owned(),
                virtual_size: field(8),
                virtual_address: field(12),
                raw_size: field(16),
                raw_offset: field(20),
            };
            if u64::from(s.raw_offset) + u64::from(s.raw_size) > len {
                push(
                    anomalies,
                    format!(
                        "section {:?} raw data {:#x}+{:#x} runs past the end of the file ({:#x})",
                        s.name, s.raw_offset, s.raw_size, len
                    ),
                );
            }
            sections.push(s);
        }

        Ok(Image {
            machine,
            characteristics: header.coff_header.characteristics,
            timestamp: header.coff_header.time_date_stamp,
            is_64,
            subsystem: opt.windows_fields.subsystem,
            size_of_headers: opt.windows_fields.size_of_headers,
            resource_dir,
            sections,
        })
    }

    /// Maps an RVA to file bytes. The first section whose virtual range covers the RVA
    /// wins (the loader would reject overlapping sections; we only need to read).
    pub fn map_rva(&self, rva: u32, file_len: usize) -> Result<Mapped, Unmapped> {
        for s in &self.sections {
            // The loader maps VirtualSize bytes (raw data beyond it is ignored); only a
            // zero VirtualSize falls back to the raw size. Using max() here would let a
            // bogus raw size swallow the RVAs of the sections after it.
            let span = if s.virtual_size != 0 {
                s.virtual_size
            } else {
                s.raw_size
            };
            let Some(delta) = rva.checked_sub(s.virtual_address) else {
                continue;
            };
            if delta >= span {
                continue;
            }
            if delta >= s.raw_size {
                return Err(Unmapped::NotInFile);
            }
            let Some(offset) = s.raw_offset.checked_add(delta) else {
                return Err(Unmapped::NotInFile);
            };
            let offset = offset as usize;
            let raw_end = (u64::from(s.raw_offset) + u64::from(s.raw_size)).min(file_len as u64);
            let available = raw_end.saturating_sub(offset as u64) as usize;
            if offset >= file_len {
                return Err(Unmapped::NotInFile);
            }
            return Ok(Mapped { offset, available });
        }
        // Below SizeOfHeaders the image is the file, byte for byte.
        if rva < self.size_of_headers {
            let end = (self.size_of_headers as usize).min(file_len);
            let offset = rva as usize;
            if offset < end {
                return Ok(Mapped {
                    offset,
                    available: end - offset,
                });
            }
            return Err(Unmapped::NotInFile);
        }
        Err(Unmapped::NoSection)
    }
}

/// Records an anomaly, up to the limit, so a hostile file cannot grow the list unboundedly.
pub(crate) fn push(anomalies: &mut Vec<String>, msg: String) {
    match anomalies.len() {
        n if n < limits::MAX_ANOMALIES => anomalies.push(msg),
        n if n == limits::MAX_ANOMALIES => anomalies.push(format!(
            "more anomalies omitted (limit {})",
            limits::MAX_ANOMALIES
        )),
        _ => {}
    }
}
