//! Sealing: a folder of work becomes content-addressed WebDataset shards, a per-sample index and a manifest.
//!
//! Nothing is copied: each shard's tar stream is generated on the fly from the source files and
//! hashed as it goes, reading every byte once (the file's SHA-256 and the shard's are updated from
//! the same buffer). The same stream is what export writes and upload sends. Shards are processed
//! in parallel, a few at a time, and the index is streamed to disk in order, so memory does not
//! grow with the size of the work.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::cache::{self, CacheWriter, ResealCache};
use crate::digest::{HashingWriter, Sha256Digest};
use crate::progress::{CancelToken, Phase, Progress, ProgressEvent};
use crate::scan::{self, Found, FoundFile, ScanRules, SkippedEntry};
use crate::shard::{self, ShardPlan};
use crate::{Error, Result, tarstream};

/// Default target shard size: 64 MiB.
pub const DEFAULT_SHARD_SIZE: u64 = 64 << 20;
/// The index file's name in the output folder.
pub const INDEX_FILE: &str = "index.jsonl";
/// How many skipped entries a report keeps by path.
const SKIPPED_KEPT: usize = 200;
/// Read buffer per worker.
const BUFFER: usize = 1 << 20;

/// How to seal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealOptions {
    pub rules: ScanRules,
    /// Target shard size in bytes.
    pub shard_size: u64,
}

impl Default for SealOptions {
    fn default() -> Self {
        Self {
            rules: ScanRules::default(),
            shard_size: DEFAULT_SHARD_SIZE,
        }
    }
}

/// One sealed shard.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SealedShard {
    /// File name, `<cid>.tar`: the manifest's `contentUrl` and the name export writes.
    pub name: String,
    pub cid: String,
    pub sha256: String,
    pub size: u64,
    pub files: u64,
    pub samples: u64,
}

/// One file as the index records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexedFile {
    /// Path relative to the folder, `/`-separated (lossy where it is not UTF-8; see `pathHex`).
    pub path: String,
    /// The exact path bytes in hex, only when the path is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    /// The WebDataset field: what follows the key (`jpg`, `seg.json`); empty when none.
    pub field: String,
    pub size: u64,
    pub sha256: String,
    pub media_type: String,
    /// Where the file's data starts inside its shard, for HTTP range requests.
    pub offset: u64,
}

/// One line of the index: a sample, its shard, and its files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IndexedSample {
    pub key: String,
    pub shard: String,
    pub files: Vec<IndexedFile>,
}

/// The longest `index.jsonl` line read back (one sample with its files).
pub const MAX_INDEX_LINE: u64 = 16 << 20;

/// Streams the samples of the `index.jsonl` at `path` to `visit`, in order, each line bounded by
/// [`MAX_INDEX_LINE`] and parsed strictly; returns the SHA-256 and size of the bytes read, for the
/// caller to compare with the manifest's before trusting what it saw.
pub fn read_index(
    path: &Path,
    mut visit: impl FnMut(IndexedSample) -> Result<()>,
) -> Result<(String, u64)> {
    use std::io::BufRead;
    let (file, _) = crate::untrusted::open_regular(path).map_err(|e| Error::from_io(path, e))?;
    let mut reader = io::BufReader::new(file);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_INDEX_LINE + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::from_io(path, e))?;
        if n == 0 {
            break;
        }
        let damaged = |detail: String| Error::Damaged {
            path: path.to_path_buf(),
            detail,
        };
        if n as u64 > MAX_INDEX_LINE {
            return Err(damaged(format!(
                "a line after byte {size} is longer than {MAX_INDEX_LINE} bytes"
            )));
        }
        hasher.update(&line);
        size += n as u64;
        let sample: IndexedSample = serde_json::from_slice(&line)
            .map_err(|e| damaged(format!("the line after byte {}: {e}", size - n as u64)))?;
        visit(sample)?;
    }
    Ok((Sha256Digest(hasher.finalize().into()).hex(), size))
}

/// What a seal produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SealReport {
    pub root: PathBuf,
    pub files: u64,
    pub bytes: u64,
    pub samples: u64,
    pub shards: Vec<SealedShard>,
    /// Media types found, with how many files of each and their file-name extension
    /// (files without an extension are not listed).
    pub media: Vec<MediaCount>,
    /// Files WebDataset readers skip because their name has no extension (`README`, `.notes`).
    pub files_without_field: u64,
    pub skipped: Vec<SkippedEntry>,
    pub skipped_total: u64,
    /// Files whose content was read and hashed (the rest were unchanged since the last seal).
    pub files_hashed: u64,
    /// Shards whose digest was taken from the last seal because none of their files changed.
    pub shards_reused: u64,
    /// SHA-256 of the exact bytes of `index.jsonl`.
    pub index_sha256: String,
    pub index_size: u64,
}

