//! End-to-end tests of the `kbscan` binary on the committed corpus and, when present,
//! on the genuine packages in `../shared/real`.
//!
//! Ground truth comes from `kbscan_fixtures::corpus::packages()` (the table the corpus
//! is generated from) and from an independent PE parser (`pelite`), never from kbscan.

use crate::util::{kbscan, require, root, scan_json, stdout_json, tempdir};
#[cfg(unix)]
use crate::util::{kbscan_within_20s, mkfifo};
use kbscan_fixtures::corpus::{self, Arch, Location, PackageSpec};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn packages(v: &Value) -> &Vec<Value> {
    v["packages"].as_array().expect("packages array")
}

fn find_pkg<'a>(v: &'a Value, spec: &PackageSpec) -> &'a Value {
    let kb = format!("KB{}", spec.kb);
    let hits: Vec<&Value> = packages(v)
        .iter()
        .filter(|p| p["kb"] == kb.as_str() && p["architecture"] == spec.arch.cbs())
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "exactly one package {kb} {}",
        spec.arch.cbs()
    );
    hits[0]
}

#[test]
fn synthetic_corpus_every_package_component_and_file_version() {
    let (v, code) = scan_json(&["corpus/synthetic"]);
    assert_eq!(code, 0, "clean corpus exits 0; errors: {}", v["errors"]);
    assert_eq!(v["schema_version"], 1);
    assert!(v["errors"].as_array().unwrap().is_empty());
    let specs = corpus::packages();
    // Every MSU in the table, plus the 2,000-file bulk cabinet.
    assert_eq!(packages(&v).len(), specs.len() + 1);

    for spec in &specs {
        let p = find_pkg(&v, spec);
        assert_eq!(p["kind"], "msu");
        assert_eq!(p["release_type"], spec.release_type);
        assert_eq!(p["dates"]["created"], spec.created);
        assert_eq!(p["dates"]["release"], &spec.created[..10]);
        assert_eq!(p["dates"]["release_source"], "update.mum creationTimeStamp");
        assert_eq!(
            p["dates"]["build_date"],
            spec.build_date().replace('/', "-")
        );
        if let Location::InZip(member) = &spec.location {
            assert_eq!(
                p["source"],
                format!("corpus/synthetic/batch-2019.zip!{member}")
            );
        }
        // Components: exactly the table's, with their versions.
        let comps = p["components"].as_array().unwrap();
        assert_eq!(comps.len(), spec.components.len(), "{}", spec.kb);
        for c in &spec.components {
            let key = c.key();
            let got = comps
                .iter()
                .find(|x| x["key"] == key.as_str())
                .unwrap_or_else(|| panic!("component {key}"));
            let ver = format!(
                "{}.{}.{}.{}",
                c.version[0], c.version[1], c.version[2], c.version[3]
            );
            assert_eq!(got["version"], ver.as_str());
            assert_eq!(got["branch"], "LDR");
            assert_eq!(got["files"], c.files.len());
            assert!(
                got.get("missing_files").is_none(),
                "{key}: {}",
                got["missing_files"]
            );
        }
        // Files: every PE read by kbscan agrees with pelite on the same bytes.
        let files = p["files"].as_array().unwrap();
        for (key, f, bytes) in corpus::pe_files(spec) {
            let suffix = format!("!{key}\\{}", f.name);
            let rec = files
                .iter()
                .find(|x| x["path"].as_str().unwrap().ends_with(&suffix))
                .unwrap_or_else(|| panic!("file {suffix} in {}", spec.kb));
            let want = format!(
                "{}.{}.{}.{}",
                f.version[0], f.version[1], f.version[2], f.version[3]
            );
            let (pelite_file, pelite_product, pelite_string) = pelite_versions(&bytes);
            assert_eq!(
                pelite_file, want,
                "pelite reads the fixture as the table says"
            );
            assert_eq!(rec["versions"]["pe_file"], pelite_file.as_str());
            assert_eq!(rec["versions"]["pe_product"], pelite_product.as_str());
            assert_eq!(rec["pe"]["file_version_string"], pelite_string.as_str());
            assert_eq!(rec["pe"]["branch_tag"], f.branch_tag.as_str());
            assert_eq!(rec["versions"]["component"], want.as_str());
            assert_eq!(rec["kind"], "pe");
            // Every cross-check holds on a well-formed package, and the digest was checked.
            let checks = rec["checks"].as_array().unwrap();
            assert!(
                checks.iter().all(|c| c["outcome"] == "ok"),
                "{}",
                rec["checks"]
            );
            assert!(checks
                .iter()
                .any(|c| c["check"] == "manifest_digest_sha256"));
            let machine = if f.machine == kbscan_fixtures::pe::Machine::Amd64 {
                "x64"
            } else {
                "x86"
            };
            assert_eq!(rec["pe"]["machine"], machine);
        }
    }
}

