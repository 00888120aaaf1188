//! Hand-written documents modelled on domain.md §4–§5 and on the shapes seen in
//! genuine KB2999226 packages. Prefixes are deliberately unusual: the parsers must
//! resolve namespaces by URI.

use kbscan_cbs::*;

#[track_caller]
fn err_kind<T: std::fmt::Debug>(r: Result<T, CbsError>) -> CbsError {
    match r {
        Ok(v) => panic!("expected an error, parsed {v:?}"),
        Err(e) => e,
    }
}

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

/// Server 2008 SP2, March 2019 rollup style: GDR and LDR entries, a prefixed root.
const KB4489880_MUM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<a:assembly xmlns:a="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0"
    description="Fix for KB4489880" displayName="default" company="Microsoft Corporation"
    copyright="Microsoft Corporation" supportInformation="http://support.microsoft.com/?kbid=4489880"
    creationTimeStamp="2019-03-20T17:00:00Z" lastUpdateTimeStamp="2019-03-20T17:00:00Z">
  <a:assemblyIdentity name="Package_for_KB4489880" version="6.0.1.3" language="neutral"
      processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35"/>
  <a:package identifier="kb4489880" releaseType="Security Update" restart="required">
    <a:parent integrate="separate" disposition="detect">
      <a:assemblyIdentity name="Microsoft-Windows-Foundation-Package" version="6.0.6001.18000"
          processorArchitecture="amd64" language="neutral" buildType="release"
          publicKeyToken="31bf3856ad364e35" versionScope="nonSxS"/>
      <a:assemblyIdentity name="Microsoft-Windows-Server-Package" version="6.0.6001.18000"
          processorArchitecture="amd64" language="neutral"/>
    </a:parent>
    <a:update name="4489880-12_neutral_LDR">
      <a:component>
        <a:assemblyIdentity name="Microsoft-Windows-OS-Kernel" version="6.0.6002.24565"
            processorArchitecture="amd64" language="neutral" buildType="release"
            publicKeyToken="31bf3856ad364e35" versionScope="nonSxS"/>
      </a:component>
    </a:update>
    <a:update name="4489880-13_neutral_GDR">
      <a:applicable disposition="staged">
        <a:updateComponent elevate="install">
          <a:assemblyIdentity name="Microsoft-Windows-Win32k" version="6.0.6002.24564"
              processorArchitecture="amd64" language="neutral"/>
          <a:assemblyIdentity name="Microsoft-Windows-Win32k" version="6.0.6002.24564"
              processorArchitecture="x86" language="neutral"/>
        </a:updateComponent>
      </a:applicable>
    </a:update>
    <a:update name="4489880-14_neutral_PACKAGE">
      <a:package integrate="hidden">
        <a:assemblyIdentity name="Package_1_for_KB4489880" version="6.0.1.3"
            processorArchitecture="amd64" language="neutral"/>
      </a:package>
    </a:update>
    <a:update name="4489880-15_neutral_LDR">
      <a:component>
        <a:assemblyIdentity name="Bad-Version" version="6.0.6002.65536" language="neutral"/>
      </a:component>
    </a:update>
  </a:package>
</a:assembly>
"#;

#[test]
fn update_mum_prefixed_root_with_ldr_and_gdr_entries() {
    let mum = parse_package_mum(KB4489880_MUM.as_bytes()).unwrap();
    assert_eq!(mum.identity.name, "Package_for_KB4489880");
    assert_eq!(mum.identity.version, Some(v("6.0.1.3")));
    assert_eq!(
        mum.identity.processor_architecture.as_deref(),
        Some("amd64")
    );
    assert_eq!(
        mum.identity.public_key_token.as_deref(),
        Some("31bf3856ad364e35")
    );
    assert_eq!(mum.description.as_deref(), Some("Fix for KB4489880"));
    assert_eq!(mum.display_name.as_deref(), Some("default"));
    assert_eq!(mum.company.as_deref(), Some("Microsoft Corporation"));
    assert_eq!(
        mum.creation_time_stamp.as_deref(),
        Some("2019-03-20T17:00:00Z")
    );
    assert_eq!(mum.identifier.as_deref(), Some("kb4489880"));
    assert_eq!(mum.kb.as_deref(), Some("KB4489880"));
    assert_eq!(mum.release_type.as_deref(), Some("Security Update"));
    assert_eq!(mum.restart.as_deref(), Some("required"));
    assert_eq!(mum.parents.len(), 2);
    assert_eq!(mum.parents[0].version_scope.as_deref(), Some("nonSxS"));
    assert_eq!(mum.updates.len(), 4);

    let ldr = &mum.updates[0];
    assert_eq!(ldr.name, "4489880-12_neutral_LDR");
    assert_eq!(ldr.branch.as_deref(), Some("LDR"));
    assert_eq!(ldr.components.len(), 1);
    assert_eq!(ldr.components[0].name, "Microsoft-Windows-OS-Kernel");
    assert_eq!(ldr.components[0].version, Some(v("6.0.6002.24565")));
    assert_eq!(ldr.components[0].build_type.as_deref(), Some("release"));

    let gdr = &mum.updates[1];
    assert_eq!(gdr.branch.as_deref(), Some("GDR"));
    assert_eq!(gdr.components.len(), 2);
    assert_eq!(
        gdr.components[1].processor_architecture.as_deref(),
        Some("x86")
    );
    assert!(gdr.packages.is_empty());

    let pkg = &mum.updates[2];
    assert_eq!(pkg.branch.as_deref(), Some("PACKAGE"));
    assert!(pkg.components.is_empty());
    assert_eq!(pkg.packages[0].name, "Package_1_for_KB4489880");

    let bad = &mum.updates[3].components[0];
    assert_eq!(bad.version, None);
    assert_eq!(bad.version_raw.as_deref(), Some("6.0.6002.65536"));
    assert!(mum.anomalies.is_empty());
}

