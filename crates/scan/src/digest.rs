//! Member hashing off the decoding thread: the SHA-256 of the input, of a nested cabinet
//! and of every member (plus SHA-1 inside IPD payloads) handed to a pool worker that has no
//! input of its own.
//!
//! Why: one cabinet folder decodes strictly in sequence, and hashing the input file, the
//! payload cabinet and every member (SHA-256 runs at ~1.8 GB/s with SHA-NI, LZX at ~0.5 GB/s)
//! adds about 40% to the decode. When a corpus has fewer inputs than threads ("scan this one
//! MSU") or at the tail of a corpus, a worker has nothing to do; handing it the hashing
//! takes that cost off the critical path. While every worker has an input, hashing stays
//! inline: handing it over would only add copies. So `-j 1` does exactly what it did.
//!
//! A digest still being computed is a [`Sha256Hex::Slot`] in the builders' own state, never
//! a string in a report record: the package builder waits for its members' digests before it
//! reads them or builds the [`FileRecord`](kbscan_model::FileRecord)s (`settle`), and the
//! input's own digest is resolved once its scope has ended ([`Slots::resolve`]), so there is
//! no value a pending digest could leak into the model as.
//!
//! Why this cannot hang: a hash job never blocks and never spawns, so a thread that takes
//! one finishes it; `wait` blocks only once the waiting thread's own deque is empty, i.e.
//! every job it queued is running elsewhere. A thread waiting in `rayon::join` or at the end
//! of a scope runs other pool work meanwhile: hash jobs, or an input loop not yet taken.
//! Jobs are queued only while some thread has no input: with fewer inputs than threads,
//! where the reorder window (4 inputs per thread) never pauses a loop, or at the tail of a
//! corpus, when every loop has long been taken.

use kbscan_archive::Source;
use rayon::Scope;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Members smaller than this are hashed inline: the copy and the hand-over would cost
/// about as much as the hash.
const MIN_OFFLOAD_BYTES: usize = 16 << 10;

/// Most copied member bytes waiting for a worker at once, across the whole scan. The
/// decoder outruns no hasher on this kind of machine (0.5 GB/s against 1.8 GB/s), so the
/// bound is reached only when the idle worker is slow to start; members beyond it are
/// hashed inline, never dropped.
const MAX_QUEUED_BYTES: usize = 64 << 20;

/// Copy buffers kept for reuse, and the largest one kept. Fresh buffers of this size come
/// from `mmap` and fault in page by page on the decoding thread (≈ 5% of its time in a
/// profile of a 394 MB LZX payload); reused ones do not.
const SPARE_BUFFERS: usize = 16;
const MAX_SPARE_CAPACITY: usize = 8 << 20;

/// Shared by every input of one scan: how many pool threads there are, how many of them
/// run an input, and how many copied bytes wait to be hashed.
pub(crate) struct Workers {
    threads: usize,
    busy: AtomicUsize,
    queued: AtomicUsize,
    spare: Mutex<Vec<Vec<u8>>>,
}

impl Workers {
    /// `busy` pool threads out of `threads` run inputs.
    pub(crate) fn new(threads: usize, busy: usize) -> Self {
        Workers {
            threads,
            busy: AtomicUsize::new(busy),
            queued: AtomicUsize::new(0),
            spare: Mutex::new(Vec::new()),
        }
    }

    /// A worker has no more inputs to take: its thread is free for hashing.
    pub(crate) fn input_loop_done(&self) {
        self.busy.fetch_sub(1, Ordering::AcqRel);
    }

    /// Whether a hand-over of `len` bytes could run in parallel: the caller is a pool
    /// thread (its jobs land on its own deque, where idle threads steal them) and some
    /// thread of the pool runs no input.
    fn worth(&self, len: usize) -> bool {
        len >= MIN_OFFLOAD_BYTES
            && rayon::current_thread_index().is_some()
            && self.busy.load(Ordering::Acquire) < self.threads
    }

