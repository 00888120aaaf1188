//! Baselines for CI regression checks: a stable snapshot of what kbscan sees in a corpus
//! ([`Baseline`]) and the comparison of a fresh snapshot with a committed one
//! ([`diff`] → [`Changes`]).
//!
//! Invariants:
//! - a baseline is a pure function of the scan, its analysis and the user's roots: no
//!   times, no absolute paths (every path is made relative to the root it was found
//!   under), every list sorted, so the same corpus gives the same bytes on any machine
//!   and any thread count;
//! - `kbscan_version` is informative only and never compared, so a new kbscan release
//!   does not make every committed baseline "changed";
//! - a baseline is never misread: [`Baseline::from_json`] rejects a wrong `schema` tag or
//!   a `schema_version` other than [`BASELINE_SCHEMA_VERSION`] naming both versions;
//!   unknown extra fields of the same version are accepted (fields may be added);
//! - every difference is reported once, under one [`ChangeKind`]: the files, errors
//!   and versions of an added or removed package are covered by its `package-added`
//!   or `package-removed` change, and a file whose versions changed is a
//!   `version-change` (its new hash is implied), not also a `hash-change`.
//!
//! This module never reads files and never prints.

use crate::{Analysis, PackageRef};
use kbscan_model::{PackageKind, ScanReport};
use kbscan_version::Version;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// The `schema` tag of a baseline file.
pub const BASELINE_SCHEMA: &str = "kbscan-baseline";
/// Bumped only when a field changes meaning or disappears; adding fields does not bump it.
pub const BASELINE_SCHEMA_VERSION: u32 = 1;

/// What kbscan saw in a corpus, in the shape committed next to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub schema: String,
    pub schema_version: u32,
    /// The kbscan that wrote it. Informative only: never compared.
    pub kbscan_version: String,
    /// Sorted by source.
    pub packages: Vec<BaselinePackage>,
    /// Sorted by path.
    pub files: Vec<BaselineFile>,
    /// Sorted by os, platform, target build.
    pub build_moves: Vec<BaselineMove>,
    /// Close findings only, sorted by kind, name, architectures, version.
    pub ceiling_findings: Vec<BaselineCeiling>,
    /// Sorted by path, kind.
    pub errors: Vec<BaselineError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselinePackage {
    /// Nested path relative to the root it was found under.
    pub source: String,
    pub kind: String,
    pub kb: Option<String>,
    pub architecture: Option<String>,
    pub release_type: Option<String>,
    pub date: Option<String>,
    pub date_source: Option<String>,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineVersions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<Version>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<Version>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pe_file: Option<Version>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pe_product: Option<Version>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_version_string: Option<Version>,
}

impl BaselineVersions {
    fn is_empty(&self) -> bool {
        *self == BaselineVersions::default()
    }
}

