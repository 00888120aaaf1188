//! ZIP entry names: raw bytes to one deterministic, injective text form, and the keys that
//! decide whether two entries name the same file. The scheme is described in the module doc
//! of [`super`].

use std::fmt::Write as _;

/// IBM code page 437 (the original IBM PC character set, which APPNOTE 4.4.4 names as the
/// encoding of ZIP names without general-purpose bit 11), bytes 0x80..=0xFF, one row per
/// high nibble. Written by hand from the code page chart; the tests check that the table is
/// a bijection and that the `zip` crate's reader agrees with it.
const CP437_HIGH: [char; 128] = [
    // 0x80: Ç ü é â ä à å ç ê ë è ï î ì Ä Å
    '\u{C7}', '\u{FC}', '\u{E9}', '\u{E2}', '\u{E4}', '\u{E0}', '\u{E5}', '\u{E7}', //
    '\u{EA}', '\u{EB}', '\u{E8}', '\u{EF}', '\u{EE}', '\u{EC}', '\u{C4}', '\u{C5}', //
    // 0x90: É æ Æ ô ö ò û ù ÿ Ö Ü ¢ £ ¥ ₧ ƒ
    '\u{C9}', '\u{E6}', '\u{C6}', '\u{F4}', '\u{F6}', '\u{F2}', '\u{FB}', '\u{F9}', //
    '\u{FF}', '\u{D6}', '\u{DC}', '\u{A2}', '\u{A3}', '\u{A5}', '\u{20A7}', '\u{192}', //
    // 0xA0: á í ó ú ñ Ñ ª º ¿ ⌐ ¬ ½ ¼ ¡ « »
    '\u{E1}', '\u{ED}', '\u{F3}', '\u{FA}', '\u{F1}', '\u{D1}', '\u{AA}', '\u{BA}', //
    '\u{BF}', '\u{2310}', '\u{AC}', '\u{BD}', '\u{BC}', '\u{A1}', '\u{AB}', '\u{BB}', //
    // 0xB0: light/medium/dark shade, then box drawing ░ ▒ ▓ │ ┤ ╡ ╢ ╖ ╕ ╣ ║ ╗ ╝ ╜ ╛ ┐
    '\u{2591}', '\u{2592}', '\u{2593}', '\u{2502}', '\u{2524}', '\u{2561}', '\u{2562}',
    '\u{2556}', //
    '\u{2555}', '\u{2563}', '\u{2551}', '\u{2557}', '\u{255D}', '\u{255C}', '\u{255B}',
    '\u{2510}', //
    // 0xC0: └ ┴ ┬ ├ ─ ┼ ╞ ╟ ╚ ╔ ╩ ╦ ╠ ═ ╬ ╧
    '\u{2514}', '\u{2534}', '\u{252C}', '\u{251C}', '\u{2500}', '\u{253C}', '\u{255E}',
    '\u{255F}', //
    '\u{255A}', '\u{2554}', '\u{2569}', '\u{2566}', '\u{2560}', '\u{2550}', '\u{256C}',
    '\u{2567}', //
    // 0xD0: ╨ ╤ ╥ ╙ ╘ ╒ ╓ ╫ ╪ ┘ ┌ █ ▄ ▌ ▐ ▀
    '\u{2568}', '\u{2564}', '\u{2565}', '\u{2559}', '\u{2558}', '\u{2552}', '\u{2553}',
    '\u{256B}', //
    '\u{256A}', '\u{2518}', '\u{250C}', '\u{2588}', '\u{2584}', '\u{258C}', '\u{2590}',
    '\u{2580}', //
    // 0xE0: α ß Γ π Σ σ µ τ Φ Θ Ω δ ∞ φ ε ∩
    '\u{3B1}', '\u{DF}', '\u{393}', '\u{3C0}', '\u{3A3}', '\u{3C3}', '\u{B5}', '\u{3C4}', //
    '\u{3A6}', '\u{398}', '\u{3A9}', '\u{3B4}', '\u{221E}', '\u{3C6}', '\u{3B5}',
    '\u{2229}', //
    // 0xF0: ≡ ± ≥ ≤ ⌠ ⌡ ÷ ≈ ° ∙ · √ ⁿ ² ■ and the no-break space
    '\u{2261}', '\u{B1}', '\u{2265}', '\u{2264}', '\u{2320}', '\u{2321}', '\u{F7}',
    '\u{2248}', //
    '\u{B0}', '\u{2219}', '\u{B7}', '\u{221A}', '\u{207F}', '\u{B2}', '\u{25A0}', '\u{A0}', //
];

/// One byte of a code page 437 name. 0x00..=0x7F are ASCII, as ZIP tools read them (IBM's
/// glyphs for the control codes, ☺ ☻ ♥ …, are not used, so a control byte stays a control
/// character that the scanner's name checks see).
pub(crate) fn cp437(b: u8) -> char {
    match b.checked_sub(0x80) {
        None => char::from(b),
        Some(i) => CP437_HIGH
            .get(usize::from(i))
            .copied()
            .unwrap_or(char::REPLACEMENT_CHARACTER),
    }
}

/// Whether `raw` is read as UTF-8 (bit 11 set, or the bytes happen to be valid UTF-8).
pub(crate) fn reads_as_utf8(raw: &[u8], utf8_flag: bool) -> bool {
    utf8_flag || std::str::from_utf8(raw).is_ok()
}

