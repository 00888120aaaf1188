//! Assembly: once every member is read, [`PackageBuilder::finish`] settles the digests and
//! builds the [`Package`]: identity and dates from the root `update.mum` (else
//! `pkgProperties`), components from manifests ∪ component folders ∪ IPD target names,
//! per-file cross-checks, OS builds, and the sub-packages the `.mum` files reference.

use super::{Built, PackageBuilder};
use crate::convert::identity;
use kbscan_cbs as cbs;
use kbscan_model::*;
use kbscan_version::Version;
use std::collections::{BTreeMap, BTreeSet};

impl PackageBuilder<'_> {
    pub(crate) fn finish(mut self) -> Built {
        self.settle();
        let hasher = self.hasher;
        self.pkg.files = std::mem::take(&mut self.files)
            .into_iter()
            .map(|m| m.finish(hasher))
            .collect();
        // Package identity: the root `update.mum` when present, else the first `.mum`.
        let root_mum = self
            .mums
            .iter()
            .position(|(p, _)| p.to_ascii_lowercase().ends_with("!update.mum"))
            .or(if self.mums.is_empty() { None } else { Some(0) });
        if let Some(i) = root_mum {
            let m = &self.mums[i].1;
            self.pkg.identity = Some(identity(&m.identity));
            self.pkg.kb = m.kb.clone();
            self.pkg.release_type = m.release_type.clone();
            self.pkg.about = About {
                display_name: m.display_name.clone(),
                description: m.description.clone(),
                company: m.company.clone(),
                copyright: m.copyright.clone(),
                support_information: m.support_information.clone(),
            };
            self.pkg.architecture = m.identity.processor_architecture.clone();
            self.pkg.dates.created = m.creation_time_stamp.clone();
        }
        if let Some(props) = &self.properties {
            if self.pkg.kb.is_none() {
                self.pkg.kb = props.kb_article().map(|k| {
                    if k.to_ascii_uppercase().starts_with("KB") {
                        k.to_string()
                    } else {
                        format!("KB{k}")
                    }
                });
            }
            if self.pkg.architecture.is_none() {
                self.pkg.architecture = props.processor_architecture().map(str::to_string);
            }
            self.pkg.dates.build_date = props
                .build_date()
                .map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"));
            self.pkg.properties = Some(Properties {
                encoding: props.encoding.to_string(),
                entries: props.entries.iter().cloned().collect(),
            });
        }
        if let Some(created) = self.pkg.dates.created.as_deref().and_then(date_part) {
            self.pkg.dates.release = Some(created);
            self.pkg.dates.release_source = Some("update.mum creationTimeStamp".into());
        } else if let Some(d) = self.pkg.dates.build_date.clone() {
            self.pkg.dates.release = Some(d);
            self.pkg.dates.release_source = Some("pkgProperties Build Date".into());
        }
        self.pkg.package_manifests = self
            .mums
            .iter()
            .map(|(path, m)| PackageManifestInfo {
                path: path.clone(),
                identity: identity(&m.identity),
                kb: m.kb.clone(),
                release_type: m.release_type.clone(),
                created: m.creation_time_stamp.clone(),
                updates: m
                    .updates
                    .iter()
                    .map(|u| UpdateInfo {
                        name: u.name.clone(),
                        branch: u.branch.clone(),
                        components: u.components.iter().map(identity).collect(),
                        packages: u.packages.iter().map(identity).collect(),
                    })
                    .collect(),
            })
            .collect();
        self.pkg.sub_packages = sub_packages(&self.mums, root_mum);
        self.assemble_components();
        Built {
            pkg: self.pkg,
            sha256: self.sha256,
        }
    }

    /// Components come from three places that must agree: manifests (full identity),
    /// component folders and IPD target names (keys), and `update` entries in `.mum`
    /// files (identity and branch). Keyed by lower-case component key.
    fn assemble_components(&mut self) {
        // Branch per (lower-case name, version) from the package manifests.
        let mut branch: BTreeMap<(String, Option<Version>), String> = BTreeMap::new();
        for (_, m) in &self.mums {
            for u in &m.updates {
                if let Some(b) = &u.branch {
                    for c in &u.components {
                        branch
                            .entry((c.name.to_ascii_lowercase(), c.version))
                            .or_insert_with(|| b.clone());
                    }
                }
            }
        }
        let mut comps: BTreeMap<String, Component> = BTreeMap::new();
        for (lkey, (key, m)) in &self.manifests {
            let parsed = cbs::parse_component_key(key);
            let id = &m.identity;
            comps.insert(
                lkey.clone(),
                Component {
                    key: key.clone(),
                    name: id.name.clone(),
                    version: id.version.or(parsed.as_ref().and_then(|k| k.version)),
                    architecture: id
                        .processor_architecture
                        .clone()
                        .or(parsed.as_ref().map(|k| k.arch.clone())),
                    culture: id.language.clone(),
                    public_key_token: id.public_key_token.clone(),
                    branch: branch
                        .get(&(id.name.to_ascii_lowercase(), id.version))
                        .cloned(),
                    manifest: Some(format!("{key}.manifest")),
                    files: 0,
                    missing_files: Vec::new(),
                },
            );
        }
        for f in &self.pkg.files {
            let Some(key) = &f.component else { continue };
            let entry = comps.entry(key.to_ascii_lowercase()).or_insert_with(|| {
                let parsed = cbs::parse_component_key(key);
                Component {
                    key: key.clone(),
                    name: parsed
                        .as_ref()
                        .map(|k| k.name.clone())
                        .unwrap_or_else(|| key.clone()),
                    version: parsed.as_ref().and_then(|k| k.version),
                    architecture: parsed.as_ref().map(|k| k.arch.clone()),
                    culture: parsed.as_ref().map(|k| k.culture.clone()),
                    public_key_token: parsed.as_ref().map(|k| k.public_key_token.clone()),
                    branch: None,
                    manifest: None,
                    files: 0,
                    missing_files: Vec::new(),
                }
            });
            entry.files += 1;
        }

        // Per-file cross-checks against the component's manifest.
        let mut present: BTreeSet<(String, String)> = BTreeSet::new();
        for f in &mut self.pkg.files {
            let Some(key) = &f.component else { continue };
            let lkey = key.to_ascii_lowercase();
            present.insert((lkey.clone(), f.name.to_ascii_lowercase()));
            let comp = comps.get(&lkey);
            f.versions.component = comp.and_then(|c| c.version);
            if let Some((_, m)) = self.manifests.get(&lkey) {
                if let Some(mf) = m
                    .files
                    .iter()
                    .find(|mf| mf.name.eq_ignore_ascii_case(&f.name))
                {
                    if let (Some(cbs::DigestAlg::Sha256), Some(d)) = (&mf.digest_method, &mf.digest)
                    {
                        if !f.sha256.is_empty() {
                            push_check(
                                &mut f.checks,
                                "manifest_digest_sha256",
                                Some(hex::encode(d)),
                                Some(f.sha256.clone()),
                            );
                        }
                    }
                }
            }
            let v = f.versions.clone();
            if f.kind == FileKind::Pe {
                if let (Some(c), Some(p)) = (v.component, v.pe_file) {
                    push_check(
                        &mut f.checks,
                        "pe_file_version_vs_component",
                        Some(c.to_string()),
                        Some(p.to_string()),
                    );
                }
            }
            if let (Some(c), Some(fo)) = (v.component, v.folder) {
                push_check(
                    &mut f.checks,
                    "component_version_vs_folder",
                    Some(c.to_string()),
                    Some(fo.to_string()),
                );
            }
        }
        for f in &mut self.pkg.files {
            if f.kind != FileKind::Pe {
                continue;
            }
            let v = &f.versions;
            if let (Some(p), Some(s)) = (v.pe_file, v.file_version_string) {
                push_check(
                    &mut f.checks,
                    "pe_file_version_vs_string",
                    Some(p.to_string()),
                    Some(s.to_string()),
                );
            }
        }
        for f in &self.pkg.files {
            for c in &f.checks {
                if c.outcome == CheckOutcome::Mismatch && c.check == "manifest_digest_sha256" {
                    self.pkg.errors.push(ErrorRecord {
                        path: f.path.clone(),
                        kind: ErrorKind::DigestMismatch,
                        message: format!(
                            "SHA-256 {} does not match the manifest digest {}",
                            c.actual.as_deref().unwrap_or("?"),
                            c.expected.as_deref().unwrap_or("?")
                        ),
                    });
                }
            }
        }
        for (lkey, (_, m)) in &self.manifests {
            if let Some(c) = comps.get_mut(lkey) {
                for mf in &m.files {
                    if !present.contains(&(lkey.clone(), mf.name.to_ascii_lowercase())) {
                        c.missing_files.push(mf.name.clone());
                    }
                }
            }
        }

        let mut builds: BTreeMap<String, BTreeSet<kbscan_version::OsBuild>> = BTreeMap::new();
        for c in comps.values() {
            if let Some(v) = c.version {
                let arch = c.architecture.clone().unwrap_or_else(|| "unknown".into());
                builds.entry(arch).or_default().insert(v.os_build());
            }
        }
        self.pkg.os_family = builds
            .values()
            .flatten()
            .next_back()
            .and_then(|b| os_family(b.major, b.minor))
            .map(str::to_string);
        self.pkg.os_builds = builds
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect();
        self.pkg.components = comps.into_values().collect();
    }
}

