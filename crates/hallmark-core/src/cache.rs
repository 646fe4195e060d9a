//! The reseal cache: what each file and shard hashed to last time, so a reseal reads only what changed.
//!
//! A file is trusted unchanged when its path, size, modification time and inode all match; a shard
//! is reused when every member is unchanged, because a shard's bytes are a function of its members'
//! paths, sizes and contents. Kept as JSON Lines in the output folder's `.hallmark/`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::digest::Sha256Digest;
use crate::scan::FoundFile;
use crate::{Error, Result};

/// The cache file's name inside `.hallmark/`.
pub const CACHE_FILE: &str = "cache.jsonl";

/// One line: a file as it was hashed (`p` set), or a shard by the digest of its members (`k` set).
/// One plain struct rather than an enum: serde's untagged enums parse several times slower.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Line {
    /// A file's path relative to the folder, hex of its bytes (exact for any name on any OS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<String>,
    /// A shard's members key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    k: Option<String>,
    /// Size in bytes.
    s: u64,
    #[serde(default)]
    m: (i64, u32),
    #[serde(default)]
    i: u64,
    /// SHA-256.
    h: String,
}

/// What the last seal hashed.
#[derive(Debug, Default)]
pub struct ResealCache {
    files: HashMap<PathBuf, (u64, (i64, u32), u64, Sha256Digest)>,
    shards: HashMap<Sha256Digest, (Sha256Digest, u64)>,
}

#[cfg(unix)]
fn path_from_hex(hex_path: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = hex::decode(hex_path).ok()?;
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(&bytes)))
}

#[cfg(not(unix))]
fn path_from_hex(hex_path: &str) -> Option<PathBuf> {
    String::from_utf8(hex::decode(hex_path).ok()?)
        .ok()
        .map(PathBuf::from)
}

impl ResealCache {
    /// Reads the cache in `dir`; a missing cache is empty, a damaged one is ignored (it only saves time).
    pub fn load(dir: &Path) -> Self {
        let Ok(file) = std::fs::File::open(dir.join(CACHE_FILE)) else {
            return Self::default();
        };
        let mut cache = Self::default();
        for line in BufReader::new(file).lines() {
            let Ok(line) = line else {
                return Self::default();
            };
            let Ok(entry) = serde_json::from_str::<Line>(&line) else {
                return Self::default();
            };
            let Some(digest) = Sha256Digest::from_hex(&entry.h) else {
                return Self::default();
            };
            let path = entry.p.as_deref().and_then(path_from_hex);
            let key = entry.k.as_deref().and_then(Sha256Digest::from_hex);
            match (path, key) {
                (Some(path), None) => {
                    cache
                        .files
                        .insert(path, (entry.s, entry.m, entry.i, digest));
                }
                (None, Some(key)) => {
                    cache.shards.insert(key, (digest, entry.s));
                }
                _ => return Self::default(),
            }
        }
        cache
    }

    /// The digest of `file` from the last seal, if it is unchanged since.
    pub fn file(&self, file: &FoundFile) -> Option<Sha256Digest> {
        let &(size, mtime, inode, digest) = self.files.get(&file.rel)?;
        (size == file.size && mtime == file.mtime && inode == file.inode).then_some(digest)
    }

    /// Whether the cache holds exactly this many files and shards (with every one reused, it is the
    /// cache a new seal would write).
    pub fn holds_exactly(&self, files: usize, shards: usize) -> bool {
        self.files.len() == files && self.shards.len() == shards
    }

    /// Paths of the cached files, for finding what was removed since.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.keys().map(PathBuf::as_path)
    }

    /// Whether the cache knows `rel` at all (changed or not).
    pub fn knows(&self, rel: &Path) -> bool {
        self.files.contains_key(rel)
    }

    /// The digest and length of a shard with these members, if one was sealed before.
    pub fn shard(&self, members: &Sha256Digest) -> Option<(Sha256Digest, u64)> {
        self.shards.get(members).copied()
    }
}

/// The identity of a shard's content: its members' paths, sizes and digests, in order.
pub fn members_key<'a>(
    members: impl IntoIterator<Item = (&'a [u8], u64, &'a Sha256Digest)>,
) -> Sha256Digest {
    let mut h = Sha256::new();
    h.update(b"hallmark/shard-members/v1\0");
    for (path, size, digest) in members {
        h.update((path.len() as u64).to_be_bytes());
        h.update(path);
        h.update(size.to_be_bytes());
        h.update(digest.0);
    }
    Sha256Digest(h.finalize().into())
}

/// Writes a new cache, line by line, then moves it into place.
#[derive(Debug)]
pub struct CacheWriter {
    path: PathBuf,
    tmp: PathBuf,
    out: BufWriter<std::fs::File>,
}

impl CacheWriter {
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::from_io(dir, e))?;
        let path = dir.join(CACHE_FILE);
        let tmp = dir.join(format!("{CACHE_FILE}.tmp"));
        let file = std::fs::File::create(&tmp).map_err(|e| Error::from_io(&tmp, e))?;
        Ok(Self {
            path,
            tmp,
            out: BufWriter::new(file),
        })
    }

    fn line(&mut self, line: &Line) -> Result<()> {
        let mut bytes = serde_json::to_vec(line).map_err(|e| Error::Damaged {
            path: self.tmp.clone(),
            detail: e.to_string(),
        })?;
        bytes.push(b'\n');
        self.out
            .write_all(&bytes)
            .map_err(|e| Error::from_io(&self.tmp, e))
    }

    pub fn file(&mut self, path: &[u8], file: &FoundFile, digest: &Sha256Digest) -> Result<()> {
        let line = Line {
            p: Some(hex::encode(path)),
            k: None,
            s: file.size,
            m: file.mtime,
            i: file.inode,
            h: digest.hex(),
        };
        self.line(&line)
    }

    pub fn shard(&mut self, members: &Sha256Digest, digest: &Sha256Digest, len: u64) -> Result<()> {
        self.line(&Line {
            k: Some(members.hex()),
            s: len,
            h: digest.hex(),
            ..Line::default()
        })
    }

    pub fn finish(mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::from_io(&self.tmp, e))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::from_io(&self.path, e))
    }
}
