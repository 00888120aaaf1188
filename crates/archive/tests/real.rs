//! Cabinets made by others (`shared/real/`, see its README for provenance), checked against
//! `cabextract`. Skips with a message when the data or cabextract is absent (fails instead
//! under `KBSCAN_REQUIRE_TOOLS=1`).

use kbscan_fixtures::require;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use kbscan_archive::cab::Cabinet;
use kbscan_archive::Limits;

/// Our walk: name -> bytes for delivered files (last wins on duplicates), plus errors.
struct Ours {
    delivered: Vec<(String, Vec<u8>)>,
    errors: Vec<(usize, &'static str)>,
    blocks: u64,
    block_total: u64,
}

fn walk(bytes: &[u8]) -> Result<Ours, &'static str> {
    let cab = Cabinet::parse(bytes, &Limits::default()).map_err(|e| e.kind())?;
    let mut delivered = Vec::new();
    let report = cab.walk(&mut |f, b| delivered.push((f.name.clone(), b.to_vec())));
    Ok(Ours {
        delivered,
        errors: report.errors.iter().map(|(i, e)| (*i, e.kind())).collect(),
        blocks: report.stats.blocks_decoded,
        block_total: cab.folders.iter().map(|f| u64::from(f.block_count)).sum(),
    })
}

/// Members cabextract reports as OK in test mode, with their bytes from a real extraction.
fn cabextract(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let test = Command::new("cabextract")
        .arg("-t")
        .arg(path)
        .output()
        .expect("run cabextract -t");
    let out = String::from_utf8_lossy(&test.stdout);
    let ok: Vec<String> = out
        .lines()
        .filter_map(|l| {
            let l = l.strip_prefix("  ")?;
            let (name, rest) = l.split_once("  ")?;
            rest.trim_start().starts_with("OK").then(|| name.to_owned())
        })
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let st = Command::new("cabextract")
        .arg("-q")
        .arg("-d")
        .arg(dir.path())
        .arg(path)
        .output()
        .expect("run cabextract -d");
    let _ = st;
    ok.into_iter()
        .map(|name| {
            // cabextract turns `\` into `/` when it creates directories.
            let p = dir.path().join(name.replace('\\', "/"));
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name, bytes)
        })
        .collect()
}

/// Every member cabextract extracts, we deliver byte-identically (unless `allowed_missing`).
#[track_caller]
fn assert_matches_cabextract(path: &Path, ours: &Ours, allowed_missing: bool) -> usize {
    let theirs = cabextract(path);
    let mine: BTreeMap<&str, &[u8]> = ours
        .delivered
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let mut compared = 0;
    for (name, bytes) in &theirs {
        match mine.get(name.as_str()) {
            Some(b) => {
                assert!(
                    *b == bytes.as_slice(),
                    "{}: {name} differs from cabextract",
                    path.display()
                );
                compared += 1;
            }
            None => assert!(
                allowed_missing,
                "{}: cabextract extracts {name}, we do not",
                path.display()
            ),
        }
    }
    compared
}

#[test]
fn genuine_payload_cabs_match_cabextract() {
    let Some(dir) = require::shared_real() else {
        return;
    };
    if !require::tool("cabextract") {
        return;
    }
    for name in [
        "Windows6.0-KB2999226-x64.cab",
        "Windows6.0-KB2999226-x86.cab",
    ] {
        let path = dir.join("cab").join(name);
        let bytes = std::fs::read(&path).expect("read cab");
        let cab = Cabinet::parse(&bytes, &Limits::default()).expect("parse");
        assert!(
            cab.header.trailing_bytes > 0,
            "{name}: Authenticode after cbCabinet"
        );
        assert_eq!(cab.folders[0].compression.to_string(), "LZX:21");
        let ours = walk(&bytes).expect("parse");
        assert!(ours.errors.is_empty(), "{name}: {:?}", ours.errors);
        assert_eq!(ours.delivered.len(), cab.files.len());
        assert_eq!(
            ours.blocks, ours.block_total,
            "{name}: every block decoded once"
        );
        let n = assert_matches_cabextract(&path, &ours, false);
        assert_eq!(n, cab.files.len(), "{name}: all members compared");
        eprintln!("{name}: {n} members byte-identical to cabextract");
    }
}