/// Every package referenced from an `update` entry of any `.mum`, resolved by identity
/// name (case-insensitive) to its own `.mum` and, through it, to the components it
/// installs, following nested package references up to [`MAX_SUB_PACKAGE_DEPTH`].
fn sub_packages(mums: &[(String, cbs::PackageMum)], root: Option<usize>) -> Vec<SubPackage> {
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (_, m)) in mums.iter().enumerate() {
        by_name
            .entry(m.identity.name.to_ascii_lowercase())
            .or_insert(i);
    }
    // Root first, then the others in container order.
    let order: Vec<usize> = root
        .into_iter()
        .chain((0..mums.len()).filter(|i| Some(*i) != root))
        .collect();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for i in order {
        let parent = &mums[i].1;
        for u in &parent.updates {
            for r in &u.packages {
                let lname = r.name.to_ascii_lowercase();
                if !seen.insert(lname.clone()) {
                    continue;
                }
                let found = by_name.get(&lname).copied();
                let mut sp = SubPackage {
                    identity: identity(r),
                    referenced_by: parent.identity.name.clone(),
                    found: found.is_some(),
                    manifest: found.map(|j| mums[j].0.clone()),
                    packages: Vec::new(),
                    components: Vec::new(),
                    missing: Vec::new(),
                    truncated: false,
                };
                if let Some(j) = found {
                    sp.packages = mums[j]
                        .1
                        .updates
                        .iter()
                        .flat_map(|u| u.packages.iter().map(|p| p.name.clone()))
                        .collect();
                    let mut path = vec![j];
                    let mut comp_seen = BTreeSet::new();
                    collect_components(mums, &by_name, j, &mut path, &mut comp_seen, &mut sp);
                }
                out.push(sp);
            }
        }
    }
    out
}

