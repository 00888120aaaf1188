//! Damaged images: every test starts from a valid fixture and breaks one thing on purpose.
//! `read` must never panic; it must either fail with the right error kind or return what
//! it could read and say what was wrong in `anomalies`.

mod common;

use common::*;
use kbscan_fixtures::pe::{build_pe, build_pe_with_layout, PeLayout};
use kbscan_pe::{read, PeError, PeInfo, Version};

fn base() -> (Vec<u8>, PeLayout) {
    build_pe_with_layout(&base_spec())
}

#[track_caller]
fn expect_err(bytes: &[u8], kind: &str) -> PeError {
    match read(bytes) {
        Err(e) => {
            assert_eq!(e.kind(), kind, "{e}");
            e
        }
        Ok(info) => panic!("expected {kind}, got {info:?}"),
    }
}

#[track_caller]
fn expect_anomaly(info: &PeInfo, needle: &str) {
    assert!(
        info.anomalies.iter().any(|a| a.contains(needle)),
        "no anomaly containing {needle:?} in {:?}",
        info.anomalies
    );
}

#[track_caller]
fn assert_full_strings(info: &PeInfo) {
    let vr = info.version.as_ref().expect("version resource");
    assert_eq!(vr.strings.len(), 8, "{:?}", vr.strings);
    assert_eq!(
        vr.file_version_string.as_deref(),
        Some("6.0.6003.20489 (vistasp2_ldr_escrow.190320-1700)")
    );
}

#[test]
fn truncated_at_every_97th_byte() {
    let (img, layout) = base();
    let version = layout.version_offset.unwrap();
    let mut partial = 0;
    for cut in (0..img.len()).step_by(97) {
        let r = read(&img[..cut]);
        if cut < layout.section_table_offset + 2 * 40 {
            // Not even the headers are complete.
            let e = r.expect_err("headers cut");
            assert!(
                ["pe_not_pe", "pe_truncated"].contains(&e.kind()),
                "cut {cut}: {e}"
            );
        } else if cut < version {
            // The section table is complete but the resource directory is cut (or gone).
            let e = r.expect_err("directory cut");
            assert_eq!(e.kind(), "pe_resource_directory", "cut {cut}: {e}");
        } else {
            // The directory is whole; the version data is cut: a partial result.
            let info = r.unwrap_or_else(|e| panic!("cut {cut}: {e}"));
            assert!(!info.anomalies.is_empty(), "cut {cut}");
            partial += 1;
        }
    }
    assert!(partial > 0, "some cuts land in the version data");
    assert!(read(&img).unwrap().anomalies.is_empty());
}

#[test]
fn resource_directory_truncated_mid_entry() {
    let (img, layout) = base();
    let [_, name_dir, _, _] = layout.rsrc_dirs.unwrap();
    // Cut the file four bytes into the name directory's only entry.
    let cut = name_dir + 16 + 4;
    let e = expect_err(&img[..cut], "pe_resource_directory");
    assert!(matches!(e, PeError::ResourceDirectory { .. }));
    assert!(e.to_string().contains("runs past"), "{e}");

    // Same, but the file is intact and the section's raw size ends there.
    let mut img2 = img.clone();
    let rsrc = &layout.sections[1];
    put_u32(
        &mut img2,
        rsrc.header_offset + 16,
        (cut - rsrc.raw_offset as usize) as u32,
    );
    // Virtual size too, so no part of the directory is even virtually in the section.
    put_u32(
        &mut img2,
        rsrc.header_offset + 8,
        (cut - rsrc.raw_offset as usize) as u32,
    );
    expect_err(&img2, "pe_resource_directory");
}

#[test]
fn resource_directory_outside_every_section() {
    let (mut img, layout) = base();
    let rsrc_rva = layout.rsrc_rva.unwrap();
    // Data directory 2 lives 16 + 8*2 bytes before the end of the optional header.
    let dd = layout.section_table_offset - 16 * 8 + 2 * 8;
    assert_eq!(
        u32::from_le_bytes(img[dd..dd + 4].try_into().unwrap()),
        rsrc_rva
    );
    put_u32(&mut img, dd, 0x00F0_0000);
    expect_err(&img, "pe_resource_directory");
}