#[test]
fn genuine_msu_outer_and_payload_match_cabextract() {
    let Some(dir) = require::shared_real() else {
        return;
    };
    if !require::tool("cabextract") {
        return;
    }
    let path = dir.join("msu/Windows6.1-KB2999226-x64.msu");
    let bytes = std::fs::read(&path).expect("read msu");
    assert_eq!(kbscan_archive::sniff(&bytes), kbscan_archive::Magic::Cab);
    let ours = walk(&bytes).expect("parse msu");
    assert!(ours.errors.is_empty(), "{:?}", ours.errors);
    assert_matches_cabextract(&path, &ours, false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut inner_count = 0;
    for (name, inner) in &ours.delivered {
        if kbscan_archive::sniff(inner) != kbscan_archive::Magic::Cab {
            continue;
        }
        inner_count += 1;
        let p = tmp.path().join(name.replace(['\\', '/'], "_"));
        std::fs::write(&p, inner).expect("write inner");
        let inner_ours = walk(inner).expect("parse inner cab");
        assert!(
            inner_ours.errors.is_empty(),
            "{name}: {:?}",
            inner_ours.errors
        );
        let n = assert_matches_cabextract(&p, &inner_ours, false);
        eprintln!("{name}: {n} members byte-identical to cabextract");
    }
    assert!(inner_count >= 1, "the MSU holds a payload CAB");
}

/// What we do with each libmspack test cabinet, next to what cabextract 1.9 does.
///
/// `Parse(kind)`: `Cabinet::parse` fails. `Walk(delivered, error kinds)`: parse succeeds,
/// `delivered` in delivery order, per-file error kinds sorted by file index.
///
/// Where we differ from cabextract, and why:
/// - `bad_folderindex`, `hidden-file-bad-folderid`, `partial_nodata`, `filename-read-violation-2..4`,
///   `cve-2014-9556`: cabextract rejects the cabinet (or every file); we salvage what is
///   intact and give each broken file its own specific error, because a scanner wants every
///   good member of a damaged package.
/// - `hidden-files`: cabextract reads CFFILE entries right after the folder table and shows
///   `normal1.txt`/`normal2.txt`; we follow `coffFiles` (MS-CAB, and 7-Zip) and show
///   `hidden1.txt`/`hidden2.txt`. `Header::file_table_gap` (56 here) lets the scanner flag it.
/// - `search_basic`, `search_tricky1`: cabextract scans for cabinets embedded at any offset;
///   we read a cabinet at offset 0 only (kbscan feeds us whole members, never arbitrary blobs),
///   so these are a bad signature / an empty table.
/// - `mszip_lzx_qtm`, `cve-2018-18584`: Quantum is not supported (cabextract decodes it);
///   files in Quantum folders get `cab_unsupported_compression`.
/// - `multi_basic_pt*`: cabextract joins the set (and fails here, the other parts are named
///   `cabd_multi_basic_pt*.cab`); we never join sets and report `cab_split_cabinet` per file.
#[derive(Debug)]
enum Expect {
    Parse(&'static str),
    Walk(&'static [&'static str], &'static [&'static str]),
}

use Expect::{Parse, Walk};

const TRUNC: Expect = Parse("cab_truncated");
const TWO: &[&str] = &["test1.txt", "test2.txt"];
const SPLIT3: &[&str] = &["cab_split_cabinet"; 3];
const NAME255: &str = "HelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHelloHello!.txt";

