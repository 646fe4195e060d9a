//! Reading what Hallmark did not sign: paths taken from files are validated, files are opened without
//! following links, only regular files are read, and every read is bounded before it starts.
//!
//! The trust rule (ARCHITECTURE.md): what is signed is the truth; everything else in an output
//! folder, and every path read from a file, is input. This module is where that input meets the OS.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use crate::{Error, Result};

/// The longest relative path accepted from a file, in bytes (Linux's PATH_MAX).
pub const MAX_PATH_BYTES: usize = 4096;
/// The longest single path component accepted (NAME_MAX on the file systems creators use).
pub const MAX_NAME_BYTES: usize = 255;

/// Checks a path read from a file: relative, not empty, no `.`/`..`/root components, bounded.
/// Returns it unchanged; joining it to a root cannot leave that root by name.
pub fn relative_path(path: &Path) -> std::result::Result<&Path, &'static str> {
    let bytes = path.as_os_str().as_encoded_bytes();
    if bytes.is_empty() {
        return Err("the path is empty");
    }
    if bytes.len() > MAX_PATH_BYTES {
        return Err("the path is longer than 4096 bytes");
    }
    if bytes.contains(&0) {
        return Err("the path contains a NUL byte");
    }
    for component in path.components() {
        match component {
            Component::Normal(name) if name.as_encoded_bytes().len() <= MAX_NAME_BYTES => {}
            Component::Normal(_) => return Err("a name in the path is longer than 255 bytes"),
            Component::ParentDir => return Err("the path climbs out with `..`"),
            Component::RootDir | Component::Prefix(_) => return Err("the path is absolute"),
            Component::CurDir => return Err("the path has a `.` component"),
        }
    }
    Ok(path)
}

/// Opens `path` for reading without following a link at its last component, and without blocking on
/// a FIFO or a device; anything but a regular file is refused with `InvalidInput`.
pub fn open_regular(path: &Path) -> io::Result<(File, Metadata)> {
    let file = open_no_follow(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a folder, device, socket or pipe)",
        ));
    }
    Ok((file, meta))
}

#[cfg(unix)]
fn open_no_follow(path: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    // NONBLOCK: opening a FIFO for reading would otherwise wait for a writer for ever. It has no
    // effect on reads from regular files, the only kind read afterwards.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => Ok(File::from(fd)),
        // ELOOP is what O_NOFOLLOW answers for a link: say so.
        Err(rustix::io::Errno::LOOP) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a symbolic link (never followed)",
        )),
        Err(e) => Err(io::Error::from(e)),
    }
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> io::Result<File> {
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a symbolic link (never followed)",
        ));
    }
    File::open(path)
}

/// The identity of a file on disk: device and inode (0, 0 where the OS has none).
pub fn file_id(meta: &Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        (0, 0)
    }
}

/// Reads a whole file Hallmark keeps (state, manifest, credential) if it is a regular file of at
/// most `max` bytes; a larger one is `Damaged` without being read.
pub fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>> {
    let (file, meta) = open_regular(path).map_err(|e| io_error(path, e))?;
    if meta.len() > max {
        return Err(Error::Damaged {
            path: path.to_path_buf(),
            detail: format!(
                "it is {} bytes, more than the {max} such a file may have",
                meta.len()
            ),
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::from_io(path, e))?;
    if bytes.len() as u64 > max {
        return Err(Error::Damaged {
            path: path.to_path_buf(),
            detail: format!("it grew past the {max} bytes such a file may have while being read"),
        });
    }
    Ok(bytes)
}

/// Like [`read_capped`], but a missing file is `None`.
pub fn read_capped_if_present(path: &Path, max: u64) -> Result<Option<Vec<u8>>> {
    match read_capped(path, max) {
        Err(Error::FolderNotFound { .. }) => Ok(None),
        other => other.map(Some),
    }
}

/// Maps an open error to the core's error, keeping "a link" and "not a regular file" as `Damaged`
/// so the message says what was found instead of a bare I/O failure.
pub fn io_error(path: &Path, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::InvalidInput {
        Error::Damaged {
            path: path.to_path_buf(),
            detail: format!("{e}; Hallmark reads only regular files here"),
        }
    } else {
        Error::from_io(path, e)
    }
}

/// Whether a folder Hallmark owns (`.hallmark`) is there: a real folder is `true`, nothing is
/// `false`, and a link or anything else standing there is refused (it is never followed).
pub fn existing_dir(dir: &Path) -> Result<bool> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(true),
        Ok(_) => Err(Error::Damaged {
            path: dir.to_path_buf(),
            detail:
                "it is not a folder (a link or a file stands there); remove it, then seal again"
                    .into(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::from_io(dir, e)),
    }
}

/// Creates a folder Hallmark owns inside `parent` (`.hallmark`), refusing one that is a link.
pub fn own_dir(dir: &Path) -> Result<PathBuf> {
    if !existing_dir(dir)? {
        std::fs::create_dir(dir).map_err(|e| Error::from_io(dir, e))?;
    }
    Ok(dir.to_path_buf())
}

/// Makes a FIFO at `path`, for tests of what must never block on one.
#[cfg(all(test, unix))]
pub(crate) fn make_fifo(path: &Path) {
    use rustix::fs::{CWD, FileType, Mode, mknodat};
    mknodat(CWD, path, FileType::Fifo, Mode::RUSR | Mode::WUSR, 0).unwrap_or_else(|e| {
        panic!("cannot make a FIFO at {}: {e}", path.display());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_from_files_stay_inside_their_root_by_name() {
        for good in ["a.jpg", "raw/2024/a.cr2", "caf\u{e9}.txt", "a..b.txt"] {
            assert!(relative_path(Path::new(good)).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("/etc/passwd", "absolute"),
            ("../x", "climbs"),
            ("a/../../x", "climbs"),
            ("./a", "`.`"),
            ("a/\0b", "NUL"),
        ] {
            let err = relative_path(Path::new(bad)).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        let long = "a/".repeat(2100);
        assert!(relative_path(Path::new(&long)).is_err());
        assert!(relative_path(Path::new(&"n".repeat(256))).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn links_fifos_and_devices_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        std::os::unix::fs::symlink(&file, dir.path().join("link")).unwrap();
        let fifo = dir.path().join("fifo");
        crate::untrusted::make_fifo(&fifo);
        assert!(open_regular(&file).is_ok());
        let link = open_regular(&dir.path().join("link")).unwrap_err();
        assert!(link.to_string().contains("symbolic link"), "{link}");
        // Would block for ever without O_NONBLOCK; refused as not a regular file instead.
        let fifo = open_regular(&fifo).unwrap_err();
        assert!(fifo.to_string().contains("not a regular file"), "{fifo}");
        let zero = open_regular(Path::new("/dev/zero")).unwrap_err();
        assert!(zero.to_string().contains("not a regular file"), "{zero}");
    }

    #[test]
    fn reads_are_bounded_before_they_start() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 2048]).unwrap();
        assert_eq!(read_capped(&big, 4096).unwrap().len(), 2048);
        let err = read_capped(&big, 1024).unwrap_err();
        assert!(matches!(err, Error::Damaged { .. }), "{err}");
        assert!(
            read_capped_if_present(&dir.path().join("none"), 10)
                .unwrap()
                .is_none()
        );
    }
}