/// (fixed file version, fixed product version, FileVersion string) as pelite sees them.
fn pelite_versions(bytes: &[u8]) -> (String, String, String) {
    use pelite::pe32::Pe as _;
    use pelite::pe64::Pe as _;
    let vi = match pelite::PeFile::from_bytes(bytes).expect("pelite parses the fixture") {
        pelite::PeFile::T32(pe) => pe.resources().unwrap().version_info().unwrap(),
        pelite::PeFile::T64(pe) => pe.resources().unwrap().version_info().unwrap(),
    };
    let fixed = vi.fixed().expect("fixed info");
    let f =
        |v: pelite::image::VS_VERSION| format!("{}.{}.{}.{}", v.Major, v.Minor, v.Patch, v.Build);
    let mut file_version = String::new();
    vi.strings(vi.translation()[0], |k, v| {
        if k == "FileVersion" {
            file_version = v.to_string();
        }
    });
    (
        f(fixed.dwFileVersion),
        f(fixed.dwProductVersion),
        file_version,
    )
}

#[test]
fn x64_packages_carry_wow64_and_the_6003_move_is_visible() {
    let (v, _) = scan_json(&["corpus/synthetic"]);
    let specs = corpus::packages();
    let preview = specs
        .iter()
        .find(|s| s.kb == 4489887 && s.arch == Arch::X64)
        .unwrap();
    let p = find_pkg(&v, preview);
    assert_eq!(p["os_builds"]["amd64"], serde_json::json!(["6.0.6003"]));
    assert_eq!(p["os_builds"]["wow64"], serde_json::json!(["6.0.6003"]));
    assert_eq!(p["os_family"], "Windows Vista / Server 2008");
    assert_eq!(
        p["properties"]["encoding"], "UTF-16LE",
        "KB4489887 has a UTF-16 pkgProperties"
    );
    let march = specs
        .iter()
        .find(|s| s.kb == 4489880 && s.arch == Arch::X86)
        .unwrap();
    assert_eq!(
        find_pkg(&v, march)["os_builds"]["x86"],
        serde_json::json!(["6.0.6002"])
    );
}

#[test]
fn nested_sub_cab_files_are_found() {
    let (v, _) = scan_json(&["corpus/synthetic/ws2008sp2"]);
    let spec = corpus::packages()
        .into_iter()
        .find(|s| s.kb == 4493730 && s.arch == Arch::X64)
        .unwrap();
    let p = find_pkg(&v, &spec);
    let nested: Vec<&Value> = p["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .contains("!Cab_1_for_KB4493730.cab!")
        })
        .collect();
    assert_eq!(
        nested.len(),
        4,
        "three servicing-stack files and iissetup.exe come from the sub-CAB"
    );
    assert!(
        p["source"].as_str().unwrap().contains("_"),
        "catalog-style file name; identity comes from inside"
    );
}

#[test]
fn json_is_identical_for_any_thread_count() {
    let one = kbscan(&["scan", "corpus", "--format", "json", "-q", "-j", "1"]);
    let two = kbscan(&["scan", "corpus", "--format", "json", "-q", "-j", "2"]);
    assert!(!one.stdout.is_empty());
    assert!(one.stdout == two.stdout, "-j 1 and -j 2 differ");
    assert_eq!(one.status.code(), two.status.code());
}

