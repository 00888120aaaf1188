//! Cabinets written by the `cab` crate (Stored, MSZIP) and by a tiny hand-rolled writer for
//! shapes no writer produces (overlaps, gaps, splits). The `cab` crate is the oracle.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

use cab::CompressionType;
use kbscan_archive::cab::{Cabinet, Compression, FolderRef};
use kbscan_archive::Limits;

/// Deterministic content: a mix of text-like runs (compressible) and noise.
fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if x.is_multiple_of(3) {
            v.extend_from_slice(b"kbscan component manifest ");
        } else {
            v.push((x >> 24) as u8);
        }
    }
    v.truncate(len);
    v
}

type Spec = Vec<(CompressionType, Vec<(String, Vec<u8>)>)>;

fn build(spec: &Spec) -> Vec<u8> {
    let mut b = cab::CabinetBuilder::new();
    for (ct, files) in spec {
        let folder = b.add_folder(*ct);
        for (name, _) in files {
            folder.add_file(name.clone());
        }
    }
    let mut w = b.build(Cursor::new(Vec::new())).expect("build");
    let mut all = spec.iter().flat_map(|(_, f)| f.iter().map(|(_, d)| d));
    while let Some(mut fw) = w.next_file().expect("next_file") {
        fw.write_all(all.next().expect("content")).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

fn ours(bytes: &[u8]) -> (BTreeMap<String, Vec<u8>>, kbscan_archive::cab::WalkReport) {
    let cab = Cabinet::parse(bytes, &Limits::default()).expect("parse");
    let mut got = BTreeMap::new();
    let report = cab.walk(&mut |f, b| {
        got.insert(f.name.clone(), b.to_vec());
    });
    (got, report)
}

#[test]
fn differential_against_cab_crate() {
    let sizes = [0usize, 1, 7, 100, 4096, 32_768, 32_769, 70_000, 150_001];
    let mut spec: Spec = Vec::new();
    for (fi, ct) in [
        CompressionType::None,
        CompressionType::MsZip,
        CompressionType::MsZip,
    ]
    .into_iter()
    .enumerate()
    {
        let files = (0..30)
            .map(|i| {
                let name = format!("f{fi}\\dir\\file{i:03}.bin");
                (
                    name,
                    content((fi * 1000 + i) as u64, sizes[i % sizes.len()]),
                )
            })
            .collect();
        spec.push((ct, files));
    }
    let bytes = build(&spec);
    let (got, report) = ours(&bytes);
    assert!(report.errors.is_empty(), "{:?}", report.errors);

    let mut oracle = cab::Cabinet::new(Cursor::new(&bytes)).expect("oracle parse");
    let names: Vec<String> = oracle
        .folder_entries()
        .flat_map(|f| {
            f.file_entries()
                .map(|e| e.name().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(names.len(), got.len());
    for name in names {
        let mut want = Vec::new();
        oracle
            .read_file(&name)
            .expect("oracle open")
            .read_to_end(&mut want)
            .expect("oracle read");
        assert!(
            got.get(&name) == Some(&want),
            "{name} differs from the cab crate"
        );
    }
    // And both agree with what was written.
    for (_, files) in &spec {
        for (name, data) in files {
            assert_eq!(got.get(name), Some(data), "{name}");
        }
    }
    let cab = Cabinet::parse(&bytes, &Limits::default()).expect("parse");
    assert_eq!(cab.folders[0].compression, Compression::Stored);
    assert_eq!(cab.folders[1].compression.to_string(), "MSZIP");
    let blocks: u64 = cab.folders.iter().map(|f| u64::from(f.block_count)).sum();
    assert_eq!(report.stats.blocks_decoded, blocks);
}

/// Linear time, proven by a counter: a solid MSZIP folder of N small files is decoded in
/// exactly `block_count` block decodes, whatever N.
#[test]
fn solid_folder_is_decoded_once() {
    for n in [2_000usize, 20_000] {
        let files: Vec<(String, Vec<u8>)> = (0..n)
            .map(|i| (format!("c{i:05}.manifest"), content(i as u64, 40 + i % 200)))
            .collect();
        let spec: Spec = vec![(CompressionType::MsZip, files)];
        let bytes = build(&spec);
        let cab = Cabinet::parse(&bytes, &Limits::default()).expect("parse");
        assert_eq!(cab.files.len(), n);
        let mut delivered = 0usize;
        let mut mismatches = 0usize;
        let report = cab.walk(&mut |f, b| {
            let i: usize = f.name[1..6].parse().expect("index in name");
            if b != spec[0].1[i].1.as_slice() {
                mismatches += 1;
            }
            delivered += 1;
        });
        assert!(
            report.errors.is_empty(),
            "{:?}",
            &report.errors[..3.min(report.errors.len())]
        );
        assert_eq!((delivered, mismatches), (n, 0));
        assert_eq!(
            report.stats.blocks_decoded,
            u64::from(cab.folders[0].block_count)
        );
        assert_eq!(report.stats.folders_decoded, 1);
    }
}

#[test]
fn entry_and_total_limits() {
    let spec: Spec = vec![(
        CompressionType::MsZip,
        vec![
            ("small".into(), content(1, 1000)),
            ("big".into(), content(2, 100_000)),
            ("after".into(), content(3, 1000)),
        ],
    )];
    let bytes = build(&spec);
    let limits = Limits {
        max_entry_bytes: 50_000,
        ..Limits::default()
    };
    let cab = Cabinet::parse(&bytes, &limits).expect("parse");
    let mut got = Vec::new();
    let errors = cab.for_each_file(&mut |f, _| got.push(f.name.clone()));
    assert_eq!(got, ["small", "after"]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, 1);
    assert_eq!(errors[0].1.kind(), "cab_limit");
    assert!(errors[0].1.to_string().contains("max_entry_bytes"));

    let limits = Limits {
        max_total_bytes: 40_000,
        ..Limits::default()
    };
    let cab = Cabinet::parse(&bytes, &limits).expect("parse");
    let mut got = Vec::new();
    let errors = cab.for_each_file(&mut |f, _| got.push(f.name.clone()));
    assert_eq!(got, ["small"]);
    let kinds: Vec<_> = errors.iter().map(|(i, e)| (*i, e.kind())).collect();
    assert_eq!(kinds, [(1, "cab_limit"), (2, "cab_limit")]);
    assert!(errors[0].1.to_string().contains("max_total_bytes"));
}

#[test]
fn corrupt_checksum_fails_only_that_folder() {
    let spec: Spec = vec![
        (CompressionType::MsZip, vec![("a".into(), content(1, 5000))]),
        (CompressionType::MsZip, vec![("b".into(), content(2, 5000))]),
    ];
    let mut bytes = build(&spec);
    let cab = Cabinet::parse(&bytes, &Limits::default()).expect("parse");
    let off = cab.folders[0].data_offset as usize;
    let stored = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap());
    // The `cab` writer always stores CFDATA checksums; were it to stop, this test would
    // prove nothing, so that fails rather than skips.
    assert_ne!(stored, 0, "the cab writer left the checksum 0");
    // Flip a data byte of folder 0's first block (after the 8-byte CFDATA header).
    bytes[off + 8 + 10] ^= 0x55;
    let (got, report) = ours(&bytes);
    assert_eq!(got.keys().collect::<Vec<_>>(), ["b"]);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].1.kind(), "cab_bad_checksum");
}

/// Minimal stored-cabinet writer for shapes real writers never produce.
struct Hand {
    flags: u16,
    /// (name, size, offset, iFolder)
    files: Vec<(&'static str, u32, u32, u16)>,
    /// Stream bytes split into blocks; a `None` block is a split-marker (cbUncomp 0).
    blocks: Vec<Option<Vec<u8>>>,
}

impl Hand {
    fn bytes(&self) -> Vec<u8> {
        let mut strings = Vec::new();
        if self.flags & 1 != 0 {
            strings.extend_from_slice(b"prev.cab\0disk\0");
        }
        if self.flags & 2 != 0 {
            strings.extend_from_slice(b"next.cab\0disk\0");
        }
        let folder_at = 36 + strings.len();
        let files_at = folder_at + 8;
        let mut table = Vec::new();
        for (name, size, offset, ifold) in &self.files {
            table.extend_from_slice(&size.to_le_bytes());
            table.extend_from_slice(&offset.to_le_bytes());
            table.extend_from_slice(&ifold.to_le_bytes());
            table.extend_from_slice(&[0, 0, 0, 0, 0x20, 0]);
            table.extend_from_slice(name.as_bytes());
            table.push(0);
        }
        let data_at = files_at + table.len();
        let mut data = Vec::new();
        for b in &self.blocks {
            let (d, u): (&[u8], u16) = match b {
                Some(d) => (d, d.len() as u16),
                None => (b"xx", 0),
            };
            data.extend_from_slice(&0u32.to_le_bytes());
            data.extend_from_slice(&(d.len() as u16).to_le_bytes());
            data.extend_from_slice(&u.to_le_bytes());
            data.extend_from_slice(d);
        }
        let total = data_at + data.len();
        let mut v = Vec::new();
        v.extend_from_slice(b"MSCF\0\0\0\0");
        v.extend_from_slice(&(total as u32).to_le_bytes());
        v.extend_from_slice(&[0; 4]);
        v.extend_from_slice(&(files_at as u32).to_le_bytes());
        v.extend_from_slice(&[0; 4]);
        v.extend_from_slice(&[3, 1, 1, 0]);
        v.extend_from_slice(&(self.files.len() as u16).to_le_bytes());
        v.extend_from_slice(&self.flags.to_le_bytes());
        v.extend_from_slice(&[0x34, 0x12, 0, 0]);
        v.extend_from_slice(&strings);
        v.extend_from_slice(&(data_at as u32).to_le_bytes());
        v.extend_from_slice(&(self.blocks.len() as u16).to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
        v.extend_from_slice(&table);
        v.extend_from_slice(&data);
        v
    }
}

#[test]
fn overlapping_duplicate_gapped_and_beyond_files() {
    let stream: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let blocks = stream.chunks(32_768).map(|c| Some(c.to_vec())).collect();
    let cab = Hand {
        flags: 0,
        files: vec![
            ("whole", 100_000, 0, 0),
            ("mid", 10, 50_000, 0),
            ("dup", 10, 50_000, 0),
            ("span", 40_000, 30_000, 0),
            ("empty-end", 0, 100_000, 0),
            ("beyond", 10, 99_995, 0),
        ],
        blocks,
    }
    .bytes();
    let parsed = Cabinet::parse(&cab, &Limits::default()).expect("parse");
    let mut got = Vec::new();
    let errors = parsed.for_each_file(&mut |f, b| {
        let start = f.offset as usize;
        assert_eq!(b, &stream[start..start + f.size as usize], "{}", f.name);
        got.push(f.name.clone());
    });
    // Delivery order: by offset, ties by table index.
    assert_eq!(got, ["whole", "span", "mid", "dup", "empty-end"]);
    let kinds: Vec<_> = errors.iter().map(|(i, e)| (*i, e.kind())).collect();
    assert_eq!(kinds, [(5, "cab_file_beyond_folder")]);
}

#[test]
fn split_set_reports_continued_files_and_delivers_whole_ones() {
    let cab = Hand {
        flags: 2, // next cabinet follows
        files: vec![("whole", 6, 0, 0), ("continues", 100, 6, 0xFFFE)],
        blocks: vec![Some(b"abcdefghij".to_vec()), None],
    }
    .bytes();
    let parsed = Cabinet::parse(&cab, &Limits::default()).expect("parse");
    assert_eq!(parsed.header.next_cabinet.as_deref(), Some("next.cab"));
    assert_eq!(parsed.files[1].folder, FolderRef::ContinuedToNext);
    let mut got = Vec::new();
    let errors = parsed.for_each_file(&mut |f, b| got.push((f.name.clone(), b.to_vec())));
    assert_eq!(got, [("whole".to_string(), b"abcdef".to_vec())]);
    let kinds: Vec<_> = errors.iter().map(|(i, e)| (*i, e.kind())).collect();
    assert_eq!(kinds, [(1, "cab_split_cabinet")]);

    // Same cabinet, but the split marker belongs to a file of the folder: still precise.
    let cab = Hand {
        flags: 2,
        files: vec![("whole", 6, 0, 0), ("tail", 20, 6, 0)],
        blocks: vec![Some(b"abcdefghij".to_vec()), None],
    }
    .bytes();
    let parsed = Cabinet::parse(&cab, &Limits::default()).expect("parse");
    let errors = parsed.for_each_file(&mut |_, _| {});
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].1.kind(), "cab_split_cabinet");
}

#[test]
fn folder_without_blocks_is_an_error_not_a_panic() {
    let cab = Hand {
        flags: 0,
        files: vec![("empty", 0, 0, 0), ("x", 5, 0, 0)],
        blocks: vec![],
    }
    .bytes();
    let parsed = Cabinet::parse(&cab, &Limits::default()).expect("parse");
    let mut got = Vec::new();
    let errors = parsed.for_each_file(&mut |f, _| got.push(f.name.clone()));
    assert_eq!(got, ["empty"]);
    assert_eq!(errors[0].1.kind(), "cab_folder_no_data");
}

/// Every truncation of a valid cabinet: no panic, and a parse failure is always `cab_truncated`.
#[test]
fn every_truncation_is_handled() {
    let spec: Spec = vec![(
        CompressionType::MsZip,
        vec![
            ("a".into(), content(1, 3000)),
            ("b".into(), content(2, 40_000)),
        ],
    )];
    let bytes = build(&spec);
    for len in 0..bytes.len() {
        match Cabinet::parse(&bytes[..len], &Limits::default()) {
            Err(e) => assert!(
                matches!(e.kind(), "cab_truncated" | "cab_bad_signature"),
                "len {len}: {e}"
            ),
            Ok(cab) => {
                let _ = cab.for_each_file(&mut |_, _| {});
            }
        }
    }
}

/// Issue 15, finding 3a: overlapping CFFILE entries used to cost nothing. A 22 KB
/// cabinet of overlapping sub-cabinets produced 16.7 M records; `extract` of a 31 KB one
/// wrote 1.6 GB past `--max-total-bytes 100M`. Every byte handed out is now charged: the
/// decoded stream once, and each repetition again.
#[test]
fn overlapping_files_are_charged_for_every_byte_handed_out() {
    let stream: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
    let blocks = stream.chunks(32_768).map(|c| Some(c.to_vec())).collect();
    let names: Vec<&'static str> = (0..200)
        .map(|i| &*Box::leak(format!("copy{i}").into_boxed_str()))
        .collect();
    let cab = Hand {
        flags: 0,
        files: names.iter().map(|n| (*n, 65_536, 0, 0)).collect(),
        blocks,
    }
    .bytes();
    // 200 x 64 KiB = 12.5 MiB handed out; 1 MiB allowed.
    let limits = Limits {
        max_total_bytes: 1 << 20,
        ..Limits::default()
    };
    let parsed = Cabinet::parse(&cab, &limits).expect("parse");
    let mut delivered = 0u64;
    let errors = parsed.for_each_file(&mut |_, b| delivered += b.len() as u64);
    assert!(delivered <= 1 << 20, "{delivered} bytes handed out");
    assert_eq!(
        delivered,
        16 * 65_536,
        "the stream once, then 15 repetitions"
    );
    assert_eq!(errors.len(), 200 - 16);
    assert!(errors.iter().all(|(_, e)| matches!(
        e,
        kbscan_archive::CabError::Limit {
            limit: "max_total_bytes",
            ..
        }
    )));

    // The package budget, shared by every container of the input, is charged the same way.
    let budget = kbscan_archive::limits::Budget::new(1 << 20);
    let limits = Limits {
        package_budget: Some(budget.clone()),
        ..Limits::default()
    };
    let parsed = Cabinet::parse(&cab, &limits).expect("parse");
    let mut delivered = 0u64;
    let errors = parsed.for_each_file(&mut |_, b| delivered += b.len() as u64);
    assert_eq!(delivered, 16 * 65_536);
    assert!(errors.iter().all(|(_, e)| matches!(
        e,
        kbscan_archive::CabError::Limit {
            limit: "max_package_bytes",
            ..
        }
    )));
    // Without overlaps nothing is charged twice: a plain cabinet costs its stream.
    let (plain, _) = (
        Hand {
            flags: 0,
            files: vec![("a", 30_000, 0, 0), ("b", 34_536, 30_000, 0)],
            blocks: stream.chunks(32_768).map(|c| Some(c.to_vec())).collect(),
        }
        .bytes(),
        (),
    );
    let budget = kbscan_archive::limits::Budget::new(u64::MAX);
    let limits = Limits {
        package_budget: Some(budget.clone()),
        ..Limits::default()
    };
    let errors = Cabinet::parse(&plain, &limits)
        .expect("parse")
        .for_each_file(&mut |_, _| {});
    assert!(errors.is_empty());
    assert_eq!(budget.used(), 65_536);
}

/// Issue 15, finding 3b: nested members were held whole. With a memory budget, a file
/// larger than the budget is spilled to a temporary file and handed out as a file range,
/// byte-identical; the budget is given back when the walk ends.
#[test]
fn files_larger_than_the_memory_budget_are_spilled_not_held() {
    let big = content(11, 700_000);
    let small = content(12, 5_000);
    let spec: Spec = vec![(
        CompressionType::MsZip,
        vec![
            ("small1".into(), small.clone()),
            ("big".into(), big.clone()),
            // Ends in the block where `big` ends: handed out from the spill too.
            ("tail".into(), content(13, 1_000)),
            // After the spill drained: from memory again.
            ("filler".into(), content(14, 20_000)),
            ("small2".into(), small.clone()),
        ],
    )];
    let bytes = build(&spec);
    let memory = kbscan_archive::limits::MemoryBudget::new(64 * 1024);
    let limits = Limits {
        memory: Some(memory.clone()),
        ..Limits::default()
    };
    let cab = Cabinet::parse(&bytes, &limits).expect("parse");
    let mut got = Vec::new();
    let report = cab.walk_source(&mut |f, src| {
        let in_file = src.as_slice().is_none();
        let data = src.to_bytes(u64::MAX).unwrap().unwrap().into_owned();
        assert!(memory.held() <= 64 * 1024, "held {}", memory.held());
        got.push((f.name.clone(), in_file, data));
    });
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(memory.held(), 0, "budget given back");
    let summary: Vec<_> = got.iter().map(|(n, f, _)| (n.as_str(), *f)).collect();
    assert_eq!(
        summary,
        [
            ("small1", false),
            ("big", true),
            ("tail", true),
            ("filler", false),
            ("small2", false)
        ]
    );
    assert_eq!(got[1].2, big);
    assert_eq!(got[0].2, small);
    assert_eq!(got[4].2, small);
}

/// The reader works the same from a file range as from memory (a spilled nested cabinet
/// is read this way), down to the decode counters: each block is read and decoded once.
#[test]
fn a_cabinet_read_from_a_file_range_equals_the_same_cabinet_in_memory() {
    let mut spec: Spec = Vec::new();
    for (fi, ct) in [CompressionType::None, CompressionType::MsZip]
        .into_iter()
        .enumerate()
    {
        let files = (0..20)
            .map(|i| {
                (
                    format!("f{fi}/{i}.bin"),
                    content((fi * 100 + i) as u64, 1_000 * i * i),
                )
            })
            .collect();
        spec.push((ct, files));
    }
    let bytes = build(&spec);
    let mut spill = kbscan_archive::Spill::new().unwrap();
    spill.append(b"junk before the cabinet").unwrap();
    spill.append(&bytes).unwrap();
    spill.append(b"junk after").unwrap();
    let src = spill.source(23, bytes.len() as u64);
    let from_file = Cabinet::parse_source(src, &Limits::default()).expect("parse from file");
    let from_mem = Cabinet::parse(&bytes, &Limits::default()).expect("parse");
    assert_eq!(from_file.files, from_mem.files);
    assert_eq!(from_file.header, from_mem.header);
    let mut a = Vec::new();
    let ra = from_file.walk(&mut |f, b| a.push((f.name.clone(), b.to_vec())));
    let mut b = Vec::new();
    let rb = from_mem.walk(&mut |f, d| b.push((f.name.clone(), d.to_vec())));
    assert_eq!(a, b);
    assert_eq!(ra.stats, rb.stats);
    assert!(ra.errors.is_empty());
    // Truncated in the file: the same error as truncated in memory.
    let cut = spill.source(23, bytes.len() as u64 - 100);
    let short = Cabinet::parse_source(cut, &Limits::default()).expect("tables intact");
    let mem_short = Cabinet::parse(&bytes[..bytes.len() - 100], &Limits::default()).unwrap();
    let ea: Vec<_> = short
        .walk(&mut |_, _| {})
        .errors
        .iter()
        .map(|(i, e)| (*i, e.kind()))
        .collect();
    let eb: Vec<_> = mem_short
        .walk(&mut |_, _| {})
        .errors
        .iter()
        .map(|(i, e)| (*i, e.kind()))
        .collect();
    assert_eq!(ea, eb);
    assert!(!ea.is_empty());
}