impl fmt::Display for BaselineVersions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = [
            ("component", self.component),
            ("folder", self.folder),
            ("pe_file", self.pe_file),
            ("pe_product", self.pe_product),
            ("file_version_string", self.file_version_string),
        ];
        let mut first = true;
        for (name, v) in fields {
            if let Some(v) = v {
                if !first {
                    f.write_str(", ")?;
                }
                write!(f, "{name} {v}")?;
                first = false;
            }
        }
        if first {
            f.write_str("no versions")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineFile {
    /// Nested path (`ws2008sp2/x.msu!x.cab!component\file.dll`) relative to its root.
    pub path: String,
    /// Source of the package it belongs to (relative, as in `packages`).
    pub package: String,
    pub size: u64,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "BaselineVersions::is_empty")]
    pub versions: BaselineVersions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineMove {
    pub os: String,
    pub platform: String,
    pub from: String,
    pub to: String,
    /// KB (else relative source) of the first package carrying `to`.
    pub first_mover: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineCeiling {
    /// `component` or `file`.
    pub kind: String,
    pub name: String,
    pub architectures: Vec<String>,
    pub version: Version,
    pub rule: String,
    pub scheme: String,
    pub ceiling: u16,
    pub headroom: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BaselineError {
    pub path: String,
    /// The scan's `ErrorKind` by name. A string, not the enum: a baseline may come from
    /// another kbscan version whose kinds this one does not know (or has renamed, like the
    /// `cab_limit` of old that is now `limit_*`), and such a kind must still read back and
    /// compare as a changed error rather than fail the whole baseline.
    pub kind: String,
}

/// Why a baseline file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineReadError {
    #[error("not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("not a kbscan baseline: \"schema\" is {found}, expected \"{BASELINE_SCHEMA}\"")]
    WrongSchema { found: String },
    #[error(
        "baseline schema version {found} is newer than this kbscan supports (baseline schema \
         version {supported}); upgrade kbscan, or rewrite the baseline with `kbscan baseline`"
    )]
    TooNew { found: u64, supported: u32 },
    #[error(
        "baseline schema version {found} is not supported by this kbscan (baseline schema \
         version {supported}); rewrite the baseline with `kbscan baseline`"
    )]
    Unsupported { found: String, supported: u32 },
    #[error("baseline schema version {BASELINE_SCHEMA_VERSION} layout is invalid: {0}")]
    Invalid(#[source] serde_json::Error),
}

/// Makes nested paths relative to the roots the user gave, so a baseline written from
/// `/home/a/corpus` compares equal to a check run on `ci/corpus`.
#[derive(Debug, Clone, Default)]
pub struct Roots {
    /// `/`-separated prefixes (a folder given as a root, or a file root's parent folder),
    /// longest first.
    prefixes: Vec<String>,
}

impl Roots {
    /// `bases` are the folders to strip: each folder root as the scan names it, and for a
    /// file root its parent folder (`""` or `"."` strips nothing).
    pub fn new<I: IntoIterator<Item = String>>(bases: I) -> Roots {
        let mut prefixes: Vec<String> = bases
            .into_iter()
            .map(|b| b.trim_end_matches('/').to_string())
            .filter(|b| !b.is_empty() && b != ".")
            .map(|b| format!("{b}/"))
            .collect();
        prefixes.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        prefixes.dedup();
        Roots { prefixes }
    }

    pub fn relative(&self, path: &str) -> String {
        for p in &self.prefixes {
            if let Some(rest) = path.strip_prefix(p.as_str()) {
                return rest.to_string();
            }
        }
        path.to_string()
    }
}

fn kind_name(k: PackageKind) -> String {
    match k {
        PackageKind::Msu => "msu",
        PackageKind::PayloadCab => "payload-cab",
        PackageKind::Cabinet => "cabinet",
        PackageKind::Pe => "pe",
    }
    .to_string()
}

