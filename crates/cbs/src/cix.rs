use crate::dom::{self, Element};
use crate::error::CbsError;
use crate::identity::{opt, Anomaly};
use crate::ns;
use serde::Serialize;
use std::str::FromStr;

/// `_manifest_.cix.xml`: the index of an Intra-Package Delta container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerIndex {
    /// `Container@name`, e.g. `kb2999226.cab`.
    pub name: Option<String>,
    /// `Container@type`, e.g. `CAB`.
    pub container_type: Option<String>,
    /// `Container@length`: size of the expanded container.
    pub length: Option<u64>,
    /// `Container@version`.
    pub version: Option<String>,
    /// Text of `<Description>`, if not empty.
    pub description: Option<String>,
    /// `Files/File`, in document order.
    pub files: Vec<CixFile>,
    pub anomalies: Vec<Anomaly>,
}

/// One target file of the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CixFile {
    pub id: Option<u32>,
    /// The real nested path, e.g. `<component key>\ucrtbase.dll`.
    pub name: String,
    pub length: Option<u64>,
    /// A FILETIME (100 ns ticks since 1601-01-01 UTC).
    pub time: Option<u64>,
    pub attr: Option<u32>,
    /// `Hash@alg` of the target file, e.g. `SHA1`.
    pub hash_alg: Option<String>,
    /// `Hash@value` (hex in the file), decoded; serialised as lower-case hex.
    #[serde(serialize_with = "crate::hex::serialize_opt")]
    pub hash: Option<Vec<u8>>,
    pub delta: Option<CixDelta>,
}

/// How to produce the target: from a blob (`Source`), against another target
/// (`Basis`), or both. A `Delta` with only a `Basis` is a copy of that target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CixDelta {
    pub source: Option<CixSource>,
    /// `Basis@file` values: ids of other `File`s in this index.
    pub basis: Vec<u32>,
}

/// `Delta/Source`: a blob stored in the cabinet under `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CixSource {
    /// How the blob holds the target.
    pub source_type: SourceType,
    /// The cabinet member holding the blob (a number for deltas, the file name for RAW).
    pub source_name: String,
    pub hash_alg: Option<String>,
    /// Hash of the blob itself; serialised as lower-case hex.
    #[serde(serialize_with = "crate::hex::serialize_opt")]
    pub hash: Option<Vec<u8>>,
}

/// `Source@type`: how a blob holds its target. Matched without regard to case (genuine
/// indexes write upper case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceType {
    /// `RAW`: the blob is the target, stored as is.
    Raw,
    /// `PA30`: an MSDelta patch (against the `Basis`, or against nothing).
    Pa30,
    /// `PA19`: a PatchAPI patch, the older format.
    Pa19,
    /// Any other value, as written (empty when the attribute is missing, which is also
    /// an anomaly of the index).
    Other(String),
}

impl SourceType {
    /// Reads the attribute value.
    pub fn parse(raw: &str) -> Self {
        if raw.eq_ignore_ascii_case("RAW") {
            SourceType::Raw
        } else if raw.eq_ignore_ascii_case("PA30") {
            SourceType::Pa30
        } else if raw.eq_ignore_ascii_case("PA19") {
            SourceType::Pa19
        } else {
            SourceType::Other(raw.to_owned())
        }
    }

    /// `RAW`, `PA30`, `PA19`, or another value as written.
    pub fn as_str(&self) -> &str {
        match self {
            SourceType::Raw => "RAW",
            SourceType::Pa30 => "PA30",
            SourceType::Pa19 => "PA19",
            SourceType::Other(s) => s,
        }
    }
}

impl std::fmt::Display for SourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SourceType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

struct Ctx {
    anomalies: Vec<Anomaly>,
}

impl Ctx {
    fn num<T: FromStr>(&mut self, el: &Element, attr: &str) -> Option<T> {
        let raw = el.attr(attr)?;
        match raw.trim().parse::<T>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.anomalies.push(Anomaly::new(
                    &el.local,
                    Some(attr),
                    raw,
                    "not a decimal number",
                ));
                None
            }
        }
    }

    fn required(&mut self, el: &Element, attr: &str) -> String {
        match el.attr(attr) {
            Some(v) => v.to_owned(),
            None => {
                self.anomalies
                    .push(Anomaly::new(&el.local, Some(attr), "", "missing"));
                String::new()
            }
        }
    }

    fn hash(&mut self, parent: &Element) -> (Option<String>, Option<Vec<u8>>) {
        let Some(h) = parent.child(ns::CONTAINER_INDEX, "Hash") else {
            return (None, None);
        };
        let value = match h.attr("value") {
            Some(raw) => {
                let decoded = crate::hex::decode(raw);
                if decoded.is_none() {
                    self.anomalies
                        .push(Anomaly::new("Hash", Some("value"), raw, "not hex"));
                }
                decoded
            }
            None => None,
        };
        (opt(h, "alg"), value)
    }

    fn file(&mut self, el: &Element) -> CixFile {
        let c = ns::CONTAINER_INDEX;
        let (hash_alg, hash) = self.hash(el);
        let delta = el.child(c, "Delta").map(|d| {
            let source = d.child(c, "Source").map(|s| {
                let (hash_alg, hash) = self.hash(s);
                CixSource {
                    source_type: SourceType::parse(&self.required(s, "type")),
                    source_name: self.required(s, "name"),
                    hash_alg,
                    hash,
                }
            });
            let basis = d
                .children_named(c, "Basis")
                .filter_map(|b| self.num::<u32>(b, "file"))
                .collect();
            CixDelta { source, basis }
        });
        CixFile {
            id: self.num(el, "id"),
            name: self.required(el, "name"),
            length: self.num(el, "length"),
            time: self.num(el, "time"),
            attr: self.num(el, "attr"),
            hash_alg,
            hash,
            delta,
        }
    }
}

/// Parses `_manifest_.cix.xml` (root `Container` in `urn:ContainerIndex`).
pub fn parse_container_index(bytes: &[u8]) -> Result<ContainerIndex, CbsError> {
    let c = ns::CONTAINER_INDEX;
    let root = dom::parse_root(bytes, &[c], "Container", "{urn:ContainerIndex}Container")?;
    let mut ctx = Ctx {
        anomalies: Vec::new(),
    };
    let files_el = root
        .child(c, "Files")
        .ok_or(CbsError::MissingElement("Files"))?;
    let files = files_el
        .children_named(c, "File")
        .map(|f| ctx.file(f))
        .collect();
    let description = root
        .child(c, "Description")
        .map(|d| d.text.trim().to_owned())
        .filter(|d| !d.is_empty());
    Ok(ContainerIndex {
        name: opt(&root, "name"),
        container_type: opt(&root, "type"),
        length: ctx.num(&root, "length"),
        version: opt(&root, "version"),
        description,
        files,
        anomalies: ctx.anomalies,
    })
}
