//! One package's members: [`PackageBuilder`] takes every member the container walker hands
//! the scanner (`crate::dispatch`), hashes it (inline or on an idle worker, see `digest`),
//! classifies it and hands it to its parser. What the members say is collected here;
//! [`ipd`] resolves Intra-Package Delta targets and [`assemble`] turns it all into the
//! [`Package`].

mod assemble;
mod ipd;

use crate::convert::{err_rec, pe_facts, unattend_info, ReportKind};
use crate::digest::{self, Offload, Pending, Sha256Hex, Slots};
use crate::options::ScanOptions;
use ipd::MAX_PENDING_DELTA_BYTES;
use kbscan_archive::cab::Cabinet;
use kbscan_archive::{sniff, Magic, NestedPath, Source};
use kbscan_cbs as cbs;
use kbscan_model::*;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A bare PE image (an input file, or a ZIP member) as a package of its one member.
pub(crate) fn pe_package(
    bytes: Source<'_>,
    path: &NestedPath,
    hasher: Option<&dyn Offload>,
    sha256: Option<Sha256Hex>,
) -> Built {
    let sha256 =
        sha256.unwrap_or_else(|| Sha256Hex::Ready(digest::compute_source(bytes, false).sha256));
    let mut b = PackageBuilder::new(bytes.len(), path, PackageKind::Pe, sha256);
    b.hasher = hasher;
    let name = path.last().unwrap_or_default().to_string();
    // The package is this one member: its digest is the package's.
    let digest = b.sha256.clone();
    b.add_member(&name, bytes, path.clone(), false, digest);
    b.finish()
}

/// What a cabinet's member names say it is: an MSU (outer cabinet with payload cabinets and
/// properties), a payload cabinet (holds `.mum` or an IPD index) or a plain cabinet.
pub(crate) fn classify(cab: &Cabinet<'_>) -> PackageKind {
    let names: Vec<String> = cab
        .files
        .iter()
        .map(|f| f.name.to_ascii_lowercase())
        .collect();
    let is_payload = names
        .iter()
        .any(|n| is_package_manifest(n) || n == CIX_NAME);
    let is_msu = !is_payload
        && names.iter().any(|n| {
            n.ends_with("-pkgproperties.txt") || (n.ends_with(".cab") && n != "wsusscan.cab")
        });
    if is_msu {
        PackageKind::Msu
    } else if is_payload {
        PackageKind::PayloadCab
    } else {
        PackageKind::Cabinet
    }
}

/// Whether a cabinet is an Intra-Package Delta payload (it holds `_manifest_.cix.xml`).
pub(crate) fn is_ipd(cab: &Cabinet<'_>) -> bool {
    cab.files
        .iter()
        .any(|f| f.name.eq_ignore_ascii_case(CIX_NAME))
}

/// Most bytes of a spilled member read back into memory for a parser (a PE image, a PA30
/// blob, XML): one member at a time, so memory stays within the budget plus this. Genuine
/// PE files and blobs are far smaller; a member this large that did not fit the memory
/// budget is hashed but not parsed, with a `limit_held_bytes` error.
const MAX_READ_BACK: u64 = 64 << 20;

