use crate::dom::{self, Element};
use crate::error::CbsError;
use crate::identity::{opt, read_identity, Anomaly, AssemblyIdentity};
use crate::ns;
use base64::Engine;
use serde::{Serialize, Serializer};

/// A component `*.manifest`: its identity and the files it installs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentManifest {
    pub identity: AssemblyIdentity,
    /// Direct `<file>` children of the root, in document order.
    pub files: Vec<ManifestFile>,
    pub anomalies: Vec<Anomaly>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestFile {
    pub name: String,
    pub destination_path: Option<String>,
    pub source_name: Option<String>,
    pub source_path: Option<String>,
    pub import_path: Option<String>,
    /// From `asmv2:hash/dsig:DigestMethod@Algorithm`.
    pub digest_method: Option<DigestAlg>,
    /// Base64-decoded `asmv2:hash/dsig:DigestValue`; serialised as lower-case hex.
    #[serde(serialize_with = "crate::hex::serialize_opt")]
    pub digest: Option<Vec<u8>>,
}

/// Digest algorithm of a manifest file hash. Serialises as `sha256`, `sha1`, or the URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestAlg {
    Sha256,
    Sha1,
    /// The `Algorithm` URI as written.
    Other(String),
}

impl DigestAlg {
    pub(crate) fn from_uri(uri: &str) -> DigestAlg {
        let lower = uri.trim().to_ascii_lowercase();
        let tail = lower.rsplit(['#', '/', ':']).next().unwrap_or_default();
        match tail {
            "sha256" => DigestAlg::Sha256,
            "sha1" => DigestAlg::Sha1,
            _ => DigestAlg::Other(uri.to_owned()),
        }
    }

    /// Digest length in bytes, when known.
    pub fn digest_len(&self) -> Option<usize> {
        match self {
            DigestAlg::Sha256 => Some(32),
            DigestAlg::Sha1 => Some(20),
            DigestAlg::Other(_) => None,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            DigestAlg::Sha256 => "sha256",
            DigestAlg::Sha1 => "sha1",
            DigestAlg::Other(s) => s,
        }
    }
}

impl Serialize for DigestAlg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

fn read_file(el: &Element, asm: &str, anomalies: &mut Vec<Anomaly>) -> ManifestFile {
    let name = match el.attr("name") {
        Some(n) => n.to_owned(),
        None => {
            anomalies.push(Anomaly::new("file", Some("name"), "", "missing"));
            String::new()
        }
    };
    let mut file = ManifestFile {
        name,
        destination_path: opt(el, "destinationPath"),
        source_name: opt(el, "sourceName"),
        source_path: opt(el, "sourcePath"),
        import_path: opt(el, "importPath"),
        digest_method: None,
        digest: None,
    };
    let hash = el
        .child(ns::ASM_V2, "hash")
        .or_else(|| el.child(asm, "hash"));
    let Some(hash) = hash else {
        return file;
    };
    if let Some(method) = hash.child(ns::XMLDSIG, "DigestMethod") {
        match method.attr("Algorithm") {
            Some(uri) => file.digest_method = Some(DigestAlg::from_uri(uri)),
            None => anomalies.push(Anomaly::new(
                "DigestMethod",
                Some("Algorithm"),
                "",
                "missing",
            )),
        }
    }
    if let Some(value) = hash.child(ns::XMLDSIG, "DigestValue") {
        let compact: String = value
            .text
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        match base64::engine::general_purpose::STANDARD.decode(compact.as_bytes()) {
            Ok(bytes) => {
                let expected = file.digest_method.as_ref().and_then(DigestAlg::digest_len);
                if expected.is_some_and(|n| n != bytes.len()) {
                    anomalies.push(Anomaly::new(
                        "DigestValue",
                        None,
                        &value.text,
                        "digest length does not match its algorithm",
                    ));
                }
                file.digest = Some(bytes);
            }
            Err(_) => anomalies.push(Anomaly::new("DigestValue", None, &value.text, "not base64")),
        }
    }
    file
}

/// Parses a component `*.manifest` (root `assembly` in `asm.v3`).
/// A `DCM\x01` manifest is rejected with [`CbsError::DcmCompressed`].
pub fn parse_component_manifest(bytes: &[u8]) -> Result<ComponentManifest, CbsError> {
    let root = dom::parse_root(
        bytes,
        &[ns::ASM_V3, ns::ASM_V1],
        "assembly",
        "{urn:schemas-microsoft-com:asm.v3}assembly",
    )?;
    let asm = root.ns.as_deref().unwrap_or(ns::ASM_V3);
    let identity = root
        .child(asm, "assemblyIdentity")
        .ok_or(CbsError::MissingElement("assemblyIdentity"))
        .and_then(read_identity)?;
    let mut anomalies = Vec::new();
    let files = root
        .children_named(asm, "file")
        .map(|f| read_file(f, asm, &mut anomalies))
        .collect();
    Ok(ComponentManifest {
        identity,
        files,
        anomalies,
    })
}
