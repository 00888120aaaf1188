//! kbscan's ZIP reader against hostile archives, each built here by the raw writer in
//! `kbscan_fixtures::zipraw` (issue 15: duplicate names, lossy names, overlapping entries, memory).

use kbscan_archive::limits::{self, Budget, MemoryBudget};
use kbscan_archive::zip::{for_each_entry, ZipArchive, ZipError};
use kbscan_archive::{Limits, Source};
use kbscan_fixtures::noise;
use kbscan_fixtures::zipraw::{deflate, write, RawEntry, RawOptions};

/// What the walk delivered for one entry.
#[derive(Debug)]
struct Seen {
    index: usize,
    name: String,
    data: Result<Vec<u8>, (&'static str, String)>,
    /// The data came as a file range (spilled, or in place in a file source).
    from_file: bool,
}

impl Seen {
    #[track_caller]
    fn ok(&self) -> &[u8] {
        match &self.data {
            Ok(d) => d,
            Err(e) => panic!("entry {} ({:?}) failed: {e:?}", self.index, self.name),
        }
    }

    #[track_caller]
    fn err(&self) -> &'static str {
        match &self.data {
            Ok(_) => panic!("entry {} ({:?}) was delivered", self.index, self.name),
            Err((kind, _)) => kind,
        }
    }

    #[track_caller]
    fn message(&self) -> &str {
        match &self.data {
            Ok(_) => panic!("entry {} ({:?}) was delivered", self.index, self.name),
            Err((_, m)) => m,
        }
    }
}

fn walk_source(src: Source<'_>, limits: &Limits) -> (Vec<Seen>, Result<(), ZipError>) {
    let zip = match ZipArchive::parse(src, limits) {
        Ok(z) => z,
        Err(e) => return (Vec::new(), Err(e)),
    };
    let mut seen = Vec::new();
    let r = zip.for_each(&mut |e, data| {
        seen.push(Seen {
            index: e.index,
            name: e.name.clone(),
            from_file: matches!(data, Ok(Source::File(_))),
            data: data
                .map(|s| s.to_bytes(u64::MAX).unwrap().unwrap().into_owned())
                .map_err(|e| (e.kind(), e.to_string())),
        })
    });
    (seen, r)
}

fn walk(bytes: &[u8], limits: &Limits) -> (Vec<Seen>, Result<(), ZipError>) {
    walk_source(Source::Mem(bytes), limits)
}

fn parse(bytes: &[u8]) -> ZipArchive<'_> {
    ZipArchive::parse(Source::Mem(bytes), &Limits::default()).expect("parse")
}

fn raw(entries: &[RawEntry]) -> Vec<u8> {
    write(entries, &RawOptions::default())
}

#[test]
fn duplicate_names_are_all_delivered_and_the_later_ones_marked() {
    let bytes = raw(&[
        RawEntry::stored("a.txt", b"first"),
        RawEntry::deflated("b/c.txt", b"c"),
        RawEntry::stored("a.txt", b"second"),
        RawEntry::stored("b\\c.txt", b"backslash"),
        RawEntry::stored("A.TXT", b"other case"),
        RawEntry::stored("a.txt", b"third"),
    ]);
    let zip = parse(&bytes);
    let dups: Vec<_> = zip.entries.iter().map(|e| e.duplicate_of).collect();
    assert_eq!(dups, [None, None, Some(0), Some(1), None, Some(0)]);
    let pairs: Vec<(usize, usize)> = zip.duplicates().map(|(e, f)| (e.index, f.index)).collect();
    assert_eq!(pairs, [(2, 0), (3, 1), (5, 0)]);

    let (seen, r) = walk(&bytes, &Limits::default());
    r.unwrap();
    let data: Vec<&[u8]> = seen.iter().map(Seen::ok).collect();
    assert_eq!(
        data,
        [
            &b"first"[..],
            b"c",
            b"second",
            b"backslash",
            b"other case",
            b"third"
        ]
    );

    // The slice adapter the scan engine and `extract` use loses none of them either.
    let mut got = Vec::new();
    for_each_entry(&bytes, &Limits::default(), &mut |name, data| {
        got.push((name.to_owned(), data.unwrap().to_vec()));
    })
    .unwrap();
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["a.txt", "b/c.txt", "a.txt", "b\\c.txt", "A.TXT", "a.txt"]
    );
    assert_eq!(got[0].1, b"first");
    assert_eq!(got[2].1, b"second");
}