/// How many files of one media type a dataset holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaCount {
    /// The last extension as written (`jpg`, `JPG`), used as the FileSet's include pattern.
    pub extension: String,
    pub media_type: String,
    pub files: u64,
}

/// A file in sealing order.
#[derive(Debug)]
struct Member {
    file: FoundFile,
    /// Length of the sample key at the start of the path, computed once for sorting.
    key_len: usize,
}

impl Member {
    fn new(file: FoundFile) -> Self {
        let key_len = shard::sample_key(path_slice(&file.rel)).len();
        Self { file, key_len }
    }

    fn entry(&self) -> (&[u8], u64) {
        (path_slice(&self.file.rel), self.file.size)
    }

    /// The sealing order: by sample key, then by path.
    fn order(&self) -> (&[u8], &[u8]) {
        let path = path_slice(&self.file.rel);
        (&path[..self.key_len], path)
    }
}

/// Media types by file-name extension, looked up once per extension.
#[derive(Debug, Default)]
struct MediaTypes(std::collections::HashMap<std::ffi::OsString, (String, String)>);

impl MediaTypes {
    /// The last extension (as written) and the media type of a file.
    fn of(&mut self, rel: &Path) -> &(String, String) {
        let ext = rel.extension().unwrap_or_default();
        self.0
            .entry(ext.to_os_string())
            .or_insert_with(|| media_of(rel))
    }
}

#[cfg(unix)]
fn path_slice(rel: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    rel.as_os_str().as_bytes()
}

#[cfg(not(unix))]
fn path_slice(rel: &Path) -> &[u8] {
    rel.to_str().unwrap_or_default().as_bytes()
}

/// A folder's files in sealing order, their shard plan, and what the walk passed over.
#[derive(Debug)]
struct Layout {
    members: Vec<Member>,
    plans: Vec<ShardPlan>,
    skipped: Vec<SkippedEntry>,
    skipped_total: u64,
}

/// Scans `root` and lays its files out into shards.
fn layout(root: &Path, options: &SealOptions, cancel: &CancelToken) -> Result<Layout> {
    let mut members = Vec::new();
    let mut skipped = Vec::new();
    let mut skipped_total = 0;
    scan::walk(root, &options.rules, cancel, |found| match found {
        Found::File(file) => members.push(Member::new(file)),
        Found::Folder => {}
        Found::Skipped(entry) => {
            skipped_total += 1;
            if skipped.len() < SKIPPED_KEPT {
                skipped.push(entry);
            }
        }
    })?;
    members.sort_unstable_by(|a, b| a.order().cmp(&b.order()));
    let plans = shard::plan(&members, Member::entry, options.shard_size);
    Ok(Layout {
        members,
        plans,
        skipped,
        skipped_total,
    })
}

