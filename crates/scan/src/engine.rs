//! Scanning one input: container dispatch, package assembly, cross-checks.

use crate::digest::{self, hex, Offload, Pending};
use crate::model::*;
use crate::walk::{self, InputFile};
use kbscan_archive::cab::{Cabinet, FileEntry};
use kbscan_archive::limits::Limits;
use kbscan_archive::{sniff, Magic, NestedPath};
use kbscan_cbs as cbs;
use kbscan_version::Version;
use sha1::Sha1;
use sha2::Digest;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

/// How deep containers may nest (ZIP → ZIP → MSU → payload → sub-CAB is 5). Deeper
/// nesting is not seen in real packages and is the shape of a recursion bomb.
pub const MAX_NESTING_DEPTH: u32 = 6;

/// Largest input file read from disk. Real MSUs reach ~1 GiB (Windows 10 LCUs);
/// anything far beyond is not an update package we can hold in memory.
pub const MAX_INPUT_BYTES: u64 = 8 << 30;

/// Most PA30 blob bytes one package keeps (copied out of the folder buffer while the
/// payload streams) for decoding once the container index is known. Blobs beyond it
/// are reported undecoded (`decode_error`), never dropped silently.
pub const MAX_PENDING_DELTA_BYTES: u64 = 512 << 20;

/// Most decoded target bytes one IPD payload holds at a time (decoded targets wait
/// for their place in index order, and serve as the basis of other targets).
pub const MAX_IPD_DECODED_BYTES: u64 = 2 << 30;

/// Most expected output of one batch of IPD targets decoded before their admission against
/// [`MAX_IPD_DECODED_BYTES`] is settled (a single larger target still forms a batch).
const DECODE_BATCH_BYTES: u64 = 128 << 20;

#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Worker threads; `None` = one per core.
    pub threads: Option<usize>,
    pub limits: Limits,
    pub max_depth: u32,
    pub max_input_bytes: u64,
    /// Decompressed bytes allowed for one input file with everything nested in it; each
    /// input gets its own [`kbscan_archive::limits::Budget`] of this size.
    pub max_package_bytes: u64,
    /// Files never scanned, by identity (the run's own output and its temporary file);
    /// they appear nowhere in the report.
    pub exclude: Vec<walk::FileId>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            threads: None,
            limits: Limits::default(),
            max_depth: MAX_NESTING_DEPTH,
            max_input_bytes: MAX_INPUT_BYTES,
            max_package_bytes: kbscan_archive::limits::DEFAULT_MAX_PACKAGE_BYTES,
            exclude: Vec::new(),
        }
    }
}

/// Progress reporting. Called from worker threads, hence `Sync`.
pub trait Observer: Sync {
    fn begin(&self, _inputs: u64, _bytes: u64) {}
    fn input_done(&self, _path: &str, _bytes: u64) {}
}

pub struct SilentObserver;
impl Observer for SilentObserver {}

/// Fatal errors: the scan as a whole cannot run. Everything input-specific is a record.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot read input path: {0}")]
    Input(#[source] std::io::Error),
    #[error("cannot start worker threads: {0}")]
    Threads(String),
}

/// Scans everything under `paths` and returns the whole report. Holds every package in
/// memory; [`scan_paths_streaming`] is the bounded-memory form for large corpora.
pub fn scan_paths(
    paths: &[PathBuf],
    opts: &ScanOptions,
    observer: &dyn Observer,
) -> Result<ScanReport, ScanError> {
    let mut report = ScanReport::empty();
    let totals = scan_paths_streaming(paths, opts, observer, |o: InputOutcome| {
        report.inputs.push(o.input);
        report.packages.extend(o.packages);
        report.errors.extend(o.errors);
        Ok::<(), std::convert::Infallible>(())
    })
    .map_err(|e| match e {
        StreamError::Scan(e) => e,
        StreamError::Sink(never) => match never {},
    })?;
    report.totals = totals;
    Ok(report)
}

/// Everything one input produced. [`scan_paths_streaming`] hands these to its sink in
/// input order (sorted by path), whatever the thread count.
#[derive(Debug, Clone)]
pub struct InputOutcome {
    pub input: InputRecord,
    pub packages: Vec<Package>,
    pub errors: Vec<ErrorRecord>,
}

/// Why a streaming scan stopped early.
#[derive(Debug, thiserror::Error)]
pub enum StreamError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Scan(#[from] ScanError),
    /// The sink refused an outcome (e.g. the output could not be written).
    #[error(transparent)]
    Sink(E),
}

/// How many finished inputs may wait per worker for an earlier, slower one before the
/// workers pause. This bounds memory to a few packages per thread however large the
/// corpus is, while keeping both cores busy behind one big package.
const REORDER_WINDOW_PER_THREAD: usize = 4;

/// Scans everything under `paths` and hands each input's outcome to `sink` as soon as it
/// and every input before it are done, in path order. Memory stays bounded by the
/// reorder window (a few packages per thread), not by the corpus. Returns the totals.
///
/// Inputs run on rayon workers; the calling thread runs `sink`, so a slow sink (a pipe
/// to `jq`) throttles the workers instead of letting results pile up.
pub fn scan_paths_streaming<E, F>(
    paths: &[PathBuf],
    opts: &ScanOptions,
    observer: &dyn Observer,
    mut sink: F,
) -> Result<Totals, StreamError<E>>
where
    E: std::error::Error + 'static,
    F: FnMut(InputOutcome) -> Result<(), E>,
{
    let (files, skipped) = walk::expand(paths, &opts.exclude);
    observer.begin(files.len() as u64, files.iter().map(|f| f.size).sum());
    // Entries the walk could not open as files are inputs too (counted, listed), merged
    // into the path order of the real inputs.
    let mut skipped: std::collections::VecDeque<InputOutcome> = skipped
        .into_iter()
        .map(walk::Unread::into_outcome)
        .collect();
    skipped
        .make_contiguous()
        .sort_by(|a, b| a.input.path.cmp(&b.input.path));

    let mut totals = Totals::default();
    let mut failure: Option<E> = None;
    let mut deliver = |o: InputOutcome, totals: &mut Totals, failure: &mut Option<E>| {
        if failure.is_some() {
            return;
        }
        totals.add(&o);
        if let Err(e) = sink(o) {
            *failure = Some(e);
        }
    };
    let mut emit = |o: InputOutcome, totals: &mut Totals, failure: &mut Option<E>| {
        while skipped.front().is_some_and(|s| s.input.path < o.input.path) {
            if let Some(s) = skipped.pop_front() {
                deliver(s, totals, failure);
            }
        }
        deliver(o, totals, failure);
        failure.is_none()
    };

    let pool = match opts.threads {
        Some(n) => Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build()
                .map_err(|e| ScanError::Threads(e.to_string()))?,
        ),
        None => None,
    };
    {
        let mut emit_one = |o: InputOutcome| emit(o, &mut totals, &mut failure);
        ordered_parallel(&files, opts, pool.as_ref(), observer, &mut emit_one);
    }
    for s in skipped.drain(..) {
        deliver(s, &mut totals, &mut failure);
    }
    match failure {
        Some(e) => Err(StreamError::Sink(e)),
        None => Ok(totals),
    }
}