#[test]
fn invalid_utf8_names_stay_distinct_and_keep_their_bytes() {
    const UTF8: u16 = 0x0800;
    let names: [(&[u8], u16); 6] = [
        (b"x\xFF.msu", UTF8),
        (b"x\xFE.msu", UTF8),
        (b"x\xFF.msu", 0),
        (b"x\xFE.msu", 0),
        (b"x\\x{ff}.msu", UTF8),
        ("x\u{e9}.msu".as_bytes(), UTF8),
    ];
    let entries: Vec<RawEntry> = names
        .iter()
        .enumerate()
        .map(|(i, (n, f))| RawEntry::stored(n, &[i as u8]).flags(*f))
        .collect();
    let bytes = raw(&entries);
    let zip = parse(&bytes);
    let texts: Vec<&str> = zip.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        texts,
        [
            "x\\x{ff}.msu",
            "x\\x{fe}.msu",
            "x\u{a0}.msu",
            "x\u{25a0}.msu",
            "x\\x{5c}x{ff}.msu",
            "xé.msu"
        ]
    );
    for (e, (n, _)) in zip.entries.iter().zip(&names) {
        assert_eq!(e.name_raw, *n);
        assert!(!e.name.contains('\u{fffd}'));
    }
    let utf8: Vec<bool> = zip.entries.iter().map(|e| e.name_is_utf8).collect();
    assert_eq!(utf8, [true, true, false, false, true, true]);
    // Raw names 0 and 2 are equal bytes but read differently (flag): not a duplicate by
    // text, but one path on disk, so a duplicate by bytes.
    let dups: Vec<_> = zip.entries.iter().map(|e| e.duplicate_of).collect();
    assert_eq!(dups, [None, None, Some(0), Some(1), None, None]);
}

#[test]
fn one_name_in_two_encodings_is_a_duplicate() {
    // "é" as code page 437 (no flag) and as UTF-8 (flag): the same file when extracted.
    let bytes = raw(&[
        RawEntry::stored(b"caf\x82/x", b"cp437"),
        RawEntry::stored("café\\x".as_bytes(), b"utf8").flags(0x0800),
    ]);
    let zip = parse(&bytes);
    assert_eq!(zip.entries[0].name, "café/x");
    assert_eq!(zip.entries[1].name, "café\\x");
    assert_eq!(zip.entries[1].duplicate_of, Some(0));
}

#[test]
fn an_escape_that_reads_as_a_path_is_a_duplicate_of_that_path() {
    // The raw `a 0xFF` under the UTF-8 flag is the text `a\x{ff}`: an extractor that splits
    // at `\` writes it where the literal `a/x{ff}` goes.
    let bytes = raw(&[
        RawEntry::stored(b"a/x{ff}", b"literal"),
        RawEntry::stored(b"a\xFF", b"escaped").flags(0x0800),
        RawEntry::stored(b"a\xFE", b"other").flags(0x0800),
    ]);
    let zip = parse(&bytes);
    assert_eq!(zip.entries[1].name, "a\\x{ff}");
    let dups: Vec<_> = zip.entries.iter().map(|e| e.duplicate_of).collect();
    assert_eq!(dups, [None, Some(0), None]);
}

/// One local entry (1 MiB of zeros, ~1 KiB deflated) and `n` central entries pointing at it.
fn overlap_bomb(n: usize, method: u16) -> Vec<u8> {
    let zeros = vec![0u8; 1 << 20];
    let first = if method == 8 {
        RawEntry::deflated("bomb/0", &zeros)
    } else {
        RawEntry::stored("bomb/0", &zeros)
    };
    let mut entries = vec![first.clone()];
    for i in 1..n {
        entries.push(first.sharing(0, format!("bomb/{i}")));
    }
    raw(&entries)
}

