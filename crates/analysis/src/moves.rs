//! Build moves: which package first carried a higher build of an OS version line.
//!
//! A *series* is one `major.minor` on one platform (`6.0` on `amd64`). Walking the
//! dated packages in release order, a package *moves* the series when it carries a
//! build higher than every build of that series in the packages before it. The first
//! package of a series sets its baseline and moves nothing.

use crate::ceilings::CeilingRules;
use crate::order::{component_arch, Ordered, Pkg};
use crate::PackageRef;
use kbscan_version::{OsBuild, Track, Version};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One OS version line on one platform, as seen in the dated packages.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    /// `major.minor`, e.g. `6.0`.
    pub os: String,
    pub platform: String,
    /// Every build seen, ascending.
    pub builds: Vec<OsBuild>,
    pub packages: u32,
    pub first_date: String,
    pub last_date: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildMove {
    pub os: String,
    pub platform: String,
    pub from: OsBuild,
    pub to: OsBuild,
    pub first_mover: MovingPackage,
    /// Every later package that carries `to`, in release order.
    pub later_movers: Vec<MovingPackage>,
    /// Later packages whose builds of this series are all below `to`.
    pub stragglers: Vec<Straggler>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MovingPackage {
    pub package: PackageRef,
    /// The builds of this series the package carries.
    pub builds: Vec<OsBuild>,
    /// Components that reach `to` in this package coming from a lower build.
    pub changed: Vec<ComponentChange>,
    /// Components on `to` that no earlier package of the series carried.
    pub new_components: Vec<ComponentVersion>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentChange {
    pub name: String,
    pub architecture: String,
    /// The highest earlier version of this component (same servicing track when one
    /// exists, else any track) and the package it came from.
    pub before: Version,
    pub before_package: String,
    pub after: Version,
    /// `after.revision - before.revision`: e.g. 24566 → 20484 is -4082.
    pub reset: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ComponentVersion {
    pub name: String,
    pub architecture: String,
    pub version: Version,
}

#[derive(Debug, Clone, Serialize)]
pub struct Straggler {
    pub package: PackageRef,
    pub builds: Vec<OsBuild>,
}

type CompKey = (String, String, Option<Track>);

#[derive(Default)]
struct State {
    max_build: Option<OsBuild>,
    /// Highest version per component (name, arch, track) in the packages seen so far.
    comp_max: BTreeMap<CompKey, (Version, String)>,
    moves: Vec<BuildMove>,
    builds: BTreeSet<OsBuild>,
    packages: u32,
    first_date: String,
    last_date: String,
}

/// The versioned components of a package, grouped by `major.minor`.
fn by_line(pkg: &Pkg<'_>) -> BTreeMap<(u16, u16), Vec<ComponentVersion>> {
    let mut out: BTreeMap<(u16, u16), Vec<ComponentVersion>> = BTreeMap::new();
    for c in &pkg.p.components {
        if let Some(v) = c.version {
            out.entry((v.major, v.minor))
                .or_default()
                .push(ComponentVersion {
                    name: c.name.to_ascii_lowercase(),
                    architecture: component_arch(c.architecture.as_deref()),
                    version: v,
                });
        }
    }
    for list in out.values_mut() {
        list.sort();
        list.dedup();
    }
    out
}

pub(crate) fn track_of(rules: &CeilingRules, v: Version) -> Option<Track> {
    rules.measure(v).nt6.map(|n| n.track)
}

pub(crate) fn detect(ordered: &Ordered<'_>, rules: &CeilingRules) -> (Vec<Series>, Vec<BuildMove>) {
    let mut states: BTreeMap<(u16, u16, String), State> = BTreeMap::new();
    for pkg in &ordered.dated {
        let date = pkg.date.map(|d| d.to_string()).unwrap_or_default();
        for ((major, minor), comps) in by_line(pkg) {
            let st = states
                .entry((major, minor, pkg.platform.clone()))
                .or_default();
            let builds: BTreeSet<OsBuild> = comps.iter().map(|c| c.version.os_build()).collect();
            let Some(&top) = builds.iter().next_back() else {
                continue;
            };
            let builds_vec: Vec<OsBuild> = builds.iter().copied().collect();
            if st.packages == 0 {
                st.first_date = date.clone();
            }
            st.packages += 1;
            st.last_date = date.clone();

            let starts_move = st.max_build.is_some_and(|m| top > m);
            // Earlier moves see this package as a later mover or a straggler.
            for m in &mut st.moves {
                if builds.contains(&m.to) {
                    m.later_movers.push(moving(
                        pkg,
                        &builds_vec,
                        &comps,
                        m.to,
                        &st.comp_max,
                        rules,
                    ));
                } else if top < m.to {
                    m.stragglers.push(Straggler {
                        package: pkg.reference.clone(),
                        builds: builds_vec.clone(),
                    });
                }
            }
            if let (true, Some(from)) = (starts_move, st.max_build) {
                st.moves.push(BuildMove {
                    os: format!("{major}.{minor}"),
                    platform: pkg.platform.clone(),
                    from,
                    to: top,
                    first_mover: moving(pkg, &builds_vec, &comps, top, &st.comp_max, rules),
                    later_movers: Vec::new(),
                    stragglers: Vec::new(),
                });
            }

            let label = pkg.reference.label();
            for c in &comps {
                let key = (
                    c.name.clone(),
                    c.architecture.clone(),
                    track_of(rules, c.version),
                );
                let slot = st.comp_max.entry(key).or_insert((c.version, label.clone()));
                if c.version > slot.0 {
                    *slot = (c.version, label.clone());
                }
            }
            st.builds.extend(builds.iter().copied());
            st.max_build = st.max_build.max(Some(top));
        }
    }
    let mut series = Vec::new();
    let mut moves = Vec::new();
    for ((major, minor, platform), st) in states {
        series.push(Series {
            os: format!("{major}.{minor}"),
            platform,
            builds: st.builds.into_iter().collect(),
            packages: st.packages,
            first_date: st.first_date,
            last_date: st.last_date,
        });
        moves.extend(st.moves);
    }
    (series, moves)
}

fn moving(
    pkg: &Pkg<'_>,
    builds: &[OsBuild],
    comps: &[ComponentVersion],
    to: OsBuild,
    comp_max: &BTreeMap<CompKey, (Version, String)>,
    rules: &CeilingRules,
) -> MovingPackage {
    let mut changed = Vec::new();
    let mut new_components = Vec::new();
    for c in comps.iter().filter(|c| c.version.os_build() == to) {
        let same_track = comp_max.get(&(
            c.name.clone(),
            c.architecture.clone(),
            track_of(rules, c.version),
        ));
        // GDR and LDR builds of one component ship side by side; compare within a track
        // when the component has history there, else with its highest version anywhere.
        let before = same_track.or_else(|| {
            comp_max
                .iter()
                .filter(|((n, a, _), _)| *n == c.name && *a == c.architecture)
                .map(|(_, v)| v)
                .max_by_key(|(v, _)| *v)
        });
        match before {
            None => new_components.push(c.clone()),
            Some((b, from_pkg)) if b.os_build() < to => changed.push(ComponentChange {
                name: c.name.clone(),
                architecture: c.architecture.clone(),
                before: *b,
                before_package: from_pkg.clone(),
                after: c.version,
                reset: i32::from(c.version.revision) - i32::from(b.revision),
            }),
            Some(_) => {}
        }
    }
    MovingPackage {
        package: pkg.reference.clone(),
        builds: builds.to_vec(),
        changed,
        new_components,
    }
}
