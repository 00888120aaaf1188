//! ZIP walking: raw names, directories skipped, bounded reads, limits.

use std::io::{Cursor, Write};

use kbscan_archive::{sniff, zip::for_each_entry, Limits, Magic};
use zip::write::SimpleFileOptions;

fn build(entries: &[(&str, &[u8])], dirs: &[&str]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for d in dirs {
        w.add_directory(*d, opts).expect("dir");
    }
    for (name, data) in entries {
        w.start_file(*name, opts).expect("start");
        w.write_all(data).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

type Seen = Vec<(String, Result<Vec<u8>, &'static str>)>;

fn walk(bytes: &[u8], limits: &Limits) -> (Seen, Result<(), &'static str>) {
    let mut seen = Vec::new();
    let r = for_each_entry(bytes, limits, &mut |name, res| {
        seen.push((
            name.to_owned(),
            res.map(<[u8]>::to_vec).map_err(|e| e.kind()),
        ));
    });
    (seen, r.map_err(|e| e.kind()))
}

#[test]
fn raw_names_are_delivered_and_directories_skipped() {
    let big = vec![7u8; 200_000];
    let bytes = build(
        &[
            ("2019-04/Windows6.0-KB1-x64.msu", b"MSCF..."),
            ("../escape.txt", b"up"),
            ("/abs/path", b"abs"),
            ("big.bin", &big),
        ],
        &["2019-04/"],
    );
    assert_eq!(sniff(&bytes), Magic::Zip);
    let (seen, r) = walk(&bytes, &Limits::default());
    assert_eq!(r, Ok(()));
    let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "2019-04/Windows6.0-KB1-x64.msu",
            "../escape.txt",
            "/abs/path",
            "big.bin"
        ]
    );
    assert_eq!(seen[1].1, Ok(b"up".to_vec()));
    assert_eq!(seen[3].1.as_deref(), Ok(big.as_slice()));
}

#[test]
fn entry_limit_is_per_entry_and_total_limit_stops() {
    let bytes = build(
        &[
            ("a", &[1u8; 1000]),
            ("b", &[2u8; 5000]),
            ("c", &[3u8; 1000]),
        ],
        &[],
    );
    let limits = Limits {
        max_entry_bytes: 2000,
        ..Limits::default()
    };
    let (seen, r) = walk(&bytes, &limits);
    assert_eq!(r, Ok(()));
    let kinds: Vec<_> = seen
        .iter()
        .map(|(n, r)| (n.as_str(), r.as_ref().err().copied()))
        .collect();
    assert_eq!(kinds, [("a", None), ("b", Some("zip_limit")), ("c", None)]);

    let limits = Limits {
        max_total_bytes: 3000,
        ..Limits::default()
    };
    let (seen, r) = walk(&bytes, &limits);
    assert_eq!(r, Err("zip_limit"));
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].1, Err("zip_limit"));
}

#[test]
fn empty_and_garbage_archives() {
    let empty = build(&[], &[]);
    assert_eq!(sniff(&empty), Magic::Zip);
    assert_eq!(walk(&empty, &Limits::default()).1, Ok(()));
    assert_eq!(
        walk(b"PK\x03\x04garbage", &Limits::default()).1,
        Err("zip_archive")
    );
    assert_eq!(walk(b"", &Limits::default()).1, Err("zip_archive"));
}

#[test]
fn every_truncation_and_bit_flip_is_handled() {
    let bytes = build(
        &[("a.txt", b"hello hello hello hello"), ("b", &[9u8; 3000])],
        &[],
    );
    for len in 0..bytes.len() {
        let _ = walk(&bytes[..len], &Limits::default());
    }
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0xA5;
        let _ = walk(&b, &Limits::default());
    }
}
