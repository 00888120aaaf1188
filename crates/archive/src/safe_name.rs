//! Turning an archive member name into a relative path that is safe to create under an
//! output directory, on Linux and on Windows alike.
//!
//! Policy: **reject, never rewrite.** A member whose name could escape the output
//! directory or mean something special to Windows is not written; the caller reports
//! it. Rewriting (say `..` → `_`) would silently put bytes somewhere the archive did
//! not name, and two hostile names could be made to collide.

use std::fmt;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsafeName {
    Empty,
    Absolute,
    DriveLetter,
    ParentComponent,
    ControlCharacter,
    ReservedCharacter(char),
    ReservedDeviceName(String),
    TrailingDotOrSpace(String),
    TooLong { len: usize, max: usize },
}

impl fmt::Display for UnsafeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnsafeName::Empty => f.write_str("empty name"),
            UnsafeName::Absolute => f.write_str("absolute path"),
            UnsafeName::DriveLetter => f.write_str("drive letter or drive-relative path"),
            UnsafeName::ParentComponent => f.write_str("path traversal ('..' component)"),
            UnsafeName::ControlCharacter => f.write_str("NUL or control character in name"),
            UnsafeName::ReservedCharacter(c) => {
                write!(f, "character {c:?} is not allowed in Windows file names")
            }
            UnsafeName::ReservedDeviceName(n) => {
                write!(f, "{n:?} is a reserved Windows device name")
            }
            UnsafeName::TrailingDotOrSpace(n) => write!(
                f,
                "component {n:?} ends with a dot or space (Windows strips it)"
            ),
            UnsafeName::TooLong { len, max } => write!(f, "name is {len} bytes, more than {max}"),
        }
    }
}

/// Longest member name accepted for extraction.
pub const MAX_EXTRACT_NAME: usize = 1024;

/// Splits `name` on `\` and `/` (CAB names use `\`; both separate on Windows) into
/// components that can be joined under an output directory.
pub fn relative_components(name: &str) -> Result<Vec<String>, UnsafeName> {
    if name.len() > MAX_EXTRACT_NAME {
        return Err(UnsafeName::TooLong {
            len: name.len(),
            max: MAX_EXTRACT_NAME,
        });
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(UnsafeName::ControlCharacter);
    }
    if name.starts_with(['\\', '/']) {
        return Err(UnsafeName::Absolute);
    }
    let b = name.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return Err(UnsafeName::DriveLetter);
    }
    let mut out = Vec::new();
    for comp in name.split(['\\', '/']) {
        match comp {
            "" | "." => continue,
            ".." => return Err(UnsafeName::ParentComponent),
            _ => {}
        }
        if let Some(c) = comp
            .chars()
            .find(|c| matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|'))
        {
            return Err(UnsafeName::ReservedCharacter(c));
        }
        if comp.ends_with(['.', ' ']) {
            return Err(UnsafeName::TrailingDotOrSpace(comp.to_string()));
        }
        let stem = comp
            .split('.')
            .next()
            .unwrap_or(comp)
            .trim_end()
            .to_ascii_uppercase();
        let reserved = matches!(
            stem.as_str(),
            "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
        ) || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit()
            && stem.as_bytes()[3] != b'0');
        if reserved {
            return Err(UnsafeName::ReservedDeviceName(comp.to_string()));
        }
        out.push(comp.to_string());
    }
    if out.is_empty() {
        return Err(UnsafeName::Empty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        assert_eq!(
            relative_components(
                "amd64_microsoft-windows-os-kernel_31bf_6.0.6003.20489_none_0123\\ntoskrnl.exe"
            )
            .unwrap(),
            [
                "amd64_microsoft-windows-os-kernel_31bf_6.0.6003.20489_none_0123",
                "ntoskrnl.exe"
            ]
        );
        assert_eq!(relative_components("a/./b.txt").unwrap(), ["a", "b.txt"]);
        assert_eq!(relative_components("COM0.txt").unwrap(), ["COM0.txt"]);
        assert_eq!(relative_components("console.dll").unwrap(), ["console.dll"]);
    }

    #[test]
    fn hostile_names_are_refused() {
        let cases: &[(&str, UnsafeName)] = &[
            ("../../evil.msu", UnsafeName::ParentComponent),
            ("a\\..\\..\\evil", UnsafeName::ParentComponent),
            ("/etc/passwd", UnsafeName::Absolute),
            ("\\Windows\\x.dll", UnsafeName::Absolute),
            ("C:\\x.dll", UnsafeName::DriveLetter),
            ("c:x.dll", UnsafeName::DriveLetter),
            ("a\0b", UnsafeName::ControlCharacter),
            ("a\x1b[2Jb", UnsafeName::ControlCharacter),
            ("file.txt:stream", UnsafeName::ReservedCharacter(':')),
            ("a/b|c", UnsafeName::ReservedCharacter('|')),
            ("CON", UnsafeName::ReservedDeviceName("CON".into())),
            (
                "dir/nul.txt",
                UnsafeName::ReservedDeviceName("nul.txt".into()),
            ),
            (
                "LPT1.log",
                UnsafeName::ReservedDeviceName("LPT1.log".into()),
            ),
            ("evil. ", UnsafeName::TrailingDotOrSpace("evil. ".into())),
            ("", UnsafeName::Empty),
            ("./", UnsafeName::Empty),
        ];
        for (name, want) in cases {
            assert_eq!(relative_components(name).as_ref(), Err(want), "{name:?}");
        }
        assert!(matches!(
            relative_components(&"a".repeat(2000)),
            Err(UnsafeName::TooLong { .. })
        ));
    }
}
