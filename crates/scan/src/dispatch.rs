//! What the scanner does with what the container walker (`kbscan_archive::walker`) hands it:
//! [`Cx`] is the scan's [`Sink`]. The walker owns nesting, limits, name checks and duplicate
//! names; this module owns the scanner's meaning of them:
//! - a cabinet that is an input, or a member of a ZIP, starts a **package**
//!   ([`PackageBuilder`], classified MSU / payload / plain cabinet by its member names);
//!   cabinets nested in it belong to the same package, and their records follow the outer
//!   cabinet's own (a container's members first, whatever the nesting);
//! - an IPD payload's targets are resolved when its cabinet has been walked;
//! - ZIP members are dispatched by signature: cabinets and ZIPs are walked, PE images become
//!   packages of their own, anything else is listed as ignored;
//! - a nested cabinet large enough to be worth it is hashed on an idle worker while it is
//!   walked ([`Sink::nested`] runs both under `rayon::join`).
//!
//! The walk stops early only at the record budget; [`Cx::unwind`] then finishes the packages
//! still open, so what was read is reported with the error.

use crate::convert::{err_rec, ReportKind};
use crate::digest::{self, Offload, Sha256Hex};
use crate::options::ScanOptions;
use crate::package::{self, pe_package, Built, Nested, PackageBuilder};
use kbscan_archive::walker::{Container, Flow, Issue, Kind, Member, Sink, WalkError};
use kbscan_archive::{Magic, NestedPath, Source};
use kbscan_model::*;

/// Per-input state. Errors not tied to one package land here.
pub(crate) struct Cx<'o> {
    opts: &'o ScanOptions,
    hasher: Option<&'o dyn Offload>,
    errors: Vec<ErrorRecord>,
    /// Packages found, each still to be [resolved](Built::resolve) once hashing is done.
    packages: Vec<Built>,
    ignored: Vec<Ignored>,
    unsupported: bool,
    skipped: bool,
    /// The package being walked (a cabinet and the cabinets nested in it).
    pkg: Option<PackageBuilder<'o>>,
    /// One entry per container being walked, innermost last.
    frames: Vec<Frame>,
    /// Size and digest of the next package the walk enters: set for the input itself
    /// (whose digest is already on its way) and for each ZIP member it descends into.
    next_package: Option<(u64, Sha256Hex)>,
    /// The member record whose digest is computed beside its nested walk.
    joined: Option<usize>,
}

/// What one input's walk produced.
pub(crate) struct Found {
    pub(crate) errors: Vec<ErrorRecord>,
    pub(crate) packages: Vec<Built>,
    pub(crate) ignored: Vec<Ignored>,
    pub(crate) unsupported: bool,
    pub(crate) skipped: bool,
}

/// A container being walked.
enum Frame {
    Zip,
    Cab(CabFrame),
}

struct CabFrame {
    path: NestedPath,
    /// The package's own cabinet (an MSU, a payload or plain cabinet on disk or in a ZIP).
    root: bool,
    /// The MSU level, where properties, the unattend file and payload cabinets live.
    outer: bool,
    /// An IPD payload: members need their SHA-1 and targets are resolved at the end.
    ipd: bool,
    /// Records of the cabinets nested in this one, held back until its own are done.
    held_back: Nested,
}

impl<'o> Cx<'o> {
    pub(crate) fn new(opts: &'o ScanOptions, hasher: Option<&'o dyn Offload>) -> Self {
        Cx {
            opts,
            hasher,
            errors: Vec::new(),
            packages: Vec::new(),
            ignored: Vec::new(),
            unsupported: false,
            skipped: false,
            pkg: None,
            frames: Vec::new(),
            next_package: None,
            joined: None,
        }
    }

    pub(crate) fn error(&mut self, path: &NestedPath, kind: ErrorKind, message: String) {
        self.errors.push(err_rec(path, kind, message));
    }

    /// An error of the package being walked, or of the input when there is none.
    fn error_here(&mut self, path: &NestedPath, kind: ErrorKind, message: String) {
        match &mut self.pkg {
            Some(b) => b.error(path, kind, message),
            None => self.error(path, kind, message),
        }
    }