#[test]
fn self_referencing_resource_directory() {
    let (img, layout) = base();
    let base_off = layout.rsrc_offset.unwrap();
    let [root, name_dir, lang_dir, _] = layout.rsrc_dirs.unwrap();
    let rel = |abs: usize| (abs - base_off) as u32 | 0x8000_0000;
    // (entry to patch, where it now points): root → root, name → itself, lang → name.
    for (entry_dir, target) in [(root, root), (name_dir, name_dir), (lang_dir, name_dir)] {
        let mut bad = img.clone();
        put_u32(&mut bad, entry_dir + 16 + 4, rel(target));
        let e = expect_err(&bad, "pe_resource_directory");
        assert!(e.to_string().contains("loops"), "{e}");
    }
    // A language entry pointing to a fresh (non-ancestor) table: too deep, not followed.
    let mut bad = img.clone();
    put_u32(&mut bad, lang_dir + 16 + 4, rel(base_off + 0x100));
    let e = expect_err(&bad, "pe_resource_directory");
    assert!(e.to_string().contains("deeper"), "{e}");
}

#[test]
fn no_version_resource() {
    let mut s = base_spec();
    s.version = None;
    let info = read(&build_pe(&s)).unwrap();
    assert!(info.version.is_none());
    assert!(info.anomalies.is_empty(), "{:?}", info.anomalies);
    assert_eq!(info.machine_name, "x64");

    // A resource directory without RT_VERSION: change the type id 16 → 24 (manifest).
    let (mut img, layout) = base();
    put_u32(&mut img, layout.rsrc_dirs.unwrap()[0] + 16, 24);
    let info = read(&img).unwrap();
    assert!(info.version.is_none());
}

#[test]
fn zeroed_fixed_info() {
    let (img, layout) = base();
    let fixed = layout.fixed_info_offset.unwrap();

    let mut all_zero = img.clone();
    all_zero[fixed..fixed + 52].fill(0);
    let info = read(&all_zero).unwrap();
    let vr = info.version.as_ref().unwrap();
    assert_eq!(vr.file_version, None);
    assert_eq!(vr.product_version, None);
    assert_eq!(
        vr.file_version_from_string,
        Some(Version::new(6, 0, 6003, 20489))
    );
    assert_full_strings(&info);
    expect_anomaly(&info, "VS_FIXEDFILEINFO");

    // Signature kept, versions zeroed.
    let mut zero_versions = img.clone();
    zero_versions[fixed + 8..fixed + 24].fill(0);
    let info = read(&zero_versions).unwrap();
    let vr = info.version.as_ref().unwrap();
    assert_eq!((vr.file_version, vr.product_version), (None, None));
    expect_anomaly(&info, "all zero");
    assert_full_strings(&info);

    // No fixed info at all (wValueLength 0 and no signature).
    let mut missing = all_zero;
    put_u16(&mut missing, layout.version_offset.unwrap() + 2, 0);
    let info = read(&missing).unwrap();
    expect_anomaly(&info, "no VS_FIXEDFILEINFO");
    assert_eq!(info.version.unwrap().file_version, None);
}

#[test]
fn huge_wlength_values() {
    let (img, layout) = base();
    let vo = layout.version_offset.unwrap();

    let mut root = img.clone();
    put_u16(&mut root, vo, 0xFFFF);
    let info = read(&root).unwrap();
    expect_anomaly(&info, "overruns");
    assert_full_strings(&info);

    // A string table claiming to run past StringFileInfo is clamped to it, so the
    // VarFileInfo block that follows is not misread as one of its strings.
    let mut table = img.clone();
    put_u16(&mut table, block_offset(&img, "040904B0"), 0xFFFF);
    let info = read(&table).unwrap();
    expect_anomaly(&info, "overruns");
    assert_full_strings(&info);
    assert!(!info.version.unwrap().strings.contains_key("VarFileInfo"));

    // The data entry claims 4 GiB.
    let mut entry = img.clone();
    put_u32(&mut entry, layout.rsrc_dirs.unwrap()[3] + 4, u32::MAX);
    let info = read(&entry).unwrap();
    expect_anomaly(&info, "limit");
    assert_full_strings(&info);

    // One String claims to run past its table: it and its table are clamped.
    let mut string = img.clone();
    let s = block_offset(&img, "InternalName");
    put_u16(&mut string, s, 0xFFFF);
    let info = read(&string).unwrap();
    expect_anomaly(&info, "overruns");
    let vr = info.version.unwrap();
    assert_eq!(
        vr.strings.get("CompanyName").map(String::as_str),
        Some("Microsoft Corporation")
    );

    // wLength smaller than a header: the walk stops there, no endless loop.
    let mut tiny = img.clone();
    put_u16(&mut tiny, s, 0);
    let info = read(&tiny).unwrap();
    expect_anomaly(&info, "wLength 0");
    assert!(info.version.unwrap().strings.contains_key("FileVersion"));
}

