//! `kbscan extract`: write the members of an MSU/CAB/ZIP (and of the containers inside
//! it) under a directory, without ever writing outside it.
//!
//! Members are written as the archive is decoded and nested containers are expanded while
//! their bytes are still in the decoder's buffer, so memory stays at one CAB folder window
//! per nesting level, not the size of the package.
//!
//! Safety rests on three rules: names go through `kbscan_archive::safe_name` (refused,
//! never rewritten); every directory on the way is checked with `symlink_metadata` and
//! a symbolic link is refused rather than followed; files are opened with `create_new`,
//! which fails on anything already there, including a dangling link planted in DIR.

use crate::args::ExtractArgs;
use crate::exit;
use anyhow::{bail, Context};
use kbscan_archive::cab::Cabinet;
use kbscan_archive::limits::Budget;
use kbscan_archive::safe_name::relative_components;
use kbscan_archive::{sniff, Limits, Magic, NestedPath};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

struct Extractor {
    max_depth: u32,
    root: PathBuf,
    force: bool,
    patterns: Option<globset::GlobSet>,
    limits: Limits,
    written: Vec<(String, u64)>,
    refused: Vec<(String, String, String)>,
}

pub fn run(a: ExtractArgs) -> anyhow::Result<u8> {
    let size = fs::metadata(&a.package)
        .with_context(|| format!("cannot read {}", a.package.display()))?
        .len();
    if size > a.limits.max_input_bytes {
        bail!(
            "{}: {size} bytes, more than --max-input-bytes ({})",
            a.package.display(),
            a.limits.max_input_bytes
        );
    }
    let bytes =
        fs::read(&a.package).with_context(|| format!("cannot read {}", a.package.display()))?;
    if !matches!(sniff(&bytes), Magic::Cab | Magic::Zip) {
        bail!(
            "{}: not an MSU, CAB or ZIP (no MSCF or PK signature)",
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
    let mut limits = Limits {
        max_entries: a.limits.max_entries,
        max_entry_bytes: a.limits.max_entry_bytes,
        max_total_bytes: a.limits.max_total_bytes,
        ..Limits::default()
    };
    limits.package_budget = Some(Budget::new(a.limits.max_package_bytes));
    let mut ex = Extractor {
        max_depth: a.limits.max_depth,
        root,
        force: a.force,
        patterns,
        limits,
        written: Vec::new(),
        refused: Vec::new(),
    };
    let top = NestedPath::new(a.package.to_string_lossy().into_owned());
    ex.container(&bytes, &[], &top, 0);

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

    fn container(&mut self, bytes: &[u8], prefix: &[String], path: &NestedPath, depth: u32) {
        match sniff(bytes) {
            Magic::Zip => self.zip(bytes, prefix, path, depth),
            _ => self.cabinet(bytes, prefix, path, depth),
        }
    }

    fn cabinet(&mut self, bytes: &[u8], prefix: &[String], path: &NestedPath, depth: u32) {
        let cab = match Cabinet::parse(bytes, &self.limits) {
            Ok(c) => c,
            Err(e) => return self.refuse(path, e.kind(), format!("cannot read cabinet: {e}")),
        };
        let errors = cab.for_each_file(&mut |entry, data| {
            // The scan metadata cabinet of an MSU is a catalogue, not part of the package.
            let expand = !(depth == 0 && entry.name.eq_ignore_ascii_case("wsusscan.cab"));
            self.member(&entry.name, data, prefix, path, depth, expand);
        });
        for (idx, e) in errors {
            let name = cab.files.get(idx).map(|f| f.name.as_str()).unwrap_or("?");
            self.refuse(&path.child(name), e.kind(), e.to_string());
        }
    }

    fn zip(&mut self, bytes: &[u8], prefix: &[String], path: &NestedPath, depth: u32) {
        let limits = self.limits.clone();
        let res =
            kbscan_archive::zip::for_each_entry(bytes, &limits, &mut |name, data| match data {
                Ok(d) => self.member(name, d, prefix, path, depth, true),
                Err(e) => self.refuse(&path.child(name), e.kind(), e.to_string()),
            });
        if let Err(e) = res {
            self.refuse(path, e.kind(), format!("cannot read ZIP: {e}"));
        }
    }

    /// Writes one member and, when it is itself a CAB/MSU or ZIP, expands it beside itself
    /// into a folder named after it (`x.cab` → `x/`).
    fn member(
        &mut self,
        name: &str,
        data: &[u8],
        prefix: &[String],
        path: &NestedPath,
        depth: u32,
        expand: bool,
    ) {
        let child = path.child(name);
        let rel = match relative_components(name) {
            Ok(c) => [prefix, &c].concat(),
            Err(e) => return self.refuse(&child, "unsafe_member_name", e.to_string()),
        };
        if self.selected(&rel) {
            self.write(&rel, data, &child);
        }
        if !expand || !matches!(sniff(data), Magic::Cab | Magic::Zip) {
            return;
        }
        if depth + 1 > self.max_depth {
            return self.refuse(
                &child,
                "limit_nesting_depth",
                format!(
                    "written but not expanded: containers nest deeper than --max-depth ({})",
                    self.max_depth
                ),
            );
        }
        let mut folder = rel;
        if let Some(last) = folder.last_mut() {
            *last = expanded_name(last);
        }
        self.container(data, &folder, &child, depth + 1);
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

/// `x.cab`, `x.msu`, `x.zip` → `x`; anything else gets `.expanded` appended so the
/// folder never collides with the file it came from.
fn expanded_name(file: &str) -> String {
    let lower = file.to_ascii_lowercase();
    for ext in [".cab", ".msu", ".zip"] {
        if lower.len() > ext.len() && lower.ends_with(ext) {
            return file[..file.len() - ext.len()].to_string();
        }
    }
    format!("{file}.expanded")
}

fn create_new(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(data)
}