/// Runs [`scan_input_guarded`] over `files` on the current rayon pool and calls `emit`
/// on the calling thread in file order. Workers take the next index from a counter and
/// pause while they are more than the reorder window ahead of what has been emitted, so
/// at most `window` outcomes are held at once. `emit` returning `false` stops the run.
fn ordered_parallel(
    files: &[InputFile],
    opts: &ScanOptions,
    pool: Option<&rayon::ThreadPool>,
    observer: &dyn Observer,
    emit: &mut dyn FnMut(InputOutcome) -> bool,
) {
    let threads = pool.map_or_else(rayon::current_num_threads, |p| p.current_num_threads());
    let workers = threads.clamp(1, files.len().max(1));
    let load = digest::Workers::new(threads, workers);
    let ctx = Ordered {
        files,
        opts,
        observer,
        load: &load,
        window: workers * REORDER_WINDOW_PER_THREAD,
        next_in: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        shared: Mutex::new(Reorder {
            done: BTreeMap::new(),
            next_out: 0,
        }),
        changed: Condvar::new(),
    };
    // `in_place_scope` keeps the emitter on the calling thread while the spawned loops
    // run on the pool, so even a one-thread pool makes progress (`install` would put the
    // blocking emitter on a pool thread and starve the workers).
    match pool {
        Some(p) => p.in_place_scope(|s| ctx.run(s, workers, emit)),
        None => rayon::in_place_scope(|s| ctx.run(s, workers, emit)),
    }
}

struct Reorder {
    done: BTreeMap<usize, InputOutcome>,
    /// Index of the next outcome the emitter needs.
    next_out: usize,
}

struct Ordered<'a> {
    files: &'a [InputFile],
    opts: &'a ScanOptions,
    observer: &'a dyn Observer,
    /// Which pool threads run inputs; the others hash for those that do.
    load: &'a digest::Workers,
    window: usize,
    next_in: AtomicUsize,
    stop: AtomicBool,
    shared: Mutex<Reorder>,
    changed: Condvar,
}

impl<'a> Ordered<'a> {
    fn lock(&self) -> MutexGuard<'_, Reorder> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run<'s>(
        &'s self,
        s: &rayon::Scope<'s>,
        workers: usize,
        emit: &mut dyn FnMut(InputOutcome) -> bool,
    ) where
        'a: 's,
    {
        for _ in 0..workers {
            s.spawn(move |_| self.work());
        }
        for k in 0..self.files.len() {
            let out = {
                let mut g = self.lock();
                loop {
                    if let Some(o) = g.done.remove(&k) {
                        g.next_out = k + 1;
                        break o;
                    }
                    g = self.changed.wait(g).unwrap_or_else(|e| e.into_inner());
                }
            };
            self.changed.notify_all();
            if !emit(out) {
                self.stop.store(true, Ordering::Relaxed);
                self.changed.notify_all();
                break;
            }
        }
    }

    /// One worker: inputs are claimed in increasing order, so the input the emitter waits
    /// for is always claimed by a worker that is not paused (it is inside the window).
    fn work(&self) {
        self.work_inputs();
        self.load.input_loop_done();
    }

    fn work_inputs(&self) {
        loop {
            let i = self.next_in.fetch_add(1, Ordering::Relaxed);
            let Some(f) = self.files.get(i) else { break };
            {
                let mut g = self.lock();
                while i >= g.next_out + self.window && !self.stop.load(Ordering::Relaxed) {
                    g = self.changed.wait(g).unwrap_or_else(|e| e.into_inner());
                }
            }
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            let out = scan_input_guarded(f, self.opts, self.load);
            self.observer.input_done(&f.display, f.size);
            self.lock().done.insert(i, out);
            self.changed.notify_all();
        }
    }
}