    /// Walks the input `src` (a CAB or ZIP) whose SHA-256 is `sha256`.
    pub(crate) fn walk_input(&mut self, src: Source<'_>, root: &NestedPath, sha256: Sha256Hex) {
        self.next_package = Some((src.len(), sha256));
        let walker =
            kbscan_archive::walker::Walker::new(self.opts.limits.clone(), self.opts.max_depth);
        if walker.walk(src, root, 0, self) == Flow::Stop {
            self.unwind();
        }
    }

    /// Dispatches something that is not a container: a bare PE image becomes a package, a
    /// WIM or PSF is recognised and reported, anything else is ignored. `top`: the input
    /// itself (an unknown input is `skipped`; an unknown member is listed as ignored).
    pub(crate) fn leaf(
        &mut self,
        data: Source<'_>,
        magic: Magic,
        path: &NestedPath,
        top: bool,
        sha256: Option<Sha256Hex>,
    ) {
        match magic {
            Magic::Pe => self
                .packages
                .push(pe_package(data, path, self.hasher, sha256)),
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
                self.skipped |= top;
                self.ignored.push(Ignored {
                    path: if top { String::new() } else { path.to_string() },
                    reason,
                });
            }
        }
    }

    /// What this input produced, for merging into the input's outcome.
    pub(crate) fn into_found(self) -> Found {
        Found {
            errors: self.errors,
            packages: self.packages,
            ignored: self.ignored,
            unsupported: self.unsupported,
            skipped: self.skipped,
        }
    }

    /// Adds what another [`Cx`] of the same input found (the one that ran inside the
    /// hashing scope).
    pub(crate) fn absorb(&mut self, f: Found) {
        self.errors.extend(f.errors);
        self.packages.extend(f.packages);
        self.ignored.extend(f.ignored);
        self.unsupported |= f.unsupported;
        self.skipped |= f.skipped;
    }

    /// Finishes what a stopped walk left open, innermost first.
    fn unwind(&mut self) {
        while let Some(frame) = self.frames.pop() {
            self.close(frame);
        }
    }

    /// A container's walk is over: its held-back nested records follow its own, an IPD
    /// payload's targets are resolved, and a package's own cabinet finishes the package.
    fn close(&mut self, frame: Frame) {
        let Frame::Cab(f) = frame else { return };
        let Some(b) = &mut self.pkg else { return };
        b.append(f.held_back);
        if f.ipd {
            b.resolve_ipd(&f.path);
        }
        if f.root {
            if let Some(b) = self.pkg.take() {
                self.packages.push(b.finish());
            }
        }
    }

    fn in_zip(&self) -> bool {
        matches!(self.frames.last(), Some(Frame::Zip) | None)
    }
}

