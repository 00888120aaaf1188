//! `kbscan extract`: the corpus comes out as the generator wrote it, and hostile names
//! or planted symbolic links never put a byte outside the output directory.

use crate::util::{kbscan, tempdir};
use kbscan_fixtures::cab::{write_cab, CabFile, CabFolder, CabSpec, Compression};
use kbscan_fixtures::corpus::{self, Arch};
use std::path::Path;
use std::process::Output;

#[track_caller]
fn extract(args: &[&str]) -> Output {
    kbscan(&[&["extract"], args].concat())
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
    let out = tempdir();
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
    let out = tempdir();
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
    let sandbox = tempdir();
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
    let sandbox = tempdir();
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
    let out = tempdir();
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
    let work = tempdir();
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
    let out = tempdir();
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

/// Issue 15, finding 1: a nested container named `...cab` used to expand into `..` (one
/// directory up per nesting level), `..cab` into OUT itself, `a..cab`/`x .cab` into names
/// the member check refuses. Derived folder names now go through the same check and get
/// the `.expanded` form instead; nothing lands outside OUT, even with `--force`.
#[test]
fn derived_folder_names_never_climb_out_of_the_output_directory() {
    fn cab_of(members: Vec<(&str, Vec<u8>)>) -> Vec<u8> {
        write_cab(&CabSpec {
            folders: vec![CabFolder {
                compression: Compression::MsZip,
                files: members.iter().map(|(n, d)| file(n, d)).collect(),
            }],
            set_id: 9,
            reserve: None,
        })
    }
    let sandbox = tempdir();
    let out = sandbox.path().join("a").join("b").join("c").join("out");
    std::fs::create_dir_all(&out).unwrap();
    // ...cab > ...cab > ...cab > evil.txt, beside the other hostile stems.
    let mut inner = cab_of(vec![("evil.txt", b"evil".to_vec())]);
    for _ in 0..3 {
        inner = cab_of(vec![("...cab", inner)]);
    }
    let top = cab_of(vec![
        ("...cab", inner),
        ("..cab", cab_of(vec![("dot.txt", b"d".to_vec())])),
        ("a..cab", cab_of(vec![("trail.txt", b"t".to_vec())])),
        ("x .cab", cab_of(vec![("space.txt", b"s".to_vec())])),
    ]);
    let src = sandbox.path().join("top.cab");
    std::fs::write(&src, top).unwrap();
    for force in [false, true] {
        let mut args = vec![src.to_str().unwrap(), "-d", out.to_str().unwrap()];
        if force {
            args.push("--force");
        }
        let o = extract(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "force={force}: {stderr}");
        let mut want = vec![
            "...cab",
            "...cab.expanded/...cab",
            "...cab.expanded/...cab.expanded/...cab",
            "...cab.expanded/...cab.expanded/...cab.expanded/...cab",
            "...cab.expanded/...cab.expanded/...cab.expanded/...cab.expanded/evil.txt",
            "..cab",
            "..cab.expanded/dot.txt",
            "a..cab",
            "a..cab.expanded/trail.txt",
            "x .cab",
            "x .cab.expanded/space.txt",
        ];
        want.sort();
        assert_eq!(files_under(&out), want);
        // Only the source and the output tree exist in the sandbox.
        let everything = files_under(sandbox.path());
        assert!(
            everything
                .iter()
                .all(|p| p == "top.cab" || p.starts_with("a/b/c/out/")),
            "{everything:?}"
        );
    }
}

/// Issue 15, finding 2: the output tree is created through directory handles, so a
/// local process that swaps a directory of OUT for a symbolic link to somewhere else,
/// over and over while the extraction runs, never gets a byte written outside OUT.
#[cfg(unix)]
#[test]
fn a_directory_swapped_for_a_symlink_during_extraction_is_never_followed() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let sandbox = tempdir();
    let outside = sandbox.path().join("outside");
    let out = sandbox.path().join("out");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    // Many small members in a few folders: thousands of chances for the race.
    let names: Vec<String> = (0..4000)
        .map(|i| format!("d{}\\sub\\f{i}.txt", i % 4))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let cab = sandbox.path().join("race.cab");
    std::fs::write(&cab, hostile_cab(&refs)).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, out, outside) = (stop.clone(), out.clone(), outside.clone());
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for d in ["d0", "d1", "d2", "d3"] {
                    let real = out.join(d);
                    let moved = out.join(format!("{d}.moved"));
                    if std::fs::rename(&real, &moved).is_ok() {
                        if std::os::unix::fs::symlink(&outside, &real).is_ok() {
                            swaps += 1;
                        }
                        std::thread::yield_now();
                        let _ = std::fs::remove_file(&real);
                        let _ = std::fs::rename(&moved, &real);
                    }
                }
            }
            swaps
        })
    };
    let o = extract(&[cab.to_str().unwrap(), "-d", out.to_str().unwrap(), "-q"]);
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(swaps > 0, "the swapper never ran");
    assert!(matches!(o.status.code(), Some(0 | 1)), "{o:?}");
    assert_eq!(
        files_under(&outside),
        Vec::<String>::new(),
        "written through a swapped-in link ({swaps} swaps)"
    );
}

