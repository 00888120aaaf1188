//! Three-way agreement: what the fixture writer was asked for, what kbscan-pe reads, and
//! what the independent `pelite` parser reads, for x86/x64 EXE/DLL/SYS images.

mod common;

use common::*;
use kbscan_fixtures::pe::{build_pe, Machine, PeKind, PeSpec, VersionSpec};
use kbscan_pe::{Kind, Version};
use std::collections::BTreeMap;

fn v(a: [u16; 4]) -> Version {
    Version::new(a[0], a[1], a[2], a[3])
}

struct Pelite {
    machine: u16,
    /// CheckSum field as stored, and as pelite recomputes it from the bytes.
    check_sum: (u32, u32),
    file_version: [u16; 4],
    product_version: [u16; 4],
    strings: BTreeMap<String, String>,
}

fn read_with_pelite(bytes: &[u8]) -> Pelite {
    let file = pelite::PeFile::from_bytes(bytes).expect("pelite parses the image");
    let machine = file.file_header().Machine;
    let stored = match file.optional_header() {
        pelite::Wrap::T32(h) => h.CheckSum,
        pelite::Wrap::T64(h) => h.CheckSum,
    };
    let check_sum = (stored, file.headers().check_sum());
    let vi = file
        .resources()
        .expect("pelite finds resources")
        .version_info()
        .expect("pelite finds the version info");
    let fixed = vi.fixed().expect("pelite finds VS_FIXEDFILEINFO");
    // pelite names the high word of the LS dword `Patch` and the low word `Build`; its
    // own Display prints Major.Minor.Patch.Build, which is our major.minor.build.revision.
    let q = |x: pelite::image::VS_VERSION| [x.Major, x.Minor, x.Patch, x.Build];
    let lang = *vi
        .translation()
        .first()
        .expect("pelite finds a translation");
    let mut strings = BTreeMap::new();
    vi.strings(lang, |k, v| {
        strings.insert(k.to_string(), v.to_string());
    });
    Pelite {
        machine,
        check_sum,
        file_version: q(fixed.dwFileVersion),
        product_version: q(fixed.dwProductVersion),
        strings,
    }
}

#[track_caller]
fn check(spec: &PeSpec) {
    let bytes = build_pe(spec);
    let want = spec.version.as_ref().unwrap();
    let want_strings: BTreeMap<String, String> = want.strings.iter().cloned().collect();
    let (want_machine, want_name, want_64) = match spec.machine {
        Machine::I386 => (0x14C, "x86", false),
        Machine::Amd64 => (0x8664, "x64", true),
    };

    let info = kbscan_pe::read(&bytes).expect("kbscan-pe reads the fixture");
    assert_eq!(info.machine, want_machine);
    assert_eq!(info.machine_name, want_name);
    assert_eq!(info.is_64, want_64);
    let want_kind = match spec.kind {
        PeKind::Exe => Kind::Exe,
        PeKind::Dll => Kind::Dll,
        PeKind::Sys => Kind::Sys,
    };
    assert_eq!(info.kind, want_kind);
    assert_eq!(info.timestamp, spec.timestamp);
    assert!(info.anomalies.is_empty(), "{:?}", info.anomalies);
    let got = info.version.expect("version resource");
    assert_eq!(got.file_version, Some(v(want.file_version)));
    assert_eq!(got.product_version, Some(v(want.product_version)));
    assert_eq!(
        got.string_table.as_deref(),
        Some(want.lang_codepage.as_str())
    );
    assert_eq!(got.strings, want_strings);
    assert_eq!(
        got.file_version_string.as_ref(),
        want_strings.get("FileVersion")
    );
    assert_eq!(
        got.product_version_string.as_ref(),
        want_strings.get("ProductVersion")
    );
    assert_eq!(
        got.original_filename.as_ref(),
        want_strings.get("OriginalFilename")
    );
    assert_eq!(got.company_name.as_ref(), want_strings.get("CompanyName"));

    let p = read_with_pelite(&bytes);
    assert_eq!(p.machine, want_machine);
    assert_eq!(p.file_version, want.file_version);
    assert_eq!(p.product_version, want.product_version);
    assert_eq!(p.strings, want_strings);
    assert_eq!(p.check_sum.0, p.check_sum.1, "image checksum");

    // A strict full parse by goblin must accept the fixture too: the writer's headers
    // (alignments, SizeOfImage, directories) are consistent, not just good enough for us.
    goblin::pe::PE::parse(&bytes).expect("goblin strict parse");
}

