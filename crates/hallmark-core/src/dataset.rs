//! A sealed dataset's output folder: sealing a folder into it as one transaction, and exporting its
//! shards from the source.
//!
//! The output folder holds what a buyer gets besides the shards: `croissant.json` and `index.jsonl`
//! (and `credential.json` once signed). Hallmark's own record of the seal (source folder, rules,
//! dataset information) and the reseal cache sit in `.hallmark/` next to them.
//!
//! A seal is a transaction. Every argument is checked before a byte is read; the new generation is
//! written into a fresh staging folder inside `.hallmark/`; then a commit record is written (one
//! rename) and the staged files are moved into place. A crash before the record leaves the old
//! dataset (the staging folder is swept away next time); a crash after it is finished forward by
//! the next operation on the folder ([`recover`]). A credential that no longer matches the new seal
//! is moved aside in the same commit, so no stale signature is ever left in place.

use std::path::{Path, PathBuf};

use crate::cache::{CACHE_FILE, ResealCache};
use crate::credential::CREDENTIAL_FILE;
use crate::digest::Sha256Digest;
use crate::manifest::{self, DatasetInfo, MANIFEST_FILE};
use crate::progress::{CancelToken, Progress};
use crate::seal::{self, ExportedShard, INDEX_FILE, SealOptions, SealReport};
use crate::untrusted;
use crate::{Error, Result};

/// Hallmark's own folder inside an output folder.
pub const STATE_DIR: &str = ".hallmark";
const STATE_FILE: &str = "seal.json";
/// The commit record: present only while a committed seal is being moved into place.
const COMMIT_FILE: &str = "commit.json";
/// Where a credential that no longer matches the seal is moved, inside `.hallmark/`.
pub const STALE_CREDENTIAL_FILE: &str = "stale-credential.json";
/// The lock a seal holds on its output folder from start to commit, inside `.hallmark/`.
const LOCK_FILE: &str = "lock";
/// Staging folders inside `.hallmark/` start with this.
const STAGING_PREFIX: &str = "seal-";
/// The largest `seal.json` read.
const MAX_STATE_BYTES: u64 = 1 << 20;
/// The format of `seal.json` this version writes.
const STATE_VERSION: u32 = 2;

/// What Hallmark remembers of a seal. Not signed: it says where the source is and how it was
/// sealed; what the dataset holds is in the manifest (and the credential that signs it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealState {
    /// Format version of this file.
    pub version: u32,
    pub source: PathBuf,
    pub options: SealOptions,
    pub info: DatasetInfo,
    pub manifest_sha256: String,
    pub index_sha256: String,
}

/// How a reseal may differ from the seal already in the output folder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResealPolicy {
    /// Seal another source folder into an output folder that holds a seal of a different one.
    pub other_source: bool,
    /// Read and hash every file, ignoring the reseal cache.
    pub rehash: bool,
}

/// What became of the dataset's signature when it was sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SignatureAfterSeal {
    /// There was no credential.
    Unsigned,
    /// The seal gave the same manifest and index: the credential still signs them.
    StillValid,
    /// The credential signed an earlier seal; it was moved to `.hallmark/stale-credential.json`.
    MovedAside,
}

/// What sealing a folder produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sealed {
    pub report: SealReport,
    pub manifest_path: PathBuf,
    pub index_path: PathBuf,
    pub manifest_sha256: String,
    pub signature: SignatureAfterSeal,
}

/// Seals `root` into the output folder `out`: index, manifest and Hallmark's state, committed
/// together (see the module documentation).
///
/// Everything the creator gave is checked first (license, name, creator, version, shard size,
/// patterns, where `out` is), so a typo costs nothing and leaves nothing behind. If `out` did not
/// exist and the seal fails or is cancelled, it is removed again.
pub fn seal_folder(
    root: &Path,
    out: &Path,
    options: &SealOptions,
    info: &DatasetInfo,
    policy: ResealPolicy,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Sealed> {
    let info = manifest::validated(info)?;
    if options.shard_size == 0 {
        return Err(Error::InvalidShardSize);
    }
    let root = crate::scan::resolve_folder(root)?;
    crate::scan::check_rules(&root, &options.rules)?;
    let out = seal::output_folder(&root, out)?;
    // The creator's review decisions: excluded files are left out of this seal and every later one.
    let options = &SealOptions {
        rules: crate::review::decisions::rules_with_exclusions(&out, &options.rules)?,
        ..options.clone()
    };
    crate::scan::check_rules(&root, &options.rules)?;
    let existed = out.exists();
    let created = CreatedFolder::make(&out, existed)?;
    let state_existed = std::fs::symlink_metadata(out.join(STATE_DIR)).is_ok();
    let state_dir = untrusted::own_dir(&out.join(STATE_DIR))?;
    let created_state = CreatedFolder {
        path: (!state_existed).then_some(state_dir.as_path()),
    };
    // One seal at a time per output folder; while it runs, nobody sweeps its staging folder.
    let _lock = SealLock::take(&out)?;
    recover_locked(&out)?;
    let previous = match load_state(&out) {
        Ok(state) => Some(state),
        Err(Error::NotSealed { .. }) => None,
        Err(e) => return Err(e),
    };
    if let Some(state) = &previous
        && state.source != root
        && !policy.other_source
    {
        return Err(Error::OtherSource {
            out: out.clone(),
            sealed: state.source.clone(),
            given: root,
        });
    }
    // The last seal's hashes count only for the same folder and the same rules.
    let cache = match &previous {
        Some(state) if !policy.rehash && &state.options == options && state.source == root => {
            ResealCache::load(&state_dir)
        }
        _ => ResealCache::default(),
    };
    let staging = tempfile::Builder::new()
        .prefix(STAGING_PREFIX)
        .tempdir_in(&state_dir)
        .map_err(|e| Error::from_io(&state_dir, e))?;
    let report = seal::seal(&root, staging.path(), options, &cache, progress, cancel)?;
    cancel.check()?;
    let mut built = manifest::build(&report, &info)?;
    if let Some(statistics) =
        crate::review::decisions::statistics_for_seal(&out, &staging.path().join(INDEX_FILE))?
    {
        manifest::add_statistics(&mut built, &statistics);
    }
    let bytes = manifest::to_bytes(&built);
    write_new(&staging.path().join(MANIFEST_FILE), &bytes)?;
    let manifest_sha256 = Sha256Digest::of(&bytes).hex();
    let state = SealState {
        version: STATE_VERSION,
        source: root.clone(),
        options: options.clone(),
        info,
        manifest_sha256: manifest_sha256.clone(),
        index_sha256: report.index_sha256.clone(),
    };
    let state_bytes = serde_json::to_vec_pretty(&state).map_err(|e| Error::Damaged {
        path: state_dir.join(STATE_FILE),
        detail: e.to_string(),
    })?;
    write_new(&staging.path().join(STATE_FILE), &state_bytes)?;

    let signature = signature_after(&out, &manifest_sha256, &report.index_sha256)?;
    cancel.check()?;
    let staging_name = staging
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // From the commit record on, the staged generation is the dataset: if moving it into place
    // fails, the next operation on the folder finishes the move, so nothing may be cleaned up.
    let _kept = staging.keep();
    created.keep();
    created_state.keep();
    commit(
        &out,
        &Commit {
            staging: staging_name,
            credential_stale: signature == SignatureAfterSeal::MovedAside,
        },
    )?;
    Ok(Sealed {
        index_path: out.join(INDEX_FILE),
        manifest_path: out.join(MANIFEST_FILE),
        report,
        manifest_sha256,
        signature,
    })
}

/// Whether the credential in `out` (if any) still signs a manifest and index with these digests.
fn signature_after(out: &Path, manifest: &str, index: &str) -> Result<SignatureAfterSeal> {
    if std::fs::symlink_metadata(out.join(CREDENTIAL_FILE)).is_err() {
        return Ok(SignatureAfterSeal::Unsigned);
    }
    let same = |name: &str, digest: &str| -> bool {
        untrusted::open_regular(&out.join(name))
            .ok()
            .and_then(|(file, _)| Sha256Digest::of_reader(file).ok())
            .is_some_and(|(found, _)| found.hex() == digest)
    };
    Ok(
        if same(MANIFEST_FILE, manifest) && same(INDEX_FILE, index) {
            SignatureAfterSeal::StillValid
        } else {
            SignatureAfterSeal::MovedAside
        },
    )
}

/// An output folder this seal created, removed again unless the seal commits.
struct CreatedFolder<'a> {
    path: Option<&'a Path>,
}

