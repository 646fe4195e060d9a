//! Publishing's source of bytes: each sealed shard as a `Read` that streams its tar from the source files.
//!
//! Sealing keeps no copy of the shards, so an upload (or a mirror) regenerates each one from the
//! folder, as export does, but without writing it anywhere: [`ShardSource::open`] reads what the
//! seal recorded in the output folder (the source folder from Hallmark's state, the shard list
//! from the manifest, and every shard's members from `index.jsonl`, whose SHA-256 and size must be
//! the ones the manifest names), and [`ShardSource::reader`] gives a [`ShardReader`] that yields
//! exactly the shard's bytes: the same deterministic tar stream ([`crate::tarstream`]) that sealing
//! hashed. Memory is one shard's member list (paths, sizes, digests) and one open file; bytes go
//! straight from the file into the caller's buffer.
//!
//! ## Integrity
//!
//! Every file the reader reads is hashed as it goes and compared with the digest the index gives
//! (and its size checked when it is opened). A file that is gone, of another size, or whose bytes
//! hash differently is refused with [`Error::SealedFileChanged`], which names it and asks for a
//! reseal; the last bytes of a file that fails its digest are never handed out. Bytes of an edited
//! file read *before* its end are handed out, so a consumer that already sent them must discard
//! what it sent (a tus upload is deleted), never resume on top of them.
//!
//! A reader can start at any byte offset ([`ShardReader`] from `reader(cid, offset)`), for resuming
//! an upload: members that end before the offset are skipped without being opened; the member the
//! offset falls in is read from its start (so its digest is still checked) and its bytes before the
//! offset are dropped. Such a reader cannot check the SHA-256 of the whole shard, since it never
//! sees its first bytes: that check is the receiver's, which hashes everything it stores and keeps
//! the shard only when the digest matches its CID (the marketplace's tus endpoint does).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::digest::Sha256Digest;
use crate::manifest::{self, ManifestShard};
use crate::seal::{INDEX_FILE, IndexedSample};
use crate::{Error, Result, dataset, tarstream, untrusted};

/// The longest line of `index.jsonl` read (one sample with its files); longer is a damaged index.
const MAX_INDEX_LINE: u64 = 16 << 20;

/// The shards of one sealed dataset, ready to be streamed from its source folder.
#[derive(Debug, Clone)]
pub struct ShardSource {
    root: PathBuf,
    index_path: PathBuf,
    shards: Vec<(ManifestShard, Range<u64>)>,
}

impl ShardSource {
    /// Reads the seal in `out`: the source folder (or `source` instead, for a folder that moved),
    /// the manifest's shards, and where each shard's samples are in `index.jsonl` (read once and
    /// checked against the manifest's digest of it).
    pub fn open(out: &Path, source: Option<&Path>) -> Result<ShardSource> {
        let state = dataset::load_state(out)?;
        let (_, facts) = manifest::read_file(out)?;
        let root = crate::scan::resolve_folder(source.unwrap_or(&state.source))?;
        let index_path = out.join(INDEX_FILE);
        let damaged = |detail: String| Error::Damaged {
            path: index_path.clone(),
            detail: format!("{detail}; seal the folder again to rewrite it"),
        };
        let (file, meta) = untrusted::open_regular(&index_path)
            .map_err(|e| untrusted::io_error(&index_path, e))?;
        if meta.len() != facts.index_size {
            return Err(damaged(format!(
                "it is {} bytes, but the manifest names an index of {} bytes",
                meta.len(),
                facts.index_size
            )));
        }
        let mut lines = BufReader::with_capacity(1 << 20, file.take(facts.index_size));
        let mut hasher = Sha256::new();
        let mut line = Vec::new();
        let mut position = 0u64;
        let mut ranges: Vec<Range<u64>> = Vec::with_capacity(facts.shards.len());
        loop {
            line.clear();
            let n = (&mut lines)
                .take(MAX_INDEX_LINE)
                .read_until(b'\n', &mut line)
                .map_err(|e| Error::from_io(&index_path, e))?;
            if n == 0 {
                break;
            }
            if line.last() != Some(&b'\n') {
                return Err(damaged(format!(
                    "the line at byte {position} is unfinished or longer than {MAX_INDEX_LINE} bytes"
                )));
            }
            hasher.update(&line);
            let sample: ShardOfSample = serde_json::from_slice(&line).map_err(|e| {
                damaged(format!("the line at byte {position} is not a sample: {e}"))
            })?;
            let end = position + n as u64;
            let current = ranges.len().checked_sub(1);
            if current.is_some_and(|i| facts.shards[i].name == sample.shard) {
                if let Some(range) = ranges.last_mut() {
                    range.end = end;
                }
            } else {
                let next = ranges.len();
                if facts.shards.get(next).map(|s| &s.name) != Some(&sample.shard) {
                    return Err(damaged(format!(
                        "the line at byte {position} is in shard {:?}, which is not the manifest's next shard",
                        crate::json::excerpt(&sample.shard, 80)
                    )));
                }
                ranges.push(position..end);
            }
            position = end;
        }
        if Sha256Digest(hasher.finalize().into()).hex() != facts.index_sha256 {
            return Err(damaged(
                "its SHA-256 is not the one the manifest names".into(),
            ));
        }
        if ranges.len() != facts.shards.len() {
            return Err(damaged(format!(
                "it has samples for {} shards, but the manifest lists {}",
                ranges.len(),
                facts.shards.len()
            )));
        }
        Ok(ShardSource {
            root,
            index_path,
            shards: facts.shards.into_iter().zip(ranges).collect(),
        })
    }

