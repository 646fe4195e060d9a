//! A sealed dataset's output folder: sealing a folder into it, and exporting its shards from the source.
//!
//! The output folder holds what a buyer gets besides the shards: `croissant.json` and `index.jsonl`.
//! Hallmark's own record of the seal (source folder, rules, shard list) sits in `.hallmark/seal.json`
//! next to them, so export and verify can regenerate the shards from the source.

use std::path::{Path, PathBuf};

use crate::cache::ResealCache;
use crate::manifest::{self, DatasetInfo, MANIFEST_FILE};
use crate::progress::{CancelToken, Progress};
use crate::seal::{self, SealOptions, SealReport, SealedShard};
use crate::{Error, Result};

/// Hallmark's own folder inside an output folder.
pub const STATE_DIR: &str = ".hallmark";
const STATE_FILE: &str = "seal.json";

/// What Hallmark remembers of a seal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealState {
    /// Format version of this file.
    pub version: u32,
    pub source: PathBuf,
    pub options: SealOptions,
    pub info: DatasetInfo,
    pub shards: Vec<SealedShard>,
    pub manifest_sha256: String,
    pub index_sha256: String,
}

/// What sealing a folder produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sealed {
    pub report: SealReport,
    pub manifest_path: PathBuf,
    pub index_path: PathBuf,
    pub manifest_sha256: String,
}

/// Seals `root` into the output folder `out`: index, manifest and Hallmark's state.
///
/// The manifest is checked (license, name, creator) before any file is read, so a typo costs nothing.
pub fn seal_folder(
    root: &Path,
    out: &Path,
    options: &SealOptions,
    info: &DatasetInfo,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Sealed> {
    manifest::validate_license(&info.license)?;
    let state_dir = out.join(STATE_DIR);
    // The last seal's hashes count only for the same folder and the same rules.
    let previous = match load_state(out) {
        Ok(state)
            if &state.options == options
                && Some(&state.source) == root.canonicalize().ok().as_ref() =>
        {
            ResealCache::load(&state_dir)
        }
        _ => ResealCache::default(),
    };
    let report = seal::seal(root, out, options, &previous, &state_dir, progress, cancel)?;
    let manifest = manifest::build(&report, info)?;
    let bytes = manifest::to_bytes(&manifest);
    let manifest_path = out.join(MANIFEST_FILE);
    write_atomic(&manifest_path, &bytes)?;
    let manifest_sha256 = crate::digest::Sha256Digest::of(&bytes).hex();
    let state = SealState {
        version: 1,
        source: report.root.clone(),
        options: options.clone(),
        info: info.clone(),
        shards: report.shards.clone(),
        manifest_sha256: manifest_sha256.clone(),
        index_sha256: report.index_sha256.clone(),
    };
    std::fs::create_dir_all(&state_dir).map_err(|e| Error::from_io(&state_dir, e))?;
    let state_bytes = serde_json::to_vec_pretty(&state).map_err(|e| Error::Damaged {
        path: state_dir.join(STATE_FILE),
        detail: e.to_string(),
    })?;
    write_atomic(&state_dir.join(STATE_FILE), &state_bytes)?;
    Ok(Sealed {
        index_path: out.join(seal::INDEX_FILE),
        report,
        manifest_path,
        manifest_sha256,
    })
}

/// Reads Hallmark's record of the seal in `out`.
pub fn load_state(out: &Path) -> Result<SealState> {
    let path = out.join(STATE_DIR).join(STATE_FILE);
    let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotSealed {
            out: out.to_path_buf(),
        },
        _ => Error::from_io(&path, e),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Damaged {
        path,
        detail: e.to_string(),
    })
}

/// Writes the shards of the dataset sealed in `out` into `shards_dir`, regenerated from its source.
pub fn export_shards(
    out: &Path,
    shards_dir: &Path,
    source: Option<&Path>,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Vec<PathBuf>> {
    let state = load_state(out)?;
    let source = source.unwrap_or(&state.source);
    seal::export(
        source,
        &state.options,
        &state.shards,
        shards_dir,
        progress,
        cancel,
    )
}

/// How many paths of each kind of change a [`Changes`] lists; the rest are only counted.
pub const CHANGES_LISTED: usize = 50;

/// What changed in a sealed folder since its seal.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Changes {
    pub added: u64,
    pub modified: u64,
    pub removed: u64,
    /// Up to [`CHANGES_LISTED`] changed paths, relative to the folder.
    pub paths: Vec<PathBuf>,
}

impl Changes {
    /// Files added, modified or removed.
    pub fn total(&self) -> u64 {
        self.added + self.modified + self.removed
    }
}