    /// Reserves room for a copy of `len` bytes in the queue.
    fn reserve(&self, len: usize) -> bool {
        let mut cur = self.queued.load(Ordering::Relaxed);
        loop {
            if cur.saturating_add(len) > MAX_QUEUED_BYTES {
                return false;
            }
            match self.queued.compare_exchange_weak(
                cur,
                cur + len,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    fn release(&self, len: usize) {
        self.queued.fetch_sub(len, Ordering::AcqRel);
    }

    fn spares(&self) -> MutexGuard<'_, Vec<Vec<u8>>> {
        self.spare.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of `data` in a reused buffer when one is spare.
    fn copy(&self, data: &[u8]) -> Vec<u8> {
        let mut buf = self.spares().pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(data);
        buf
    }

    fn give_back(&self, buf: Vec<u8>) {
        if buf.capacity() <= MAX_SPARE_CAPACITY {
            let mut spare = self.spares();
            if spare.len() < SPARE_BUFFERS {
                spare.push(buf);
            }
        }
    }
}

/// Hex digests of one byte string.
#[derive(Debug, Clone, Default)]
pub(crate) struct Digests {
    pub(crate) sha256: String,
    pub(crate) sha1: Option<String>,
}

/// Hashes `data` on the calling thread.
pub(crate) fn compute(data: &[u8], sha1: bool) -> Digests {
    Digests {
        sha256: hex::encode(Sha256::digest(data)),
        sha1: sha1.then(|| hex::encode(Sha1::digest(data))),
    }
}

/// Hashes a [`Source`] on the calling thread: in place when it is in memory, else through a
/// reused 1 MiB buffer of positioned reads (a member spilled to a temporary file, an input
/// too large to hold). An I/O error leaves an empty digest: the reader that spilled it, or
/// the walk of the same bytes, reports the failure itself.
pub(crate) fn compute_source(src: Source<'_>, sha1: bool) -> Digests {
    if let Some(bytes) = src.as_slice() {
        return compute(bytes, sha1);
    }
    let mut s256 = Sha256::new();
    let mut s1 = sha1.then(Sha1::new);
    let mut buf = vec![0u8; (1 << 20).min(src.len() as usize)];
    let mut pos = 0u64;
    while pos < src.len() {
        let n = buf.len().min((src.len() - pos) as usize);
        let chunk = &mut buf[..n];
        if src.read_exact_at(pos, chunk).is_err() {
            return Digests::default();
        }
        s256.update(&*chunk);
        if let Some(h) = &mut s1 {
            h.update(&*chunk);
        }
        pos += n as u64;
    }
    Digests {
        sha256: hex::encode(s256.finalize()),
        sha1: s1.map(|h| hex::encode(h.finalize())),
    }
}

/// A SHA-256 (lower-case hex) as the builders hold it: known, or the slot of the job
/// computing it.
#[derive(Debug, Clone)]
pub(crate) enum Sha256Hex {
    Ready(String),
    Slot(usize),
}

/// A digest now, or the slot it will arrive in.
pub(crate) enum Pending {
    Ready(Digests),
    Slot(usize),
}

/// The results of one input's hashing jobs, by slot.
#[derive(Default)]
pub(crate) struct Slots {
    done: Mutex<Vec<Option<Digests>>>,
    ready: Condvar,
}

impl Slots {
    fn lock(&self) -> MutexGuard<'_, Vec<Option<Digests>>> {
        self.done.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn alloc(&self) -> usize {
        let mut g = self.lock();
        g.push(None);
        g.len() - 1
    }

    fn fill(&self, slot: usize, d: Digests) {
        if let Some(cell) = self.lock().get_mut(slot) {
            *cell = Some(d);
        }
        self.ready.notify_all();
    }

    fn get(&self, slot: usize) -> Option<Digests> {
        self.lock().get(slot).cloned().flatten()
    }

    /// Blocks until `slot` is filled. Only called once no job of the caller waits in its
    /// own deque, so whoever holds the job is running it.
    fn block(&self, slot: usize) -> Digests {
        let mut g = self.lock();
        loop {
            match g.get(slot) {
                Some(Some(d)) => return d.clone(),
                Some(None) => g = self.ready.wait(g).unwrap_or_else(|e| e.into_inner()),
                // Not a slot of this input: a bug, but not one worth a hang.
                None => return Digests::default(),
            }
        }
    }

    /// The hex digest, once every job has finished (after the scope).
    pub(crate) fn resolve(&self, h: Sha256Hex) -> String {
        match h {
            Sha256Hex::Ready(s) => s,
            Sha256Hex::Slot(i) => self.get(i).map(|d| d.sha256).unwrap_or_default(),
        }
    }
}

/// Where the package builders hand their hashing: the one implementation spawns onto a
/// rayon scope; a trait object keeps the scope's lifetimes out of the builders.
pub(crate) trait Offload: Sync {
    /// Hashes `data` now, or a copy of it on an idle worker.
    fn member(&self, data: &[u8], sha1: bool) -> Pending;
    /// Whether a caller that keeps `len` bytes alive while it works on them (a nested
    /// cabinet, walked inside the callback that lends its bytes) should hash them
    /// alongside with `rayon::join` instead of before.
    fn join_worth(&self, len: usize) -> bool;
    /// The digests of `slot`, running this thread's queued jobs while they are not ready.
    fn wait(&self, slot: usize) -> Digests;
    /// Whether other work of this input (independent PA30 targets) is worth splitting
    /// across the pool: a pool thread runs no input.
    fn idle_workers(&self) -> bool;
}

/// One input's hand-over point, alive for the scope its jobs run in.
pub(crate) struct Hasher<'s, 'scope> {
    scope: &'s Scope<'scope>,
    slots: &'scope Slots,
    workers: &'scope Workers,
}

impl<'s, 'scope> Hasher<'s, 'scope> {
    pub(crate) fn new(
        scope: &'s Scope<'scope>,
        slots: &'scope Slots,
        workers: &'scope Workers,
    ) -> Self {
        Hasher {
            scope,
            slots,
            workers,
        }
    }

    /// The SHA-256 of bytes that outlive the scope (the input file, in memory or read by
    /// position): hashed in place by an idle worker, so there is no copy; its slot until then.
    pub(crate) fn whole(&self, data: Source<'scope>) -> Sha256Hex {
        let len = usize::try_from(data.len()).unwrap_or(usize::MAX);
        if !self.workers.worth(len) {
            return Sha256Hex::Ready(compute_source(data, false).sha256);
        }
        let slot = self.slots.alloc();
        let slots = self.slots;
        self.scope
            .spawn(move |_| slots.fill(slot, compute_source(data, false)));
        Sha256Hex::Slot(slot)
    }
}

impl Offload for Hasher<'_, '_> {
    fn member(&self, data: &[u8], sha1: bool) -> Pending {
        let len = data.len();
        if !self.workers.worth(len) || !self.workers.reserve(len) {
            return Pending::Ready(compute(data, sha1));
        }
        let slot = self.slots.alloc();
        let (slots, workers) = (self.slots, self.workers);
        let copy = self.workers.copy(data);
        self.scope.spawn(move |_| {
            let d = compute(&copy, sha1);
            workers.give_back(copy);
            workers.release(len);
            slots.fill(slot, d);
        });
        Pending::Slot(slot)
    }

    fn join_worth(&self, len: usize) -> bool {
        self.workers.worth(len)
    }

    fn idle_workers(&self) -> bool {
        self.workers.worth(usize::MAX)
    }

    fn wait(&self, slot: usize) -> Digests {
        loop {
            if let Some(d) = self.slots.get(slot) {
                return d;
            }
            // Jobs this thread queued and nobody stole yet are run here; once its deque
            // is empty, every job of this input is running elsewhere and will fill its slot.
            match rayon::yield_local() {
                Some(rayon::Yield::Executed) => {}
                _ => return self.slots.block(slot),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_resolve_to_their_digest() {
        let slots = Slots::default();
        let i = slots.alloc();
        slots.fill(i, compute(b"abc", false));
        assert_eq!(
            slots.resolve(Sha256Hex::Slot(i)),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(slots.resolve(Sha256Hex::Ready("ab".into())), "ab");
        // A slot that was never allocated is a bug, not a reason to hang or panic.
        assert_eq!(slots.resolve(Sha256Hex::Slot(99)), "");
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    /// Handed-over digests equal inline ones, whether an idle thread or the waiting thread
    /// itself runs the job; with every thread busy nothing is handed over.
    #[test]
    fn handed_over_digests_equal_inline_ones() {
        for threads in [1usize, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            pool.install(|| {
                let workers = Workers::new(threads, 1);
                let slots = Slots::default();
                let data: Vec<Vec<u8>> = (0..40).map(|i| sample(20_000 + i * 3_000)).collect();
                let mut handed = 0;
                rayon::in_place_scope(|s| {
                    let h = Hasher::new(s, &slots, &workers);
                    let pending: Vec<Pending> = data.iter().map(|d| h.member(d, true)).collect();
                    for (d, p) in data.iter().zip(pending) {
                        let got = match p {
                            Pending::Ready(g) => g,
                            Pending::Slot(i) => {
                                handed += 1;
                                h.wait(i)
                            }
                        };
                        let want = compute(d, true);
                        assert_eq!(got.sha256, want.sha256);
                        assert_eq!(got.sha1, want.sha1);
                    }
                });
                assert_eq!(handed > 0, threads > 1, "{threads} threads");
                assert_eq!(workers.queued.load(Ordering::Relaxed), 0);
            });
        }
    }

    #[test]
    fn small_members_and_non_pool_threads_stay_inline() {
        let workers = Workers::new(2, 1);
        // Not a pool thread.
        assert!(!workers.worth(1 << 20));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("pool");
        pool.install(|| {
            assert!(workers.worth(1 << 20));
            assert!(!workers.worth(MIN_OFFLOAD_BYTES - 1));
            workers.input_loop_done();
            workers.busy.fetch_add(2, Ordering::AcqRel);
            assert!(!workers.worth(1 << 20), "every thread runs an input");
        });
    }

    #[test]
    fn spare_buffers_are_reused_and_bounded() {
        let workers = Workers::new(2, 1);
        let a = workers.copy(b"first");
        let ptr = a.as_ptr();
        workers.give_back(a);
        let b = workers.copy(b"second");
        assert_eq!(
            (b.as_slice(), b.as_ptr()),
            (&b"second"[..], ptr),
            "reused, refilled"
        );
        workers.give_back(Vec::with_capacity(MAX_SPARE_CAPACITY + 1));
        assert!(workers.spares().is_empty(), "an oversized buffer is freed");
        for _ in 0..SPARE_BUFFERS + 5 {
            workers.give_back(Vec::with_capacity(64));
        }
        assert_eq!(workers.spares().len(), SPARE_BUFFERS);
    }

    #[test]
    fn queue_is_bounded() {
        let workers = Workers::new(2, 1);
        assert!(workers.reserve(MAX_QUEUED_BYTES - 10));
        assert!(!workers.reserve(11));
        assert!(workers.reserve(10));
        workers.release(MAX_QUEUED_BYTES);
        assert!(workers.reserve(1));
    }
}
