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
    TooLong {
        len: usize,
        max: usize,
    },
    /// The stored name's bytes are not valid UTF-8 (under ZIP's UTF-8 flag): it is shown
    /// escaped, and an escaped form is not the name to create.
    NotExact,
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
            UnsafeName::NotExact => {
                f.write_str("name is not valid UTF-8 (shown with \\x{..} escapes); not written")
            }
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
            _ => check_component(comp)?,
        }
        out.push(comp.to_string());
    }
    if out.is_empty() {
        return Err(UnsafeName::Empty);
    }
    Ok(out)
}

/// Checks one path component (a name between separators) for everything that could make it
/// mean something other than a plain file or folder name, here or on Windows. This is the
/// one check for names that become paths, whether an archive stored them or kbscan derived
/// them ([`expansion_dir`]).
pub fn check_component(comp: &str) -> Result<(), UnsafeName> {
    match comp {
        "" => return Err(UnsafeName::Empty),
        ".." => return Err(UnsafeName::ParentComponent),
        "." => return Err(UnsafeName::Empty),
        _ => {}
    }
    if comp.len() > MAX_EXTRACT_NAME {
        return Err(UnsafeName::TooLong {
            len: comp.len(),
            max: MAX_EXTRACT_NAME,
        });
    }
    if comp.contains(['\\', '/']) {
        return Err(UnsafeName::ReservedCharacter(if comp.contains('/') {
            '/'
        } else {
            '\\'
        }));
    }
    if comp.chars().any(|c| c.is_control()) {
        return Err(UnsafeName::ControlCharacter);
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
    if is_reserved_device(comp) {
        return Err(UnsafeName::ReservedDeviceName(comp.to_string()));
    }
    Ok(())
}

/// Windows opens a device, not a file, for these names with any extension (`nul.txt`)
/// and with trailing spaces before it (`CON .txt`). The list is Microsoft's "Naming Files,
/// Paths, and Namespaces": `COM0`-`COM9`, `LPT0`-`LPT9` and the superscript digits
/// `¹ ² ³`, which Windows counts as digits here.
fn is_reserved_device(comp: &str) -> bool {
    let stem = comp.split('.').next().unwrap_or(comp).trim_end_matches(' ');
    let upper = stem.to_uppercase();
    if matches!(
        upper.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) {
        return true;
    }
    let mut chars = upper.chars();
    let prefix: String = chars.by_ref().take(3).collect();
    let digit: Vec<char> = chars.collect();
    (prefix == "COM" || prefix == "LPT")
        && matches!(digit.as_slice(), [d] if d.is_ascii_digit() || matches!(d, '¹' | '²' | '³'))
}

/// The folder a nested container `file` (one safe path component, e.g. `x.cab`) is expanded
/// into, beside it: the name without `.cab`/`.msu`/`.zip`, or `<file>.expanded` when there is
/// no such extension **or when the stripped name would not be a safe component** (`...cab`
/// would give `..`, `..cab` gives `.`, `a..cab` gives `a.`, `x .cab` gives `x `). Derived
/// names go through [`check_component`] like stored ones: a derived name is never trusted
/// because kbscan made it.
pub fn expansion_dir(file: &str) -> Result<String, UnsafeName> {
    check_component(file)?;
    let lower = file.to_ascii_lowercase();
    for ext in [".cab", ".msu", ".zip"] {
        if lower.len() > ext.len() && lower.ends_with(ext) {
            let stem = &file[..file.len() - ext.len()];
            if check_component(stem).is_ok() {
                return Ok(stem.to_string());
            }
        }
    }
    let derived = format!("{file}.expanded");
    check_component(&derived)?;
    Ok(derived)
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
        assert_eq!(relative_components("COM10.txt").unwrap(), ["COM10.txt"]);
        assert_eq!(relative_components("COMMON.dll").unwrap(), ["COMMON.dll"]);
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
            (
                "COM0.txt",
                UnsafeName::ReservedDeviceName("COM0.txt".into()),
            ),
            (
                "COM\u{b9}",
                UnsafeName::ReservedDeviceName("COM\u{b9}".into()),
            ),
            (
                "a/lpt\u{b2}.log",
                UnsafeName::ReservedDeviceName("lpt\u{b2}.log".into()),
            ),
            (
                "CON .txt",
                UnsafeName::ReservedDeviceName("CON .txt".into()),
            ),
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

    #[test]
    fn expansion_folders_are_checked_like_stored_names() {
        assert_eq!(
            expansion_dir("Windows6.0-KB1-x64.msu").unwrap(),
            "Windows6.0-KB1-x64"
        );
        assert_eq!(expansion_dir("Cab_1_for_KB1.CAB").unwrap(), "Cab_1_for_KB1");
        assert_eq!(
            expansion_dir("payload.bin").unwrap(),
            "payload.bin.expanded"
        );
        // Stems that would climb, stay put or be altered by Windows get the long form.
        assert_eq!(expansion_dir("...cab").unwrap(), "...cab.expanded");
        assert_eq!(expansion_dir("..cab").unwrap(), "..cab.expanded");
        assert_eq!(expansion_dir("...zip").unwrap(), "...zip.expanded");
        assert_eq!(expansion_dir("a..cab").unwrap(), "a..cab.expanded");
        assert_eq!(expansion_dir("x .cab").unwrap(), "x .cab.expanded");
        assert_eq!(
            expansion_dir("nul.cab").unwrap_err(),
            UnsafeName::ReservedDeviceName("nul.cab".into())
        );
        assert_eq!(
            expansion_dir("con.x.cab").unwrap_err(),
            UnsafeName::ReservedDeviceName("con.x.cab".into())
        );
        assert_eq!(
            expansion_dir("..").unwrap_err(),
            UnsafeName::ParentComponent
        );
        for derived in ["...cab", "..cab", "a..cab", "x .cab", ".cab", "a.cab"] {
            let d = expansion_dir(derived).unwrap();
            assert_eq!(check_component(&d), Ok(()), "{derived} -> {d}");
        }
    }
}
