//! Checking a sealed dataset against its files: the manifest and index it wrote, and every source file.
//!
//! Each difference is reported precisely (which file, which field, expected and found) rather than
//! stopping at the first, so a creator sees everything that changed in one run.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::dataset::{self, SealState};
use crate::digest::Sha256Digest;
use crate::manifest::MANIFEST_FILE;
use crate::progress::{CancelToken, Phase, Progress, ProgressEvent};
use crate::seal::{INDEX_FILE, IndexedFile, IndexedSample};
use crate::{Error, Result};

/// How many files are hashed in one parallel batch.
const BATCH: usize = 1024;

/// One difference between what was sealed and what is there now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// The file it is about (relative to the source folder, or the name of a dataset file).
    pub path: String,
    /// What differs: `sha256`, `size`, `presence`, `index`, `manifest`.
    pub field: &'static str,
    pub expected: String,
    pub found: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} expected {}, found {}",
            self.path, self.field, self.expected, self.found
        )
    }
}

/// What a verification found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VerifyReport {
    /// The did:key that signed `credential.json`, when it is there and its proof verifies.
    pub signer: Option<String>,
    /// Whether the dataset has a credential at all.
    pub signed: bool,
    pub files_checked: u64,
    pub bytes_checked: u64,
    pub differences: Vec<Difference>,
}

