use crate::error::CbsError;
use crate::limits;
use serde::Serialize;

/// An MSU's `*-pkgProperties.txt`: `Key="Value"` lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PkgProperties {
    /// The encoding the text was decoded with (`UTF-16LE`, `UTF-16BE`, `UTF-8`, `windows-1252`).
    pub encoding: &'static str,
    /// In file order, keys and values as written (surrounding quotes removed).
    pub entries: Vec<(String, String)>,
    /// Non-empty lines without `=` (counted, not kept).
    pub skipped_lines: usize,
}

impl PkgProperties {
    /// First value whose key equals `key`, ignoring ASCII case and surrounding spaces.
    pub fn get(&self, key: &str) -> Option<&str> {
        let key = key.trim();
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// `Build Date="yyyy/mm/dd"` as (year, month, day), validated.
    pub fn build_date(&self) -> Option<(u16, u8, u8)> {
        let mut parts = self.get("Build Date")?.trim().split('/');
        let y: u16 = parts.next()?.trim().parse().ok()?;
        let m: u8 = parts.next()?.trim().parse().ok()?;
        let d: u8 = parts.next()?.trim().parse().ok()?;
        if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        Some((y, m, d))
    }

    /// `KB Article Number`, e.g. `2999226` (as written, usually without `KB`).
    pub fn kb_article(&self) -> Option<&str> {
        self.get("KB Article Number")
    }

    pub fn processor_architecture(&self) -> Option<&str> {
        self.get("Processor Architecture")
    }

    pub fn applies_to(&self) -> Option<&str> {
        self.get("Applies to")
    }

    pub fn installation_type(&self) -> Option<&str> {
        self.get("Installation Type")
    }

    pub fn package_type(&self) -> Option<&str> {
        self.get("Package Type")
    }
}

fn unquote(v: &str) -> &str {
    let v = v.trim();
    v.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(v)
}

/// Parses a `*-pkgProperties.txt`. Encoding: BOM (UTF-16LE/BE, UTF-8); without one,
/// zero-interleaved text is UTF-16, non-ASCII valid UTF-8 is UTF-8, anything else
/// is Windows-1252.
pub fn parse_pkg_properties(bytes: &[u8]) -> Result<PkgProperties, CbsError> {
    let (text, encoding) = crate::text::decode_properties(bytes)?;
    let mut entries = Vec::new();
    let mut skipped_lines = 0;
    for line in text.lines() {
        let line = line.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            skipped_lines += 1;
            continue;
        };
        if entries.len() >= limits::MAX_PKG_PROPERTIES_ENTRIES {
            return Err(CbsError::TooLarge {
                what: limits::Limit::PkgPropertiesEntries,
                limit: limits::MAX_PKG_PROPERTIES_ENTRIES,
                value: entries.len() + 1,
            });
        }
        entries.push((key.trim().to_owned(), unquote(value).to_owned()));
    }
    Ok(PkgProperties {
        encoding,
        entries,
        skipped_lines,
    })
}