#[test]
fn elements_in_a_foreign_namespace_are_ignored_even_with_the_usual_prefix() {
    // `asmv3:` bound to a different URI inside must not be read as CBS.
    let xml = r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3">
      <asmv3:assemblyIdentity xmlns:asmv3="urn:not-cbs" name="Decoy"/>
      <assemblyIdentity name="Real" version="1.2.3.4"/>
      <package identifier="KB1">
        <update name="1-1_neutral_GDR" xmlns="urn:elsewhere"/>
      </package>
    </assembly>"#;
    let mum = parse_package_mum(xml.as_bytes()).unwrap();
    assert_eq!(mum.identity.name, "Real");
    assert!(mum.updates.is_empty());
}

#[test]
fn kb_identifier_normalisation() {
    let doc = |id: &str| {
        format!(
            r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3"><assemblyIdentity name="P"/><package identifier="{id}"/></assembly>"#
        )
    };
    let kb = |id: &str| parse_package_mum(doc(id).as_bytes()).unwrap().kb;
    assert_eq!(kb("KB2999226").as_deref(), Some("KB2999226"));
    assert_eq!(kb("KB2999226_BF").as_deref(), Some("KB2999226"));
    assert_eq!(kb(" 4489880 ").as_deref(), Some("KB4489880"));
    let mum = parse_package_mum(doc("Hotfix").as_bytes()).unwrap();
    assert_eq!(mum.kb, None);
    assert_eq!(mum.anomalies[0].reason, "no KB number");
}

const MANIFEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<q:assembly xmlns:q="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0">
  <q:assemblyIdentity name="Microsoft-Windows-OS-Kernel" version="6.0.6002.24565"
      processorArchitecture="amd64" language="neutral" buildType="release"
      publicKeyToken="31bf3856ad364e35" versionScope="nonSxS"/>
  <q:dependency discoverable="no">
    <q:dependentAssembly>
      <q:assemblyIdentity name="Not-The-Identity" version="1.0.0.0"/>
    </q:dependentAssembly>
  </q:dependency>
  <q:file name="ntoskrnl.exe" destinationPath="$(runtime.system32)\" sourceName="ntoskrnl.exe"
      sourcePath=".\" importPath="$(build.nttree)\">
    <h2:hash xmlns:h2="urn:schemas-microsoft-com:asm.v2">
      <sig:Transforms xmlns:sig="http://www.w3.org/2000/09/xmldsig#">
        <sig:Transform Algorithm="urn:schemas-microsoft-com:HashTransforms.Identity"/>
      </sig:Transforms>
      <sig:DigestMethod xmlns:sig="http://www.w3.org/2000/09/xmldsig#" Algorithm="http://www.w3.org/2000/09/xmldsig#sha256"/>
      <sig:DigestValue xmlns:sig="http://www.w3.org/2000/09/xmldsig#">
        SRjy5jHvGuNMeGP6TzvXZjsv3w+hYMDeUH7TQ0hKyAY=
      </sig:DigestValue>
    </h2:hash>
  </q:file>
  <q:file name="ntkrnlpa.exe">
    <hash xmlns="urn:schemas-microsoft-com:asm.v2">
      <DigestMethod xmlns="http://www.w3.org/2000/09/xmldsig#" Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/>
      <DigestValue xmlns="http://www.w3.org/2000/09/xmldsig#">2jmj7l5rSw0yVb/vlWAYkK/YBwk=</DigestValue>
    </hash>
  </q:file>
  <q:file name="nohash.sys"/>
  <q:file name="badhash.sys">
    <h:hash xmlns:h="urn:schemas-microsoft-com:asm.v2">
      <d:DigestMethod xmlns:d="http://www.w3.org/2000/09/xmldsig#" Algorithm="urn:example:md5"/>
      <d:DigestValue xmlns:d="http://www.w3.org/2000/09/xmldsig#">not*base64</d:DigestValue>
    </h:hash>
  </q:file>
  <q:registryKeys/>
  <q:trustInfo/>
</q:assembly>"#;

