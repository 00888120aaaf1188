//! `-o FILE` for a regular file: the report is written aside and put in place only when
//! complete, so a failed or killed run never leaves half a report under the name a CI
//! job reads, and leaves no temporary file behind either.
//!
//! - On Linux the report is written into an **unnamed** file (`O_TMPFILE` in the target's
//!   folder): a run killed at any point, even by SIGKILL, leaves nothing. At the end it
//!   gets a fresh temporary name (`linkat` of `/proc/self/fd/N`) and is renamed over the
//!   target.
//! - Elsewhere, or where the file system has no `O_TMPFILE` (or `/proc` is missing), a
//!   named temporary file `.kbscan-XXXXXX.tmp` beside the target is used, as before.
//! - A named temporary file (the fallback, or the unnamed one in the moment between its
//!   naming and the rename) is removed on SIGINT, SIGTERM and SIGHUP before the process
//!   dies by that signal; SIGKILL cannot be caught, which is why the unnamed file is the
//!   first choice.
//!
//! Either way the report is created with mode 0666 less the umask, like a file made by
//! the shell's `>`, not the temporary file's private 0600.

use kbscan_scan::FileId;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// A report being written, not yet under its name. Dropped without
/// [`commit`](Staged::commit) (an error), it leaves nothing.
pub struct Staged {
    inner: Option<Inner>,
}

enum Inner {
    /// `O_TMPFILE`: no name until [`Staged::commit`].
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Unnamed { file: File, dir: PathBuf },
    /// A named temporary file beside the target (removed on drop and on a signal).
    Named(tempfile::NamedTempFile),
}

fn builder() -> tempfile::Builder<'static, 'static> {
    let mut b = tempfile::Builder::new();
    b.prefix(".kbscan-").suffix(".tmp");
    // Like a file created by `>`: 0666 less the umask, not tempfile's private 0600.
    #[cfg(unix)]
    b.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    b
}

impl Staged {
    /// Starts a report that will replace `target` (a regular file or no file yet).
    pub fn create(target: &Path) -> io::Result<Staged> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        signals::install()?;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Ok(file) = unnamed_in(dir) {
            return Ok(Staged {
                inner: Some(Inner::Unnamed {
                    file,
                    dir: dir.to_path_buf(),
                }),
            });
        }
        Staged::named_in(dir)
    }

    /// The fallback: a named temporary file in `dir`.
    fn named_in(dir: &Path) -> io::Result<Staged> {
        signals::install()?;
        // Registered under the lock the signal handler takes, so a signal arriving while
        // the file is created still finds its name.
        let mut pending = signals::pending();
        let tmp = builder().tempfile_in(dir)?;
        *pending = Some(tmp.path().to_path_buf());
        Ok(Staged {
            inner: Some(Inner::Named(tmp)),
        })
    }

    fn inner(&self) -> io::Result<&Inner> {
        self.inner
            .as_ref()
            .ok_or_else(|| io::Error::other("report already committed"))
    }

    /// The file to write the report into.
    pub fn file(&self) -> io::Result<&File> {
        Ok(match self.inner()? {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Inner::Unnamed { file, .. } => file,
            Inner::Named(t) => t.as_file(),
        })
    }

    /// Which file this is, to keep it out of the run's inputs.
    pub fn id(&self) -> io::Result<FileId> {
        match self.inner()? {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Inner::Unnamed { file, dir } => FileId::of_file(file, dir),
            Inner::Named(t) => FileId::of_file(t.as_file(), t.path()),
        }
    }

    /// Puts the complete report in place of `target` (an atomic rename).
    pub fn commit(mut self, target: &Path) -> io::Result<()> {
        let inner = self
            .inner
            .take()
            .ok_or_else(|| io::Error::other("report already committed"))?;
        let mut pending = signals::pending();
        let named = match inner {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Inner::Unnamed { file, dir } => name_unnamed(file, &dir, &mut pending),
            Inner::Named(t) => Ok(t.into_temp_path()),
        };
        // Renamed, or removed by the failed persist's drop: nothing is left to clean up.
        let res = named.and_then(|n| n.persist(target).map_err(|e| e.error));
        *pending = None;
        res
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.inner.take().is_some() {
            // The named file (if any) is removed by its own drop, right after this.
            *signals::pending() = None;
        }
    }
}

/// An unnamed file in `dir` (`O_TMPFILE`), or an error where the kernel or the file
/// system does not support it (the caller falls back to a named file).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn unnamed_in(dir: &Path) -> io::Result<File> {
    use rustix::fs::{openat, Mode, OFlags, CWD};
    // Read-write: if naming it through /proc fails, its bytes are copied out instead.
    let fd = openat(
        CWD,
        dir,
        OFlags::RDWR | OFlags::TMPFILE | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o666),
    )?;
    Ok(File::from(fd))
}

