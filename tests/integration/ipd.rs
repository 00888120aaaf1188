//! Intra-Package Delta payloads end to end through the `kbscan` binary: PA30 header facts
//! on delta targets, header and size errors, and sub-package resolution — on a small
//! synthetic IPD payload (always) and on the genuine KB2999226 payloads in
//! `../shared/real` (skipped with a clear message when absent, failing instead under
//! `KBSCAN_REQUIRE_TOOLS=1`).
//!
//! Ground truth for the synthetic payload is written here by hand (a PA30 bit writer of
//! its own, the index XML and `.mum` text), not produced by kbscan code.

use crate::util::{arg, require, scan_json, tempdir};
use kbscan_fixtures::cab::{write_cab, CabFile, CabFolder, CabSpec, Compression};
use serde_json::Value;

/// LSB-first bit writer with the PA30 integer coding (`k` zeros, a one, `k+1` nibbles).
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    n: usize,
}

impl Bits {
    fn put(&mut self, v: u64, count: u32) -> &mut Self {
        for i in 0..count {
            if self.n % 8 == 0 {
                self.out.push(0);
            }
            if (v >> i) & 1 == 1 {
                let last = self.out.len() - 1;
                self.out[last] |= 1 << (self.n % 8);
            }
            self.n += 1;
        }
        self
    }
    fn int(&mut self, v: u64) -> &mut Self {
        let nibbles = (64 - v.leading_zeros()).div_ceil(4).max(1);
        self.put(1 << (nibbles - 1), nibbles);
        self.put(v, 4 * nibbles)
    }
    fn buf(&mut self, b: &[u8]) -> &mut Self {
        self.int(b.len() as u64);
        while self.n % 8 != 0 {
            self.put(0, 1);
        }
        for x in b {
            self.put(u64::from(*x), 8);
        }
        self
    }
}

const HASH: [u8; 16] = *b"0123456789abcdef";

fn pa30(target_size: u64) -> Vec<u8> {
    let mut b = Bits::default();
    b.put(0, 3) // no padding in the last byte
        .int(0x0f) // executables-1
        .int(0x08) // amd64
        .int(0x2e63e)
        .int(target_size)
        .int(0x8003) // CALG_MD5
        .buf(&HASH)
        .buf(b"")
        .buf(b"body");
    let mut d = b"PA30".to_vec();
    // 2015-07-18T13:08:32Z
    d.extend_from_slice(&130_816_985_122_994_592u64.to_le_bytes());
    d.extend_from_slice(&b.out);
    d
}

fn mum(name: &str, body: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0" creationTimeStamp="2015-09-10T14:57:56Z">
  <assemblyIdentity name="{name}" version="6.0.1.6" language="neutral" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" />
  <package identifier="KB9999001" releaseType="Update">
{body}
  </package>
</assembly>"#
    )
    .into_bytes()
}

fn package_ref(update: &str, name: &str) -> String {
    format!(
        r#"    <update name="{update}"><package integrate="hidden"><assemblyIdentity name="{name}" version="6.0.1.6" language="neutral" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" /></package></update>"#
    )
}

fn component_ref(update: &str, version: &str) -> String {
    format!(
        r#"    <update name="{update}"><component><assemblyIdentity name="Microsoft-Windows-Test" version="{version}" processorArchitecture="amd64" language="neutral" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS" /></component></update>"#
    )
}

const KEY: &str =
    "amd64_microsoft-windows-test_31bf3856ad364e35_6.0.6002.19488_none_0123456789abcdef";

