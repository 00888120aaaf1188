//! The analyses that answer the two questions kbscan exists for: which packages move an
//! OS build (6.0.6002 → 6.0.6003), and which revisions are close to their ceiling.
//!
//! Everything here is a pure function of a [`ScanReport`]: no I/O, no clock, no hash-map
//! order reaching the output, so the same scan gives the same [`Analysis`] byte for byte
//! once serialised. Packages are ordered by the release date read from inside them
//! (`update.mum` creationTimeStamp, else pkgProperties `Build Date`), never by file name;
//! packages without one are listed as undated and kept out of move detection and
//! forecasts. Versions are compared as four numbers, never as strings.
//!
//! Decisions that shape the results (also in `docs/schema.md`):
//! - a *series* is `major.minor` on one *platform*, the package's own architecture:
//!   `wow64` and `x86` components inside an `amd64` package count for `amd64`, because
//!   an OS build is a property of the installed system, not of one component;
//! - the NT 6.x revision layout applies where the ceiling rules say so (by default:
//!   major 6 with build ≥ 6000; IE6's 6.0.2900 is not NT 6.x) — see
//!   [`ceilings::DEFAULT_CEILINGS_TOML`];
//! - GDR and LDR versions of one component are kept apart (they ship side by side).
//!
//! This crate never prints and never renders: `kbscan-report` does.

pub mod anomalies;
pub mod baseline;
pub mod ceilings;
pub mod date;
pub mod forecast;
pub mod history;
pub mod moves;
mod order;

pub use anomalies::{Anomaly, AnomalyKind};
pub use ceilings::{
    CeilingFinding, CeilingReport, CeilingRules, CeilingsError, Nt6Facts, Scheme, VersionKind,
};
pub use forecast::{Forecast, ForecastScope, ForecastStatus};
pub use history::{history, History};
pub use moves::{BuildMove, ComponentChange, MovingPackage, Series};

use kbscan_model::{ErrorRecord, FileRecord, Package, PackageKind, ScanReport};
use serde::Serialize;

/// Version of the `kbscan report --format json` and `kbscan history --format json`
/// layouts; bumped only when a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// How the analyses refer to a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageRef {
    pub kb: Option<String>,
    /// The platform it installs on (`x86`, `amd64`, …; see the crate docs).
    pub architecture: String,
    /// Release date `yyyy-mm-dd` and where it was read.
    pub date: Option<String>,
    pub date_source: Option<String>,
    pub release_type: Option<String>,
    pub source: String,
}

impl PackageRef {
    fn of(p: &Package) -> PackageRef {
        PackageRef {
            kb: p.kb.clone(),
            architecture: order::platform(p),
            date: p.dates.release.clone(),
            date_source: p.dates.release_source.clone(),
            release_type: p.release_type.clone(),
            source: p.source.clone(),
        }
    }

    /// The KB when there is one, else the source path: what lists of packages show.
    pub fn label(&self) -> String {
        self.kb.clone().unwrap_or_else(|| self.source.clone())
    }
}

/// A dated package in release order, with the OS builds its components carry.
#[derive(Debug, Clone, Serialize)]
pub struct OrderedPackage {
    #[serde(flatten)]
    pub package: PackageRef,
    /// Every `major.minor.build` of its component versions, ascending.
    pub builds: Vec<kbscan_version::OsBuild>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UndatedPackage {
    pub package: PackageRef,
    pub kind: PackageKind,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub inputs: u64,
    pub inputs_failed: u64,
    pub packages: u32,
    pub dated: u32,
    pub undated: u32,
    pub first_date: Option<String>,
    pub last_date: Option<String>,
    pub series: u32,
    pub moves: u32,
    /// Distinct (component or file, version) pairs measured against a ceiling …
    pub versions_measured: u32,
    /// … and how many of them are close.
    pub close_to_ceiling: u32,
    pub anomalies: u32,
    pub forecasts: u32,
    pub errors: u32,
}

/// Everything `kbscan report` says about a corpus.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub schema_version: u32,
    pub kbscan_version: String,
    pub summary: Summary,
    /// Dated packages in release order.
    pub packages: Vec<OrderedPackage>,
    /// Packages without a usable date: not ordered, not in moves or forecasts.
    pub undated: Vec<UndatedPackage>,
    pub series: Vec<Series>,
    pub moves: Vec<BuildMove>,
    pub ceilings: CeilingReport,
    pub anomalies: Vec<Anomaly>,
    pub forecasts: Vec<Forecast>,
    /// The scan's errors, unchanged: an analysis of a partly unreadable corpus says so.
    pub errors: Vec<ErrorRecord>,
}

/// Runs every analysis on `report` with the given ceiling rules.
pub fn analyze(report: &ScanReport, rules: &CeilingRules) -> Analysis {
    let ordered = order::Ordered::new(report);
    let (series, moves) = moves::detect(&ordered, rules);
    let ceilings = ceilings::findings(&ordered, rules);
    let anomalies = anomalies::detect(&ordered, rules, &ceilings.findings);
    let forecasts = forecast::forecasts(&ordered, rules);
    let packages: Vec<OrderedPackage> = ordered
        .dated
        .iter()
        .map(|p| OrderedPackage {
            package: p.reference.clone(),
            builds: p
                .p
                .components
                .iter()
                .filter_map(|c| c.version.map(|v| v.os_build()))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect(),
        })
        .collect();
    let summary = Summary {
        inputs: report.totals.inputs,
        inputs_failed: report.totals.failed,
        packages: report.packages.len() as u32,
        dated: ordered.dated.len() as u32,
        undated: ordered.undated.len() as u32,
        first_date: packages.first().and_then(|p| p.package.date.clone()),
        last_date: packages.last().and_then(|p| p.package.date.clone()),
        series: series.len() as u32,
        moves: moves.len() as u32,
        versions_measured: ceilings.findings.len() as u32,
        close_to_ceiling: ceilings.findings_close,
        anomalies: anomalies.len() as u32,
        forecasts: forecasts.len() as u32,
        errors: report.errors.len() as u32,
    };
    Analysis {
        schema_version: SCHEMA_VERSION,
        kbscan_version: report.kbscan_version.clone(),
        summary,
        undated: ordered.undated_list(),
        packages,
        series,
        moves,
        ceilings,
        anomalies,
        forecasts,
        errors: report.errors.clone(),
    }
}

/// Architecture names that start a CBS component key (`amd64_microsoft-windows-…`).
const KEY_ARCHS: [&str; 7] = ["x86", "amd64", "wow64", "msil", "ia64", "arm64", "arm"];

/// The architecture a file belongs to: the first field of its component key, else its
/// PE machine, else the package's platform.
pub(crate) fn file_arch(p: &Package, f: &FileRecord) -> String {
    let from_key = f
        .component
        .as_deref()
        .and_then(|k| k.split('_').next())
        .map(str::to_ascii_lowercase)
        .filter(|a| KEY_ARCHS.contains(&a.as_str()));
    if let Some(a) = from_key {
        return a;
    }
    match f.pe.as_ref().map(|pe| pe.machine.as_str()) {
        Some("x64") => "amd64".into(),
        Some(m) if !m.is_empty() => m.to_ascii_lowercase(),
        _ => order::platform(p),
    }
}

#[cfg(test)]
mod tests;