/// With fewer inputs than threads, idle workers hash (crates/scan/src/digest.rs): the input
/// in place, each nested payload cabinet while it is walked, members as copies; and they
/// decode the independent PA30 targets of an IPD round. The JSON must be byte for byte
/// what `-j 1` gives inline, and the input's digest the file's real SHA-256.
#[test]
fn hashing_on_idle_workers_gives_the_inline_digests() {
    use kbscan_fixtures::bench::{self, BenchConfig};
    use sha2::{Digest, Sha256};
    let dir = tempdir();
    let cfg = BenchConfig {
        packages: 2,
        lzx_share: 0.5,
        seed: 11,
        package_bytes: 6 << 20,
    };
    let mut want = Vec::new();
    for p in bench::packages(&cfg) {
        let bytes = bench::msu(&p);
        let path = dir.path().join(p.msu_name());
        std::fs::write(&path, &bytes).unwrap();
        want.push(hex::encode(Sha256::digest(&bytes)));
    }
    let d = dir.path().to_str().unwrap();
    let run = |j: &str| {
        let out = kbscan(&["scan", d, "--format", "json", "-q", "-j", j]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "-j {j}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let inline = run("1");
    let v: Value = serde_json::from_slice(&inline).unwrap();
    let mut got: Vec<String> = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sha256"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "input SHA-256");
    let files: Vec<&Value> = packages(&v)
        .iter()
        .flat_map(|p| p["files"].as_array().unwrap())
        .collect();
    assert!(files.len() > 20);
    for f in &files {
        let h = f["sha256"].as_str().unwrap();
        assert!(
            h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()),
            "{f}"
        );
    }
    for j in ["2", "4"] {
        assert!(run(j) == inline, "-j {j} gives other JSON than -j 1");
    }
    // Genuine IPD payloads: SHA-1 of every member too, and PA30 targets decoded in parallel.
    let Some(real) = require::shared_real() else {
        return;
    };
    let (msu, cab) = (real.join("msu"), real.join("cab"));
    let run = |j: &str| {
        let out = kbscan(&[
            "scan",
            msu.to_str().unwrap(),
            cab.to_str().unwrap(),
            "--format",
            "json",
            "-q",
            "-j",
            j,
        ]);
        assert_eq!(out.status.code(), Some(0), "-j {j}");
        out.stdout
    };
    let inline = run("1");
    assert!(
        run("4") == inline,
        "genuine packages: -j 4 gives other JSON than -j 1"
    );
}

#[test]
fn malformed_inputs_each_give_their_specific_error_and_the_rest_is_scanned() {
    let (v, code) = scan_json(&["corpus/malformed", "corpus/synthetic"]);
    assert_eq!(code, 1, "failures exit 1");
    let errors = v["errors"].as_array().unwrap();
    for (path, kind) in corpus::MALFORMED {
        let full = format!("corpus/{path}");
        let mine: Vec<&Value> = errors
            .iter()
            .filter(|e| e["path"].as_str().unwrap().starts_with(&full))
            .collect();
        assert!(
            mine.iter().any(|e| e["kind"] == *kind),
            "{full}: expected an error of kind {kind}, got {mine:?}"
        );
        let input = v["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["path"] == full.as_str())
            .unwrap();
        assert_eq!(input["status"], "failed", "{full}");
    }
    // The evil ZIP's good member is still scanned; the traversal member is not.
    assert!(packages(&v).iter().any(|p| p["source"]
        == "corpus/malformed/evil-path.zip!good/Windows6.0-KB4489880-x64.msu"
        && p["kb"] == "KB4489880"));
    // Every good package was scanned.
    let synthetic_ok = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["path"].as_str().unwrap().starts_with("corpus/synthetic/"))
        .all(|i| i["status"] == "scanned");
    assert!(synthetic_ok);
    let t = &v["totals"];
    assert_eq!(t["failed"], corpus::MALFORMED.len());
    assert_eq!(
        t["inputs"].as_u64().unwrap(),
        t["scanned"].as_u64().unwrap()
            + t["failed"].as_u64().unwrap()
            + t["unsupported"].as_u64().unwrap()
            + t["skipped"].as_u64().unwrap()
    );
}

#[test]
fn errors_name_the_nested_path() {
    let (v, _) = scan_json(&["corpus/malformed/bad-manifest.msu"]);
    let e = &v["errors"][0];
    assert_eq!(e["kind"], "xml_not_well_formed");
    assert_eq!(
        e["path"],
        "corpus/malformed/bad-manifest.msu!Windows6.0-KB4489881-x64.cab!update.mum"
    );
}

#[test]
fn other_formats_render() {
    let csv = kbscan(&["scan", "corpus/synthetic/win7sp1", "--format", "csv", "-q"]);
    assert_eq!(csv.status.code(), Some(0));
    let text = String::from_utf8(csv.stdout).unwrap();
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("package,kb,architecture,release_date,path,name,kind"));
    assert!(text.contains("6.1.7601.24387"));

    let jsonl = kbscan(&[
        "scan",
        "corpus/synthetic/win7sp1",
        "--format",
        "jsonl",
        "-q",
    ]);
    let types: Vec<String> = String::from_utf8(jsonl.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(types.first().map(String::as_str), Some("input"));
    assert_eq!(types.last().map(String::as_str), Some("totals"));
    assert!(types.iter().any(|t| t == "file"));

    let table = kbscan(&["scan", "corpus/synthetic/win7sp1"]);
    let t = String::from_utf8(table.stdout).unwrap();
    assert!(t.lines().next().unwrap().starts_with("KB"), "{t}");
    assert!(t.contains("KB4489878"));

    let out = tempdir();
    let file = out.path().join("r.json");
    let o = kbscan(&[
        "scan",
        "corpus/synthetic/win7sp1",
        "--format",
        "json",
        "-q",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(o.stdout.is_empty());
    assert!(std::fs::read(&file).unwrap().starts_with(b"{"));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(kbscan(&["scan"]).status.code(), Some(2));
    assert_eq!(kbscan(&["scan", "no/such/path"]).status.code(), Some(2));
    assert_eq!(
        kbscan(&["scan", "corpus", "-j", "0"]).status.code(),
        Some(2)
    );
    assert_eq!(kbscan(&["--help"]).status.code(), Some(0));
    let help = String::from_utf8(kbscan(&["scan", "--help"]).stdout).unwrap();
    assert!(help.contains("EXIT CODES"));
}

#[test]
fn corpus_regenerates_byte_for_byte() {
    let files = corpus::build();
    assert!(files.len() > 30);
    for f in files {
        let on_disk = std::fs::read(root().join("corpus").join(&f.path)).unwrap_or_default();
        assert!(
            on_disk == f.bytes,
            "corpus/{} differs from the generator; run scripts/gen-corpus",
            f.path
        );
    }
}

#[test]
fn real_packages_scan_without_crash_and_every_file_is_counted() {
    let Some(real) = require::shared_real() else {
        return;
    };
    let real_s = real.to_str().unwrap();
    let (v, code) = scan_json(&[real_s]);
    assert!(code == 0 || code == 1, "no fatal error");
    let on_disk = walk_count(&real);
    let t = &v["totals"];
    assert_eq!(
        t["inputs"].as_u64().unwrap() as usize,
        on_disk,
        "every file accounted for"
    );
    assert!(v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["kind"] != "internal_panic"));

    // The genuine Vista payloads: IPD containers, recognised as such.
    for arch in ["x64", "x86"] {
        let src = format!("{real_s}/cab/Windows6.0-KB2999226-{arch}.cab");
        let p = packages(&v)
            .iter()
            .find(|p| p["source"] == src.as_str())
            .expect("payload package");
        assert_eq!(p["kind"], "payload-cab");
        assert_eq!(p["kb"], "KB2999226");
        let payload = &p["payloads"][0];
        assert_eq!(payload["layout"], "ipd");
        assert_eq!(payload["compression"][0], "LZX:21");
        let ipd = &payload["ipd"];
        assert!(ipd["targets"].as_u64().unwrap() > 10);
        assert_eq!(
            ipd["raw"], ipd["raw_verified"],
            "every RAW target matches its SHA-1"
        );
        assert!(ipd["pa30"].as_u64().unwrap() > 0);
        // GDR and LDR components side by side, with full names from the manifests.
        let comps = p["components"].as_array().unwrap();
        let versions: Vec<&str> = comps.iter().filter_map(|c| c["version"].as_str()).collect();
        assert!(
            versions.contains(&"6.0.6002.19488") && versions.contains(&"6.0.6002.23798"),
            "{versions:?}"
        );
    }
    let msu = packages(&v)
        .iter()
        .find(|p| {
            p["source"]
                .as_str()
                .unwrap()
                .ends_with("Windows6.1-KB2999226-x64.msu")
        })
        .expect("real MSU");
    assert_eq!(msu["kind"], "msu");
    assert_eq!(msu["kb"], "KB2999226");
    assert_eq!(msu["dates"]["build_date"], "2015-07-21");
}

fn walk_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                walk_count(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn wim_and_psf_are_reported_unsupported_not_skipped() {
    let dir = tempdir();
    let mut wim = b"MSWIM\0\0\0".to_vec();
    wim.resize(256, 0);
    std::fs::write(dir.path().join("install.wim"), &wim).unwrap();
    let mut psf = b"PSTREAM\0".to_vec();
    psf.resize(256, 0);
    std::fs::write(dir.path().join("Windows10.0-KB5000000-x64.psf"), &psf).unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"not a package").unwrap();
    let (v, code) = scan_json(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "unsupported is not a failure");
    let kinds: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["unsupported_container", "unsupported_container"]);
    let t = &v["totals"];
    assert_eq!(
        (
            t["inputs"].as_u64(),
            t["unsupported"].as_u64(),
            t["skipped"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert!(
        v["errors"][0]["message"].as_str().unwrap().contains("PSF")
            || v["errors"][1]["message"].as_str().unwrap().contains("PSF")
    );
}

/// The scan command renders as it goes (bounded memory); its JSON must still be exactly
/// what pretty-printing the whole collected report gives, errors and all.
#[test]
fn streamed_json_equals_the_collected_report() {
    // Relative, as the CLI is given them below (paths are reported as given).
    std::env::set_current_dir(root()).unwrap();
    let paths = [
        PathBuf::from("corpus/synthetic"),
        PathBuf::from("corpus/malformed"),
    ];
    let opts = kbscan_scan::ScanOptions {
        threads: Some(2),
        ..Default::default()
    };
    let report = kbscan_scan::scan_paths(&paths, &opts, &kbscan_scan::SilentObserver).unwrap();
    let mut expected = Vec::new();
    kbscan_report::json(&report, &mut expected).unwrap();
    assert!(report.totals.errors > 0 && report.totals.packages > 20);
    for j in ["1", "2", "3"] {
        let out = kbscan(&[
            "scan",
            "corpus/synthetic",
            "corpus/malformed",
            "--format",
            "json",
            "-q",
            "-j",
            j,
        ]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            out.stdout == expected,
            "-j {j}: streamed JSON differs from the collected report"
        );
    }
}

/// `-o FILE` is written only once the report is complete, with normal permissions, and
/// JSON Lines list each input before what it produced.
#[test]
fn output_file_is_complete_and_jsonl_is_grouped_by_input() {
    let dir = tempdir();
    let out_path = dir.path().join("scan.jsonl");
    let out = kbscan(&[
        "scan",
        "corpus/synthetic/win7sp1",
        "corpus/malformed",
        "--format",
        "jsonl",
        "-q",
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "temporary files left: {leftovers:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out_path).unwrap().permissions().mode();
        assert_ne!(
            mode & 0o044,
            0,
            "report should be readable like any output: {mode:o}"
        );
    }
    let text = std::fs::read_to_string(&out_path).unwrap();
    let mut current_input: Option<String> = None;
    let mut inputs = 0;
    for l in text.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        match v["type"].as_str().unwrap() {
            "input" => {
                inputs += 1;
                current_input = Some(v["path"].as_str().unwrap().to_string());
            }
            "package" | "error" => {
                let at = v["source"].as_str().or(v["path"].as_str()).unwrap();
                let input = current_input.as_deref().expect("a record before any input");
                assert!(at.starts_with(input), "{at} listed under input {input}");
            }
            _ => {}
        }
    }
    assert!(inputs > 12);
    assert_eq!(
        text.lines()
            .last()
            .map(|l| l.contains(r#""type":"totals""#)),
        Some(true)
    );
}

/// A closed pipe ends the scan quietly (the reader chose to stop), not with an error.
#[test]
fn closed_stdout_is_not_an_error() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kbscan"))
        .args(["scan", "corpus/synthetic", "--format", "jsonl", "-q"])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The per-input decompression budget covers every nesting level, names itself in the
/// error, and is per input: two packages that each fit both scan cleanly.
#[test]
fn package_budget_limits_one_input_and_not_the_others() {
    let a = "corpus/synthetic/ws2008sp2/Windows6.0-KB4489880-x64.msu";
    let b = "corpus/synthetic/ws2008sp2/Windows6.0-KB4489880-x86.msu";
    let (v, code) = scan_json(&[a, "--max-package-bytes", "64K"]);
    assert_eq!(code, 1);
    let errs = v["errors"].as_array().unwrap();
    assert!(!errs.is_empty());
    for e in errs {
        let m = e["message"].as_str().unwrap();
        assert!(
            m.contains("max_package_bytes") && m.contains("> 65536"),
            "{m}"
        );
        assert!(e["path"].as_str().unwrap().contains(".msu!"), "{e}");
    }
    // Each package alone decompresses to less than 1 MiB; a 1 MiB budget per input holds
    // for both even though together they exceed nothing shared.
    let (v, code) = scan_json(&[a, b, "--max-package-bytes", "1M"]);
    assert_eq!(code, 0, "{}", v["errors"]);
    assert_eq!(v["totals"]["scanned"], 2);
}

#[test]
fn limit_flags_reach_the_readers() {
    let (v, code) = scan_json(&["corpus/synthetic/bulk", "--max-entries", "100"]);
    assert_eq!(code, 1);
    let m = v["errors"][0]["message"].as_str().unwrap();
    assert!(m.contains("max_entries") && m.contains("2000 > 100"), "{m}");

    let (v, code) = scan_json(&["corpus/synthetic/bulk", "--max-total-bytes", "64K"]);
    assert_eq!(code, 1);
    assert!(v["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("max_total_bytes"));

    let (v, code) = scan_json(&["corpus/synthetic/bulk", "--max-input-bytes", "1K"]);
    assert_eq!(code, 1);
    assert_eq!(v["errors"][0]["kind"], "limit_input_size");

    let bad = kbscan(&["scan", "corpus", "--max-entry-bytes", "12Q"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown size unit"));
}

/// Bounded memory: while the consumer is busy with the first input, the workers run at
/// most one reorder window ahead instead of scanning (and holding) the whole corpus.
#[test]
fn streaming_scan_holds_at_most_one_reorder_window() {
    use std::sync::atomic::{AtomicU64, Ordering};
    struct Count(AtomicU64);
    impl kbscan_scan::Observer for Count {
        fn input_done(&self, _: &str, _: u64) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dir = tempdir();
    let src = std::fs::read(root().join("corpus/synthetic/win7sp1/Windows6.1-KB4489878-x64.msu"))
        .unwrap();
    for i in 0..40 {
        std::fs::write(dir.path().join(format!("{i:02}.msu")), &src).unwrap();
    }
    let done = Count(AtomicU64::new(0));
    let opts = kbscan_scan::ScanOptions {
        threads: Some(2),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let totals =
        kbscan_scan::scan_paths_streaming(&[dir.path().to_path_buf()], &opts, &done, |o| {
            if seen.is_empty() {
                // Give the workers ample time to run ahead if nothing held them back.
                std::thread::sleep(std::time::Duration::from_millis(400));
                let ahead = done.0.load(Ordering::SeqCst);
                assert!(
                    ahead <= 1 + 2 * 4,
                    "{ahead} inputs scanned while the first was consumed"
                );
            }
            seen.push(o.input.path);
            Ok::<(), std::io::Error>(())
        })
        .unwrap();
    assert_eq!(totals.scanned, 40);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "outcomes arrive in path order");
}

/// Regression: `-o` used to write a temporary file and rename it over the path, which
/// replaced `/dev/null` with a regular file on a machine running `scripts/bench`. A FIFO
/// stands in for the device here, so a regression cannot damage the machine running it.
#[cfg(unix)]
#[test]
fn output_to_a_fifo_is_written_in_place() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempdir();
    let fifo = dir.path().join("report.fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo failed");
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).expect("read the FIFO"))
    };
    let out = kbscan(&[
        "scan",
        "corpus/synthetic/win7sp1",
        "--format",
        "json",
        "-q",
        "-o",
        fifo.to_str().unwrap(),
    ]);
    // Checked before joining: a replaced FIFO never gets a writer, so the reader would wait
    // for ever (the blocked thread dies with the test process).
    let meta = std::fs::symlink_metadata(&fifo).unwrap();
    assert!(
        meta.file_type().is_fifo(),
        "the FIFO was replaced: {meta:?}"
    );
    if out.status.code() != Some(0) {
        drop(std::fs::OpenOptions::new().write(true).open(&fifo)); // release the reader
        panic!("kbscan failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = reader.join().unwrap();
    let v: Value = serde_json::from_str(&text).expect("the FIFO carried the JSON report");
    assert!(!packages(&v).is_empty());
    let entries = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(entries, 1, "temporary files left beside the FIFO");
}

#[cfg(unix)]
#[test]
fn output_through_a_symlink_replaces_its_target_and_keeps_the_link() {
    let dir = tempdir();
    let real = dir.path().join("real.json");
    let link = dir.path().join("link.json");
    std::fs::write(&real, "old").unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let out = kbscan(&[
        "scan",
        "corpus/synthetic/win7sp1",
        "--format",
        "json",
        "-q",
        "-o",
        link.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&real).unwrap()).unwrap();
    assert!(!packages(&v).is_empty());
}

/// The input record of `path` (its path as the report shows it).
#[cfg(unix)]
#[track_caller]
fn input<'a>(v: &'a Value, path: &str) -> &'a Value {
    v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"] == path)
        .unwrap_or_else(|| panic!("no input {path} in {}", v["inputs"]))
}

/// Regression (issue 15, finding 3): `kbscan scan /dev/zero` read until memory ran out and
/// a FIFO named as an argument waited for ever. Devices and FIFOs, named on the command
/// line or met in a folder, are listed as skipped with their type and never opened; the
/// real package beside them is scanned and the run exits 0.
#[cfg(unix)]
#[test]
fn devices_and_fifos_are_skipped_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let named = dir.path().join("named.fifo");
    mkfifo(&named);
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    mkfifo(&folder.join("inner.msu"));
    std::fs::copy(
        root().join("corpus/synthetic/win7sp1/Windows6.1-KB4489878-x64.msu"),
        folder.join("real.msu"),
    )
    .unwrap();
    let out = kbscan_within_20s(&[
        "scan".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        "-q".as_ref(),
        "/dev/zero".as_ref(),
        "/dev/null".as_ref(),
        named.as_os_str(),
        folder.as_os_str(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    assert_eq!(v["totals"]["inputs"], 5);
    assert_eq!(v["totals"]["skipped"], 4);
    assert_eq!(v["totals"]["scanned"], 1);
    let reason = |p: &str| {
        let i = input(&v, p);
        assert_eq!(i["status"], "skipped", "{i}");
        i["ignored"][0]["reason"].as_str().unwrap().to_string()
    };
    assert_eq!(reason("/dev/zero"), "not a regular file: character device");
    assert_eq!(reason("/dev/null"), "not a regular file: character device");
    assert_eq!(reason(&named.to_string_lossy()), "not a regular file: FIFO");
    assert_eq!(
        reason(&folder.join("inner.msu").to_string_lossy()),
        "not a regular file: FIFO"
    );
}

/// The read itself is capped at `--max-input-bytes`, not trusted to the size the walk saw:
/// `/proc` files report size 0 and hold more, the stand-in for a file that grows or lies.
#[cfg(target_os = "linux")]
#[test]
fn the_input_limit_holds_for_a_file_larger_than_its_listed_size() {
    let out = kbscan_within_20s(&[
        "scan",
        "--format",
        "json",
        "-q",
        "--max-input-bytes",
        "16",
        "/proc/self/status",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(input(&v, "/proc/self/status")["status"], "failed");
    assert_eq!(v["errors"][0]["kind"], "limit_input_size");
    assert!(v["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("16 bytes (max_input_bytes)"));
}

/// Builds `base/N/…/N/deep.msu`, 20 levels of 250-byte names: a path longer than
/// `PATH_MAX`, made level by level relative to each parent's handle.
#[cfg(unix)]
fn tree_deeper_than_path_max(base: &Path) -> PathBuf {
    use rustix::fs::{mkdirat, openat, Mode, OFlags, CWD};
    let name = "n".repeat(250);
    let mut fd = openat(CWD, base, OFlags::DIRECTORY | OFlags::RDONLY, Mode::empty()).unwrap();
    let mut p = base.to_path_buf();
    for _ in 0..20 {
        mkdirat(&fd, name.as_str(), Mode::RWXU).unwrap();
        fd = openat(
            &fd,
            name.as_str(),
            OFlags::DIRECTORY | OFlags::RDONLY,
            Mode::empty(),
        )
        .unwrap();
        p.push(&name);
    }
    p
}

/// Regression (issue 15, finding 4): a folder kbscan could not read inside the scanned
/// tree ended the run with exit 2, no report, and a message about standard output.
///
/// The tests run as root, and root reads a mode-000 folder, so the unreadable folder is
/// made another way that stops root too: a folder whose path is longer than `PATH_MAX`
/// (`read_dir` fails with ENAMETOOLONG), plus a symbolic link loop (`stat` fails with
/// ELOOP). What this proves: a directory that cannot be listed and an entry whose metadata
/// cannot be read each become a `failed` input with an `io` error naming the path and the
/// OS error, the rest of the tree is scanned, the report is complete, the exit code is 1.
/// It does not exercise EACCES itself, which takes the same path with another errno.
#[cfg(unix)]
#[test]
fn a_folder_that_cannot_be_read_is_a_failed_input_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let deep_root = dir.path().join("a-deep");
    std::fs::create_dir(&deep_root).unwrap();
    let deep = tree_deeper_than_path_max(&deep_root);
    std::os::unix::fs::symlink("b-loop", dir.path().join("b-loop")).unwrap();
    std::fs::copy(
        root().join("corpus/synthetic/win7sp1/Windows6.1-KB4489878-x64.msu"),
        dir.path().join("c.msu"),
    )
    .unwrap();
    let out = kbscan_within_20s(&[
        "scan".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        "-q".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    assert_eq!(v["totals"]["inputs"], 3);
    assert_eq!(v["totals"]["failed"], 2);
    assert_eq!(v["totals"]["scanned"], 1);
    assert_eq!(v["totals"]["errors"], 2);
    // The deepest folder that could still be listed holds the one that could not.
    let unreadable = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["message"].as_str().unwrap().contains("os error 36"))
        .unwrap_or_else(|| panic!("no ENAMETOOLONG record: {}", v["errors"]));
    assert_eq!(unreadable["kind"], "io");
    let path = unreadable["path"].as_str().unwrap();
    assert!(deep.to_string_lossy().starts_with(path), "{path}");
    assert!(unreadable["message"]
        .as_str()
        .unwrap()
        .starts_with("cannot read directory: "));
    let looped = input(&v, &dir.path().join("b-loop").to_string_lossy()).clone();
    assert_eq!(looped["status"], "failed");
    assert_eq!(looped["errors"], 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("cannot write"), "{err}");

    // The table says the same on a terminal-like run (exit 1, the errors listed).
    let out = kbscan_within_20s(&["scan".as_ref(), "-q".as_ref(), dir.path().as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ERRORS (2)"), "{text}");
    assert!(text.contains("3 inputs: 1 scanned, 2 failed"), "{text}");
}

/// A failure to write is reported as one, naming the output; a scan failure never is.
#[cfg(target_os = "linux")]
#[test]
fn write_errors_name_the_output() {
    let out = kbscan(&[
        "scan",
        "corpus/synthetic/win7sp1",
        "--format",
        "json",
        "-q",
        "-o",
        "/dev/full",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot write /dev/full"), "{err}");
    assert!(!err.contains("scan failed"), "{err}");
}

/// Regression (issue 15, finding 6): `-o` inside the scanned folder listed its own
/// temporary file (a random name) and, on the next run, the previous report. Neither is an
/// input now, so two runs give the same bytes.
#[test]
fn output_inside_the_scanned_folder_is_never_an_input() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.msu", "b.msu"] {
        std::fs::copy(
            root().join("corpus/synthetic/win7sp1/Windows6.1-KB4489878-x64.msu"),
            dir.path().join(name),
        )
        .unwrap();
    }
    let target = dir.path().join("out.json");
    let run = || {
        let out = kbscan(&[
            "scan",
            dir.path().to_str().unwrap(),
            "--format",
            "json",
            "-q",
            "-o",
            target.to_str().unwrap(),
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read(&target).unwrap()
    };
    let first = run();
    let second = run();
    assert!(first == second, "the second run differs from the first");
    let v: Value = serde_json::from_slice(&second).unwrap();
    let inputs: Vec<&str> = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(inputs.len(), 2, "{inputs:?}");
    assert!(inputs
        .iter()
        .all(|p| p.ends_with("/a.msu") || p.ends_with("/b.msu")));
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["a.msu", "b.msu", "out.json"]);
}

/// Regression (issue 15, finding 6): a killed `scan -o` left `.kbscan-*.tmp` beside the
/// target. The report is now written into an unnamed file (`O_TMPFILE`), which the test
/// sees through `/proc/PID/fd`; the run is killed as soon as it exists. After SIGKILL and
/// after SIGTERM nothing is left beside the target, and SIGTERM still ends the process by
/// the signal. (The named fallback and its SIGTERM cleanup are tested in
/// `crates/cli/src/output.rs`.)
#[cfg(target_os = "linux")]
#[test]
fn a_killed_scan_leaves_no_temporary_file() {
    use rustix::process::{kill_process, Pid, Signal};
    use std::os::unix::process::ExitStatusExt;
    use std::time::{Duration, Instant};
    let corpus = tempfile::tempdir().unwrap();
    let bulk = std::fs::read(root().join("corpus/synthetic/bulk/many-files-2000.cab")).unwrap();
    for i in 0..40 {
        std::fs::write(corpus.path().join(format!("{i:02}.cab")), &bulk).unwrap();
    }
    for (signal, number) in [(Signal::KILL, 9), (Signal::TERM, 15)] {
        let out_dir = tempfile::tempdir().unwrap();
        let out_dir_path = std::fs::canonicalize(out_dir.path()).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_kbscan"))
            .args(["scan", "--format", "json", "-q", "-j", "1", "-o"])
            .arg(out_dir_path.join("out.json"))
            .arg(corpus.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // The temporary file exists once the child holds a descriptor into the output
        // folder (unnamed) or a `.kbscan-` name appears there (named fallback).
        let fds = format!("/proc/{}/fd", child.id());
        let started = Instant::now();
        loop {
            let unnamed = std::fs::read_dir(&fds)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.starts_with(&out_dir_path)));
            let named = std::fs::read_dir(&out_dir_path).unwrap().next().is_some();
            if unnamed || named {
                break;
            }
            if let Some(s) = child.try_wait().unwrap() {
                panic!("the scan ended ({s}) before its temporary file was seen");
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                panic!("no temporary file after 20 s");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        kill_process(Pid::from_child(&child), signal).unwrap();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > Duration::from_secs(40) {
                let _ = child.kill();
                panic!("kbscan did not end on signal {number}");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(status.signal(), Some(number), "{status:?}");
        let left: Vec<_> = std::fs::read_dir(&out_dir_path)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "signal {number} left {left:?}");
    }
}

/// A CAB whose members are named with U+202E RIGHT-TO-LEFT OVERRIDE: `evil<U+202E>txt.exe`
/// (written by extract) and `sub<U+202E>bac.cab`, a broken nested cabinet (an error in both
/// commands), so the name reaches the scan table, the extract listing and stderr.
fn rlo_cab() -> Vec<u8> {
    use kbscan_fixtures::cab::{write_cab, CabFile, CabFolder, CabSpec, Compression};
    write_cab(&CabSpec {
        folders: vec![CabFolder {
            compression: Compression::MsZip,
            files: vec![
                CabFile::new("evil\u{202e}txt.exe", b"not really".to_vec()),
                CabFile::new("sub\u{202e}bac.cab", b"MSCF\0\0\0\0 truncated".to_vec()),
            ],
        }],
        set_id: 15,
        reserve: None,
    })
}

/// Regression (issue 15, finding 6): right-to-left overrides in names were printed raw,
/// so `sub<U+202E>bac.cab` showed as `subcab.cab`. The table shows them escaped; the JSON
/// keeps the real name.
#[test]
fn bidi_controls_in_names_are_escaped_in_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let cab = dir.path().join("rlo.cab");
    std::fs::write(&cab, rlo_cab()).unwrap();
    let out = kbscan(&["scan", "-q", cab.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("rlo.cab!sub\\u{202e}bac.cab"), "{text}");
    assert!(
        !text.contains('\u{202e}'),
        "raw U+202E in the table: {text}"
    );

    let (v, _) = scan_json(&[cab.to_str().unwrap()]);
    let paths: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.iter().any(|p| p.ends_with("!sub\u{202e}bac.cab")),
        "JSON keeps the real name: {paths:?}"
    );
}