fn synthetic_payload() -> Vec<u8> {
    let update = mum(
        "Package_for_KB9999001",
        &[
            package_ref("1_PACKAGE", "Package_for_KB9999001_client"),
            package_ref("2_PACKAGE", "Package_for_KB9999001_server"),
        ]
        .join("\n"),
    );
    let client = mum(
        "Package_for_KB9999001_client",
        &package_ref("3_PACKAGE", "Package_1_for_KB9999001"),
    );
    let inner = mum(
        "Package_1_for_KB9999001",
        &[
            component_ref("9999001-1_neutral_GDR", "6.0.6002.19488"),
            component_ref("9999001-2_neutral_LDR", "6.0.6002.23798"),
        ]
        .join("\n"),
    );
    let target = |id: u32, name: &str, len: u64, source: &str| {
        format!(
            r#"<File id="{id}" name="{name}" length="{len}" time="130859417005423072" attr="32"><Hash alg="SHA1" value="0000000000000000000000000000000000000000"/><Delta>{source}</Delta></File>"#
        )
    };
    let cix = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Container name="kb9999001.cab" type="CAB" length="1" version="1" xmlns="urn:ContainerIndex"><Description/><Files>{}{}{}{}</Files></Container>"#,
        target(
            1,
            &format!("{KEY}\\good.dll"),
            4096,
            r#"<Source type="PA30" name="1"/>"#
        ),
        target(
            2,
            &format!("{KEY}\\bigger.dll"),
            5000,
            r#"<Source type="PA30" name="2"/>"#
        ),
        target(
            3,
            &format!("{KEY}\\broken.dll"),
            100,
            r#"<Source type="PA30" name="3"/>"#
        ),
        target(4, &format!("{KEY}\\copy.dll"), 4096, r#"<Basis file="1"/>"#),
    );
    let mut broken = pa30(100);
    broken.truncate(16); // ends inside the header
    write_cab(&CabSpec {
        folders: vec![CabFolder {
            compression: Compression::MsZip,
            files: vec![
                CabFile::new("_manifest_.cix.xml", cix.into_bytes()),
                CabFile::new("update.mum", update),
                CabFile::new(
                    "package_for_kb9999001_client~31bf3856ad364e35~amd64~~6.0.1.6.mum",
                    client,
                ),
                CabFile::new(
                    "package_1_for_kb9999001~31bf3856ad364e35~amd64~~6.0.1.6.mum",
                    inner,
                ),
                CabFile::new("1", pa30(4096)),
                CabFile::new("2", pa30(4097)),
                CabFile::new("3", broken),
            ],
        }],
        set_id: 1,
        reserve: None,
    })
}

fn file<'a>(p: &'a Value, name: &str) -> &'a Value {
    p["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name && f["kind"] == "delta")
        .unwrap_or_else(|| panic!("delta target {name}"))
}