impl VerifyReport {
    /// True when nothing differs.
    pub fn is_valid(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Checks the manifest and index in `out` against the seal's record; with `source`, every file of
/// the index against the folder (content, size, files added or removed since); with `shards`, every
/// shard file against its sealed SHA-256. `now` (an RFC 3339 date-time, passed in) is when the
/// credential is judged.
pub fn verify(
    out: &Path,
    source: Option<&Path>,
    shards: Option<&Path>,
    now: &str,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<VerifyReport> {
    let state = dataset::load_state(out)?;
    let mut report = VerifyReport::default();
    check_dataset_files(out, &state, &mut report)?;
    if let Some(credential) = crate::credential::check(out, now)? {
        report.signed = true;
        report.signer = credential.signer;
        report.differences.extend(credential.differences);
    }
    if let Some(source) = source {
        check_source(out, source, &state, &mut report, progress, cancel)?;
    }
    if let Some(dir) = shards {
        check_shards(dir, &state, &mut report, cancel)?;
    }
    Ok(report)
}

fn check_shards(
    dir: &Path,
    state: &SealState,
    report: &mut VerifyReport,
    cancel: &CancelToken,
) -> Result<()> {
    let found: Vec<Option<Difference>> = state
        .shards
        .par_iter()
        .map(|shard| {
            if cancel.is_cancelled() {
                return None;
            }
            let path = dir.join(&shard.name);
            let difference = |field, expected: String, found: String| {
                Some(Difference {
                    path: shard.name.clone(),
                    field,
                    expected,
                    found,
                })
            };
            match std::fs::File::open(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => difference(
                    "presence",
                    "the shard file".into(),
                    format!("nothing at {}", path.display()),
                ),
                Err(e) => difference("presence", "a readable shard".into(), e.to_string()),
                Ok(file) => match hash_reader(file) {
                    Err(e) => {
                        difference("sha256", shard.sha256.clone(), format!("unreadable: {e}"))
                    }
                    Ok((_, size)) if size != shard.size => difference(
                        "size",
                        format!("{} bytes", shard.size),
                        format!("{size} bytes"),
                    ),
                    Ok((digest, _)) if digest != shard.sha256 => {
                        difference("sha256", shard.sha256.clone(), digest)
                    }
                    Ok(_) => None,
                },
            }
        })
        .collect();
    cancel.check()?;
    report.differences.extend(found.into_iter().flatten());
    Ok(())
}

/// The SHA-256 (hex) and length of everything `reader` yields.
fn hash_reader(reader: impl Read) -> std::io::Result<(String, u64)> {
    Sha256Digest::of_reader(reader).map(|(digest, size)| (digest.hex(), size))
}

fn check_dataset_files(out: &Path, state: &SealState, report: &mut VerifyReport) -> Result<()> {
    let manifest_path = out.join(MANIFEST_FILE);
    let manifest_bytes =
        std::fs::read(&manifest_path).map_err(|e| Error::from_io(&manifest_path, e))?;
    let manifest_digest = Sha256Digest::of(&manifest_bytes).hex();
    if manifest_digest != state.manifest_sha256 {
        report.differences.push(Difference {
            path: MANIFEST_FILE.into(),
            field: "sha256",
            expected: state.manifest_sha256.clone(),
            found: manifest_digest,
        });
    }
    let index_digest = Sha256Digest::of_file(&out.join(INDEX_FILE))?.hex();
    if index_digest != state.index_sha256 {
        report.differences.push(Difference {
            path: INDEX_FILE.into(),
            field: "sha256",
            expected: state.index_sha256.clone(),
            found: index_digest.clone(),
        });
    }
    // The index the manifest names must be the index on disk.
    let manifest: serde_json::Value =
        serde_json::from_slice(&manifest_bytes).map_err(|e| Error::Damaged {
            path: manifest_path.clone(),
            detail: e.to_string(),
        })?;
    let named = manifest["distribution"]
        .as_array()
        .and_then(|d| d.iter().find(|o| o["contentUrl"] == INDEX_FILE))
        .and_then(|o| o["sha256"].as_str())
        .unwrap_or_default()
        .to_owned();
    if named != index_digest {
        report.differences.push(Difference {
            path: INDEX_FILE.into(),
            field: "manifest",
            expected: format!("the sha256 croissant.json gives ({named})"),
            found: index_digest,
        });
    }
    Ok(())
}

fn check_source(
    out: &Path,
    source: &Path,
    state: &SealState,
    report: &mut VerifyReport,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<()> {
    let root = crate::scan::resolve_folder(source)?;
    let index_path = out.join(INDEX_FILE);
    let file = std::fs::File::open(&index_path).map_err(|e| Error::from_io(&index_path, e))?;
    let mut indexed = std::collections::HashSet::new();
    let mut batch: Vec<IndexedFile> = Vec::with_capacity(BATCH);
    let flush = |batch: &mut Vec<IndexedFile>, report: &mut VerifyReport| -> Result<()> {
        cancel.check()?;
        let found: Vec<Option<Difference>> =
            batch.par_iter().map(|f| check_file(&root, f)).collect();
        for (f, difference) in batch.iter().zip(found) {
            report.files_checked += 1;
            report.bytes_checked += f.size;
            report.differences.extend(difference);
        }
        progress.report(&ProgressEvent {
            phase: Phase::Hashing,
            items_done: report.files_checked,
            items_total: None,
            bytes_done: report.bytes_checked,
            bytes_total: None,
            message: None,
        });
        batch.clear();
        Ok(())
    };
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::from_io(&index_path, e))?;
        let sample: IndexedSample = serde_json::from_str(&line).map_err(|e| Error::Damaged {
            path: index_path.clone(),
            detail: format!("line {}: {e}", n + 1),
        })?;
        for f in sample.files {
            indexed.insert(source_path(&f));
            batch.push(f);
        }
        if batch.len() >= BATCH {
            flush(&mut batch, report)?;
        }
    }
    flush(&mut batch, report)?;

    // Files the folder has now that the seal does not.
    crate::scan::walk(&root, &state.options.rules, cancel, |found| {
        if let crate::scan::Found::File(f) = found
            && !indexed.contains(&f.rel)
        {
            report.differences.push(Difference {
                path: f.rel.to_string_lossy().into_owned(),
                field: "presence",
                expected: "not in the sealed dataset".into(),
                found: "a file added since the seal".into(),
            });
        }
    })?;
    Ok(())
}

/// The file's path relative to the source, from its exact bytes when the index has them.
fn source_path(f: &IndexedFile) -> PathBuf {
    #[cfg(unix)]
    if let Some(bytes) = f.path_hex.as_deref().and_then(|h| hex::decode(h).ok()) {
        use std::os::unix::ffi::OsStrExt;
        return PathBuf::from(std::ffi::OsStr::from_bytes(&bytes));
    }
    PathBuf::from(&f.path)
}

fn check_file(root: &Path, f: &IndexedFile) -> Option<Difference> {
    let path = root.join(source_path(f));
    let difference = |field, expected: String, found: String| {
        Some(Difference {
            path: f.path.clone(),
            field,
            expected,
            found,
        })
    };
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return difference(
                "presence",
                "the file".into(),
                "nothing: it was removed or renamed".into(),
            );
        }
        Err(e) => return difference("presence", "a readable file".into(), e.to_string()),
    };
    let (digest, size) = match hash_reader(file) {
        Ok(found) => found,
        Err(e) => return difference("sha256", f.sha256.clone(), format!("unreadable: {e}")),
    };
    if size != f.size {
        return difference("size", format!("{} bytes", f.size), format!("{size} bytes"));
    }
    if digest != f.sha256 {
        return difference("sha256", f.sha256.clone(), digest);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-23T10:00:00Z";
    use crate::manifest::DatasetInfo;
    use crate::progress::NoProgress;
    use crate::seal::SealOptions;

    fn sealed() -> (tempfile::TempDir, tempfile::TempDir) {
        let src = tempfile::tempdir().unwrap();
        for i in 0..20 {
            std::fs::write(
                src.path().join(format!("{i:02}.txt")),
                format!("take {i}").repeat(50),
            )
            .unwrap();
        }
        let out = tempfile::tempdir().unwrap();
        let info = DatasetInfo {
            license: "CC0-1.0".into(),
            ..crate::manifest::test_info()
        };
        dataset::seal_folder(
            src.path(),
            out.path(),
            &SealOptions::default(),
            &info,
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        (src, out)
    }

    #[test]
    fn an_untouched_dataset_is_valid() {
        let (src, out) = sealed();
        let report = verify(
            out.path(),
            Some(src.path()),
            None,
            NOW,
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        assert!(report.is_valid(), "{:?}", report.differences);
        assert_eq!(report.files_checked, 20);
    }

    #[test]
    fn every_change_is_named_with_expected_and_found() {
        let (src, out) = sealed();
        std::fs::write(
            src.path().join("03.txt"),
            "take 3".repeat(50).replace('3', "8"),
        )
        .unwrap();
        std::fs::write(src.path().join("04.txt"), "shorter").unwrap();
        std::fs::remove_file(src.path().join("05.txt")).unwrap();
        std::fs::write(src.path().join("new.txt"), "added").unwrap();
        let report = verify(
            out.path(),
            Some(src.path()),
            None,
            NOW,
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        let mut found: Vec<(String, &str)> = report
            .differences
            .iter()
            .map(|d| (d.path.clone(), d.field))
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                ("03.txt".into(), "sha256"),
                ("04.txt".into(), "size"),
                ("05.txt".into(), "presence"),
                ("new.txt".into(), "presence")
            ]
        );
        let size = report
            .differences
            .iter()
            .find(|d| d.field == "size")
            .unwrap();
        assert_eq!(
            size.to_string(),
            "04.txt: size expected 300 bytes, found 7 bytes"
        );
    }

    #[test]
    fn shards_are_checked_by_hash_and_a_missing_one_is_named() {
        let (src, out) = sealed();
        let shards = tempfile::tempdir().unwrap();
        let state = dataset::load_state(out.path()).unwrap();
        crate::seal::export(
            src.path(),
            &state.options,
            &state.shards,
            shards.path(),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        let ok = verify(
            out.path(),
            None,
            Some(shards.path()),
            NOW,
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        assert!(ok.is_valid(), "{:?}", ok.differences);
        let shard = shards.path().join(&state.shards[0].name);
        let mut bytes = std::fs::read(&shard).unwrap();
        bytes[600] ^= 0xff;
        std::fs::write(&shard, bytes).unwrap();
        let bad = verify(
            out.path(),
            None,
            Some(shards.path()),
            NOW,
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        assert_eq!(bad.differences.len(), 1);
        assert_eq!(
            (bad.differences[0].path.as_str(), bad.differences[0].field),
            (state.shards[0].name.as_str(), "sha256")
        );
        std::fs::remove_file(&shard).unwrap();
        let gone = verify(
            out.path(),
            None,
            Some(shards.path()),
            NOW,
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        assert_eq!(gone.differences[0].field, "presence");
    }

    #[test]
    fn a_changed_byte_in_the_manifest_or_index_is_caught() {
        let (_src, out) = sealed();
        let manifest = out.path().join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&manifest)
            .unwrap()
            .replacen("CC0-1.0", "CC0-1.1", 1);
        std::fs::write(&manifest, text).unwrap();
        let index = out.path().join(INDEX_FILE);
        let mut bytes = std::fs::read(&index).unwrap();
        bytes[10] ^= 1;
        std::fs::write(&index, bytes).unwrap();
        let report = verify(out.path(), None, None, NOW, &NoProgress, &CancelToken::new()).unwrap();
        let fields: Vec<_> = report
            .differences
            .iter()
            .map(|d| (d.path.as_str(), d.field))
            .collect();
        assert_eq!(
            fields,
            [
                ("croissant.json", "sha256"),
                ("index.jsonl", "sha256"),
                ("index.jsonl", "manifest")
            ]
        );
    }
}
