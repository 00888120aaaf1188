//! Genuine Microsoft packages from `../shared/real` (see its README for provenance).
//! They are never copied into the repository: each test extracts what it needs with
//! `cabextract` into a temporary directory, and skips (saying why) when either the
//! samples or `cabextract` are missing; under `KBSCAN_REQUIRE_TOOLS=1` that is a failure.

use kbscan_cbs::*;
use kbscan_fixtures::require;
use sha1::{Digest, Sha1};
use std::path::{Path, PathBuf};
use std::process::Command;

fn real_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/real")
}

/// Extracts `cab` into `into`; `false` (after printing why) when the sample or `cabextract`
/// is missing (see [`require`]).
fn extract(cab: &Path, into: &Path) -> bool {
    if !require::samples(cab) || !require::tool("cabextract") {
        return false;
    }
    let out = Command::new("cabextract")
        .arg("-q")
        .arg("-d")
        .arg(into)
        .arg(cab)
        .output()
        .expect("running cabextract");
    // The genuine cabinets carry an Authenticode blob after the cabinet: cabextract
    // warns about "extra bytes" but still succeeds.
    assert!(
        out.status.success(),
        "cabextract failed on {}: {}",
        cab.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

fn payload(arch: &str) -> Option<tempfile::TempDir> {
    let dir = tempfile::tempdir().unwrap();
    let cab = real_dir().join(format!("cab/Windows6.0-KB2999226-{arch}.cab"));
    extract(&cab, dir.path()).then_some(dir)
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

#[test]
fn real_x64_update_mum_lists_sub_packages() {
    let Some(dir) = payload("x64") else { return };
    let mum = parse_package_mum(&read(dir.path(), "update.mum")).unwrap();
    assert_eq!(mum.identity.name, "Package_for_KB2999226");
    assert_eq!(mum.identity.version, Some(v("6.0.1.6")));
    assert_eq!(
        mum.identity.processor_architecture.as_deref(),
        Some("amd64")
    );
    assert_eq!(mum.identity.language.as_deref(), Some("neutral"));
    assert_eq!(
        mum.identity.public_key_token.as_deref(),
        Some("31bf3856ad364e35")
    );
    assert_eq!(mum.description.as_deref(), Some("Fix for KB2999226"));
    assert_eq!(
        mum.creation_time_stamp.as_deref(),
        Some("2015-09-10T14:57:56Z")
    );
    assert_eq!(mum.kb.as_deref(), Some("KB2999226"));
    assert_eq!(mum.release_type.as_deref(), Some("Update"));
    assert_eq!(mum.restart.as_deref(), Some("possible"));
    assert_eq!(mum.parents.len(), 1);
    assert_eq!(mum.parents[0].name, "package_for_KB948465");
    assert_eq!(mum.parents[0].version, Some(v("6.0.1.18005")));
    let names: Vec<_> = mum.updates.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "2999226-13_neutral_PACKAGE",
            "2999226-14_neutral_PACKAGE",
            "2999226-15_neutral_PACKAGE"
        ]
    );
    assert!(mum
        .updates
        .iter()
        .all(|u| u.branch.as_deref() == Some("PACKAGE")));
    assert!(mum.updates.iter().all(|u| u.components.is_empty()));
    let subs: Vec<_> = mum
        .updates
        .iter()
        .flat_map(|u| &u.packages)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        subs,
        [
            "Package_for_KB2999226_client",
            "Package_for_KB2999226_server",
            "Package_for_KB2999226_sc"
        ]
    );

    let bf = parse_package_mum(&read(dir.path(), "update-bf.mum")).unwrap();
    assert_eq!(bf.identifier.as_deref(), Some("KB2999226_BF"));
    assert_eq!(bf.kb.as_deref(), Some("KB2999226"));
}

