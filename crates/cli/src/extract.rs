//! `kbscan extract`: write the members of an MSU/CAB/ZIP (and of the containers inside
//! it) under a directory, without ever writing outside it.
//!
//! The archive is read by `kbscan_archive::walker`, the same walker the scan uses: members
//! are written as they are decoded and nested containers are expanded while their bytes are
//! still in the decoder's buffer (or in the temporary file a member beyond
//! `--max-held-bytes` was spilled to), so memory stays bounded whatever the member sizes.
//!
//! Safety rests on three rules:
//! - every name that becomes a path goes through `kbscan_archive::safe_name`: member names
//!   (refused, never rewritten) and the folder names kbscan derives for nested containers
//!   (`safe_name::expansion_dir`: `...cab` expands into `...cab.expanded`, never `..`);
//! - nothing is opened by a path string: DIR is opened once as a directory handle (cap-std)
//!   and every component below it is created and opened relative to its parent's handle,
//!   without following symbolic links (`openat` + `O_NOFOLLOW` on Unix). A directory swapped
//!   for a link while the extraction runs makes that member fail; it can never redirect a
//!   write outside DIR (on Windows cap-std gives the same guarantee through handle-relative
//!   opens that refuse reparse points);
//! - files are created with `create_new` (`O_CREAT | O_EXCL`), which fails on anything
//!   already there, including a dangling link planted in DIR.

use crate::args::ExtractArgs;
use crate::exit;
use anyhow::{bail, Context};
use cap_fs_ext::DirExt;
use cap_std::fs::{Dir, OpenOptions};
use kbscan_archive::limits::{Budget, MemoryBudget};
use kbscan_archive::safe_name::expansion_dir;
use kbscan_archive::walker::{Flow, Issue, Member, Sink, WalkError, Walker};
use kbscan_archive::{sniff, Limits, Magic, NestedPath, Source};
use std::fs;
use std::io::Write;

struct Extractor {
    max_depth: u32,
    /// Output folder of the container being walked, relative to `root` (empty at the top).
    prefix: Vec<String>,
    /// The folder the member just accepted for descent expands into.
    expand_into: Option<Vec<String>>,
    root: Dir,
    force: bool,
    patterns: Option<globset::GlobSet>,
    written: Vec<(String, u64)>,
    refused: Vec<(String, String, String)>,
}

pub fn run(a: ExtractArgs) -> anyhow::Result<u8> {
    // Decided from metadata, never by opening: `/dev/zero` or a FIFO is refused, not read.
    let meta =
        fs::metadata(&a.package).with_context(|| format!("cannot read {}", a.package.display()))?;
    if !meta.is_file() {
        bail!(
            "{}: not a regular file ({}); only regular files are read",
            a.package.display(),
            kbscan_scan::file_type_name(&meta.file_type())
        );
    }
    let size = meta.len();
    if size > a.limits.max_input_bytes {
        bail!(
            "{}: {size} bytes, more than --max-input-bytes ({})",
            a.package.display(),
            a.limits.max_input_bytes
        );
    }
    // The same read as the scan's: checked again on the open handle, capped at the limit;
    // a package larger than the memory one input may hold is read by position instead.
    let memory = MemoryBudget::new(a.limits.max_held_bytes);
    let mut held = memory.claim();
    let hold = if held.grow(size) { size } else { 0 };
    let package = kbscan_scan::InputBytes::open(&a.package, size, hold, a.limits.max_input_bytes)?;
    let src = package.source();
    let head = src
        .read_upto(0, 8)
        .with_context(|| format!("cannot read {}", a.package.display()))?;
    if !matches!(sniff(&head), Magic::Cab | Magic::Zip) {
        bail!(
            "{}: not an MSU, CAB or ZIP (no MSCF or PK signature)",
            a.package.display()
        );
    }
    fs::create_dir_all(&a.dir).with_context(|| format!("cannot create {}", a.dir.display()))?;
    let root = Dir::open_ambient_dir(&a.dir, cap_std::ambient_authority())
        .with_context(|| format!("cannot open {}", a.dir.display()))?;
    // An existing DIR we cannot write into is a fatal error (exit 2) found before the
    // first member, not one refusal per member (exit 1).
    probe_writable(&root).with_context(|| format!("cannot write into {}", a.dir.display()))?;
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
    limits.memory = Some(memory);
    limits.records = Some(Budget::new(a.limits.max_records));
    let walker = Walker::new(limits, a.limits.max_depth);
    let mut ex = Extractor {
        max_depth: a.limits.max_depth,
        prefix: Vec::new(),
        expand_into: None,
        root,
        force: a.force,
        patterns,
        written: Vec::new(),
        refused: Vec::new(),
    };
    let top = NestedPath::new(a.package.to_string_lossy().into_owned());
    walker.walk(src, &top, 0, &mut ex);

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
        kbscan_report::printable(&a.dir.display().to_string()),
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

    fn selected(&self, rel: &[String]) -> bool {
        let Some(set) = &self.patterns else {
            return true;
        };
        let joined = rel.join("/");
        set.is_match(&joined) || rel.last().is_some_and(|n| set.is_match(n))
    }

    fn write(&mut self, rel: &[String], data: Source<'_>, child: &NestedPath) {
        let Some((name, dirs)) = rel.split_last() else {
            return;
        };
        let shown = |upto: usize| rel[..upto].join("/");
        // Each level is opened relative to the handle of the one above it, never by
        // re-resolving a path string, so a component swapped for a link after it was
        // created is refused at open time instead of being followed.
        let mut dir: Option<Dir> = None;
        for (i, comp) in dirs.iter().enumerate() {
            let parent = dir.as_ref().unwrap_or(&self.root);
            match parent.create_dir(comp) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return self.refuse(child, "io", format!("cannot create {}: {e}", shown(i + 1)))
                }
            }
            match parent.open_dir_nofollow(comp) {
                Ok(d) => dir = Some(d),
                Err(e) => {
                    let (kind, what) = match parent.symlink_metadata(comp) {
                        Ok(m) if m.file_type().is_symlink() => (
                            "symlink_in_output",
                            "is a symbolic link: not followed".to_string(),
                        ),
                        Ok(m) if !m.is_dir() => (
                            "output_conflict",
                            "exists and is not a directory".to_string(),
                        ),
                        _ => ("io", format!("cannot open: {e}")),
                    };
                    return self.refuse(child, kind, format!("{} {what}", shown(i + 1)));
                }
            }
        }
        let dir = dir.as_ref().unwrap_or(&self.root);
        if let Ok(m) = dir.symlink_metadata(name) {
            if m.file_type().is_symlink() {
                return self.refuse(
                    child,
                    "symlink_in_output",
                    format!("{} is a symbolic link: not followed", rel.join("/")),
                );
            }
            if !self.force {
                return self.refuse(
                    child,
                    "output_exists",
                    format!("{} exists (use --force to overwrite)", rel.join("/")),
                );
            }
            if !m.is_file() {
                return self.refuse(
                    child,
                    "output_conflict",
                    format!("{} exists and is not a regular file", rel.join("/")),
                );
            }
            // `unlinkat` removes whatever the name is now (a link swapped in is removed,
            // its target untouched); `create_new` below then refuses anything that
            // reappears in between.
            if let Err(e) = dir.remove_file(name) {
                return self.refuse(
                    child,
                    "io",
                    format!("cannot replace {}: {e}", rel.join("/")),
                );
            }
        }
        match create_new(dir, name, data) {
            Ok(()) => self.written.push((rel.join("/"), data.len())),
            Err(e) => self.refuse(child, "io", format!("cannot write {}: {e}", rel.join("/"))),
        }
    }
}

