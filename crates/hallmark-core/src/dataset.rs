//! A sealed dataset's output folder: sealing a folder into it, and exporting its shards from the source.
//!
//! The output folder holds what a buyer gets besides the shards: `croissant.json` and `index.jsonl`.
//! Hallmark's own record of the seal (source folder, rules, shard list) sits in `.hallmark/seal.json`
//! next to them, so export and verify can regenerate the shards from the source.

use std::path::{Path, PathBuf};

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
    let report = seal::seal(root, out, options, progress, cancel)?;
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
    let state_dir = out.join(STATE_DIR);
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

/// Writes `bytes` to `path` through a temporary file and a rename, so readers never see half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::from_io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::from_io(path, e))
}