#[test]
fn component_manifest_with_sha256_and_sha1_digests() {
    let m = parse_component_manifest(MANIFEST.as_bytes()).unwrap();
    assert_eq!(m.identity.name, "Microsoft-Windows-OS-Kernel");
    assert_eq!(m.identity.version, Some(v("6.0.6002.24565")));
    assert_eq!(m.files.len(), 4);
    let f = &m.files[0];
    assert_eq!(f.name, "ntoskrnl.exe");
    assert_eq!(f.destination_path.as_deref(), Some("$(runtime.system32)\\"));
    assert_eq!(f.source_name.as_deref(), Some("ntoskrnl.exe"));
    assert_eq!(f.source_path.as_deref(), Some(".\\"));
    assert_eq!(f.import_path.as_deref(), Some("$(build.nttree)\\"));
    assert_eq!(f.digest_method, Some(DigestAlg::Sha256));
    let d = f.digest.as_ref().unwrap();
    assert_eq!(d.len(), 32);
    assert_eq!(&d[..4], &[0x49, 0x18, 0xf2, 0xe6]);
    // SHA-1 of the empty string.
    assert_eq!(m.files[1].digest_method, Some(DigestAlg::Sha1));
    assert_eq!(m.files[1].digest.as_ref().unwrap()[..3], [0xda, 0x39, 0xa3]);
    assert_eq!(m.files[2].digest, None);
    assert_eq!(m.files[2].digest_method, None);
    assert_eq!(
        m.files[3].digest_method,
        Some(DigestAlg::Other("urn:example:md5".into()))
    );
    assert_eq!(m.files[3].digest, None);
    assert_eq!(m.anomalies.len(), 1);
    assert_eq!(m.anomalies[0].reason, "not base64");

    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["identity"]["version"], "6.0.6002.24565");
    assert_eq!(
        json["files"][0]["digest"],
        "4918f2e631ef1ae34c7863fa4f3bd7663b2fdf0fa160c0de507ed343484ac806"
    );
    assert_eq!(json["files"][0]["digest_method"], "sha256");
    assert_eq!(json["files"][2]["digest"], serde_json::Value::Null);
}

fn utf16le(s: &str, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(&[0xFF, 0xFE]);
    }
    for u in s.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out
}

#[test]
fn manifest_in_utf16_with_bom_and_utf8_with_bom() {
    let text = MANIFEST.replace("encoding=\"UTF-8\"", "encoding=\"UTF-16\"");
    let m = parse_component_manifest(&utf16le(&text, true)).unwrap();
    assert_eq!(m.files.len(), 4);
    assert_eq!(m.files[0].digest_method, Some(DigestAlg::Sha256));

    let mut be = vec![0xFE, 0xFF];
    for u in text.encode_utf16() {
        be.extend_from_slice(&u.to_be_bytes());
    }
    assert_eq!(parse_component_manifest(&be).unwrap().files.len(), 4);

    let mut bom8 = b"\xEF\xBB\xBF".to_vec();
    bom8.extend_from_slice(MANIFEST.as_bytes());
    assert_eq!(parse_component_manifest(&bom8).unwrap().files.len(), 4);
    assert_eq!(sniff_manifest(&bom8), ManifestEncoding::Xml);
    assert_eq!(
        sniff_manifest(&utf16le(&text, true)),
        ManifestEncoding::Utf16Xml
    );
    assert_eq!(
        sniff_manifest(&utf16le(&text, false)),
        ManifestEncoding::Utf16Xml
    );
}

#[test]
fn legacy_single_byte_encoding_declared_in_the_prolog() {
    let xml = b"<?xml version=\"1.0\" encoding=\"windows-1252\"?>\
        <assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\" copyright=\"\xA9 Microsoft\">\
        <assemblyIdentity name=\"X\"/></assembly>";
    let m = parse_package_mum(xml).unwrap();
    assert_eq!(m.copyright.as_deref(), Some("\u{a9} Microsoft"));
    let undeclared = b"<assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\" copyright=\"\xA9\"/>";
    assert_eq!(
        parse_package_mum(undeclared).unwrap_err().kind(),
        "encoding"
    );
}

#[test]
fn entities_and_character_references_are_resolved() {
    let xml = r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3" description="a &amp; b &#x41;&#66;">
      <assemblyIdentity name="A&lt;B"/></assembly>"#;
    let m = parse_package_mum(xml.as_bytes()).unwrap();
    assert_eq!(m.description.as_deref(), Some("a & b AB"));
    assert_eq!(m.identity.name, "A<B");
}

const PROPS: &str = "ApplicabilityInfo=\"Windows 6.0 Client SP2;Windows 6.0 Server SP2;\"\r\n\
Applies to=\"Windows Vista\"\r\n\
Build Date=\"2019/03/08\"\r\n\
Company=\"Microsoft Corporation\"\r\n\
File Version=\"1\"\r\n\
Installation Type=\"FULL\"\r\n\
Installer Engine=\"Component Based Servicing - WUSA.exe\"\r\n\
Installer Version=\"6.0.0.0\"\r\n\
KB Article Number=\"4489880\"\r\n\
Language=\"ALL\"\r\n\
Package Type=\"Security Update\"\r\n\
Processor Architecture=\"amd64\"\r\n\
Product Name=\"Windows Vista\"\r\n\
Support Link=\"http://support.microsoft.com?kbid=4489880\"\r\n";