/// A member's bytes for a parser: borrowed when in memory, read back when the walker spilled
/// it to a temporary file (at most [`MAX_READ_BACK`]).
fn bytes_of(data: Source<'_>) -> std::io::Result<Cow<'_, [u8]>> {
    match data.as_slice() {
        Some(b) => Ok(Cow::Borrowed(b)),
        None => data.read_upto(0, usize::try_from(data.len()).unwrap_or(usize::MAX)),
    }
}

/// A finished [`Package`] whose own SHA-256 may still be on its way: a package that is the
/// whole input file reuses the input's digest, hashed alongside on an idle worker until the
/// input's scope ends. [`Built::resolve`], after that scope, is the only way to the package.
pub(crate) struct Built {
    /// Complete but for `sha256`, which `resolve` fills in.
    pkg: Package,
    sha256: Sha256Hex,
}

impl Built {
    pub(crate) fn resolve(self, slots: &Slots) -> Package {
        let mut pkg = self.pkg;
        pkg.sha256 = slots.resolve(self.sha256);
        pkg
    }
}

/// One member's record while its package is built. Its SHA-256 may still be hashing on
/// another thread, so it is kept here, typed, and written into the record only when the
/// package is finished (`rec.sha256` is empty until then).
struct Member {
    rec: FileRecord,
    sha256: Sha256Hex,
}

impl Member {
    /// The record with its digest, waiting for it if it is still being computed.
    fn finish(self, hasher: Option<&dyn Offload>) -> FileRecord {
        let mut rec = self.rec;
        rec.sha256 = match self.sha256 {
            Sha256Hex::Ready(s) => s,
            Sha256Hex::Slot(i) => hasher.map(|h| h.wait(i).sha256).unwrap_or_default(),
        };
        rec
    }
}

/// Collects what the members of one package say, then assembles the [`Package`].
pub(crate) struct PackageBuilder<'o> {
    opts: Option<&'o ScanOptions>,
    /// Where member hashing goes, and whether idle pool threads can take other work of
    /// this input (PA30 targets); `None`: everything inline.
    hasher: Option<&'o dyn Offload>,
    /// The package being built; its `files` and `sha256` are filled in by `finish`, from
    /// `files` and `sha256` below.
    pkg: Package,
    sha256: Sha256Hex,
    /// Member records in container order (IPD targets after their payload's members).
    files: Vec<Member>,
    mums: Vec<(String, cbs::PackageMum)>,
    manifests: BTreeMap<String, (String, cbs::ComponentManifest)>,
    cix: Vec<(NestedPath, cbs::ContainerIndex)>,
    properties: Option<cbs::PkgProperties>,
    /// sha1 of members of IPD payloads, by lower-case name, to verify RAW targets.
    member_sha1: BTreeMap<String, String>,
    /// Member SHA-1s in walk order, some still being computed; [`Self::settle`] moves
    /// them into `member_sha1` in this order (a later duplicate name wins, as it did
    /// when they were inserted as they came).
    sha1_pending: Vec<(String, Pending)>,
    /// Parsed PA30 headers (never the blob bytes), by lower-case nested member path.
    pa30: BTreeMap<String, Result<kbscan_msdelta::Pa30Header, kbscan_msdelta::DeltaError>>,
    /// Bytes of PA30 blobs whose header parsed, by the same key, for decoding.
    pa30_blobs: BTreeMap<String, Vec<u8>>,
    /// Sum of the lengths in `pa30_blobs` (bounded by [`MAX_PENDING_DELTA_BYTES`]).
    pa30_blob_bytes: u64,
}

impl<'o> PackageBuilder<'o> {
    /// A package of `size` bytes at `path` whose own SHA-256 is `sha256` (or its slot).
    pub(crate) fn new(size: u64, path: &NestedPath, kind: PackageKind, sha256: Sha256Hex) -> Self {
        PackageBuilder {
            opts: None,
            hasher: None,
            sha256,
            files: Vec::new(),
            pkg: Package {
                source: path.to_string(),
                kind,
                size,
                sha256: String::new(),
                kb: None,
                identity: None,
                release_type: None,
                about: About::default(),
                architecture: None,
                os_builds: BTreeMap::new(),
                os_family: None,
                dates: Dates::default(),
                payloads: Vec::new(),
                properties: None,
                unattend: None,
                package_manifests: Vec::new(),
                sub_packages: Vec::new(),
                components: Vec::new(),
                files: Vec::new(),
                errors: Vec::new(),
            },
            mums: Vec::new(),
            manifests: BTreeMap::new(),
            cix: Vec::new(),
            properties: None,
            member_sha1: BTreeMap::new(),
            sha1_pending: Vec::new(),
            pa30: BTreeMap::new(),
            pa30_blobs: BTreeMap::new(),
            pa30_blob_bytes: 0,
        }
    }

    pub(crate) fn error(&mut self, path: &NestedPath, kind: ErrorKind, message: String) {
        self.pkg.errors.push(err_rec(path, kind, message));
    }

