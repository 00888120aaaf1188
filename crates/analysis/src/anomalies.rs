//! Anomalies: revisions in a track public packages should not use, and counters that
//! go down without a build move.

use crate::ceilings::{CeilingFinding, CeilingRules, VersionKind};
use crate::moves::track_of;
use crate::order::{component_arch, Ordered};
use kbscan_version::{Track, Version};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// NT 6.x track 2 in a public package (Windows 7 went there in April 2021).
    UnusedTrack,
    /// NT 6.x track 3 (private builds) in a public package.
    PrivateTrack,
    /// A component's version went down between consecutive dated packages carrying
    /// it, without its build going up.
    CounterDecrease,
}

#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    /// `component` or `file`.
    pub subject: VersionKind,
    pub name: String,
    pub architectures: Vec<String>,
    pub version: Version,
    /// For `counter_decrease`: the version in the package before.
    pub previous: Option<Version>,
    /// Packages involved: those carrying the version (tracks), or the earlier and
    /// the later package (decrease).
    pub packages: Vec<String>,
    pub message: String,
}

pub(crate) fn detect(
    ordered: &Ordered<'_>,
    rules: &CeilingRules,
    findings: &[CeilingFinding],
) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for f in findings.iter().filter(|f| f.in_public_package) {
        let Some(n) = f.nt6 else { continue };
        let kind = match n.track {
            Track::Unused => AnomalyKind::UnusedTrack,
            Track::Private => AnomalyKind::PrivateTrack,
            Track::Gdr | Track::Ldr => continue,
        };
        out.push(Anomaly {
            kind,
            subject: f.kind,
            name: f.name.clone(),
            architectures: f.architectures.clone(),
            version: f.version,
            previous: None,
            packages: f.packages.clone(),
            message: format!(
                "revision {} is in NT 6.x track {} ({}, window {}-{}) in a public package",
                f.revision, n.track as u8, n.track, n.window_floor, n.window_ceiling
            ),
        });
    }

    // Per (platform, major.minor, component, arch, track): the highest version in each
    // dated package carrying it, in release order. Tracks are kept apart because GDR
    // and LDR builds of one component legitimately alternate.
    type Key = (String, u16, u16, String, String, Option<Track>);
    let mut last: BTreeMap<Key, (Version, String)> = BTreeMap::new();
    for pkg in &ordered.dated {
        let mut here: BTreeMap<Key, Version> = BTreeMap::new();
        for c in &pkg.p.components {
            let Some(v) = c.version else { continue };
            let key = (
                pkg.platform.clone(),
                v.major,
                v.minor,
                c.name.to_ascii_lowercase(),
                component_arch(c.architecture.as_deref()),
                track_of(rules, v),
            );
            let slot = here.entry(key).or_insert(v);
            *slot = (*slot).max(v);
        }
        let label = pkg.reference.label();
        for (key, v) in here {
            if let Some((prev, prev_label)) = last.get(&key) {
                if v < *prev && v.os_build() <= prev.os_build() {
                    let what = if v.os_build() < prev.os_build() {
                        "build"
                    } else {
                        "revision"
                    };
                    out.push(Anomaly {
                        kind: AnomalyKind::CounterDecrease,
                        subject: VersionKind::Component,
                        name: key.3.clone(),
                        architectures: vec![key.4.clone()],
                        version: v,
                        previous: Some(*prev),
                        packages: vec![prev_label.clone(), label.clone()],
                        message: format!(
                            "{what} went down on {} packages: {prev} ({prev_label}) then {v} ({label}) with no build move",
                            key.0
                        ),
                    });
                }
            }
            last.insert(key, (v, label.clone()));
        }
    }
    out.sort_by(|a, b| {
        (
            a.kind,
            a.subject,
            a.name.to_ascii_lowercase(),
            &a.architectures,
            a.version,
            &a.packages,
        )
            .cmp(&(
                b.kind,
                b.subject,
                b.name.to_ascii_lowercase(),
                &b.architectures,
                b.version,
                &b.packages,
            ))
    });
    out
}