/// Creates and removes an empty file in `dir`: the one way to know it is writable that
/// holds for root too (permission bits do not stop root; a read-only mount or a file
/// system without files does).
fn probe_writable(dir: &Dir) -> std::io::Result<()> {
    for i in 0u32.. {
        let name = format!(".kbscan-probe-{}-{i}", std::process::id());
        match dir.open_with(&name, OpenOptions::new().write(true).create_new(true)) {
            Ok(f) => {
                drop(f);
                return dir.remove_file(&name);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && i < 100 => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn create_new(dir: &Dir, name: &str, data: Source<'_>) -> std::io::Result<()> {
    let mut f = dir.open_with(name, OpenOptions::new().write(true).create_new(true))?;
    match data.as_slice() {
        Some(bytes) => f.write_all(bytes),
        // A member spilled to a temporary file is copied through a small buffer.
        None => std::io::copy(&mut data.reader(), &mut f).map(|_| ()),
    }
}

/// The walker hands every member here; what `extract` adds to the walk is where things go.
impl Sink for Extractor {
    fn member(&mut self, m: &Member<'_>) -> Flow {
        let rel = match m.safe_components() {
            Ok(c) => [self.prefix.as_slice(), &c].concat(),
            Err(e) => {
                self.refuse(m.path, "unsafe_member_name", e.to_string());
                return Flow::Continue;
            }
        };
        if self.selected(&rel) {
            self.write(&rel, m.data, m.path);
        }
        // The scan metadata cabinet of an MSU is a catalogue, not part of the package.
        let catalogue = m.depth == 0 && m.name.eq_ignore_ascii_case("wsusscan.cab");
        if catalogue || !m.is_container() {
            return Flow::Continue;
        }
        let mut folder = rel;
        if let Some(last) = folder.last_mut() {
            match expansion_dir(last) {
                Ok(d) => *last = d,
                Err(e) => {
                    self.refuse(
                        m.path,
                        "unsafe_member_name",
                        format!("written but not expanded: no safe folder name ({e})"),
                    );
                    return Flow::Continue;
                }
            }
        }
        self.expand_into = Some(folder);
        Flow::Descend
    }

    fn nested<F>(&mut self, _m: &Member<'_>, walk: F) -> Flow
    where
        F: FnOnce(&mut Self) -> Flow + Send,
    {
        let inner = self.expand_into.take().unwrap_or_default();
        let outer = std::mem::replace(&mut self.prefix, inner);
        let flow = walk(self);
        self.prefix = outer;
        flow
    }

    fn error(&mut self, e: WalkError) -> Flow {
        let msg = match &e.issue {
            Issue::TooDeep { .. } => format!(
                "written but not expanded: containers nest deeper than --max-depth ({})",
                self.max_depth
            ),
            Issue::UnsafeZipName(why) => why.to_string(),
            other => other.to_string(),
        };
        self.refuse(&e.path, e.issue.kind(), msg);
        Flow::Continue
    }
}