    /// Builds with these options and hands hashing to `hasher`.
    pub(crate) fn with(mut self, opts: &'o ScanOptions, hasher: Option<&'o dyn Offload>) -> Self {
        self.opts = Some(opts);
        self.hasher = hasher;
        self
    }

    pub(crate) fn kind(&self) -> PackageKind {
        self.pkg.kind
    }

    /// Records a payload cabinet (the package's own, or one nested in it) before its
    /// members arrive.
    pub(crate) fn begin_payload(&mut self, cab: &Cabinet<'_>, path: &NestedPath) {
        let mut compression: Vec<String> = cab
            .folders
            .iter()
            .map(|f| f.compression.to_string())
            .collect();
        compression.dedup();
        self.pkg.payloads.push(Payload {
            path: path.to_string(),
            compression,
            folders: cab.folders.len() as u32,
            entries: cab.files.len() as u32,
            layout: if is_ipd(cab) {
                "ipd".into()
            } else {
                "flat".into()
            },
            ipd: None,
        });
    }

    /// How many member records and errors there are: where a nested container's records
    /// start, so they can be moved behind the outer container's own.
    pub(crate) fn marks(&self) -> (usize, usize) {
        (self.files.len(), self.pkg.errors.len())
    }

    /// Takes the records and errors added since `marks`.
    pub(crate) fn take_since(&mut self, (files_at, errors_at): (usize, usize)) -> Nested {
        Nested {
            files: self.files.split_off(files_at.min(self.files.len())),
            errors: self
                .pkg
                .errors
                .split_off(errors_at.min(self.pkg.errors.len())),
        }
    }

    /// Puts records taken by [`Self::take_since`] back at the end.
    pub(crate) fn append(&mut self, n: Nested) {
        self.files.extend(n.files);
        self.pkg.errors.extend(n.errors);
    }

    /// Fills in the digest of the member at `index` (computed beside a nested walk).
    pub(crate) fn set_digest(&mut self, index: usize, sha256: String) {
        if let Some(m) = self.files.get_mut(index) {
            m.sha256 = Sha256Hex::Ready(sha256);
        }
    }

    pub(crate) fn member_count(&self) -> usize {
        self.files.len()
    }

    /// The SHA-256 of a member (or the slot it will arrive in), and in IPD payloads its
    /// SHA-1, queued for [`Self::settle`].
    pub(crate) fn digest_member(
        &mut self,
        name: &str,
        data: Source<'_>,
        want_sha1: bool,
    ) -> Sha256Hex {
        let got = match (self.hasher, data.as_slice()) {
            (Some(h), Some(bytes)) => h.member(bytes, want_sha1),
            // A spilled member is read back by position on this thread.
            _ => Pending::Ready(digest::compute_source(data, want_sha1)),
        };
        match got {
            Pending::Ready(d) => {
                if d.sha1.is_some() {
                    self.sha1_pending
                        .push((name.to_ascii_lowercase(), Pending::Ready(d.clone())));
                }
                Sha256Hex::Ready(d.sha256)
            }
            Pending::Slot(i) => {
                if want_sha1 {
                    self.sha1_pending
                        .push((name.to_ascii_lowercase(), Pending::Slot(i)));
                }
                Sha256Hex::Slot(i)
            }
        }
    }

    /// Waits for every digest this builder handed over and puts it in place. Called
    /// before anything reads a member's digest.
    fn settle(&mut self) {
        if let Some(h) = self.hasher {
            for m in &mut self.files {
                if let Sha256Hex::Slot(i) = m.sha256 {
                    m.sha256 = Sha256Hex::Ready(h.wait(i).sha256);
                }
            }
        }
        for (name, p) in std::mem::take(&mut self.sha1_pending) {
            let sha1 = match p {
                Pending::Ready(d) => d.sha1,
                Pending::Slot(i) => self.hasher.and_then(|h| h.wait(i).sha1),
            };
            if let Some(sha1) = sha1 {
                self.member_sha1.insert(name, sha1);
            }
        }
    }