#[test]
fn pkg_properties_utf16le_with_bom() {
    let p = parse_pkg_properties(&utf16le(PROPS, true)).unwrap();
    assert_eq!(p.encoding, "UTF-16LE");
    assert_eq!(p.entries.len(), 14);
    assert_eq!(p.get("kb article number"), Some("4489880"));
    assert_eq!(p.get("APPLIES TO"), Some("Windows Vista"));
    assert_eq!(p.build_date(), Some((2019, 3, 8)));
    assert_eq!(p.kb_article(), Some("4489880"));
    assert_eq!(p.processor_architecture(), Some("amd64"));
    assert_eq!(p.applies_to(), Some("Windows Vista"));
    assert_eq!(p.installation_type(), Some("FULL"));
    assert_eq!(p.package_type(), Some("Security Update"));
    assert_eq!(p.get("Missing"), None);
    assert_eq!(p.skipped_lines, 0);
    // Without a BOM the zero bytes still give UTF-16 away.
    assert_eq!(
        parse_pkg_properties(&utf16le(PROPS, false))
            .unwrap()
            .encoding,
        "UTF-16LE"
    );
}

#[test]
fn pkg_properties_windows_1252_and_utf8() {
    let mut bytes = PROPS.as_bytes().to_vec();
    bytes.extend_from_slice(
        b"Company=\"\xA9 Microsoft \x96 Redmond\"\r\nno equals sign here\r\n\r\n",
    );
    let p = parse_pkg_properties(&bytes).unwrap();
    assert_eq!(p.encoding, "windows-1252");
    assert_eq!(
        p.entries.last().unwrap().1,
        "\u{a9} Microsoft \u{2013} Redmond"
    );
    // `get` returns the first match.
    assert_eq!(p.get("company"), Some("Microsoft Corporation"));
    assert_eq!(p.skipped_lines, 1);

    let mut bom8 = b"\xEF\xBB\xBF".to_vec();
    bom8.extend_from_slice("Product Name=\"Windows \u{2122}\"\n".as_bytes());
    let p = parse_pkg_properties(&bom8).unwrap();
    assert_eq!(p.encoding, "UTF-8");
    assert_eq!(p.get("product name"), Some("Windows \u{2122}"));

    let plain = parse_pkg_properties(b"Build Date=\"2019/13/08\"\nKey = unquoted \n").unwrap();
    assert_eq!(plain.build_date(), None);
    assert_eq!(plain.get("key"), Some("unquoted"));

    // Odd-length UTF-16 is an encoding error, not silently repaired.
    let mut odd = utf16le("A=\"1\"", true);
    odd.push(b'x');
    assert_eq!(parse_pkg_properties(&odd).unwrap_err().kind(), "encoding");
}

#[test]
fn unattend_file() {
    let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<u:unattend xmlns:u="urn:schemas-microsoft-com:unattend">
    <u:servicing>
        <u:package action="install">
            <u:assemblyIdentity name="Package_for_KB4489880" version="6.0.1.3" language="neutral"
                processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35"/>
            <u:source location="%configsetroot%\Windows6.0-KB4489880-x64.CAB"/>
        </u:package>
        <u:package action="remove"/>
    </u:servicing>
</u:unattend>"#;
    let u = parse_unattend(xml.as_bytes()).unwrap();
    assert_eq!(u.packages.len(), 2);
    let p = &u.packages[0];
    assert_eq!(p.action.as_deref(), Some("install"));
    let id = p.identity.as_ref().unwrap();
    assert_eq!(id.name, "Package_for_KB4489880");
    assert_eq!(id.version, Some(v("6.0.1.3")));
    assert_eq!(
        p.source_location.as_deref(),
        Some("%configsetroot%\\Windows6.0-KB4489880-x64.CAB")
    );
    assert_eq!(u.packages[1].identity, None);
    assert_eq!(u.packages[1].source_location, None);
}

const CIX: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ci:Container xmlns:ci="urn:ContainerIndex" name="kb1.cab" type="CAB" length="4096" version="1"><ci:Description/><ci:Files>
<ci:File id="3" name="update.mum" length="1981" time="130863958769658475" attr="32"><ci:Hash alg="SHA1" value="0C82FB9FEF5BFA6A5DF5464A3C7C89684C634112"/><ci:Delta><ci:Source type="RAW" name="update.mum"><ci:Hash alg="SHA1" value="0c82fb9fef5bfa6a5df5464a3c7c89684c634112"/></ci:Source></ci:Delta></ci:File>
<ci:File id="2" name="amd64_x_31bf3856ad364e35_6.0.6002.23798_none_09f68ccfe86315dd\x.dll" length="984448" time="1" attr="32"><ci:Hash alg="SHA1" value="0db7fea07b4bc14f0f9d71ecfa6ddf3097229875"/><ci:Delta><ci:Source type="PA30" name="10"><ci:Hash alg="SHA1" value="a1d536a3af0b75e8e1e7ae4532be9772b603c88f"/></ci:Source><ci:Basis file="1"/></ci:Delta></ci:File>
<ci:File id="1" name="copy.dll" length="x" time="2" attr="32"><ci:Hash alg="SHA1" value="zz"/><ci:Delta><ci:Basis file="2"/></ci:Delta></ci:File>
</ci:Files></ci:Container>"#;