/// Seals the folder `root` into `staging`, a fresh folder: writes `index.jsonl` and, when anything
/// changed, the new reseal cache there (both created exclusively), and returns what it sealed. The
/// manifest is written by [`crate::manifest`] from the report; [`crate::dataset`] commits them.
///
/// Files unchanged since the seal `previous` describes are not read again, and shards whose files
/// are all unchanged are not streamed again.
pub fn seal(
    root: &Path,
    staging: &Path,
    options: &SealOptions,
    previous: &ResealCache,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<SealReport> {
    let root = scan::resolve_folder(root)?;
    if options.shard_size == 0 {
        return Err(Error::InvalidShardSize);
    }
    progress.report(&event(Phase::Scanning, 0, None, 0, None));
    let Layout {
        members,
        plans,
        skipped,
        skipped_total,
    } = layout(&root, options, cancel)?;
    let total_files = members.len() as u64;
    let total_bytes: u64 = members.iter().map(|m| m.file.size).sum();

    let tally = Tally::new(progress, Phase::Hashing, total_files, total_bytes);
    let report_progress = |files: u64, bytes: u64| tally.add(files, bytes);
    report_progress(0, 0);

    let index_path = staging.join(INDEX_FILE);
    let index_file = create_new(&index_path)?;
    let mut index = HashingWriter::new(BufWriter::new(index_file));
    let mut shards = Vec::with_capacity(plans.len());
    let mut media = std::collections::BTreeMap::<String, MediaCount>::new();
    let mut samples = 0;
    let mut files_without_field = 0;
    let mut files_hashed = 0;
    let mut shards_reused = 0;

    // Every shard at once, so no core waits for the slowest shard of a batch; what is kept per file
    // until the index is written is its digest and offset (40 bytes).
    let mut media_types = MediaTypes::default();
    {
        cancel.check()?;
        let streamed: Vec<Result<StreamedShard>> = plans
            .par_iter()
            .map(|plan| {
                let files = &members[plan.files.clone()];
                if let Some(reused) = reuse(files, plan, previous) {
                    report_progress(files.len() as u64, files.iter().map(|m| m.file.size).sum());
                    return Ok(reused);
                }
                stream_shard(&root, files, io::sink(), cancel, &report_progress)
                    .map(|(shard, _)| shard)
            })
            .collect();
        let streamed = streamed.into_iter().collect::<Result<Vec<_>>>()?;
        // A reseal that reused every shard of exactly the cached files would write the same cache.
        let unchanged =
            streamed.iter().all(|s| s.reused) && previous.holds_exactly(members.len(), plans.len());
        let mut new_cache = if unchanged {
            None
        } else {
            Some(CacheWriter::create(staging)?)
        };
        for (plan, streamed) in plans.iter().zip(streamed) {
            let files = &members[plan.files.clone()];
            if streamed.reused {
                shards_reused += 1;
            } else {
                files_hashed += files.len() as u64;
            }
            if let Some(cache) = &mut new_cache {
                for (member, (digest, _)) in files.iter().zip(&streamed.files) {
                    cache.file(member.entry().0, &member.file, digest)?;
                }
                cache.shard(&streamed.members, &streamed.digest, streamed.len)?;
            }
            let name = format!("{}.tar", streamed.digest.cid());
            write_samples(
                &mut index,
                &name,
                files,
                &streamed.files,
                &mut media_types,
                &index_path,
            )?;
            for (member, _) in files.iter().zip(&streamed.files) {
                let bytes = path_slice(&member.file.rel);
                if !shard::has_field(bytes) {
                    files_without_field += 1;
                }
                let (extension, media_type) = media_types.of(&member.file.rel);
                if extension.is_empty() {
                    continue;
                }
                match media.get_mut(extension) {
                    Some(count) => count.files += 1,
                    None => {
                        let count = MediaCount {
                            extension: extension.clone(),
                            media_type: media_type.clone(),
                            files: 1,
                        };
                        media.insert(extension.clone(), count);
                    }
                }
            }
            samples += plan.samples;
            shards.push(SealedShard {
                cid: streamed.digest.cid(),
                sha256: streamed.digest.hex(),
                size: streamed.len,
                files: files.len() as u64,
                samples: plan.samples,
                name,
            });
        }
        if let Some(cache) = new_cache {
            cache.finish()?;
        }
    }
    index.flush().map_err(|e| Error::from_io(&index_path, e))?;
    let (index_digest, index_size, writer) = index.finish();
    let file = writer
        .into_inner()
        .map_err(|e| Error::from_io(&index_path, e.into_error()))?;
    file.sync_all()
        .map_err(|e| Error::from_io(&index_path, e))?;
    progress.report(&event(
        Phase::Done,
        total_files,
        Some(total_files),
        total_bytes,
        Some(total_bytes),
    ));

    Ok(SealReport {
        root,
        files: total_files,
        bytes: total_bytes,
        samples,
        shards,
        media: media.into_values().collect(),
        files_without_field,
        skipped,
        skipped_total,
        files_hashed,
        shards_reused,
        index_sha256: index_digest.hex(),
        index_size,
    })
}

/// Creates a new file, failing if anything (a file, a planted link) is already at `path`.
pub(crate) fn create_new(path: &Path) -> Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::from_io(path, e))
}

/// The absolute form of a folder Hallmark will write to, worked out without creating it: the
/// nearest existing ancestor with links resolved, then the rest as given. Refuses a folder inside
/// `source` (or `source` itself), where the output would become part of the work.
pub fn output_folder(source: &Path, out: &Path) -> Result<PathBuf> {
    let invalid = |reason| Error::InvalidPath {
        path: out.to_string_lossy().into_owned(),
        reason,
    };
    if out.as_os_str().is_empty() {
        return Err(invalid("the output folder is empty; name a folder"));
    }
    let absolute = std::path::absolute(out).map_err(|e| Error::from_io(out, e))?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    let resolved = loop {
        match existing.canonicalize() {
            Ok(found) => break found,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else {
                    return Err(invalid(
                        "the output folder has `..` after a folder that does not exist yet",
                    ));
                };
                rest.push(name);
                existing = parent;
            }
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                return Err(Error::NotAFolder {
                    path: existing.to_path_buf(),
                });
            }
            Err(e) => return Err(Error::from_io(existing, e)),
        }
    };
    if !rest.is_empty() && !resolved.is_dir() {
        return Err(Error::NotAFolder { path: resolved });
    }
    if rest
        .iter()
        .any(|n| n.as_encoded_bytes() == b".." || n.as_encoded_bytes() == b".")
    {
        return Err(invalid(
            "the output folder has `..` after a folder that does not exist yet",
        ));
    }
    let full = rest
        .iter()
        .rev()
        .fold(resolved, |path, name| path.join(name));
    if full.exists() && !full.is_dir() {
        return Err(Error::NotAFolder { path: full });
    }
    if full.starts_with(source) {
        return Err(Error::OutputInsideSource {
            out: full,
            source_folder: source.to_path_buf(),
        });
    }
    Ok(full)
}

