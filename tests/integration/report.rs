//! End-to-end tests of `kbscan report` and `kbscan history` on the committed corpus.
//!
//! Facts are checked against `kbscan_fixtures::corpus::packages()`, the table the corpus
//! is generated from; whole outputs are compared with the snapshots in
//! `tests/snapshots/` (regenerate them with
//! `KBSCAN_BLESS=1 cargo test --test integration report::` and review the diff).

use crate::util::{kbscan, kbscan_ok, require, root, stdout_json, tempdir};
use kbscan_fixtures::corpus::{self, Arch, Os, PackageSpec};
use serde_json::Value;

#[track_caller]
fn json(args: &[&str]) -> Value {
    stdout_json(&kbscan_ok(args))
}

fn report_json() -> Value {
    json(&[
        "report",
        "corpus/synthetic",
        "--format",
        "json",
        "--quiet",
        "-j",
        "1",
    ])
}

/// Compares `actual` with `tests/snapshots/<name>` byte for byte; with `KBSCAN_BLESS=1`
/// rewrites the snapshot instead.
#[track_caller]
fn snapshot(name: &str, actual: &[u8]) {
    // The only volatile part: the version of kbscan that wrote the JSON.
    let stamp = format!("\"kbscan_version\": \"{}\"", env!("CARGO_PKG_VERSION"));
    let filtered =
        String::from_utf8_lossy(actual).replace(&stamp, "\"kbscan_version\": \"[version]\"");
    let actual = filtered.as_bytes();
    let path = root().join("tests/snapshots").join(name);
    if std::env::var_os("KBSCAN_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("snapshot folder"))
            .expect("create tests/snapshots");
        std::fs::write(&path, actual).expect("write snapshot");
        eprintln!("blessed {}", path.display());
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); run with KBSCAN_BLESS=1 to create it",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let (e, a) = (
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(actual),
    );
    let (el, al): (Vec<&str>, Vec<&str>) = (e.lines().collect(), a.lines().collect());
    let at = el
        .iter()
        .zip(&al)
        .position(|(x, y)| x != y)
        .unwrap_or(el.len().min(al.len()));
    panic!(
        "output differs from {} at line {} ({} lines expected, {} actual)\n  expected: {:?}\n  actual:   {:?}\n\
         If the change is intended, rerun with KBSCAN_BLESS=1 and review `git diff tests/snapshots`.",
        path.display(),
        at + 1,
        el.len(),
        al.len(),
        el.get(at).unwrap_or(&"<end of file>"),
        al.get(at).unwrap_or(&"<end of file>"),
    );
}

fn kb(spec: &PackageSpec) -> String {
    format!("KB{}", spec.kb)
}

fn max_build(spec: &PackageSpec) -> u16 {
    spec.components
        .iter()
        .map(|c| c.version[2])
        .max()
        .unwrap_or(0)
}

