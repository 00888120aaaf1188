//! kbscan's ZIP reader against independent ones: archives written by the `zip` crate's
//! writer and read back by its reader (entry for entry, byte for byte), and archives
//! written by 7-Zip (`7zz`) from generated files.

use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::process::Command;

use kbscan_archive::zip::{ZipArchive, ZipEntry};
use kbscan_archive::{Limits, Source};
use kbscan_fixtures::noise;
use kbscan_fixtures::require;
use kbscan_fixtures::zipraw::{write, RawEntry, RawOptions};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

/// Every entry's bytes (or error kind), in order, by kbscan's reader.
fn read_all(zip: &ZipArchive<'_>) -> Vec<(ZipEntry, Result<Vec<u8>, &'static str>)> {
    let mut out = Vec::new();
    zip.for_each(&mut |e, data| {
        let data = data
            .map(|s| s.to_bytes(u64::MAX).unwrap().unwrap().into_owned())
            .map_err(|e| e.kind());
        out.push((e.clone(), data));
    })
    .expect("walk");
    out
}

/// Compares kbscan's view of `bytes` with the `zip` crate's, entry by entry.
#[track_caller]
fn same_as_zip_crate(bytes: &[u8], limits: &Limits) -> usize {
    let ours = ZipArchive::parse(Source::Mem(bytes), limits).expect("kbscan parse");
    let got = read_all(&ours);
    let mut theirs = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip crate parse");
    assert_eq!(got.len(), theirs.len());
    for (i, (e, data)) in got.iter().enumerate() {
        let mut f = theirs.by_index(i).expect("zip crate entry");
        assert_eq!(e.index, i);
        assert_eq!(e.name_raw, f.name_raw(), "entry {i}");
        assert_eq!(e.name, f.name().expect("name"), "entry {i}");
        assert_eq!(e.is_dir, f.is_dir(), "entry {i}");
        assert_eq!(e.uncompressed_size, f.size(), "entry {i}");
        assert_eq!(e.compressed_size, f.compressed_size(), "entry {i}");
        assert_eq!(e.crc32, f.crc32(), "entry {i}");
        assert_eq!(e.duplicate_of, None);
        let method = match f.compression() {
            CompressionMethod::Stored => 0,
            CompressionMethod::Deflated => 8,
            m => panic!("unexpected method {m:?}"),
        };
        assert_eq!(e.method, method, "entry {i}");
        let mut want = Vec::new();
        f.read_to_end(&mut want).expect("zip crate read");
        assert_eq!(data.as_deref(), Ok(&want[..]), "entry {i} ({})", e.name);
    }
    got.len()
}

