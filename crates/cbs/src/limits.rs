//! Every bound the parsers enforce, in one place. An input that crosses one is
//! rejected with [`CbsError::TooLarge`](crate::CbsError::TooLarge) or
//! [`CbsError::TooDeep`](crate::CbsError::TooDeep), naming the limit and the value seen.

/// Largest XML document accepted, in input bytes (before any UTF-16 decoding).
/// Real 6.x manifests are a few KiB; the biggest `_manifest_.cix.xml` seen is ~100 KiB.
pub const MAX_XML_BYTES: usize = 16 * 1024 * 1024;

/// Deepest element nesting accepted. Real CBS documents nest about 6 levels.
pub const MAX_DEPTH: usize = 64;

/// Most elements accepted in one document (counts every element, known or not).
pub const MAX_ELEMENTS: usize = 100_000;

/// Most attributes accepted on one element.
pub const MAX_ATTRIBUTES: usize = 256;

/// Longest attribute value accepted, in bytes as written (before unescaping).
pub const MAX_ATTR_LEN: usize = 32 * 1024;

/// Longest text content of one leaf element, in bytes.
pub const MAX_TEXT_LEN: usize = 64 * 1024;

/// Largest `*-pkgProperties.txt` accepted, in input bytes. Real ones are < 1 KiB.
pub const MAX_PKG_PROPERTIES_BYTES: usize = 1024 * 1024;

/// Most `Key="Value"` lines kept from one `*-pkgProperties.txt`.
pub const MAX_PKG_PROPERTIES_ENTRIES: usize = 4096;

/// Longest component key accepted by [`parse_component_key`](crate::parse_component_key).
pub const MAX_COMPONENT_KEY_LEN: usize = 1024;

/// Longest namespace URI accepted in an `xmlns` declaration. Real ones are < 64 bytes;
/// every element's namespace is hashed when it is interned, so this bounds that cost.
pub const MAX_NAMESPACE_URI_LEN: usize = 1024;

/// Most attributes accepted in one document (all elements together). Bounds the tree's
/// memory: a real `_manifest_.cix.xml` with 222 files has about 2,700.
pub const MAX_TOTAL_ATTRIBUTES: usize = 500_000;

/// Which size or count limit a [`CbsError::TooLarge`](crate::CbsError::TooLarge) crossed,
/// one variant per constant above, so that a caller can tell limits apart without reading
/// the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// [`MAX_XML_BYTES`]
    XmlBytes,
    /// [`MAX_ELEMENTS`]
    Elements,
    /// [`MAX_ATTRIBUTES`]
    Attributes,
    /// [`MAX_TOTAL_ATTRIBUTES`]
    TotalAttributes,
    /// [`MAX_ATTR_LEN`]
    AttrLen,
    /// [`MAX_TEXT_LEN`]
    TextLen,
    /// [`MAX_NAMESPACE_URI_LEN`]
    NamespaceUriLen,
    /// [`MAX_PKG_PROPERTIES_BYTES`]
    PkgPropertiesBytes,
    /// [`MAX_PKG_PROPERTIES_ENTRIES`]
    PkgPropertiesEntries,
}

impl Limit {
    /// The constant's name in lower case (`max_xml_bytes`), the way `kbscan-archive` names
    /// its limits.
    pub fn name(self) -> &'static str {
        match self {
            Limit::XmlBytes => "max_xml_bytes",
            Limit::Elements => "max_elements",
            Limit::Attributes => "max_attributes",
            Limit::TotalAttributes => "max_total_attributes",
            Limit::AttrLen => "max_attr_len",
            Limit::TextLen => "max_text_len",
            Limit::NamespaceUriLen => "max_namespace_uri_len",
            Limit::PkgPropertiesBytes => "max_pkg_properties_bytes",
            Limit::PkgPropertiesEntries => "max_pkg_properties_entries",
        }
    }

    /// What is measured, for messages (`XML document too large: …`).
    pub fn what(self) -> &'static str {
        match self {
            Limit::XmlBytes => "XML document",
            Limit::Elements => "element count",
            Limit::Attributes => "attribute count",
            Limit::TotalAttributes => "total attribute count",
            Limit::AttrLen => "attribute value",
            Limit::TextLen => "element text",
            Limit::NamespaceUriLen => "namespace URI",
            Limit::PkgPropertiesBytes => "pkgProperties file",
            Limit::PkgPropertiesEntries => "pkgProperties entry count",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.what())
    }
}