#[test]
fn container_index_raw_pa30_and_basis_only() {
    let c = parse_container_index(CIX.as_bytes()).unwrap();
    assert_eq!(c.name.as_deref(), Some("kb1.cab"));
    assert_eq!(c.container_type.as_deref(), Some("CAB"));
    assert_eq!(c.length, Some(4096));
    assert_eq!(c.description, None);
    assert_eq!(c.files.len(), 3);
    let raw = &c.files[0];
    assert_eq!(raw.id, Some(3));
    assert_eq!(raw.time, Some(130863958769658475));
    assert_eq!(raw.attr, Some(32));
    assert_eq!(raw.hash_alg.as_deref(), Some("SHA1"));
    assert_eq!(raw.hash.as_ref().unwrap()[0], 0x0c);
    let src = raw.delta.as_ref().unwrap().source.as_ref().unwrap();
    assert_eq!(src.source_type, SourceType::Raw);
    assert_eq!(src.source_name, "update.mum");
    let pa = &c.files[1];
    assert_eq!(pa.delta.as_ref().unwrap().basis, vec![1]);
    assert_eq!(
        pa.delta
            .as_ref()
            .unwrap()
            .source
            .as_ref()
            .unwrap()
            .source_type,
        SourceType::Pa30
    );
    let copy = &c.files[2];
    assert!(copy.delta.as_ref().unwrap().source.is_none());
    assert_eq!(copy.delta.as_ref().unwrap().basis, vec![2]);
    assert_eq!(copy.length, None);
    assert_eq!(copy.hash, None);
    assert_eq!(c.anomalies.len(), 2);
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(
        json["files"][0]["hash"],
        "0c82fb9fef5bfa6a5df5464a3c7c89684c634112"
    );
}

#[test]
fn component_keys() {
    let k = parse_component_key(
        "x86_microsoft-windows-u..salcrt-apifwd-vista_31bf3856ad364e35_6.0.6002.19488_none_e3f6a1581de98710",
    )
    .unwrap();
    assert_eq!(k.arch, "x86");
    assert_eq!(k.name, "microsoft-windows-u..salcrt-apifwd-vista");
    assert_eq!(k.public_key_token, "31bf3856ad364e35");
    assert_eq!(k.version, Some(v("6.0.6002.19488")));
    assert_eq!(k.culture, "none");
    assert_eq!(k.hash, "e3f6a1581de98710");

    let k = parse_component_key("wow64_some_name_with_underscores_31bf3856ad364e35_6.1.7601.24576_en-us_0123456789abcdef.manifest").unwrap();
    assert_eq!(k.arch, "wow64");
    assert_eq!(k.name, "some_name_with_underscores");
    assert_eq!(k.culture, "en-us");
    assert_eq!(k.hash, "0123456789abcdef");

    let k = parse_component_key("msil_n_t_notaversion_none_h").unwrap();
    assert_eq!(k.version, None);
    assert_eq!(parse_component_key("amd64_name_token_1.2.3.4_none"), None);
    assert_eq!(parse_component_key("amd64__token_1.2.3.4_none_h"), None);
    assert_eq!(parse_component_key(""), None);
    assert_eq!(parse_component_key(&"a_".repeat(5000)), None);
}

// ---- malformed input ----------------------------------------------------------------

#[track_caller]
fn not_well_formed(xml: &[u8]) -> (u64, String) {
    match err_kind(parse_package_mum(xml)) {
        CbsError::NotWellFormed {
            position, reason, ..
        } => (position, reason),
        other => panic!("expected NotWellFormed, got {other:?}"),
    }
}

#[test]
fn truncated_document() {
    let cut = &KB4489880_MUM.as_bytes()[..KB4489880_MUM.len() / 2];
    let (pos, reason) = not_well_formed(cut);
    assert!(
        reason.contains("truncated") || reason.contains("not closed"),
        "{reason}"
    );
    let (_, reason) =
        not_well_formed(&KB4489880_MUM.as_bytes()[..KB4489880_MUM.len() - "</a:assembly>\n".len()]);
    assert!(
        reason.contains("truncated document: <assembly> is never closed"),
        "{reason}"
    );
    assert!(pos > 0);
    // Cut inside a tag.
    let (_, reason) = not_well_formed(
        b"<assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\"><assemblyIdentity name=\"x",
    );
    assert!(!reason.is_empty());
}