fn scan_input_guarded(f: &InputFile, opts: &ScanOptions, load: &digest::Workers) -> InputOutcome {
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
                kind: "internal_panic".into(),
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
    if f.size > opts.max_input_bytes {
        cx.error(
            &root,
            "limit_input_size",
            format!(
                "input is {} bytes, more than the limit of {} bytes (max_input_bytes)",
                f.size, opts.max_input_bytes
            ),
        );
    } else {
        match f.read_bounded(opts.max_input_bytes) {
            Ok(bytes) => {
                input.format = format_name(sniff(&bytes)).into();
                let slots = digest::Slots::default();
                rayon::in_place_scope(|s| {
                    let hasher = digest::Hasher::new(s, &slots, load);
                    cx.input_sha256 = Some(hasher.whole(&bytes));
                    cx.dispatch(Some(&hasher), &bytes, &root, 0, true);
                });
                // The scope has ended, so every job has filled its slot.
                input.sha256 = cx.input_sha256.take().map(|h| slots.resolve(h));
                for p in &mut cx.packages {
                    p.sha256 = slots.resolve(std::mem::take(&mut p.sha256));
                }
            }
            Err(e) => cx.error(&root, e.kind(), e.to_string()),
        }
    }
    input.packages = cx.packages.len() as u32;
    input.ignored = cx.ignored;
    let mut errors = cx.errors;
    for p in &cx.packages {
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
        packages: cx.packages,
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
    packages: Vec<Package>,
    ignored: Vec<Ignored>,
    unsupported: bool,
    skipped: bool,
    /// SHA-256 of the input file (or its [`digest::placeholder`]), reused for a package
    /// that is the whole file: hashing is the largest cost of a scan after decoding, so
    /// the same bytes are not hashed twice.
    input_sha256: Option<String>,
}

fn err_rec(path: &NestedPath, kind: &str, message: String) -> ErrorRecord {
    ErrorRecord {
        path: path.to_string(),
        kind: kind.to_string(),
        message,
    }
}

impl Cx<'_> {
    fn error(&mut self, path: &NestedPath, kind: &str, message: String) {
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
                "limit_nesting_depth",
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
                    "unsupported_container",
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
                Err(e) => self.error(&child, e.kind(), e.to_string()),
                Ok(d) => match unsafe_member_name(name) {
                    Some(reason) => self.error(
                        &child,
                        "unsafe_member_name",
                        format!("ZIP member name rejected: {reason}"),
                    ),
                    None => self.dispatch(hasher, d, &child, depth + 1, false),
                },
            }
        });
        if let Err(e) = res {
            self.error(path, e.kind(), format!("cannot read ZIP: {e}"));
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

fn pe_package(
    bytes: &[u8],
    path: &NestedPath,
    hasher: Option<&dyn Offload>,
    sha256: Option<String>,
) -> Package {
    let mut b = PackageBuilder::new(bytes, path, PackageKind::Pe, sha256);
    b.hasher = hasher;
    let name = path.last().unwrap_or_default().to_string();
    // The package is this one member: its digest is the package's.
    let digest = b.pkg.sha256.clone();
    b.add_member(&name, bytes, path.clone(), false, digest);
    b.finish()
}

/// Why a target has no verified bytes; `report` marks the failures that are also errors of
/// the package (bytes decoded but not the ones the index names), not just an undecoded
/// target.
struct TargetFailure {
    message: String,
    report: bool,
}

impl TargetFailure {
    fn quiet(message: String) -> Self {
        TargetFailure {
            message,
            report: false,
        }
    }
}

/// Decodes one PA30 or COPY target against its (decoded) basis and verifies it. A free
/// function over the blobs and headers alone, so targets of one round can decode in
/// parallel.
fn decode_target(
    blobs: &BTreeMap<String, Vec<u8>>,
    headers: &BTreeMap<String, Result<kbscan_msdelta::Pa30Header, kbscan_msdelta::DeltaError>>,
    payload: &NestedPath,
    t: &cbs::CixFile,
    basis: Option<&[u8]>,
) -> Result<Vec<u8>, TargetFailure> {
    let source = t.delta.as_ref().and_then(|d| d.source.as_ref());
    let mut md5_verified = false;
    let bytes = match source {
        None => basis
            .map(<[u8]>::to_vec)
            .ok_or_else(|| TargetFailure::quiet("copy without a basis".into()))?,
        Some(src) => {
            let key = payload
                .child(&src.source_name)
                .to_string()
                .to_ascii_lowercase();
            let Some(blob) = blobs.get(&key) else {
                return Err(TargetFailure::quiet(match headers.get(&key) {
                    Some(Err(e)) => format!("{}: {e}", e.kind()),
                    Some(Ok(_)) => format!(
                        "not decoded: the package's PA30 blobs exceed MAX_PENDING_DELTA_BYTES ({MAX_PENDING_DELTA_BYTES} bytes)"
                    ),
                    None => format!("blob {:?} is not in the payload", src.source_name),
                }));
            };
            let d = kbscan_msdelta::apply(blob, basis)
                .map_err(|e| TargetFailure::quiet(format!("{}: {e}", e.kind())))?;
            md5_verified = d.md5_verified;
            d.data
        }
    };
    let sha1_expected = match (&t.hash, t.hash_alg.as_deref()) {
        (Some(h), None) => Some(h),
        (Some(h), Some(alg)) if alg.eq_ignore_ascii_case("SHA1") => Some(h),
        _ => None,
    };
    match sha1_expected {
        Some(expected) => {
            let actual = Sha1::digest(&bytes);
            if actual[..] != expected[..] {
                return Err(TargetFailure {
                    message: format!(
                        "decoded target SHA-1 {} does not match the container index ({})",
                        hex(&actual),
                        hex(expected)
                    ),
                    report: true,
                });
            }
        }
        None if !md5_verified => {
            return Err(TargetFailure::quiet(
                "decoded, but there is no hash to verify the bytes against".into(),
            ))
        }
        None => {}
    }
    Ok(bytes)
}

/// Collects what the members of one package say, then assembles the [`Package`].
struct PackageBuilder<'o> {
    opts: Option<&'o ScanOptions>,
    /// Where member hashing goes, and whether idle pool threads can take other work of
    /// this input (PA30 targets); `None`: everything inline.
    hasher: Option<&'o dyn Offload>,
    pkg: Package,
    mums: Vec<(String, cbs::PackageMum)>,
    manifests: BTreeMap<String, (String, cbs::ComponentManifest)>,
    cix: Vec<(NestedPath, cbs::ContainerIndex)>,
    properties: Option<cbs::PkgProperties>,
    /// sha1 of members of IPD payloads, by lower-case name, to verify RAW targets.
    member_sha1: BTreeMap<String, String>,
    /// Member SHA-1s in walk order, some still being computed; [`Self::settle`] moves
    /// them into `member_sha1` in this order (a later duplicate name wins, as it did
    /// when they were inserted as they came).
    sha1_pending: Vec<(String, Pending)>,
    /// Parsed PA30 headers (never the blob bytes), by lower-case nested member path.
    pa30: BTreeMap<String, Result<kbscan_msdelta::Pa30Header, kbscan_msdelta::DeltaError>>,
    /// Bytes of PA30 blobs whose header parsed, by the same key, for decoding.
    pa30_blobs: BTreeMap<String, Vec<u8>>,
    /// Sum of the lengths in `pa30_blobs` (bounded by [`MAX_PENDING_DELTA_BYTES`]).
    pa30_blob_bytes: u64,
}