impl Baseline {
    /// The snapshot of `report` (and its `analysis`), paths made relative by `roots`.
    pub fn new(report: &ScanReport, analysis: &Analysis, roots: &Roots) -> Baseline {
        let rel = |s: &str| roots.relative(s);
        let label = |r: &PackageRef| r.kb.clone().unwrap_or_else(|| rel(&r.source));
        let mut packages: Vec<BaselinePackage> = report
            .packages
            .iter()
            .map(|p| BaselinePackage {
                source: rel(&p.source),
                kind: kind_name(p.kind),
                kb: p.kb.clone(),
                architecture: p.architecture.clone(),
                release_type: p.release_type.clone(),
                date: p.dates.release.clone(),
                date_source: p.dates.release_source.clone(),
                size: p.size,
                sha256: p.sha256.clone(),
            })
            .collect();
        packages.sort_by(|a, b| a.source.cmp(&b.source));
        let mut files: Vec<BaselineFile> = report
            .packages
            .iter()
            .flat_map(|p| {
                let package = rel(&p.source);
                p.files.iter().map(move |f| BaselineFile {
                    path: rel(&f.path),
                    package: package.clone(),
                    size: f.size,
                    sha256: f.sha256.clone(),
                    versions: BaselineVersions {
                        component: f.versions.component,
                        folder: f.versions.folder,
                        pe_file: f.versions.pe_file,
                        pe_product: f.versions.pe_product,
                        file_version_string: f.versions.file_version_string,
                    },
                })
            })
            .collect();
        // Full key: a (hypothetical) repeated path still sorts the same on every run.
        files.sort_by(|a, b| {
            (&a.path, &a.package, &a.sha256, a.size).cmp(&(&b.path, &b.package, &b.sha256, b.size))
        });
        let mut build_moves: Vec<BaselineMove> = analysis
            .moves
            .iter()
            .map(|m| BaselineMove {
                os: m.os.clone(),
                platform: m.platform.clone(),
                from: m.from.to_string(),
                to: m.to.to_string(),
                first_mover: label(&m.first_mover.package),
            })
            .collect();
        build_moves.sort_by(|a, b| move_key(a).cmp(&move_key(b)));
        let mut ceiling_findings: Vec<BaselineCeiling> = analysis
            .ceilings
            .findings
            .iter()
            .filter(|f| f.close)
            .map(|f| BaselineCeiling {
                kind: match f.kind {
                    crate::VersionKind::Component => "component",
                    crate::VersionKind::File => "file",
                }
                .to_string(),
                name: f.name.clone(),
                architectures: f.architectures.clone(),
                version: f.version,
                rule: f.rule.clone(),
                scheme: match f.scheme {
                    crate::Scheme::Plain => "plain",
                    crate::Scheme::Nt6 => "nt6",
                }
                .to_string(),
                ceiling: f.ceiling,
                headroom: f.headroom,
            })
            .collect();
        ceiling_findings.sort_by(|a, b| ceiling_key(a).cmp(&ceiling_key(b)));
        let errors: BTreeSet<BaselineError> = report
            .errors
            .iter()
            .map(|e| BaselineError {
                path: rel(&e.path),
                kind: e.kind.to_string(),
            })
            .collect();
        Baseline {
            schema: BASELINE_SCHEMA.to_string(),
            schema_version: BASELINE_SCHEMA_VERSION,
            kbscan_version: report.kbscan_version.clone(),
            packages,
            files,
            build_moves,
            ceiling_findings,
            errors: errors.into_iter().collect(),
        }
    }

    /// Pretty JSON, every object's keys sorted, trailing newline: the committed bytes.
    pub fn to_json(&self) -> String {
        // serde_json's `Value` map is a BTreeMap (no `preserve_order`), so going through
        // it sorts every object's keys.
        let value = serde_json::to_value(self).expect("a baseline is plain data");
        let mut s = serde_json::to_string_pretty(&value).expect("a Value always serialises");
        s.push('\n');
        s
    }

    /// Reads a baseline, checking the schema tag and version before the layout.
    pub fn from_json(text: &str) -> Result<Baseline, BaselineReadError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(BaselineReadError::Json)?;
        match value.get("schema") {
            Some(serde_json::Value::String(s)) if s == BASELINE_SCHEMA => {}
            other => {
                return Err(BaselineReadError::WrongSchema {
                    found: other.map_or_else(|| "missing".to_string(), |v| v.to_string()),
                })
            }
        }
        match value.get("schema_version") {
            Some(v) if v.as_u64() == Some(u64::from(BASELINE_SCHEMA_VERSION)) => {}
            Some(v)
                if v.as_u64()
                    .is_some_and(|n| n > u64::from(BASELINE_SCHEMA_VERSION)) =>
            {
                return Err(BaselineReadError::TooNew {
                    found: v.as_u64().unwrap_or_default(),
                    supported: BASELINE_SCHEMA_VERSION,
                })
            }
            other => {
                return Err(BaselineReadError::Unsupported {
                    found: other.map_or_else(|| "missing".to_string(), |v| v.to_string()),
                    supported: BASELINE_SCHEMA_VERSION,
                })
            }
        }
        serde_json::from_value(value).map_err(BaselineReadError::Invalid)
    }
}

