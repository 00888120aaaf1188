//! `kbscan-archive`: recognise containers by their magic bytes, read MS-CAB and ZIP
//! containers from untrusted bytes, and walk nested containers for every consumer.
//!
//! A container is read from a [`Source`]: memory (an input read whole, a member cut out of a
//! CAB folder buffer) or a range of a file (an input too large to hold, a member spilled to a
//! [`Spill`]). [`walker::Walker`] is the one recursion over nested containers (a CAB in an MSU
//! in a ZIP): it hands every member to a [`walker::Sink`] — the scan engine's, `kbscan
//! extract`'s — and owns nesting depth, the per-input budgets of [`limits::Limits`], name
//! checks ([`safe_name`]) and duplicate names. [`NestedPath`] names a member along the chain.
//!
//! What this crate must never do, whatever the input:
//! - **panic**: all reads of untrusted bytes go through a bounds-checked cursor, all
//!   `offset + size` arithmetic is checked or done in `u64`; the LZX decoder (`kbscan-lzx`,
//!   written to the same rule) is additionally wrapped in `catch_unwind` as defence in depth.
//! - **allocate by a declared length**: capacities are capped by what the input can hold or by
//!   [`limits::Limits`]; decompressed data grows with bytes actually produced.
//! - **hold what a budget refuses**: every byte a reader hands out is charged to the input's
//!   byte budget (overlapping entries pay for each repetition), buffers grow only while the
//!   input's [`limits::MemoryBudget`] allows and spill to an anonymous temporary file beyond
//!   it, and every member takes one record from the input's record budget.
//! - **loop without progress**: every decoder loop must consume input or produce output on each
//!   turn, or it stops with an error (libmspack CVE-2010-2800 was exactly such a loop).
//! - **decode a CAB folder twice**: folders are solid; each is decoded once, front to back, and
//!   files are cut out of the stream as it passes (see [`cab`]). Work is linear in the bytes.
//! - **write where a name says**: the only files this crate creates are its own anonymous
//!   temporary files ([`Spill`]); names are reported as stored (`..`, drive letters and all) and
//!   judged by [`safe_name`], for whoever turns them into paths.

pub mod cab;
mod cursor;
pub mod limits;
pub mod safe_name;
pub mod source;
pub mod walker;
pub mod zip;

use std::fmt;

pub use cab::{CabError, Cabinet};
pub use limits::Limits;
pub use source::{Source, Spill};
pub use zip::{ZipArchive, ZipEntry, ZipError};

/// What a byte buffer is, judged only by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Magic {
    /// MS-CAB, `MSCF`.
    Cab,
    /// ZIP local header `PK\x03\x04`, or the end-of-directory record of an empty ZIP.
    Zip,
    /// PE/MZ executable.
    Pe,
    /// Windows imaging format, `MSWIM\0\0\0`.
    Wim,
    /// WSUS/express Patch Storage File, `PSTREAM\0`.
    Psf,
    /// MSDelta patch, `PA30`.
    Pa30,
    /// Windows 10+ delta-compressed manifest, `DCM\x01`.
    Dcm,
    /// XML text (`<?xml`, or a UTF-8 / UTF-16LE byte-order mark followed by `<`).
    Xml,
    Unknown,
}

/// PSF signature. Source: Wikidata Q105864579 ("WSUS Patch Storage File", `.psf`), whose
/// internal signature is the 8 bytes `50 53 54 52 45 41 4D 00` at offset 0 (as carried by the
/// `theseus-rs/file-type` signature database); matches the 2006 010 Editor template
/// "WSUS PSF file format" describing the same files.
const PSF_MAGIC: &[u8] = b"PSTREAM\0";

/// Classifies `bytes` by magic. Cheap, never fails; [`Magic::Unknown`] when nothing matches.
pub fn sniff(bytes: &[u8]) -> Magic {
    const TABLE: &[(&[u8], Magic)] = &[
        (b"MSCF", Magic::Cab),
        (b"PK\x03\x04", Magic::Zip),
        (b"PK\x05\x06", Magic::Zip),
        (b"MSWIM\0\0\0", Magic::Wim),
        (PSF_MAGIC, Magic::Psf),
        (b"PA30", Magic::Pa30),
        (b"DCM\x01", Magic::Dcm),
        (b"<?xml", Magic::Xml),
        (b"\xEF\xBB\xBF<", Magic::Xml),
        (b"\xFF\xFE<\0", Magic::Xml),
        (b"MZ", Magic::Pe),
    ];
    TABLE
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map_or(Magic::Unknown, |&(_, m)| m)
}

