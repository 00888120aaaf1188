//! The ordered parallel run: expands the paths, scans inputs on rayon workers, and hands
//! each input's outcome to the caller's sink on the calling thread in path order, holding at
//! most a reorder window of finished inputs ([`scan_paths_streaming`]); [`scan_paths`]
//! collects the same outcomes into one [`ScanReport`].

use crate::digest;
use crate::input::scan_input_guarded;
use crate::options::ScanOptions;
use crate::walk::{self, InputFile};
use kbscan_model::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

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
