//! Conversion to the model: how what the parsers return becomes report records (identities,
//! PE facts, unattend packages, PA30 header facts, error records), and the one place where a
//! library error becomes an [`ErrorKind`].

use kbscan_archive::cab::CabError;
use kbscan_archive::limits as archive_limits;
use kbscan_archive::zip::ZipError;
use kbscan_archive::NestedPath;
use kbscan_cbs as cbs;
use kbscan_model::*;
use kbscan_pe::PeError;

/// The report kind of a library error. Each match is exhaustive, so a new library error
/// variant does not build until it has a kind here (and a line in `docs/schema.md`).
pub(crate) trait ReportKind {
    fn report_kind(&self) -> ErrorKind;
}

impl ReportKind for CabError {
    fn report_kind(&self) -> ErrorKind {
        match self {
            CabError::Truncated { .. } => ErrorKind::CabTruncated,
            CabError::BadSignature => ErrorKind::CabBadSignature,
            CabError::Empty { .. } => ErrorKind::CabEmpty,
            CabError::BadChecksum { .. } => ErrorKind::CabBadChecksum,
            CabError::BadBlock { .. } => ErrorKind::CabBadBlock,
            CabError::FolderIndexOutOfRange { .. } => ErrorKind::CabFolderIndexOutOfRange,
            CabError::UnsupportedCompression { .. } => ErrorKind::CabUnsupportedCompression,
            CabError::Decode { .. } => ErrorKind::CabDecode,
            CabError::FolderNoData { .. } => ErrorKind::CabFolderNoData,
            CabError::FileBeyondFolder { .. } => ErrorKind::CabFileBeyondFolder,
            CabError::Limit { limit, .. } => ErrorKind::Limit(archive_limit(limit)),
            CabError::BadName { .. } => ErrorKind::CabBadName,
            CabError::SplitCabinet { .. } => ErrorKind::CabSplitCabinet,
            CabError::DecoderPanic { .. } => ErrorKind::CabDecoderPanic,
            CabError::Io { .. } => ErrorKind::CabIo,
        }
    }
}

impl ReportKind for kbscan_archive::walker::Issue {
    fn report_kind(&self) -> ErrorKind {
        use kbscan_archive::walker::Issue;
        match self {
            Issue::CabUnreadable(e) | Issue::CabMember(e) => e.report_kind(),
            Issue::ZipUnreadable(e) | Issue::ZipMember(e) => e.report_kind(),
            Issue::UnsafeZipName(_) => ErrorKind::UnsafeMemberName,
            Issue::DuplicateName { .. } => ErrorKind::DuplicateMemberName,
            Issue::TooDeep { .. } => ErrorKind::Limit(LimitKind::NestingDepth),
            Issue::TooManyRecords { .. } => ErrorKind::Limit(LimitKind::Records),
        }
    }
}

impl ReportKind for ZipError {
    fn report_kind(&self) -> ErrorKind {
        match self {
            ZipError::Archive { .. } | ZipError::ArchiveRead { .. } => ErrorKind::ZipArchive,
            ZipError::BadEntry { .. } => ErrorKind::ZipBadEntry,
            ZipError::UnsupportedMethod { .. } => ErrorKind::ZipUnsupportedMethod,
            ZipError::Encrypted { .. } => ErrorKind::ZipEncrypted,
            ZipError::Decode { .. } => ErrorKind::ZipDecode,
            ZipError::Crc { .. } => ErrorKind::ZipCrcMismatch,
            ZipError::Size { .. } => ErrorKind::ZipSizeMismatch,
            ZipError::Read { .. } => ErrorKind::ZipRead,
            ZipError::Spill { .. } => ErrorKind::ZipSpill,
            ZipError::NoEntry { .. } => ErrorKind::ZipNoEntry,
            ZipError::Limit { limit, .. } => ErrorKind::Limit(archive_limit(limit)),
        }
    }
}

impl ReportKind for cbs::CbsError {
    fn report_kind(&self) -> ErrorKind {
        use cbs::CbsError as E;
        match self {
            E::NotWellFormed { .. } => ErrorKind::XmlNotWellFormed,
            E::WrongRoot { .. } => ErrorKind::XmlWrongRoot,
            E::MissingElement(_) => ErrorKind::MissingElement,
            E::MissingAttribute { .. } => ErrorKind::MissingAttribute,
            E::TooLarge { what, .. } => ErrorKind::Limit(cbs_limit(*what)),
            E::TooDeep { .. } => ErrorKind::TooDeep,
            E::Encoding(_) => ErrorKind::Encoding,
            E::DcmCompressed => ErrorKind::DcmCompressed,
        }
    }
}

impl ReportKind for PeError {
    fn report_kind(&self) -> ErrorKind {
        match self {
            PeError::NotPe { .. } => ErrorKind::PeNotPe,
            PeError::Truncated { .. } => ErrorKind::PeTruncated,
            PeError::Malformed { .. } => ErrorKind::PeMalformed,
            PeError::Header { .. } => ErrorKind::PeHeader,
            PeError::ResourceDirectory { .. } => ErrorKind::PeResourceDirectory,
            PeError::TooLarge { .. } => ErrorKind::PeTooLarge,
        }
    }
}