/// A progress event of a job over files and bytes.
pub(crate) fn event(
    phase: Phase,
    files: u64,
    files_total: Option<u64>,
    bytes: u64,
    bytes_total: Option<u64>,
) -> ProgressEvent {
    ProgressEvent {
        phase,
        items_done: files,
        items_total: files_total,
        bytes_done: bytes,
        bytes_total,
        message: None,
    }
}

/// Running totals of a job's files and bytes, reported as they grow (from any worker thread).
pub(crate) struct Tally<'a> {
    progress: &'a dyn Progress,
    phase: Phase,
    files_total: u64,
    bytes_total: u64,
    files: AtomicU64,
    bytes: AtomicU64,
}

impl<'a> Tally<'a> {
    pub(crate) fn new(
        progress: &'a dyn Progress,
        phase: Phase,
        files_total: u64,
        bytes_total: u64,
    ) -> Self {
        Self {
            progress,
            phase,
            files_total,
            bytes_total,
            files: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    pub(crate) fn add(&self, files: u64, bytes: u64) {
        let f = self.files.fetch_add(files, Ordering::Relaxed) + files;
        let b = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.progress.report(&event(
            self.phase,
            f,
            Some(self.files_total),
            b,
            Some(self.bytes_total),
        ));
    }
}

/// The last extension (as written) and media type of a file.
fn media_of(rel: &Path) -> (String, String) {
    let extension = rel
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    let media_type = mime_guess::from_path(rel)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_owned();
    (extension, media_type)
}

/// What streaming one shard found (or what the cache says it would find).
#[derive(Debug)]
struct StreamedShard {
    digest: Sha256Digest,
    len: u64,
    /// Each file's digest and data offset, in order.
    files: Vec<(Sha256Digest, u64)>,
    /// The digest of the member list, the shard's key in the reseal cache.
    members: Sha256Digest,
    /// Taken from the cache rather than streamed.
    reused: bool,
}

/// The shard as the last seal hashed it, when none of its files changed; offsets follow from the layout.
fn reuse(files: &[Member], plan: &ShardPlan, previous: &ResealCache) -> Option<StreamedShard> {
    let digests = files
        .iter()
        .map(|m| previous.file(&m.file))
        .collect::<Option<Vec<_>>>()?;
    let members = cache::members_key(
        files
            .iter()
            .zip(&digests)
            .map(|(m, d)| (m.entry().0, m.file.size, d)),
    );
    let (digest, len) = previous.shard(&members)?;
    if len != plan.len {
        return None;
    }
    let mut position = 0;
    let mut outcome = Vec::with_capacity(files.len());
    for (member, digest) in files.iter().zip(digests) {
        let (path, size) = member.entry();
        position += tarstream::header_len(path, size);
        outcome.push((digest, position));
        position += tarstream::padded_len(size);
    }
    Some(StreamedShard {
        digest,
        len,
        files: outcome,
        members,
        reused: true,
    })
}

/// Writes the tar stream of one shard to `sink`, hashing it and each file; returns the sink.
fn stream_shard<W: Write>(
    root: &Path,
    files: &[Member],
    sink: W,
    cancel: &CancelToken,
    report: &(dyn Fn(u64, u64) + Sync),
) -> Result<(StreamedShard, W)> {
    let mut out = HashingWriter::new(sink);
    let mut buffer = vec![0u8; BUFFER];
    let mut outcomes = Vec::with_capacity(files.len());
    let zeros = [0u8; tarstream::BLOCK as usize];
    for member in files {
        cancel.check()?;
        let (path, size) = member.entry();
        let full = root.join(&member.file.rel);
        let write_err = |e: io::Error| Error::from_io(&full, e);
        out.write_all(&tarstream::file_header(path, size))
            .map_err(write_err)?;
        let offset = out.position();
        let digest = copy_file(&full, &member.file, &mut out, &mut buffer)?;
        out.write_all(&zeros[..tarstream::padding(size)])
            .map_err(write_err)?;
        outcomes.push((digest, offset));
        report(1, size);
    }
    out.write_all(&tarstream::END_OF_ARCHIVE)
        .map_err(|e| Error::from_io(root, e))?;
    let (digest, len, sink) = out.finish();
    let members = cache::members_key(
        files
            .iter()
            .zip(&outcomes)
            .map(|(m, (d, _))| (m.entry().0, m.file.size, d)),
    );
    Ok((
        StreamedShard {
            digest,
            len,
            files: outcomes,
            members,
            reused: false,
        },
        sink,
    ))
}

/// Copies one file's bytes into `out`, returning their SHA-256; fails if the file is not exactly
/// the one the walk saw (same inode on the same device, size and times) before, during or after the
/// read. The file is opened without following a link and without blocking on a FIFO, so a link or a
/// pipe swapped in after the walk is refused instead of read.
fn copy_file<W: Write>(
    full: &Path,
    seen: &FoundFile,
    out: &mut W,
    buffer: &mut [u8],
) -> Result<Sha256Digest> {
    let changed = || Error::ChangedWhileReading {
        path: full.to_path_buf(),
    };
    let (mut file, meta) = match crate::untrusted::open_regular(full) {
        Ok(opened) => opened,
        // Gone, or something else in its place, since the walk saw it.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::NotFound
            ) =>
        {
            return Err(changed());
        }
        Err(e) => return Err(Error::from_io(full, e)),
    };
    if !seen.is_as_seen(&meta) {
        return Err(changed());
    }
    let mut hasher = Sha256::new();
    let mut left = seen.size;
    while left > 0 {
        let want = usize::try_from(left.min(buffer.len() as u64)).unwrap_or(buffer.len());
        let n = match file.read(&mut buffer[..want]) {
            Ok(0) => return Err(changed()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::from_io(full, e)),
        };
        hasher.update(&buffer[..n]);
        out.write_all(&buffer[..n])
            .map_err(|e| Error::from_io(full, e))?;
        left -= n as u64;
    }
    let grew = file
        .read(&mut buffer[..1])
        .map_err(|e| Error::from_io(full, e))?
        > 0;
    let after = file.metadata().map_err(|e| Error::from_io(full, e))?;
    if grew || !seen.is_as_seen(&after) {
        return Err(changed());
    }
    Ok(Sha256Digest(hasher.finalize().into()))
}

/// Appends the index lines of one shard: one JSON object per sample.
fn write_samples<W: Write>(
    index: &mut W,
    shard_name: &str,
    files: &[Member],
    outcomes: &[(Sha256Digest, u64)],
    media_types: &mut MediaTypes,
    index_path: &Path,
) -> Result<()> {
    let mut current: Option<(&[u8], IndexedSample)> = None;
    let flush = |sample: IndexedSample, index: &mut W| -> Result<()> {
        let mut line = serde_json::to_vec(&sample).map_err(|e| Error::Damaged {
            path: index_path.to_path_buf(),
            detail: e.to_string(),
        })?;
        line.push(b'\n');
        index
            .write_all(&line)
            .map_err(|e| Error::from_io(index_path, e))
    };
    for (member, (digest, offset)) in files.iter().zip(outcomes) {
        let bytes = path_slice(&member.file.rel);
        let key_bytes = shard::sample_key(bytes);
        let key = String::from_utf8_lossy(key_bytes).into_owned();
        let field = String::from_utf8_lossy(bytes.get(key_bytes.len() + 1..).unwrap_or_default())
            .into_owned();
        let (path, path_hex) = match std::str::from_utf8(bytes) {
            Ok(p) => (p.to_owned(), None),
            Err(_) => (
                String::from_utf8_lossy(bytes).into_owned(),
                Some(hex::encode(bytes)),
            ),
        };
        let file = IndexedFile {
            path,
            path_hex,
            field,
            size: member.file.size,
            sha256: digest.hex(),
            media_type: media_types.of(&member.file.rel).1.clone(),
            offset: *offset,
        };
        match &mut current {
            Some((k, sample)) if *k == key_bytes => sample.files.push(file),
            _ => {
                if let Some((_, done)) = current.take() {
                    flush(done, index)?;
                }
                let sample = IndexedSample {
                    key,
                    shard: shard_name.to_owned(),
                    files: vec![file],
                };
                current = Some((key_bytes, sample));
            }
        }
    }
    if let Some((_, done)) = current {
        flush(done, index)?;
    }
    Ok(())
}

/// A shard export wrote or found in place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExportedShard {
    pub path: PathBuf,
    pub size: u64,
    /// False when the file was already there with exactly the sealed bytes.
    pub written: bool,
}

