//! The scan result: what kbscan found in a corpus, as plain serialisable data.
//!
//! This crate is an **API Boundary**: the serialisation of [`ScanReport`] *is* the JSON
//! schema of `kbscan scan --format json` (`docs/schema.md`), and the analyses and
//! renderers read nothing else. A renamed field, a changed enum string or a reordered
//! collection changes every consumer's input: change it only with `docs/schema.md` (and
//! [`SCHEMA_VERSION`] when a field changes meaning or disappears).
//!
//! It must never parse a package, spawn a thread or do I/O: `kbscan-analysis` and
//! `kbscan-report` depend on it so that they do not depend on the scan engine.
//!
//! Invariants every consumer relies on:
//! - every collection is in a deterministic order (inputs by path, packages in input
//!   order then nested order, files in container order, maps are `BTreeMap`);
//! - nothing here depends on timing, thread count or the machine (no absolute times,
//!   no durations), so the JSON is byte-identical across `-j` values;
//! - every error also appears in [`ScanReport::errors`], so a report that lists those
//!   lists every failure.

mod error_kind;

pub use error_kind::{ErrorKind, LimitKind};
use kbscan_version::{OsBuild, Version};
use serde::Serialize;
use std::collections::BTreeMap;

/// Bump when a field changes meaning or disappears; adding fields does not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// How many `.mum` levels [`SubPackage`] resolution follows below a referenced package
/// (genuine KB2999226: `update.mum` → `_client` → `_client_2` → `Package_1_for…` is 3).
pub const MAX_SUB_PACKAGE_DEPTH: u32 = 8;

#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub schema_version: u32,
    pub kbscan_version: String,
    pub inputs: Vec<InputRecord>,
    pub packages: Vec<Package>,
    pub errors: Vec<ErrorRecord>,
    pub totals: Totals,
}

impl ScanReport {
    /// A report with this build's schema and version and nothing in it yet.
    pub fn empty() -> Self {
        ScanReport {
            schema_version: SCHEMA_VERSION,
            kbscan_version: env!("CARGO_PKG_VERSION").to_string(),
            inputs: Vec::new(),
            packages: Vec::new(),
            errors: Vec::new(),
            totals: Totals::default(),
        }
    }
}

