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

/// A file as it was hashed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct FileLine {
    /// Path relative to the folder, hex of its bytes (exact on every OS and for any name).
    p: String,
    s: u64,
    m: (i64, u32),
    i: u64,
    h: String,
}

/// A shard as it was hashed, by the digest of its member list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct ShardLine {
    k: String,
    h: String,
    n: u64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum Line {
    File(FileLine),
    Shard(ShardLine),
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
            match serde_json::from_str::<Line>(&line) {
                Ok(Line::File(f)) => {
                    let (Some(path), Some(digest)) =
                        (path_from_hex(&f.p), Sha256Digest::from_hex(&f.h))
                    else {
                        return Self::default();
                    };
                    cache.files.insert(path, (f.s, f.m, f.i, digest));
                }
                Ok(Line::Shard(s)) => {
                    let (Some(key), Some(digest)) =
                        (Sha256Digest::from_hex(&s.k), Sha256Digest::from_hex(&s.h))
                    else {
                        return Self::default();
                    };
                    cache.shards.insert(key, (digest, s.n));
                }
                Err(_) => return Self::default(),
            }
        }
        cache
    }

    /// The digest of `file` from the last seal, if it is unchanged since.
    pub fn file(&self, file: &FoundFile) -> Option<Sha256Digest> {
        let &(size, mtime, inode, digest) = self.files.get(&file.rel)?;
        (size == file.size && mtime == file.mtime && inode == file.inode).then_some(digest)
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
        self.line(&Line::File(FileLine {
            p: hex::encode(path),
            s: file.size,
            m: file.mtime,
            i: file.inode,
            h: digest.hex(),
        }))
    }

    pub fn shard(&mut self, members: &Sha256Digest, digest: &Sha256Digest, len: u64) -> Result<()> {
        self.line(&Line::Shard(ShardLine {
            k: members.hex(),
            h: digest.hex(),
            n: len,
        }))
    }

    pub fn finish(mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::from_io(&self.tmp, e))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::from_io(&self.path, e))
    }
}
