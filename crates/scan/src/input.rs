//! One input file, start to finish: read it, hash it, and dispatch it by signature (never
//! by extension) — cabinets to the package walk, ZIP members recursively, bare PE images —
//! under its own `catch_unwind`, into one [`InputOutcome`].

use crate::convert::{err_rec, ReportKind};
use crate::digest::{self, Offload, Sha256Hex};
use crate::options::ScanOptions;
use crate::package::{pe_package, Built, PackageBuilder};
use crate::walk::InputFile;
use kbscan_archive::{sniff, Magic, NestedPath};
use kbscan_model::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub(crate) fn scan_input_guarded(
    f: &InputFile,
    opts: &ScanOptions,
    load: &digest::Workers,
) -> InputOutcome {
    match catch_unwind(AssertUnwindSafe(|| scan_input(f, opts, load))) {
        Ok(o) => o,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let err = ErrorRecord {
                path: f.display.clone(),
                kind: ErrorKind::InternalPanic,
                message: format!("kbscan bug: the scanner panicked on this input ({msg}); please report it with the file"),
            };
            InputOutcome {
                input: InputRecord {
                    path: f.display.clone(),
                    size: f.size,
                    sha256: None,
                    format: "unknown".into(),
                    status: InputStatus::Failed,
                    packages: 0,
                    errors: 1,
                    ignored: Vec::new(),
                },
                packages: Vec::new(),
                errors: vec![err],
            }
        }
    }
}

fn scan_input(f: &InputFile, opts: &ScanOptions, load: &digest::Workers) -> InputOutcome {
    // Every container read for this input (and only this input) draws on one allowance.
    let mut opts = opts.clone();
    opts.limits.package_budget = Some(kbscan_archive::limits::Budget::new(opts.max_package_bytes));
    let opts = &opts;
    let mut input = InputRecord {
        path: f.display.clone(),
        size: f.size,
        sha256: None,
        format: "unknown".into(),
        status: InputStatus::Scanned,
        packages: 0,
        errors: 0,
        ignored: Vec::new(),
    };
    let mut cx = Cx {
        opts,
        errors: Vec::new(),
        packages: Vec::new(),
        ignored: Vec::new(),
        unsupported: false,
        skipped: false,
        input_sha256: None,
    };
    let root = NestedPath::new(f.display.clone());
    let slots = digest::Slots::default();
    if f.size > opts.max_input_bytes {
        cx.error(
            &root,
            ErrorKind::Limit(LimitKind::InputSize),
            format!(
                "input is {} bytes, more than the limit of {} bytes (max_input_bytes)",
                f.size, opts.max_input_bytes
            ),
        );
    } else {
        match f.read_bounded(opts.max_input_bytes) {
            Ok(bytes) => {
                input.format = format_name(sniff(&bytes)).into();
                rayon::in_place_scope(|s| {
                    let hasher = digest::Hasher::new(s, &slots, load);
                    cx.input_sha256 = Some(hasher.whole(&bytes));
                    cx.dispatch(Some(&hasher), &bytes, &root, 0, true);
                });
                input.sha256 = cx.input_sha256.take().map(|h| slots.resolve(h));
            }
            Err(e) => cx.error(&root, e.report_kind(), e.to_string()),
        }
    }
    // Any hashing scope has ended, so every job has filled its slot.
    let packages: Vec<Package> = cx.packages.into_iter().map(|b| b.resolve(&slots)).collect();
    input.packages = packages.len() as u32;
    input.ignored = cx.ignored;
    let mut errors = cx.errors;
    for p in &packages {
        errors.extend(p.errors.iter().cloned());
    }
    input.errors = errors.len() as u32;
    input.status = if !errors.is_empty() && !cx.unsupported {
        InputStatus::Failed
    } else if cx.unsupported {
        InputStatus::Unsupported
    } else if cx.skipped {
        InputStatus::Skipped
    } else {
        InputStatus::Scanned
    };
    InputOutcome {
        input,
        packages,
        errors,
    }
}

fn format_name(m: Magic) -> &'static str {
    match m {
        Magic::Cab => "cab",
        Magic::Zip => "zip",
        Magic::Pe => "pe",
        Magic::Wim => "wim",
        Magic::Psf => "psf",
        Magic::Pa30 => "pa30",
        Magic::Dcm => "dcm",
        Magic::Xml => "xml",
        Magic::Unknown => "unknown",
    }
}

