//! Intra-Package Delta resolution: a payload's `_manifest_.cix.xml` names the real targets;
//! RAW ones are checked against the stored member's SHA-1, PA30 and COPY ones are decoded
//! (in rounds, each after its basis, in parallel on idle workers) and verified before they
//! are read like any other member. Everything a target is not decoded for is said in its
//! record; bytes that contradict the index are also package errors.

use super::assemble::push_check;
use super::{split_component, Member, PackageBuilder};
use crate::convert::apply_pa30_header;
use crate::digest::Sha256Hex;
use kbscan_archive::{NestedPath, Source};
use kbscan_cbs as cbs;
use kbscan_model::*;
use sha1::Sha1;
use sha2::Digest;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Most PA30 blob bytes one package keeps (copied out of the folder buffer while the
/// payload streams) for decoding once the container index is known. Blobs beyond it
/// are reported undecoded (`decode_error`), never dropped silently.
pub(crate) const MAX_PENDING_DELTA_BYTES: u64 = 512 << 20;

/// Most decoded target bytes one IPD payload holds at a time (decoded targets wait
/// for their place in index order, and serve as the basis of other targets).
pub(crate) const MAX_IPD_DECODED_BYTES: u64 = 2 << 30;

/// Most expected output of one batch of IPD targets decoded before their admission against
/// [`MAX_IPD_DECODED_BYTES`] is settled (a single larger target still forms a batch).
const DECODE_BATCH_BYTES: u64 = 128 << 20;

/// What a target is made from, as the scanner counts and reports it: the index's
/// [`cbs::SourceType`], or a copy of its basis (`Copy`: a `Basis` without a `Source`, the
/// scanner's own notion, seen in genuine KB2999226 payloads).
#[derive(Debug, PartialEq, Eq)]
enum Format<'i> {
    Raw,
    Pa30,
    Pa19,
    Copy,
    Other(&'i str),
}

impl<'i> Format<'i> {
    fn of(t: &'i cbs::SourceType) -> Self {
        match t {
            cbs::SourceType::Raw => Format::Raw,
            cbs::SourceType::Pa30 => Format::Pa30,
            cbs::SourceType::Pa19 => Format::Pa19,
            cbs::SourceType::Other(s) => Format::Other(s),
        }
    }

    /// `DeltaInfo::format`: `PA30`, `PA19`, `COPY`, or another source type in upper case.
    fn label(&self) -> String {
        match self {
            Format::Raw => "RAW".into(),
            Format::Pa30 => "PA30".into(),
            Format::Pa19 => "PA19".into(),
            Format::Copy => "COPY".into(),
            Format::Other(s) => s.to_ascii_uppercase(),
        }
    }
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
) -> Result<Option<Vec<u8>>, TargetFailure> {
    let source = t.delta.as_ref().and_then(|d| d.source.as_ref());
    // A copy is verified in place and shares its basis's bytes (`None`): a table of
    // thousands of copies of one basis costs hashing, not memory.
    let (decoded, md5_verified) = match source {
        None => {
            if basis.is_none() {
                return Err(TargetFailure::quiet("copy without a basis".into()));
            }
            (None, false)
        }
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
            (Some(d.data), d.md5_verified)
        }
    };
    let bytes: &[u8] = match &decoded {
        Some(v) => v,
        None => basis.unwrap_or_default(),
    };
    let sha1_expected = match (&t.hash, t.hash_alg.as_deref()) {
        (Some(h), None) => Some(h),
        (Some(h), Some(alg)) if alg.eq_ignore_ascii_case("SHA1") => Some(h),
        _ => None,
    };
    match sha1_expected {
        Some(expected) => {
            let actual = Sha1::digest(bytes);
            if actual[..] != expected[..] {
                return Err(TargetFailure {
                    message: format!(
                        "decoded target SHA-1 {} does not match the container index ({})",
                        hex::encode(actual),
                        hex::encode(expected)
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
    Ok(decoded)
}

impl PackageBuilder<'_> {
    /// Intra-Package Delta: the payload's `_manifest_.cix.xml` names the real targets.
    /// RAW targets are stored under their own names (checked by SHA-1 here); PA30/PA19
    /// targets are numbered delta blobs, listed under their real names with what the
    /// index says about them until the delta decoder reads their bytes.
    pub(crate) fn resolve_ipd(&mut self, payload: &NestedPath) {
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
            let target_sha1 = t.hash.as_ref().map(hex::encode);
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
                Some(src) => (Format::of(&src.source_type), Some(src.source_name.clone())),
                None if basis.is_some() => (Format::Copy, None),
                None => {
                    sum.other += 1;
                    continue;
                }
            };
            if kind == Format::Raw {
                sum.raw += 1;
                let blob = blob.unwrap_or_default();
                let stored = self.member_sha1.get(&blob.to_ascii_lowercase()).cloned();
                match (stored, target_sha1) {
                    (Some(actual), Some(expected)) if actual == expected => sum.raw_verified += 1,
                    (Some(actual), Some(expected)) => self.error(
                        &target_path,
                        ErrorKind::IpdHashMismatch,
                        format!("RAW target SHA-1 {actual} does not match the container index ({expected})"),
                    ),
                    (None, _) => self.error(
                        &target_path,
                        ErrorKind::IpdMissingBlob,
                        format!("container index names blob {blob:?}, which the payload does not hold"),
                    ),
                    (Some(_), None) => {}
                }
                continue;
            }
            // Every listed target is a record of the input, like a member: a table of
            // millions of copies stops at the input's record budget.
            if let Some(records) = self.opts.and_then(|o| o.limits.records.as_ref()) {
                if records.take(1).is_err() {
                    let max = records.max();
                    self.error(
                        &target_path,
                        ErrorKind::Limit(LimitKind::Records),
                        format!("limit max_records exceeded: more than {max} records in one input; this and later targets of the payload are not listed"),
                    );
                    break;
                }
            }
            match kind {
                Format::Pa30 => sum.pa30 += 1,
                Format::Pa19 => sum.pa19 += 1,
                Format::Copy => sum.copies += 1,
                Format::Raw | Format::Other(_) => sum.other += 1,
            }
            if let Some(b) = &blob {
                if !self.member_sha1.contains_key(&b.to_ascii_lowercase()) {
                    self.error(
                        &target_path,
                        ErrorKind::IpdMissingBlob,
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
                format: kind.label(),
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
            let header = match (&blob, &kind) {
                (Some(b), Format::Pa30) => {
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
                                ErrorKind::IpdSizeMismatch,
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
                        ErrorKind::IpdDeltaHeader,
                        format!(
                            "cannot read the PA30 header of blob {:?}: {e} ({})",
                            blob.as_deref().unwrap_or("?"),
                            e.kind()
                        ),
                    );
                    info.note = Some(format!("PA30 header unreadable: {e}"));
                }
                None => {
                    if kind == Format::Copy {
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
                    let digest = self.digest_member(&t.name, Source::Mem(&bytes), false);
                    self.add_member(
                        &t.name,
                        Source::Mem(&bytes),
                        target_path.clone(),
                        false,
                        digest,
                    );
                    if let Some(Member { rec, .. }) = self.files.last_mut() {
                        rec.delta = Some(info);
                        checks.append(&mut rec.checks);
                        rec.checks = checks;
                    }
                    continue;
                }
                Some(Err(reason)) => info.decode_error = Some(reason),
                None => {}
            }
            self.files.push(Member {
                rec: FileRecord {
                    path: target_path.to_string(),
                    name: base.to_string(),
                    kind: FileKind::Delta,
                    component: component.map(str::to_string),
                    size: t.length.unwrap_or(0),
                    sha256: String::new(),
                    versions,
                    pe: None,
                    delta: Some(info),
                    checks,
                },
                // The target's own SHA-256 is unknown until the delta is decoded: the
                // record says so with an empty digest.
                sha256: Sha256Hex::Ready(String::new()),
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
                ErrorKind::IpdDeltaHeader,
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
    ) -> BTreeMap<usize, Result<Arc<Vec<u8>>, String>> {
        let files = &index.files;
        let budget = self.opts.and_then(|o| o.limits.package_budget.clone());
        let mut over_budget = false;
        let by_id: BTreeMap<u32, usize> = files
            .iter()
            .enumerate()
            .filter_map(|(i, f)| Some((f.id?, i)))
            .collect();
        let is_candidate = |f: &cbs::CixFile| match &f.delta {
            Some(d) => match &d.source {
                Some(src) => src.source_type == cbs::SourceType::Pa30,
                None => !d.basis.is_empty(),
            },
            None => false,
        };
        let parallel = self.hasher.is_some_and(|h| h.idle_workers());
        let mut done: BTreeMap<usize, Result<Arc<Vec<u8>>, String>> = BTreeMap::new();
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
                    if n > 0 && expected.saturating_add(size) > DECODE_BATCH_BYTES {
                        break;
                    }
                    expected = expected.saturating_add(size);
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
                let results: Vec<Result<Option<Vec<u8>>, TargetFailure>> =
                    if parallel && batch.len() > 1 {
                        use rayon::prelude::*;
                        batch.par_iter().map(one).collect()
                    } else {
                        batch.iter().map(one).collect()
                    };
                for (&(i, b), r) in batch.iter().zip(results) {
                    let result = match r {
                        Ok(fresh) => {
                            // Admission by the bytes actually produced (the index's length
                            // is the attacker's word): fresh bytes count against what the
                            // payload holds, every target's bytes against the input's
                            // package budget, copies included.
                            let shared = b.and_then(|b| match done.get(&b) {
                                Some(Ok(v)) => Some(Arc::clone(v)),
                                _ => None,
                            });
                            let fresh_len = fresh.as_ref().map_or(0, |v| v.len() as u64);
                            let bytes = match (fresh, shared) {
                                (Some(v), _) => Some(Arc::new(v)),
                                (None, s) => s,
                            };
                            let len = bytes.as_ref().map_or(0, |v| v.len() as u64);
                            if held.saturating_add(fresh_len) > MAX_IPD_DECODED_BYTES {
                                Err(format!(
                                    "not decoded: the payload's decoded targets would exceed MAX_IPD_DECODED_BYTES ({MAX_IPD_DECODED_BYTES} bytes)"
                                ))
                            } else if let Some(Err(total)) = budget.as_ref().map(|g| g.take(len)) {
                                let max = budget.as_ref().map_or(0, |g| g.max());
                                if !over_budget {
                                    over_budget = true;
                                    self.error(
                                        payload,
                                        ErrorKind::Limit(LimitKind::PackageBytes),
                                        format!(
                                            "limit max_package_bytes exceeded: decoded IPD targets bring the input to {total} > {max} bytes; this and later targets are not decoded"
                                        ),
                                    );
                                }
                                Err(format!(
                                    "not decoded: limit max_package_bytes ({max} bytes) reached"
                                ))
                            } else {
                                held = held.saturating_add(fresh_len);
                                bytes.ok_or_else(|| "copy of a basis that was not decoded".into())
                            }
                        }
                        Err(f) => {
                            if f.report {
                                self.error(
                                    &payload.child(&files[i].name),
                                    ErrorKind::IpdHashMismatch,
                                    f.message.clone(),
                                );
                            }
                            Err(f.message)
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
        basis: Option<&Result<Arc<Vec<u8>>, String>>,
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
}
