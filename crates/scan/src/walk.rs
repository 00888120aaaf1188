//! Expanding the user's paths into the list of input files, in a stable order, and
//! reading one input file within its limit.
//!
//! **Architecture Invariant:** only regular files are ever opened. What a path is (file,
//! directory, device, FIFO, socket) is decided from its metadata, never by opening it, so
//! `/dev/zero` or a FIFO with no writer is listed as `skipped` instead of being read until
//! memory runs out or waiting for ever. The file is checked again on the open handle
//! ([`read_regular_file`]), and read through a cap, so a file swapped or grown after the
//! walk cannot get past either check.
//!
//! **Architecture Invariant:** nothing the walk meets ends the run. A directory that cannot
//! be listed, an entry whose metadata cannot be read, a path that vanished: each becomes
//! an input of its own ([`Unread`]) with status `failed` and an `io` error naming the path
//! and the OS error, and the walk goes on.

use crate::InputOutcome;
use kbscan_model::{ErrorKind, ErrorRecord, Ignored, InputRecord, InputStatus, LimitKind};
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// An input file and how it is named in reports (with `/` separators, relative when
/// the user gave a relative path, so reports do not depend on the working machine).
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    pub display: String,
    pub size: u64,
}

/// Something under the given paths that is an input of the run but is not read: listed
/// in the report and counted in the totals, so nothing disappears unseen.
#[derive(Debug, Clone)]
pub struct Unread {
    pub display: String,
    pub why: Why,
}

#[derive(Debug, Clone)]
pub enum Why {
    /// Not scanned on purpose (status `skipped`): a device, FIFO or socket, a dangling
    /// link, a link to a directory (directory links are not followed: a link cycle would
    /// make the walk endless, and a corpus folder should not pull in trees from elsewhere).
    Skipped(String),
    /// Could not be looked at (status `failed`, one `io` error): a directory that cannot
    /// be listed, an entry whose metadata cannot be read.
    Failed(String),
}

impl Unread {
    fn skipped(path: &Path, reason: String) -> Self {
        Unread {
            display: display(path),
            why: Why::Skipped(reason),
        }
    }

    fn failed(path: &Path, message: String) -> Self {
        Unread {
            display: display(path),
            why: Why::Failed(message),
        }
    }

    /// The input record (and error) the report lists for it.
    pub fn into_outcome(self) -> InputOutcome {
        let (format, status, ignored, errors) = match self.why {
            Why::Skipped(reason) => (
                "none",
                InputStatus::Skipped,
                vec![Ignored {
                    path: String::new(),
                    reason,
                }],
                Vec::new(),
            ),
            Why::Failed(message) => (
                "unknown",
                InputStatus::Failed,
                Vec::new(),
                vec![ErrorRecord {
                    path: self.display.clone(),
                    kind: ErrorKind::Io,
                    message,
                }],
            ),
        };
        InputOutcome {
            input: InputRecord {
                path: self.display,
                size: 0,
                sha256: None,
                format: format.into(),
                status,
                packages: 0,
                errors: errors.len() as u32,
                ignored,
            },
            packages: Vec::new(),
            errors,
        }
    }
}

/// Which file a path is, independent of how it is named: device and inode on Unix, the
/// canonical path elsewhere. Used to keep the run's own output out of its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileId {
    #[cfg(unix)]
    dev_ino: (u64, u64),
    #[cfg(not(unix))]
    canonical: PathBuf,
}

impl FileId {
    /// The file `path` names (following symbolic links).
    pub fn of_path(path: &Path) -> io::Result<FileId> {
        let meta = fs::metadata(path)?;
        FileId::of(&meta, path)
    }

    /// An open file (`fstat` on Unix, so it works for a file without a name, e.g.
    /// `O_TMPFILE`); `path` is only used where there are no inode numbers.
    pub fn of_file(file: &File, path: &Path) -> io::Result<FileId> {
        let meta = file.metadata()?;
        FileId::of(&meta, path)
    }

    #[cfg(unix)]
    fn of(meta: &Metadata, _path: &Path) -> io::Result<FileId> {
        use std::os::unix::fs::MetadataExt;
        Ok(FileId {
            dev_ino: (meta.dev(), meta.ino()),
        })
    }

