use thiserror::Error;

/// Why a CBS document was rejected. Every variant says where or which limit;
/// [`CbsError::kind`] gives a stable machine-readable tag.
// Not `#[non_exhaustive]`: the scanner maps every variant to a report error kind, and a new
// variant must break that match (a workspace crate, not published).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CbsError {
    /// The bytes are not a well-formed XML document (syntax error, mismatched or
    /// missing end tag, truncated document, content after the root element, ...).
    /// `position` is a byte offset into the UTF-8 text that was parsed (equal to the
    /// input offset for UTF-8 input, after a UTF-8 BOM if there was one); `line` is 1-based.
    #[error("XML not well-formed at byte {position} (line {line}): {reason}")]
    NotWellFormed {
        position: u64,
        line: u64,
        reason: String,
    },
    /// Well-formed, but the root element is not the one this parser reads.
    #[error("wrong root element: expected {expected}, found {found}")]
    WrongRoot {
        expected: &'static str,
        found: String,
    },
    /// A required element is absent.
    #[error("missing element <{0}>")]
    MissingElement(&'static str),
    /// A required attribute is absent.
    #[error("missing attribute {attribute} on <{element}>")]
    MissingAttribute {
        element: &'static str,
        attribute: &'static str,
    },
    /// A size or count limit from [`crate::limits`] was crossed.
    #[error("{what} too large: {value} exceeds the limit of {limit}")]
    TooLarge {
        /// Which limit (its [`Display`](std::fmt::Display) is what is measured).
        what: crate::limits::Limit,
        limit: usize,
        value: usize,
    },
    /// Elements nest deeper than [`crate::limits::MAX_DEPTH`].
    #[error("XML nesting deeper than the limit of {limit} at byte {position}")]
    TooDeep { limit: usize, position: u64 },
    /// The bytes cannot be decoded as text in the encoding they claim or we sniffed.
    #[error("cannot decode text: {0}")]
    Encoding(String),
    /// The manifest starts with `DCM\x01`: a Windows 10+ delta-compressed manifest
    /// (its base lives in wcp.dll). Not XML; recognised, not decoded.
    #[error("compressed manifest (DCM\\x01 header): not decoded")]
    DcmCompressed,
}

impl CbsError {
    /// A stable snake_case tag per variant, for reports and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            CbsError::NotWellFormed { .. } => "xml_not_well_formed",
            CbsError::WrongRoot { .. } => "xml_wrong_root",
            CbsError::MissingElement(_) => "missing_element",
            CbsError::MissingAttribute { .. } => "missing_attribute",
            CbsError::TooLarge { .. } => "too_large",
            CbsError::TooDeep { .. } => "too_deep",
            CbsError::Encoding(_) => "encoding",
            CbsError::DcmCompressed => "dcm_compressed",
        }
    }
}