#[test]
fn synthetic_ipd_header_facts_errors_and_sub_packages() {
    let dir = tempdir();
    let path = dir.path().join("Windows6.0-KB9999001-x64.cab");
    std::fs::write(&path, synthetic_payload()).unwrap();
    let (v, code) = scan_json(&[arg(&path)]);
    assert_eq!(code, 1, "errors are reported: {v:#}");
    let p = &v["packages"][0];
    assert_eq!(p["payloads"][0]["layout"], "ipd");

    let good = &file(p, "good.dll")["delta"];
    assert_eq!(good["format"], "PA30");
    assert_eq!(good["target_size"], 4096);
    assert_eq!(good["target_time"], "2015-07-18T13:08:32Z");
    assert_eq!(good["target_filetime"], 130_816_985_122_994_592u64);
    assert_eq!(good["file_type_set"], "executables-1");
    assert_eq!(good["file_type"], "amd64");
    assert_eq!(good["flags"], "0x2e63e");
    assert_eq!(good["flag_names"][0], "MARK");
    assert_eq!(good["target_hash_alg"], "MD5");
    assert_eq!(good["target_hash"], "30313233343536373839616263646566");
    assert_eq!(
        good["note"],
        "delta-compressed, target 4,096 bytes, MD5 30313233343536373839616263646566"
    );
    assert_eq!(good["decoded"], false);

    let copy = &file(p, "copy.dll")["delta"];
    assert_eq!(copy["format"], "COPY");
    assert!(copy["note"].as_str().unwrap().starts_with("copy of "));

    let errors = p["errors"].as_array().unwrap();
    let err = |kind: &str, target: &str| {
        errors
            .iter()
            .find(|e| e["kind"] == kind && e["path"].as_str().unwrap().ends_with(target))
            .unwrap_or_else(|| panic!("{kind} for {target} in {errors:#?}"))
    };
    let m = err("ipd_size_mismatch", "\\bigger.dll");
    assert!(m["message"].as_str().unwrap().contains("4097"), "{m}");
    let h = err("ipd_delta_header", "\\broken.dll");
    assert!(h["message"].as_str().unwrap().contains("msdelta_"), "{h}");
    assert_eq!(
        errors.len(),
        2,
        "no other errors (good.dll and the copy are fine): {errors:#?}"
    );
    let bigger = file(p, "bigger.dll");
    assert!(bigger["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["check"] == "pa30_target_size_vs_index" && c["outcome"] == "mismatch"));

    // Sub-packages: the client resolves through Package_1 to both components; the
    // server's `.mum` is absent.
    let subs = p["sub_packages"].as_array().unwrap();
    let names: Vec<&str> = subs
        .iter()
        .map(|s| s["identity"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Package_for_KB9999001_client",
            "Package_for_KB9999001_server",
            "Package_1_for_KB9999001"
        ]
    );
    let client = &subs[0];
    assert_eq!(client["found"], true);
    assert_eq!(client["referenced_by"], "Package_for_KB9999001");
    assert_eq!(client["packages"][0], "Package_1_for_KB9999001");
    let comps = client["components"].as_array().unwrap();
    assert_eq!(comps.len(), 2);
    assert_eq!(comps[0]["identity"]["version"], "6.0.6002.19488");
    assert_eq!(comps[0]["branch"], "GDR");
    assert_eq!(comps[1]["branch"], "LDR");
    assert_eq!(comps[1]["package"], "Package_1_for_KB9999001");
    assert_eq!(subs[1]["found"], false);
    assert!(subs[1]["manifest"].is_null());
    assert_eq!(subs[1]["components"].as_array().unwrap().len(), 0);
}

/// Every PA30 target of the genuine payloads carries its header facts, the header's
/// target size equals the index length, every PA30 target (and its copies)
/// decodes to verified PE files with their true version, and the sub-packages resolve.
#[test]
fn genuine_ipd_payloads() {
    let Some(real) = require::shared_real() else {
        return;
    };
    // (package, PA30 targets, of which decoded natively: all of them, the deltas
    // against nothing and those against a basis through the PE source transforms).
    let cases = [
        ("cab/Windows6.0-KB2999226-x64.cab", 86usize, 86usize),
        ("cab/Windows6.0-KB2999226-x86.cab", 43, 43),
        ("msu/Windows6.1-KB2999226-x64.msu", 48, 48),
    ];
    for (rel, pa30, decoded) in cases {
        let (v, code) = scan_json(&[arg(&real.join(rel))]);
        assert_eq!(code, 0, "{rel}: {:#}", v["errors"]);
        let p = &v["packages"][0];
        assert_eq!(p["kb"], "KB2999226");
        assert_eq!(p["errors"].as_array().unwrap().len(), 0, "{rel}");
        let targets: Vec<&Value> = p["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["delta"]["format"] == "PA30")
            .collect();
        assert_eq!(targets.len(), pa30, "{rel}: PA30 targets");
        for f in &targets {
            let d = &f["delta"];
            assert_eq!(d["target_hash_alg"], "MD5", "{rel} {}", f["path"]);
            assert_eq!(d["target_hash"].as_str().unwrap().len(), 32);
            assert!(d["target_time"].as_str().unwrap().starts_with("2015-07-"));
            assert!(["raw", "i386", "amd64"].contains(&d["file_type"].as_str().unwrap()));
            assert!(d["note"]
                .as_str()
                .unwrap()
                .starts_with("delta-compressed, target "));
            assert!(f["checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["check"] == "pa30_target_size_vs_index" && c["outcome"] == "ok"));
        }
        println!("{rel}: {pa30} PA30 headers parsed, every target size matches the index");

        // Decoded targets (PA30 and their copies) are real files: verified bytes, PE facts.
        let delta_targets: Vec<&Value> = p["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["delta"].is_object())
            .collect();
        let done: Vec<&&Value> = delta_targets
            .iter()
            .filter(|f| f["delta"]["decoded"] == true)
            .collect();
        let done_pa30 = done
            .iter()
            .filter(|f| f["delta"]["format"] == "PA30")
            .count();
        let done_copy = done
            .iter()
            .filter(|f| f["delta"]["format"] == "COPY")
            .count();
        assert_eq!(
            done_pa30, decoded,
            "{rel}: {done_pa30} PA30 targets decoded"
        );
        assert_eq!(
            done_copy, done_pa30,
            "{rel}: each decoded target's copy decodes too"
        );
        for f in &done {
            assert_eq!(f["kind"], "pe", "{rel} {}", f["path"]);
            assert_eq!(f["sha256"].as_str().unwrap().len(), 64);
            assert_eq!(f["size"], f["delta"]["target_size"]);
            assert_eq!(
                f["versions"]["pe_file"], "10.0.10240.16390",
                "{rel} {}",
                f["path"]
            );
            assert!(f["delta"]["decode_error"].is_null());
        }
        for f in delta_targets
            .iter()
            .filter(|f| f["delta"]["decoded"] == false)
        {
            assert!(
                f["delta"]["decode_error"]
                    .as_str()
                    .is_some_and(|e| !e.is_empty()),
                "{rel} {}: a reason",
                f["path"]
            );
        }
        let ipd = &p["payloads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|pl| pl["layout"] == "ipd")
            .unwrap()["ipd"];
        assert_eq!(ipd["decoded"], done.len());
        println!(
            "{rel}: {done_pa30} PA30 and {done_copy} COPY targets decoded and verified (MD5, SHA-1)"
        );

        let subs = p["sub_packages"].as_array().unwrap();
        assert!(
            subs.iter().all(|s| s["found"] == true),
            "{rel}: every .mum present"
        );
        let by = |name: &str| {
            subs.iter()
                .find(|s| s["identity"]["name"] == name)
                .unwrap_or_else(|| panic!("{rel}: sub-package {name}"))
        };
        let gdr_ldr = |s: &Value| {
            let comps = s["components"].as_array().unwrap();
            let has = |b: &str| comps.iter().any(|c| c["branch"] == b);
            assert!(has("GDR") && has("LDR"), "{rel}: {}", s["identity"]["name"]);
            comps.iter().all(|c| {
                c["identity"]["name"]
                    .as_str()
                    .unwrap()
                    .to_ascii_lowercase()
                    .contains("crt")
                    || c["identity"]["name"].as_str().unwrap().len() == 32
            })
        };
        if rel.starts_with("cab/") {
            for s in [
                "Package_for_KB2999226_client",
                "Package_for_KB2999226_server",
                "Package_for_KB2999226_sc",
            ] {
                let sp = by(s);
                assert_eq!(sp["referenced_by"], "Package_for_KB2999226");
                assert!(gdr_ldr(sp), "{rel} {s}: only C runtime components");
            }
            for s in [
                "Package_for_KB2999226_client_BF",
                "Package_for_KB2999226_server_BF",
                "Package_for_KB2999226_sc_BF",
            ] {
                let sp = by(s);
                assert!(
                    !sp["components"].as_array().unwrap().is_empty(),
                    "{rel} {s}"
                );
            }
        } else {
            assert!(gdr_ldr(by("Package_for_KB2999226_RTM")));
            assert!(!by("Package_for_KB2999226_RTM_BF")["components"]
                .as_array()
                .unwrap()
                .is_empty());
        }
    }
}

fn scan_args(path: &std::path::Path, extra: &[&str]) -> (Value, i32) {
    let mut args = extra.to_vec();
    args.push(arg(path));
    scan_json(&args)
}

fn kinds(v: &Value) -> Vec<String> {
    v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Issue 15, finding 3c: copies of a decoded target were neither charged to the package
/// budget nor shared (24,000 COPY targets of a 1.2 MB file took 2.3 GB at
/// `--max-package-bytes 20M`). Now every decoded or copied byte is charged, copies share
/// their basis's bytes, and every listed target takes a record.
#[test]
fn copy_targets_are_charged_to_the_package_budget_and_the_record_budget() {
    let dir = tempfile::tempdir().unwrap();
    let cab = dir.path().join("copies.cab");
    // 64 KiB basis, 2,000 copies: 128 MiB of output from a small file.
    std::fs::write(
        &cab,
        kbscan_fixtures::hostile::ipd_copies(64 * 1024, 2_000, None),
    )
    .unwrap();

    // Default limits: everything decodes and verifies (the copies share one basis).
    let (v, code) = scan_args(&cab, &[]);
    assert_eq!(code, 0, "{:?}", kinds(&v));
    assert_eq!(v["packages"][0]["payloads"][0]["ipd"]["decoded"], 2_001);

    // A package budget of 20 MiB stops the copies after ~320 (64 KiB each), once.
    let (v, code) = scan_args(&cab, &["--max-package-bytes", "20M"]);
    assert_eq!(code, 1);
    let k = kinds(&v);
    assert_eq!(
        k,
        ["limit_package_bytes"],
        "one error for the payload, not one per target"
    );
    let decoded = v["packages"][0]["payloads"][0]["ipd"]["decoded"]
        .as_u64()
        .unwrap();
    assert!((300..=320).contains(&decoded), "{decoded} targets decoded");
    let undecoded = v["packages"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["delta"]["decode_error"]
                .as_str()
                .is_some_and(|e| e.contains("max_package_bytes"))
        })
        .count();
    assert_eq!(
        decoded as usize + undecoded,
        2_001,
        "every target is listed"
    );

    // The record budget counts targets like members.
    let (v, code) = scan_args(&cab, &["--max-records", "500"]);
    assert_eq!(code, 1);
    assert!(
        kinds(&v).contains(&"limit_records".to_string()),
        "{:?}",
        kinds(&v)
    );
    let listed = v["packages"][0]["files"].as_array().unwrap().len();
    assert!(listed <= 500, "{listed} records");
}

/// Issue 15, finding 3c: `held + length` with the index's length (the attacker's word)
/// wrapped in release builds and panicked in debug ones. Lengths near `u64::MAX` must be
/// neither: this test binary's kbscan is a debug build, with overflow checks.
#[test]
fn index_lengths_near_u64_max_neither_wrap_nor_panic() {
    let dir = tempfile::tempdir().unwrap();
    let cab = dir.path().join("lengths.cab");
    std::fs::write(
        &cab,
        kbscan_fixtures::hostile::ipd_copies(4096, 50, Some(u64::MAX)),
    )
    .unwrap();
    let (v, _) = scan_args(&cab, &[]);
    assert!(
        !kinds(&v).contains(&"internal_panic".to_string()),
        "{:?}",
        v["errors"]
    );
    // The bytes decode and verify whatever the index claims for their length.
    assert_eq!(v["packages"][0]["payloads"][0]["ipd"]["decoded"], 51);
}
