//! Where the app keeps its own small files (never inside a creator's folder).

use std::path::{Path, PathBuf};

/// Paths of the app's own state files, under the OS's per-app data folder.
#[derive(Debug, Clone)]
pub struct AppPaths {
    /// The data folder itself, shared with the CLI: `marketplaces/` (joined marketplaces and
    /// their pinned keys), `uploads.sqlite` (what was published), `earnings.sqlite`,
    /// `rotations/`.
    pub data: PathBuf,
    /// The recently opened folders list.
    pub recent_folders: PathBuf,
    /// Every dataset sealed in the app (`library.json`).
    pub library: PathBuf,
    /// Where sealed datasets go unless the creator picks a folder.
    pub datasets: PathBuf,
    /// Creator credentials from marketplaces, kept after they check out.
    pub credentials: PathBuf,
}

impl AppPaths {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data: data_dir.to_path_buf(),
            recent_folders: data_dir.join("recent-folders.json"),
            library: data_dir.join("library.json"),
            datasets: data_dir.join("datasets"),
            credentials: data_dir.join("credentials"),
        }
    }

    /// The defaults for new datasets (shard size, files to leave out), set in Settings.
    pub fn defaults(&self) -> PathBuf {
        self.data.join("defaults.json")
    }

    /// The rotation statements made here or by the CLI (`hallmark key rotate`), one per old key.
    pub fn rotations(&self) -> PathBuf {
        self.data.join("rotations")
    }
}
