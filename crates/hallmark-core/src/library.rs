//! The creator's datasets: every output folder Hallmark sealed, with its source folder, kept in
//! `library.json` in the data folder so the app lists them after a restart.
//!
//! The file is untrusted on reading (bounded, strict, each path checked to be absolute and
//! UTF-8); what a dataset is now (sealed, signed, changed, published) is read from its output
//! folder each time, never from this list.

use std::path::{Path, PathBuf};

use crate::{Error, Result, dataset, untrusted};

/// The most datasets the list keeps (the oldest go first).
pub const KEEP: usize = 10_000;
/// The largest `library.json` read.
const MAX_BYTES: u64 = 16 << 20;
/// The format of `library.json` this version writes.
const VERSION: u32 = 1;

/// One dataset: where it was sealed to, from which folder, when it was last sealed, and what that
/// seal counted (for the list; the dataset page reads the seal itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LibraryEntry {
    pub out: PathBuf,
    pub source: PathBuf,
    /// Seconds since the Unix epoch (passed in by the caller).
    pub sealed_at: u64,
    pub files: u64,
    pub bytes: u64,
    pub samples: u64,
}

/// The datasets, most recently sealed first, each output folder once.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Library {
    version: u32,
    datasets: Vec<LibraryEntry>,
}

impl Default for Library {
    fn default() -> Self {
        Self {
            version: VERSION,
            datasets: Vec::new(),
        }
    }
}

impl Library {
    /// Reads the list from `file`; a missing file is an empty list.
    pub fn load(file: &Path) -> Result<Self> {
        let Some(bytes) = untrusted::read_capped_if_present(file, MAX_BYTES)? else {
            return Ok(Self::default());
        };
        let damaged = |detail: String| Error::DamagedRecord {
            path: file.to_path_buf(),
            detail: format!(
                "{detail}; remove it and open your folders again (nothing in them is lost)"
            ),
        };
        let library: Self = serde_json::from_slice(&bytes).map_err(|e| damaged(e.to_string()))?;
        if library.version != VERSION {
            return Err(damaged(format!("it is of format {}", library.version)));
        }
        for entry in &library.datasets {
            for path in [&entry.out, &entry.source] {
                if !path.is_absolute() || path.to_str().is_none() {
                    return Err(damaged(format!("{path:?} is not an absolute path")));
                }
            }
        }
        Ok(library)
    }

    /// Writes the list to `file`, atomically.
    pub fn save(&self, file: &Path) -> Result<()> {
        dataset::save_json(file, self)
    }

    /// Records a seal, first in the list, replacing an earlier one of the same output folder.
    /// Paths that are not UTF-8 are not kept: they cannot be shown or typed back faithfully.
    pub fn record(&mut self, entry: LibraryEntry) {
        if entry.out.to_str().is_none() || entry.source.to_str().is_none() {
            return;
        }
        self.datasets.retain(|d| d.out != entry.out);
        self.datasets.insert(0, entry);
        self.datasets.truncate(KEEP);
    }

    /// Takes `out` off the list (its files stay where they are).
    pub fn forget(&mut self, out: &Path) {
        self.datasets.retain(|d| d.out != out);
    }

    /// The datasets, most recently sealed first.
    pub fn datasets(&self) -> &[LibraryEntry] {
        &self.datasets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(out: &str, sealed_at: u64) -> LibraryEntry {
        LibraryEntry {
            out: out.into(),
            source: "/w/src".into(),
            sealed_at,
            files: 2,
            bytes: 3,
            samples: 1,
        }
    }

    #[test]
    fn newest_first_each_output_once_kept_across_loads() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("state/library.json");
        let mut library = Library::load(&file).unwrap_or_else(|e| panic!("{e}"));
        assert!(library.datasets().is_empty());
        library.record(entry("/d/a", 1));
        library.record(entry("/d/b", 2));
        library.record(entry("/d/a", 3));
        library.save(&file).unwrap_or_else(|e| panic!("{e}"));
        let again = Library::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let outs: Vec<_> = again
            .datasets()
            .iter()
            .map(|d| (d.out.clone(), d.sealed_at))
            .collect();
        assert_eq!(
            outs,
            [(PathBuf::from("/d/a"), 3), (PathBuf::from("/d/b"), 2)]
        );
        library.forget(Path::new("/d/a"));
        assert_eq!(library.datasets().len(), 1);
    }

    #[test]
    fn a_forged_list_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("library.json");
        for forged in [
            r#"{"version":1,"datasets":[{"out":"../../etc","source":"/w","sealedAt":1,"files":1,"bytes":1,"samples":1}]}"#,
            r#"{"version":1,"datasets":[],"extra":true}"#,
            r#"{"version":9,"datasets":[]}"#,
            "[",
        ] {
            std::fs::write(&file, forged).unwrap_or_else(|e| panic!("{e}"));
            let err = Library::load(&file).expect_err(forged);
            assert_eq!(err.kind(), crate::ErrorKind::Damaged, "{forged}");
            assert!(err.to_string().contains("library.json is damaged"), "{err}");
        }
    }
}