impl<'a> CreatedFolder<'a> {
    /// Creates `path` and any missing folders above it; on failure the topmost one it created goes.
    fn make(path: &'a Path, existed: bool) -> Result<Self> {
        if existed {
            return Ok(Self { path: None });
        }
        let topmost = path
            .ancestors()
            .take_while(|p| std::fs::symlink_metadata(p).is_err())
            .last()
            .unwrap_or(path);
        std::fs::create_dir_all(path).map_err(|e| Error::from_io(path, e))?;
        Ok(Self {
            path: Some(topmost),
        })
    }

    fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for CreatedFolder<'_> {
    fn drop(&mut self) {
        if let Some(path) = self.path {
            // It holds only what this seal wrote.
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

/// The commit record: which staging folder holds the new generation, and whether the credential
/// goes aside. Every file name it acts on is a constant, never read from the record.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Commit {
    staging: String,
    credential_stale: bool,
}

/// The staged files and where each goes: (name, into `.hallmark/` rather than the output folder).
/// The state goes last: once it is in place, the seal is complete.
const STAGED: [(&str, bool); 4] = [
    (INDEX_FILE, false),
    (MANIFEST_FILE, false),
    (CACHE_FILE, true),
    (STATE_FILE, true),
];

#[cfg(test)]
thread_local! {
    /// Tests set this to stop a seal right after its commit record is written, as a crash would.
    static CRASH_AFTER_RECORD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn commit(out: &Path, commit: &Commit) -> Result<()> {
    let state_dir = out.join(STATE_DIR);
    let bytes = serde_json::to_vec(commit).map_err(|e| Error::Damaged {
        path: state_dir.join(COMMIT_FILE),
        detail: e.to_string(),
    })?;
    write_atomic(&state_dir, COMMIT_FILE, &bytes)?;
    #[cfg(test)]
    if CRASH_AFTER_RECORD.with(std::cell::Cell::get) {
        return Err(Error::Cancelled);
    }
    apply(out, commit)
}

/// Moves a committed generation into place; safe to run again after a crash at any point.
fn apply(out: &Path, commit: &Commit) -> Result<()> {
    let state_dir = out.join(STATE_DIR);
    let name = Path::new(&commit.staging);
    let valid = commit.staging.starts_with(STAGING_PREFIX)
        && name.components().count() == 1
        && untrusted::relative_path(name).is_ok();
    let record = state_dir.join(COMMIT_FILE);
    if !valid {
        return Err(Error::Damaged {
            path: record,
            detail: format!("it names {:?}, not a staging folder", commit.staging),
        });
    }
    let staging = state_dir.join(name);
    if !std::fs::symlink_metadata(&staging).is_ok_and(|m| m.is_dir()) {
        // Nothing was staged under that name: the record is left over, the dataset is whole.
        return std::fs::remove_file(&record).map_err(|e| Error::from_io(&record, e));
    }
    if commit.credential_stale {
        let credential = out.join(CREDENTIAL_FILE);
        if std::fs::symlink_metadata(&credential).is_ok() {
            let aside = state_dir.join(STALE_CREDENTIAL_FILE);
            std::fs::rename(&credential, &aside).map_err(|e| Error::from_io(&credential, e))?;
        }
    }
    for (file, hidden) in STAGED {
        let from = staging.join(file);
        if std::fs::symlink_metadata(&from).is_err() {
            continue; // moved already, or not written (an unchanged cache)
        }
        let to = if hidden { &state_dir } else { out }.join(file);
        std::fs::rename(&from, &to).map_err(|e| Error::from_io(&to, e))?;
    }
    sync_dir(out)?;
    sync_dir(&state_dir)?;
    std::fs::remove_file(&record).map_err(|e| Error::from_io(&record, e))?;
    // Only a real folder of ours is removed; remove_dir_all does not follow links.
    if std::fs::symlink_metadata(&staging).is_ok_and(|m| m.is_dir()) {
        let _ = std::fs::remove_dir_all(&staging);
    }
    Ok(())
}

/// The exclusive lock of an output folder, held by a seal (released when dropped or when the
/// process dies, so a crash never leaves it taken).
pub(crate) struct SealLock {
    _held: std::fs::File,
}

impl SealLock {
    fn open(out: &Path, create: bool) -> Result<std::fs::File> {
        let path = out.join(STATE_DIR).join(LOCK_FILE);
        let mut options = std::fs::OpenOptions::new();
        options.create(create).truncate(false).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(
            &mut options,
            rustix::fs::OFlags::NOFOLLOW.bits() as i32,
        );
        options
            .open(&path)
            .map_err(|e| untrusted::io_error(&path, e))
    }

    /// Takes the lock, or says that another seal of `out` is running.
    fn take(out: &Path) -> Result<Self> {
        let file = Self::open(out, true)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _held: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::SealRunning {
                out: out.to_path_buf(),
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::from_io(out, e)),
        }
    }

    /// Whether a seal holds the lock right now.
    fn held(out: &Path) -> bool {
        match Self::open(out, false) {
            Ok(file) => matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
            Err(_) => false,
        }
    }
}

/// Finishes a seal that was committed but not fully moved into place (a crash, a full disk), and
/// sweeps away staging folders of seals that never committed. Run before any use of `out`; does
/// nothing while a seal of `out` is running (that seal owns its staging folder and its commit).
pub fn recover(out: &Path) -> Result<()> {
    if !untrusted::existing_dir(&out.join(STATE_DIR))? || SealLock::held(out) {
        return Ok(());
    }
    recover_locked(out)
}

/// [`recover`], for the holder of the seal lock.
fn recover_locked(out: &Path) -> Result<()> {
    let state_dir = out.join(STATE_DIR);
    // Never through a link: recovery moves and removes files in this folder.
    if !untrusted::existing_dir(&state_dir)? {
        return Ok(());
    }
    let record = state_dir.join(COMMIT_FILE);
    if let Some(bytes) = untrusted::read_capped_if_present(&record, 4096)? {
        let commit: Commit = serde_json::from_slice(&bytes).map_err(|e| Error::Damaged {
            path: record.clone(),
            detail: e.to_string(),
        })?;
        apply(out, &commit)?;
    }
    // What a crash left: staging folders that never committed, and the temporary files of
    // `write_atomic` (the commit record's in `.hallmark/`, the credential's in the output folder).
    for (dir, temporary) in [
        (&state_dir, COMMIT_FILE),
        (&out.to_path_buf(), CREDENTIAL_FILE),
    ] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if dir == &state_dir && name.starts_with(STAGING_PREFIX) && kind.is_dir() {
                let _ = std::fs::remove_dir_all(entry.path());
            } else if is_temporary(name, temporary) && !kind.is_dir() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}

/// Whether `name` is a temporary file [`write_atomic`] made for `target` (`.<target>.<random>.tmp`).
fn is_temporary(name: &str, target: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|rest| rest.strip_prefix(target))
        .is_some_and(|rest| rest.starts_with('.') && rest.ends_with(".tmp"))
}

/// Holds the output folder's lock while a job changes it (a signature), so recovery elsewhere
/// leaves that job's temporary files alone and two jobs do not interleave.
pub(crate) fn lock_for_change(out: &Path) -> Result<SealLock> {
    SealLock::take(out)
}

/// Reads Hallmark's record of the seal in `out` (after finishing an interrupted commit).
pub fn load_state(out: &Path) -> Result<SealState> {
    recover(out)?;
    let path = out.join(STATE_DIR).join(STATE_FILE);
    let bytes = untrusted::read_capped_if_present(&path, MAX_STATE_BYTES)?.ok_or_else(|| {
        Error::NotSealed {
            out: out.to_path_buf(),
        }
    })?;
    let damaged = |detail: String| Error::Damaged {
        path: path.clone(),
        detail,
    };
    let state: SealState = serde_json::from_slice(&bytes).map_err(|e| damaged(e.to_string()))?;
    if state.version != STATE_VERSION {
        return Err(Error::OlderSeal {
            out: out.to_path_buf(),
        });
    }
    if !state.source.is_absolute() {
        return Err(damaged("its source folder is not an absolute path".into()));
    }
    if state.options.shard_size == 0 {
        return Err(damaged("its shard size is 0".into()));
    }
    Ok(state)
}

/// The files of a dataset that a credential names, read once: the manifest's digest and facts, and
/// the index's digest (or why it is not the index the manifest names).
#[derive(Debug, Clone)]
pub struct DatasetFiles {
    pub manifest: Sha256Digest,
    pub facts: manifest::ManifestFacts,
    /// The index's SHA-256; an error text when its size is not the one the manifest gives (a file
    /// of another size is not that index, and is not read).
    pub index: std::result::Result<Sha256Digest, String>,
}

impl DatasetFiles {
    /// Reads `croissant.json` (bounded, strict) and hashes `index.jsonl` (a regular file of exactly
    /// the size the manifest gives) in `out`.
    pub fn read(out: &Path) -> Result<Self> {
        let (bytes, facts) = manifest::read_file(out)?;
        let path = out.join(INDEX_FILE);
        let (file, meta) =
            untrusted::open_regular(&path).map_err(|e| untrusted::io_error(&path, e))?;
        let index = if meta.len() == facts.index_size {
            let (digest, _) = Sha256Digest::of_reader(std::io::Read::take(file, facts.index_size))
                .map_err(|e| Error::from_io(&path, e))?;
            Ok(digest)
        } else {
            Err(format!(
                "a file of {} bytes, not the {} bytes the manifest gives",
                meta.len(),
                facts.index_size
            ))
        };
        Ok(Self {
            manifest: Sha256Digest::of(&bytes),
            facts,
            index,
        })
    }
}

/// The last seal of `out`, for filling in a reseal, with the terms (license, consent), name and
/// version as the manifest states them: what buyers read and the credential signs, not what the
/// unsigned record says. `None` when `out` holds no seal.
pub fn previous_seal(out: &Path) -> Result<Option<SealState>> {
    let mut state = match load_state(out) {
        Ok(state) => state,
        Err(Error::NotSealed { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let (_, facts) = manifest::read_file(out)?;
    state.info.license = facts.license;
    state.info.consent = facts.consent;
    state.info.name = facts.name;
    state.info.version = facts.version;
    Ok(Some(state))
}

/// Writes the shards of the dataset sealed in `out` into `shards_dir`, regenerated from its source
/// and checked against the digests the manifest gives. If a shard's bytes differ from the seal, the
/// reseal cache is discarded too, so the next seal reads every file again.
pub fn export_shards(
    out: &Path,
    shards_dir: &Path,
    source: Option<&Path>,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Vec<ExportedShard>> {
    let state = load_state(out)?;
    let (_, facts) = manifest::read_file(out)?;
    let source = source.unwrap_or(&state.source);
    let exported = seal::export(
        source,
        &state.options,
        &facts.shards,
        shards_dir,
        progress,
        cancel,
    );
    if let Err(Error::SourceChanged { .. }) = &exported {
        let _ = std::fs::remove_file(out.join(STATE_DIR).join(CACHE_FILE));
    }
    exported
}

/// Whether the dataset in `out` is signed, and whether a signature was set aside by a reseal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SignatureState {
    /// `credential.json` is there (whether it checks out is for [`crate::verify`] to say).
    Signed,
    /// Not signed, and never was for any seal Hallmark knows of.
    Unsigned,
    /// The credential signed an earlier seal and was moved aside: sign again.
    SignedForEarlierSeal,
}

/// The signature state of the dataset in `out`, by what files are there (no proof is checked).
pub fn signature_state(out: &Path) -> SignatureState {
    if std::fs::symlink_metadata(out.join(CREDENTIAL_FILE)).is_ok() {
        SignatureState::Signed
    } else if std::fs::symlink_metadata(out.join(STATE_DIR).join(STALE_CREDENTIAL_FILE)).is_ok() {
        SignatureState::SignedForEarlierSeal
    } else {
        SignatureState::Unsigned
    }
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

/// Writes a new file (never through an existing one or a link) and flushes it to disk.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut file = seal::create_new(path)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::from_io(path, e))
}

/// Writes `value` as pretty JSON to `file` with [`write_atomic`], creating its folder if needed.
pub fn save_json(file: &Path, value: &impl serde::Serialize) -> Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::from_io(dir, e))?;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("record.json");
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::DamagedRecord {
        path: file.to_path_buf(),
        detail: e.to_string(),
    })?;
    write_atomic(dir, name, &bytes)
}

/// Writes `dir/name` through a temporary file created exclusively under a random name, flushed,
/// then renamed over `name` (a link at `name` is replaced, never written through).
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let path = dir.join(name);
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::from_io(dir, e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::from_io(&path, e))?;
    tmp.persist(&path)
        .map_err(|e| Error::from_io(&path, e.error))?;
    sync_dir(dir)
}

