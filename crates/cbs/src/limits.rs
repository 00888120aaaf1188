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