    /// Records one member with its digest (or the slot it will arrive in).
    pub(crate) fn add_member(
        &mut self,
        name: &str,
        src: Source<'_>,
        path: NestedPath,
        outer: bool,
        sha256: Sha256Hex,
    ) {
        let lower = name.to_ascii_lowercase();
        let magic = src.read_upto(0, 8).map_or(Magic::Unknown, |h| sniff(&h));
        let (component, base) = split_component(name);
        let mut rec = FileRecord {
            path: path.to_string(),
            name: base.to_string(),
            kind: FileKind::Other,
            component: component.map(str::to_string),
            size: src.len(),
            // Written from `sha256` when the package is finished (`Member::finish`).
            sha256: String::new(),
            versions: FileVersions::default(),
            pe: None,
            delta: None,
            checks: Vec::new(),
        };
        if let Some(key) = component.and_then(cbs::parse_component_key) {
            rec.versions.folder = key.version;
        }
        // Only a parser needs the bytes in memory: XML by name, PE images, PA30 blobs. Other
        // members (containers, which are walked from where they are; catalogues; data) are
        // hashed and listed, never read back from a temporary file.
        let parsed_by_name = (outer
            && (lower.ends_with("-pkgproperties.txt") || lower.ends_with(".xml")))
            || lower == CIX_NAME
            || ((is_package_manifest(&lower) || lower.ends_with(".manifest"))
                && component.is_none());
        let needs_bytes = parsed_by_name
            || (!lower.ends_with(".cat") && matches!(magic, Magic::Pe | Magic::Pa30));
        if !needs_bytes {
            rec.kind = if lower.ends_with(".cat") {
                FileKind::Catalog
            } else if magic == Magic::Cab {
                FileKind::Cabinet
            } else {
                FileKind::Other
            };
            self.files.push(Member { rec, sha256 });
            return;
        }
        if src.as_slice().is_none() && src.len() > MAX_READ_BACK {
            self.error(
                &path,
                ErrorKind::Limit(LimitKind::HeldBytes),
                format!(
                    "limit max_held_bytes: the member ({} bytes) did not fit the memory budget and was spilled to a temporary file; members over {MAX_READ_BACK} bytes are hashed there but not read back for parsing",
                    src.len()
                ),
            );
            self.files.push(Member { rec, sha256 });
            return;
        }
        let data = match bytes_of(src) {
            Ok(d) => d,
            Err(e) => {
                self.error(
                    &path,
                    ErrorKind::CabIo,
                    format!("cannot read the member back from its temporary file: {e}"),
                );
                self.files.push(Member { rec, sha256 });
                return;
            }
        };
        let data: &[u8] = &data;
        if outer && lower.ends_with("-pkgproperties.txt") {
            rec.kind = FileKind::Properties;
            match cbs::parse_pkg_properties(data) {
                Ok(p) => self.properties = Some(p),
                Err(e) => self.error(
                    &path,
                    e.report_kind(),
                    format!("cannot read package properties: {e}"),
                ),
            }
        } else if outer && lower.ends_with(".xml") {
            rec.kind = FileKind::Unattend;
            match cbs::parse_unattend(data) {
                Ok(u) => self.pkg.unattend = Some(unattend_info(&u)),
                Err(e) => self.error(
                    &path,
                    e.report_kind(),
                    format!("cannot read unattend XML: {e}"),
                ),
            }
        } else if lower == CIX_NAME {
            rec.kind = FileKind::ContainerIndex;
            match cbs::parse_container_index(data) {
                Ok(c) => {
                    let parent = path.parent();
                    self.cix.push((parent, c));
                }
                Err(e) => self.error(
                    &path,
                    e.report_kind(),
                    format!("cannot read IPD container index: {e}"),
                ),
            }
        } else if is_package_manifest(&lower) && component.is_none() {
            rec.kind = FileKind::PackageManifest;
            match cbs::parse_package_mum(data) {
                Ok(m) => self.mums.push((path.to_string(), m)),
                Err(e) => self.error(
                    &path,
                    e.report_kind(),
                    format!("cannot read package manifest: {e}"),
                ),
            }
        } else if lower.ends_with(".manifest") && component.is_none() {
            rec.kind = FileKind::ComponentManifest;
            let key = name[..name.len() - ".manifest".len()].to_string();
            if let Some(k) = cbs::parse_component_key(&key) {
                rec.versions.folder = k.version;
            }
            match cbs::sniff_manifest(data) {
                cbs::ManifestEncoding::DcmCompressed => self.error(
                    &path,
                    ErrorKind::CompressedManifest,
                    "compressed manifest (DCM delta against a base in wcp.dll): not decoded".into(),
                ),
                _ => match cbs::parse_component_manifest(data) {
                    Ok(m) => {
                        self.manifests.insert(key.to_ascii_lowercase(), (key, m));
                    }
                    Err(e) => self.error(
                        &path,
                        e.report_kind(),
                        format!("cannot read component manifest: {e}"),
                    ),
                },
            }
        } else if lower.ends_with(".cat") {
            rec.kind = FileKind::Catalog;
        } else {
            match magic {
                Magic::Cab => rec.kind = FileKind::Cabinet,
                Magic::Pa30 => {
                    rec.kind = FileKind::Delta;
                    // The header, and (within MAX_PENDING_DELTA_BYTES) the bytes for
                    // decoding; targets pick them up in `resolve_ipd`.
                    let key = path.to_string().to_ascii_lowercase();
                    let header = kbscan_msdelta::parse_header(data);
                    if header.is_ok()
                        && self.pa30_blob_bytes + data.len() as u64 <= MAX_PENDING_DELTA_BYTES
                    {
                        self.pa30_blob_bytes += data.len() as u64;
                        self.pa30_blobs.insert(key.clone(), data.to_vec());
                    }
                    self.pa30.insert(key, header);
                }
                Magic::Pe => {
                    rec.kind = FileKind::Pe;
                    match kbscan_pe::read(data) {
                        Ok(info) => {
                            if let Some(v) = &info.version {
                                rec.versions.pe_file = v.file_version;
                                rec.versions.pe_product = v.product_version;
                                rec.versions.file_version_string = v.file_version_from_string;
                            }
                            rec.pe = Some(pe_facts(&info));
                        }
                        Err(e) => {
                            self.error(&path, e.report_kind(), format!("cannot read PE image: {e}"))
                        }
                    }
                }
                _ => {}
            }
        }
        self.files.push(Member { rec, sha256 });
    }
}