#[test]
fn real_x64_sub_package_mum_has_ldr_and_gdr_components() {
    let Some(dir) = payload("x64") else { return };
    let name = "package_1_for_kb2999226~31bf3856ad364e35~amd64~~6.0.1.6.mum";
    let mum = parse_package_mum(&read(dir.path(), name)).unwrap();
    assert_eq!(mum.identity.name, "Package_1_for_KB2999226");
    assert_eq!(mum.updates.len(), 2);
    let (ldr, gdr) = (&mum.updates[0], &mum.updates[1]);
    assert_eq!(ldr.name, "2999226-1_neutral_LDR");
    assert_eq!(ldr.branch.as_deref(), Some("LDR"));
    assert_eq!(gdr.branch.as_deref(), Some("GDR"));
    // Four applicability components (UCRT, APIfwd x amd64, x86) + the deployment component.
    assert_eq!(ldr.components.len(), 5);
    assert_eq!(gdr.components.len(), 5);
    assert!(ldr
        .components
        .iter()
        .all(|c| c.version == Some(v("6.0.6002.23798"))));
    assert!(gdr
        .components
        .iter()
        .all(|c| c.version == Some(v("6.0.6002.19488"))));
    assert_eq!(ldr.components[0].name, "Microsoft-Windows-UCRT");
    assert_eq!(ldr.components[4].name, "a26446a4ce0e2ee882f5e8abadc06506");
    assert_eq!(gdr.components[4].name, "6205d1893ace4ca019deddb3cbe87d64");
    assert_eq!(
        ldr.components[2].processor_architecture.as_deref(),
        Some("x86")
    );
    assert_eq!(ldr.components[0].version_scope.as_deref(), Some("nonSxS"));
}

