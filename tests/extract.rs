//! `kbscan extract`: the corpus comes out as the generator wrote it, and hostile names
//! or planted symbolic links never put a byte outside the output directory.

use kbscan_fixtures::cab::{write_cab, CabFile, CabFolder, CabSpec, Compression};
use kbscan_fixtures::corpus::{self, Arch};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[track_caller]
fn extract(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kbscan"))
        .arg("extract")
        .args(args)
        .current_dir(root())
        .output()
        .expect("run kbscan")
}

fn file(name: &str, data: &[u8]) -> CabFile {
    CabFile {
        name: name.into(),
        data: data.to_vec(),
        date: 0x4E69,
        time: 0x8800,
        attribs: 0x20,
    }
}

fn hostile_cab(names: &[&str]) -> Vec<u8> {
    write_cab(&CabSpec {
        folders: vec![CabFolder {
            compression: Compression::MsZip,
            files: names.iter().map(|n| file(n, n.as_bytes())).collect(),
        }],
        set_id: 7,
        reserve: None,
    })
}

/// Every non-directory entry below `dir` (links included, not followed), relative.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn msu_payload_and_sub_cab_come_out_byte_identical() {
    let spec = corpus::packages()
        .into_iter()
        .find(|p| p.kb == 4493730 && p.arch == Arch::X86)
        .unwrap();
    let corpus::Location::File(rel) = &spec.location else {
        panic!()
    };
    let out = tempfile::tempdir().unwrap();
    let o = extract(&[
        &format!("corpus/synthetic/{rel}"),
        "-d",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let base = out
        .path()
        .join("Windows6.0-KB4493730-x86")
        .join("Cab_1_for_KB4493730");
    for (key, f, bytes) in corpus::pe_files(&spec) {
        assert_eq!(
            std::fs::read(base.join(&key).join(f.name)).unwrap(),
            bytes,
            "{key}/{}",
            f.name
        );
    }
    assert!(out
        .path()
        .join("Windows6.0-KB4493730-x86/update.mum")
        .is_file());
    assert!(
        out.path().join("WSUSSCAN.cab").is_file(),
        "WSUSSCAN.cab written, not expanded"
    );
    assert!(!out.path().join("WSUSSCAN").exists());
}

#[test]
fn pattern_filters_and_existing_files_need_force() {
    let out = tempfile::tempdir().unwrap();
    let d = out.path().to_str().unwrap();
    let msu = "corpus/synthetic/ws2008sp2/Windows6.0-KB4489880-x86.msu";
    assert_eq!(
        extract(&[msu, "-d", d, "--pattern", "*.EXE", "-q"])
            .status
            .code(),
        Some(0)
    );
    let got = files_under(out.path());
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|f| f.ends_with(".exe")));
    let again = extract(&[msu, "-d", d, "--pattern", "ntoskrnl.exe"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("[output_exists]"));
    assert_eq!(
        extract(&[msu, "-d", d, "--pattern", "ntoskrnl.exe", "--force"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn hostile_names_are_refused_and_nothing_escapes() {
    let sandbox = tempfile::tempdir().unwrap();
    let out = sandbox.path().join("out");
    let cab = sandbox.path().join("hostile.cab");
    let names = [
        "../../evil1.txt",
        "..\\evil2.txt",
        "/tmp/evil3.txt",
        "\\evil4.txt",
        "C:\\evil5.txt",
        "c:evil6.txt",
        "bell\x07.txt",
        "CON",
        "dir\\aux.txt",
        "a:b.txt",
        "ok\\good.txt",
    ];
    std::fs::write(&cab, hostile_cab(&names)).unwrap();
    let o = extract(&[cab.to_str().unwrap(), "-d", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        stderr.matches("[unsafe_member_name]").count(),
        names.len() - 1,
        "{stderr}"
    );
    assert_eq!(files_under(&out), ["ok/good.txt"]);
    // Nothing next to the output directory or its parent.
    assert_eq!(
        files_under(sandbox.path()),
        ["hostile.cab", "out/ok/good.txt"]
    );
    assert!(!Path::new("/tmp/evil3.txt").exists());
}

#[cfg(unix)]
#[test]
fn symlinks_in_the_output_directory_are_not_followed() {
    let sandbox = tempfile::tempdir().unwrap();
    let outside = sandbox.path().join("outside");
    let out = sandbox.path().join("out");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    // A directory link and a dangling file link, both pointing outside.
    std::os::unix::fs::symlink(&outside, out.join("ok")).unwrap();
    std::os::unix::fs::symlink(outside.join("planted.txt"), out.join("top.txt")).unwrap();
    let cab = sandbox.path().join("x.cab");
    std::fs::write(&cab, hostile_cab(&["ok\\good.txt", "top.txt"])).unwrap();
    for force in [false, true] {
        let mut args = vec![cab.to_str().unwrap(), "-d", out.to_str().unwrap()];
        if force {
            args.push("--force");
        }
        let o = extract(&args);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&o.stderr)
                .matches("[symlink_in_output]")
                .count(),
            2
        );
        assert!(
            files_under(&outside).is_empty(),
            "nothing written through a link"
        );
    }
}

#[test]
fn not_a_cabinet_is_a_usage_error() {
    let o = extract(&["corpus/README.md", "-d", "target/never"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an MSU, CAB or ZIP"));
}

/// A ZIP of MSUs comes out with its folders, each MSU written and expanded beside itself
/// down to the payload's component files, byte-identical to what the generator wrote.
#[test]
fn zip_of_msus_is_extracted_and_expanded() {
    let out = tempfile::tempdir().unwrap();
    let o = extract(&[
        "corpus/synthetic/batch-2019.zip",
        "-d",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.path().join("README.txt").is_file());
    let mut checked = 0;
    for spec in corpus::packages() {
        let corpus::Location::InZip(member) = &spec.location else {
            continue;
        };
        let msu = out.path().join(member);
        assert!(msu.is_file(), "{member} written");
        let expanded = msu.with_extension("");
        let payload = expanded.join(spec.msu_name().replace(".msu", ""));
        for (key, f, bytes) in corpus::pe_files(&spec) {
            assert_eq!(
                std::fs::read(payload.join(&key).join(f.name)).unwrap(),
                bytes,
                "{member}: {key}/{}",
                f.name
            );
            checked += 1;
        }
    }
    assert!(checked >= 2, "PE files checked: {checked}");
}

/// ZIP member names get the same treatment as CAB names: refused, never rewritten, and
/// the rest of the archive still comes out.
#[test]
fn hostile_zip_names_are_refused() {
    let zip = kbscan_fixtures::corpus::zip_bytes(&[
        ("../escape.txt".into(), b"x".to_vec()),
        ("/abs.txt".into(), b"x".to_vec()),
        ("a\\..\\..\\b.txt".into(), b"x".to_vec()),
        ("C:/drive.txt".into(), b"x".to_vec()),
        ("ok/fine.txt".into(), b"fine".to_vec()),
    ]);
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("hostile.zip");
    std::fs::write(&src, zip).unwrap();
    let out = work.path().join("out");
    let o = extract(&[src.to_str().unwrap(), "-d", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("unsafe_member_name").count(), 4, "{err}");
    assert_eq!(files_under(&out), vec!["ok/fine.txt".to_string()]);
    assert_eq!(files_under(work.path()).len(), 2, "nothing beside out/");
}

/// Limits apply to extraction too: a package budget stops a bomb and says which limit.
#[test]
fn extraction_honours_the_package_budget() {
    let out = tempfile::tempdir().unwrap();
    let o = extract(&[
        "corpus/synthetic/ws2008sp2/Windows6.0-KB4489880-x64.msu",
        "-d",
        out.path().to_str().unwrap(),
        "--max-package-bytes",
        "64K",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("max_package_bytes"));
}