    /// The source folder the shards are streamed from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The shards in the manifest's order.
    pub fn shards(&self) -> impl Iterator<Item = &ManifestShard> {
        self.shards.iter().map(|(shard, _)| shard)
    }

    /// The shard named `cid`, from byte `offset` (0 for all of it, at most its size).
    pub fn reader(&self, cid: &str, offset: u64) -> Result<ShardReader> {
        let (shard, lines) = self
            .shards
            .iter()
            .find(|(s, _)| s.cid == cid)
            .ok_or_else(|| Error::UnknownShard {
                cid: crate::json::excerpt(cid, 80),
            })?;
        if offset > shard.size {
            return Err(Error::OffsetPastShard {
                cid: shard.cid.clone(),
                offset,
                size: shard.size,
            });
        }
        let members = self.members(shard, lines.clone())?;
        let next = members
            .iter()
            .position(|m| offset < m.end())
            .unwrap_or(members.len());
        Ok(ShardReader {
            root: self.root.clone(),
            members,
            size: shard.size,
            position: offset,
            next,
            header: None,
            open: None,
            failed: false,
        })
    }

    /// The members of `shard`, from its lines of the index, laid out as the tar stream has them.
    fn members(&self, shard: &ManifestShard, lines: Range<u64>) -> Result<Vec<Member>> {
        let damaged = |detail: String| Error::Damaged {
            path: self.index_path.clone(),
            detail: format!("{detail}; seal the folder again to rewrite it"),
        };
        let (mut file, _) = untrusted::open_regular(&self.index_path)
            .map_err(|e| untrusted::io_error(&self.index_path, e))?;
        file.seek(SeekFrom::Start(lines.start))
            .map_err(|e| Error::from_io(&self.index_path, e))?;
        let reader = BufReader::new(file.take(lines.end - lines.start));
        let mut members = Vec::new();
        let mut position = 0u64;
        for line in reader.split(b'\n') {
            let line = line.map_err(|e| Error::from_io(&self.index_path, e))?;
            let sample: IndexedSample = serde_json::from_slice(&line).map_err(|e| {
                damaged(format!(
                    "a sample of shard {} is unreadable: {e}",
                    shard.cid
                ))
            })?;
            for file in sample.files {
                let name = match &file.path_hex {
                    Some(hex) => hex::decode(hex)
                        .map_err(|_| damaged(format!("pathHex {hex:?} is not hex")))?,
                    None => file.path.clone().into_bytes(),
                };
                let rel = path_of(&name);
                untrusted::relative_path(&rel)
                    .map_err(|why| damaged(format!("the path {:?}: {why}", file.path)))?;
                let sha256 = Sha256Digest::from_hex(&file.sha256).ok_or_else(|| {
                    damaged(format!("the digest of {:?} is not SHA-256 hex", file.path))
                })?;
                let data = position + tarstream::header_len(&name, file.size);
                if data != file.offset {
                    return Err(damaged(format!(
                        "{:?} is at offset {} of its shard, but the index says {}",
                        file.path, data, file.offset
                    )));
                }
                members.push(Member {
                    rel,
                    name,
                    size: file.size,
                    sha256,
                    start: position,
                    data,
                });
                position = data + tarstream::padded_len(file.size);
            }
        }
        if position + tarstream::END_OF_ARCHIVE.len() as u64 != shard.size {
            return Err(damaged(format!(
                "its files make a shard of {} bytes, but the manifest says {} is {} bytes",
                position + tarstream::END_OF_ARCHIVE.len() as u64,
                shard.cid,
                shard.size
            )));
        }
        Ok(members)
    }
}

