//! The reseal cache: what each file and shard hashed to last time, so a reseal reads only what changed.
//!
//! A file is taken as unchanged when its path, device, inode, size, modification time and status
//! change time (nanoseconds) all match: the status change time moves on every write and cannot be
//! set back, so an edit that restores size and modification time is still seen. A shard is reused
//! when every member is unchanged, because a shard's bytes are a function of its members' paths,
//! sizes and contents. Kept as JSON Lines in the output folder's `.hallmark/`.
//!
//! The cache is not signed: it is untrusted input that only saves time. Lines of the wrong shape
//! void the whole cache, `--rehash` ignores it, and an export that finds a shard's bytes differ
//! from the seal discards it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::digest::Sha256Digest;
use crate::scan::FoundFile;
use crate::{Error, Result};

/// The cache file's name inside `.hallmark/`.
pub const CACHE_FILE: &str = "cache.jsonl";
/// The first line of a cache in this format; any other first line voids the cache.
const HEADER: &str = r#"{"hallmarkCache":2}"#;
/// The longest cache line read (a path of 4096 bytes in hex, and the rest).
const MAX_LINE: u64 = 16 << 10;

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
    /// Modification time (seconds, nanoseconds).
    #[serde(default)]
    m: (i64, u32),
    /// Status change time (seconds, nanoseconds).
    #[serde(default)]
    c: (i64, u32),
    /// Device.
    #[serde(default)]
    d: u64,
    /// Inode.
    #[serde(default)]
    i: u64,
    /// SHA-256.
    h: String,
}

/// What must match for a cached file digest to be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime: (i64, u32),
    ctime: (i64, u32),
    dev: u64,
    inode: u64,
}

impl Stamp {
    fn of(file: &FoundFile) -> Self {
        Self {
            size: file.size,
            mtime: file.mtime,
            ctime: file.ctime,
            dev: file.dev,
            inode: file.inode,
        }
    }
}

/// What the last seal hashed.
#[derive(Debug, Default)]
pub struct ResealCache {
    files: HashMap<PathBuf, (Stamp, Sha256Digest)>,
    shards: HashMap<Sha256Digest, (Sha256Digest, u64)>,
}

#[cfg(unix)]
fn path_from_hex(hex_path: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = hex::decode(hex_path).ok()?;
    let path = PathBuf::from(std::ffi::OsStr::from_bytes(&bytes));
    crate::untrusted::relative_path(&path).ok()?;
    Some(path)
}

#[cfg(not(unix))]
fn path_from_hex(hex_path: &str) -> Option<PathBuf> {
    let path = PathBuf::from(String::from_utf8(hex::decode(hex_path).ok()?).ok()?);
    crate::untrusted::relative_path(&path).ok()?;
    Some(path)
}

impl ResealCache {
    /// Reads the cache in `dir`; a missing cache is empty, and so is one of another format, with a
    /// line of the wrong shape, or one that is a link or not a regular file (it only saves time).
    pub fn load(dir: &Path) -> Self {
        let path = dir.join(CACHE_FILE);
        let Ok((file, _)) = crate::untrusted::open_regular(&path) else {
            return Self::default();
        };
        Self::parse(BufReader::new(file)).unwrap_or_default()
    }

    /// Parses cache lines; `None` at the first line that is not exactly of the cache's shape.
    fn parse(mut reader: impl BufRead) -> Option<Self> {
        let mut cache = Self::default();
        let mut line = Vec::new();
        let mut first = true;
        loop {
            line.clear();
            let n = (&mut reader)
                .take(MAX_LINE)
                .read_until(b'\n', &mut line)
                .ok()?;
            if n == 0 {
                return (!first).then_some(cache);
            }
            if line.pop() != Some(b'\n') {
                return None;
            }
            if first {
                if line != HEADER.as_bytes() {
                    return None;
                }
                first = false;
                continue;
            }
            let entry = serde_json::from_slice::<Line>(&line).ok()?;
            let digest = Sha256Digest::from_hex(&entry.h)?;
            match (&entry.p, &entry.k) {
                (Some(p), None) => {
                    let stamp = Stamp {
                        size: entry.s,
                        mtime: entry.m,
                        ctime: entry.c,
                        dev: entry.d,
                        inode: entry.i,
                    };
                    cache.files.insert(path_from_hex(p)?, (stamp, digest));
                }
                (None, Some(k)) => {
                    cache
                        .shards
                        .insert(Sha256Digest::from_hex(k)?, (digest, entry.s));
                }
                _ => return None,
            }
        }
    }

    /// The digest of `file` from the last seal, if it is unchanged since.
    pub fn file(&self, file: &FoundFile) -> Option<Sha256Digest> {
        let &(stamp, digest) = self.files.get(&file.rel)?;
        (stamp == Stamp::of(file)).then_some(digest)
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

/// Writes a new cache, line by line, into a staging folder (the seal commits it with the rest).
#[derive(Debug)]
pub struct CacheWriter {
    tmp: PathBuf,
    out: BufWriter<std::fs::File>,
}

impl CacheWriter {
    /// Creates `cache.jsonl` in `dir`, exclusively.
    pub fn create(dir: &Path) -> Result<Self> {
        let tmp = dir.join(CACHE_FILE);
        let file = crate::seal::create_new(&tmp)?;
        let mut writer = Self {
            tmp,
            out: BufWriter::new(file),
        };
        let header = writer.tmp.clone();
        writer
            .out
            .write_all(format!("{HEADER}\n").as_bytes())
            .map_err(|e| Error::from_io(&header, e))?;
        Ok(writer)
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
            c: file.ctime,
            d: file.dev,
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

    pub fn finish(self) -> Result<()> {
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::from_io(&self.tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::from_io(&self.tmp, e))
    }
}