#[test]
fn real_every_mum_parses() {
    // (arch, identities per full package_N .mum, per _bf package_N .mum)
    for (arch, full, bf) in [("x64", 10, 5), ("x86", 6, 3)] {
        let Some(dir) = payload(arch) else { return };
        let mums = files_with_ext(dir.path(), "mum");
        assert_eq!(mums.len(), 20, "{arch}");
        let mut components = 0;
        for path in &mums {
            let mum = parse_package_mum(&std::fs::read(path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(mum.kb.as_deref() == Some("KB2999226"), "{}", path.display());
            assert!(mum.anomalies.is_empty());
            components += mum
                .updates
                .iter()
                .map(|u| u.components.len())
                .sum::<usize>();
        }
        // package_{1,2,3}_for_kb2999226: an LDR and a GDR update, 4 (x86: 2) applicability
        // identities + 1 deployment component each; the _bf variants: one LDR update.
        assert_eq!(components, 3 * full + 3 * bf, "{arch}");
    }
}

#[test]
fn real_manifests_parse_and_match_their_keys() {
    // x64 carries amd64 and x86 (WOW) components; x86 only x86 ones.
    for (arch, count) in [("x64", 10), ("x86", 6)] {
        let Some(dir) = payload(arch) else { return };
        let manifests = files_with_ext(dir.path(), "manifest");
        assert_eq!(manifests.len(), count, "{arch}");
        for path in &manifests {
            let bytes = std::fs::read(path).unwrap();
            assert_eq!(sniff_manifest(&bytes), ManifestEncoding::Xml);
            let m = parse_component_manifest(&bytes)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let file_name = path.file_name().unwrap().to_str().unwrap();
            let key = parse_component_key(file_name).unwrap();
            assert_eq!(
                Some(key.arch.as_str()),
                m.identity.processor_architecture.as_deref()
            );
            assert_eq!(key.version, m.identity.version);
            assert_eq!(key.public_key_token, "31bf3856ad364e35");
            assert_eq!(key.culture, "none");
            assert_eq!(key.hash.len(), 16);
            if !key.name.contains("..") {
                assert_eq!(key.name, m.identity.name.to_ascii_lowercase());
            } else {
                let (head, tail) = key.name.split_once("..").unwrap();
                let full = m.identity.name.to_ascii_lowercase();
                assert!(
                    full.starts_with(head) && full.ends_with(tail),
                    "{full} vs {}",
                    key.name
                );
            }
            for f in &m.files {
                assert_eq!(f.digest_method, Some(DigestAlg::Sha256), "{}", f.name);
                assert_eq!(f.digest.as_ref().map(Vec::len), Some(32), "{}", f.name);
            }
            assert!(m.anomalies.is_empty());
            let expected_files = if m.identity.name == "Microsoft-Windows-UCRT" {
                1
            } else if m.identity.name == "Microsoft-Windows-UniversalCRT-APIfwd-Vista" {
                42
            } else {
                0 // the hash-named deployment components only declare dependencies
            };
            assert_eq!(m.files.len(), expected_files, "{}", path.display());
        }
    }
}

#[test]
fn real_ucrt_manifest_digest() {
    let Some(dir) = payload("x64") else { return };
    let name = "amd64_microsoft-windows-ucrt_31bf3856ad364e35_6.0.6002.23798_none_09f68ccfe86315dd.manifest";
    let m = parse_component_manifest(&read(dir.path(), name)).unwrap();
    assert_eq!(m.identity.name, "Microsoft-Windows-UCRT");
    assert_eq!(m.identity.build_type.as_deref(), Some("release"));
    let f = &m.files[0];
    assert_eq!(f.name, "ucrtbase.dll");
    assert_eq!(f.destination_path.as_deref(), Some("$(runtime.system32)\\"));
    assert_eq!(f.source_path.as_deref(), Some(".\\"));
    let json = serde_json::to_value(f).unwrap();
    // base64 SRjy5jHvGuNMeGP6TzvXZjsv3w+hYMDeUH7TQ0hKyAY=
    assert_eq!(
        json["digest"],
        "4918f2e631ef1ae34c7863fa4f3bd7663b2fdf0fa160c0de507ed343484ac806"
    );
}

#[test]
fn real_container_index_and_raw_hashes() {
    for (arch, count, raw, pa30, length) in [
        ("x64", 222, 50, 86, 1_582_833u64),
        ("x86", 132, 46, 43, 898_199),
    ] {
        let Some(dir) = payload(arch) else { return };
        let cix = parse_container_index(&read(dir.path(), "_manifest_.cix.xml")).unwrap();
        assert_eq!(cix.name.as_deref(), Some("kb2999226.cab"));
        assert_eq!(cix.container_type.as_deref(), Some("CAB"));
        assert_eq!(cix.length, Some(length));
        assert_eq!(cix.files.len(), count, "{arch}");
        assert!(cix.anomalies.is_empty());
        let sources: Vec<_> = cix
            .files
            .iter()
            .filter_map(|f| f.delta.as_ref()?.source.as_ref())
            .collect();
        assert_eq!(
            sources
                .iter()
                .filter(|s| s.source_type == SourceType::Raw)
                .count(),
            raw
        );
        assert_eq!(
            sources
                .iter()
                .filter(|s| s.source_type == SourceType::Pa30)
                .count(),
            pa30
        );
        assert!(cix
            .files
            .iter()
            .all(|f| f.hash_alg.as_deref() == Some("SHA1")
                && f.hash.as_ref().map(Vec::len) == Some(20)
                && f.attr == Some(32)));
        // Every RAW member extracted by cabextract has the length and SHA-1 the index says.
        for f in &cix.files {
            let Some(src) = f.delta.as_ref().and_then(|d| d.source.as_ref()) else {
                continue;
            };
            if src.source_type != SourceType::Raw {
                continue;
            }
            let data = read(dir.path(), &src.source_name);
            assert_eq!(Some(data.len() as u64), f.length, "{}", f.name);
            assert_eq!(Some(Sha1::digest(&data).to_vec()), f.hash, "{}", f.name);
            assert_eq!(src.hash, f.hash);
        }
    }
    let Some(dir) = payload("x64") else { return };
    let cix = parse_container_index(&read(dir.path(), "_manifest_.cix.xml")).unwrap();
    let mum = cix.files.iter().find(|f| f.name == "update.mum").unwrap();
    assert_eq!(mum.id, Some(392));
    assert_eq!(mum.length, Some(1981));
    assert_eq!(mum.time, Some(130_863_958_769_658_475));
    let json = serde_json::to_value(mum).unwrap();
    assert_eq!(json["hash"], "0c82fb9fef5bfa6a5df5464a3c7c89684c634112");
    let ucrt = cix.files.iter().find(|f| f.id == Some(382)).unwrap();
    assert_eq!(
        ucrt.name,
        "amd64_microsoft-windows-ucrt_31bf3856ad364e35_6.0.6002.23798_none_09f68ccfe86315dd\\ucrtbase.dll"
    );
    assert_eq!(ucrt.length, Some(984_448));
    let delta = ucrt.delta.as_ref().unwrap();
    let src = delta.source.as_ref().unwrap();
    assert_eq!(
        (src.source_type.as_str(), src.source_name.as_str()),
        ("PA30", "10")
    );
    assert_eq!(delta.basis, vec![383]);
    // The GDR twin is byte-identical: a Basis-only delta pointing at the LDR file.
    let twin = cix.files.iter().find(|f| f.id == Some(381)).unwrap();
    assert_eq!(twin.hash, ucrt.hash);
    assert!(twin.delta.as_ref().unwrap().source.is_none());
    assert_eq!(twin.delta.as_ref().unwrap().basis, vec![382]);
}

#[test]
fn real_msu_properties_unattend_and_bom_mum() {
    let msu = real_dir().join("msu/Windows6.1-KB2999226-x64.msu");
    let outer = tempfile::tempdir().unwrap();
    if !extract(&msu, outer.path()) {
        return;
    }
    let o = outer.path();
    let props =
        parse_pkg_properties(&read(o, "Windows6.1-KB2999226-x64-pkgProperties.txt")).unwrap();
    // No BOM, plain ASCII: decoded as Windows-1252.
    assert_eq!(props.encoding, "windows-1252");
    assert_eq!(props.entries.len(), 14);
    assert_eq!(props.skipped_lines, 0);
    assert_eq!(props.build_date(), Some((2015, 7, 21)));
    assert_eq!(props.kb_article(), Some("2999226"));
    assert_eq!(props.processor_architecture(), Some("amd64"));
    assert_eq!(props.applies_to(), Some("Windows 6.1"));
    assert_eq!(props.installation_type(), Some("FULL"));
    assert_eq!(props.package_type(), Some("Update"));
    assert_eq!(
        props.get("applicabilityinfo"),
        Some("Windows 7.0 Client SP1;Windows 7.0 Server SP1;")
    );
    assert_eq!(
        props.get("Installer Engine"),
        Some("Component Based Servicing - WUSA.exe")
    );

    let u = parse_unattend(&read(o, "Windows6.1-KB2999226-x64.xml")).unwrap();
    assert_eq!(u.packages.len(), 1);
    let p = &u.packages[0];
    assert_eq!(p.action.as_deref(), Some("install"));
    let id = p.identity.as_ref().unwrap();
    assert_eq!(id.name, "Package_for_KB2999226");
    assert_eq!(id.version, Some(v("6.1.1.6")));
    assert_eq!(
        p.source_location.as_deref(),
        Some("%configsetroot%\\Windows6.1-KB2999226-x64.CAB")
    );

    let inner = tempfile::tempdir().unwrap();
    assert!(extract(
        &o.join("Windows6.1-KB2999226-x64.cab"),
        inner.path()
    ));
    let bytes = read(inner.path(), "update.mum");
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "this update.mum has a UTF-8 BOM"
    );
    let mum = parse_package_mum(&bytes).unwrap();
    assert_eq!(mum.identity.version, Some(v("6.1.1.6")));
    let parents: Vec<_> = mum.parents.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        parents,
        [
            "Microsoft-Windows-Client-Features-Package",
            "Microsoft-Windows-Server-Features-Package"
        ]
    );
    assert!(mum
        .parents
        .iter()
        .all(|p| p.version == Some(v("6.1.7601.17514"))));
    let cix = parse_container_index(&read(inner.path(), "_manifest_.cix.xml")).unwrap();
    assert_eq!(cix.files.len(), 118);
    assert_eq!(cix.length, Some(1_031_255));
}