/// `kbscan-archive` names its limits by string constants (`max_entry_bytes`, …); each is a
/// [`LimitKind`] of the same name without `max_`. A constant this list does not know yet
/// keeps its name ([`LimitKind::Other`]); the test below holds the list complete.
fn archive_limit(name: &'static str) -> LimitKind {
    match name {
        archive_limits::LIMIT_ENTRIES => LimitKind::Entries,
        archive_limits::LIMIT_ENTRY_BYTES => LimitKind::EntryBytes,
        archive_limits::LIMIT_TOTAL_BYTES => LimitKind::TotalBytes,
        archive_limits::LIMIT_PACKAGE_BYTES => LimitKind::PackageBytes,
        archive_limits::LIMIT_NAME_LEN => LimitKind::NameLen,
        archive_limits::LIMIT_HELD_BYTES => LimitKind::HeldBytes,
        archive_limits::LIMIT_RECORDS => LimitKind::Records,
        archive_limits::LIMIT_HEADER_RESERVE => LimitKind::HeaderReserve,
        archive_limits::LIMIT_CAB_FILENAME => LimitKind::CabFilenameLen,
        archive_limits::LIMIT_SET_STRING => LimitKind::CabSetStringLen,
        other => LimitKind::Other(other),
    }
}

fn cbs_limit(l: cbs::limits::Limit) -> LimitKind {
    use cbs::limits::Limit as L;
    match l {
        L::XmlBytes => LimitKind::XmlBytes,
        L::Elements => LimitKind::Elements,
        L::Attributes => LimitKind::Attributes,
        L::TotalAttributes => LimitKind::TotalAttributes,
        L::AttrLen => LimitKind::AttrLen,
        L::TextLen => LimitKind::TextLen,
        L::NamespaceUriLen => LimitKind::NamespaceUriLen,
        L::PkgPropertiesBytes => LimitKind::PkgPropertiesBytes,
        L::PkgPropertiesEntries => LimitKind::PkgPropertiesEntries,
    }
}

pub(crate) fn err_rec(path: &NestedPath, kind: ErrorKind, message: String) -> ErrorRecord {
    ErrorRecord {
        path: path.to_string(),
        kind,
        message,
    }
}

pub(crate) fn identity(a: &cbs::AssemblyIdentity) -> Identity {
    Identity {
        name: a.name.clone(),
        version: a.version_raw.clone().or(a.version.map(|v| v.to_string())),
        processor_architecture: a.processor_architecture.clone(),
        language: a.language.clone(),
        public_key_token: a.public_key_token.clone(),
    }
}

pub(crate) fn unattend_info(u: &cbs::Unattend) -> UnattendInfo {
    UnattendInfo {
        packages: u
            .packages
            .iter()
            .map(|p| UnattendPackageInfo {
                action: p.action.clone(),
                identity: p.identity.as_ref().map(identity),
                source_location: p.source_location.clone(),
            })
            .collect(),
    }
}

