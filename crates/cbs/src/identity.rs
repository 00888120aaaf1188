use crate::dom::Element;
use crate::error::CbsError;
use kbscan_version::Version;
use serde::Serialize;

/// `<assemblyIdentity>`: names a package or a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssemblyIdentity {
    pub name: String,
    /// `None` when absent or not a strict `a.b.c.d` (then see `version_raw`).
    pub version: Option<Version>,
    /// The attribute as written, kept only when it did not parse as a version.
    pub version_raw: Option<String>,
    pub processor_architecture: Option<String>,
    pub language: Option<String>,
    pub public_key_token: Option<String>,
    pub build_type: Option<String>,
    pub version_scope: Option<String>,
}

/// A value that was present but could not be interpreted; the document still parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    /// Element local name.
    pub element: String,
    /// Attribute local name, or `None` for element text.
    pub attribute: Option<String>,
    /// The raw value (first 256 characters).
    pub value: String,
    pub reason: &'static str,
}

impl Anomaly {
    pub(crate) fn new(
        element: &str,
        attribute: Option<&str>,
        value: &str,
        reason: &'static str,
    ) -> Self {
        Anomaly {
            element: element.to_owned(),
            attribute: attribute.map(str::to_owned),
            value: value.chars().take(256).collect(),
            reason,
        }
    }
}

pub(crate) fn opt(el: &Element, attr: &str) -> Option<String> {
    el.attr(attr).map(str::to_owned)
}

/// Reads an `assemblyIdentity` element. `name` is required.
pub(crate) fn read_identity(el: &Element) -> Result<AssemblyIdentity, CbsError> {
    let name = el.attr("name").ok_or(CbsError::MissingAttribute {
        element: "assemblyIdentity",
        attribute: "name",
    })?;
    let raw = el.attr("version");
    let version = raw.and_then(|v| v.trim().parse::<Version>().ok());
    let version_raw = match (raw, version) {
        (Some(r), None) => Some(r.to_owned()),
        _ => None,
    };
    Ok(AssemblyIdentity {
        name: name.to_owned(),
        version,
        version_raw,
        processor_architecture: opt(el, "processorArchitecture"),
        language: opt(el, "language"),
        public_key_token: opt(el, "publicKeyToken"),
        build_type: opt(el, "buildType"),
        version_scope: opt(el, "versionScope"),
    })
}

/// Reads every `assemblyIdentity` child of `el` in namespace `ns`, in order.
pub(crate) fn read_identities(el: &Element, ns: &str) -> Result<Vec<AssemblyIdentity>, CbsError> {
    el.children_named(ns, "assemblyIdentity")
        .map(read_identity)
        .collect()
}