impl<'o> PackageBuilder<'o> {
    /// `sha256` is the package's hash when the caller already has it.
    fn new(bytes: &[u8], path: &NestedPath, kind: PackageKind, sha256: Option<String>) -> Self {
        PackageBuilder {
            opts: None,
            hasher: None,
            pkg: Package {
                source: path.to_string(),
                kind,
                size: bytes.len() as u64,
                sha256: sha256.unwrap_or_else(|| digest::compute(bytes, false).sha256),
                kb: None,
                identity: None,
                release_type: None,
                about: About::default(),
                architecture: None,
                os_builds: BTreeMap::new(),
                os_family: None,
                dates: Dates::default(),
                payloads: Vec::new(),
                properties: None,
                unattend: None,
                package_manifests: Vec::new(),
                sub_packages: Vec::new(),
                components: Vec::new(),
                files: Vec::new(),
                errors: Vec::new(),
            },
            mums: Vec::new(),
            manifests: BTreeMap::new(),
            cix: Vec::new(),
            properties: None,
            member_sha1: BTreeMap::new(),
            sha1_pending: Vec::new(),
            pa30: BTreeMap::new(),
            pa30_blobs: BTreeMap::new(),
            pa30_blob_bytes: 0,
        }
    }

    fn error(&mut self, path: &NestedPath, kind: &str, message: String) {
        self.pkg.errors.push(err_rec(path, kind, message));
    }

    fn limits(&self) -> Limits {
        self.opts.map(|o| o.limits.clone()).unwrap_or_default()
    }

    /// A cabinet on disk or in a ZIP: an MSU, a payload CAB or a plain cabinet.
    fn build(
        bytes: &[u8],
        path: &NestedPath,
        depth: u32,
        opts: &'o ScanOptions,
        hasher: Option<&'o dyn Offload>,
        sha256: Option<String>,
    ) -> Option<Package> {
        let limits = &opts.limits;
        let cab = match Cabinet::parse(bytes, limits) {
            Ok(c) => c,
            Err(e) => {
                let mut b = PackageBuilder::new(bytes, path, PackageKind::Cabinet, sha256);
                b.error(path, e.kind(), format!("cannot read cabinet: {e}"));
                return Some(b.finish());
            }
        };
        let names: Vec<String> = cab
            .files
            .iter()
            .map(|f| f.name.to_ascii_lowercase())
            .collect();
        let is_payload = names
            .iter()
            .any(|n| is_package_manifest(n) || n == CIX_NAME);
        let is_msu = !is_payload
            && names.iter().any(|n| {
                n.ends_with("-pkgproperties.txt") || (n.ends_with(".cab") && n != "wsusscan.cab")
            });
        let kind = if is_msu {
            PackageKind::Msu
        } else if is_payload {
            PackageKind::PayloadCab
        } else {
            PackageKind::Cabinet
        };
        let mut b = PackageBuilder::new(bytes, path, kind, sha256);
        b.opts = Some(opts);
        b.hasher = hasher;
        if is_msu {
            b.walk_cab(&cab, path, depth, true);
        } else {
            b.walk_payload(&cab, path, depth);
        }
        Some(b.finish())
    }

    fn walk_payload(&mut self, cab: &Cabinet<'_>, path: &NestedPath, depth: u32) {
        let is_ipd = cab
            .files
            .iter()
            .any(|f| f.name.eq_ignore_ascii_case(CIX_NAME));
        let mut compression: Vec<String> = cab
            .folders
            .iter()
            .map(|f| f.compression.to_string())
            .collect();
        compression.dedup();
        self.pkg.payloads.push(Payload {
            path: path.to_string(),
            compression,
            folders: cab.folders.len() as u32,
            entries: cab.files.len() as u32,
            layout: if is_ipd { "ipd".into() } else { "flat".into() },
            ipd: None,
        });
        self.walk_cab(cab, path, depth, false);
        if is_ipd {
            self.resolve_ipd(path);
        }
    }

    /// Streams every member of `cab` once. `outer` is true for the MSU level, where
    /// properties, the unattend file and payload cabinets live.
    fn walk_cab(&mut self, cab: &Cabinet<'_>, path: &NestedPath, depth: u32, outer: bool) {
        let want_sha1 = cab
            .files
            .iter()
            .any(|f| f.name.eq_ignore_ascii_case(CIX_NAME));
        // Nested cabinets are walked inside the callback, while their bytes are still in
        // the folder buffer, so a payload CAB of hundreds of MB is never copied. Their
        // records are moved behind the outer members afterwards, so the report lists a
        // container's own members first whatever the nesting.
        let mut nested_files = Vec::new();
        let mut nested_errors = Vec::new();
        let max_depth = self.opts.map(|o| o.max_depth).unwrap_or(MAX_NESTING_DEPTH);
        let limits = self.limits();
        let errors = cab.for_each_file(&mut |entry: &FileEntry, data: &[u8]| {
            let child = path.child(&entry.name);
            let is_cab = sniff(data) == Magic::Cab;
            let scan_metadata = outer && entry.name.eq_ignore_ascii_case("wsusscan.cab");
            let walk_nested = is_cab && !scan_metadata && depth < max_depth;
            // A nested cabinet's bytes stay alive while it is walked, so an idle worker
            // can hash them in place meanwhile (a payload CAB is most of an MSU).
            let join =
                walk_nested && !want_sha1 && self.hasher.is_some_and(|h| h.join_worth(data.len()));
            let digest = if join {
                String::new()
            } else {
                self.digest_member(&entry.name, data, want_sha1)
            };
            let rec_at = self.pkg.files.len();
            self.add_member(&entry.name, data, child.clone(), outer, digest);
            if !is_cab || scan_metadata {
                return;
            }
            let (files_at, errors_at) = (self.pkg.files.len(), self.pkg.errors.len());
            if !walk_nested {
                self.error(
                    &child,
                    "limit_nesting_depth",
                    "cabinets nest deeper than the nesting limit (max_depth)".into(),
                );
            } else if join {
                let ((), d) = rayon::join(
                    || self.walk_nested(data, &child, depth, &limits),
                    || digest::compute(data, false),
                );
                if let Some(rec) = self.pkg.files.get_mut(rec_at) {
                    rec.sha256 = d.sha256;
                }
            } else {
                self.walk_nested(data, &child, depth, &limits);
            }
            nested_files.extend(self.pkg.files.drain(files_at..));
            nested_errors.extend(self.pkg.errors.drain(errors_at..));
        });
        for (idx, e) in errors {
            let name = cab.files.get(idx).map(|f| f.name.as_str()).unwrap_or("?");
            self.error(&path.child(name), e.kind(), e.to_string());
        }
        self.pkg.files.extend(nested_files);
        self.pkg.errors.extend(nested_errors);
    }