fn move_key(m: &BaselineMove) -> (&str, &str, Option<Version>, &str) {
    // `to` is `major.minor.build`: compare it numerically.
    let to = Version::from_str(&format!("{}.0", m.to)).ok();
    (&m.os, &m.platform, to, &m.to)
}

fn ceiling_key(c: &BaselineCeiling) -> (&str, &str, &[String], Version) {
    (&c.kind, &c.name, &c.architectures, c.version)
}

/// The kinds of change `kbscan check` reports, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    PackageAdded,
    PackageRemoved,
    PackageChanged,
    FileAdded,
    FileRemoved,
    VersionChange,
    HashChange,
    NewBuildMove,
    BuildMoveRemoved,
    Ceiling,
    ScanError,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 11] = [
        ChangeKind::PackageAdded,
        ChangeKind::PackageRemoved,
        ChangeKind::PackageChanged,
        ChangeKind::FileAdded,
        ChangeKind::FileRemoved,
        ChangeKind::VersionChange,
        ChangeKind::HashChange,
        ChangeKind::NewBuildMove,
        ChangeKind::BuildMoveRemoved,
        ChangeKind::Ceiling,
        ChangeKind::ScanError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::PackageAdded => "package-added",
            ChangeKind::PackageRemoved => "package-removed",
            ChangeKind::PackageChanged => "package-changed",
            ChangeKind::FileAdded => "file-added",
            ChangeKind::FileRemoved => "file-removed",
            ChangeKind::VersionChange => "version-change",
            ChangeKind::HashChange => "hash-change",
            ChangeKind::NewBuildMove => "new-build-move",
            ChangeKind::BuildMoveRemoved => "build-move-removed",
            ChangeKind::Ceiling => "ceiling",
            ChangeKind::ScanError => "scan-error",
        }
    }

    /// One line saying what the kind means (for text headings and JUnit test names).
    pub fn title(self) -> &'static str {
        match self {
            ChangeKind::PackageAdded => "packages added",
            ChangeKind::PackageRemoved => "packages removed",
            ChangeKind::PackageChanged => "packages changed (identity, date, size or hash)",
            ChangeKind::FileAdded => "files added to a known package",
            ChangeKind::FileRemoved => "files removed from a known package",
            ChangeKind::VersionChange => "file versions changed",
            ChangeKind::HashChange => "file contents changed (same versions)",
            ChangeKind::NewBuildMove => "new or changed build moves",
            ChangeKind::BuildMoveRemoved => "build moves no longer seen",
            ChangeKind::Ceiling => "close-to-ceiling findings new, changed or gone",
            ChangeKind::ScanError => "scan errors new or gone",
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChangeKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChangeKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = ChangeKind::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "unknown change kind {s:?}; expected one of {}",
                    all.join(", ")
                )
            })
    }
}

/// One difference between the baseline and the fresh scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    /// What changed: a relative package source or nested file path, a series
    /// (`6.0 amd64 → 6.0.6003`), a finding (`component x86 name 6.0.6003.20489`), an
    /// error (`path: kind`).
    pub key: String,
    /// The relative input file it concerns (the part of `key` before the first `!`),
    /// when there is one: CI annotations attach to it.
    pub file: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Every change, sorted by kind (in [`ChangeKind`] order), then key.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Changes {
    pub changes: Vec<Change>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn count(&self, kind: ChangeKind) -> usize {
        self.changes.iter().filter(|c| c.kind == kind).count()
    }

    /// The changes of one kind, in key order.
    pub fn of(&self, kind: ChangeKind) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(move |c| c.kind == kind)
    }
}

fn outer_file(path: &str) -> Option<String> {
    let f = path.split('!').next().unwrap_or(path);
    (!f.is_empty()).then(|| f.to_string())
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("none")
}

