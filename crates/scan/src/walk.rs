//! Expanding the user's paths into the list of input files, in a stable order.

use std::fs;
use std::path::{Path, PathBuf};

/// An input file and how it is named in reports (with `/` separators, relative when
/// the user gave a relative path, so reports do not depend on the working machine).
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    pub display: String,
    pub size: u64,
}

/// Directory symlinks are not followed: a link cycle would otherwise make the walk
/// endless, and a corpus folder should not silently pull in trees from elsewhere.
/// They are returned as `skipped` with the reason so nothing disappears unseen.
/// (path, reason) of something under the given folders that is not scanned.
pub type SkippedEntry = (String, String);

pub fn expand(paths: &[PathBuf]) -> std::io::Result<(Vec<InputFile>, Vec<SkippedEntry>)> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for p in paths {
        let meta = fs::metadata(p)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
        if meta.is_dir() {
            walk_dir(p, &mut files, &mut skipped)?;
        } else {
            files.push(InputFile {
                display: display(p),
                path: p.clone(),
                size: meta.len(),
            });
        }
    }
    // Two user paths may overlap (a folder and a file inside it): scan each file once.
    files.sort_by(|a, b| a.display.cmp(&b.display));
    files.dedup_by(|a, b| a.path == b.path);
    Ok((files, skipped))
}

fn walk_dir(
    dir: &Path,
    files: &mut Vec<InputFile>,
    skipped: &mut Vec<SkippedEntry>,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let ft = entry.file_type()?;
        if ft.is_symlink() {
            match fs::metadata(&path) {
                Ok(m) if m.is_file() => files.push(InputFile {
                    display: display(&path),
                    path,
                    size: m.len(),
                }),
                Ok(_) => skipped.push((
                    display(&path),
                    "symbolic link to a directory: not followed".into(),
                )),
                Err(e) => skipped.push((display(&path), format!("dangling symbolic link: {e}"))),
            }
        } else if ft.is_dir() {
            walk_dir(&path, files, skipped)?;
        } else if ft.is_file() {
            let size = entry.metadata()?.len();
            files.push(InputFile {
                display: display(&path),
                path,
                size,
            });
        } else {
            skipped.push((display(&path), "not a regular file".into()));
        }
    }
    Ok(())
}

fn display(p: &Path) -> String {
    let s = p.to_string_lossy();
    let s = s.strip_prefix("./").unwrap_or(&s);
    if std::path::MAIN_SEPARATOR == '\\' {
        s.replace('\\', "/")
    } else {
        s.to_string()
    }
}