#[test]
fn overlapping_entries_are_each_charged_to_max_total_bytes() {
    for method in [8, 0] {
        let bytes = overlap_bomb(2_000, method);
        let limits = Limits {
            max_total_bytes: 10 << 20,
            ..Limits::default()
        };
        let (seen, r) = walk(&bytes, &limits);
        match r {
            Err(ZipError::Limit { limit, value, max }) => {
                assert_eq!(limit, limits::LIMIT_TOTAL_BYTES);
                assert_eq!(max, 10 << 20);
                assert_eq!(value, (10 << 20) + 1);
            }
            other => panic!("method {method}: {other:?}"),
        }
        assert_eq!(seen.len(), 11, "method {method}");
        assert!(seen[..10].iter().all(|s| s.ok().len() == 1 << 20));
        assert_eq!(seen[10].err(), "zip_limit");
    }
}

#[test]
fn overlapping_entries_are_each_charged_to_the_package_budget() {
    let bytes = overlap_bomb(2_000, 8);
    let budget = Budget::new(5 << 20);
    let limits = Limits {
        package_budget: Some(budget.clone()),
        ..Limits::default()
    };
    let (seen, r) = walk(&bytes, &limits);
    assert!(
        matches!(r, Err(ZipError::Limit { limit, .. }) if limit == limits::LIMIT_PACKAGE_BYTES),
        "{r:?}"
    );
    assert_eq!(seen.len(), 6);
    assert!(seen[..5].iter().all(|s| s.ok().len() == 1 << 20));
    assert_eq!(seen[5].err(), "zip_limit");
    // Stopped within one output window of the budget.
    assert!(budget.used() > 5 << 20 && budget.used() <= (5 << 20) + (256 << 10));

    // The budget is shared: a second container of the same input starts where it stopped.
    let (seen, r) = walk(&raw(&[RawEntry::stored("x", b"1")]), &limits);
    assert!(r.is_err());
    assert_eq!(seen[0].err(), "zip_limit");
}