/// Gives the unnamed file a fresh temporary name beside the target (`linkat` through
/// `/proc/self/fd`, as open(2) describes for `O_TMPFILE`); without `/proc`, copies its
/// bytes into a named temporary file.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn name_unnamed(
    mut file: File,
    dir: &Path,
    pending: &mut Option<PathBuf>,
) -> io::Result<tempfile::TempPath> {
    use rustix::fs::{linkat, AtFlags, CWD};
    use std::io::{Seek, SeekFrom};
    use std::os::fd::AsRawFd;
    let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    let linked = builder().make_in(dir, |p| {
        linkat(CWD, proc_path.as_str(), CWD, p, AtFlags::SYMLINK_FOLLOW)?;
        *pending = Some(p.to_path_buf());
        Ok(())
    });
    if let Ok(named) = linked {
        return Ok(named.into_temp_path());
    }
    let mut copy = builder().tempfile_in(dir)?;
    *pending = Some(copy.path().to_path_buf());
    file.seek(SeekFrom::Start(0))?;
    io::copy(&mut file, copy.as_file_mut())?;
    Ok(copy.into_temp_path())
}

/// Removing the named temporary file when the run is interrupted.
///
/// `signal-hook` rather than `ctrlc`: after the cleanup the process must still die *by*
/// the signal (`emulate_default_handler`), so a shell, `make` or `xargs` sees "terminated
/// by SIGTERM" and stops, instead of an ordinary exit code chosen by kbscan; `ctrlc` only
/// calls a closure. signal-hook is the crate tokio's signal handling is built on
/// (`signal-hook-registry`), actively maintained, and its iterator runs the cleanup on an
/// ordinary thread, not in the signal handler.
mod signals {
    use std::path::PathBuf;
    use std::sync::{Mutex, MutexGuard};

    /// The named temporary file to remove if a signal ends the run.
    static PENDING: Mutex<Option<PathBuf>> = Mutex::new(None);

    pub fn pending() -> MutexGuard<'static, Option<PathBuf>> {
        PENDING.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Installs the handler once; later calls do nothing.
    #[cfg(unix)]
    pub fn install() -> std::io::Result<()> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        use std::sync::OnceLock;
        static INSTALLED: OnceLock<()> = OnceLock::new();
        if INSTALLED.get().is_some() {
            return Ok(());
        }
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        std::thread::Builder::new()
            .name("kbscan-signals".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    if let Some(p) = pending().take() {
                        let _ = std::fs::remove_file(p);
                    }
                    let _ = signal_hook::low_level::emulate_default_handler(sig);
                    // Not reached: the default action of these signals ends the process.
                    std::process::exit(128 + sig);
                }
            })?;
        let _ = INSTALLED.set(());
        Ok(())
    }

    /// Elsewhere the named temporary file is removed on a normal exit or error only.
    #[cfg(not(unix))]
    pub fn install() -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn the_named_fallback_is_committed_with_shell_permissions_and_leaves_nothing_else() {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.json");
        let staged = Staged::named_in(dir.path()).unwrap();
        assert_eq!(leftovers(dir.path()).len(), 1, "the named temporary file");
        staged.file().unwrap().write_all(b"{}").unwrap();
        staged.commit(&target).unwrap();
        assert_eq!(leftovers(dir.path()), ["out.json"]);
        assert_eq!(std::fs::read(&target).unwrap(), b"{}");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_ne!(mode & 0o044, 0, "0666 less the umask, not 0600: {mode:o}");
        assert!(signals::pending().is_none());
    }

    /// Run only as the child of the test below: holds a named temporary file in
    /// `KBSCAN_TEST_SIGNAL_DIR` until it is killed.
    #[test]
    #[ignore = "the child of sigterm_removes_the_named_temporary_file"]
    fn child_holding_a_named_temporary_file() {
        let Some(dir) = std::env::var_os("KBSCAN_TEST_SIGNAL_DIR") else {
            return;
        };
        let _staged = Staged::named_in(Path::new(&dir)).unwrap();
        std::thread::sleep(Duration::from_secs(60));
    }

    /// Where `O_TMPFILE` is missing, the named temporary file is removed on SIGTERM and
    /// the process still dies by the signal. The test binary runs itself as the child
    /// (only the ignored test above), so the handler is the one kbscan installs.
    #[test]
    fn sigterm_removes_the_named_temporary_file() {
        use std::os::unix::process::ExitStatusExt;
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "output::tests::child_holding_a_named_temporary_file",
                "--test-threads=1",
            ])
            .env("KBSCAN_TEST_SIGNAL_DIR", dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while leftovers(dir.path()).is_empty() {
            if start.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                panic!("the child made no temporary file in 20 s");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let made = leftovers(dir.path());
        assert!(
            made[0].starts_with(".kbscan-") && made[0].ends_with(".tmp"),
            "{made:?}"
        );
        let pid = rustix::process::Pid::from_child(&child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > Duration::from_secs(40) {
                let _ = child.kill();
                panic!("the child did not end on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(status.signal(), Some(15), "dies by the signal: {status:?}");
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    }
}
