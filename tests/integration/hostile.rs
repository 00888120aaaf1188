//! Issue 15 ("hostile input, round two") end to end: crafted files from
//! `kbscan_fixtures::hostile` and `kbscan_fixtures::zipraw` through the binary. Each test
//! names the finding it reproduces; the files are generated here, from committed code.

use crate::util::{arg, kbscan, scan_json, tempdir};
use kbscan_fixtures::hostile;
use kbscan_fixtures::zipraw::{write, RawEntry, RawOptions};
use serde_json::Value;

fn kinds(v: &Value) -> Vec<String> {
    v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Finding 3b: nested members were held whole (six nested 1000 MB members took 6.15 GB).
/// Past `--max-held-bytes` they are spilled to a temporary file and walked from there: the
/// report is the same as with everything in memory. (The archive crate's tests prove the
/// budget is never passed; `scripts/bench --only hostile` shows the peak RSS.)
#[test]
fn a_nest_larger_than_the_memory_budget_reads_the_same_from_temporary_files() {
    let dir = tempdir();
    let nest = dir.path().join("nested.cab");
    std::fs::write(&nest, hostile::nested_padding(4, 3 << 20)).unwrap();
    let (roomy, code) = scan_json(&["--max-held-bytes", "1G", arg(&nest)]);
    assert_eq!(code, 0, "{:?}", kinds(&roomy));
    let (tight, code) = scan_json(&["--max-held-bytes", "256K", arg(&nest)]);
    assert_eq!(code, 0, "{:?}", kinds(&tight));
    assert_eq!(roomy, tight);
    let names: Vec<&str> = tight["packages"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"leaf.txt"), "{names:?}");
    assert_eq!(
        tight["packages"][0]["payloads"].as_array().unwrap().len(),
        3
    );
}