/// Records of a nested container, held back to follow the outer container's own.
#[derive(Default)]
pub(crate) struct Nested {
    files: Vec<Member>,
    errors: Vec<ErrorRecord>,
}

impl Nested {
    pub(crate) fn extend(&mut self, other: Nested) {
        self.files.extend(other.files);
        self.errors.extend(other.errors);
    }
}

pub(crate) const CIX_NAME: &str = "_manifest_.cix.xml";

fn is_package_manifest(lower_name: &str) -> bool {
    lower_name.ends_with(".mum")
}

/// `amd64_..._none_0123456789abcdef\ntoskrnl.exe` → (Some(key), "ntoskrnl.exe").
fn split_component(name: &str) -> (Option<&str>, &str) {
    match name.rfind(['\\', '/']) {
        Some(i) => {
            let dir = &name[..i];
            let dir = dir.split(['\\', '/']).next().unwrap_or(dir);
            (Some(dir).filter(|d| !d.is_empty()), &name[i + 1..])
        }
        None => (None, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_split() {
        assert_eq!(
            split_component("amd64_microsoft-windows-os-kernel_31bf3856ad364e35_6.0.6003.20489_none_0123456789abcdef\\ntoskrnl.exe"),
            (Some("amd64_microsoft-windows-os-kernel_31bf3856ad364e35_6.0.6003.20489_none_0123456789abcdef"), "ntoskrnl.exe")
        );
        assert_eq!(split_component("update.mum"), (None, "update.mum"));
        assert_eq!(split_component("a/b/c.dll"), (Some("a"), "c.dll"));
    }
}