/// Copies what a PA30 header says into the target's [`DeltaInfo`].
pub(crate) fn apply_pa30_header(info: &mut DeltaInfo, h: &kbscan_msdelta::Pa30Header) {
    use kbscan_msdelta as md;
    info.target_time = h.target_time_utc();
    info.target_filetime = Some(h.target_filetime);
    info.file_type_set = Some(
        md::file_type_set_name(h.file_type_set)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{:#x}", h.file_type_set)),
    );
    info.file_type = Some(
        md::file_type_name(h.file_type)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{:#x}", h.file_type)),
    );
    info.flags = Some(format!("{:#x}", h.flags));
    info.flag_names = md::flag_names(h.flags);
    if !h.hash.is_empty() {
        info.target_hash_alg = Some(
            md::hash_alg_name(h.hash_alg)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{:#06x}", h.hash_alg)),
        );
        info.target_hash = Some(h.hash_hex());
    }
    info.note = Some(md::describe(h));
}

pub(crate) fn pe_facts(info: &kbscan_pe::PeInfo) -> PeFacts {
    let v = info.version.as_ref();
    PeFacts {
        machine: info.machine_name.clone(),
        image: format!("{:?}", info.kind).to_ascii_lowercase(),
        is_64: info.is_64,
        timestamp: info.timestamp,
        has_version_resource: v.is_some(),
        strings: v.map(|v| v.strings.clone()).unwrap_or_default(),
        file_version_string: v.and_then(|v| v.file_version_string.clone()),
        product_version_string: v.and_then(|v| v.product_version_string.clone()),
        original_filename: v.and_then(|v| v.original_filename.clone()),
        company_name: v.and_then(|v| v.company_name.clone()),
        branch_tag: v.and_then(|v| v.branch_tag.clone()),
        anomalies: info.anomalies.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every limit the libraries name maps to a [`LimitKind`] of the same name (without
    /// `max_`), never to the catch-all.
    #[test]
    fn every_library_limit_has_its_own_kind() {
        for name in [
            archive_limits::LIMIT_ENTRIES,
            archive_limits::LIMIT_ENTRY_BYTES,
            archive_limits::LIMIT_TOTAL_BYTES,
            archive_limits::LIMIT_PACKAGE_BYTES,
            archive_limits::LIMIT_NAME_LEN,
            archive_limits::LIMIT_HELD_BYTES,
            archive_limits::LIMIT_HEADER_RESERVE,
            archive_limits::LIMIT_CAB_FILENAME,
            archive_limits::LIMIT_SET_STRING,
        ] {
            let k = archive_limit(name);
            assert!(!matches!(k, LimitKind::Other(_)), "{name}");
            assert_eq!(k.name(), name.strip_prefix("max_").unwrap_or(name));
        }
        use cbs::limits::Limit as L;
        for l in [
            L::XmlBytes,
            L::Elements,
            L::Attributes,
            L::TotalAttributes,
            L::AttrLen,
            L::TextLen,
            L::NamespaceUriLen,
            L::PkgPropertiesBytes,
            L::PkgPropertiesEntries,
        ] {
            assert_eq!(cbs_limit(l).name(), l.name().strip_prefix("max_").unwrap());
        }
    }

    #[test]
    fn limit_errors_are_limit_kinds() {
        let e = CabError::Limit {
            limit: archive_limits::LIMIT_ENTRY_BYTES,
            value: 2,
            max: 1,
        };
        assert_eq!(e.report_kind().to_string(), "limit_entry_bytes");
        let e = ZipError::Limit {
            limit: archive_limits::LIMIT_ENTRIES,
            value: 2,
            max: 1,
        };
        assert_eq!(e.report_kind().to_string(), "limit_entries");
        let e = cbs::CbsError::TooLarge {
            what: cbs::limits::Limit::XmlBytes,
            limit: 1,
            value: 2,
        };
        assert_eq!(e.report_kind().to_string(), "limit_xml_bytes");
    }

    /// Apart from limits, a report kind is the name the library gives its error, as it
    /// was when the kind was a string.
    #[test]
    fn other_kinds_keep_the_library_names() {
        let s = String::new;
        let cab = [
            CabError::Truncated {
                what: "x",
                offset: 0,
            },
            CabError::BadSignature,
            CabError::Empty {
                folders: 0,
                files: 0,
            },
            CabError::BadChecksum {
                folder: 0,
                block: 0,
                offset: 0,
                stored: 0,
                computed: 0,
            },
            CabError::BadBlock {
                folder: 0,
                block: 0,
                offset: 0,
                reason: s(),
            },
            CabError::FolderIndexOutOfRange {
                file: s(),
                index: 0,
                folders: 0,
            },
            CabError::UnsupportedCompression {
                folder: 0,
                method: s(),
            },
            CabError::Decode {
                folder: 0,
                block: 0,
                method: "x",
                reason: s(),
            },
            CabError::FolderNoData { folder: 0 },
            CabError::FileBeyondFolder {
                file: s(),
                end: 0,
                folder_len: 0,
            },
            CabError::BadName {
                index: 0,
                offset: 0,
                reason: "x",
            },
            CabError::SplitCabinet {
                file: s(),
                reason: "x",
            },
            CabError::DecoderPanic {
                folder: 0,
                block: 0,
            },
        ];
        for e in &cab {
            assert_eq!(e.report_kind().to_string(), e.kind());
        }
        let read = ZipError::Read {
            index: 0,
            name: s(),
            source: std::io::Error::other("x"),
        };
        assert_eq!(read.report_kind().to_string(), read.kind());
        use cbs::CbsError as E;
        let xml = [
            E::NotWellFormed {
                position: 0,
                line: 0,
                reason: s(),
            },
            E::WrongRoot {
                expected: "x",
                found: s(),
            },
            E::MissingElement("x"),
            E::MissingAttribute {
                element: "x",
                attribute: "y",
            },
            E::TooDeep {
                limit: 0,
                position: 0,
            },
            E::Encoding(s()),
            E::DcmCompressed,
        ];
        for e in &xml {
            assert_eq!(e.report_kind().to_string(), e.kind());
        }
        let pe = [
            PeError::NotPe { reason: "x" },
            PeError::Truncated {
                what: "x",
                offset: 0,
            },
            PeError::Malformed {
                what: "x",
                detail: s(),
            },
            PeError::ResourceDirectory {
                reason: s(),
                offset: 0,
            },
            PeError::TooLarge {
                what: "x",
                limit: 0,
                value: 0,
            },
        ];
        for e in &pe {
            assert_eq!(e.report_kind().to_string(), e.kind());
        }
    }
}