//                                                      cabextract 1.9 says
const LIBMSPACK: &[(&str, Expect)] = &[
    (
        "bad_folderindex",
        Walk(&["hello.c"], &["cab_folder_index_out_of_range"]),
    ), // no valid cabinets
    ("bad_nofiles", Parse("cab_empty")),   // no valid cabinets
    ("bad_nofolders", Parse("cab_empty")), // no valid cabinets
    ("bad_signature", Parse("cab_bad_signature")), // no valid cabinets
    (
        "cve-2010-2800-mszip-infinite-loop",
        Walk(&[], &["cab_decode"]),
    ), // error in CAB data format
    ("cve-2014-9556-qtm-infinite-loop", Walk(&[], &["cab_limit"])), // error in CAB data format
    (
        "cve-2014-9732-folders-segfault",
        Walk(&["1", "3"], &["cab_unsupported_compression"]),
    ), // 1,3 OK; 2 fails
    ("cve-2015-4470-mszip-over-read", Walk(&[], &["cab_decode"])), // decompression error
    ("cve-2015-4471-lzx-under-read", TRUNC), // no valid cabinets
    ("cve-2017-11423-fname-overread", Parse("cab_limit")), // no valid cabinets
    (
        "cve-2018-18584-qtm-max-size-block",
        Walk(&[], &["cab_unsupported_compression"]),
    ), // decompression error
    ("filename-read-violation-1", Parse("cab_bad_name")), // no valid cabinets
    ("filename-read-violation-2", Walk(&[], &["cab_limit"])), // decompression error
    ("filename-read-violation-3", Walk(&[], &["cab_limit"])), // decompression error
    ("filename-read-violation-4", Walk(&[], &["cab_truncated"])), // decompression error
    (
        "hidden-file-bad-folderid",
        Walk(&[], &["cab_folder_index_out_of_range"]),
    ), // no valid cabinets
    ("hidden-file-beyond-eof", TRUNC),     // no valid cabinets
    ("hidden-files", Walk(&["hidden1.txt", "hidden2.txt"], &[])), // normal1.txt, normal2.txt OK
    ("lzx-main-tree-no-lengths", Walk(&[], &["cab_decode"])), // decompression error
    ("lzx-premature-matches", Walk(&[], &["cab_decode"])), // decompression error
    (
        "mszip_lzx_qtm",
        Walk(&["mszip.txt", "lzx.txt"], &["cab_unsupported_compression"]),
    ), // all 3 OK
    ("multi_basic_pt1", Walk(&[], SPLIT3)), // set incomplete
    ("multi_basic_pt2", Walk(&[], SPLIT3)), // set incomplete
    ("multi_basic_pt3", Walk(&[], SPLIT3)), // set incomplete
    ("multi_basic_pt4", Walk(&[], SPLIT3)), // set incomplete
    ("multi_basic_pt5", Walk(&[], SPLIT3)), // set incomplete
    ("normal_255c_filename", Walk(&[NAME255], &[])), // OK
    (
        "normal_2files_1folder",
        Walk(&["hello.c", "welcome.c"], &[]),
    ), // OK
    (
        "normal_2files_2folders",
        Walk(&["mszip1.txt", "mszip2.txt", "lzx1.txt", "lzx2.txt"], &[]),
    ), // OK
    (
        "partial_nodata",
        Walk(&[], &["cab_truncated", "cab_truncated"]),
    ), // no valid cabinets
    ("partial_nofiles", TRUNC),            // no valid cabinets
    ("partial_nofolder", TRUNC),           // no valid cabinets
    ("partial_shortextheader", TRUNC),     // no valid cabinets
    ("partial_shortfile1", TRUNC),         // no valid cabinets
    ("partial_shortfile2", TRUNC),         // no valid cabinets
    ("partial_shortfolder", TRUNC),        // no valid cabinets
    ("partial_shortheader", TRUNC),        // no valid cabinets
    ("partial_str_nofname", TRUNC),        // no valid cabinets
    ("partial_str_noninfo", TRUNC),        // no valid cabinets
    ("partial_str_nonname", TRUNC),        // no valid cabinets
    ("partial_str_nopinfo", TRUNC),        // no valid cabinets
    ("partial_str_nopname", TRUNC),        // no valid cabinets
    ("partial_str_shortfname", TRUNC),     // no valid cabinets
    ("partial_str_shortninfo", TRUNC),     // no valid cabinets
    ("partial_str_shortnname", TRUNC),     // no valid cabinets
    ("partial_str_shortpinfo", TRUNC),     // no valid cabinets
    ("partial_str_shortpname", TRUNC),     // no valid cabinets
    ("reserve_---", Walk(TWO, &[])),       // OK
    ("reserve_--D", Walk(TWO, &[])),       // OK
    ("reserve_-F-", Walk(TWO, &[])),       // OK
    ("reserve_-FD", Walk(TWO, &[])),       // OK
    ("reserve_H--", Walk(TWO, &[])),       // OK
    ("reserve_H-D", Walk(TWO, &[])),       // OK
    ("reserve_HF-", Walk(TWO, &[])),       // OK
    ("reserve_HFD", Walk(TWO, &[])),       // OK
    ("search_basic", Parse("cab_bad_signature")), // finds 2 embedded cabinets, all OK
    ("search_tricky1", Parse("cab_empty")), // finds the embedded cabinet, OK
];

/// Files where cabextract extracts members we do not (see the table's doc).
const CABEXTRACT_EXTRACTS_MORE: &[&str] = &[
    "hidden-files",
    "mszip_lzx_qtm",
    "search_basic",
    "search_tricky1",
];

