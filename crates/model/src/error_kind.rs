//! [`ErrorKind`]: what went wrong, as the stable snake_case name tests and CI gates match on.

use serde::{Serialize, Serializer};
use std::fmt;

/// The kind of an [`ErrorRecord`](crate::ErrorRecord), serialised as its snake_case name
/// (`cab_bad_checksum`, `limit_entry_bytes`, …). Every name is listed in `docs/schema.md`;
/// renaming one is a schema change.
///
/// The scanner maps each library error to one of these in one place
/// (`kbscan-scan/src/convert.rs`), so a library's own error names never reach a report
/// unexamined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input file could not be read.
    Io,
    /// A kbscan bug: the scanner panicked on this input.
    InternalPanic,
    /// WIM or PSF: recognised by signature, not decoded.
    UnsupportedContainer,
    /// A ZIP member name that could escape a folder (absolute, drive letter, `..`, control
    /// characters).
    UnsafeMemberName,
    /// A member with the same name as an earlier member of its container (compared as
    /// Windows would); both are read.
    DuplicateMemberName,
    /// A DCM delta-compressed manifest (its base lives in wcp.dll): not decoded.
    CompressedManifest,
    /// A file's SHA-256 differs from its component manifest's digest.
    DigestMismatch,
    /// A RAW or decoded IPD target's SHA-1 differs from the container index.
    IpdHashMismatch,
    /// The container index names a blob the payload does not hold.
    IpdMissingBlob,
    /// A PA30 blob's header does not parse.
    IpdDeltaHeader,
    /// A PA30 header's target size differs from the container index.
    IpdSizeMismatch,
    /// A limit was crossed: `limit_<name>`.
    Limit(LimitKind),

    CabTruncated,
    CabBadSignature,
    CabEmpty,
    CabBadChecksum,
    CabBadBlock,
    CabFolderIndexOutOfRange,
    CabUnsupportedCompression,
    CabDecode,
    CabFolderNoData,
    CabFileBeyondFolder,
    CabBadName,
    CabSplitCabinet,
    CabDecoderPanic,
    /// Reading a cabinet from its file, or spilling a member to a temporary file, failed.
    CabIo,

    ZipArchive,
    ZipBadEntry,
    ZipUnsupportedMethod,
    ZipEncrypted,
    ZipDecode,
    ZipCrcMismatch,
    ZipSizeMismatch,
    ZipRead,
    ZipSpill,
    ZipNoEntry,

    XmlNotWellFormed,
    XmlWrongRoot,
    MissingElement,
    MissingAttribute,
    /// XML elements nest deeper than the CBS parser's depth limit.
    TooDeep,
    Encoding,
    DcmCompressed,

    PeNotPe,
    PeTruncated,
    PeMalformed,
    PeHeader,
    PeResourceDirectory,
    PeTooLarge,
}

/// Which limit an [`ErrorKind::Limit`] crossed, named after the limit without its `max_`
/// prefix: `max_entry_bytes` is `limit_entry_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// `max_input_bytes`: an input file larger than the scanner reads.
    InputSize,
    /// `max_depth`: containers nested deeper than the scanner follows.
    NestingDepth,
    Entries,
    EntryBytes,
    TotalBytes,
    PackageBytes,
    NameLen,
    HeldBytes,
    /// `max_records`: members and derived records of one input.
    Records,
    HeaderReserve,
    /// MS-CAB's fixed bound on CFFILE names.
    CabFilenameLen,
    /// MS-CAB's fixed bound on the strings naming the previous/next cabinet of a set.
    CabSetStringLen,
    XmlBytes,
    Elements,
    Attributes,
    TotalAttributes,
    AttrLen,
    TextLen,
    NamespaceUriLen,
    PkgPropertiesBytes,
    PkgPropertiesEntries,
    /// A limit a container library names that this list does not know yet (its name as
    /// the library gives it, e.g. `max_foo`): still reported as `limit_foo`. The scanner's
    /// tests map every limit its libraries define, so this stays unused until one is added.
    Other(&'static str),
}