#[test]
fn the_zip_crate_reads_what_we_read() {
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.add_directory("2019-04/", stored).unwrap();
    let files: Vec<(String, Vec<u8>, SimpleFileOptions)> = vec![
        (
            "2019-04/Windows6.0-KB1-x64.msu".into(),
            noise(70_000, 1),
            deflated,
        ),
        ("stored.bin".into(), noise(10_000, 2), stored),
        ("empty-stored".into(), Vec::new(), stored),
        ("empty-deflated".into(), Vec::new(), deflated),
        ("zeros".into(), vec![0; 3 << 20], deflated),
        (
            "ünïcødé/日本語.txt".into(),
            "héllo".repeat(100).into_bytes(),
            deflated,
        ),
        ("amd64_x\\ntoskrnl.exe".into(), noise(1_000, 3), deflated),
        (
            "large-deflated".into(),
            noise(5_000, 4),
            deflated.large_file(true),
        ),
        (
            "large-stored".into(),
            noise(5_000, 5),
            stored.large_file(true),
        ),
        ("../escape".into(), b"up".to_vec(), deflated),
    ];
    for (name, data, opts) in &files {
        w.start_file(name.as_str(), *opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.add_directory("empty-dir/", deflated).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    assert_eq!(
        same_as_zip_crate(&bytes, &Limits::default()),
        files.len() + 2
    );

    // The same archive from a file, read by position.
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(&bytes).unwrap();
    let src = Source::File(kbscan_archive::source::FileRange {
        file: &f,
        offset: 0,
        len: bytes.len() as u64,
    });
    let from_file = read_all(&ZipArchive::parse(src, &Limits::default()).unwrap());
    let from_mem = read_all(&ZipArchive::parse(Source::Mem(&bytes), &Limits::default()).unwrap());
    assert_eq!(from_file, from_mem);
    assert_eq!(from_mem[6].1.as_deref(), Ok("héllo".repeat(100).as_bytes()));
}

#[test]
fn more_than_65535_entries_need_zip64_end_records() {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for i in 0..66_000u32 {
        w.start_file(format!("{i}"), opts).unwrap();
        if i % 1000 == 0 {
            w.write_all(&i.to_le_bytes()).unwrap();
        }
    }
    let bytes = w.finish().unwrap().into_inner();
    let limits = Limits {
        max_entries: 70_000,
        ..Limits::default()
    };
    let zip = ZipArchive::parse(Source::Mem(&bytes), &limits).unwrap();
    assert!(zip.info.zip64);
    assert_eq!(zip.info.declared_entries, 66_000);
    assert_eq!(same_as_zip_crate(&bytes, &limits), 66_000);
    // Over the default limit it is refused up front.
    assert!(ZipArchive::parse(Source::Mem(&bytes), &Limits::default()).is_err());
}

#[test]
fn code_page_437_names_read_as_the_zip_crate_reads_them() {
    // No UTF-8 flag and invalid UTF-8: every high byte, decoded by both readers.
    let mut name: Vec<u8> = b"cp437-".to_vec();
    name.extend(0x80..=0xFFu8);
    let bytes = write(&[RawEntry::stored(&name, b"x")], &RawOptions::default());
    let ours = ZipArchive::parse(Source::Mem(&bytes), &Limits::default()).unwrap();
    let mut theirs = zip::ZipArchive::new(Cursor::new(&bytes[..])).unwrap();
    let f = theirs.by_index(0).unwrap();
    assert_eq!(ours.entries[0].name, f.name().unwrap());
    assert!(!ours.entries[0].name_is_utf8);
    assert_eq!(ours.entries[0].name.chars().count(), name.len());
}

fn write_tree(root: &Path, files: &[(&str, Vec<u8>)]) {
    for (name, data) in files {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
}

/// 7-Zip writes the archive (stored and deflate); kbscan must read every file back.
#[test]
fn seven_zip_archives_read_back_exactly() {
    if !require::tool("7zz") {
        return;
    }
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("a.txt", b"hello\n".repeat(1000)),
        ("sub/noise.bin", noise(200_000, 21)),
        ("sub/empty", Vec::new()),
        ("sub/zeros.bin", vec![0; 1 << 20]),
        ("ünïcødé/ß.txt", "straße ".repeat(500).into_bytes()),
        (
            "Windows6.1-KB1-x64.msu",
            [&b"MSCF"[..], &noise(50_000, 22)].concat(),
        ),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write_tree(&src, &files);
    std::fs::create_dir_all(src.join("emptydir")).unwrap();
    for (method, code) in [("Deflate", 8u16), ("Copy", 0)] {
        let out = tmp.path().join(format!("{method}.zip"));
        let status = Command::new("7zz")
            .current_dir(&src)
            .args(["a", "-tzip", "-bd", "-bso0", &format!("-mm={method}")])
            .arg(&out)
            .arg(".")
            .status()
            .expect("run 7zz");
        assert!(status.success());
        let bytes = std::fs::read(&out).unwrap();
        let zip = ZipArchive::parse(Source::Mem(&bytes), &Limits::default()).unwrap();
        let got = read_all(&zip);
        for (name, data) in &files {
            let hits: Vec<_> = got.iter().filter(|(e, _)| e.name == *name).collect();
            assert_eq!(hits.len(), 1, "{method}: {name}");
            let (e, read) = hits[0];
            assert_eq!(read.as_deref(), Ok(&data[..]), "{method}: {name}");
            assert!(
                e.method == code || e.method == 0,
                "{method}: {name}: {}",
                e.method
            );
            assert!(e.name_is_utf8);
        }
        let dirs: Vec<&str> = got
            .iter()
            .filter(|(e, _)| e.is_dir)
            .map(|(e, _)| e.name.as_str())
            .collect();
        assert!(dirs.contains(&"emptydir/"), "{dirs:?}");
        if code == 8 {
            let deflated = got.iter().filter(|(e, _)| e.method == 8).count();
            assert!(deflated >= 3, "7-Zip deflated only {deflated} entries");
        }
    }
}
