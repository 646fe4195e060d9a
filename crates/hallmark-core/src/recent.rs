//! The list of folders a creator opened recently, newest first, kept in a small JSON file.
//!
//! The list is what lets every flow start without the native folder dialog (a path typed or a
//! recent folder clicked), which is also how the end-to-end tests drive the app.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// How many folders the list keeps.
pub const KEEP: usize = 12;

/// A folder the creator opened, with what it held at the time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecentFolder {
    pub path: PathBuf,
    /// When it was opened, in seconds since the Unix epoch (passed in by the caller).
    pub opened_at: u64,
    pub files: u64,
    pub bytes: u64,
}

/// Recently opened folders, newest first, each path once.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecentFolders {
    folders: Vec<RecentFolder>,
}

impl RecentFolders {
    /// Reads the list from `file`; a missing file is an empty list.
    pub fn load(file: &Path) -> Result<Self> {
        match std::fs::read(file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Damaged {
                path: file.to_path_buf(),
                detail: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(Error::from_io(file, e)),
        }
    }

    /// Writes the list to `file` atomically (a crash leaves the old list or the new one).
    pub fn save(&self, file: &Path) -> Result<()> {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::from_io(dir, e))?;
        }
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::Damaged {
            path: file.to_path_buf(),
            detail: e.to_string(),
        })?;
        let tmp = file.with_extension("json.tmp");
        std::fs::write(&tmp, json).map_err(|e| Error::from_io(&tmp, e))?;
        std::fs::rename(&tmp, file).map_err(|e| Error::from_io(file, e))
    }

    /// Puts `folder` first, dropping an older entry for the same path and the oldest beyond [`KEEP`].
    ///
    /// Paths that are not valid UTF-8 are not kept: they cannot be shown or typed back faithfully.
    pub fn record(&mut self, folder: RecentFolder) {
        if folder.path.to_str().is_none() {
            return;
        }
        self.folders.retain(|f| f.path != folder.path);
        self.folders.insert(0, folder);
        self.folders.truncate(KEEP);
    }

    /// Removes `path` from the list, if present.
    pub fn forget(&mut self, path: &Path) {
        self.folders.retain(|f| f.path != path);
    }

    /// The folders, newest first.
    pub fn folders(&self) -> &[RecentFolder] {
        &self.folders
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(path: &str, at: u64) -> RecentFolder {
        RecentFolder {
            path: path.into(),
            opened_at: at,
            files: 1,
            bytes: 2,
        }
    }

    #[test]
    fn newest_first_each_path_once_and_bounded() {
        let mut list = RecentFolders::default();
        for i in 0..20 {
            list.record(folder(&format!("/w/{i}"), i));
        }
        list.record(folder("/w/15", 100));
        let paths: Vec<_> = list.folders().iter().map(|f| f.path.clone()).collect();
        assert_eq!(paths.len(), KEEP);
        assert_eq!(paths[0], PathBuf::from("/w/15"));
        assert_eq!(paths[1], PathBuf::from("/w/19"));
        assert_eq!(
            paths.iter().filter(|p| **p == Path::new("/w/15")).count(),
            1
        );
        list.forget(Path::new("/w/15"));
        assert_eq!(list.folders()[0].path, PathBuf::from("/w/19"));
    }

    #[test]
    fn saves_and_loads_and_names_a_damaged_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state/recent.json");
        assert_eq!(
            RecentFolders::load(&file).unwrap(),
            RecentFolders::default()
        );
        let mut list = RecentFolders::default();
        list.record(folder("/w/a", 1));
        list.save(&file).unwrap();
        assert_eq!(RecentFolders::load(&file).unwrap(), list);

        std::fs::write(&file, b"{not json").unwrap();
        let err = RecentFolders::load(&file).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Damaged);
        assert!(err.to_string().contains("recent.json is damaged"));
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_paths_are_not_kept() {
        use std::os::unix::ffi::OsStrExt;
        let mut list = RecentFolders::default();
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(b"/w/\xff"));
        list.record(RecentFolder {
            path,
            opened_at: 0,
            files: 0,
            bytes: 0,
        });
        assert!(list.folders().is_empty());
    }
}