impl LimitKind {
    /// The name after `limit_`.
    pub fn name(self) -> &'static str {
        match self {
            LimitKind::InputSize => "input_size",
            LimitKind::NestingDepth => "nesting_depth",
            LimitKind::Entries => "entries",
            LimitKind::EntryBytes => "entry_bytes",
            LimitKind::TotalBytes => "total_bytes",
            LimitKind::PackageBytes => "package_bytes",
            LimitKind::NameLen => "name_len",
            LimitKind::HeldBytes => "held_bytes",
            LimitKind::Records => "records",
            LimitKind::HeaderReserve => "header_reserve",
            LimitKind::CabFilenameLen => "cab_filename_len",
            LimitKind::CabSetStringLen => "cab_set_string_len",
            LimitKind::XmlBytes => "xml_bytes",
            LimitKind::Elements => "elements",
            LimitKind::Attributes => "attributes",
            LimitKind::TotalAttributes => "total_attributes",
            LimitKind::AttrLen => "attr_len",
            LimitKind::TextLen => "text_len",
            LimitKind::NamespaceUriLen => "namespace_uri_len",
            LimitKind::PkgPropertiesBytes => "pkg_properties_bytes",
            LimitKind::PkgPropertiesEntries => "pkg_properties_entries",
            LimitKind::Other(name) => name.strip_prefix("max_").unwrap_or(name),
        }
    }
}