#[test]
fn wvaluelength_lies() {
    let (img, layout) = base();
    let vo = layout.version_offset.unwrap();
    let mut root = img.clone();
    put_u16(&mut root, vo + 2, 0xFFFF);
    let info = read(&root).unwrap();
    expect_anomaly(&info, "wValueLength");
    assert_eq!(
        info.version.as_ref().unwrap().file_version,
        Some(Version::new(6, 0, 6003, 20489))
    );
    assert_full_strings(&info);

    // String values are read to their NUL whatever wValueLength says.
    let mut strings = img.clone();
    for key in ["CompanyName", "FileVersion", "ProductVersion"] {
        let at = block_offset(&img, key);
        put_u16(
            &mut strings,
            at + 2,
            if key == "FileVersion" { 0 } else { 0xFFFF },
        );
    }
    let info = read(&strings).unwrap();
    assert_full_strings(&info);
}

#[test]
fn string_without_terminator() {
    let (img, _) = base();
    let mut bad = img.clone();
    let at = block_offset(&img, "ProductVersion");
    let len = get_u16(&img, at);
    put_u16(&mut bad, at, len - 2); // drop the value's NUL from the block
    let info = read(&bad).unwrap();
    expect_anomaly(&info, "no terminator");
    assert_eq!(
        info.version.unwrap().product_version_string.as_deref(),
        Some("6.0.6003.20489")
    );
}

#[test]
fn several_rt_version_entries_take_the_first_language() {
    // Pad the strings until the FileAlignment slack after the version data can hold a
    // new two-entry language table and a second data entry (48 bytes).
    let (mut img, layout) = (0..512)
        .map(|n| {
            let mut s = base_spec();
            let comment = "x".repeat(n);
            s.version
                .as_mut()
                .unwrap()
                .strings
                .push(("Comments".into(), comment));
            build_pe_with_layout(&s)
        })
        .find(|(_, l)| {
            let end = l.version_offset.unwrap() + l.version_len.unwrap();
            let r = &l.sections[1];
            ((end + 3) & !3) + 48 <= (r.raw_offset + r.raw_size) as usize
        })
        .unwrap();
    let base_off = layout.rsrc_offset.unwrap();
    let [_, name_dir, _, data_entry] = layout.rsrc_dirs.unwrap();
    let rsrc = &layout.sections[1];
    // Build a new two-entry language table and a second data entry in the slack after
    // the version data (the section is FileAlignment-padded).
    let slack = layout.version_offset.unwrap() + layout.version_len.unwrap();
    let table = (slack + 3) & !3;
    let second_entry = table + 16 + 16;
    assert!(second_entry + 16 <= (rsrc.raw_offset + rsrc.raw_size) as usize);
    put_u16(&mut img, table + 14, 2); // two id entries
    put_u32(&mut img, table + 16, 0x0407); // German first: lower id
    put_u32(&mut img, table + 20, (second_entry - base_off) as u32);
    put_u32(&mut img, table + 24, 0x0409);
    put_u32(&mut img, table + 28, (data_entry - base_off) as u32);
    // The German copy points to the same data but only its first 0x100 bytes.
    let data_rva = u32::from_le_bytes(img[data_entry..data_entry + 4].try_into().unwrap());
    put_u32(&mut img, second_entry, data_rva);
    put_u32(&mut img, second_entry + 4, 0x100);
    put_u32(
        &mut img,
        name_dir + 16 + 4,
        (table - base_off) as u32 | 0x8000_0000,
    );

    let info = read(&img).unwrap();
    expect_anomaly(&info, "2 RT_VERSION resources; using name 1 language 1031");
    let vr = info.version.unwrap();
    assert_eq!(vr.file_version, Some(Version::new(6, 0, 6003, 20489)));
    assert!(vr.strings.len() < 9, "the truncated first entry was used");
}