#[test]
fn mismatched_tags_report_their_position() {
    let xml = b"<assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\">\n<assemblyIdentity name=\"x\">\n</package>\n</assembly>";
    let e = err_kind(parse_package_mum(xml));
    match &e {
        CbsError::NotWellFormed {
            position,
            line,
            reason,
        } => {
            assert_eq!(*line, 3, "{e}");
            assert_eq!(*position, 80, "{e}"); // the `<` of `</package>`
            assert!(reason.contains("package"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.kind(), "xml_not_well_formed");
    // Same local name, different prefix for one namespace: still a mismatch.
    not_well_formed(br#"<a:assembly xmlns:a="urn:schemas-microsoft-com:asm.v3" xmlns:b="urn:schemas-microsoft-com:asm.v3"></b:assembly>"#);
    not_well_formed(b"</assembly>");
}

#[test]
fn content_after_the_root_is_rejected() {
    let ok = r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3"><assemblyIdentity name="x"/></assembly>"#;
    assert!(parse_package_mum(ok.as_bytes()).is_ok());
    assert!(parse_package_mum(format!("{ok}\r\n  <!-- c --><?pi x?>\n").as_bytes()).is_ok());
    let (_, r) = not_well_formed(format!("{ok}<assembly/>").as_bytes());
    assert!(r.contains("after the root"), "{r}");
    let (_, r) = not_well_formed(format!("{ok}junk").as_bytes());
    assert!(r.contains("after the root"), "{r}");
    let (_, r) = not_well_formed(format!("junk{ok}").as_bytes());
    assert!(r.contains("before the root"), "{r}");
    not_well_formed(b"");
    not_well_formed(b"   \n");
}

#[test]
fn other_well_formedness_violations() {
    let (_, r) = not_well_formed(
        br#"<!DOCTYPE a [<!ENTITY x "y">]><assembly xmlns="urn:schemas-microsoft-com:asm.v3"/>"#,
    );
    assert!(r.contains("DOCTYPE"), "{r}");
    not_well_formed(br#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3">&bogus;</assembly>"#);
    not_well_formed(br#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3" a="&bogus;"/>"#);
    not_well_formed(br#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3" a="1" a="2"/>"#);
    let (_, r) = not_well_formed(br#"<x:assembly/>"#);
    assert!(r.contains("prefix"), "{r}");
    not_well_formed(br#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3" y:a="1"/>"#);
    not_well_formed(br#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3" a=1/>"#);
    not_well_formed(
        b"<assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\"><!-- a -- b --></assembly>",
    );
    let (pos, r) =
        not_well_formed(b"<assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\">\0</assembly>");
    assert_eq!((pos, r.as_str()), (51, "NUL character"));
    let (pos, r) = not_well_formed(b"\n<?xml version=\"1.0\"?><assembly/>");
    assert!(r.contains("declaration"), "{r}");
    assert_eq!(pos, 1);
}

#[test]
fn wrong_root_and_missing_identity() {
    let e = err_kind(parse_package_mum(
        br#"<unattend xmlns="urn:schemas-microsoft-com:unattend"/>"#,
    ));
    assert_eq!(e.kind(), "xml_wrong_root");
    assert!(
        e.to_string().contains("urn:schemas-microsoft-com:unattend"),
        "{e}"
    );
    // Right local name, no namespace.
    let e = err_kind(parse_component_manifest(
        b"<assembly><assemblyIdentity name=\"x\"/></assembly>",
    ));
    assert_eq!(e.kind(), "xml_wrong_root");
    let e = err_kind(parse_unattend(MANIFEST.as_bytes()));
    assert_eq!(e.kind(), "xml_wrong_root");
    let e = err_kind(parse_container_index(MANIFEST.as_bytes()));
    assert_eq!(e.kind(), "xml_wrong_root");

    let e = err_kind(parse_component_manifest(
        br#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3"/>"#,
    ));
    assert_eq!(e, CbsError::MissingElement("assemblyIdentity"));
    assert_eq!(e.kind(), "missing_element");
    let e = err_kind(parse_component_manifest(br#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3"><assemblyIdentity version="1.0.0.0"/></assembly>"#));
    assert_eq!(e.kind(), "missing_attribute");
    let e = err_kind(parse_container_index(
        br#"<Container xmlns="urn:ContainerIndex"/>"#,
    ));
    assert_eq!(e, CbsError::MissingElement("Files"));
}

#[test]
fn too_deep_nesting() {
    let depth = limits::MAX_DEPTH + 1;
    let mut xml = String::from(r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3">"#);
    xml.push_str(&"<x>".repeat(depth));
    xml.push_str(&"</x>".repeat(depth));
    xml.push_str("</assembly>");
    let e = err_kind(parse_package_mum(xml.as_bytes()));
    assert_eq!(e.kind(), "too_deep");
    assert!(matches!(e, CbsError::TooDeep { limit, .. } if limit == limits::MAX_DEPTH));
    // Exactly at the limit is fine (root + MAX_DEPTH - 1 levels).
    let mut ok = String::from(
        r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3"><assemblyIdentity name="x"/>"#,
    );
    ok.push_str(&"<x>".repeat(limits::MAX_DEPTH - 1));
    ok.push_str(&"</x>".repeat(limits::MAX_DEPTH - 1));
    ok.push_str("</assembly>");
    assert!(parse_package_mum(ok.as_bytes()).is_ok());
}

#[test]
fn size_limits() {
    let huge = "a".repeat(limits::MAX_ATTR_LEN + 1);
    let xml =
        format!(r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3" description="{huge}"/>"#);
    let e = err_kind(parse_package_mum(xml.as_bytes()));
    assert_eq!(
        e,
        CbsError::TooLarge {
            what: limits::Limit::AttrLen,
            limit: limits::MAX_ATTR_LEN,
            value: limits::MAX_ATTR_LEN + 1
        }
    );
    assert!(e.to_string().contains(&limits::MAX_ATTR_LEN.to_string()));

    let mut many = String::from(r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3">"#);
    many.push_str(&"<x/>".repeat(limits::MAX_ELEMENTS));
    many.push_str("</assembly>");
    let e = err_kind(parse_package_mum(many.as_bytes()));
    assert!(
        matches!(
            e,
            CbsError::TooLarge {
                what: limits::Limit::Elements,
                ..
            }
        ),
        "{e}"
    );

    let text = "A".repeat(limits::MAX_TEXT_LEN + 1);
    let xml =
        format!(r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3"><t>{text}</t></assembly>"#);
    assert_eq!(
        err_kind(parse_package_mum(xml.as_bytes())).kind(),
        "too_large"
    );

    let big = vec![b' '; limits::MAX_XML_BYTES + 1];
    let e = err_kind(parse_container_index(&big));
    assert!(
        matches!(e, CbsError::TooLarge { what: limits::Limit::XmlBytes, value, .. } if value == big.len())
    );

    let attrs: String = (0..=limits::MAX_ATTRIBUTES)
        .map(|i| format!(" a{i}=\"\""))
        .collect();
    let xml = format!(r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3"{attrs}/>"#);
    assert!(matches!(
        err_kind(parse_package_mum(xml.as_bytes())),
        CbsError::TooLarge {
            what: limits::Limit::Attributes,
            ..
        }
    ));

    let per = 100;
    let el: String = format!(
        "<x{}/>",
        (0..per).map(|i| format!(" a{i}=''")).collect::<String>()
    );
    let mut xml = String::from(r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3">"#);
    xml.push_str(&el.repeat(limits::MAX_TOTAL_ATTRIBUTES / per + 1));
    xml.push_str("</assembly>");
    assert!(xml.len() < limits::MAX_XML_BYTES);
    assert!(matches!(
        err_kind(parse_package_mum(xml.as_bytes())),
        CbsError::TooLarge {
            what: limits::Limit::TotalAttributes,
            ..
        }
    ));

    let props = "k=\"v\"\n".repeat(limits::MAX_PKG_PROPERTIES_ENTRIES + 1);
    assert_eq!(
        err_kind(parse_pkg_properties(props.as_bytes())).kind(),
        "too_large"
    );
}

#[test]
fn dcm_compressed_manifest() {
    let bytes = b"DCM\x01\x78\x9c\x00\x01\x02";
    assert_eq!(sniff_manifest(bytes), ManifestEncoding::DcmCompressed);
    let e = err_kind(parse_component_manifest(bytes));
    assert_eq!(e, CbsError::DcmCompressed);
    assert_eq!(e.kind(), "dcm_compressed");
    assert_eq!(
        sniff_manifest(b"\x00\x01garbage"),
        ManifestEncoding::Unknown
    );
    assert_eq!(sniff_manifest(b""), ManifestEncoding::Unknown);
    assert_eq!(sniff_manifest(b"  \r\n<?xml"), ManifestEncoding::Xml);
}

#[test]
fn invalid_utf8_and_broken_utf16() {
    let e = err_kind(parse_package_mum(
        b"<assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\" a=\"\xC3\x28\"/>",
    ));
    assert_eq!(e.kind(), "encoding");
    let mut bad16 = utf16le("<assembly/>", true);
    bad16.extend_from_slice(&[0x00, 0xD8]); // lone high surrogate
    assert_eq!(err_kind(parse_package_mum(&bad16)).kind(), "encoding");
}

/// Every prefix of valid documents, and every single-byte corruption of a small one,
/// must produce Ok or Err — never a panic.
#[test]
fn no_panics_on_truncations_and_byte_flips() {
    for doc in [KB4489880_MUM, MANIFEST, CIX] {
        let b = doc.as_bytes();
        for end in 0..b.len() {
            let _ = parse_package_mum(&b[..end]);
            let _ = parse_component_manifest(&b[..end]);
            let _ = parse_container_index(&b[..end]);
            let _ = parse_unattend(&b[..end]);
            let _ = parse_pkg_properties(&b[..end]);
            let _ = sniff_manifest(&b[..end]);
        }
    }
    let b = CIX.as_bytes();
    for i in 0..b.len() {
        for x in [0x00u8, b'<', b'>', b'"', b'&', 0xFF, b'/'] {
            let mut m = b.to_vec();
            m[i] = x;
            let _ = parse_container_index(&m);
        }
    }
    // Truncated documents are never accepted.
    let b = KB4489880_MUM.trim_end().as_bytes();
    for end in 1..b.len() {
        assert!(
            parse_package_mum(&b[..end]).is_err(),
            "accepted a prefix of {end} bytes"
        );
    }
}

/// Regression: every element used to hold its own copy of its namespace URI, so one
/// 30 KiB URI declared on the root and inherited by 99,999 children cost ~3 GB; after
/// interning, hashing that URI per element still cost seconds. URIs are now interned
/// and limited to `MAX_NAMESPACE_URI_LEN`.
#[test]
fn long_namespace_uris_are_bounded_and_not_copied_per_element() {
    let many = |uri: &str| {
        let mut xml = format!(r#"<assembly xmlns="{uri}">"#);
        xml.push_str(&"<x/>".repeat(limits::MAX_ELEMENTS - 1));
        xml.push_str("</assembly>");
        xml
    };
    let at_limit = format!("urn:{}", "n".repeat(limits::MAX_NAMESPACE_URI_LEN - 4));
    let e = err_kind(parse_package_mum(many(&at_limit).as_bytes()));
    assert_eq!(e.kind(), "xml_wrong_root");
    let over = format!("{at_limit}n");
    let e = err_kind(parse_package_mum(many(&over).as_bytes()));
    assert_eq!(
        e,
        CbsError::TooLarge {
            what: limits::Limit::NamespaceUriLen,
            limit: limits::MAX_NAMESPACE_URI_LEN,
            value: limits::MAX_NAMESPACE_URI_LEN + 1
        }
    );
}

#[test]
fn own_errors_point_at_the_offending_markup() {
    let ok = r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3"/>"#;
    let (pos, _) = not_well_formed(format!("{ok}\n<second/>").as_bytes());
    assert_eq!(pos as usize, ok.len() + 1);
    let (pos, _) = not_well_formed(format!("{ok}\njunk").as_bytes());
    assert_eq!(pos as usize, ok.len());
    let deep = format!("<a>{}", "<b>".repeat(100));
    match err_kind(parse_package_mum(deep.as_bytes())) {
        CbsError::TooDeep { limit, position } => {
            assert_eq!(limit, limits::MAX_DEPTH);
            assert_eq!(position as usize, 3 + 3 * (limits::MAX_DEPTH - 1));
        }
        other => panic!("{other:?}"),
    }
}

/// A tiny deterministic generator of XML-ish garbage: no input may panic.
#[test]
fn no_panics_on_generated_garbage() {
    const TOKENS: &[&str] = &[
        "<",
        ">",
        "/",
        "</",
        "/>",
        "=",
        "\"",
        "'",
        "&",
        ";",
        "&amp;",
        "&#x0;",
        "&#1114112;",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "<?",
        "?>",
        "<!DOCTYPE",
        "xmlns",
        "xmlns:a",
        "a:",
        ":",
        " ",
        "\n",
        "assembly",
        "assemblyIdentity",
        "file",
        "hash",
        "Container",
        "Files",
        "File",
        "urn:schemas-microsoft-com:asm.v3",
        "urn:ContainerIndex",
        "\u{feff}",
        "\u{0}",
        "é",
        "\u{fffd}",
    ];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let n = (next() % 40) as usize;
        let mut doc = String::new();
        for _ in 0..n {
            doc.push_str(TOKENS[(next() % TOKENS.len() as u64) as usize]);
        }
        let b = doc.as_bytes();
        let _ = parse_package_mum(b);
        let _ = parse_component_manifest(b);
        let _ = parse_container_index(b);
        let _ = parse_unattend(b);
        let _ = parse_pkg_properties(b);
    }
}

#[test]
fn source_types_are_read_without_regard_to_case_and_unknown_ones_kept() {
    assert_eq!(SourceType::parse("RAW"), SourceType::Raw);
    assert_eq!(SourceType::parse("raw"), SourceType::Raw);
    assert_eq!(SourceType::parse("Pa30"), SourceType::Pa30);
    assert_eq!(SourceType::parse("PA19"), SourceType::Pa19);
    assert_eq!(
        SourceType::parse("xpress"),
        SourceType::Other("xpress".into())
    );
    assert_eq!(SourceType::parse(""), SourceType::Other(String::new()));
    assert_eq!(
        serde_json::to_value(SourceType::parse("pa30")).unwrap(),
        "PA30"
    );
}

#[test]
fn limit_names_follow_the_constants() {
    assert_eq!(limits::Limit::XmlBytes.name(), "max_xml_bytes");
    assert_eq!(
        limits::Limit::PkgPropertiesEntries.name(),
        "max_pkg_properties_entries"
    );
    let e = CbsError::TooLarge {
        what: limits::Limit::XmlBytes,
        limit: 1,
        value: 2,
    };
    assert_eq!(
        e.to_string(),
        "XML document too large: 2 exceeds the limit of 1"
    );
}
