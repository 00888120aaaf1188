//! End-to-end tests of `kbscan baseline` and `kbscan check`: each works on copies of
//! committed corpus files in a temporary folder, changes one thing, and asserts that
//! exactly that change is reported, once, with its kind and the right exit code.

use crate::util::{arg, kbscan, kbscan_ok, root, stdout, stdout_json, tempdir};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A temp folder holding a copy of `corpus/synthetic/ws2008sp2` (its MSUs, flat).
fn corpus_copy(skip: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempdir();
    let dir = tmp.path().join("corpus");
    std::fs::create_dir(&dir).unwrap();
    for e in std::fs::read_dir(root().join("corpus/synthetic/ws2008sp2")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if skip.iter().any(|k| name.contains(k)) {
            continue;
        }
        std::fs::copy(e.path(), dir.join(&name)).unwrap();
    }
    (tmp, dir)
}

#[track_caller]
fn write_baseline(dir: &Path, out: &Path) {
    kbscan_ok(&["baseline", arg(dir), "-q", "-o", arg(out)]);
}

#[track_caller]
fn check_json(dir: &Path, baseline: &Path, extra: &[&str]) -> (Value, i32) {
    let mut a = vec![
        "check",
        arg(dir),
        "--baseline",
        arg(baseline),
        "--format",
        "json",
        "-q",
    ];
    a.extend_from_slice(extra);
    let o = kbscan(&a);
    (stdout_json(&o), o.status.code().expect("exit code"))
}

fn changes<'a>(v: &'a Value, kind: &str) -> Vec<&'a Value> {
    v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == kind)
        .collect()
}

/// Every change key appears once.
#[track_caller]
fn assert_each_once(v: &Value) {
    let mut keys: Vec<(String, String)> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["kind"].to_string(), c["key"].to_string()))
        .collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "a change is reported twice: {v:#}");
}