fn package_summary(p: &BaselinePackage) -> String {
    let mut parts: Vec<String> = [&p.kb, &p.architecture, &p.release_type, &p.date]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    if parts.is_empty() {
        parts.push(p.kind.clone());
    }
    format!("{}, {} bytes, sha256 {}", parts.join(" "), p.size, p.sha256)
}

/// The fields of a package that differ, as `before` and `after` texts.
fn package_delta(a: &BaselinePackage, b: &BaselinePackage) -> Option<(String, String)> {
    let fields: [(&str, String, String); 8] = [
        ("kind", a.kind.clone(), b.kind.clone()),
        ("kb", opt(&a.kb).into(), opt(&b.kb).into()),
        (
            "architecture",
            opt(&a.architecture).into(),
            opt(&b.architecture).into(),
        ),
        (
            "release_type",
            opt(&a.release_type).into(),
            opt(&b.release_type).into(),
        ),
        ("date", opt(&a.date).into(), opt(&b.date).into()),
        (
            "date_source",
            opt(&a.date_source).into(),
            opt(&b.date_source).into(),
        ),
        ("size", a.size.to_string(), b.size.to_string()),
        ("sha256", a.sha256.clone(), b.sha256.clone()),
    ];
    let (before, after): (Vec<String>, Vec<String>) = fields
        .into_iter()
        .filter(|(_, x, y)| x != y)
        .map(|(n, x, y)| (format!("{n} {x}"), format!("{n} {y}")))
        .unzip();
    (!before.is_empty()).then(|| (before.join(", "), after.join(", ")))
}

fn move_text(m: &BaselineMove) -> String {
    format!("{} → {} first moved by {}", m.from, m.to, m.first_mover)
}

fn ceiling_text(c: &BaselineCeiling) -> String {
    format!(
        "headroom {} under {} rule {} (ceiling {})",
        c.headroom, c.scheme, c.rule, c.ceiling
    )
}

