//! Formatting shared by the text report, the markdown report, the HTML page and the charts:
//! how untrusted strings are shown ([`printable`]), and how the analysis's values are
//! spelled (`-` for nothing, `+12` for a positive reset, the forecast's month, a short list
//! of KBs), so every format says the same thing the same way.
//!
//! Nothing here knows a layout (columns, markup): that is [`crate::text`], the report
//! sections and the HTML template's business.

use kbscan_analysis::{AnomalyKind, Forecast, ForecastStatus, Nt6Facts, PackageRef};
use std::fmt::Display;

/// Makes an untrusted string (a name or message from a package, a file name on disk) safe
/// to show to a person: control characters would let a hostile package rewrite the
/// terminal (escape sequences), and invisible format characters would let it disguise a
/// name (U+202E RIGHT-TO-LEFT OVERRIDE shows `evil\u{202e}txt.exe` as `evilexe.txt`). Both
/// are shown as `\u{…}` ([`is_disguising`] lists the second set). Every human format
/// (tables, Markdown, HTML, stderr messages, `extract`'s listing) goes through this;
/// machine formats (JSON, JSON Lines, CSV) keep the real string: escaping it for display is
/// the consumer's business.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || is_disguising(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters that are invisible or reorder the text around them, besides the control
/// characters (Unicode Cc), which [`printable`] also escapes:
/// - bidirectional controls: U+061C ARABIC LETTER MARK, U+200E/U+200F (LRM, RLM),
///   U+202A–U+202E (embeddings and overrides), U+2066–U+2069 (isolates);
/// - zero-width and invisible characters: U+00AD SOFT HYPHEN, U+180E MONGOLIAN VOWEL
///   SEPARATOR, U+200B–U+200D (zero-width space, non-joiner, joiner), U+2060–U+2064 (word
///   joiner, invisible operators), U+206A–U+206F (deprecated format controls), U+FEFF
///   (zero-width no-break space, BOM), U+FFF9–U+FFFB (interlinear annotation), and the tag
///   characters U+E0000–U+E007F (invisible look-alikes of ASCII);
/// - U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR, which break a line like `\n`.
///
/// Names in genuine update packages are ASCII, so escaping these never hides a real name.
pub fn is_disguising(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{061c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

/// A package string, made [`printable`], or `-` when there is none.
pub(crate) fn or_dash(s: Option<&str>) -> String {
    s.map_or_else(|| "-".into(), printable)
}

/// A value of ours (a version, a track), or `-` when there is none.
pub(crate) fn display_or_dash<T: Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

/// Growth per month, to two decimals.
pub(crate) fn slope(s: Option<f64>) -> String {
    s.map_or_else(|| "-".into(), |s| format!("{s:.2}"))
}

/// A reset or a difference, with its sign when it is positive.
pub(crate) fn signed(n: i32) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}

/// The package's KB, or its source when it has none.
pub(crate) fn package_label(p: &PackageRef) -> String {
    printable(&p.label())
}

/// The package's release date, or `-` for an undated one.
pub(crate) fn package_date(p: &PackageRef) -> String {
    or_dash(p.date.as_deref())
}

/// The NT 6.x track and 12-bit counter of a revision, or `-` twice outside NT 6.x.
pub(crate) fn track_and_counter(nt6: Option<Nt6Facts>) -> (String, String) {
    match nt6 {
        Some(n) => (n.track.to_string(), n.counter.to_string()),
        None => ("-".into(), "-".into()),
    }
}

pub(crate) fn anomaly_kind(k: AnomalyKind) -> &'static str {
    match k {
        AnomalyKind::UnusedTrack => "unused track",
        AnomalyKind::PrivateTrack => "private track",
        AnomalyKind::CounterDecrease => "decrease",
    }
}

/// The first `max` KBs, then how many more: tables have no room for every package.
pub(crate) fn list_kbs(pkgs: &[String], max: usize) -> String {
    let shown: Vec<String> = pkgs.iter().take(max).map(|p| printable(p)).collect();
    let more = pkgs.len().saturating_sub(max);
    if more > 0 {
        format!("{} +{more}", shown.join(","))
    } else {
        shown.join(",")
    }
}

/// When a forecast's fitted line reaches the limit, or why it never does.
pub(crate) fn forecast_when(f: &Forecast) -> String {
    match f.status {
        ForecastStatus::Projected => f.projected_month.clone().unwrap_or_else(|| "-".into()),
        ForecastStatus::Exhausted => {
            format!("reached {}", f.projected_month.as_deref().unwrap_or(""))
        }
        ForecastStatus::NotGrowing => "not growing".into(),
        ForecastStatus::TooFewPoints => "1 date only".into(),
        ForecastStatus::BeyondHorizon => "> 100 years".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_chars_shown() {
        assert_eq!(printable("a\x1b[2Jb"), "a\\u{1b}[2Jb");
    }

    /// Regression (issue 15): U+202E RIGHT-TO-LEFT OVERRIDE made `x\u{202e}txt.exe` print
    /// as `xexe.txt`. Every character of the documented set is escaped, its neighbours are
    /// not, and ordinary non-ASCII text is left alone.
    #[test]
    fn bidi_and_invisible_format_characters_shown() {
        assert_eq!(printable("x\u{202e}txt.exe"), "x\\u{202e}txt.exe");
        let set = [
            0xad, 0x61c, 0x180e, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a,
            0x202b, 0x202c, 0x202d, 0x202e, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0x2066, 0x2067,
            0x2068, 0x2069, 0x206a, 0x206f, 0xfeff, 0xfff9, 0xfffb, 0xe0001, 0xe0041, 0xe007f,
        ];
        for cp in set {
            let c = char::from_u32(cp).unwrap();
            assert_eq!(printable(&c.to_string()), format!("\\u{{{cp:x}}}"));
        }
        for ok in [
            0x20, 0xe9, 0x2027, 0x202f, 0x2065, 0x2070, 0xfefe, 0xfff8, 0xfffc, 0xe0080,
        ] {
            let c = char::from_u32(ok).unwrap();
            assert_eq!(printable(&c.to_string()), c.to_string(), "U+{ok:04X}");
        }
        assert_eq!(
            printable("Überprüfung ntoskrnl.exe"),
            "Überprüfung ntoskrnl.exe"
        );
    }

    #[test]
    fn values_are_spelled_alike_in_every_format() {
        assert_eq!(or_dash(None), "-");
        assert_eq!(or_dash(Some("a\u{1b}")), "a\\u{1b}");
        assert_eq!(signed(12), "+12");
        assert_eq!(signed(-4082), "-4082");
        assert_eq!(signed(0), "0");
        assert_eq!(slope(Some(1.0 / 3.0)), "0.33");
        assert_eq!(display_or_dash(None::<u16>), "-");
        let kbs: Vec<String> = ["KB1", "KB2", "KB3"].map(String::from).to_vec();
        assert_eq!(list_kbs(&kbs, 2), "KB1,KB2 +1");
        assert_eq!(list_kbs(&kbs, 3), "KB1,KB2,KB3");
    }
}
