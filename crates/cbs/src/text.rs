//! Turning untrusted bytes into UTF-8 text: BOM sniffing, UTF-16, legacy code pages.

use crate::error::CbsError;
use crate::limits;
use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};
use serde::Serialize;

/// What the first bytes of a manifest say it is, so a scanner can report
/// "compressed manifest" precisely instead of "bad XML".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifestEncoding {
    /// UTF-8 (with or without BOM) or an ASCII-compatible encoding starting with `<`.
    Xml,
    /// UTF-16 (BOM, or a `<` followed by a zero byte).
    Utf16Xml,
    /// `DCM\x01`: Windows 10+ delta-compressed manifest.
    DcmCompressed,
    /// Anything else.
    Unknown,
}

const DCM_MAGIC: &[u8] = b"DCM\x01";
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Looks at the first bytes only; never fails.
pub fn sniff_manifest(bytes: &[u8]) -> ManifestEncoding {
    if bytes.starts_with(DCM_MAGIC) {
        return ManifestEncoding::DcmCompressed;
    }
    if bytes.starts_with(UTF8_BOM) {
        return ManifestEncoding::Xml;
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return ManifestEncoding::Utf16Xml;
    }
    if bytes.starts_with(b"<\0") || bytes.starts_with(b"\0<") {
        return ManifestEncoding::Utf16Xml;
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'<') => ManifestEncoding::Xml,
        _ => ManifestEncoding::Unknown,
    }
}

fn utf16_without_bom(bytes: &[u8]) -> Option<&'static Encoding> {
    match bytes {
        [a, 0, ..] if *a != 0 => Some(UTF_16LE),
        [0, b, ..] if *b != 0 => Some(UTF_16BE),
        _ => None,
    }
}

fn decode_with(enc: &'static Encoding, body: &[u8]) -> Result<String, CbsError> {
    let (text, had_errors) = enc.decode_without_bom_handling(body);
    if had_errors {
        return Err(CbsError::Encoding(format!(
            "input is not valid {}",
            enc.name()
        )));
    }
    Ok(text.into_owned())
}

/// Finds `encoding="..."` in an XML declaration at the very start of ASCII-compatible bytes.
fn declared_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = bytes.get(..bytes.len().min(256))?;
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = head.get(..end)?;
    let key = decl.windows(8).position(|w| w == b"encoding")?;
    let rest = decl.get(key + 8..)?;
    let rest = rest.get(rest.iter().position(|&b| b == b'=')? + 1..)?;
    let rest = rest.get(rest.iter().position(|&b| !b.is_ascii_whitespace())?..)?;
    let quote = *rest.first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let value = rest.get(1..)?;
    let value = value.get(..value.iter().position(|&b| b == quote)?)?;
    Encoding::for_label(value)
}

/// Decodes an XML document to UTF-8: UTF-8 (BOM optional), UTF-16 LE/BE (BOM, or
/// recognised by a leading `<` and zero byte), or the single-byte encoding its XML
/// declaration names. Checks [`limits::MAX_XML_BYTES`] first, so the output is
/// bounded by 3x the limit.
pub(crate) fn decode_xml(bytes: &[u8]) -> Result<String, CbsError> {
    if bytes.len() > limits::MAX_XML_BYTES {
        return Err(CbsError::TooLarge {
            what: limits::Limit::XmlBytes,
            limit: limits::MAX_XML_BYTES,
            value: bytes.len(),
        });
    }
    if bytes.starts_with(DCM_MAGIC) {
        return Err(CbsError::DcmCompressed);
    }
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        let body = bytes.get(bom_len..).unwrap_or_default();
        return decode_with(enc, body);
    }
    if let Some(enc) = utf16_without_bom(bytes) {
        return decode_with(enc, bytes);
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(e) => match declared_encoding(bytes) {
            Some(enc) if enc != UTF_8 && enc.is_ascii_compatible() => decode_with(enc, bytes),
            _ => Err(CbsError::Encoding(format!(
                "invalid UTF-8 at byte {}",
                e.valid_up_to()
            ))),
        },
    }
}

/// Decodes a `*-pkgProperties.txt`. Returns the text and the encoding used:
/// BOM (UTF-16LE/BE, UTF-8) first; without BOM, zero-interleaved ASCII is UTF-16;
/// text that is valid UTF-8 and not plain ASCII is UTF-8; everything else Windows-1252.
pub(crate) fn decode_properties(bytes: &[u8]) -> Result<(String, &'static str), CbsError> {
    if bytes.len() > limits::MAX_PKG_PROPERTIES_BYTES {
        return Err(CbsError::TooLarge {
            what: limits::Limit::PkgPropertiesBytes,
            limit: limits::MAX_PKG_PROPERTIES_BYTES,
            value: bytes.len(),
        });
    }
    let (enc, body) = if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        (enc, bytes.get(bom_len..).unwrap_or_default())
    } else if let Some(enc) = utf16_without_bom(bytes) {
        (enc, bytes)
    } else if !bytes.is_ascii() && std::str::from_utf8(bytes).is_ok() {
        (UTF_8, bytes)
    } else {
        (WINDOWS_1252, bytes)
    };
    // Windows-1252 decoding never fails; UTF-16 with an odd length or lone
    // surrogates does, and is reported rather than silently repaired.
    let text = decode_with(enc, body)?;
    Ok((text, enc.name()))
}