    fn walk_nested(&mut self, data: &[u8], child: &NestedPath, depth: u32, limits: &Limits) {
        match Cabinet::parse(data, limits) {
            Ok(sub) => self.walk_payload(&sub, child, depth + 1),
            Err(e) => self.error(child, e.kind(), format!("cannot read nested cabinet: {e}")),
        }
    }

    /// The SHA-256 of a member (or the placeholder of the slot it will arrive in), and
    /// in IPD payloads its SHA-1, queued for [`Self::settle`].
    fn digest_member(&mut self, name: &str, data: &[u8], want_sha1: bool) -> String {
        let got = match self.hasher {
            Some(h) => h.member(data, want_sha1),
            None => Pending::Ready(digest::compute(data, want_sha1)),
        };
        match got {
            Pending::Ready(d) => {
                if d.sha1.is_some() {
                    self.sha1_pending
                        .push((name.to_ascii_lowercase(), Pending::Ready(d.clone())));
                }
                d.sha256
            }
            Pending::Slot(i) => {
                if want_sha1 {
                    self.sha1_pending
                        .push((name.to_ascii_lowercase(), Pending::Slot(i)));
                }
                digest::placeholder(i)
            }
        }
    }

    /// Waits for every digest this builder handed over and puts it in place. Called
    /// before anything reads a member's digest.
    fn settle(&mut self) {
        if let Some(h) = self.hasher {
            for f in &mut self.pkg.files {
                if let Some(i) = digest::slot_of(&f.sha256) {
                    f.sha256 = h.wait(i).sha256;
                }
            }
        }
        for (name, p) in std::mem::take(&mut self.sha1_pending) {
            let sha1 = match p {
                Pending::Ready(d) => d.sha1,
                Pending::Slot(i) => self.hasher.and_then(|h| h.wait(i).sha1),
            };
            if let Some(sha1) = sha1 {
                self.member_sha1.insert(name, sha1);
            }
        }
    }

    /// Records one member. `sha256` is its digest or a [`digest::placeholder`].
    fn add_member(
        &mut self,
        name: &str,
        data: &[u8],
        path: NestedPath,
        outer: bool,
        sha256: String,
    ) {
        let lower = name.to_ascii_lowercase();
        let magic = sniff(data);
        let (component, base) = split_component(name);
        let mut rec = FileRecord {
            path: path.to_string(),
            name: base.to_string(),
            kind: FileKind::Other,
            component: component.map(str::to_string),
            size: data.len() as u64,
            sha256,
            versions: FileVersions::default(),
            pe: None,
            delta: None,
            checks: Vec::new(),
        };
        if let Some(key) = component.and_then(cbs::parse_component_key) {
            rec.versions.folder = key.version;
        }
        if outer && lower.ends_with("-pkgproperties.txt") {
            rec.kind = FileKind::Properties;
            match cbs::parse_pkg_properties(data) {
                Ok(p) => self.properties = Some(p),
                Err(e) => self.error(
                    &path,
                    e.kind(),
                    format!("cannot read package properties: {e}"),
                ),
            }
        } else if outer && lower.ends_with(".xml") {
            rec.kind = FileKind::Unattend;
            match cbs::parse_unattend(data) {
                Ok(u) => self.pkg.unattend = Some(unattend_info(&u)),
                Err(e) => self.error(&path, e.kind(), format!("cannot read unattend XML: {e}")),
            }
        } else if lower == CIX_NAME {
            rec.kind = FileKind::ContainerIndex;
            match cbs::parse_container_index(data) {
                Ok(c) => {
                    let parent = path.parent();
                    self.cix.push((parent, c));
                }
                Err(e) => self.error(
                    &path,
                    e.kind(),
                    format!("cannot read IPD container index: {e}"),
                ),
            }
        } else if is_package_manifest(&lower) && component.is_none() {
            rec.kind = FileKind::PackageManifest;
            match cbs::parse_package_mum(data) {
                Ok(m) => self.mums.push((path.to_string(), m)),
                Err(e) => self.error(
                    &path,
                    e.kind(),
                    format!("cannot read package manifest: {e}"),
                ),
            }
        } else if lower.ends_with(".manifest") && component.is_none() {
            rec.kind = FileKind::ComponentManifest;
            let key = name[..name.len() - ".manifest".len()].to_string();
            if let Some(k) = cbs::parse_component_key(&key) {
                rec.versions.folder = k.version;
            }
            match cbs::sniff_manifest(data) {
                cbs::ManifestEncoding::DcmCompressed => self.error(
                    &path,
                    "compressed_manifest",
                    "compressed manifest (DCM delta against a base in wcp.dll): not decoded".into(),
                ),
                _ => match cbs::parse_component_manifest(data) {
                    Ok(m) => {
                        self.manifests.insert(key.to_ascii_lowercase(), (key, m));
                    }
                    Err(e) => self.error(
                        &path,
                        e.kind(),
                        format!("cannot read component manifest: {e}"),
                    ),
                },
            }
        } else if lower.ends_with(".cat") {
            rec.kind = FileKind::Catalog;
        } else {
            match magic {
                Magic::Cab => rec.kind = FileKind::Cabinet,
                Magic::Pa30 => {
                    rec.kind = FileKind::Delta;
                    // The header, and (within MAX_PENDING_DELTA_BYTES) the bytes for
                    // decoding; targets pick them up in `resolve_ipd`.
                    let key = path.to_string().to_ascii_lowercase();
                    let header = kbscan_msdelta::parse_header(data);
                    if header.is_ok()
                        && self.pa30_blob_bytes + data.len() as u64 <= MAX_PENDING_DELTA_BYTES
                    {
                        self.pa30_blob_bytes += data.len() as u64;
                        self.pa30_blobs.insert(key.clone(), data.to_vec());
                    }
                    self.pa30.insert(key, header);
                }
                Magic::Pe => {
                    rec.kind = FileKind::Pe;
                    match kbscan_pe::read(data) {
                        Ok(info) => {
                            if let Some(v) = &info.version {
                                rec.versions.pe_file = v.file_version;
                                rec.versions.pe_product = v.product_version;
                                rec.versions.file_version_string = v.file_version_from_string;
                            }
                            rec.pe = Some(pe_facts(&info));
                        }
                        Err(e) => self.error(&path, e.kind(), format!("cannot read PE image: {e}")),
                    }
                }
                _ => {}
            }
        }
        self.pkg.files.push(rec);
    }