    #[cfg(not(unix))]
    fn of(_meta: &Metadata, path: &Path) -> io::Result<FileId> {
        Ok(FileId {
            canonical: fs::canonicalize(path)?,
        })
    }
}

/// Expands `paths` (files and folders, walked recursively) into the sorted list of
/// regular files to scan and the sorted list of everything else met on the way.
/// Files whose identity is in `exclude` appear in neither.
pub fn expand(paths: &[PathBuf], exclude: &[FileId]) -> (Vec<InputFile>, Vec<Unread>) {
    let mut w = Walk {
        exclude,
        files: Vec::new(),
        unread: Vec::new(),
    };
    for p in paths {
        match fs::metadata(p) {
            Err(e) => w
                .unread
                .push(Unread::failed(p, format!("cannot read metadata: {e}"))),
            Ok(m) if m.is_dir() => w.dir(p),
            Ok(m) => w.file(p, &m, ""),
        }
    }
    // Two user paths may overlap (a folder and a file inside it): list each file once.
    w.files.sort_by(|a, b| a.display.cmp(&b.display));
    w.files.dedup_by(|a, b| a.path == b.path);
    w.unread.sort_by(|a, b| a.display.cmp(&b.display));
    w.unread.dedup_by(|a, b| a.display == b.display);
    (w.files, w.unread)
}

struct Walk<'x> {
    exclude: &'x [FileId],
    files: Vec<InputFile>,
    unread: Vec<Unread>,
}

impl Walk<'_> {
    /// A path whose metadata (`meta`, links followed) is known: a regular file is an
    /// input, anything else is skipped with its type. `via` says how it was reached.
    fn file(&mut self, path: &Path, meta: &Metadata, via: &str) {
        if !self.exclude.is_empty()
            && FileId::of(meta, path).is_ok_and(|id| self.exclude.contains(&id))
        {
            return;
        }
        if !meta.is_file() {
            let what = file_type_name(&meta.file_type());
            return self.unread.push(Unread::skipped(
                path,
                format!("not a regular file: {via}{what}"),
            ));
        }
        self.files.push(InputFile {
            display: display(path),
            path: path.to_path_buf(),
            size: meta.len(),
        });
    }

    fn dir(&mut self, dir: &Path) {
        let list = match fs::read_dir(dir) {
            Ok(l) => l,
            Err(e) => {
                return self
                    .unread
                    .push(Unread::failed(dir, format!("cannot read directory: {e}")))
            }
        };
        let mut entries = Vec::new();
        for entry in list {
            match entry {
                Ok(e) => entries.push(e),
                // The listing stops at its first error (`readdir` sets errno and returns
                // NULL); what was listed before is still walked.
                Err(e) => {
                    self.unread.push(Unread::failed(
                        dir,
                        format!("cannot read directory (listing stopped): {e}"),
                    ));
                    break;
                }
            }
        }
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let ft = match entry.file_type() {
                Ok(t) => t,
                Err(e) => {
                    self.unread
                        .push(Unread::failed(&path, format!("cannot read metadata: {e}")));
                    continue;
                }
            };
            if ft.is_symlink() {
                match fs::metadata(&path) {
                    Ok(m) if m.is_dir() => self.unread.push(Unread::skipped(
                        &path,
                        "symbolic link to a directory: not followed".into(),
                    )),
                    Ok(m) => self.file(&path, &m, "symbolic link to a "),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => self.unread.push(
                        Unread::skipped(&path, format!("dangling symbolic link: {e}")),
                    ),
                    Err(e) => self.unread.push(Unread::failed(
                        &path,
                        format!("cannot read metadata through symbolic link: {e}"),
                    )),
                }
            } else if ft.is_dir() {
                self.dir(&path);
            } else {
                // `DirEntry::metadata` does not follow links (`fstatat` relative to the
                // directory handle), so this is the entry itself.
                match entry.metadata() {
                    Ok(m) => self.file(&path, &m, ""),
                    Err(e) => self
                        .unread
                        .push(Unread::failed(&path, format!("cannot read metadata: {e}"))),
                }
            }
        }
    }
}