impl ErrorKind {
    /// Every kind the scanner produces ([`LimitKind::Other`] aside), for tests and docs.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::Io,
        ErrorKind::InternalPanic,
        ErrorKind::UnsupportedContainer,
        ErrorKind::UnsafeMemberName,
        ErrorKind::DuplicateMemberName,
        ErrorKind::CompressedManifest,
        ErrorKind::DigestMismatch,
        ErrorKind::IpdHashMismatch,
        ErrorKind::IpdMissingBlob,
        ErrorKind::IpdDeltaHeader,
        ErrorKind::IpdSizeMismatch,
        ErrorKind::Limit(LimitKind::InputSize),
        ErrorKind::Limit(LimitKind::NestingDepth),
        ErrorKind::Limit(LimitKind::Entries),
        ErrorKind::Limit(LimitKind::EntryBytes),
        ErrorKind::Limit(LimitKind::TotalBytes),
        ErrorKind::Limit(LimitKind::PackageBytes),
        ErrorKind::Limit(LimitKind::NameLen),
        ErrorKind::Limit(LimitKind::HeldBytes),
        ErrorKind::Limit(LimitKind::Records),
        ErrorKind::Limit(LimitKind::HeaderReserve),
        ErrorKind::Limit(LimitKind::CabFilenameLen),
        ErrorKind::Limit(LimitKind::CabSetStringLen),
        ErrorKind::Limit(LimitKind::XmlBytes),
        ErrorKind::Limit(LimitKind::Elements),
        ErrorKind::Limit(LimitKind::Attributes),
        ErrorKind::Limit(LimitKind::TotalAttributes),
        ErrorKind::Limit(LimitKind::AttrLen),
        ErrorKind::Limit(LimitKind::TextLen),
        ErrorKind::Limit(LimitKind::NamespaceUriLen),
        ErrorKind::Limit(LimitKind::PkgPropertiesBytes),
        ErrorKind::Limit(LimitKind::PkgPropertiesEntries),
        ErrorKind::CabTruncated,
        ErrorKind::CabBadSignature,
        ErrorKind::CabEmpty,
        ErrorKind::CabBadChecksum,
        ErrorKind::CabBadBlock,
        ErrorKind::CabFolderIndexOutOfRange,
        ErrorKind::CabUnsupportedCompression,
        ErrorKind::CabDecode,
        ErrorKind::CabFolderNoData,
        ErrorKind::CabFileBeyondFolder,
        ErrorKind::CabBadName,
        ErrorKind::CabSplitCabinet,
        ErrorKind::CabDecoderPanic,
        ErrorKind::CabIo,
        ErrorKind::ZipArchive,
        ErrorKind::ZipBadEntry,
        ErrorKind::ZipUnsupportedMethod,
        ErrorKind::ZipEncrypted,
        ErrorKind::ZipDecode,
        ErrorKind::ZipCrcMismatch,
        ErrorKind::ZipSizeMismatch,
        ErrorKind::ZipRead,
        ErrorKind::ZipSpill,
        ErrorKind::ZipNoEntry,
        ErrorKind::XmlNotWellFormed,
        ErrorKind::XmlWrongRoot,
        ErrorKind::MissingElement,
        ErrorKind::MissingAttribute,
        ErrorKind::TooDeep,
        ErrorKind::Encoding,
        ErrorKind::DcmCompressed,
        ErrorKind::PeNotPe,
        ErrorKind::PeTruncated,
        ErrorKind::PeMalformed,
        ErrorKind::PeHeader,
        ErrorKind::PeResourceDirectory,
        ErrorKind::PeTooLarge,
    ];

    /// The snake_case name; for a limit only its family, `limit` (the
    /// [`Display`](fmt::Display) form appends `_` and [`LimitKind::name`]).
    fn family(self) -> &'static str {
        match self {
            ErrorKind::Io => "io",
            ErrorKind::InternalPanic => "internal_panic",
            ErrorKind::UnsupportedContainer => "unsupported_container",
            ErrorKind::UnsafeMemberName => "unsafe_member_name",
            ErrorKind::DuplicateMemberName => "duplicate_member_name",
            ErrorKind::CompressedManifest => "compressed_manifest",
            ErrorKind::DigestMismatch => "digest_mismatch",
            ErrorKind::IpdHashMismatch => "ipd_hash_mismatch",
            ErrorKind::IpdMissingBlob => "ipd_missing_blob",
            ErrorKind::IpdDeltaHeader => "ipd_delta_header",
            ErrorKind::IpdSizeMismatch => "ipd_size_mismatch",
            ErrorKind::Limit(_) => "limit",
            ErrorKind::CabTruncated => "cab_truncated",
            ErrorKind::CabBadSignature => "cab_bad_signature",
            ErrorKind::CabEmpty => "cab_empty",
            ErrorKind::CabBadChecksum => "cab_bad_checksum",
            ErrorKind::CabBadBlock => "cab_bad_block",
            ErrorKind::CabFolderIndexOutOfRange => "cab_folder_index_out_of_range",
            ErrorKind::CabUnsupportedCompression => "cab_unsupported_compression",
            ErrorKind::CabDecode => "cab_decode",
            ErrorKind::CabFolderNoData => "cab_folder_no_data",
            ErrorKind::CabFileBeyondFolder => "cab_file_beyond_folder",
            ErrorKind::CabBadName => "cab_bad_name",
            ErrorKind::CabSplitCabinet => "cab_split_cabinet",
            ErrorKind::CabDecoderPanic => "cab_decoder_panic",
            ErrorKind::CabIo => "cab_io",
            ErrorKind::ZipArchive => "zip_archive",
            ErrorKind::ZipBadEntry => "zip_bad_entry",
            ErrorKind::ZipUnsupportedMethod => "zip_unsupported_method",
            ErrorKind::ZipEncrypted => "zip_encrypted",
            ErrorKind::ZipDecode => "zip_decode",
            ErrorKind::ZipCrcMismatch => "zip_crc_mismatch",
            ErrorKind::ZipSizeMismatch => "zip_size_mismatch",
            ErrorKind::ZipRead => "zip_read",
            ErrorKind::ZipSpill => "zip_spill",
            ErrorKind::ZipNoEntry => "zip_no_entry",
            ErrorKind::XmlNotWellFormed => "xml_not_well_formed",
            ErrorKind::XmlWrongRoot => "xml_wrong_root",
            ErrorKind::MissingElement => "missing_element",
            ErrorKind::MissingAttribute => "missing_attribute",
            ErrorKind::TooDeep => "too_deep",
            ErrorKind::Encoding => "encoding",
            ErrorKind::DcmCompressed => "dcm_compressed",
            ErrorKind::PeNotPe => "pe_not_pe",
            ErrorKind::PeTruncated => "pe_truncated",
            ErrorKind::PeMalformed => "pe_malformed",
            ErrorKind::PeHeader => "pe_header",
            ErrorKind::PeResourceDirectory => "pe_resource_directory",
            ErrorKind::PeTooLarge => "pe_too_large",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Limit(l) => write!(f, "{}_{}", self.family(), l.name()),
            _ => f.write_str(self.family()),
        }
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_snake_case_unique_and_serialised_as_displayed() {
        let mut seen = BTreeSet::new();
        for k in ErrorKind::ALL {
            let name = k.to_string();
            assert!(
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name:?}"
            );
            assert!(seen.insert(name.clone()), "{name} twice");
            assert_eq!(serde_json::to_value(k).unwrap(), name.as_str());
            assert_eq!(matches!(k, ErrorKind::Limit(_)), name.starts_with("limit_"));
        }
        assert_eq!(
            ErrorKind::Limit(LimitKind::EntryBytes).to_string(),
            "limit_entry_bytes"
        );
        assert_eq!(
            ErrorKind::Limit(LimitKind::Other("max_foo_bytes")).to_string(),
            "limit_foo_bytes"
        );
        assert_eq!(
            ErrorKind::Limit(LimitKind::Other("bar")).to_string(),
            "limit_bar"
        );
    }

    /// `docs/schema.md` lists every kind by name (limits too), so a new kind is documented.
    #[test]
    fn schema_lists_every_kind() {
        let schema = include_str!("../../../docs/schema.md");
        for k in ErrorKind::ALL {
            assert!(
                schema.contains(&format!("`{k}`")),
                "docs/schema.md does not list `{k}`"
            );
        }
    }
}