/// Runs `kbscan extract ARGS` and kills it after 20 s, so a regression that opens a FIFO
/// or reads a device fails the test instead of hanging it.
#[cfg(unix)]
#[track_caller]
fn extract_within_20s(args: &[&std::ffi::OsStr]) -> Output {
    let mut all: Vec<&std::ffi::OsStr> = vec!["extract".as_ref()];
    all.extend_from_slice(args);
    crate::util::kbscan_within_20s(&all)
}

/// Regression (issue 15, finding 3): `extract` read its package with `fs::read`, so a
/// device was read without end and a FIFO waited for a writer. Only a regular file is
/// read: anything else is a usage error (exit 2) naming its type, and nothing is created.
#[cfg(unix)]
#[test]
fn extract_refuses_devices_and_fifos() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pkg.msu");
    crate::util::mkfifo(&fifo);
    let out_dir = dir.path().join("out");
    for (pkg, what) in [
        (Path::new("/dev/zero"), "character device"),
        (fifo.as_path(), "FIFO"),
    ] {
        let o = extract_within_20s(&[pkg.as_os_str(), "-d".as_ref(), out_dir.as_os_str()]);
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("not a regular file ({what})")),
            "{err}"
        );
        assert!(!out_dir.exists());
    }
}

/// Regression (issue 15, finding 6): an existing DIR that cannot be written into gave one
/// refusal per member and exit 1; it is a fatal error (exit 2) found before extracting.
///
/// The tests run as root, which writes into a mode-0555 folder, so the folder is `/sys`:
/// present on every Linux system, and sysfs lets nobody, root included, create a file in
/// it (EACCES; EROFS where it is mounted read-only). `--pattern` selects no member, so a
/// regression of the probe could not write into `/sys` even if sysfs allowed it.
#[cfg(target_os = "linux")]
#[test]
fn an_unwritable_existing_output_directory_is_exit_2() {
    if !Path::new("/sys/kernel").is_dir() {
        eprintln!("SKIP: no /sys here");
        return;
    }
    let o = extract(&[
        "corpus/synthetic/win7sp1/Windows6.1-KB4489878-x64.msu",
        "-d",
        "/sys",
        "--pattern",
        "no-member-is-named-like-this",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot write into /sys: "), "{err}");
}

/// A CAB whose members are named with U+202E RIGHT-TO-LEFT OVERRIDE: `evil<U+202E>txt.exe`
/// (written) and `sub<U+202E>bac.cab`, a broken nested cabinet (written, then refused).
fn rlo_cab() -> Vec<u8> {
    write_cab(&CabSpec {
        folders: vec![CabFolder {
            compression: Compression::MsZip,
            files: vec![
                file("evil\u{202e}txt.exe", b"not really"),
                file("sub\u{202e}bac.cab", b"MSCF\0\0\0\0 truncated"),
            ],
        }],
        set_id: 15,
        reserve: None,
    })
}

/// Regression (issue 15, finding 6): right-to-left overrides in member names were printed
/// raw (`evil<U+202E>txt.exe` shows as `evilexe.txt`). The listing and the refusals on
/// stderr show them escaped; the file on disk keeps its real name.
#[test]
fn bidi_controls_in_member_names_are_escaped_in_the_listing_and_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let cab = dir.path().join("rlo.cab");
    std::fs::write(&cab, rlo_cab()).unwrap();
    let out_dir = dir.path().join("out");
    let o = extract(&[cab.to_str().unwrap(), "-d", out_dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let listing = String::from_utf8(o.stdout).unwrap();
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(listing.contains("evil\\u{202e}txt.exe"), "{listing}");
    assert!(err.contains("rlo.cab!sub\\u{202e}bac.cab: ["), "{err}");
    assert!(!listing.contains('\u{202e}') && !err.contains('\u{202e}'));
    assert!(out_dir.join("evil\u{202e}txt.exe").is_file());
}
