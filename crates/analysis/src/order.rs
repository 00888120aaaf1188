//! Putting packages in release order, from the dates inside them.

use crate::date::Date;
use crate::{PackageRef, UndatedPackage};
use kbscan_model::{Package, PackageKind, ScanReport};
use std::cmp::Ordering;

/// A package with what every analysis needs to know about it, computed once.
#[derive(Debug, Clone)]
pub(crate) struct Pkg<'a> {
    pub p: &'a Package,
    pub date: Option<Date>,
    /// The platform the package installs on (see [`platform`]).
    pub platform: String,
    pub reference: PackageRef,
}

/// Every package of the report: the dated ones in release order, then the undated ones
/// (ordered by source so the list is stable).
pub(crate) struct Ordered<'a> {
    pub dated: Vec<Pkg<'a>>,
    pub undated: Vec<(Pkg<'a>, String)>,
}

impl<'a> Ordered<'a> {
    pub fn new(report: &'a ScanReport) -> Self {
        let mut dated = Vec::new();
        let mut undated = Vec::new();
        for p in &report.packages {
            let date = p.dates.release.as_deref().and_then(Date::parse);
            let pkg = Pkg {
                p,
                date,
                platform: platform(p),
                reference: PackageRef::of(p),
            };
            match (&p.dates.release, date) {
                (_, Some(_)) => dated.push(pkg),
                (Some(raw), None) => {
                    let why = format!("release date {raw:?} is not a calendar date (yyyy-mm-dd)");
                    undated.push((pkg, why));
                }
                (None, None) => {
                    let why = match p.kind {
                        PackageKind::Cabinet => "a cabinet without update.mum: no package date",
                        PackageKind::Pe => "a bare PE file: no package date",
                        PackageKind::Msu | PackageKind::PayloadCab => {
                            "no update.mum creationTimeStamp and no pkgProperties Build Date"
                        }
                    };
                    undated.push((pkg, why.to_string()));
                }
            }
        }
        dated.sort_by(compare);
        undated.sort_by(|a, b| {
            a.0.p
                .source
                .cmp(&b.0.p.source)
                .then_with(|| kb_key(a.0.p.kb.as_deref()).cmp(&kb_key(b.0.p.kb.as_deref())))
        });
        Ordered { dated, undated }
    }

    /// Dated packages first (in release order), then undated ones.
    pub fn all(&self) -> impl Iterator<Item = &Pkg<'a>> {
        self.dated.iter().chain(self.undated.iter().map(|(p, _)| p))
    }

    pub fn undated_list(&self) -> Vec<UndatedPackage> {
        self.undated
            .iter()
            .map(|(p, why)| UndatedPackage {
                package: p.reference.clone(),
                kind: p.p.kind,
                reason: why.clone(),
            })
            .collect()
    }
}

/// Release date, then KB (numerically), then platform, then source path: two packages
/// of one KB (x86 and x64) share a date, and the source path makes the order total.
pub(crate) fn compare(a: &Pkg<'_>, b: &Pkg<'_>) -> Ordering {
    a.date
        .cmp(&b.date)
        .then_with(|| kb_key(a.p.kb.as_deref()).cmp(&kb_key(b.p.kb.as_deref())))
        .then_with(|| a.platform.cmp(&b.platform))
        .then_with(|| a.p.source.cmp(&b.p.source))
}

/// `KB999` sorts before `KB4489887` (numbers compare as numbers); a KB that is not
/// `KB<digits>` sorts after all numeric ones, by text; no KB sorts last.
pub(crate) fn kb_key(kb: Option<&str>) -> (u8, u64, String) {
    let Some(k) = kb else {
        return (2, 0, String::new());
    };
    let digits = k
        .strip_prefix("KB")
        .or_else(|| k.strip_prefix("kb"))
        .unwrap_or(k);
    // `parse` alone would accept a leading `+`; only plain digits are a KB number.
    let numeric = !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit());
    match digits.parse::<u64>() {
        Ok(n) if numeric => (0, n, String::new()),
        _ => (1, 0, k.to_string()),
    }
}

/// The platform a package installs on: its own `processorArchitecture` (lower case,
/// `x64` spelled `amd64` as CBS does), else inferred from its components — `amd64` as
/// soon as any component is `amd64` or `wow64` (32-bit-on-64 parts exist only in 64-bit
/// packages), else the single component architecture, else `neutral`.
pub(crate) fn platform(p: &Package) -> String {
    if let Some(a) = p
        .architecture
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        let a = a.to_ascii_lowercase();
        return if a == "x64" { "amd64".into() } else { a };
    }
    let archs: std::collections::BTreeSet<String> = p
        .components
        .iter()
        .filter_map(|c| c.architecture.as_deref())
        .map(str::to_ascii_lowercase)
        .collect();
    if archs.contains("amd64") || archs.contains("wow64") {
        return "amd64".into();
    }
    let real: Vec<&String> = archs
        .iter()
        .filter(|a| *a != "msil" && *a != "neutral")
        .collect();
    match real.as_slice() {
        [one] => (*one).clone(),
        _ => "neutral".into(),
    }
}

/// Component architecture as a key: lower case, `unknown` when the scanner found none.
pub(crate) fn component_arch(a: Option<&str>) -> String {
    a.map(str::to_ascii_lowercase)
        .unwrap_or_else(|| "unknown".into())
}