/// Only the shard a sample is in: what [`ShardSource::open`] needs from each line.
#[derive(serde::Deserialize)]
struct ShardOfSample {
    shard: String,
}

#[cfg(unix)]
fn path_of(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn path_of(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

/// One file of a shard: where its header and its data start in the tar stream.
#[derive(Debug)]
struct Member {
    rel: PathBuf,
    /// The path as the tar header has it.
    name: Vec<u8>,
    size: u64,
    sha256: Sha256Digest,
    start: u64,
    data: u64,
}

impl Member {
    /// Where its padding ends: the next member's (or the archive end's) start.
    fn end(&self) -> u64 {
        self.data + tarstream::padded_len(self.size)
    }
}

/// The file being read: how much of it was hashed.
#[derive(Debug)]
struct OpenFile {
    member: usize,
    file: File,
    hasher: Sha256,
    read: u64,
}

/// One shard's bytes, streamed from the source files (see the module documentation).
#[derive(Debug)]
pub struct ShardReader {
    root: PathBuf,
    members: Vec<Member>,
    size: u64,
    position: u64,
    /// The member `position` is in (its header, data or padding); `members.len()` at the end.
    next: usize,
    header: Option<(usize, Vec<u8>)>,
    open: Option<OpenFile>,
    /// A file failed its check: the reader yields nothing more.
    failed: bool,
}

impl ShardReader {
    /// The shard's whole size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Where the next byte read is in the shard.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// How many bytes are left to read.
    pub fn remaining(&self) -> u64 {
        self.size - self.position
    }

    /// The next bytes of the current member's data, read (and hashed) from its file.
    fn read_data(&mut self, buf: &mut [u8]) -> Result<usize> {
        let index = self.next;
        let member = &self.members[index];
        let full = self.root.join(&member.rel);
        let changed = |detail: String| Error::SealedFileChanged {
            path: full.clone(),
            detail,
        };
        if self.open.as_ref().is_none_or(|o| o.member != index) {
            let (file, meta) = match untrusted::open_regular(&full) {
                Ok(opened) => opened,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::InvalidInput
                    ) =>
                {
                    return Err(changed("it is gone, or no longer a regular file".into()));
                }
                Err(e) => return Err(Error::from_io(&full, e)),
            };
            if meta.len() != member.size {
                return Err(changed(format!(
                    "it is {} bytes, but {} were sealed",
                    meta.len(),
                    member.size
                )));
            }
            self.open = Some(OpenFile {
                member: index,
                file,
                hasher: Sha256::new(),
                read: 0,
            });
        }
        let Some(open) = self.open.as_mut() else {
            unreachable!("opened above")
        };
        let short = || changed("it is shorter than when it was sealed".into());
        // Bytes before the offset a resumed reader starts at: read for the digest, then dropped.
        let skip_to = self.position - member.data;
        while open.read < skip_to {
            let want = usize::try_from(skip_to - open.read).map_or(buf.len(), |n| n.min(buf.len()));
            let n = match open.file.read(&mut buf[..want]) {
                Ok(0) => return Err(short()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::from_io(&full, e)),
            };
            open.hasher.update(&buf[..n]);
            open.read += n as u64;
        }
        let left = member.size - open.read;
        let want = usize::try_from(left).map_or(buf.len(), |n| n.min(buf.len()));
        let n = loop {
            match open.file.read(&mut buf[..want]) {
                Ok(0) => return Err(short()),
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::from_io(&full, e)),
            }
        };
        open.hasher.update(&buf[..n]);
        open.read += n as u64;
        if open.read == member.size {
            let mut one = [0u8; 1];
            let grew = open
                .file
                .read(&mut one)
                .map_err(|e| Error::from_io(&full, e))?
                > 0;
            let digest = Sha256Digest(std::mem::take(&mut open.hasher).finalize().into());
            self.open = None;
            if grew {
                return Err(changed("it grew since it was sealed".into()));
            }
            if digest != member.sha256 {
                return Err(changed(
                    "its bytes are not the ones sealed (same size, another SHA-256)".into(),
                ));
            }
        }
        Ok(n)
    }

    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() || self.position >= self.size {
            return Ok(0);
        }
        while self.next < self.members.len() && self.position >= self.members[self.next].end() {
            self.next += 1;
        }
        let Some(member) = self.members.get(self.next) else {
            // The two zero blocks that end the archive.
            return Ok(zeros(buf, self.size - self.position));
        };
        if self.position < member.data {
            let index = self.next;
            if self.header.as_ref().is_none_or(|(i, _)| *i != index) {
                self.header = Some((index, tarstream::file_header(&member.name, member.size)));
            }
            let header = self.header.as_ref().map_or(&[][..], |(_, h)| h.as_slice());
            let from = usize::try_from(self.position - member.start).unwrap_or(usize::MAX);
            let part = header.get(from..).unwrap_or_default();
            let n = part.len().min(buf.len());
            buf[..n].copy_from_slice(&part[..n]);
            return Ok(n);
        }
        if self.position < member.data + member.size {
            return self.read_data(buf);
        }
        Ok(zeros(buf, member.end() - self.position))
    }
}

