//! File history: every version of one file name across the corpus, per architecture.

use crate::ceilings::{CeilingRules, Nt6Facts};
use crate::order::Ordered;
use crate::PackageRef;
use kbscan_model::ScanReport;
use kbscan_version::{OsBuild, Version};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub schema_version: u32,
    pub kbscan_version: String,
    /// The name asked for (matched case-insensitively against file names).
    pub name: String,
    /// Files found with that name, across all packages.
    pub matches: u32,
    /// Of those, how many had neither a PE file version nor a component version.
    pub unversioned: u32,
    pub architectures: Vec<ArchHistory>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArchHistory {
    pub architecture: String,
    /// Ascending by version, compared as four numbers.
    pub entries: Vec<HistoryEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub version: Version,
    /// `pe` (VS_FIXEDFILEINFO) or `component` (the file had no PE version).
    pub version_source: String,
    pub build: OsBuild,
    pub revision_headroom: u16,
    pub nt6: Option<Nt6Facts>,
    /// Headroom under the governing ceiling rule (counter values for NT 6.x).
    pub headroom: i32,
    /// Where the version first appeared (earliest release date) …
    pub first: PackageRef,
    /// … and every package carrying it, in release order (undated last).
    pub packages: Vec<PackageRef>,
    /// Set on the first version of a higher build than the entry before.
    pub build_move: Option<HistoryMove>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryMove {
    pub from: OsBuild,
    pub previous: Version,
    /// `revision - previous.revision`.
    pub reset: i32,
}

/// Every version of the file called `name` (case-insensitive) in `report`.
pub fn history(report: &ScanReport, name: &str, rules: &CeilingRules) -> History {
    let ordered = Ordered::new(report);
    let wanted = name.to_lowercase();
    let mut matches = 0u32;
    let mut unversioned = 0u32;
    // arch → version → (source, packages in order, deduplicated).
    let mut by_arch: BTreeMap<String, BTreeMap<Version, (String, Vec<PackageRef>)>> =
        BTreeMap::new();
    for pkg in ordered.all() {
        for f in pkg
            .p
            .files
            .iter()
            .filter(|f| f.name.to_lowercase() == wanted)
        {
            matches += 1;
            let (version, source) = match (f.versions.pe_file, f.versions.component) {
                (Some(v), _) => (v, "pe"),
                (None, Some(v)) => (v, "component"),
                (None, None) => {
                    unversioned += 1;
                    continue;
                }
            };
            let arch = crate::file_arch(pkg.p, f);
            let slot = by_arch
                .entry(arch)
                .or_default()
                .entry(version)
                .or_insert_with(|| (source.to_string(), Vec::new()));
            if !slot.1.iter().any(|r| r.source == pkg.reference.source) {
                slot.1.push(pkg.reference.clone());
            }
        }
    }
    let architectures = by_arch
        .into_iter()
        .map(|(architecture, versions)| {
            let mut entries: Vec<HistoryEntry> = Vec::new();
            for (version, (source, packages)) in versions {
                let Some(first) = packages.first().cloned() else {
                    continue;
                };
                let m = rules.measure(version);
                let build_move = entries.last().and_then(|prev| {
                    let same_line =
                        (prev.version.major, prev.version.minor) == (version.major, version.minor);
                    (same_line && prev.build < version.os_build()).then(|| HistoryMove {
                        from: prev.build,
                        previous: prev.version,
                        reset: i32::from(version.revision) - i32::from(prev.version.revision),
                    })
                });
                entries.push(HistoryEntry {
                    version,
                    version_source: source,
                    build: version.os_build(),
                    revision_headroom: version.revision_headroom(),
                    nt6: m.nt6,
                    headroom: m.headroom,
                    first,
                    packages,
                    build_move,
                });
            }
            ArchHistory {
                architecture,
                entries,
            }
        })
        .collect();
    History {
        schema_version: crate::SCHEMA_VERSION,
        kbscan_version: report.kbscan_version.clone(),
        name: name.to_string(),
        matches,
        unversioned,
        architectures,
    }
}