/// Flushes a folder's entries (renames, new files) to disk where the OS allows it.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::from_io(dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A sealed output folder as read back: what its last seal was told, its manifest (exact bytes and
/// facts), and a report of what it holds counted from its index, which must be the one the
/// manifest names (digest and size).
#[derive(Debug, Clone)]
pub struct Described {
    pub state: SealState,
    pub manifest: Vec<u8>,
    pub facts: manifest::ManifestFacts,
    pub report: SealReport,
}

/// Reads the seal in `out` back (for a dataset reopened after a restart): counts files, bytes and
/// samples per shard from `index.jsonl`, streamed once and checked against the manifest.
pub fn describe(out: &Path) -> Result<Described> {
    let state = load_state(out)?;
    let (manifest, facts) = manifest::read_file(out)?;
    let mut shards: Vec<seal::SealedShard> = facts
        .shards
        .iter()
        .map(|s| seal::SealedShard {
            name: s.name.clone(),
            cid: s.cid.clone(),
            sha256: s.sha256.clone(),
            size: s.size,
            files: 0,
            samples: 0,
        })
        .collect();
    let by_name: std::collections::HashMap<String, usize> = shards
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), i))
        .collect();
    let index = out.join(INDEX_FILE);
    let (mut files, mut bytes, mut samples, mut without_field) = (0u64, 0u64, 0u64, 0u64);
    let (sha256, size) = seal::read_index(&index, |sample| {
        let shard = by_name
            .get(&sample.shard)
            .or_else(|| by_name.get(&format!("{}.tar", sample.shard)))
            .copied()
            .ok_or_else(|| Error::Damaged {
                path: index.clone(),
                detail: format!(
                    "sample {:?} names shard {:?}, which the manifest does not list",
                    sample.key, sample.shard
                ),
            })?;
        samples += 1;
        shards[shard].samples += 1;
        for file in &sample.files {
            files += 1;
            bytes += file.size;
            shards[shard].files += 1;
            if file.field.is_empty() {
                without_field += 1;
            }
        }
        Ok(())
    })?;
    if (sha256.as_str(), size) != (facts.index_sha256.as_str(), facts.index_size) {
        return Err(Error::Damaged {
            path: index,
            detail: format!(
                "it is not the index the manifest names (sha256 {sha256}, {size} bytes; the manifest says {}, {} bytes); seal the folder again",
                facts.index_sha256, facts.index_size
            ),
        });
    }
    let report = SealReport {
        root: state.source.clone(),
        files,
        bytes,
        samples,
        shards,
        media: Vec::new(),
        files_without_field: without_field,
        skipped: Vec::new(),
        skipped_total: 0,
        files_hashed: 0,
        shards_reused: 0,
        index_sha256: sha256,
        index_size: size,
    };
    Ok(Described {
        state,
        manifest,
        facts,
        report,
    })
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
        seal_folder(
            src,
            out,
            options,
            &info(),
            ResealPolicy::default(),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap()
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
        let err = seal_with(other.path(), out.path(), ResealPolicy::default()).unwrap_err();
        assert!(matches!(err, Error::OtherSource { .. }), "{err}");
        assert!(err.to_string().contains("--replace-source"), "{err}");
        let replaced = seal_with(
            other.path(),
            out.path(),
            ResealPolicy {
                other_source: true,
                ..ResealPolicy::default()
            },
        )
        .unwrap();
        assert_eq!(replaced.report.files_hashed, 400);
    }

    fn seal_into_result(src: &Path, out: &Path) -> Result<Sealed> {
        seal_with(src, out, ResealPolicy::default())
    }

    fn seal_with(src: &Path, out: &Path, policy: ResealPolicy) -> Result<Sealed> {
        seal_folder(
            src,
            out,
            &options(),
            &info(),
            policy,
            &NoProgress,
            &CancelToken::new(),
        )
    }

    /// The names in a folder, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn bad_arguments_are_refused_before_any_file_is_read_and_leave_nothing() {
        let src = folder();
        let parent = tempfile::tempdir().unwrap();
        let out = parent.path().join("new-out");
        let rec = crate::progress::ProgressRecorder::default();
        let seal = |info: &DatasetInfo, options: &SealOptions| {
            seal_folder(
                src.path(),
                &out,
                options,
                info,
                ResealPolicy::default(),
                &rec,
                &CancelToken::new(),
            )
        };
        let cases: Vec<(DatasetInfo, SealOptions, &str)> = vec![
            (
                DatasetInfo {
                    creator_name: " ".into(),
                    ..info()
                },
                options(),
                "creator is missing",
            ),
            (
                DatasetInfo {
                    license: "CC-BY-4.1".into(),
                    ..info()
                },
                options(),
                "did you mean CC-BY-4.0",
            ),
            (
                DatasetInfo {
                    version: "1.0".into(),
                    ..info()
                },
                options(),
                "semantic version",
            ),
            (
                info(),
                SealOptions {
                    shard_size: 0,
                    ..options()
                },
                "more than 0 bytes",
            ),
            (
                info(),
                SealOptions {
                    rules: crate::scan::ScanRules {
                        include: vec!["a/[".into()],
                        ..Default::default()
                    },
                    ..options()
                },
                "invalid pattern",
            ),
        ];
        for (info, options, message) in cases {
            let err = seal(&info, &options).unwrap_err();
            assert!(err.to_string().contains(message), "{err}");
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
        }
        assert!(rec.events().is_empty(), "no file was read");
        assert!(!out.exists(), "no output folder was created");
        // Inside the source: refused, and nothing created there either.
        let inside = src.path().join("out");
        let err = seal_into_result(src.path(), &inside).unwrap_err();
        assert!(matches!(err, Error::OutputInsideSource { .. }), "{err}");
        assert!(!inside.exists());
    }

    #[test]
    fn license_ids_in_any_case_are_written_in_spdx_spelling() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        let lower = DatasetInfo {
            license: "cc-by-nc-4.0 or licenseref-Buyer-Terms".into(),
            ..info()
        };
        let err = seal_folder(
            src.path(),
            out.path(),
            &options(),
            &lower,
            ResealPolicy::default(),
            &NoProgress,
            &CancelToken::new(),
        );
        // LicenseRef- is case sensitive in SPDX; the ids and operators are normalised.
        assert!(err.is_err());
        let lower = DatasetInfo {
            license: "cc-by-nc-4.0 or LicenseRef-Buyer-Terms".into(),
            ..info()
        };
        seal_folder(
            src.path(),
            out.path(),
            &options(),
            &lower,
            ResealPolicy::default(),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        let (_, facts) = manifest::read_file(out.path()).unwrap();
        assert_eq!(facts.license, "CC-BY-NC-4.0 OR LicenseRef-Buyer-Terms");
    }

    #[test]
    fn a_cancelled_seal_leaves_the_old_dataset_and_no_temporary_file() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        seal_into(src.path(), out.path(), &options());
        let before = (
            outputs(out.path()),
            names(out.path()),
            names(&out.path().join(STATE_DIR)),
        );
        std::fs::write(src.path().join("000.txt"), "changed").unwrap();
        let cancel = CancelToken::new();
        cancel.cancel();
        let err = seal_folder(
            src.path(),
            out.path(),
            &options(),
            &info(),
            ResealPolicy::default(),
            &NoProgress,
            &cancel,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Cancelled));
        let after = (
            outputs(out.path()),
            names(out.path()),
            names(&out.path().join(STATE_DIR)),
        );
        assert!(before == after, "{:?} / {:?}", before.2, after.2);

        // A first seal into a new folder that is cancelled removes the folder again.
        let parent = tempfile::tempdir().unwrap();
        let fresh = parent.path().join("new/deeper/out");
        let err = seal_folder(
            src.path(),
            &fresh,
            &options(),
            &info(),
            ResealPolicy::default(),
            &NoProgress,
            &cancel,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Cancelled));
        assert!(
            !parent.path().join("new").exists(),
            "every folder the seal made is gone"
        );
    }

    #[test]
    fn a_crash_after_the_commit_record_is_finished_forward_and_before_it_rolled_back() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        seal_into(src.path(), out.path(), &options());
        let old = outputs(out.path());
        std::fs::write(src.path().join("117.txt"), "take 117, second attempt").unwrap();
        CRASH_AFTER_RECORD.with(|c| c.set(true));
        let crashed = seal_into_result(src.path(), out.path());
        CRASH_AFTER_RECORD.with(|c| c.set(false));
        assert!(crashed.is_err());
        assert!(outputs(out.path()) == old, "nothing moved before the crash");
        assert!(out.path().join(STATE_DIR).join(COMMIT_FILE).exists());
        let cold = tempfile::tempdir().unwrap();
        seal_into(src.path(), cold.path(), &options());
        let new = outputs(cold.path());
        // The next operation on the folder finishes the commit: the new seal, whole.
        let report = crate::verify::verify(
            out.path(),
            Some(src.path()),
            None,
            "2026-11-23T10:00:00Z",
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        assert!(report.is_valid(), "{:?}", report.differences);
        assert!(
            outputs(out.path()) == new,
            "finished forward to the new seal"
        );
        assert_eq!(
            names(&out.path().join(STATE_DIR)),
            ["cache.jsonl", "lock", "seal.json"]
        );

        // A crash half-way through the moves (the index already moved): finished forward too.
        std::fs::write(src.path().join("118.txt"), "take 118, second attempt").unwrap();
        CRASH_AFTER_RECORD.with(|c| c.set(true));
        assert!(seal_into_result(src.path(), out.path()).is_err());
        CRASH_AFTER_RECORD.with(|c| c.set(false));
        let staged = std::fs::read_dir(out.path().join(STATE_DIR))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(STAGING_PREFIX)
            })
            .unwrap();
        std::fs::rename(staged.join(INDEX_FILE), out.path().join(INDEX_FILE)).unwrap();
        let cold = tempfile::tempdir().unwrap();
        seal_into(src.path(), cold.path(), &options());
        let new = outputs(cold.path());
        load_state(out.path()).unwrap();
        assert!(
            outputs(out.path()) == new,
            "finished forward to the new seal"
        );
        assert_eq!(
            names(&out.path().join(STATE_DIR)),
            ["cache.jsonl", "lock", "seal.json"]
        );

        // A staging folder without a record (a crash before the commit) is swept away.
        std::fs::create_dir(out.path().join(STATE_DIR).join("seal-half")).unwrap();
        std::fs::write(
            out.path().join(STATE_DIR).join("seal-half/index.jsonl"),
            "x",
        )
        .unwrap();
        load_state(out.path()).unwrap();
        assert!(outputs(out.path()) == new);
        assert_eq!(
            names(&out.path().join(STATE_DIR)),
            ["cache.jsonl", "lock", "seal.json"]
        );

        // A record naming anything but a staging folder is refused, and nothing is moved.
        write_atomic(
            &out.path().join(STATE_DIR),
            COMMIT_FILE,
            br#"{"staging":"../../etc","credentialStale":true}"#,
        )
        .unwrap();
        let err = load_state(out.path()).unwrap_err();
        assert!(matches!(err, Error::Damaged { .. }), "{err}");
    }

    #[test]
    fn a_reseal_that_changes_the_dataset_sets_its_signature_aside() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        seal_into(src.path(), out.path(), &options());
        let key = crate::did::SigningIdentity::generate();
        crate::credential::sign_dataset(out.path(), &key, "2026-11-23T10:00:00Z").unwrap();
        assert_eq!(signature_state(out.path()), SignatureState::Signed);
        // Nothing changed: the credential still signs the same bytes and stays.
        let same = seal_into(src.path(), out.path(), &options());
        assert_eq!(same.signature, SignatureAfterSeal::StillValid);
        assert_eq!(signature_state(out.path()), SignatureState::Signed);

        std::fs::write(src.path().join("010.txt"), "take 10, again").unwrap();
        let changed = seal_into(src.path(), out.path(), &options());
        assert_eq!(changed.signature, SignatureAfterSeal::MovedAside);
        assert!(!out.path().join(CREDENTIAL_FILE).exists());
        assert_eq!(
            signature_state(out.path()),
            SignatureState::SignedForEarlierSeal
        );
        crate::credential::sign_dataset(out.path(), &key, "2026-11-23T10:00:00Z").unwrap();
        assert_eq!(signature_state(out.path()), SignatureState::Signed);
        assert!(
            !out.path()
                .join(STATE_DIR)
                .join(STALE_CREDENTIAL_FILE)
                .exists()
        );
    }

    #[cfg(unix)]
    #[test]
    fn links_planted_in_the_output_folder_are_replaced_never_written_through() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        let victim = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(victim.path(), b"precious").unwrap();
        for name in [
            INDEX_FILE,
            MANIFEST_FILE,
            "index.jsonl.tmp",
            "croissant.tmp",
        ] {
            std::os::unix::fs::symlink(victim.path(), out.path().join(name)).unwrap();
        }
        seal_into(src.path(), out.path(), &options());
        let key = crate::did::SigningIdentity::generate();
        std::os::unix::fs::symlink(victim.path(), out.path().join(CREDENTIAL_FILE)).unwrap();
        std::os::unix::fs::symlink(victim.path(), out.path().join("credential.json.tmp")).unwrap();
        crate::credential::sign_dataset(out.path(), &key, "2026-11-23T10:00:00Z").unwrap();
        assert_eq!(std::fs::read(victim.path()).unwrap(), b"precious");
        for name in [INDEX_FILE, MANIFEST_FILE, CREDENTIAL_FILE] {
            let meta = std::fs::symlink_metadata(out.path().join(name)).unwrap();
            assert!(meta.is_file(), "{name} is a regular file");
        }
        // Hallmark's own folder as a link: refused, not followed.
        let other = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), other.path().join(STATE_DIR)).unwrap();
        let err = seal_into_result(src.path(), other.path()).unwrap_err();
        assert!(matches!(err, Error::Damaged { .. }), "{err}");
        assert!(names(elsewhere.path()).is_empty());
    }

    #[test]
    fn a_cache_you_cannot_trust_is_not_used() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        let first = seal_into(src.path(), out.path(), &options());
        let cache_path = out.path().join(STATE_DIR).join(CACHE_FILE);
        let cache = std::fs::read_to_string(&cache_path).unwrap();
        // A line of the wrong shape voids the whole cache.
        std::fs::write(
            &cache_path,
            format!(
                "{cache}{{\"p\":\"2e2e2f6574632f706173737764\",\"s\":1,\"h\":\"{}\"}}\n",
                "0".repeat(64)
            ),
        )
        .unwrap();
        assert_eq!(
            seal_into(src.path(), out.path(), &options())
                .report
                .files_hashed,
            400
        );

        // A well-formed lie is used by a plain reseal, ignored by --rehash, and caught by export.
        let lie = std::fs::read_to_string(&cache_path).unwrap();
        let digest = &first.report.shards[0].sha256;
        let forged = lie.replacen(digest.as_str(), &"ab".repeat(32), 1);
        assert_ne!(forged, lie);
        std::fs::write(&cache_path, &forged).unwrap();
        let lied = seal_into(src.path(), out.path(), &options());
        assert_eq!(lied.report.files_hashed, 0);
        // verify --source builds the shards again from the folder: the lie does not pass.
        let report = crate::verify::verify(
            out.path(),
            Some(src.path()),
            None,
            "2026-11-23T10:00:00Z",
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        assert!(
            report
                .differences
                .iter()
                .any(|d| d.field == "sha256" && d.found.contains("built from the folder")),
            "{:?}",
            report.differences
        );
        let shards = tempfile::tempdir().unwrap();
        let err = export_shards(
            out.path(),
            shards.path(),
            None,
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::SourceChanged { .. }), "{err}");
        assert!(!cache_path.exists(), "export discarded the cache that lied");
        let rehashed = seal_with(
            src.path(),
            out.path(),
            ResealPolicy {
                rehash: true,
                ..ResealPolicy::default()
            },
        )
        .unwrap();
        assert_eq!(rehashed.report.files_hashed, 400);
        assert_eq!(rehashed.report.shards, first.report.shards);

        // An edit that restores size and modification time is still seen (status change time).
        let path = src.path().join("050.wav");
        let meta = std::fs::metadata(&path).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[0] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(meta.modified().unwrap())
            .unwrap();
        let again = seal_into(src.path(), out.path(), &options());
        assert!(
            again.report.files_hashed > 0,
            "the edited file was read again"
        );
        assert_ne!(again.report.shards, first.report.shards);
    }

    /// A small deterministic generator for mutations (xorshift64*).
    struct Mutator(u64);

    impl Mutator {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }

        /// Truncated, bytes flipped, a run of random bytes, or wholly random: one of each in turn.
        fn mutate(&mut self, round: usize, original: &[u8]) -> Vec<u8> {
            let mut bytes = original.to_vec();
            match round % 4 {
                0 => bytes.truncate(self.below(bytes.len())),
                1 => {
                    for _ in 0..1 + self.below(8) {
                        let at = self.below(bytes.len());
                        if let Some(b) = bytes.get_mut(at) {
                            *b ^= 1 << self.below(8);
                        }
                    }
                }
                2 => {
                    let at = self.below(bytes.len());
                    let run: Vec<u8> = (0..self.below(64)).map(|_| self.next() as u8).collect();
                    bytes.splice(at..at, run);
                }
                _ => bytes = (0..self.below(512)).map(|_| self.next() as u8).collect(),
            }
            bytes
        }
    }

    /// The crate-level invariant: no input file makes Hallmark panic. Every file it reads back from
    /// an output folder is fed truncated, flipped and random bytes, and every operation that reads
    /// it runs; each may succeed or fail, none may panic or hang.
    #[test]
    fn no_panic_on_any_input_file() {
        let src = tempfile::tempdir().unwrap();
        for i in 0..6 {
            std::fs::write(src.path().join(format!("{i}.txt")), format!("take {i}")).unwrap();
        }
        let out = tempfile::tempdir().unwrap();
        let small = SealOptions {
            shard_size: 64,
            ..SealOptions::default()
        };
        seal_folder(
            src.path(),
            out.path(),
            &small,
            &info(),
            ResealPolicy::default(),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        crate::credential::sign_dataset(
            out.path(),
            &crate::did::SigningIdentity::generate(),
            "2026-11-23T10:00:00Z",
        )
        .unwrap();
        let state_dir = out.path().join(STATE_DIR);
        let files = [
            out.path().join(INDEX_FILE),
            out.path().join(MANIFEST_FILE),
            out.path().join(CREDENTIAL_FILE),
            state_dir.join(STATE_FILE),
            state_dir.join(CACHE_FILE),
            state_dir.join(COMMIT_FILE),
        ];
        let originals: Vec<Vec<u8>> = files
            .iter()
            .map(|f| {
                std::fs::read(f)
                    .unwrap_or_else(|_| br#"{"staging":"seal-x","credentialStale":true}"#.to_vec())
            })
            .collect();
        let mut mutator = Mutator(0x9e37_79b9_7f4a_7c15);
        let shards = tempfile::tempdir().unwrap();
        for round in 0..24 {
            for (file, original) in files.iter().zip(&originals) {
                std::fs::write(file, mutator.mutate(round, original)).unwrap();
                let now = "2026-11-23T10:00:00Z";
                let _ = load_state(out.path());
                let _ = changes(out.path(), &CancelToken::new());
                let _ = manifest::read_file(out.path());
                let _ = crate::credential::check(out.path(), now);
                let _ = crate::verify::verify(
                    out.path(),
                    Some(src.path()),
                    Some(shards.path()),
                    now,
                    &NoProgress,
                    &CancelToken::new(),
                );
                let _ = export_shards(
                    out.path(),
                    shards.path(),
                    None,
                    &NoProgress,
                    &CancelToken::new(),
                );
                let _ = ResealCache::load(&state_dir);
                // Put it back (the commit record goes away again) so the next file is mutated alone.
                if file.ends_with(COMMIT_FILE) {
                    let _ = std::fs::remove_file(file);
                } else {
                    std::fs::write(file, original).unwrap();
                }
            }
        }
        // And the folder still seals cleanly afterwards.
        seal_folder(
            src.path(),
            out.path(),
            &small,
            &info(),
            ResealPolicy::default(),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
    }

    #[test]
    fn a_running_seal_keeps_its_staging_folder_and_a_second_seal_waits_its_turn() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        seal_into(src.path(), out.path(), &options());
        let lock = SealLock::take(out.path()).unwrap();
        // What a running seal has staged so far survives a verify or a watcher's look.
        let staged = out.path().join(STATE_DIR).join("seal-running");
        std::fs::create_dir(&staged).unwrap();
        load_state(out.path()).unwrap();
        changes(out.path(), &CancelToken::new()).unwrap();
        assert!(staged.exists());
        let err = seal_with(src.path(), out.path(), ResealPolicy::default()).unwrap_err();
        assert!(matches!(err, Error::SealRunning { .. }), "{err}");
        drop(lock);
        load_state(out.path()).unwrap();
        assert!(!staged.exists(), "swept once no seal runs");
        seal_with(src.path(), out.path(), ResealPolicy::default()).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_linked_state_folder_is_refused_and_nothing_outside_it_is_moved_or_removed() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        seal_into(src.path(), out.path(), &options());
        let victim = tempfile::tempdir().unwrap();
        std::fs::create_dir(victim.path().join("seal-important")).unwrap();
        std::fs::write(victim.path().join("seal-important/data.txt"), "precious").unwrap();
        for name in [STATE_FILE, CACHE_FILE] {
            std::fs::copy(
                out.path().join(STATE_DIR).join(name),
                victim.path().join(name),
            )
            .unwrap();
        }
        std::fs::write(
            victim.path().join(COMMIT_FILE),
            br#"{"staging":"seal-important","credentialStale":true}"#,
        )
        .unwrap();
        std::fs::remove_dir_all(out.path().join(STATE_DIR)).unwrap();
        std::os::unix::fs::symlink(victim.path(), out.path().join(STATE_DIR)).unwrap();
        let before = names(victim.path());
        for err in [
            load_state(out.path()).unwrap_err(),
            crate::verify::verify(
                out.path(),
                None,
                None,
                "2026-11-23T10:00:00Z",
                &NoProgress,
                &CancelToken::new(),
            )
            .unwrap_err(),
            seal_into_result(src.path(), out.path()).unwrap_err(),
        ] {
            assert!(matches!(err, Error::Damaged { .. }), "{err}");
            assert!(err.to_string().contains("not a folder"), "{err}");
        }
        assert_eq!(names(victim.path()), before);
        assert!(victim.path().join("seal-important/data.txt").exists());
    }

    #[test]
    fn temporary_files_a_crash_left_are_swept_by_the_next_operation() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        seal_into(src.path(), out.path(), &options());
        let left = [
            out.path().join(STATE_DIR).join(".commit.json.x1Yz.tmp"),
            out.path().join(".credential.json.Ab3d.tmp"),
        ];
        let kept = out.path().join(".credential.json.notes");
        for path in left.iter().chain([&kept]) {
            std::fs::write(path, "half").unwrap();
        }
        load_state(out.path()).unwrap();
        assert!(left.iter().all(|p| !p.exists()));
        assert!(
            kept.exists(),
            "only Hallmark's own temporary names are swept"
        );
    }

    #[cfg(unix)]
    #[test]
    fn sign_never_hashes_an_index_through_a_link_a_fifo_or_past_its_size() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        seal_into(src.path(), out.path(), &options());
        let key = crate::did::SigningIdentity::generate();
        let index = out.path().join(INDEX_FILE);
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::fs::copy(&index, outside.path()).unwrap();
        std::fs::remove_file(&index).unwrap();
        std::os::unix::fs::symlink(outside.path(), &index).unwrap();
        let err =
            crate::credential::sign_dataset(out.path(), &key, "2026-11-23T10:00:00Z").unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        std::fs::remove_file(&index).unwrap();
        crate::untrusted::make_fifo(&index);
        let err =
            crate::credential::sign_dataset(out.path(), &key, "2026-11-23T10:00:00Z").unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        // A sparse terabyte: refused by its size, not read.
        std::fs::remove_file(&index).unwrap();
        std::fs::File::create(&index)
            .unwrap()
            .set_len(1 << 40)
            .unwrap();
        let err =
            crate::credential::sign_dataset(out.path(), &key, "2026-11-23T10:00:00Z").unwrap_err();
        assert!(
            err.to_string().contains("bytes the manifest gives"),
            "{err}"
        );
        let report = crate::verify::verify(
            out.path(),
            Some(src.path()),
            None,
            "2026-11-23T10:00:00Z",
            &NoProgress,
            &CancelToken::new(),
        );
        let report = report.unwrap();
        assert!(
            report
                .differences
                .iter()
                .any(|d| d.path == INDEX_FILE && d.field == "manifest"),
            "{:?}",
            report.differences
        );
    }

    #[test]
    fn describe_counts_what_the_seal_reported_and_refuses_another_index() {
        let src = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for i in 0..7 {
            std::fs::write(src.path().join(format!("t{i}.wav")), vec![i as u8; 3000])
                .unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(src.path().join(format!("t{i}.txt")), format!("take {i}"))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(src.path().join("README"), "no extension").unwrap_or_else(|e| panic!("{e}"));
        let options = SealOptions {
            shard_size: 8192,
            ..SealOptions::default()
        };
        let sealed = seal_into(src.path(), out.path(), &options);
        let described = describe(out.path()).unwrap_or_else(|e| panic!("{e}"));
        let r = &described.report;
        assert_eq!(
            (r.files, r.bytes, r.samples, r.files_without_field),
            (
                sealed.report.files,
                sealed.report.bytes,
                sealed.report.samples,
                sealed.report.files_without_field
            )
        );
        assert_eq!(r.shards, sealed.report.shards);
        assert_eq!(described.state.source, sealed.report.root);

        // An index that is not the manifest's is refused, not counted.
        let index = out.path().join(INDEX_FILE);
        let mut text = std::fs::read_to_string(&index).unwrap_or_else(|e| panic!("{e}"));
        text = text.replacen("t0", "t9", 1);
        std::fs::write(&index, text).unwrap_or_else(|e| panic!("{e}"));
        let err = describe(out.path()).expect_err("a changed index");
        assert_eq!(err.kind(), crate::ErrorKind::Damaged, "{err}");
        assert!(
            err.to_string().contains("not the index the manifest names"),
            "{err}"
        );
    }
}
