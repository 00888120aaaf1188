//! `kbscan extract`: write the members of an MSU/CAB (and of the cabinets inside it)
//! under a directory, without ever writing outside it.
//!
//! Safety rests on three rules: names go through `kbscan_archive::safe_name` (refused,
//! never rewritten); every directory on the way is checked with `symlink_metadata` and
//! a symbolic link is refused rather than followed; files are opened with `create_new`,
//! which fails on anything already there, including a dangling link planted in DIR.

use crate::args::ExtractArgs;
use crate::exit;
use anyhow::{bail, Context};
use kbscan_archive::cab::Cabinet;
use kbscan_archive::safe_name::relative_components;
use kbscan_archive::{sniff, Limits, Magic, NestedPath};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// MSU → payload → sub-CAB is depth 2; a little more room for odd real packages.
const MAX_EXTRACT_DEPTH: u32 = 4;

struct Extractor {
    root: PathBuf,
    force: bool,
    patterns: Option<globset::GlobSet>,
    limits: Limits,
    written: Vec<(String, u64)>,
    refused: Vec<(String, String, String)>,
}

pub fn run(a: ExtractArgs) -> anyhow::Result<u8> {
    let bytes =
        fs::read(&a.package).with_context(|| format!("cannot read {}", a.package.display()))?;
    if sniff(&bytes) != Magic::Cab {
        bail!(
            "{}: not an MSU or CAB (no MSCF signature)",
            a.package.display()
        );
    }
    fs::create_dir_all(&a.dir).with_context(|| format!("cannot create {}", a.dir.display()))?;
    let root = a
        .dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", a.dir.display()))?;
    let patterns = if a.pattern.is_empty() {
        None
    } else {
        let mut b = globset::GlobSetBuilder::new();
        for p in &a.pattern {
            b.add(
                globset::GlobBuilder::new(p)
                    .case_insensitive(true)
                    .build()
                    .with_context(|| format!("invalid --pattern {p:?}"))?,
            );
        }
        Some(b.build().context("invalid --pattern")?)
    };
    let mut ex = Extractor {
        root,
        force: a.force,
        patterns,
        limits: Limits::default(),
        written: Vec::new(),
        refused: Vec::new(),
    };
    let top = NestedPath::new(a.package.to_string_lossy().into_owned());
    ex.cabinet(&bytes, &[], &top, 0);

    let mut out = std::io::stdout().lock();
    if !a.quiet {
        for (rel, size) in &ex.written {
            let _ = writeln!(out, "{size:>12}  {}", kbscan_report::printable(rel));
        }
    }
    for (path, kind, msg) in &ex.refused {
        eprintln!(
            "kbscan: {}: [{kind}] {}",
            kbscan_report::printable(path),
            kbscan_report::printable(msg)
        );
    }
    eprintln!(
        "kbscan: {} files written under {}, {} refused",
        ex.written.len(),
        a.dir.display(),
        ex.refused.len()
    );
    Ok(if ex.refused.is_empty() {
        exit::OK
    } else {
        exit::INPUT_FAILED
    })
}

impl Extractor {
    fn refuse(&mut self, path: &NestedPath, kind: &str, msg: impl Into<String>) {
        self.refused
            .push((path.to_string(), kind.to_string(), msg.into()));
    }

    fn cabinet(&mut self, bytes: &[u8], prefix: &[String], path: &NestedPath, depth: u32) {
        let cab = match Cabinet::parse(bytes, &self.limits) {
            Ok(c) => c,
            Err(e) => return self.refuse(path, e.kind(), format!("cannot read cabinet: {e}")),
        };
        let mut nested = Vec::new();
        let mut refused = Vec::new();
        let mut writes = Vec::new();
        let errors = cab.for_each_file(&mut |entry, data| {
            let child = path.child(&entry.name);
            let rel = match relative_components(&entry.name) {
                Ok(c) => [prefix, &c].concat(),
                Err(e) => return refused.push((child, "unsafe_member_name", e.to_string())),
            };
            let is_scan_metadata = depth == 0 && entry.name.eq_ignore_ascii_case("wsusscan.cab");
            if sniff(data) == Magic::Cab && !is_scan_metadata && depth < MAX_EXTRACT_DEPTH {
                nested.push((rel.clone(), data.to_vec(), child.clone()));
            }
            // Files are written after the walk so a write error cannot interrupt decoding.
            writes.push((rel, data.to_vec(), child));
        });
        for (idx, e) in errors {
            let name = cab.files.get(idx).map(|f| f.name.as_str()).unwrap_or("?");
            self.refuse(&path.child(name), e.kind(), e.to_string());
        }
        for (child, kind, msg) in refused {
            self.refuse(&child, kind, msg);
        }
        for (rel, data, child) in writes {
            if self.selected(&rel) {
                self.write(&rel, &data, &child);
            }
        }
        for (mut rel, data, child) in nested {
            if let Some(last) = rel.last_mut() {
                let stem = last
                    .len()
                    .checked_sub(4)
                    .filter(|&n| last[n..].eq_ignore_ascii_case(".cab"));
                if let Some(n) = stem {
                    last.truncate(n);
                } else {
                    last.push_str(".expanded");
                }
            }
            self.cabinet(&data, &rel, &child, depth + 1);
        }
    }

    fn selected(&self, rel: &[String]) -> bool {
        let Some(set) = &self.patterns else {
            return true;
        };
        let joined = rel.join("/");
        set.is_match(&joined) || rel.last().is_some_and(|n| set.is_match(n))
    }

    fn write(&mut self, rel: &[String], data: &[u8], child: &NestedPath) {
        let Some((name, dirs)) = rel.split_last() else {
            return;
        };
        let mut dir = self.root.clone();
        for comp in dirs {
            dir.push(comp);
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.file_type().is_symlink() => {
                    return self.refuse(
                        child,
                        "symlink_in_output",
                        format!("{} is a symbolic link: not followed", dir.display()),
                    );
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return self.refuse(
                        child,
                        "output_conflict",
                        format!("{} exists and is not a directory", dir.display()),
                    )
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if let Err(e) = fs::create_dir(&dir) {
                        return self.refuse(
                            child,
                            "io",
                            format!("cannot create {}: {e}", dir.display()),
                        );
                    }
                }
                Err(e) => return self.refuse(child, "io", format!("{}: {e}", dir.display())),
            }
        }
        let target = dir.join(name);
        if let Ok(m) = fs::symlink_metadata(&target) {
            if m.file_type().is_symlink() {
                return self.refuse(
                    child,
                    "symlink_in_output",
                    format!("{} is a symbolic link: not followed", target.display()),
                );
            }
            if !self.force {
                return self.refuse(
                    child,
                    "output_exists",
                    format!("{} exists (use --force to overwrite)", target.display()),
                );
            }
            if !m.is_file() {
                return self.refuse(
                    child,
                    "output_conflict",
                    format!("{} exists and is not a regular file", target.display()),
                );
            }
            if let Err(e) = fs::remove_file(&target) {
                return self.refuse(
                    child,
                    "io",
                    format!("cannot replace {}: {e}", target.display()),
                );
            }
        }
        match create_new(&target, data) {
            Ok(()) => self.written.push((rel.join("/"), data.len() as u64)),
            Err(e) => self.refuse(
                child,
                "io",
                format!("cannot write {}: {e}", target.display()),
            ),
        }
    }
}

fn create_new(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(data)
}