#[test]
fn a_too_large_entry_is_charged_and_the_walk_goes_on() {
    let bytes = raw(&[
        RawEntry::deflated("big", &vec![1u8; 100_000]),
        RawEntry::stored("big-stored", &vec![2u8; 100_000]),
        RawEntry::deflated("small", b"ok"),
    ]);
    let limits = Limits {
        max_entry_bytes: 1_000,
        ..Limits::default()
    };
    let zip = ZipArchive::parse(Source::Mem(&bytes), &limits).unwrap();
    let mut r = zip.reader();
    for i in 0..2 {
        match r.read(i) {
            Err(ZipError::Limit { limit, value, max }) => {
                assert_eq!(
                    (limit, value, max),
                    (limits::LIMIT_ENTRY_BYTES, 1_001, 1_000)
                )
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(r.read(2).unwrap().as_slice(), Some(&b"ok"[..]));
    assert_eq!(r.total(), 1_001 + 1_001 + 2);
    // Reading an entry again produces (and charges) its bytes again.
    r.read(2).unwrap();
    assert_eq!(r.total(), 1_001 + 1_001 + 4);
}

#[test]
fn unreadable_central_directories_end_the_archive() {
    let good = raw(&[
        RawEntry::deflated("a", b"hello hello hello"),
        RawEntry::stored("b", b"b"),
    ]);
    let kind = |b: &[u8]| walk(b, &Limits::default()).1.map_err(|e| e.kind());
    assert_eq!(kind(&good), Ok(()));
    assert_eq!(kind(b""), Err("zip_archive"));
    assert_eq!(kind(b"PK\x05\x06"), Err("zip_archive"));
    assert_eq!(kind(&[0u8; 100]), Err("zip_archive"));

    let eocd = good.len() - 22;
    let cd_offset = u32::from_le_bytes(good[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
    let mut b = good.clone();
    b[cd_offset] = b'X'; // first central signature
    assert_eq!(kind(&b), Err("zip_archive"));
    let mut b = good.clone();
    b[eocd + 16..eocd + 20].copy_from_slice(&u32::MAX.to_le_bytes()); // CD offset past the end
    assert_eq!(kind(&b), Err("zip_archive"));
    let mut b = good.clone();
    b[eocd + 10..eocd + 12].copy_from_slice(&60_000u16.to_le_bytes()); // count > what fits
    let err = walk(&b, &Limits::default()).1.unwrap_err();
    assert!(err.to_string().contains("cannot fit"), "{err}");
    let mut b = good.clone();
    b[eocd + 4..eocd + 6].copy_from_slice(&1u16.to_le_bytes()); // disk 1
    assert!(walk(&b, &Limits::default())
        .1
        .unwrap_err()
        .to_string()
        .contains("multi-disk"));

    // Every truncation and every bit flip: an error or a result, never a panic or a hang.
    for len in 0..good.len() {
        let _ = walk(&good[..len], &Limits::default());
    }
    for i in 0..good.len() {
        for bit in [0x01, 0x80, 0xFF] {
            let mut b = good.clone();
            b[i] ^= bit;
            let _ = walk(&b, &Limits::default());
        }
    }
}

#[test]
fn the_entry_limit_and_the_name_limit() {
    let entries: Vec<RawEntry> = (0..10)
        .map(|i| RawEntry::stored(format!("{i}"), b"x"))
        .collect();
    let bytes = raw(&entries);
    let limits = Limits {
        max_entries: 9,
        ..Limits::default()
    };
    match ZipArchive::parse(Source::Mem(&bytes), &limits) {
        Err(ZipError::Limit { limit, value, max }) => {
            assert_eq!((limit, value, max), (limits::LIMIT_ENTRIES, 10, 9))
        }
        other => panic!("{other:?}"),
    }

    let long = "n".repeat(300);
    let bytes = raw(&[
        RawEntry::stored(&long, b"x"),
        RawEntry::stored(&long, b"y"),
        RawEntry::stored("short", b"z"),
    ]);
    let limits = Limits {
        max_name_len: 256,
        ..Limits::default()
    };
    let zip = ZipArchive::parse(Source::Mem(&bytes), &limits).unwrap();
    assert_eq!(zip.entries[0].name_raw.len(), 256, "kept up to the limit");
    assert_eq!(
        zip.entries[1].duplicate_of, None,
        "cut names are not compared"
    );
    let (seen, r) = walk(&bytes, &limits);
    r.unwrap();
    assert_eq!(seen[0].err(), "zip_limit");
    assert!(seen[0].message().contains("max_name_len"));
    assert_eq!(seen[2].ok(), b"z");
}

#[test]
fn offsets_and_sizes_past_the_end_are_per_entry_errors() {
    let mut past_local = RawEntry::stored("past-local", b"x");
    past_local.offset = Some(0xFFFF_0000);
    let mut past_data = RawEntry::stored("past-data", b"x");
    past_data.csize = 1 << 30;
    past_data.usize = 1 << 30;
    let mut not_local = RawEntry::stored("not-local", b"x");
    not_local.offset = Some(5); // inside the first entry's header
    let bytes = raw(&[
        RawEntry::stored("ok-1", b"one"),
        past_local,
        past_data,
        not_local,
        RawEntry::deflated("ok-2", b"two"),
    ]);
    let (seen, r) = walk(&bytes, &Limits::default());
    r.unwrap();
    assert_eq!(seen[0].ok(), b"one");
    assert_eq!(seen[1].err(), "zip_bad_entry");
    assert!(seen[1].message().contains("entry 1 (\"past-local\")"));
    assert!(seen[1].message().contains("runs past the end"));
    assert_eq!(seen[2].err(), "zip_bad_entry");
    assert_eq!(seen[3].err(), "zip_bad_entry");
    assert!(seen[3].message().contains("no local header signature"));
    assert_eq!(seen[4].ok(), b"two");
}

#[test]
fn huge_declared_sizes_with_tiny_data_allocate_nothing_large() {
    let mut liar = RawEntry::deflated("liar", b"tiny").zip64();
    liar.usize = 1 << 40;
    let mut liar32 = RawEntry::deflated("liar32", b"tiny");
    liar32.usize = u32::MAX as u64 - 1;
    let bytes = raw(&[liar, liar32, RawEntry::stored("after", b"ok")]);
    let memory = MemoryBudget::new(64 << 20);
    let limits = Limits {
        memory: Some(memory.clone()),
        ..Limits::default()
    };
    let zip = ZipArchive::parse(Source::Mem(&bytes), &limits).unwrap();
    assert_eq!(zip.entries[0].uncompressed_size, 1 << 40);
    let mut peak = 0;
    let mut kinds = Vec::new();
    zip.for_each(&mut |_, data| {
        peak = peak.max(memory.held());
        kinds.push(data.err().map(|e| e.kind()));
    })
    .unwrap();
    assert_eq!(
        kinds,
        [Some("zip_size_mismatch"), Some("zip_size_mismatch"), None]
    );
    assert!(peak <= 64 << 10, "held {peak} bytes for a 4-byte entry");
    assert_eq!(memory.held(), 0);
}

#[test]
fn crc_mismatch_method_and_encryption_are_per_entry_errors() {
    let mut bad_crc = RawEntry::deflated("bad-crc", b"payload");
    bad_crc.crc ^= 1;
    let mut bad_crc_stored = RawEntry::stored("bad-crc-stored", b"payload");
    bad_crc_stored.crc ^= 1;
    let mut lzma = RawEntry::stored("lzma", b"??");
    lzma.method = 14;
    let mut aes = RawEntry::stored("aes", b"??").flags(1);
    aes.method = 99;
    let mut odd = RawEntry::stored("odd", b"??");
    odd.method = 77;
    let crypt = RawEntry::deflated("zipcrypto", b"secret").flags(1);
    let bytes = raw(&[
        bad_crc,
        bad_crc_stored,
        lzma,
        aes,
        odd,
        crypt,
        RawEntry::stored("fine", b"fine"),
    ]);
    let (seen, r) = walk(&bytes, &Limits::default());
    r.unwrap();
    let kinds: Vec<_> = seen
        .iter()
        .map(|s| s.data.as_ref().err().map(|e| e.0))
        .collect();
    assert_eq!(
        kinds,
        [
            Some("zip_crc_mismatch"),
            Some("zip_crc_mismatch"),
            Some("zip_unsupported_method"),
            Some("zip_encrypted"),
            Some("zip_unsupported_method"),
            Some("zip_encrypted"),
            None
        ]
    );
    assert!(seen[0].message().contains("entry 0 (\"bad-crc\")"));
    assert!(seen[2].message().contains("method 14 (LZMA)"));
    assert!(seen[4].message().contains("method 77 (unknown)"));
    let mut d64 = RawEntry::stored("d64", b"");
    d64.method = 9;
    let (seen, _) = walk(&raw(&[d64]), &Limits::default());
    assert!(seen[0].message().contains("method 9 (deflate64)"));
}

#[test]
fn corrupt_and_truncated_deflate_data() {
    let data = noise(50_000, 3);
    let mut cut = RawEntry::deflated("cut", &data);
    cut.data.truncate(cut.data.len() / 2);
    cut.csize = cut.data.len() as u64;
    let mut garbage = RawEntry::deflated("garbage", b"x");
    garbage.data = vec![0xFF; 64]; // block type 3: invalid
    garbage.csize = 64;
    let mut empty = RawEntry::deflated("empty-stream", b"x");
    empty.data.clear();
    empty.csize = 0;
    let bytes = raw(&[cut, garbage, empty, RawEntry::deflated("good", &data)]);
    let (seen, r) = walk(&bytes, &Limits::default());
    r.unwrap();
    assert_eq!(seen[0].err(), "zip_decode");
    assert!(seen[0].message().contains("end before the deflate stream"));
    assert_eq!(seen[1].err(), "zip_decode");
    assert_eq!(seen[2].err(), "zip_decode");
    assert_eq!(seen[3].ok(), &data[..]);
}

#[test]
fn an_entry_over_the_memory_budget_is_spilled_and_the_budget_given_back() {
    let big = noise(100 << 10, 7);
    let bytes = raw(&[
        RawEntry::deflated("small-1", b"small before"),
        RawEntry::deflated("big", &big),
        RawEntry::deflated("small-2", b"small after"),
        RawEntry::stored("stored-big", &big),
    ]);
    let memory = MemoryBudget::new(1 << 10);
    let limits = Limits {
        memory: Some(memory.clone()),
        ..Limits::default()
    };
    let (seen, r) = walk(&bytes, &limits);
    r.unwrap();
    assert_eq!(seen[0].ok(), b"small before");
    assert!(!seen[0].from_file);
    assert_eq!(seen[1].ok(), &big[..]);
    assert!(
        seen[1].from_file,
        "100 KiB past a 1 KiB budget must be spilled"
    );
    assert_eq!(seen[2].ok(), b"small after");
    assert!(!seen[2].from_file, "the next entry is back in memory");
    // Stored entries are handed out in place, never copied.
    assert_eq!(seen[3].ok(), &big[..]);
    assert!(!seen[3].from_file);
    assert_eq!(memory.held(), 0);

    // The slice adapter reads a spilled entry back for its callers.
    let mut got = Vec::new();
    for_each_entry(&bytes, &limits, &mut |_, d| got.push(d.unwrap().to_vec())).unwrap();
    assert_eq!(got[1], big);
    assert_eq!(memory.held(), 0);

    // Memory held while the sink runs stays within the budget.
    let zip = ZipArchive::parse(Source::Mem(&bytes), &limits).unwrap();
    zip.for_each(&mut |_, _| assert!(memory.held() <= 1 << 10))
        .unwrap();
}

#[test]
fn a_file_source_reads_like_memory() {
    use std::io::Write;
    let big = noise(300 << 10, 9);
    let bytes = raw(&[
        RawEntry::deflated("d", &big),
        RawEntry::stored("s", &big[..1000]),
        RawEntry::stored("s", b"dup"),
    ]);
    let mut f = tempfile::tempfile().unwrap();
    let prefix = vec![0xAAu8; 777];
    f.write_all(&prefix).unwrap();
    f.write_all(&bytes).unwrap();
    f.write_all(b"junk after the range").unwrap();
    let src = Source::File(kbscan_archive::source::FileRange {
        file: &f,
        offset: prefix.len() as u64,
        len: bytes.len() as u64,
    });
    let (seen, r) = walk_source(src, &Limits::default());
    r.unwrap();
    assert_eq!(seen[0].ok(), &big[..]);
    assert!(!seen[0].from_file, "inflated into memory");
    assert_eq!(seen[1].ok(), &big[..1000]);
    assert!(seen[1].from_file, "stored: in place in the file");
    assert_eq!(seen[2].ok(), b"dup");
    let zip = ZipArchive::parse(src, &Limits::default()).unwrap();
    assert_eq!(zip.entries[2].duplicate_of, Some(1));
}

#[test]
fn zip64_records_and_extra_fields() {
    let data = noise(5_000, 11);
    let entries = [
        RawEntry::deflated("z64/deflated", &data).zip64(),
        RawEntry::stored("z64/stored", &data).zip64(),
        RawEntry::stored("plain", b"plain"),
    ];
    let opts = RawOptions {
        zip64_eocd: true,
        ..RawOptions::default()
    };
    let bytes = write(&entries, &opts);
    let zip = parse(&bytes);
    assert!(zip.info.zip64);
    assert_eq!(zip.info.declared_entries, 3);
    let (seen, r) = walk(&bytes, &Limits::default());
    r.unwrap();
    assert_eq!(seen[0].ok(), &data[..]);
    assert_eq!(seen[1].ok(), &data[..]);
    assert_eq!(seen[2].ok(), b"plain");

    // A ZIP64 extra field too short for the saturated fields: that entry only.
    let mut short = RawEntry::stored("short-extra", b"x").zip64();
    short.central_extra = Some(vec![1, 0, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    let bytes = raw(&[short, RawEntry::stored("next", b"n")]);
    let (seen, r) = walk(&bytes, &Limits::default());
    r.unwrap();
    assert_eq!(seen[0].err(), "zip_bad_entry");
    assert!(seen[0].message().contains("ZIP64 extra field is too short"));
    assert_eq!(seen[1].ok(), b"n");

    // EOCD and ZIP64 record disagreeing on a value both state: two archives, refused.
    let lie = RawOptions {
        zip64_eocd: true,
        zip64_lie: Some((3, 1 << 40, 0)),
        ..RawOptions::default()
    };
    let err = walk(&write(&entries, &lie), &Limits::default())
        .1
        .unwrap_err();
    assert_eq!(err.kind(), "zip_archive");
    // A ZIP64 entry count beyond the limit is refused before anything is allocated.
    let huge = RawOptions {
        zip64_eocd: true,
        zip64_lie: Some((u64::MAX, 0, 0)),
        ..RawOptions::default()
    };
    let err = walk(&write(&entries, &huge), &Limits::default())
        .1
        .unwrap_err();
    assert!(matches!(err, ZipError::Limit { limit, .. } if limit == limits::LIMIT_ENTRIES));
}

#[test]
fn undeclared_central_entries_are_delivered_too() {
    let entries = [
        RawEntry::stored("declared", b"1"),
        RawEntry::stored("hidden", b"2"),
    ];
    let bytes = write(
        &entries,
        &RawOptions {
            declared: Some(1),
            ..RawOptions::default()
        },
    );
    let zip = parse(&bytes);
    assert_eq!(zip.info.declared_entries, 1);
    assert_eq!(zip.info.undeclared_entries, 1);
    let (seen, r) = walk(&bytes, &Limits::default());
    r.unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].ok(), b"2");
    // ... and counted against the entry limit.
    let limits = Limits {
        max_entries: 1,
        ..Limits::default()
    };
    assert_eq!(walk(&bytes, &limits).1.unwrap_err().kind(), "zip_limit");
}

#[test]
fn the_end_record_is_found_behind_comments_and_trailing_bytes() {
    let entries = [RawEntry::stored("a", b"a")];
    // A comment that itself looks like an end record (wrong comment length for its place).
    let mut comment = b"PK\x05\x06".to_vec();
    comment.extend_from_slice(&[0u8; 30]);
    let bytes = write(
        &entries,
        &RawOptions {
            comment: comment.clone(),
            ..RawOptions::default()
        },
    );
    let zip = parse(&bytes);
    assert_eq!(zip.info.comment, comment);
    assert_eq!(zip.info.trailing_bytes, 0);
    assert_eq!(zip.entries.len(), 1);

    let bytes = write(
        &entries,
        &RawOptions {
            trailing: vec![0x55; 1000],
            ..RawOptions::default()
        },
    );
    let zip = parse(&bytes);
    assert_eq!(zip.info.trailing_bytes, 1000);
    assert_eq!(walk(&bytes, &Limits::default()).0[0].ok(), b"a");
}

#[test]
fn directories_are_entries_but_not_adapter_members() {
    let bytes = raw(&[
        RawEntry::stored("dir/", b""),
        RawEntry::stored("win\\", b""),
        RawEntry::stored("dir/f", b"f"),
    ]);
    let zip = parse(&bytes);
    let dirs: Vec<bool> = zip.entries.iter().map(|e| e.is_dir).collect();
    assert_eq!(dirs, [true, true, false]);
    assert_eq!(walk(&bytes, &Limits::default()).0.len(), 3);
    let mut names = Vec::new();
    for_each_entry(&bytes, &Limits::default(), &mut |n, _| {
        names.push(n.to_owned())
    })
    .unwrap();
    assert_eq!(names, ["dir/f"]);
}

#[test]
fn a_deflate_bomb_entry_stops_at_one_byte_past_the_cap() {
    // 64 MiB of zeros deflate to ~64 KiB; the cap stops it after 1 MiB + 1 byte.
    let packed = deflate(&vec![0u8; 64 << 20]);
    let mut e = RawEntry::deflated("z", b"");
    e.data = packed;
    e.csize = e.data.len() as u64;
    e.usize = 64 << 20;
    let bytes = raw(&[e]);
    let limits = Limits {
        max_entry_bytes: 1 << 20,
        ..Limits::default()
    };
    let zip = ZipArchive::parse(Source::Mem(&bytes), &limits).unwrap();
    let mut r = zip.reader();
    assert!(matches!(r.read(0), Err(ZipError::Limit { value, .. }) if value == (1 << 20) + 1));
    assert_eq!(r.total(), (1 << 20) + 1);
}