/// Finding 3a: a few kilobytes of overlapping sub-cabinets named 16.7 M members and ran
/// the machine out of memory. The record budget stops it with one named error; what was
/// read is still reported.
#[test]
fn overlapping_cabinets_of_cabinets_stop_at_the_record_budget() {
    let dir = tempdir();
    let bomb = dir.path().join("explode.cab");
    let bytes = hostile::record_explosion(3, 100, 16);
    assert!(bytes.len() < 64 * 1024, "{} bytes on disk", bytes.len());
    std::fs::write(&bomb, bytes).unwrap();
    let (v, code) = scan_json(&["--max-records", "5000", arg(&bomb)]);
    assert_eq!(code, 1);
    assert_eq!(kinds(&v), ["limit_records"]);
    let files = v["totals"]["files"].as_u64().unwrap();
    assert!((4_900..=5_000).contains(&files), "{files} records");
    assert!(v["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("max_records"));
}

/// Finding 3a: `extract` of a 31 KB cabinet wrote 1.6 GB with `--max-total-bytes 100M`:
/// overlapping entries were never charged. Now every byte written is.
#[test]
fn extracting_overlapping_entries_stops_at_the_byte_limits() {
    let dir = tempdir();
    let cab = dir.path().join("overlap.cab");
    std::fs::write(
        &cab,
        hostile::overlapping_cab(&vec![b'z'; 1 << 20], 200, "copy", ".bin"),
    )
    .unwrap();
    let out = dir.path().join("out");
    for limit in ["--max-total-bytes", "--max-package-bytes"] {
        let _ = std::fs::remove_dir_all(&out);
        let o = kbscan(&["extract", arg(&cab), "-d", arg(&out), "-q", limit, "16M"]);
        assert_eq!(o.status.code(), Some(1));
        let written: u64 = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        assert!(
            written <= 16 << 20,
            "{written} bytes written under {limit} 16M"
        );
        assert!(written >= 15 << 20, "{written} bytes: the limit, not less");
        let err = String::from_utf8_lossy(&o.stderr);
        let name = limit.trim_start_matches("--").replace('-', "_");
        assert!(err.contains(&name), "{err}");
    }
}

/// Finding 5: of two ZIP entries with the same name the first was neither scanned,
/// extracted nor reported. Both are now read and listed, and the repetition is an error.
#[test]
fn duplicate_zip_names_are_all_scanned_and_reported() {
    let dir = tempdir();
    let zip = dir.path().join("dups.zip");
    use kbscan_fixtures::pe::{build_pe, Machine, PeKind, PeSpec};
    let spec = |seed| PeSpec {
        machine: Machine::Amd64,
        kind: PeKind::Exe,
        timestamp: 0x5C8A_0000,
        version: None,
        body_len: 64,
        seed,
    };
    let (a, b) = (build_pe(&spec(1)), build_pe(&spec(2)));
    std::fs::write(
        &zip,
        write(
            &[
                RawEntry::stored("tool.exe", &a),
                RawEntry::stored("tool.exe", &b),
            ],
            &RawOptions::default(),
        ),
    )
    .unwrap();
    let (v, code) = scan_json(&[arg(&zip)]);
    assert_eq!(code, 1);
    assert_eq!(kinds(&v), ["duplicate_member_name"]);
    let packages = v["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 2, "both entries are packages");
    assert_ne!(packages[0]["sha256"], packages[1]["sha256"]);

    let out = dir.path().join("out");
    let o = kbscan(&["extract", arg(&zip), "-d", arg(&out)]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("[duplicate_member_name]"), "{err}");
    assert!(
        err.contains("[output_exists]"),
        "the second is not written over the first: {err}"
    );
    assert_eq!(std::fs::read(out.join("tool.exe")).unwrap(), a);
}

/// Finding 5: invalid UTF-8 names became U+FFFD, so two different names could collide.
/// They keep their bytes: distinct in the report (escaped), never written under an
/// escaped name by `extract`.
#[test]
fn invalid_utf8_zip_names_stay_distinct_and_are_not_written_escaped() {
    const UTF8: u16 = 1 << 11;
    let dir = tempdir();
    let zip = dir.path().join("names.zip");
    std::fs::write(
        &zip,
        write(
            &[
                RawEntry::stored(b"a\xff.txt", b"one").flags(UTF8),
                RawEntry::stored(b"a\xfe.txt", b"two").flags(UTF8),
                RawEntry::stored(b"plain.txt", b"three"),
            ],
            &RawOptions::default(),
        ),
    )
    .unwrap();
    let (v, _) = scan_json(&[arg(&zip)]);
    let ignored: Vec<&str> = v["inputs"][0]["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(ignored.len(), 3, "{ignored:?}");
    assert_ne!(ignored[0], ignored[1], "distinct raw names stay distinct");
    assert!(ignored[0].contains("\\x{ff}"), "{ignored:?}");

    let out = dir.path().join("out");
    let o = kbscan(&["extract", arg(&zip), "-d", arg(&out)]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("not valid UTF-8").count(), 2, "{err}");
    let written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written, ["plain.txt"]);
}

/// The spilling paths are the ordinary paths with another `Source`: with a 64 KiB memory
/// budget every input is read by position and nearly every member (payload cabinets, PE
/// files, PA30 blobs) goes through a temporary file, and the report is byte-identical.
#[test]
fn a_tiny_memory_budget_changes_nothing_but_where_bytes_wait() {
    let mut paths = vec!["corpus/synthetic".to_string()];
    let real = crate::util::root().join("../shared/real");
    if crate::util::require::samples(&real) {
        for d in ["msu", "cab"] {
            paths.push(format!("../shared/real/{d}"));
        }
    }
    for p in paths {
        let (roomy, _) = scan_json(&[&p]);
        let (tight, _) = scan_json(&["--max-held-bytes", "64K", &p]);
        assert!(
            roomy == tight,
            "{p}: a 64 KiB memory budget changed the report"
        );
    }
}