#[test]
fn identical_corpus_moved_elsewhere_has_no_changes() {
    let (tmp, dir) = corpus_copy(&[]);
    let bl = tmp.path().join("b.json");
    write_baseline(&dir, &bl);
    // The baseline is portable: the same files under another folder compare equal.
    let other = tempdir();
    let dir2 = other.path().join("elsewhere");
    std::fs::rename(&dir, &dir2).unwrap();
    let o = kbscan(&["check", arg(&dir2), "--baseline", arg(&bl)]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(stdout(&o), "no changes\n");
    let text = std::fs::read_to_string(&bl).unwrap();
    assert!(
        !text.contains(arg(tmp.path())),
        "no absolute paths in a baseline"
    );
}

#[test]
fn committed_baseline_matches_the_synthetic_corpus() {
    let o = kbscan(&[
        "check",
        "corpus/synthetic",
        "--baseline",
        "corpus/synthetic.baseline.json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(stdout(&o), "no changes\n");
}

#[test]
fn removed_package_is_reported_once() {
    let (tmp, dir) = corpus_copy(&[]);
    let bl = tmp.path().join("b.json");
    write_baseline(&dir, &bl);
    std::fs::remove_file(dir.join("Windows6.0-KB4499149-x86.msu")).unwrap();
    let (v, code) = check_json(&dir, &bl, &[]);
    assert_eq!(code, 1);
    assert_each_once(&v);
    let removed = changes(&v, "package-removed");
    assert_eq!(removed.len(), 1, "{v:#}");
    assert_eq!(removed[0]["key"], "Windows6.0-KB4499149-x86.msu");
    assert!(removed[0]["before"].as_str().unwrap().contains("KB4499149"));
    // Its files are covered by the package change, not listed one by one.
    assert!(changes(&v, "file-removed").is_empty());
    // Text output names it under its kind.
    let o = kbscan(&["check", arg(&dir), "--baseline", arg(&bl), "-q"]);
    assert_eq!(o.status.code(), Some(1));
    let t = stdout(&o);
    assert!(t.contains("package-removed (1)"), "{t}");
    assert_eq!(t.matches("Windows6.0-KB4499149-x86.msu").count(), 1, "{t}");
}

#[test]
fn added_package_that_moves_a_build() {
    let (tmp, dir) = corpus_copy(&["KB4489887"]);
    let bl = tmp.path().join("b.json");
    write_baseline(&dir, &bl);
    for arch in ["x64", "x86"] {
        let name = format!("Windows6.0-KB4489887-{arch}.msu");
        std::fs::copy(
            root().join("corpus/synthetic/ws2008sp2").join(&name),
            dir.join(&name),
        )
        .unwrap();
    }
    let (v, code) = check_json(&dir, &bl, &[]);
    assert_eq!(code, 1);
    assert_each_once(&v);
    let added = changes(&v, "package-added");
    assert_eq!(added.len(), 2, "{v:#}");
    let moves = changes(&v, "new-build-move");
    assert!(!moves.is_empty(), "{v:#}");
    for m in &moves {
        assert!(m["key"].as_str().unwrap().contains("6.0.6003"), "{m}");
        assert!(m["after"].as_str().unwrap().contains("KB4489887"), "{m}");
    }
    assert!(changes(&v, "file-added").is_empty());
    // --fail-on selects: only ceiling changes fail → whatever the moves, exit 0 if none.
    let (v2, code2) = check_json(&dir, &bl, &["--fail-on", "scan-error,hash-change"]);
    assert_eq!(code2, 0, "unselected kinds do not fail");
    assert_eq!(v2["changes"], v["changes"], "but are still reported");
    let (_, code3) = check_json(&dir, &bl, &["--fail-on", "new-build-move"]);
    assert_eq!(code3, 1);
}

#[test]
fn changed_file_version_is_one_version_change() {
    let (tmp, dir) = corpus_copy(&[]);
    let bl = tmp.path().join("b.json");
    write_baseline(&dir, &bl);
    let mut b: Value = serde_json::from_str(&std::fs::read_to_string(&bl).unwrap()).unwrap();
    let files = b["files"].as_array_mut().unwrap();
    let f = files
        .iter_mut()
        .find(|f| f["versions"]["pe_file"].is_string())
        .expect("a PE file with a version");
    let path = f["path"].as_str().unwrap().to_string();
    f["versions"]["pe_file"] = Value::from("6.0.6002.1");
    std::fs::write(&bl, serde_json::to_string_pretty(&b).unwrap()).unwrap();

    let (v, code) = check_json(&dir, &bl, &[]);
    assert_eq!(code, 1);
    assert_eq!(v["changes"].as_array().unwrap().len(), 1, "{v:#}");
    let c = &changes(&v, "version-change")[0];
    assert_eq!(c["key"], path.as_str());
    assert!(c["before"].as_str().unwrap().contains("pe_file 6.0.6002.1"));
    assert!(!c["after"].as_str().unwrap().contains("pe_file 6.0.6002.1,"));
    // Gating on other kinds: still printed, exit 0.
    let (v2, code2) = check_json(&dir, &bl, &["--fail-on", "new-build-move,ceiling"]);
    assert_eq!(code2, 0);
    assert_eq!(v2["failed"], false);
    assert_eq!(changes(&v2, "version-change").len(), 1);
    let (_, code3) = check_json(&dir, &bl, &["--fail-on", "none"]);
    assert_eq!(code3, 0);
}

#[test]
fn corrupted_package_is_a_new_scan_error() {
    let (tmp, dir) = corpus_copy(&[]);
    let bl = tmp.path().join("b.json");
    write_baseline(&dir, &bl);
    std::fs::copy(
        root().join("corpus/malformed/bad-checksum.cab"),
        dir.join("bad-checksum.cab"),
    )
    .unwrap();
    let (v, code) = check_json(&dir, &bl, &[]);
    assert_eq!(code, 1);
    assert_each_once(&v);
    let errs = changes(&v, "scan-error");
    assert!(!errs.is_empty(), "{v:#}");
    for e in &errs {
        assert!(e["key"].as_str().unwrap().starts_with("bad-checksum.cab!"));
        assert_eq!(e["after"], "cab_bad_checksum");
    }
    let (_, code) = check_json(&dir, &bl, &["--fail-on", "scan-error"]);
    assert_eq!(code, 1);
    let (_, code) = check_json(&dir, &bl, &["--fail-on", "version-change"]);
    assert_eq!(code, 0);

    // Once the broken package is in the baseline, its known errors no longer fail.
    let bl2 = tmp.path().join("b2.json");
    let o = kbscan(&["baseline", arg(&dir), "-q", "-o", arg(&bl2)]);
    assert_eq!(o.status.code(), Some(1), "baseline says inputs failed");
    let (v, code) = check_json(&dir, &bl2, &[]);
    assert_eq!(code, 0, "{v:#}");
}

#[test]
fn future_schema_version_is_refused() {
    let (tmp, dir) = corpus_copy(&[]);
    let bl = tmp.path().join("b.json");
    write_baseline(&dir, &bl);
    let text = std::fs::read_to_string(&bl).unwrap();
    let future = text.replace("\"schema_version\": 1", "\"schema_version\": 2");
    assert_ne!(future, text);
    std::fs::write(&bl, future).unwrap();
    let o = kbscan(&["check", arg(&dir), "--baseline", arg(&bl)]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("schema version 2") && err.contains("schema version 1"),
        "{err}"
    );
    assert!(stdout(&o).is_empty());

    std::fs::write(&bl, text.replace("kbscan-baseline", "something-else")).unwrap();
    let o = kbscan(&["check", arg(&dir), "--baseline", arg(&bl)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a kbscan baseline"));

    // Unknown extra fields of the same version are accepted.
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["added_later"] = Value::from("x");
    v["packages"][0]["new_field"] = Value::from(1);
    std::fs::write(&bl, serde_json::to_string(&v).unwrap()).unwrap();
    let o = kbscan(&["check", arg(&dir), "--baseline", arg(&bl)]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn unknown_fail_on_kind_is_a_usage_error() {
    let o = kbscan(&[
        "check",
        "corpus/synthetic",
        "--baseline",
        "corpus/synthetic.baseline.json",
        "--fail-on",
        "version-changes",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("version-change"));
}

#[test]
fn baseline_bytes_do_not_depend_on_threads() {
    let tmp = tempdir();
    let (a, b) = (tmp.path().join("a.json"), tmp.path().join("b.json"));
    for (j, out) in [("1", &a), ("2", &b)] {
        let o = kbscan(&[
            "baseline",
            "corpus/synthetic",
            "-q",
            "-j",
            j,
            "-o",
            arg(out),
        ]);
        assert_eq!(o.status.code(), Some(0));
    }
    let (a, b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert!(a == b, "-j 1 and -j 2 baselines differ");
    assert_eq!(
        a,
        std::fs::read(root().join("corpus/synthetic.baseline.json")).unwrap(),
        "committed baseline is what `kbscan baseline corpus/synthetic` writes"
    );
}

#[test]
fn junit_output_is_well_formed() {
    use quick_xml::events::Event;
    let (tmp, dir) = corpus_copy(&[]);
    let bl = tmp.path().join("b.json");
    write_baseline(&dir, &bl);
    std::fs::remove_file(dir.join("Windows6.0-KB4499149-x86.msu")).unwrap();
    std::fs::copy(
        root().join("corpus/malformed/bad-checksum.cab"),
        dir.join("a<&\"'>.cab"),
    )
    .unwrap();
    let out = tmp.path().join("junit.xml");
    let o = kbscan(&[
        "check",
        arg(&dir),
        "--baseline",
        arg(&bl),
        "--format",
        "junit",
        "--fail-on",
        "package-removed,scan-error",
        "-o",
        arg(&out),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let xml = std::fs::read_to_string(&out).unwrap();
    let mut r = quick_xml::Reader::from_str(&xml);
    let (mut suites, mut cases, mut failures, mut depth) = (0, 0, 0, 0i32);
    loop {
        match r.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                depth += 1;
                match e.name().into_inner() {
                    "testsuite" => suites += 1,
                    "testcase" => cases += 1,
                    "failure" => failures += 1,
                    _ => {}
                }
            }
            Event::End(_) => depth -= 1,
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0);
    assert_eq!(suites, 1);
    assert_eq!(cases, 11, "one testcase per change kind");
    assert_eq!(failures, 2, "package-removed and scan-error fail");
    assert!(xml.contains(r#"name="package-added: "#));
    assert!(!xml.contains("a<&"), "hostile name escaped");
    assert!(xml.contains("a&lt;&amp;&quot;&apos;&gt;.cab"), "{xml}");
    assert!(xml.contains("cab_bad_checksum"));
}

#[test]
fn github_annotations_escape_hostile_names() {
    let (tmp, dir) = corpus_copy(&[]);
    let bl = tmp.path().join("b.json");
    write_baseline(&dir, &bl);
    let hostile = "x%25,y:z\n::error::forged.cab";
    std::fs::copy(
        root().join("corpus/malformed/bad-checksum.cab"),
        dir.join(hostile),
    )
    .unwrap();
    let o = kbscan(&[
        "check",
        arg(&dir),
        "--baseline",
        arg(&bl),
        "--format",
        "github",
        "--fail-on",
        "scan-error",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    for line in out.lines() {
        assert!(
            line.starts_with("::error ") || line.starts_with("::warning "),
            "every line is one annotation: {line:?}"
        );
        assert!(!line.starts_with("::error::forged"), "forged annotation");
    }
    assert!(out.contains("title=kbscan check%3A scan-error::"), "{out}");
    assert!(
        out.contains("x%2525%2Cy%3Az%0A%3A%3Aerror%3A%3Aforged.cab"),
        "{out}"
    );
    assert!(
        out.contains("x%2525,y:z%0A::error::forged.cab"),
        "message: {out}"
    );
    assert!(
        out.contains("::warning "),
        "package-added is not selected: {out}"
    );
}