/// Writes the shard files of a sealed dataset into `dir`, each named `<cid>.tar` from the digest
/// the manifest gives (never a name copied from a file).
///
/// The shards are generated again from the source folder (sealing kept no copy) and each must hash
/// to the digest it was sealed with; a shard whose source changed since the seal is refused by name.
/// A regular file already in `dir` whose bytes hash to the sealed digest is left as it is; a link
/// or anything else there is replaced, never followed. `dir` may not be inside the source.
pub fn export(
    root: &Path,
    options: &SealOptions,
    sealed: &[crate::manifest::ManifestShard],
    dir: &Path,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Vec<ExportedShard>> {
    let root = scan::resolve_folder(root)?;
    let dir_abs = output_folder(&root, dir)?;
    let Layout { members, plans, .. } = layout(&root, options, cancel)?;
    if plans.len() != sealed.len() {
        return Err(Error::SourceChanged {
            source_folder: root,
            detail: format!(
                "it now makes {} shards where the seal has {}",
                plans.len(),
                sealed.len()
            ),
        });
    }
    std::fs::create_dir_all(&dir_abs).map_err(|e| Error::from_io(dir, e))?;
    let total_files = members.len() as u64;
    let total_bytes: u64 = members.iter().map(|m| m.file.size).sum();
    let tally = Tally::new(progress, Phase::Exporting, total_files, total_bytes);
    let report = |files: u64, bytes: u64| tally.add(files, bytes);
    let written: Vec<Result<ExportedShard>> = plans
        .par_iter()
        .zip(sealed)
        .map(|(plan, expected)| {
            let name = format!("{}.tar", expected.cid);
            let target = dir_abs.join(&name);
            let files = &members[plan.files.clone()];
            if is_intact(&target, expected) {
                report(files.len() as u64, files.iter().map(|m| m.file.size).sum());
                return Ok(ExportedShard {
                    path: target,
                    size: expected.size,
                    written: false,
                });
            }
            // Created exclusively under a random name: a planted link is never written through.
            let partial = tempfile::Builder::new()
                .prefix(&format!(".{name}."))
                .suffix(".partial")
                .tempfile_in(&dir_abs)
                .map_err(|e| Error::from_io(&dir_abs, e))?;
            let (streamed, writer) =
                stream_shard(&root, files, BufWriter::new(partial), cancel, &report)?;
            let partial = writer
                .into_inner()
                .map_err(|e| Error::from_io(&target, e.into_error()))?;
            partial
                .as_file()
                .sync_all()
                .map_err(|e| Error::from_io(&target, e))?;
            if streamed.digest.hex() != expected.sha256 {
                return Err(Error::SourceChanged {
                    source_folder: root.clone(),
                    detail: format!("shard {name} no longer has the bytes it was sealed with"),
                });
            }
            partial
                .persist(&target)
                .map_err(|e| Error::from_io(&target, e.error))?;
            Ok(ExportedShard {
                path: target,
                size: streamed.len,
                written: true,
            })
        })
        .collect();
    let written = written.into_iter().collect::<Result<Vec<_>>>()?;
    progress.report(&event(
        Phase::Done,
        total_files,
        Some(total_files),
        total_bytes,
        Some(total_bytes),
    ));
    Ok(written)
}

/// A shard rebuilt from the source folder without writing it: its digest and size, and each
/// member file's path, size and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuiltShard {
    pub digest: Sha256Digest,
    pub size: u64,
    pub files: Vec<(PathBuf, u64, Sha256Digest)>,
}