/// One file found on disk under the paths the user gave.
#[derive(Debug, Clone, Serialize)]
pub struct InputRecord {
    pub path: String,
    pub size: u64,
    pub sha256: Option<String>,
    /// What the signature says it is: `cab` (MSU and CAB alike), `zip`, `pe`, `wim`, ...
    pub format: String,
    pub status: InputStatus,
    /// Number of packages found in this input (a ZIP can hold several).
    pub packages: u32,
    pub errors: u32,
    /// Members of a ZIP that are not packages (a readme, a checksum file), with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<Ignored>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputStatus {
    /// Read completely, no error.
    Scanned,
    /// At least one error: the input could not be read, or parts of it could not.
    Failed,
    /// A container kbscan recognises but does not decode (WIM, PSF).
    Unsupported,
    /// Not an update container at all (unknown signature); counted, not analysed.
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ignored {
    pub path: String,
    pub reason: String,
}

/// Everything one input produced. The scan engine's streaming entry point hands these to
/// its sink in input order (sorted by path), whatever the thread count.
#[derive(Debug, Clone)]
pub struct InputOutcome {
    pub input: InputRecord,
    pub packages: Vec<Package>,
    pub errors: Vec<ErrorRecord>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub inputs: u64,
    pub scanned: u64,
    pub failed: u64,
    pub unsupported: u64,
    pub skipped: u64,
    pub packages: u64,
    pub components: u64,
    pub files: u64,
    pub pe_files: u64,
    pub errors: u64,
    /// Bytes of input files read from disk.
    pub input_bytes: u64,
}

impl Totals {
    /// Counts one input and what it produced.
    pub fn add(&mut self, o: &InputOutcome) {
        self.inputs += 1;
        self.input_bytes += o.input.size;
        match o.input.status {
            InputStatus::Scanned => self.scanned += 1,
            InputStatus::Failed => self.failed += 1,
            InputStatus::Unsupported => self.unsupported += 1,
            InputStatus::Skipped => self.skipped += 1,
        }
        self.packages += o.packages.len() as u64;
        self.errors += o.errors.len() as u64;
        for p in &o.packages {
            self.components += p.components.len() as u64;
            self.files += p.files.len() as u64;
            self.pe_files += p.files.iter().filter(|f| f.kind == FileKind::Pe).count() as u64;
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorRecord {
    /// Nested path: `batch.zip!x.msu!x.cab!component\file.dll`.
    pub path: String,
    /// What went wrong, serialised as its stable snake_case name (tests and CI gates
    /// match on it).
    pub kind: ErrorKind,
    pub message: String,
}

/// How a package was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackageKind {
    /// An `.msu`: outer cabinet with payload CAB, properties, unattend XML.
    Msu,
    /// A payload cabinet on its own (holds `update.mum`).
    PayloadCab,
    /// A cabinet that is not a CBS package (no `update.mum`): its members are listed.
    Cabinet,
    /// A bare PE image given as input.
    Pe,
}

#[derive(Debug, Clone, Serialize)]
pub struct Package {
    pub source: String,
    pub kind: PackageKind,
    pub size: u64,
    pub sha256: String,
    pub kb: Option<String>,
    pub identity: Option<Identity>,
    pub release_type: Option<String>,
    /// What the package says about itself in its root `update.mum` (untrusted text).
    #[serde(skip_serializing_if = "About::is_empty")]
    pub about: About,
    pub architecture: Option<String>,
    /// OS builds (`major.minor.build`) its component versions carry, per architecture.
    pub os_builds: BTreeMap<String, Vec<OsBuild>>,
    pub os_family: Option<String>,
    pub dates: Dates,
    /// Payload cabinets read, in order, with their compression and layout.
    pub payloads: Vec<Payload>,
    /// The MSU's `*-pkgProperties.txt`, keys as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<Properties>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unattend: Option<UnattendInfo>,
    /// `update.mum` and every `Package_*.mum`, in container order.
    pub package_manifests: Vec<PackageManifestInfo>,
    /// Every package an `update` entry of a `.mum` installs (`Package_for_KB…_client`,
    /// `_server`, `_sc`, `-bf` variants), resolved through its own `.mum` to the
    /// components it installs. Root `update.mum` references first, then the others in
    /// container order; each package once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sub_packages: Vec<SubPackage>,
    pub components: Vec<Component>,
    pub files: Vec<FileRecord>,
    pub errors: Vec<ErrorRecord>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Identity {
    pub name: String,
    pub version: Option<String>,
    pub processor_architecture: Option<String>,
    pub language: Option<String>,
    pub public_key_token: Option<String>,
}

/// The descriptive attributes of the root `update.mum` `<assembly>`, as written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct About {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copyright: Option<String>,
    /// Usually a support URL (`http://support.microsoft.com/?kbid=…`); never fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub support_information: Option<String>,
}

impl About {
    pub fn is_empty(&self) -> bool {
        self.display_name.is_none()
            && self.description.is_none()
            && self.company.is_none()
            && self.copyright.is_none()
            && self.support_information.is_none()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Dates {
    /// `update.mum` `creationTimeStamp`, as written.
    pub created: Option<String>,
    /// `pkgProperties` `Build Date`, as `yyyy-mm-dd`.
    pub build_date: Option<String>,
    /// The date used to order packages (`yyyy-mm-dd`) and where it came from.
    pub release: Option<String>,
    pub release_source: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Payload {
    pub path: String,
    pub compression: Vec<String>,
    pub folders: u32,
    pub entries: u32,
    /// `flat` (files in component folders) or `ipd` (Intra-Package Delta container).
    pub layout: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipd: Option<IpdSummary>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IpdSummary {
    pub targets: u32,
    pub raw: u32,
    pub raw_verified: u32,
    pub pa30: u32,
    pub pa19: u32,
    /// Targets that are copies of another target (`Basis` without `Source`).
    pub copies: u32,
    pub other: u32,
    pub with_basis: u32,
    /// PA30 and COPY targets decoded natively whose bytes matched the index SHA-1.
    pub decoded: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Properties {
    pub encoding: String,
    pub entries: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnattendInfo {
    pub packages: Vec<UnattendPackageInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnattendPackageInfo {
    pub action: Option<String>,
    pub identity: Option<Identity>,
    pub source_location: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PackageManifestInfo {
    pub path: String,
    pub identity: Identity,
    pub kb: Option<String>,
    pub release_type: Option<String>,
    pub created: Option<String>,
    pub updates: Vec<UpdateInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UpdateInfo {
    pub name: String,
    pub branch: Option<String>,
    pub components: Vec<Identity>,
    pub packages: Vec<Identity>,
}

/// A package referenced from an `update` entry's `package` element.
#[derive(Debug, Clone, Serialize)]
pub struct SubPackage {
    /// The identity as referenced.
    pub identity: Identity,
    /// Identity name of the first `.mum` that references it.
    pub referenced_by: String,
    /// Whether a `.mum` with this identity name (case-insensitive) is in the payload.
    pub found: bool,
    /// Path of that `.mum`.
    pub manifest: Option<String>,
    /// Names of the packages its own `update` entries reference.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
    /// Components it installs, directly or through its sub-packages (each once).
    pub components: Vec<SubPackageComponent>,
    /// Packages reached from it whose `.mum` is not in the payload.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// The package chain was cut at `MAX_SUB_PACKAGE_DEPTH` (or loops back on itself).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// A component a sub-package installs.
#[derive(Debug, Clone, Serialize)]
pub struct SubPackageComponent {
    pub identity: Identity,
    /// GDR / LDR from the `update` entry that lists it.
    pub branch: Option<String>,
    /// Identity name of the `.mum` that lists it.
    pub package: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Component {
    /// The component key as found (folder or manifest name), may be abbreviated with `..`.
    pub key: String,
    pub name: String,
    pub version: Option<Version>,
    pub architecture: Option<String>,
    pub culture: Option<String>,
    pub public_key_token: Option<String>,
    /// GDR / LDR branch from the `update` entry that lists the component, when one does.
    pub branch: Option<String>,
    pub manifest: Option<String>,
    pub files: u32,
    /// Files the manifest names that the payload does not carry.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_files: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    Pe,
    ComponentManifest,
    PackageManifest,
    Catalog,
    ContainerIndex,
    Properties,
    Unattend,
    Cabinet,
    Delta,
    Other,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileRecord {
    pub path: String,
    pub name: String,
    pub kind: FileKind,
    pub component: Option<String>,
    pub size: u64,
    pub sha256: String,
    pub versions: FileVersions,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pe: Option<PeFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<DeltaInfo>,
    /// Cross-check outcomes; mismatches carry both values.
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FileVersions {
    /// Version of the component (manifest identity) the file belongs to.
    pub component: Option<Version>,
    /// Version in the component folder name.
    pub folder: Option<Version>,
    pub pe_file: Option<Version>,
    pub pe_product: Option<Version>,
    /// Version parsed from the `FileVersion` string.
    pub file_version_string: Option<Version>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PeFacts {
    pub machine: String,
    pub image: String,
    pub is_64: bool,
    pub timestamp: u32,
    pub has_version_resource: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub strings: BTreeMap<String, String>,
    pub file_version_string: Option<String>,
    pub product_version_string: Option<String>,
    pub original_filename: Option<String>,
    pub company_name: Option<String>,
    pub branch_tag: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeltaInfo {
    /// `PA30`, `PA19`, or `COPY` (a copy of the `basis` target).
    pub format: String,
    pub blob: Option<String>,
    pub target_size: Option<u64>,
    pub target_sha1: Option<String>,
    pub basis: Option<String>,
    /// True when the target was decoded natively and its SHA-1 matched the index
    /// (and, for PA30, its MD5 the header): the record then carries the real bytes'
    /// size, SHA-256, kind and PE facts.
    pub decoded: bool,
    /// Why the target was not decoded (`decoded` false), e.g. `msdelta_unsupported:
    /// not implemented: delta against a basis with amd64 source transforms needing
    /// AMD64_DISASM (…)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_error: Option<String>,
    /// Target FILETIME from the PA30 header, as UTC `yyyy-mm-ddThh:mm:ssZ`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_time: Option<String>,
    /// The same FILETIME, raw (100 ns units since 1601-01-01 UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_filetime: Option<u64>,
    /// `DELTA_FILE_TYPE_SET` the delta was made with: `executables-1`, `raw-only`, ... or hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_type_set: Option<String>,
    /// `DELTA_FILE_TYPE` of the target: `raw`, `i386`, `amd64`, ... or hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_type: Option<String>,
    /// `DELTA_FLAG_*` transforms, hex (`0x2e63e`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<String>,
    /// Names of the set flags (`E8`, `AMD64_DISASM`, ...), low bit first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flag_names: Vec<String>,
    /// Hash algorithm of `target_hash`: `MD5` (`CALG_MD5`), or the `ALG_ID` in hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_hash_alg: Option<String>,
    /// Hash of the decoded target from the PA30 header, lower-case hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_hash: Option<String>,
    /// One line for humans, e.g. `delta-compressed, target 901,264 bytes, MD5 5b55…`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: String,
    pub outcome: CheckOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckOutcome {
    Ok,
    Mismatch,
}