#[test]
fn resource_only_image_and_sections_past_eof() {
    let (img, layout) = base();
    let text = &layout.sections[0];

    // .text without raw data, as in resource-only DLLs.
    let mut res_only = img.clone();
    put_u32(&mut res_only, text.header_offset + 16, 0);
    put_u32(&mut res_only, text.header_offset + 20, 0);
    let info = read(&res_only).unwrap();
    assert_full_strings(&info);

    // .text claiming 2 GiB of raw data.
    let mut huge = img.clone();
    put_u32(&mut huge, text.header_offset + 16, 0x7FFF_FFFF);
    let info = read(&huge).unwrap();
    expect_anomaly(&info, "past the end of the file");
    assert_full_strings(&info);

    // .rsrc raw data running past EOF: what is in the file is still read.
    let rsrc = &layout.sections[1];
    let mut long = img.clone();
    put_u32(&mut long, rsrc.header_offset + 16, rsrc.raw_size + 0x10000);
    let info = read(&long).unwrap();
    expect_anomaly(&info, "past the end of the file");
    assert_full_strings(&info);
}

#[test]
fn not_pe_and_header_errors() {
    expect_err(b"", "pe_not_pe");
    expect_err(b"MZ", "pe_truncated");
    expect_err(&[0x7F, b'E', b'L', b'F', 0, 0], "pe_not_pe");

    let (img, layout) = base();
    let mut far = img.clone();
    put_u32(&mut far, 0x3C, 0xFFFF_FFF0);
    expect_err(&far, "pe_truncated");

    let mut no_sig = img.clone();
    no_sig[layout.coff_offset - 4] = b'X';
    expect_err(&no_sig, "pe_not_pe");

    let mut many = img.clone();
    put_u16(&mut many, layout.coff_offset + 2, 0xFFFF);
    expect_err(&many, "pe_too_large");

    let mut sections_cut = img.clone();
    put_u16(&mut sections_cut, layout.coff_offset + 2, 1000);
    expect_err(&sections_cut[..0x1000], "pe_truncated");

    let mut magic = img.clone();
    put_u16(&mut magic, layout.coff_offset + 20, 0x0107);
    let e = expect_err(&magic, "pe_header");
    assert!(
        std::error::Error::source(&e).is_some(),
        "goblin error kept as source"
    );

    let mut object = img;
    put_u16(&mut object, layout.coff_offset + 16, 0);
    expect_err(&object, "pe_malformed");
}

/// Flips random bytes in 2,000 mutants; `read` must never panic. Half the flips land in
/// the headers and half in `.rsrc`, where the interesting parsing is, instead of being
/// wasted on `.text`.
#[test]
fn random_byte_flips_never_panic() {
    let (img, layout) = base();
    let rsrc = layout.rsrc_offset.unwrap();
    let headers = layout.sections[0].raw_offset as usize;
    let mut rng = XorShift(0x0DDB_1A5E_5BAD_5EED);
    let (mut ok, mut err) = (0, 0);
    for _ in 0..2000 {
        let mut m = img.clone();
        let flips = 1 + rng.below(8);
        for _ in 0..flips {
            let at = if rng.next() & 1 == 0 {
                rng.below(headers)
            } else {
                rsrc + rng.below(img.len() - rsrc)
            };
            m[at] ^= 1 << rng.below(8);
            if rng.below(4) == 0 {
                m[at] = rng.next() as u8;
            }
        }
        match read(&m) {
            Ok(info) => {
                // Walk every accessor, as a consumer would.
                serde_json::to_string(&info).expect("PeInfo always serializes");
                ok += 1;
            }
            Err(e) => {
                assert!(!e.kind().is_empty());
                let _ = e.to_string();
                err += 1;
            }
        }
    }
    // Both outcomes must occur, or the mutator is not reaching the parser.
    assert!(ok > 100 && err > 10, "ok {ok} err {err}");
}