/// Fills up to `max` bytes of `buf` with zeros; how many.
fn zeros(buf: &mut [u8], max: u64) -> usize {
    let n = usize::try_from(max).map_or(buf.len(), |m| m.min(buf.len()));
    buf[..n].fill(0);
    n
}

impl Read for ShardReader {
    /// Errors carry the core's [`Error`] (see [`source_error`]); after one, nothing more is read.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::other(
                "this shard reader already failed; open a new one",
            ));
        }
        match self.read_some(buf) {
            Ok(n) => {
                self.position += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.failed = true;
                self.open = None;
                Err(io::Error::other(e))
            }
        }
    }
}

/// The core's error inside an `io::Error` a [`ShardReader`] returned (a changed source file, an
/// unreadable one), to tell it from a failure of whatever consumed the bytes.
pub fn source_error(error: &io::Error) -> Option<&Error> {
    error.get_ref()?.downcast_ref::<Error>()
}

/// The core's error out of an `io::Error` a [`ShardReader`] returned, or the `io::Error` back when
/// it holds none.
pub fn take_source_error(error: io::Error) -> std::result::Result<Error, io::Error> {
    if source_error(&error).is_none() {
        return Err(error);
    }
    match error.into_inner().map(|inner| inner.downcast::<Error>()) {
        Some(Ok(core)) => Ok(*core),
        Some(Err(other)) => Err(io::Error::other(other)),
        None => Err(io::Error::other("the source could not be read")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{ResealPolicy, export_shards, seal_folder};
    use crate::progress::{CancelToken, NoProgress};
    use crate::seal::SealOptions;

    /// Files of many sizes (some empty, one with a long path that needs a PAX header), sealed in
    /// small shards into a fresh output folder.
    fn sealed() -> (tempfile::TempDir, tempfile::TempDir) {
        let src = tempfile::tempdir().unwrap();
        for i in 0..40usize {
            let bytes: Vec<u8> = (0..i * 517 % 9000).map(|b| (b * 31 + i) as u8).collect();
            std::fs::write(src.path().join(format!("{i:03}.bin")), bytes).unwrap();
            std::fs::write(
                src.path().join(format!("{i:03}.json")),
                format!("{{\"i\":{i}}}"),
            )
            .unwrap();
        }
        let deep = src.path().join("d".repeat(120));
        std::fs::create_dir(&deep).unwrap();
        std::fs::write(deep.join(format!("{}.txt", "n".repeat(110))), b"deep").unwrap();
        let out = tempfile::tempdir().unwrap();
        let options = SealOptions {
            shard_size: 24 << 10,
            ..SealOptions::default()
        };
        seal_folder(
            src.path(),
            &out.path().join("ds"),
            &options,
            &crate::manifest::test_info(),
            ResealPolicy::default(),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        (src, out)
    }

    fn exported(out: &Path) -> (tempfile::TempDir, ShardSource) {
        let shards = tempfile::tempdir().unwrap();
        export_shards(
            &out.join("ds"),
            shards.path(),
            None,
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        (shards, ShardSource::open(&out.join("ds"), None).unwrap())
    }

    fn read_all(mut reader: ShardReader) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        // A small odd buffer, so reads end inside headers, data and padding.
        let mut buf = [0u8; 1000];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(bytes);
            }
            bytes.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn every_shard_streams_the_bytes_export_writes() {
        let (_src, out) = sealed();
        let (dir, source) = exported(out.path());
        let shards: Vec<_> = source.shards().cloned().collect();
        assert!(shards.len() >= 5, "{} shards", shards.len());
        for shard in &shards {
            let reader = source.reader(&shard.cid, 0).unwrap();
            assert_eq!(reader.size(), shard.size);
            let bytes = read_all(reader).unwrap();
            let file = std::fs::read(dir.path().join(&shard.name)).unwrap();
            assert!(bytes == file, "shard {} streams other bytes", shard.cid);
            assert_eq!(Sha256Digest::of(&bytes).hex(), shard.sha256);
        }
    }

    #[test]
    fn a_reader_started_at_any_offset_yields_the_rest_of_the_shard() {
        let (_src, out) = sealed();
        let (dir, source) = exported(out.path());
        let shards: Vec<_> = source.shards().cloned().collect();
        // The shard with the long path (PAX header) and the first one.
        for shard in [&shards[0], shards.last().unwrap()] {
            let file = std::fs::read(dir.path().join(&shard.name)).unwrap();
            let size = file.len() as u64;
            // 0, inside the first header, the first data byte, inside data, a block boundary,
            // inside the end-of-archive blocks, the very end, and a stride through everything.
            let mut offsets = vec![
                0,
                1,
                100,
                511,
                512,
                513,
                700,
                1024,
                size - 1000,
                size - 1,
                size,
            ];
            offsets.extend((0..size).step_by(331));
            for offset in offsets {
                let reader = source.reader(&shard.cid, offset).unwrap();
                assert_eq!(reader.position(), offset);
                let bytes = read_all(reader).unwrap();
                assert!(
                    bytes == file[offset as usize..],
                    "shard {} from offset {offset}",
                    shard.cid
                );
            }
        }
        let err = source
            .reader(&shards[0].cid, shards[0].size + 1)
            .unwrap_err();
        assert!(matches!(err, Error::OffsetPastShard { .. }), "{err}");
        let err = source.reader("bafkreinope", 0).unwrap_err();
        assert!(err.to_string().contains("bafkreinope"), "{err}");
    }

    #[test]
    fn a_source_file_changed_since_the_seal_is_named() {
        let (src, out) = sealed();
        let source = ShardSource::open(&out.path().join("ds"), None).unwrap();
        let shards: Vec<_> = source.shards().cloned().collect();
        let shard_of = |path: &str| {
            let index = std::fs::read_to_string(out.path().join("ds").join(INDEX_FILE)).unwrap();
            let line = index.lines().find(|l| l.contains(path)).unwrap();
            let sample: IndexedSample = serde_json::from_str(line).unwrap();
            shards
                .iter()
                .find(|s| s.name == sample.shard)
                .unwrap()
                .clone()
        };
        let expect_named = |shard: &ManifestShard, offset: u64, name: &str, why: &str| {
            let err = read_all(source.reader(&shard.cid, offset).unwrap()).unwrap_err();
            let core = source_error(&err).expect("the core's error");
            assert!(matches!(core, Error::SealedFileChanged { .. }), "{core}");
            let text = core.to_string();
            assert!(text.contains(name) && text.contains(why), "{text}");
            assert!(text.contains("seal the folder again"), "{text}");
        };
        // Same size, other bytes: found by the digest, also from an offset inside the file.
        let path = src.path().join("007.bin");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[10] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let shard = shard_of("007.bin");
        expect_named(&shard, 0, "007.bin", "another SHA-256");
        // From past it, the file is not read at all (the receiver's digest check is what holds).
        assert!(read_all(source.reader(&shard.cid, shard.size - 1024).unwrap()).is_ok());
        bytes[10] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(read_all(source.reader(&shard.cid, 0).unwrap()).is_ok());
        // Longer: found when it is opened.
        std::fs::write(src.path().join("013.bin"), b"other").unwrap();
        expect_named(&shard_of("013.bin"), 0, "013.bin", "were sealed");
        // Gone.
        std::fs::remove_file(src.path().join("021.json")).unwrap();
        expect_named(&shard_of("021.json"), 0, "021.json", "gone");
    }
}
