//! Digests as lower-case hex, through the `hex` crate: parsing `Hash@value`, serialising
//! `Vec<u8>` fields.

use serde::Serializer;

/// `Hash@value` as bytes. The attribute is free text, so surrounding whitespace is
/// tolerated; an empty value is no digest.
pub(crate) fn decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    ::hex::decode(s).ok()
}

pub(crate) fn serialize_opt<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(bytes) => s.serialize_some(&::hex::encode(bytes)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_rejects() {
        let json =
            super::serialize_opt(&Some(vec![0x00, 0xAB, 0xFF]), serde_json::value::Serializer);
        assert_eq!(json.unwrap(), "00abff");
        assert_eq!(super::decode(" 00AbfF "), Some(vec![0x00, 0xAB, 0xFF]));
        assert_eq!(super::decode(""), None);
        assert_eq!(super::decode("abc"), None);
        assert_eq!(super::decode("zz"), None);
        assert_eq!(super::decode("é0"), None);
    }
}