/// Ground truth: Server 2008 packages of one architecture in release order (date, KB).
fn ws2008(arch: Arch) -> Vec<PackageSpec> {
    let mut v: Vec<PackageSpec> = corpus::packages()
        .into_iter()
        .filter(|p| p.os == Os::Ws2008 && p.arch == arch)
        .collect();
    v.sort_by(|a, b| (&a.created[..10], a.kb).cmp(&(&b.created[..10], b.kb)));
    v
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn kb4489887_moves_6002_to_6003_first_on_each_architecture() {
    let r = report_json();
    assert_eq!(r["schema_version"], 1);
    let moves = r["moves"].as_array().expect("moves");
    assert_eq!(
        moves.len(),
        2,
        "one 6.0 move per architecture, none for Windows 7: {moves:#?}"
    );
    for arch in [Arch::X86, Arch::X64] {
        let m = moves
            .iter()
            .find(|m| m["platform"] == arch.cbs())
            .unwrap_or_else(|| panic!("a move for {}", arch.cbs()));
        assert_eq!(
            (m["os"].as_str(), m["from"].as_str(), m["to"].as_str()),
            (Some("6.0"), Some("6.0.6002"), Some("6.0.6003"))
        );
        let first = &m["first_mover"]["package"];
        assert_eq!(first["kb"], "KB4489887");
        assert_eq!(first["architecture"], arch.cbs());
        assert_eq!(first["date"], "2019-03-14");
        assert_eq!(first["date_source"], "update.mum creationTimeStamp");

        // Every later mover: every later package of this architecture on 6003, in order.
        let truth = ws2008(arch);
        let pos = truth
            .iter()
            .position(|p| p.kb == 4489887)
            .expect("preview in the table");
        let expected: Vec<String> = truth[pos + 1..]
            .iter()
            .filter(|p| max_build(p) == 6003)
            .map(kb)
            .collect();
        let later: Vec<String> = m["later_movers"]
            .as_array()
            .expect("later movers")
            .iter()
            .map(|l| l["package"]["kb"].as_str().unwrap_or("?").to_string())
            .collect();
        assert_eq!(later, expected, "{}", arch.cbs());
        assert!(
            later.contains(&"KB4493471".to_string()),
            "the April rollup moves too"
        );
        assert!(m["stragglers"].as_array().expect("stragglers").is_empty());

        // Each component of the preview changed build; before = highest earlier version.
        let changed = m["first_mover"]["changed"].as_array().expect("changed");
        let preview = &truth[pos];
        assert_eq!(changed.len(), preview.components.len(), "{changed:#?}");
        for c in &preview.components {
            let before = truth[..pos]
                .iter()
                .flat_map(|p| &p.components)
                .filter(|e| e.name == c.name && e.arch == c.arch)
                .map(|e| e.version)
                .max()
                .expect("an earlier version");
            let row = changed
                .iter()
                .find(|x| x["name"] == c.name && x["architecture"] == c.arch)
                .unwrap_or_else(|| panic!("{} {} in changed", c.arch, c.name));
            let v = |a: [u16; 4]| format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
            assert_eq!(row["before"], v(before).as_str());
            assert_eq!(row["after"], v(c.version).as_str());
            assert_eq!(row["reset"], i64::from(c.version[3]) - i64::from(before[3]));
        }
        let kernel = changed
            .iter()
            .find(|x| x["name"] == "microsoft-windows-os-kernel")
            .expect("kernel");
        assert_eq!(
            (kernel["before"].as_str(), kernel["after"].as_str()),
            (Some("6.0.6002.24566"), Some("6.0.6003.20484"))
        );
        assert_eq!(kernel["reset"], -4082);
    }
}

#[test]
fn close_6002_versions_are_listed_with_exact_headroom() {
    let r = report_json();
    let findings = r["ceilings"]["findings"].as_array().expect("findings");
    // Ground truth: every distinct 6002 component (name, arch, version) in the table.
    let mut expected: Vec<(String, String, String, i64)> = corpus::packages()
        .iter()
        .flat_map(|p| p.components.clone())
        .filter(|c| c.version[2] == 6002)
        .map(|c| {
            let counter = i64::from(c.version[3] & 0x0FFF);
            let v = format!("6.0.6002.{}", c.version[3]);
            (c.name.to_string(), c.arch.to_string(), v, 4095 - counter)
        })
        .filter(|x| x.3 <= 64)
        .collect();
    expected.sort();
    expected.dedup();
    assert!(!expected.is_empty());
    let mut close: Vec<(String, String, String, i64)> = findings
        .iter()
        .filter(|f| {
            f["kind"] == "component"
                && f["close"] == true
                && f["version"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("6.0.6002."))
        })
        .map(|f| {
            (
                f["name"].as_str().unwrap_or("?").to_string(),
                strs(&f["architectures"]).join(","),
                f["version"].as_str().unwrap_or("?").to_string(),
                f["headroom"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    close.sort();
    assert_eq!(close, expected);

    let kernel = findings
        .iter()
        .find(|f| {
            f["kind"] == "component"
                && f["name"] == "microsoft-windows-os-kernel"
                && f["version"] == "6.0.6002.24566"
        })
        .expect("kernel 24566");
    assert_eq!(kernel["nt6"]["track"], "ldr");
    assert_eq!(kernel["nt6"]["counter"], 4086);
    assert_eq!(kernel["nt6"]["counter_headroom"], 9);
    assert_eq!(kernel["nt6"]["window_ceiling"], 24575);
    assert_eq!(kernel["headroom"], 9);
    assert_eq!(kernel["revision_headroom"], 65535 - 24566);
    assert_eq!(findings[0]["headroom"], 9, "closest first");
    // No 6003 version is close: the move bought a fresh window.
    assert!(findings
        .iter()
        .filter(|f| f["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("6.0.6003.")))
        .all(|f| f["close"] == false));
    // PE files are measured too, one finding per name and version.
    let nt = findings
        .iter()
        .filter(|f| {
            f["kind"] == "file" && f["name"] == "ntoskrnl.exe" && f["version"] == "6.0.6002.24566"
        })
        .count();
    assert_eq!(nt, 1);
}

#[test]
fn forecast_says_6002_was_weeks_from_exhaustion_in_march_2019() {
    let r = report_json();
    let f = r["forecasts"]
        .as_array()
        .expect("forecasts")
        .iter()
        .find(|f| f["scope"] == "os_build" && f["os_build"] == "6.0.6002")
        .expect("6.0.6002 forecast")
        .clone();
    assert_eq!(f["track"], "ldr");
    assert_eq!(f["measure"], "counter");
    assert_eq!(f["status"], "projected");
    // Four release dates of 6002 packages (x86, x64 and security-only collapse per date).
    assert_eq!(
        (f["points"].as_u64(), f["pairs"].as_u64()),
        (Some(4), Some(6))
    );
    let dates: Vec<&str> = f["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .filter_map(|p| p["date"].as_str())
        .collect();
    assert_eq!(
        dates,
        ["2018-11-30", "2018-12-28", "2019-01-31", "2019-03-01"]
    );
    assert_eq!(f["last_value"], 4086);
    let month = f["projected_month"].as_str().expect("a month");
    assert!(
        month == "2019-03" || month == "2019-04",
        "exhaustion within weeks of March 2019, got {month}"
    );
    let after = f["months_after_last"].as_f64().expect("months");
    assert!(
        after > 0.0 && after < 1.5,
        "{after} months after 2019-03-01"
    );
    let slope = f["slope_per_month"].as_f64().expect("slope");
    assert!(
        (5.0..20.0).contains(&slope),
        "about ten counter values a month: {slope}"
    );
}

#[test]
fn undated_and_summary() {
    let r = report_json();
    let s = &r["summary"];
    assert_eq!(s["moves"], 2);
    assert_eq!(s["dated"].as_u64(), Some(corpus::packages().len() as u64));
    assert_eq!(s["undated"], 1, "the bulk cabinet has no date");
    assert_eq!(
        r["undated"][0]["package"]["source"],
        "corpus/synthetic/bulk/many-files-2000.cab"
    );
    assert_eq!(s["errors"], 0);
    let order: Vec<&str> = r["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| p["date"].as_str())
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "release order");
}

#[test]
fn history_of_ntoskrnl_shows_the_reset() {
    let h = json(&[
        "history",
        "NTOSKRNL.EXE",
        "corpus/synthetic",
        "--format",
        "json",
        "--quiet",
    ]);
    let archs: Vec<&str> = h["architectures"]
        .as_array()
        .expect("archs")
        .iter()
        .filter_map(|a| a["architecture"].as_str())
        .collect();
    assert_eq!(archs, ["amd64", "x86"]);
    for a in h["architectures"].as_array().expect("archs") {
        let entries = a["entries"].as_array().expect("entries");
        let versions: Vec<String> = strs(&Value::Array(
            entries.iter().map(|e| e["version"].clone()).collect(),
        ));
        let mut numeric: Vec<kbscan_version::Version> = versions
            .iter()
            .map(|v| v.parse().expect("version"))
            .collect();
        numeric.sort();
        assert_eq!(
            versions,
            numeric.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "numeric order"
        );
        let moved = entries
            .iter()
            .find(|e| !e["build_move"].is_null())
            .expect("a build move");
        assert_eq!(moved["version"], "6.0.6003.20484");
        assert_eq!(moved["first"]["kb"], "KB4489887");
        assert_eq!(moved["build_move"]["previous"], "6.0.6002.24566");
        assert_eq!(moved["build_move"]["reset"], -4082);
        let before = entries
            .iter()
            .find(|e| e["version"] == "6.0.6002.24566")
            .expect("24566");
        assert_eq!(before["nt6"]["counter_headroom"], 9);
    }
    let table = String::from_utf8(
        kbscan_ok(&["history", "ntoskrnl.exe", "corpus/synthetic", "--quiet"]).stdout,
    )
    .expect("utf8");
    assert!(
        table.contains("-- build move 6.0.6002 -> 6.0.6003: revision 24566 -> 20484 (-4082)"),
        "{table}"
    );
}

#[test]
fn whole_outputs_match_snapshots_for_any_thread_count() {
    for (format, file) in [
        ("table", "report.txt"),
        ("markdown", "report.md"),
        ("json", "report.json"),
    ] {
        let one = kbscan_ok(&[
            "report",
            "corpus/synthetic",
            "--format",
            format,
            "--quiet",
            "-j",
            "1",
        ])
        .stdout;
        let two = kbscan_ok(&[
            "report",
            "corpus/synthetic",
            "--format",
            format,
            "--quiet",
            "-j",
            "2",
        ])
        .stdout;
        assert!(one == two, "{format}: -j 1 and -j 2 differ");
        snapshot(file, &one);
    }
    for (format, file) in [
        ("table", "history-ntoskrnl.txt"),
        ("json", "history-ntoskrnl.json"),
    ] {
        let one = kbscan_ok(&[
            "history",
            "ntoskrnl.exe",
            "corpus/synthetic",
            "--format",
            format,
            "--quiet",
            "-j",
            "1",
        ])
        .stdout;
        let two = kbscan_ok(&[
            "history",
            "ntoskrnl.exe",
            "corpus/synthetic",
            "--format",
            format,
            "--quiet",
            "-j",
            "2",
        ])
        .stdout;
        assert!(one == two, "history {format}: -j 1 and -j 2 differ");
        snapshot(file, &one);
    }
}

#[test]
fn table_fits_100_columns() {
    let text = String::from_utf8(kbscan_ok(&["report", "corpus/synthetic", "--quiet"]).stdout)
        .expect("utf8");
    for line in text.lines() {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    for section in [
        "SUMMARY",
        "BUILD MOVES",
        "CEILINGS",
        "ANOMALIES",
        "FORECAST",
        "ERRORS (0)",
    ] {
        assert!(text.lines().any(|l| l == section), "section {section}");
    }
}

#[test]
fn output_file_and_exit_code_on_failed_inputs() {
    let dir = tempdir();
    let out = dir.path().join("r.md");
    let o = kbscan(&[
        "report",
        "corpus/malformed",
        "--quiet",
        "--format",
        "markdown",
        "-o",
        out.to_str().expect("utf8 path"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "some inputs failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let md = std::fs::read_to_string(&out).expect("report written");
    assert!(md.contains("## Errors ("), "{md}");
    assert!(
        md.contains("cab\\_bad\\_checksum"),
        "errors listed (markdown-escaped)"
    );
}

#[test]
fn ceilings_file_overrides_and_bad_files_exit_2() {
    let dir = tempdir();
    let good = dir.path().join("strict.toml");
    std::fs::write(&good, "[close]\nheadroom = 10\npercent = 0.0\n").expect("write");
    let r = json(&[
        "report",
        "corpus/synthetic",
        "--format",
        "json",
        "--quiet",
        "--ceilings",
        good.to_str().expect("path"),
    ]);
    let close: Vec<i64> = r["ceilings"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["close"] == true)
        .filter_map(|f| f["headroom"].as_i64())
        .collect();
    assert!(
        !close.is_empty() && close.iter().all(|h| *h <= 10),
        "{close:?}"
    );
    assert_eq!(r["ceilings"]["close"]["headroom"], 10);

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[rule]]\nos = \"6.0\"\nscheme = \"plain\"\nceiling = 99999\n",
    )
    .expect("write");
    let o = kbscan(&[
        "report",
        "corpus/synthetic",
        "--quiet",
        "--ceilings",
        bad.to_str().expect("path"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("invalid ceilings file") && err.contains("bad.toml") && err.contains("99999"),
        "{err}"
    );
    assert!(o.stdout.is_empty(), "no report when the rules are invalid");

    let o = kbscan(&[
        "report",
        "corpus/synthetic",
        "--quiet",
        "--ceilings",
        "no/such/rules.toml",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot read ceilings file no/such/rules.toml")
    );
}

/// The genuine KB2999226 payloads ship GDR (6.0.6002.19488) and LDR (6.0.6002.23798)
/// builds of the same components side by side: the analyses must keep the tracks apart
/// (no false "counter went down" between them, both tracks measured).
#[test]
fn real_packages_keep_gdr_and_ldr_apart() {
    if require::shared_real().is_none() {
        return;
    }
    let out = kbscan(&[
        "report",
        "../shared/real/cab",
        "../shared/real/msu",
        "--format",
        "json",
        "--quiet",
    ]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let anomalies = r["anomalies"].as_array().expect("anomalies");
    assert!(
        anomalies.iter().all(|a| a["kind"] != "counter_decrease"),
        "GDR and LDR must not be compared: {anomalies:#?}"
    );
    let findings = r["ceilings"]["findings"].as_array().expect("findings");
    let track_of = |v: &str| {
        findings
            .iter()
            .find(|f| f["kind"] == "component" && f["version"] == v)
            .map(|f| f["nt6"]["track"].clone())
    };
    assert_eq!(track_of("6.0.6002.19488"), Some(Value::from("gdr")));
    assert_eq!(track_of("6.0.6002.23798"), Some(Value::from("ldr")));
    assert!(
        r["moves"].as_array().expect("moves").is_empty(),
        "one KB moves nothing"
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["report"][..],
        &["report", "corpus/synthetic", "--format", "csv"],
        &["report", "corpus/synthetic", "-j", "0"],
        &["report", "no/such/path"],
        &["history"],
        &[
            "history",
            "ntoskrnl.exe",
            "corpus/synthetic",
            "--format",
            "markdown",
        ],
    ] {
        let o = kbscan(args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "kbscan {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.stdout.is_empty(), "kbscan {args:?} printed a report");
    }
    let none = String::from_utf8(
        kbscan_ok(&["history", "no-such-file.dll", "corpus/synthetic", "--quiet"]).stdout,
    )
    .expect("utf8");
    assert!(none.contains("no file of that name"), "{none}");
}