/// Per-input state. Errors not tied to one package land here.
struct Cx<'o> {
    opts: &'o ScanOptions,
    errors: Vec<ErrorRecord>,
    /// Packages found, each still to be [resolved](Built::resolve) once hashing is done.
    packages: Vec<Built>,
    ignored: Vec<Ignored>,
    unsupported: bool,
    skipped: bool,
    /// SHA-256 of the input file (or the slot it will arrive in), reused for a package
    /// that is the whole file: hashing is the largest cost of a scan after decoding, so
    /// the same bytes are not hashed twice.
    input_sha256: Option<Sha256Hex>,
}

impl Cx<'_> {
    fn error(&mut self, path: &NestedPath, kind: ErrorKind, message: String) {
        self.errors.push(err_rec(path, kind, message));
    }

    /// `top` is true for a file on disk: an unknown file there is a skipped input,
    /// inside a ZIP it is an ignored member.
    fn dispatch(
        &mut self,
        hasher: Option<&dyn Offload>,
        bytes: &[u8],
        path: &NestedPath,
        depth: u32,
        top: bool,
    ) {
        if depth > self.opts.max_depth {
            self.error(
                path,
                ErrorKind::Limit(LimitKind::NestingDepth),
                format!(
                    "containers nest deeper than the limit of {} (max_depth)",
                    self.opts.max_depth
                ),
            );
            return;
        }
        match sniff(bytes) {
            Magic::Cab => {
                let known = if top { self.input_sha256.clone() } else { None };
                if let Some(p) = PackageBuilder::build(bytes, path, depth, self.opts, hasher, known)
                {
                    self.packages.push(p);
                }
            }
            Magic::Zip => self.zip(hasher, bytes, path, depth),
            Magic::Pe => {
                let known = if top { self.input_sha256.clone() } else { None };
                self.packages.push(pe_package(bytes, path, hasher, known));
            }
            m @ (Magic::Wim | Magic::Psf) => {
                self.unsupported = true;
                self.error(
                    path,
                    ErrorKind::UnsupportedContainer,
                    format!(
                        "unsupported container: {} (recognised by signature, not decoded)",
                        format_name(m).to_uppercase()
                    ),
                );
            }
            m => {
                let reason = format!("not an update package (signature: {})", format_name(m));
                if top {
                    self.skipped = true;
                    self.ignored.push(Ignored {
                        path: String::new(),
                        reason,
                    });
                } else {
                    self.ignored.push(Ignored {
                        path: path.to_string(),
                        reason,
                    });
                }
            }
        }
    }

    /// Members are dispatched as they are decoded: holding every decoded member of a
    /// multi-gigabyte ZIP at once would make memory grow with the archive.
    fn zip(&mut self, hasher: Option<&dyn Offload>, bytes: &[u8], path: &NestedPath, depth: u32) {
        let limits = self.opts.limits.clone();
        let res = kbscan_archive::zip::for_each_entry(bytes, &limits, &mut |name, data| {
            if name.ends_with('/') {
                return;
            }
            let child = path.child(name);
            match data {
                Err(e) => self.error(&child, e.report_kind(), e.to_string()),
                Ok(d) => match unsafe_member_name(name) {
                    Some(reason) => self.error(
                        &child,
                        ErrorKind::UnsafeMemberName,
                        format!("ZIP member name rejected: {reason}"),
                    ),
                    None => self.dispatch(hasher, d, &child, depth + 1, false),
                },
            }
        });
        if let Err(e) = res {
            self.error(path, e.report_kind(), format!("cannot read ZIP: {e}"));
        }
    }
}

/// Names a ZIP member must not have. The scanner never writes members to disk, but a
/// name like `../../evil.msu` in a download is a sign of a hostile archive and is
/// reported instead of being analysed as if it were a normal package.
fn unsafe_member_name(name: &str) -> Option<&'static str> {
    let n = name.replace('\\', "/");
    if n.starts_with('/') {
        return Some("absolute path");
    }
    if n.len() >= 2 && n.as_bytes()[1] == b':' {
        return Some("drive letter");
    }
    if n.split('/').any(|c| c == "..") {
        return Some("path traversal ('..' component)");
    }
    if n.chars().any(|c| c.is_control()) {
        return Some("control character in name");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_zip_names() {
        assert!(unsafe_member_name("../../evil.msu").is_some());
        assert!(unsafe_member_name("a\\..\\b.msu").is_some());
        assert!(unsafe_member_name("/etc/x").is_some());
        assert!(unsafe_member_name("C:x.msu").is_some());
        assert!(unsafe_member_name("2019-04/Windows6.0-KB4493471-x64.msu").is_none());
    }
}