    /// Intra-Package Delta: the payload's `_manifest_.cix.xml` names the real targets.
    /// RAW targets are stored under their own names (checked by SHA-1 here); PA30/PA19
    /// targets are numbered delta blobs, listed under their real names with what the
    /// index says about them until the delta decoder reads their bytes.
    fn resolve_ipd(&mut self, payload: &NestedPath) {
        let Some(pos) = self.cix.iter().position(|(p, _)| p == payload) else {
            return;
        };
        let (_, index) = self.cix.remove(pos);
        self.settle();
        let mut decoded = self.decode_ipd_targets(payload, &index);
        let mut sum = IpdSummary::default();
        let mut used_blobs: BTreeSet<String> = BTreeSet::new();
        let by_id: BTreeMap<u32, &str> = index
            .files
            .iter()
            .filter_map(|f| Some((f.id?, f.name.as_str())))
            .collect();
        for (idx, t) in index.files.iter().enumerate() {
            sum.targets += 1;
            let Some(delta) = &t.delta else {
                sum.other += 1;
                continue;
            };
            let target_sha1 = t.hash.as_ref().map(|h| hex(h));
            let target_path = payload.child(&t.name);
            // `Basis` names other targets by id; a delta with a basis but no source is
            // a copy of that target (seen in genuine KB2999226 payloads).
            let basis = delta.basis.first().map(|id| {
                by_id
                    .get(id)
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| format!("#{id}"))
            });
            if !delta.basis.is_empty() {
                sum.with_basis += 1;
            }
            let (kind, blob) = match &delta.source {
                Some(src) => (
                    src.source_type.to_ascii_uppercase(),
                    Some(src.source_name.clone()),
                ),
                None if basis.is_some() => ("COPY".to_string(), None),
                None => {
                    sum.other += 1;
                    continue;
                }
            };
            if kind == "RAW" {
                sum.raw += 1;
                let blob = blob.unwrap_or_default();
                let stored = self.member_sha1.get(&blob.to_ascii_lowercase()).cloned();
                match (stored, target_sha1) {
                    (Some(actual), Some(expected)) if actual == expected => sum.raw_verified += 1,
                    (Some(actual), Some(expected)) => self.error(
                        &target_path,
                        "ipd_hash_mismatch",
                        format!("RAW target SHA-1 {actual} does not match the container index ({expected})"),
                    ),
                    (None, _) => self.error(
                        &target_path,
                        "ipd_missing_blob",
                        format!("container index names blob {blob:?}, which the payload does not hold"),
                    ),
                    (Some(_), None) => {}
                }
                continue;
            }
            match kind.as_str() {
                "PA30" => sum.pa30 += 1,
                "PA19" => sum.pa19 += 1,
                "COPY" => sum.copies += 1,
                _ => sum.other += 1,
            }
            if let Some(b) = &blob {
                if !self.member_sha1.contains_key(&b.to_ascii_lowercase()) {
                    self.error(
                        &target_path,
                        "ipd_missing_blob",
                        format!(
                            "container index names blob {b:?}, which the payload does not hold"
                        ),
                    );
                }
            }
            let (component, base) = split_component(&t.name);
            let mut versions = FileVersions::default();
            if let Some(k) = component.and_then(cbs::parse_component_key) {
                versions.folder = k.version;
            }
            let mut info = DeltaInfo {
                format: kind.clone(),
                blob: blob.clone(),
                target_size: t.length,
                target_sha1,
                basis,
                decoded: false,
                decode_error: None,
                target_time: None,
                target_filetime: None,
                file_type_set: None,
                file_type: None,
                flags: None,
                flag_names: Vec::new(),
                target_hash_alg: None,
                target_hash: None,
                note: None,
            };
            let mut checks = Vec::new();
            let header = match (&blob, kind.as_str()) {
                (Some(b), "PA30") => {
                    let key = payload.child(b).to_string().to_ascii_lowercase();
                    used_blobs.insert(key.clone());
                    self.pa30.get(&key).cloned()
                }
                _ => None,
            };
            match header {
                Some(Ok(h)) => {
                    if let Some(len) = t.length {
                        push_check(
                            &mut checks,
                            "pa30_target_size_vs_index",
                            Some(len.to_string()),
                            Some(h.target_size.to_string()),
                        );
                        if len != h.target_size {
                            self.error(
                                &target_path,
                                "ipd_size_mismatch",
                                format!(
                                    "PA30 header says the target is {} bytes, the container index says {len}",
                                    h.target_size
                                ),
                            );
                        }
                    }
                    apply_pa30_header(&mut info, &h);
                }
                Some(Err(e)) => {
                    self.error(
                        &target_path,
                        "ipd_delta_header",
                        format!(
                            "cannot read the PA30 header of blob {:?}: {e} ({})",
                            blob.as_deref().unwrap_or("?"),
                            e.kind()
                        ),
                    );
                    info.note = Some(format!("PA30 header unreadable: {e}"));
                }
                None => {
                    if kind == "COPY" {
                        info.note = info.basis.as_ref().map(|b| format!("copy of {b}"));
                    }
                }
            }
            match decoded.remove(&idx) {
                Some(Ok(bytes)) => {
                    // Verified bytes: the target is a real file from here on, read like
                    // any other member (PE facts, manifests, SHA-256).
                    info.decoded = true;
                    sum.decoded += 1;
                    let digest = self.digest_member(&t.name, &bytes, false);
                    self.add_member(&t.name, &bytes, target_path.clone(), false, digest);
                    if let Some(rec) = self.pkg.files.last_mut() {
                        rec.delta = Some(info);
                        checks.append(&mut rec.checks);
                        rec.checks = checks;
                    }
                    continue;
                }
                Some(Err(reason)) => info.decode_error = Some(reason),
                None => {}
            }
            self.pkg.files.push(FileRecord {
                path: target_path.to_string(),
                name: base.to_string(),
                kind: FileKind::Delta,
                component: component.map(str::to_string),
                size: t.length.unwrap_or(0),
                // The target's own SHA-256 is unknown until the delta is decoded.
                sha256: String::new(),
                versions,
                pe: None,
                delta: Some(info),
                checks,
            });
        }
        // PA30 blobs no target names: their header errors still count.
        let prefix = format!("{}!", payload.to_string().to_ascii_lowercase());
        let orphans: Vec<(String, kbscan_msdelta::DeltaError)> = self
            .pa30
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix) && !used_blobs.contains(*k))
            .filter_map(|(k, r)| r.as_ref().err().map(|e| (k.clone(), e.clone())))
            .collect();
        for (k, e) in orphans {
            let name = &k[prefix.len()..];
            self.error(
                &payload.child(name),
                "ipd_delta_header",
                format!("cannot read the PA30 header: {e} ({})", e.kind()),
            );
        }
        if let Some(p) = self
            .pkg
            .payloads
            .iter_mut()
            .find(|p| p.path == payload.to_string())
        {
            p.ipd = Some(sum);
        }
        let kept: Vec<String> = self
            .pa30_blobs
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        for k in kept {
            if let Some(b) = self.pa30_blobs.remove(&k) {
                self.pa30_blob_bytes -= b.len() as u64;
            }
        }
    }

    /// Decodes the PA30 and COPY targets of one IPD payload, each after its basis, and
    /// returns by index position the bytes that verified (SHA-1 of the index; for PA30
    /// also the header's MD5) or why there are none. Never returns unverified bytes.
    ///
    /// Targets go in rounds: a round is every target whose basis was decoded in an earlier
    /// round (or that has none), in index order. Targets of one round are independent, so
    /// while pool threads are idle a batch of them decodes in parallel (PA30 runs at about
    /// 0.1 GB/s, slower than anything else in a scan). Admission against
    /// [`MAX_IPD_DECODED_BYTES`] and the error records are applied afterwards in index
    /// order, and decoding never depends on them, so the outcome is the same for any
    /// thread count.
    fn decode_ipd_targets(
        &mut self,
        payload: &NestedPath,
        index: &cbs::ContainerIndex,
    ) -> BTreeMap<usize, Result<Vec<u8>, String>> {
        let files = &index.files;
        let by_id: BTreeMap<u32, usize> = files
            .iter()
            .enumerate()
            .filter_map(|(i, f)| Some((f.id?, i)))
            .collect();
        let is_candidate = |f: &cbs::CixFile| match &f.delta {
            Some(d) => match &d.source {
                Some(src) => src.source_type.eq_ignore_ascii_case("PA30"),
                None => !d.basis.is_empty(),
            },
            None => false,
        };
        let parallel = self.hasher.is_some_and(|h| h.idle_workers());
        let mut done: BTreeMap<usize, Result<Vec<u8>, String>> = BTreeMap::new();
        let mut pending: Vec<usize> = (0..files.len())
            .filter(|&i| is_candidate(&files[i]))
            .collect();
        let mut held = 0u64;
        loop {
            let mut still = Vec::new();
            let mut ready: Vec<(usize, Option<usize>)> = Vec::new();
            let before = pending.len();
            for &i in &pending {
                let Some(delta) = files[i].delta.as_ref() else {
                    continue;
                };
                let basis = match delta.basis.first() {
                    None => None,
                    Some(id) => match by_id.get(id) {
                        Some(&b) => Some(b),
                        None => {
                            done.insert(i, Err(format!("basis #{id} is not in the index")));
                            continue;
                        }
                    },
                };
                if let Some(b) = basis {
                    if !done.contains_key(&b) {
                        if is_candidate(&files[b]) {
                            still.push(i);
                        } else {
                            done.insert(
                                i,
                                Err(format!(
                                    "basis {} is not a PA30 or COPY target (RAW bases are not kept for decoding)",
                                    files[b].name
                                )),
                            );
                        }
                        continue;
                    }
                }
                ready.push((i, basis));
            }
            let mut rest = ready.as_slice();
            while !rest.is_empty() {
                // Batches bound what is decoded before admission: at most
                // DECODE_BATCH_BYTES of expected output (one target may be larger).
                let mut n = 0;
                let mut expected = 0u64;
                while let Some(&(i, b)) = rest.get(n) {
                    let size = self.expected_size(payload, &files[i], b.and_then(|b| done.get(&b)));
                    if n > 0 && expected + size > DECODE_BATCH_BYTES {
                        break;
                    }
                    expected += size;
                    n += 1;
                }
                let (batch, tail) = rest.split_at(n);
                rest = tail;
                let (blobs, headers) = (&self.pa30_blobs, &self.pa30);
                let one = |&(i, b): &(usize, Option<usize>)| {
                    let basis = match b {
                        None => None,
                        Some(b) => match done.get(&b) {
                            Some(Ok(v)) => Some(v.as_slice()),
                            _ => {
                                return Err(TargetFailure::quiet(format!(
                                    "basis {} was not decoded",
                                    files[b].name
                                )))
                            }
                        },
                    };
                    decode_target(blobs, headers, payload, &files[i], basis)
                };
                let results: Vec<Result<Vec<u8>, TargetFailure>> = if parallel && batch.len() > 1 {
                    use rayon::prelude::*;
                    batch.par_iter().map(one).collect()
                } else {
                    batch.iter().map(one).collect()
                };
                for (&(i, _), r) in batch.iter().zip(results) {
                    let size = files[i].length.unwrap_or(0);
                    let result = if held + size > MAX_IPD_DECODED_BYTES {
                        Err(format!(
                            "not decoded: the payload's decoded targets would exceed MAX_IPD_DECODED_BYTES ({MAX_IPD_DECODED_BYTES} bytes)"
                        ))
                    } else {
                        match r {
                            Ok(v) => {
                                held += v.len() as u64;
                                Ok(v)
                            }
                            Err(f) => {
                                if f.report {
                                    self.error(
                                        &payload.child(&files[i].name),
                                        "ipd_hash_mismatch",
                                        f.message.clone(),
                                    );
                                }
                                Err(f.message)
                            }
                        }
                    };
                    done.insert(i, result);
                }
            }
            pending = still;
            if pending.is_empty() || pending.len() == before {
                break;
            }
        }
        for i in pending {
            done.insert(i, Err("basis chain loops back to this target".into()));
        }
        done
    }

    /// What decoding `t` will produce, as far as is known before decoding it: the PA30
    /// header's target size, or the basis a COPY repeats.
    fn expected_size(
        &self,
        payload: &NestedPath,
        t: &cbs::CixFile,
        basis: Option<&Result<Vec<u8>, String>>,
    ) -> u64 {
        match t.delta.as_ref().and_then(|d| d.source.as_ref()) {
            Some(src) => {
                let key = payload
                    .child(&src.source_name)
                    .to_string()
                    .to_ascii_lowercase();
                match self.pa30.get(&key) {
                    Some(Ok(h)) => h.target_size,
                    _ => 0,
                }
            }
            None => basis
                .and_then(|b| b.as_ref().ok())
                .map_or(0, |v| v.len() as u64),
        }
    }

    fn finish(mut self) -> Package {
        self.settle();
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
        self.pkg
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
                                Some(hex(d)),
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
                        kind: "digest_mismatch".into(),
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

const CIX_NAME: &str = "_manifest_.cix.xml";

fn is_package_manifest(lower_name: &str) -> bool {
    lower_name.ends_with(".mum")
}

/// `amd64_..._none_0123456789abcdef\ntoskrnl.exe` → (Some(key), "ntoskrnl.exe").
fn split_component(name: &str) -> (Option<&str>, &str) {
    match name.rfind(['\\', '/']) {
        Some(i) => {
            let dir = &name[..i];
            let dir = dir.split(['\\', '/']).next().unwrap_or(dir);
            (Some(dir).filter(|d| !d.is_empty()), &name[i + 1..])
        }
        None => (None, name),
    }
}

fn push_check(
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

fn identity(a: &cbs::AssemblyIdentity) -> Identity {
    Identity {
        name: a.name.clone(),
        version: a.version_raw.clone().or(a.version.map(|v| v.to_string())),
        processor_architecture: a.processor_architecture.clone(),
        language: a.language.clone(),
        public_key_token: a.public_key_token.clone(),
    }
}

fn unattend_info(u: &cbs::Unattend) -> UnattendInfo {
    UnattendInfo {
        packages: u
            .packages
            .iter()
            .map(|p| UnattendPackageInfo {
                action: p.action.clone(),
                identity: p.identity.as_ref().map(identity),
                source_location: p.source_location.clone(),
            })
            .collect(),
    }
}

/// Copies what a PA30 header says into the target's [`DeltaInfo`].
fn apply_pa30_header(info: &mut DeltaInfo, h: &kbscan_msdelta::Pa30Header) {
    use kbscan_msdelta as md;
    info.target_time = h.target_time_utc();
    info.target_filetime = Some(h.target_filetime);
    info.file_type_set = Some(
        md::file_type_set_name(h.file_type_set)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{:#x}", h.file_type_set)),
    );
    info.file_type = Some(
        md::file_type_name(h.file_type)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{:#x}", h.file_type)),
    );
    info.flags = Some(format!("{:#x}", h.flags));
    info.flag_names = md::flag_names(h.flags);
    if !h.hash.is_empty() {
        info.target_hash_alg = Some(
            md::hash_alg_name(h.hash_alg)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{:#06x}", h.hash_alg)),
        );
        info.target_hash = Some(h.hash_hex());
    }
    info.note = Some(md::describe(h));
}

fn pe_facts(info: &kbscan_pe::PeInfo) -> PeFacts {
    let v = info.version.as_ref();
    PeFacts {
        machine: info.machine_name.clone(),
        image: format!("{:?}", info.kind).to_ascii_lowercase(),
        is_64: info.is_64,
        timestamp: info.timestamp,
        has_version_resource: v.is_some(),
        strings: v.map(|v| v.strings.clone()).unwrap_or_default(),
        file_version_string: v.and_then(|v| v.file_version_string.clone()),
        product_version_string: v.and_then(|v| v.product_version_string.clone()),
        original_filename: v.and_then(|v| v.original_filename.clone()),
        company_name: v.and_then(|v| v.company_name.clone()),
        branch_tag: v.and_then(|v| v.branch_tag.clone()),
        anomalies: info.anomalies.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_split() {
        assert_eq!(
            split_component("amd64_microsoft-windows-os-kernel_31bf3856ad364e35_6.0.6003.20489_none_0123456789abcdef\\ntoskrnl.exe"),
            (Some("amd64_microsoft-windows-os-kernel_31bf3856ad364e35_6.0.6003.20489_none_0123456789abcdef"), "ntoskrnl.exe")
        );
        assert_eq!(split_component("update.mum"), (None, "update.mum"));
        assert_eq!(split_component("a/b/c.dll"), (Some("a"), "c.dll"));
    }

    #[test]
    fn dates() {
        assert_eq!(
            date_part("2019-03-20T17:00:00Z").as_deref(),
            Some("2019-03-20")
        );
        assert_eq!(date_part("20190320"), None);
        assert_eq!(date_part("2019/03/20"), None);
    }

    #[test]
    fn hostile_zip_names() {
        assert!(unsafe_member_name("../../evil.msu").is_some());
        assert!(unsafe_member_name("a\\..\\b.msu").is_some());
        assert!(unsafe_member_name("/etc/x").is_some());
        assert!(unsafe_member_name("C:x.msu").is_some());
        assert!(unsafe_member_name("2019-04/Windows6.0-KB4493471-x64.msu").is_none());
    }
}