/// The text form of a ZIP name (see the module doc of [`super`]): UTF-8 with each byte of an
/// invalid sequence written `\x{hh}`, or code page 437; in both, a literal backslash that
/// begins `\x{` is written `\x{5c}`, so the text can be read back into the raw bytes and
/// distinct raw names (read the same way) never share a text.
pub fn decode_name(raw: &[u8], utf8_flag: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    if reads_as_utf8(raw, utf8_flag) {
        for chunk in raw.utf8_chunks() {
            push_literal(&mut out, chunk.valid());
            for b in chunk.invalid() {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\x{{{b:02x}}}");
            }
        }
    } else {
        let text: String = raw.iter().map(|&b| cp437(b)).collect();
        push_literal(&mut out, &text);
    }
    out
}

/// Appends decoded text, escaping the backslash of any literal `\x{` so that it cannot be
/// mistaken for the escape of an invalid byte.
fn push_literal(out: &mut String, mut rest: &str) {
    while let Some(i) = rest.find("\\x{") {
        out.push_str(rest.get(..i).unwrap_or_default());
        out.push_str("\\x{5c}");
        // Skip the backslash only; `x{` follows as ordinary text.
        rest = rest.get(i + 1..).unwrap_or_default();
    }
    out.push_str(rest);
}

/// The raw name with `\` read as `/`: two entries with equal keys name the same path for
/// any extractor that treats both as separators.
pub(crate) fn raw_key(raw: &[u8]) -> Vec<u8> {
    raw.iter()
        .map(|&b| if b == b'\\' { b'/' } else { b })
        .collect()
}

/// A text name with `\` read as `/`: the path a text-based extractor (`kbscan extract`)
/// writes. Equal keys with different raw bytes are one name spelt in two encodings (`é` as
/// code page 437 `0x82` and as UTF-8 `0xC3 0xA9`), or an escaped byte whose `\x{hh}` reads
/// as a separator (`a\x{ff}` from the raw `a 0xFF`, and a literal `a/x{ff}`).
pub(crate) fn text_key(text: &str) -> String {
    text.replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn cp437_is_a_bijection_onto_distinct_chars() {
        let all: BTreeSet<char> = (0..=255u8).map(cp437).collect();
        assert_eq!(all.len(), 256);
        assert!(!all.contains(&char::REPLACEMENT_CHARACTER));
        assert_eq!(cp437(b'A'), 'A');
        assert_eq!(cp437(0x01), '\u{1}');
        assert_eq!(cp437(0x82), 'é');
        assert_eq!(cp437(0x9E), '₧');
        assert_eq!(cp437(0xE1), 'ß');
        assert_eq!(cp437(0xFF), '\u{A0}');
    }

    #[test]
    fn utf8_names_keep_valid_text_and_escape_invalid_bytes() {
        assert_eq!(decode_name(b"a/b.txt", false), "a/b.txt");
        assert_eq!(decode_name("ü/ß".as_bytes(), true), "ü/ß");
        assert_eq!(decode_name(b"a\xFFb", true), "a\\x{ff}b");
        assert_eq!(decode_name(b"\xC3", true), "\\x{c3}");
        // Without the flag, invalid UTF-8 reads as code page 437.
        assert_eq!(decode_name(b"a\x82b", false), "aéb");
        assert_eq!(decode_name(b"\xC3", false), "├");
        // A literal "\x{" is escaped so it cannot pass for an escaped byte.
        assert_eq!(decode_name(b"\\x{ff}", false), "\\x{5c}x{ff}");
        assert_ne!(decode_name(b"\\x{ff}", true), decode_name(b"\xFF", true));
        assert_eq!(decode_name(b"amd64\\x.dll", false), "amd64\\x.dll");
        assert_eq!(decode_name(b"\\\xFF", true), "\\\\x{ff}");
    }

    #[test]
    fn distinct_raw_names_get_distinct_texts() {
        let names: &[&[u8]] = &[
            b"\xFF",
            b"\xFE",
            b"\\x{ff}",
            b"\\x{5c}x{ff}",
            b"\\\xFF",
            b"\\x\xFF{",
            b"x{ff}",
            b"\xFF\xFF",
            b"\xC3\xA9\xFF",
        ];
        for flag in [false, true] {
            let texts: BTreeSet<String> = names.iter().map(|n| decode_name(n, flag)).collect();
            assert_eq!(texts.len(), names.len(), "flag {flag}: {texts:?}");
        }
    }

    #[test]
    fn keys_fold_separators_and_spot_two_spellings_of_one_name() {
        assert_eq!(raw_key(b"a\\b"), raw_key(b"a/b"));
        assert_ne!(raw_key(b"A"), raw_key(b"a"));
        let key = |raw: &[u8], flag| text_key(&decode_name(raw, flag));
        assert_eq!(key(b"\x82", false), key("é".as_bytes(), true));
        assert_eq!(key(b"a\\b", false), key(b"a/b", true));
        assert_eq!(key(b"a\xFF", true), key(b"a/x{ff}", true));
        assert_ne!(key(b"\xFF", true), key("ÿ".as_bytes(), true));
        assert_ne!(key(b"\xFF", true), key(b"\\x{ff}", true));
    }
}