#[test]
fn libmspack_test_cabinets() {
    let Some(dir) = require::shared_real() else {
        return;
    };
    let dir = dir.join("libmspack");
    let cabextract_ok = require::tool("cabextract");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("read libmspack dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".cab").map(str::to_owned))
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = LIBMSPACK.iter().map(|(n, _)| *n).collect();
    assert_eq!(on_disk, listed, "table covers exactly the files present");

    let mut failures = Vec::new();
    for (name, expect) in LIBMSPACK {
        let path = dir.join(format!("{name}.cab"));
        let bytes = std::fs::read(&path).expect("read");
        let got = walk(&bytes);
        let ok = match (expect, &got) {
            (Parse(kind), Err(k)) => kind == k,
            (Walk(files, kinds), Ok(o)) => {
                let names: Vec<&str> = o.delivered.iter().map(|(n, _)| n.as_str()).collect();
                let errs: Vec<&str> = o.errors.iter().map(|(_, k)| *k).collect();
                names == *files && errs == *kinds
            }
            _ => false,
        };
        if !ok {
            let got = match &got {
                Err(k) => format!("Parse({k})"),
                Ok(o) => format!(
                    "Walk({:?}, {:?})",
                    o.delivered.iter().map(|(n, _)| n).collect::<Vec<_>>(),
                    o.errors
                ),
            };
            failures.push(format!("{name}: expected {expect:?}, got {got}"));
            continue;
        }
        if let (true, Ok(o)) = (cabextract_ok, &got) {
            assert_matches_cabextract(&path, o, CABEXTRACT_EXTRACTS_MORE.contains(name));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Single-byte corruptions of every small libmspack cabinet (MSZIP, LZX, stored, reserve
/// areas, split sets): parse + walk must return, never panic. kbscan-lzx is written not to
/// panic; the defensive `catch_unwind` around it must therefore never fire.
#[test]
fn libmspack_single_byte_corruptions() {
    let Some(dir) = require::shared_real() else {
        return;
    };
    let mut runs = 0u64;
    let mut panics = 0u64;
    for (name, _) in LIBMSPACK {
        let bytes = std::fs::read(dir.join("libmspack").join(format!("{name}.cab"))).expect("read");
        if bytes.len() > 4096 {
            continue;
        }
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                if let Ok(cab) = Cabinet::parse(&b, &Limits::default()) {
                    let errors = cab.for_each_file(&mut |_, _| {});
                    panics += errors
                        .iter()
                        .filter(|(_, e)| e.kind() == "cab_decoder_panic")
                        .count() as u64;
                }
                runs += 1;
            }
        }
    }
    eprintln!("{runs} corrupted cabinets walked, {panics} LZX decoder panics caught");
    assert!(runs > 10_000);
    assert_eq!(panics, 0, "kbscan-lzx panicked on a corrupted cabinet");
}

/// Zeroes every CFDATA `csum` (0 = "not computed") so corruptions reach the codecs instead of
/// being stopped by the checksum.
fn without_checksums(bytes: &[u8]) -> Option<Vec<u8>> {
    let cab = Cabinet::parse(bytes, &Limits::default()).ok()?;
    let mut out = bytes.to_vec();
    for folder in &cab.folders {
        let mut at = folder.data_offset as usize;
        for _ in 0..folder.block_count {
            let hdr = out.get(at..at + 8)?;
            let cb_data = u16::from_le_bytes([hdr[4], hdr[5]]) as usize;
            out.get_mut(at..at + 4)?.fill(0);
            at += 8 + usize::from(cab.header.data_reserve) + cb_data;
        }
    }
    Some(out)
}

/// Same sweep with checksums disabled, so every flipped data byte is fed to MSZIP (zlib-rs)
/// or LZX (kbscan-lzx): decode errors are fine, panics (even caught ones) and hangs are not.
#[test]
fn codec_corruptions_reach_decoders_without_panic() {
    let Some(dir) = require::shared_real() else {
        return;
    };
    let mut runs = 0u64;
    let mut panics = 0u64;
    let mut decode_errors = 0u64;
    for name in [
        "normal_2files_2folders",
        "normal_2files_1folder",
        "mszip_lzx_qtm",
    ] {
        let bytes = std::fs::read(dir.join("libmspack").join(format!("{name}.cab"))).expect("read");
        let base = without_checksums(&bytes).expect("re-checksum");
        for i in 0..base.len() {
            for flip in [0x01u8, 0x10, 0x80, 0xFF] {
                let mut b = base.clone();
                b[i] ^= flip;
                if let Ok(cab) = Cabinet::parse(&b, &Limits::default()) {
                    for (_, e) in cab.for_each_file(&mut |_, _| {}) {
                        panics += u64::from(e.kind() == "cab_decoder_panic");
                        decode_errors += u64::from(e.kind() == "cab_decode");
                    }
                }
                runs += 1;
            }
        }
    }
    eprintln!("{runs} runs, {decode_errors} decode errors, {panics} LZX decoder panics caught");
    assert!(decode_errors > 0, "corruptions reached the codecs");
    assert_eq!(panics, 0, "kbscan-lzx panicked on a corrupted frame");
}