#[test]
fn x86_driver_with_the_last_6002_ldr_revision() {
    let s = spec(
        Machine::I386,
        PeKind::Sys,
        "tcpip.sys",
        LDR_2019_03,
        BRANCH_2019_03,
    );
    check(&s);
    let info = kbscan_pe::read(&build_pe(&s)).unwrap();
    let vr = info.version.unwrap();
    assert_eq!(
        vr.file_version_string.as_deref(),
        Some("6.0.6002.24566 (vistasp2_ldr_escrow.190311-1800)")
    );
    assert_eq!(vr.file_version_from_string, Some(v(LDR_2019_03)));
    assert_eq!(vr.branch_tag.as_deref(), Some(BRANCH_2019_03));
}

#[test]
fn x64_driver_after_the_move_to_6003() {
    let s = spec(
        Machine::Amd64,
        PeKind::Sys,
        "tcpip.sys",
        LDR_2019_04,
        BRANCH_2019_04,
    );
    check(&s);
    let vr = kbscan_pe::read(&build_pe(&s)).unwrap().version.unwrap();
    assert_eq!(
        vr.file_version_string.as_deref(),
        Some("6.0.6003.20489 (vistasp2_ldr_escrow.190320-1700)")
    );
    assert_eq!(vr.file_version_from_string, Some(v(LDR_2019_04)));
    assert_eq!(vr.branch_tag.as_deref(), Some(BRANCH_2019_04));
}

#[test]
fn exes_and_dlls_both_machines() {
    for machine in [Machine::I386, Machine::Amd64] {
        for (kind, name) in [(PeKind::Exe, "ntoskrnl.exe"), (PeKind::Dll, "kernel32.dll")] {
            for (ver, branch) in [
                ([6, 0, 6002, 18005], "lh_sp2rtm.090410-1830"),
                (LDR_2019_03, BRANCH_2019_03),
                (LDR_2019_04, BRANCH_2019_04),
                ([6, 1, 7601, 24576], ""),
            ] {
                check(&spec(machine, kind, name, ver, branch));
            }
        }
    }
}

#[test]
fn non_english_table_and_distinct_product_version() {
    let mut s = spec(
        Machine::Amd64,
        PeKind::Dll,
        "mshtml.dll",
        [8, 0, 6001, 18702],
        "",
    );
    let vs: &mut VersionSpec = s.version.as_mut().unwrap();
    vs.lang_codepage = "040704B0".into();
    vs.product_version = [8, 0, 6001, 0];
    vs.strings.push(("Comments".into(), "Überprüfung €".into()));
    check(&s);
    let vr = kbscan_pe::read(&build_pe(&s)).unwrap().version.unwrap();
    assert_eq!(vr.string_table.as_deref(), Some("040704B0"));
    assert_eq!(vr.branch_tag, None);
}

#[test]
fn empty_string_values_survive() {
    let mut s = base_spec();
    s.version
        .as_mut()
        .unwrap()
        .strings
        .push(("Comments".into(), String::new()));
    check(&s);
}

#[test]
fn writer_is_deterministic_and_sized() {
    let a = build_pe(&base_spec());
    assert_eq!(a, build_pe(&base_spec()));
    let mut other = base_spec();
    other.seed ^= 1;
    assert_ne!(a, build_pe(&other));
    let mut big = base_spec();
    big.body_len = 300_000;
    let big = build_pe(&big);
    assert!(
        big.len() > 300_000 && big.len() < 300_000 + 0x1000,
        "{}",
        big.len()
    );
    assert_eq!(big.len() % 0x200, 0, "file is FileAlignment-padded");
}

#[test]
fn serialized_shape() {
    let info = kbscan_pe::read(&build_pe(&base_spec())).unwrap();
    let j = serde_json::to_value(&info).unwrap();
    assert_eq!(j["kind"], "sys");
    assert_eq!(j["machine_name"], "x64");
    assert_eq!(j["machine"], 0x8664);
    assert_eq!(j["version"]["file_version"], "6.0.6003.20489");
    assert_eq!(j["version"]["branch_tag"], BRANCH_2019_04);
    assert_eq!(j["version"]["string_table"], "040904B0");
    assert_eq!(j["version"]["strings"]["OriginalFilename"], "tcpip.sys");
    assert_eq!(j["anomalies"], serde_json::json!([]));
}