/// Depth-first: the components of `mums[at]` and of the packages it references.
/// `path` holds the `.mum`s on the way down (loops and depth end the walk, marked
/// `truncated`).
fn collect_components(
    mums: &[(String, cbs::PackageMum)],
    by_name: &BTreeMap<String, usize>,
    at: usize,
    path: &mut Vec<usize>,
    comp_seen: &mut BTreeSet<(String, Option<String>, Option<String>)>,
    sp: &mut SubPackage,
) {
    let m = &mums[at].1;
    for u in &m.updates {
        for c in &u.components {
            let id = identity(c);
            let key = (
                id.name.to_ascii_lowercase(),
                id.version.clone(),
                id.processor_architecture
                    .as_ref()
                    .map(|a| a.to_ascii_lowercase()),
            );
            if comp_seen.insert(key) {
                sp.components.push(SubPackageComponent {
                    identity: id,
                    branch: u.branch.clone(),
                    package: m.identity.name.clone(),
                });
            }
        }
        for r in &u.packages {
            match by_name.get(&r.name.to_ascii_lowercase()) {
                None => {
                    if !sp.missing.iter().any(|n| n.eq_ignore_ascii_case(&r.name)) {
                        sp.missing.push(r.name.clone());
                    }
                }
                Some(&next) => {
                    if path.contains(&next) || path.len() as u32 > MAX_SUB_PACKAGE_DEPTH {
                        sp.truncated = true;
                        continue;
                    }
                    path.push(next);
                    collect_components(mums, by_name, next, path, comp_seen, sp);
                    path.pop();
                }
            }
        }
    }
}

pub(super) fn push_check(
    checks: &mut Vec<Check>,
    name: &str,
    expected: Option<String>,
    actual: Option<String>,
) {
    let outcome = if expected == actual {
        CheckOutcome::Ok
    } else {
        CheckOutcome::Mismatch
    };
    checks.push(Check {
        check: name.into(),
        outcome,
        expected: if outcome == CheckOutcome::Mismatch {
            expected
        } else {
            None
        },
        actual: if outcome == CheckOutcome::Mismatch {
            actual
        } else {
            None
        },
    });
}

/// `2019-03-20T17:00:00Z` → `2019-03-20`, only when it looks like a date.
fn date_part(ts: &str) -> Option<String> {
    let d = ts.get(..10)?;
    let b = d.as_bytes();
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    ok.then(|| d.to_string())
}

fn os_family(major: u16, minor: u16) -> Option<&'static str> {
    Some(match (major, minor) {
        (5, 1) => "Windows XP",
        (5, 2) => "Windows Server 2003 / XP x64",
        (6, 0) => "Windows Vista / Server 2008",
        (6, 1) => "Windows 7 / Server 2008 R2",
        (6, 2) => "Windows 8 / Server 2012",
        (6, 3) => "Windows 8.1 / Server 2012 R2",
        (10, 0) => "Windows 10 / 11 / Server 2016+",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(
            date_part("2019-03-20T17:00:00Z").as_deref(),
            Some("2019-03-20")
        );
        assert_eq!(date_part("20190320"), None);
        assert_eq!(date_part("2019/03/20"), None);
    }
}