impl Sink for Cx<'_> {
    fn enter(&mut self, c: &Container<'_, '_>) -> Flow {
        match c.kind {
            Kind::Zip => self.frames.push(Frame::Zip),
            Kind::Cab => {
                let Some(cab) = c.cab else {
                    return Flow::Continue;
                };
                let root = self.pkg.is_none();
                let ipd = package::is_ipd(cab);
                if root {
                    let kind = package::classify(cab);
                    let (size, sha256) = self.next_package.take().unwrap_or_else(|| {
                        (
                            c.source.len(),
                            Sha256Hex::Ready(digest::compute_source(c.source, false).sha256),
                        )
                    });
                    let b = PackageBuilder::new(size, c.path, kind, sha256)
                        .with(self.opts, self.hasher);
                    self.pkg = Some(b);
                }
                let Some(b) = &mut self.pkg else {
                    return Flow::Continue;
                };
                let outer = root && b.kind() == PackageKind::Msu;
                if !outer {
                    b.begin_payload(cab, c.path);
                }
                self.frames.push(Frame::Cab(CabFrame {
                    path: c.path.clone(),
                    root,
                    outer,
                    ipd,
                    held_back: Nested::default(),
                }));
            }
        }
        Flow::Continue
    }

    fn member(&mut self, m: &Member<'_>) -> Flow {
        let frame = match self.frames.last() {
            Some(Frame::Cab(f)) => Some((f.outer, f.ipd)),
            _ => None,
        };
        let Some((outer, want_sha1)) = frame else {
            // A ZIP member: containers are walked (each cabinet a package of its own),
            // anything else is a leaf.
            if m.is_container() {
                let sha256 = digest::compute_source(m.data, false).sha256;
                self.next_package = Some((m.data.len(), Sha256Hex::Ready(sha256)));
                return Flow::Descend;
            }
            self.leaf(m.data, m.magic, m.path, false, None);
            return Flow::Continue;
        };
        let Some(b) = &mut self.pkg else {
            return Flow::Continue;
        };
        let is_cab = m.magic == Magic::Cab;
        // The MSU's scan metadata cabinet is a catalogue of other updates, not this one.
        let catalogue = outer && m.name.eq_ignore_ascii_case("wsusscan.cab");
        let descend = is_cab && !catalogue;
        // A nested cabinet's bytes stay alive while it is walked, so an idle worker can
        // hash them meanwhile (a payload CAB is most of an MSU).
        let len = usize::try_from(m.data.len()).unwrap_or(usize::MAX);
        let join = descend
            && !want_sha1
            && m.depth < self.opts.max_depth
            && self.hasher.is_some_and(|h| h.join_worth(len));
        let digest = if join {
            Sha256Hex::Ready(String::new())
        } else {
            b.digest_member(m.name, m.data, want_sha1)
        };
        let at = b.member_count();
        b.add_member(m.name, m.data, m.path.clone(), outer, digest);
        self.joined = join.then_some(at);
        if descend {
            Flow::Descend
        } else {
            Flow::Continue
        }
    }

    fn nested<F>(&mut self, m: &Member<'_>, walk: F) -> Flow
    where
        F: FnOnce(&mut Self) -> Flow + Send,
    {
        if self.in_zip() {
            return walk(self);
        }
        let marks = self.pkg.as_ref().map(PackageBuilder::marks);
        let joined = self.joined.take();
        let flow = match joined {
            Some(at) => {
                let data = m.data;
                let (flow, d) = rayon::join(|| walk(self), || digest::compute_source(data, false));
                if let Some(b) = &mut self.pkg {
                    b.set_digest(at, d.sha256);
                }
                flow
            }
            None => walk(self),
        };
        // Everything the nested cabinet added follows the outer cabinet's own records.
        if let (Some(marks), Some(b)) = (marks, &mut self.pkg) {
            let taken = b.take_since(marks);
            if let Some(Frame::Cab(f)) = self.frames.last_mut() {
                f.held_back.extend(taken);
            } else {
                b.append(taken);
            }
        }
        flow
    }

    fn leave(&mut self, _c: &Container<'_, '_>) {
        if let Some(frame) = self.frames.pop() {
            self.close(frame);
        }
    }

    fn error(&mut self, e: WalkError) -> Flow {
        let kind = e.issue.report_kind();
        match e.issue {
            Issue::CabUnreadable(err) => {
                if self.pkg.is_some() {
                    self.error_here(&e.path, kind, format!("cannot read nested cabinet: {err}"));
                } else {
                    // A package whose cabinet cannot be read is still a package: listed,
                    // with its size, digest and the reason.
                    let (size, sha256) = self
                        .next_package
                        .take()
                        .unwrap_or((0, Sha256Hex::Ready(String::new())));
                    let mut b = PackageBuilder::new(size, &e.path, PackageKind::Cabinet, sha256)
                        .with(self.opts, self.hasher);
                    b.error(&e.path, kind, format!("cannot read cabinet: {err}"));
                    self.packages.push(b.finish());
                }
            }
            Issue::TooDeep { .. } if self.pkg.is_some() => {
                self.error_here(&e.path, kind, e.issue.to_string());
            }
            Issue::TooManyRecords { .. } => {
                self.error_here(&e.path, kind, e.issue.to_string());
                return Flow::Stop;
            }
            other => {
                let message = other.to_string();
                self.error_here(&e.path, kind, message);
            }
        }
        Flow::Continue
    }
}

pub(crate) fn format_name(m: Magic) -> &'static str {
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