/// Compares a fresh snapshot (`now`) with the committed `baseline`.
pub fn diff(baseline: &Baseline, now: &Baseline) -> Changes {
    let mut out = Vec::new();
    let mut push = |kind, key: String, file, before, after| {
        out.push(Change {
            kind,
            key,
            file,
            before,
            after,
        })
    };

    // Packages, by source.
    let old_pk: BTreeMap<&str, &BaselinePackage> = baseline
        .packages
        .iter()
        .map(|p| (p.source.as_str(), p))
        .collect();
    let new_pk: BTreeMap<&str, &BaselinePackage> = now
        .packages
        .iter()
        .map(|p| (p.source.as_str(), p))
        .collect();
    for (src, p) in &old_pk {
        match new_pk.get(src) {
            None => push(
                ChangeKind::PackageRemoved,
                src.to_string(),
                outer_file(src),
                Some(package_summary(p)),
                None,
            ),
            Some(q) => {
                if let Some((b, a)) = package_delta(p, q) {
                    push(
                        ChangeKind::PackageChanged,
                        src.to_string(),
                        outer_file(src),
                        Some(b),
                        Some(a),
                    );
                }
            }
        }
    }
    for (src, p) in &new_pk {
        if !old_pk.contains_key(src) {
            push(
                ChangeKind::PackageAdded,
                src.to_string(),
                outer_file(src),
                None,
                Some(package_summary(p)),
            );
        }
    }

    // Files of packages present on both sides (an added or removed package covers its files).
    let both = |pkg: &str| old_pk.contains_key(pkg) && new_pk.contains_key(pkg);
    let old_f: BTreeMap<(&str, &str), &BaselineFile> = baseline
        .files
        .iter()
        .map(|f| ((f.package.as_str(), f.path.as_str()), f))
        .collect();
    let new_f: BTreeMap<(&str, &str), &BaselineFile> = now
        .files
        .iter()
        .map(|f| ((f.package.as_str(), f.path.as_str()), f))
        .collect();
    for ((pkg, path), f) in &old_f {
        if !both(pkg) {
            continue;
        }
        match new_f.get(&(*pkg, *path)) {
            None => push(
                ChangeKind::FileRemoved,
                path.to_string(),
                outer_file(path),
                Some(format!("{}, sha256 {}", f.versions, f.sha256)),
                None,
            ),
            Some(g) if f.versions != g.versions => push(
                ChangeKind::VersionChange,
                path.to_string(),
                outer_file(path),
                Some(f.versions.to_string()),
                Some(g.versions.to_string()),
            ),
            Some(g) if f.sha256 != g.sha256 || f.size != g.size => push(
                ChangeKind::HashChange,
                path.to_string(),
                outer_file(path),
                Some(format!("{} bytes, sha256 {}", f.size, f.sha256)),
                Some(format!("{} bytes, sha256 {}", g.size, g.sha256)),
            ),
            Some(_) => {}
        }
    }
    for ((pkg, path), f) in &new_f {
        if both(pkg) && !old_f.contains_key(&(*pkg, *path)) {
            push(
                ChangeKind::FileAdded,
                path.to_string(),
                outer_file(path),
                None,
                Some(format!("{}, sha256 {}", f.versions, f.sha256)),
            );
        }
    }

    // Build moves, by series and target build.
    let mkey = |m: &BaselineMove| format!("{} {} → {}", m.os, m.platform, m.to);
    let old_m: BTreeMap<String, &BaselineMove> =
        baseline.build_moves.iter().map(|m| (mkey(m), m)).collect();
    let new_m: BTreeMap<String, &BaselineMove> =
        now.build_moves.iter().map(|m| (mkey(m), m)).collect();
    for (k, m) in &new_m {
        match old_m.get(k) {
            None => push(
                ChangeKind::NewBuildMove,
                k.clone(),
                None,
                None,
                Some(move_text(m)),
            ),
            Some(o) if o != m => push(
                ChangeKind::NewBuildMove,
                k.clone(),
                None,
                Some(move_text(o)),
                Some(move_text(m)),
            ),
            Some(_) => {}
        }
    }
    for (k, m) in &old_m {
        if !new_m.contains_key(k) {
            push(
                ChangeKind::BuildMoveRemoved,
                k.clone(),
                None,
                Some(move_text(m)),
                None,
            );
        }
    }

    // Close ceiling findings, by kind, name, architectures and version.
    let ckey = |c: &BaselineCeiling| {
        format!(
            "{} {} [{}] {}",
            c.kind,
            c.name,
            c.architectures.join(","),
            c.version
        )
    };
    let old_c: BTreeMap<String, &BaselineCeiling> = baseline
        .ceiling_findings
        .iter()
        .map(|c| (ckey(c), c))
        .collect();
    let new_c: BTreeMap<String, &BaselineCeiling> =
        now.ceiling_findings.iter().map(|c| (ckey(c), c)).collect();
    let keys: BTreeSet<&String> = old_c.keys().chain(new_c.keys()).collect();
    for k in keys {
        let (o, n) = (old_c.get(k), new_c.get(k));
        if o != n {
            push(
                ChangeKind::Ceiling,
                k.clone(),
                None,
                o.map(|c| ceiling_text(c)),
                n.map(|c| ceiling_text(c)),
            );
        }
    }

    // Errors, by path and kind. A new error is always reported, even inside an added
    // package (a corrupted package must trip `--fail-on scan-error`); an error that went
    // away with its removed package is covered by `package-removed`.
    let removed_with_package = |path: &str| {
        old_pk.keys().any(|src| {
            !new_pk.contains_key(src)
                && (path == *src
                    || path
                        .strip_prefix(*src)
                        .is_some_and(|rest| rest.starts_with('!')))
        })
    };
    let old_e: BTreeSet<&BaselineError> = baseline.errors.iter().collect();
    let new_e: BTreeSet<&BaselineError> = now.errors.iter().collect();
    for e in new_e.difference(&old_e) {
        push(
            ChangeKind::ScanError,
            format!("{}: {}", e.path, e.kind),
            outer_file(&e.path),
            None,
            Some(e.kind.clone()),
        );
    }
    for e in old_e.difference(&new_e) {
        if !removed_with_package(&e.path) {
            push(
                ChangeKind::ScanError,
                format!("{}: {}", e.path, e.kind),
                outer_file(&e.path),
                Some(e.kind.clone()),
                None,
            );
        }
    }

    out.sort_by(|a, b| (a.kind, &a.key).cmp(&(b.kind, &b.key)));
    Changes { changes: out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> Baseline {
        Baseline {
            schema: BASELINE_SCHEMA.into(),
            schema_version: BASELINE_SCHEMA_VERSION,
            kbscan_version: "0.1.0".into(),
            packages: vec![],
            files: vec![],
            build_moves: vec![],
            ceiling_findings: vec![],
            errors: vec![],
        }
    }

    fn pkg(source: &str, sha: &str) -> BaselinePackage {
        BaselinePackage {
            source: source.into(),
            kind: "msu".into(),
            kb: Some("KB1".into()),
            architecture: Some("x86".into()),
            release_type: None,
            date: Some("2019-03-14".into()),
            date_source: None,
            size: 1,
            sha256: sha.into(),
        }
    }

    #[test]
    fn roots_strip_the_longest_prefix_only_at_a_separator() {
        let r = Roots::new(["corpus".to_string(), "corpus/a".into(), ".".into()]);
        assert_eq!(r.relative("corpus/a/x.msu!y.cab"), "x.msu!y.cab");
        assert_eq!(r.relative("corpus/b/x.msu"), "b/x.msu");
        assert_eq!(r.relative("corpusx/x.msu"), "corpusx/x.msu");
    }

    #[test]
    fn round_trip_and_version_is_not_compared() {
        let mut b = empty();
        b.packages.push(pkg("a.msu", "00"));
        let back = Baseline::from_json(&b.to_json()).unwrap();
        assert_eq!(back, b);
        let mut newer = b.clone();
        newer.kbscan_version = "9.9.9".into();
        assert!(diff(&b, &newer).is_empty());
    }

    #[test]
    fn schema_checks_name_both_versions() {
        let e = Baseline::from_json(r#"{"schema":"kbscan-baseline","schema_version":7}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("version 7") && e.contains("version 1"), "{e}");
        let e = Baseline::from_json(r#"{"schema":"other","schema_version":1}"#).unwrap_err();
        assert!(matches!(e, BaselineReadError::WrongSchema { .. }));
        let e = Baseline::from_json(r#"{"schema":"kbscan-baseline","schema_version":"1"}"#);
        assert!(matches!(e, Err(BaselineReadError::Unsupported { .. })));
    }

    #[test]
    fn removed_package_covers_its_files_and_errors() {
        let mut old = empty();
        old.packages = vec![pkg("a.msu", "00"), pkg("b.msu", "11")];
        old.files.push(BaselineFile {
            path: "a.msu!f.dll".into(),
            package: "a.msu".into(),
            size: 1,
            sha256: "aa".into(),
            versions: BaselineVersions::default(),
        });
        old.errors.push(BaselineError {
            path: "a.msu!x.cab".into(),
            kind: "cab_truncated".into(),
        });
        let mut now = empty();
        now.packages = vec![pkg("b.msu", "22")];
        let c = diff(&old, &now);
        let kinds: Vec<ChangeKind> = c.changes.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [ChangeKind::PackageRemoved, ChangeKind::PackageChanged]
        );
        assert_eq!(c.changes[1].before.as_deref(), Some("sha256 11"));
        assert_eq!(c.changes[1].after.as_deref(), Some("sha256 22"));
    }
}