/// Compares the folder sealed in `out` with its seal, by size, modification time and inode only
/// (no file is read), under the rules it was sealed with.
pub fn changes(out: &Path, cancel: &CancelToken) -> Result<Changes> {
    let state = load_state(out)?;
    let cache = ResealCache::load(&out.join(STATE_DIR));
    let root = crate::scan::resolve_folder(&state.source)?;
    let mut changes = Changes::default();
    let mut seen = std::collections::HashSet::new();
    let note = |changes: &mut Changes, path: &Path| {
        if changes.paths.len() < CHANGES_LISTED {
            changes.paths.push(path.to_path_buf());
        }
    };
    crate::scan::walk(&root, &state.options.rules, cancel, |found| {
        if let crate::scan::Found::File(file) = found {
            if cache.file(&file).is_none() {
                if cache.knows(&file.rel) {
                    changes.modified += 1;
                } else {
                    changes.added += 1;
                }
                note(&mut changes, &file.rel);
            }
            seen.insert(file.rel);
        }
    })?;
    for path in cache.paths() {
        if !seen.contains(path) {
            changes.removed += 1;
            note(&mut changes, path);
        }
    }
    changes.paths.sort();
    Ok(changes)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so readers never see half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::from_io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::from_io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    fn info() -> DatasetInfo {
        crate::manifest::test_info()
    }

    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..200 {
            std::fs::write(
                dir.path().join(format!("{i:03}.wav")),
                vec![i as u8; 3_000 + i * 37],
            )
            .unwrap();
            std::fs::write(dir.path().join(format!("{i:03}.txt")), format!("take {i}")).unwrap();
        }
        dir
    }

    fn options() -> SealOptions {
        SealOptions {
            shard_size: 64 << 10,
            ..SealOptions::default()
        }
    }

    fn seal_into(src: &Path, out: &Path, options: &SealOptions) -> Sealed {
        seal_folder(src, out, options, &info(), &NoProgress, &CancelToken::new()).unwrap()
    }

    fn outputs(out: &Path) -> (Vec<u8>, Vec<u8>) {
        (
            std::fs::read(out.join(MANIFEST_FILE)).unwrap(),
            std::fs::read(out.join(seal::INDEX_FILE)).unwrap(),
        )
    }

    #[test]
    fn a_reseal_with_nothing_changed_reads_no_file_and_writes_the_same_bytes() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        let first = seal_into(src.path(), out.path(), &options());
        assert_eq!(
            (first.report.files_hashed, first.report.shards_reused),
            (400, 0)
        );
        let before = outputs(out.path());
        let again = seal_into(src.path(), out.path(), &options());
        assert_eq!(again.report.files_hashed, 0);
        assert_eq!(
            again.report.shards_reused as usize,
            again.report.shards.len()
        );
        assert!(
            outputs(out.path()) == before,
            "a reseal must give byte-identical manifest and index"
        );
    }

    #[test]
    fn a_reseal_after_one_edit_rereads_only_its_shard_and_equals_a_cold_seal() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        let first = seal_into(src.path(), out.path(), &options());
        std::fs::write(src.path().join("117.txt"), "take 117, second attempt").unwrap();
        let again = seal_into(src.path(), out.path(), &options());
        let changed: Vec<_> = again
            .report
            .shards
            .iter()
            .filter(|s| !first.report.shards.contains(s))
            .collect();
        assert!(
            !changed.is_empty() && changed.len() <= 2,
            "{} shards changed",
            changed.len()
        );
        let reread: u64 = changed.iter().map(|s| s.files).sum();
        assert_eq!(
            again.report.files_hashed, reread,
            "only the changed shards' files are read"
        );

        let cold = tempfile::tempdir().unwrap();
        seal_into(src.path(), cold.path(), &options());
        assert!(
            outputs(out.path()) == outputs(cold.path()),
            "the cache must not change the result"
        );
    }

    #[test]
    fn changes_since_the_seal_are_counted_by_kind_without_reading_files() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        seal_into(src.path(), out.path(), &options());
        assert_eq!(
            changes(out.path(), &CancelToken::new()).unwrap(),
            Changes::default()
        );
        std::fs::write(src.path().join("010.txt"), "take 10, again").unwrap();
        std::fs::remove_file(src.path().join("011.wav")).unwrap();
        std::fs::write(src.path().join("new.txt"), "new").unwrap();
        std::fs::write(src.path().join(".DS_Store"), "junk is not a change").unwrap();
        let found = changes(out.path(), &CancelToken::new()).unwrap();
        assert_eq!((found.added, found.modified, found.removed), (1, 1, 1));
        let paths: Vec<_> = found
            .paths
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(paths, ["010.txt", "011.wav", "new.txt"]);
    }

    #[test]
    fn other_rules_or_another_folder_do_not_reuse_the_cache() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        seal_into(src.path(), out.path(), &options());
        let smaller = SealOptions {
            shard_size: 32 << 10,
            ..options()
        };
        assert_eq!(
            seal_into(src.path(), out.path(), &smaller)
                .report
                .files_hashed,
            400
        );
        let other = folder();
        assert_eq!(
            seal_into(other.path(), out.path(), &smaller)
                .report
                .files_hashed,
            400
        );
    }
}