/// What a file is, for the reasons in the report ("not a regular file: FIFO").
pub fn file_type_name(ft: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_char_device() {
            return "character device";
        }
        if ft.is_block_device() {
            return "block device";
        }
        if ft.is_fifo() {
            return "FIFO";
        }
        if ft.is_socket() {
            return "socket";
        }
    }
    if ft.is_dir() {
        "directory"
    } else if ft.is_symlink() {
        "symbolic link"
    } else if ft.is_file() {
        "regular file"
    } else {
        "special file"
    }
}

/// Why an input file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a regular file when opened ({what}): it changed after it was listed", path.display())]
    NotRegular { path: PathBuf, what: &'static str },
    #[error("{} holds more than the limit of {limit} bytes (max_input_bytes) when read: it grew after it was listed, or reports a wrong size", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
}

impl ReadError {
    /// The error record kind: `limit_input_size` for [`ReadError::TooLarge`] (the same
    /// kind as an input listed above the limit), else `io`.
    pub fn report_kind(&self) -> ErrorKind {
        match self {
            ReadError::TooLarge { .. } => ErrorKind::Limit(LimitKind::InputSize),
            ReadError::Io { .. } | ReadError::NotRegular { .. } => ErrorKind::Io,
        }
    }
}

/// Opens the regular file at `path` for reading, without blocking where the platform allows
/// it, and checks on the open handle that it is a regular file: the first half of
/// [`read_regular_file`], for inputs read by position instead of whole (larger than the
/// memory an input may hold). Its length is the metadata's at open time.
pub fn open_regular_file(path: &Path) -> Result<(File, Metadata), ReadError> {
    let io_err = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut opts = fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = opts.open(path).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular {
            path: path.to_path_buf(),
            what: file_type_name(&meta.file_type()),
        });
    }
    Ok((file, meta))
}

/// An input's bytes: read whole, or an open file read by position.
#[derive(Debug)]
pub enum InputBytes {
    Mem(Vec<u8>),
    File(File, u64),
}

impl InputBytes {
    /// Reads the regular file at `path` whole when it is at most `hold` bytes (the memory
    /// one input may hold: the fast path, members are cut out of it without a copy), else
    /// opens it to be read by position. Either way at most `max_bytes` are read.
    pub fn open(path: &Path, size: u64, hold: u64, max_bytes: u64) -> Result<Self, ReadError> {
        if size <= hold {
            return read_regular_file(path, max_bytes).map(InputBytes::Mem);
        }
        let (file, meta) = open_regular_file(path)?;
        if meta.len() > max_bytes {
            return Err(ReadError::TooLarge {
                path: path.to_path_buf(),
                limit: max_bytes,
            });
        }
        Ok(InputBytes::File(file, meta.len()))
    }

    pub fn source(&self) -> kbscan_archive::Source<'_> {
        match self {
            InputBytes::Mem(b) => kbscan_archive::Source::Mem(b),
            InputBytes::File(file, len) => {
                kbscan_archive::Source::File(kbscan_archive::source::FileRange {
                    file,
                    offset: 0,
                    len: *len,
                })
            }
        }
    }
}