/// Streams every shard of `root` under `options` into nothing, hashing each file and each shard
/// from one read, as export would write them: what a seal of the folder as it is now would give.
pub fn rebuild(
    root: &Path,
    options: &SealOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Vec<RebuiltShard>> {
    let root = scan::resolve_folder(root)?;
    let Layout { members, plans, .. } = layout(&root, options, cancel)?;
    let total_bytes: u64 = members.iter().map(|m| m.file.size).sum();
    let tally = Tally::new(progress, Phase::Hashing, members.len() as u64, total_bytes);
    let report = |files: u64, bytes: u64| tally.add(files, bytes);
    plans
        .par_iter()
        .map(|plan| {
            let files = &members[plan.files.clone()];
            let (streamed, _) = stream_shard(&root, files, io::sink(), cancel, &report)?;
            Ok(RebuiltShard {
                digest: streamed.digest,
                size: streamed.len,
                files: files
                    .iter()
                    .zip(&streamed.files)
                    .map(|(m, (digest, _))| (m.file.rel.clone(), m.file.size, *digest))
                    .collect(),
            })
        })
        .collect()
}

/// Whether `path` is a regular file (not a link) of the expected size whose bytes hash to the digest.
fn is_intact(path: &Path, expected: &crate::manifest::ManifestShard) -> bool {
    match crate::untrusted::open_regular(path) {
        Ok((file, meta)) if meta.len() == expected.size => Sha256Digest::of_reader(file)
            .is_ok_and(|(digest, size)| size == expected.size && digest.hex() == expected.sha256),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::progress::{NoProgress, ProgressRecorder};

    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..12 {
            std::fs::write(
                dir.path().join(format!("{i:02}.txt")),
                vec![b'a' + i as u8; 700 * i + 1],
            )
            .unwrap();
            std::fs::write(dir.path().join(format!("{i:02}.json")), b"{}").unwrap();
        }
        dir
    }

    /// Seals with no previous seal to reuse, into `out` (a fresh folder).
    fn seal_fresh(
        root: &Path,
        out: &Path,
        options: &SealOptions,
        progress: &dyn Progress,
        cancel: &CancelToken,
    ) -> Result<SealReport> {
        seal(
            root,
            out,
            options,
            &ResealCache::default(),
            progress,
            cancel,
        )
    }

    fn manifest_shards(report: &SealReport) -> Vec<crate::manifest::ManifestShard> {
        report
            .shards
            .iter()
            .map(|s| crate::manifest::ManifestShard {
                name: s.name.clone(),
                cid: s.cid.clone(),
                sha256: s.sha256.clone(),
                size: s.size,
            })
            .collect()
    }

    fn opts(shard_size: u64) -> SealOptions {
        SealOptions {
            shard_size,
            ..SealOptions::default()
        }
    }

    #[test]
    fn micro_shards_put_every_sample_in_a_shard_of_its_own() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        let report = seal_fresh(
            src.path(),
            out.path(),
            &opts(1),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        assert_eq!((report.files, report.samples), (24, 12));
        assert_eq!(report.shards.len(), 12);
        assert!(report.shards.iter().all(|s| s.samples == 1 && s.files == 2));
    }

    #[test]
    fn progress_ends_with_every_file_and_byte() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        let rec = ProgressRecorder::default();
        let report = seal_fresh(
            src.path(),
            out.path(),
            &opts(4096),
            &rec,
            &CancelToken::new(),
        )
        .unwrap();
        let last = rec.events().pop().unwrap();
        assert_eq!(last.phase, Phase::Done);
        assert_eq!(
            (last.items_done, last.bytes_done),
            (report.files, report.bytes)
        );
    }

    #[test]
    fn refuses_an_output_inside_the_folder_being_sealed_without_creating_it() {
        let src = folder();
        let root = scan::resolve_folder(src.path()).unwrap();
        for inside in [root.join("out"), root.join("new/deeper"), root.clone()] {
            let err = output_folder(&root, &inside).unwrap_err();
            assert!(matches!(err, Error::OutputInsideSource { .. }), "{err}");
            assert!(
                err.to_string()
                    .contains("choose an output folder outside it")
            );
        }
        assert!(!root.join("out").exists() && !root.join("new").exists());
        // Through `..` after a folder that does not exist yet: refused rather than guessed.
        let err = output_folder(&root, &root.join("nope/../../x")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join("a-file"), "x").unwrap();
        let err = output_folder(&root, &elsewhere.path().join("a-file/sub")).unwrap_err();
        assert!(matches!(err, Error::NotAFolder { .. }), "{err}");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let fine = output_folder(&root, &elsewhere.path().join("a/b")).unwrap();
        assert!(fine.ends_with("a/b") && !fine.exists());
    }

    #[test]
    fn refuses_a_zero_shard_size() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        let err = seal_fresh(
            src.path(),
            out.path(),
            &opts(0),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn a_file_that_is_not_as_scanned_is_reported_not_sealed() {
        let src = folder();
        let path = src.path().join("03.txt");
        let meta = std::fs::metadata(&path).unwrap();
        let mut seen = FoundFile::new("03.txt".into(), &meta);
        seen.mtime.0 -= 10;
        let err = copy_file(&path, &seen, &mut io::sink(), &mut [0; 64]).unwrap_err();
        assert!(matches!(err, Error::ChangedWhileReading { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("03.txt changed while it was being read")
        );
        // Shorter than scanned: the read runs out early.
        let mut seen = FoundFile::new("03.txt".into(), &meta);
        seen.size += 5;
        assert!(matches!(
            copy_file(&path, &seen, &mut io::sink(), &mut [0; 64]),
            Err(Error::ChangedWhileReading { .. })
        ));
    }

    #[test]
    fn export_writes_the_sealed_bytes_and_refuses_a_changed_source() {
        let src = folder();
        let out = tempfile::tempdir().unwrap();
        let report = seal_fresh(
            src.path(),
            out.path(),
            &opts(4096),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        let shards = tempfile::tempdir().unwrap();
        let written = export(
            src.path(),
            &opts(4096),
            &manifest_shards(&report),
            shards.path(),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        for (done, shard) in written.iter().zip(&report.shards) {
            assert!(done.written);
            let bytes = std::fs::read(&done.path).unwrap();
            assert_eq!(Sha256Digest::of(&bytes).hex(), shard.sha256);
            assert_eq!(bytes.len() as u64, shard.size);
        }
        // A shard already there with the right size but wrong bytes is written again, not trusted.
        let first = &written[0].path;
        let mut bytes = std::fs::read(first).unwrap();
        bytes[700] ^= 0xff;
        std::fs::write(first, &bytes).unwrap();
        export(
            src.path(),
            &opts(4096),
            &manifest_shards(&report),
            shards.path(),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        assert_eq!(
            Sha256Digest::of(&std::fs::read(first).unwrap()).hex(),
            report.shards[0].sha256
        );

        // A link planted where a shard goes is replaced, never written through; a FIFO is not
        // waited on.
        #[cfg(unix)]
        {
            let victim = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(victim.path(), b"precious").unwrap();
            std::fs::remove_file(first).unwrap();
            std::os::unix::fs::symlink(victim.path(), first).unwrap();
            let second = &written[1].path;
            std::fs::remove_file(second).unwrap();
            crate::untrusted::make_fifo(second);
            export(
                src.path(),
                &opts(4096),
                &manifest_shards(&report),
                shards.path(),
                &NoProgress,
                &CancelToken::new(),
            )
            .unwrap();
            assert_eq!(std::fs::read(victim.path()).unwrap(), b"precious");
            for (path, shard) in [(first, &report.shards[0]), (second, &report.shards[1])] {
                let meta = std::fs::symlink_metadata(path).unwrap();
                assert!(meta.is_file(), "{} is a regular file again", path.display());
                let bytes = std::fs::read(path).unwrap();
                assert_eq!(Sha256Digest::of(&bytes).hex(), shard.sha256);
            }
        }

        // Into the folder being exported from: refused before anything is written.
        let err = export(
            src.path(),
            &opts(4096),
            &manifest_shards(&report),
            &src.path().join("shards"),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::OutputInsideSource { .. }), "{err}");
        assert!(!src.path().join("shards").exists());

        // Same size, new bytes: the layout is unchanged but one shard's hash is not.
        std::fs::write(src.path().join("05.txt"), vec![b'z'; 700 * 5 + 1]).unwrap();
        let again = tempfile::tempdir().unwrap();
        let err = export(
            src.path(),
            &opts(4096),
            &manifest_shards(&report),
            again.path(),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::SourceChanged { .. }), "{err}");
        assert!(err.to_string().contains("seal it again"));
        let leftovers: Vec<_> = std::fs::read_dir(again.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            .collect();
        assert!(leftovers.is_empty(), "no half-written shard is left behind");
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_names_are_sealed_with_their_exact_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let src = folder();
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
        std::fs::write(src.path().join(name), b"latin-1 name").unwrap();
        let out = tempfile::tempdir().unwrap();
        seal_fresh(
            src.path(),
            out.path(),
            &opts(1 << 20),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        let index = std::fs::read_to_string(out.path().join(INDEX_FILE)).unwrap();
        let line = index.lines().find(|l| l.contains("pathHex")).unwrap();
        let sample: IndexedSample = serde_json::from_str(line).unwrap();
        assert_eq!(
            sample.files[0].path_hex.as_deref(),
            Some(hex::encode(b"caf\xe9.txt").as_str())
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_file_swapped_for_a_link_or_a_fifo_after_the_walk_is_refused_not_followed() {
        let src = folder();
        let root = scan::resolve_folder(src.path()).unwrap();
        let path = root.join("03.txt");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let seen = FoundFile::new("03.txt".into(), &meta);
        // Outside bytes of the same size, mtime copied: only the inode and the link give it away.
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(outside.path(), vec![b'x'; meta.len() as usize]).unwrap();
        std::fs::File::options()
            .write(true)
            .open(outside.path())
            .unwrap()
            .set_modified(meta.modified().unwrap())
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(outside.path(), &path).unwrap();
        let mut sink = Vec::new();
        let err = copy_file(&path, &seen, &mut sink, &mut [0; 64]).unwrap_err();
        assert!(matches!(err, Error::ChangedWhileReading { .. }), "{err}");
        assert!(sink.is_empty(), "no outside byte was copied");
        // A FIFO in its place: refused at once instead of waiting for a writer.
        std::fs::remove_file(&path).unwrap();
        crate::untrusted::make_fifo(&path);
        let err = copy_file(&path, &seen, &mut sink, &mut [0; 64]).unwrap_err();
        assert!(matches!(err, Error::ChangedWhileReading { .. }), "{err}");
        // A hard link to another file of the same size and times is another inode: refused.
        std::fs::remove_file(&path).unwrap();
        std::fs::hard_link(outside.path(), &path).unwrap();
        assert!(copy_file(&path, &seen, &mut sink, &mut [0; 64]).is_err());
    }
}