/// Where a member sits in a chain of containers, outermost first. Displayed and serialised as
/// one string joined by `!`, e.g. `batch.zip!KB1.msu!KB1.cab!amd64_x\ntoskrnl.exe`.
/// A member name that itself contains `!` makes the string form ambiguous; the `Vec` form is
/// authoritative.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NestedPath(Vec<String>);

impl NestedPath {
    pub fn new(root: impl Into<String>) -> Self {
        NestedPath(vec![root.into()])
    }

    pub fn push(&mut self, part: impl Into<String>) {
        self.0.push(part.into());
    }

    /// This path extended by one member.
    pub fn child(&self, part: impl Into<String>) -> Self {
        let mut p = self.clone();
        p.push(part);
        p
    }

    /// The path one level up (the container holding this entry); the root's parent is
    /// the root itself.
    pub fn parent(&self) -> Self {
        let keep = self.0.len().saturating_sub(1).max(1);
        NestedPath(self.0[..keep.min(self.0.len())].to_vec())
    }

    pub fn last(&self) -> Option<&str> {
        self.0.last().map(String::as_str)
    }

    pub fn parts(&self) -> &[String] {
        &self.0
    }

    /// Nesting depth (number of parts).
    pub fn depth(&self) -> usize {
        self.0.len()
    }
}

impl From<Vec<String>> for NestedPath {
    fn from(v: Vec<String>) -> Self {
        NestedPath(v)
    }
}

impl fmt::Display for NestedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("!")?;
            }
            f.write_str(p)?;
        }
        Ok(())
    }
}

impl serde::Serialize for NestedPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for NestedPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Ok(NestedPath::default());
        }
        Ok(NestedPath(s.split('!').map(str::to_owned).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_table() {
        assert_eq!(sniff(b"MSCF\0\0\0\0"), Magic::Cab);
        assert_eq!(sniff(b"PK\x03\x04rest"), Magic::Zip);
        assert_eq!(sniff(b"PK\x05\x06"), Magic::Zip);
        assert_eq!(sniff(b"MZ\x90\0"), Magic::Pe);
        assert_eq!(sniff(b"MSWIM\0\0\0\xd0\0"), Magic::Wim);
        assert_eq!(sniff(b"PSTREAM\0\x01"), Magic::Psf);
        assert_eq!(sniff(b"PSTREAM"), Magic::Unknown);
        assert_eq!(sniff(b"PA30\x01\x02"), Magic::Pa30);
        assert_eq!(sniff(b"DCM\x01PA30"), Magic::Dcm);
        assert_eq!(sniff(b"<?xml version"), Magic::Xml);
        assert_eq!(sniff(b"\xEF\xBB\xBF<assembly"), Magic::Xml);
        assert_eq!(sniff(b"\xFF\xFE<\0?\0"), Magic::Xml);
        assert_eq!(sniff(b""), Magic::Unknown);
        assert_eq!(sniff(b"M"), Magic::Unknown);
    }

    #[test]
    fn nested_path_display_and_parts() {
        let p = NestedPath::new("batch.zip")
            .child("2019-04/Windows6.0-KB4493471-x64.msu")
            .child("Windows6.0-KB4493471-x64.cab")
            .child("amd64_x\\ntoskrnl.exe");
        assert_eq!(
            p.to_string(),
            "batch.zip!2019-04/Windows6.0-KB4493471-x64.msu!Windows6.0-KB4493471-x64.cab!amd64_x\\ntoskrnl.exe"
        );
        assert_eq!(p.last(), Some("amd64_x\\ntoskrnl.exe"));
        assert_eq!(p.depth(), 4);
    }

    #[test]
    fn nested_path_deserialises_from_its_string_form() {
        use serde::de::{value::Error, IntoDeserializer};
        use serde::Deserialize;
        let de = IntoDeserializer::<Error>::into_deserializer("a.zip!b.msu!c.cab!d\\e.dll");
        let p = NestedPath::deserialize(de).expect("deserialise");
        assert_eq!(p.parts(), ["a.zip", "b.msu", "c.cab", "d\\e.dll"]);
        assert_eq!(p.to_string(), "a.zip!b.msu!c.cab!d\\e.dll");
    }
}