/// Reads the regular file at `path`, at most `max_bytes` of it.
///
/// The file is opened without blocking where the platform allows it (`O_NONBLOCK`, so a
/// FIFO swapped in after the walk does not wait for a writer, and `O_NOCTTY`, so a
/// terminal swapped in does not become the controlling terminal), then checked on the
/// open handle (`fstat`): only a regular file is read. At most `max_bytes + 1` bytes are
/// read, so a file that grows while it is read, or reports a wrong size, is refused with
/// [`ReadError::TooLarge`] instead of being held whole.
pub fn read_regular_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
    let io_err = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let (file, meta) = open_regular_file(path)?;
    let mut bytes = Vec::new();
    // The size is a hint: the cap below is what bounds the read.
    let hint = usize::try_from(meta.len().min(max_bytes)).unwrap_or(0);
    bytes
        .try_reserve_exact(hint)
        .map_err(|e| io_err(io::Error::new(io::ErrorKind::OutOfMemory, e)))?;
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > max_bytes {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            limit: max_bytes,
        });
    }
    Ok(bytes)
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::process::Command;
    use std::time::Duration;

    fn mkfifo(p: &Path) {
        let ok = Command::new("mkfifo").arg(p).status().expect("run mkfifo");
        assert!(ok.success(), "mkfifo {}", p.display());
    }

    /// Runs `f` on its own thread and fails the test when it takes more than 20 s: a FIFO
    /// opened without `O_NONBLOCK` would wait for a writer for ever (the stuck thread dies
    /// with the test process).
    #[track_caller]
    fn within_20s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(20))
            .expect("blocked: still running after 20 s")
    }

    fn reasons(unread: &[Unread]) -> Vec<(String, String)> {
        unread
            .iter()
            .map(|u| {
                let why = match &u.why {
                    Why::Skipped(r) => format!("skipped: {r}"),
                    Why::Failed(m) => format!("failed: {m}"),
                };
                (u.display.clone(), why)
            })
            .collect()
    }

    #[test]
    fn devices_named_directly_are_skipped_with_their_type_never_opened() {
        let (files, unread) = within_20s(|| expand(&["/dev/zero".into(), "/dev/null".into()], &[]));
        assert!(files.is_empty(), "{files:?}");
        assert_eq!(
            reasons(&unread),
            [
                (
                    "/dev/null".into(),
                    "skipped: not a regular file: character device".into()
                ),
                (
                    "/dev/zero".into(),
                    "skipped: not a regular file: character device".into()
                ),
            ]
        );
    }

    #[test]
    fn fifos_sockets_and_links_to_them_in_a_folder_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        mkfifo(&d.join("a.fifo"));
        let _sock = std::os::unix::net::UnixListener::bind(d.join("b.sock")).unwrap();
        std::os::unix::fs::symlink(d.join("a.fifo"), d.join("c.link")).unwrap();
        std::fs::write(d.join("d.cab"), b"MSCF").unwrap();
        let (files, unread) = within_20s({
            let d = d.to_path_buf();
            move || expand(&[d], &[])
        });
        assert_eq!(files.len(), 1);
        assert!(files[0].display.ends_with("/d.cab"));
        let got: Vec<String> = reasons(&unread).into_iter().map(|(_, r)| r).collect();
        assert_eq!(
            got,
            [
                "skipped: not a regular file: FIFO",
                "skipped: not a regular file: socket",
                "skipped: not a regular file: symbolic link to a FIFO",
            ]
        );
    }

    /// The second line of defence: a path that is not a regular file by the time it is
    /// opened (swapped after the walk) is refused on the open handle, without blocking.
    #[test]
    fn a_fifo_or_device_at_read_time_is_refused_on_the_handle_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("swapped.msu");
        mkfifo(&fifo);
        let e = within_20s(move || read_regular_file(&fifo, 1 << 20)).unwrap_err();
        assert!(
            matches!(e, ReadError::NotRegular { what: "FIFO", .. }),
            "{e}"
        );
        assert_eq!(e.report_kind(), ErrorKind::Io);
        let e = within_20s(|| read_regular_file(Path::new("/dev/zero"), 1 << 20)).unwrap_err();
        assert!(
            e.to_string()
                .contains("/dev/zero is not a regular file when opened (character device)"),
            "{e}"
        );
    }

    /// `/proc` files are regular files that report size 0 and hold more: the cap, not the
    /// size the metadata gave, bounds what is read.
    #[test]
    fn the_read_is_capped_whatever_the_metadata_says() {
        let status = Path::new("/proc/self/status");
        if std::fs::metadata(status).map_or(true, |m| m.len() != 0) {
            eprintln!("SKIP: no /proc/self/status of size 0 here");
        } else {
            let e = read_regular_file(status, 16).unwrap_err();
            assert_eq!(e.report_kind(), ErrorKind::Limit(LimitKind::InputSize));
            assert!(e.to_string().contains("max_input_bytes"), "{e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.bin");
        std::fs::write(&f, [7u8; 100]).unwrap();
        assert_eq!(read_regular_file(&f, 100).unwrap(), [7u8; 100]);
        assert!(matches!(
            read_regular_file(&f, 99),
            Err(ReadError::TooLarge { limit: 99, .. })
        ));
    }

    /// Builds `base/N/N/…/N/deep.bin` with a total path longer than `PATH_MAX` (4096 on
    /// Linux): each level is made and opened relative to its parent's handle, so no call
    /// sees the long path.
    fn too_long_path(base: &Path) -> PathBuf {
        use rustix::fs::{mkdirat, openat, Mode, OFlags, CWD};
        let name = "n".repeat(250);
        let levels = 20; // 20 × 251 bytes > 4096
        let mut fd = openat(CWD, base, OFlags::DIRECTORY | OFlags::RDONLY, Mode::empty())
            .expect("open base");
        let mut p = base.to_path_buf();
        for _ in 0..levels {
            mkdirat(&fd, name.as_str(), Mode::RWXU).expect("mkdirat");
            fd = openat(
                &fd,
                name.as_str(),
                OFlags::DIRECTORY | OFlags::RDONLY,
                Mode::empty(),
            )
            .expect("openat");
            p.push(&name);
        }
        let f = openat(
            &fd,
            "deep.bin",
            OFlags::CREATE | OFlags::WRONLY,
            Mode::RUSR | Mode::WUSR,
        )
        .expect("create deep.bin");
        drop(f);
        p
    }

    /// As root, a mode-000 folder is still readable, so the failure is made another way
    /// that holds for root too: a folder whose path is longer than `PATH_MAX`, which
    /// `read_dir` refuses with ENAMETOOLONG. What this proves: a directory that cannot be
    /// listed becomes a `failed` input with the OS error, and its siblings are still
    /// walked. It does not exercise EACCES itself (same code path, other errno).
    #[test]
    fn a_folder_that_cannot_be_listed_is_a_failed_input_and_the_walk_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        too_long_path(&dir.path().join("a"));
        std::fs::write(dir.path().join("b.cab"), b"MSCF").unwrap();
        let (files, unread) = expand(&[dir.path().to_path_buf()], &[]);
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(unread.len(), 1, "{:?}", reasons(&unread));
        let Why::Failed(m) = &unread[0].why else {
            panic!("{:?}", unread[0])
        };
        assert!(m.starts_with("cannot read directory: "), "{m}");
        assert!(m.contains("os error 36"), "ENAMETOOLONG expected: {m}");
        let o = unread[0].clone().into_outcome();
        assert_eq!(o.input.status, InputStatus::Failed);
        assert_eq!(o.errors.len(), 1);
        assert_eq!(o.errors[0].kind, ErrorKind::Io);
        assert_eq!(o.errors[0].path, o.input.path);
    }

    /// A link whose target cannot be looked up for another reason than absence (here a
    /// loop: ELOOP) is a failed input; a dangling link stays a skipped one.
    #[test]
    fn a_link_loop_is_a_failed_input_and_a_dangling_link_a_skipped_one() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::os::unix::fs::symlink("loop", d.join("loop")).unwrap();
        std::os::unix::fs::symlink("nowhere", d.join("dangling")).unwrap();
        let (files, unread) = expand(&[d.to_path_buf()], &[]);
        assert!(files.is_empty());
        let got = reasons(&unread);
        assert!(
            got[0].1.starts_with("skipped: dangling symbolic link"),
            "{got:?}"
        );
        assert!(
            got[1]
                .1
                .starts_with("failed: cannot read metadata through symbolic link")
                && got[1].1.contains("os error 40"),
            "{got:?}"
        );
    }

    #[test]
    fn excluded_files_appear_nowhere_by_any_name() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("out.json"), b"{}").unwrap();
        std::fs::write(d.join("x.cab"), b"MSCF").unwrap();
        std::os::unix::fs::symlink(d.join("out.json"), d.join("alias.json")).unwrap();
        let id = FileId::of_path(&d.join("out.json")).unwrap();
        let (files, unread) = expand(&[d.to_path_buf(), d.join("out.json")], &[id]);
        let names: Vec<&str> = files.iter().map(|f| f.display.as_str()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(names[0].ends_with("/x.cab"));
        assert!(unread.is_empty(), "{:?}", reasons(&unread));
    }
}
