//! Content addresses: SHA-256 digests as lower-case hex, and CIDv1 (raw codec) as base32 `bafkrei…`.
//!
//! An id is always the hash of the exact bytes stored or sent, never of a re-serialisation.

use std::fmt;
use std::io::{self, Write};

use sha2::{Digest, Sha256};

/// Multicodec code of raw bytes, the codec of a shard's CID.
const RAW_CODEC: u64 = 0x55;
/// Multihash code of SHA2-256.
const SHA2_256: u64 = 0x12;

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// The digest and length of everything `reader` yields, read in 256 KiB blocks.
    pub fn of_reader(mut reader: impl io::Read) -> io::Result<(Self, u64)> {
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 256 << 10];
        let mut size = 0u64;
        loop {
            match reader.read(&mut buffer) {
                Ok(0) => return Ok((Self(hasher.finalize().into()), size)),
                Ok(n) => {
                    hasher.update(&buffer[..n]);
                    size += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The lower-case hex form, as Croissant and S3 expect.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses the lower- or upper-case hex form.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(Self(out))
    }

    /// The CIDv1 of the bytes this digest was taken of, raw codec, base32: `bafkrei…`.
    pub fn cid(&self) -> String {
        // A 32-byte digest always fits a 64-byte multihash.
        let hash = cid::multihash::Multihash::<64>::wrap(SHA2_256, &self.0)
            .unwrap_or_else(|_| unreachable!("a SHA-256 digest fits a 64-byte multihash"));
        cid::Cid::new_v1(RAW_CODEC, hash).to_string()
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.hex())
    }
}

/// A writer that hashes and counts what passes through it, then hands it to `inner`.
#[derive(Debug)]
pub struct HashingWriter<W> {
    hasher: Sha256,
    written: u64,
    inner: W,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            hasher: Sha256::new(),
            written: 0,
            inner,
        }
    }

    /// Bytes written so far.
    pub fn position(&self) -> u64 {
        self.written
    }

    /// The digest and length of everything written, and the inner writer.
    pub fn finish(self) -> (Sha256Digest, u64, W) {
        (
            Sha256Digest(self.hasher.finalize().into()),
            self.written,
            self.inner,
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers_from_the_references() {
        let empty = Sha256Digest::of(b"");
        assert_eq!(
            empty.hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            empty.cid(),
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
        assert_eq!(
            Sha256Digest::of(b"hello world").cid(),
            "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
        );
    }

    #[test]
    fn the_hashing_writer_hashes_exactly_what_it_passes_on() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"hello ").unwrap();
        w.write_all(b"world").unwrap();
        let (digest, len, inner) = w.finish();
        assert_eq!((len, inner.as_slice()), (11, &b"hello world"[..]));
        assert_eq!(digest, Sha256Digest::of(b"hello world"));
        assert_eq!(Sha256Digest::from_hex(&digest.hex()), Some(digest));
        assert_eq!(Sha256Digest::from_hex("xyz"), None);
        let big = vec![7u8; 600_000];
        assert_eq!(
            Sha256Digest::of_reader(big.as_slice()).unwrap(),
            (Sha256Digest::of(&big), 600_000)
        );
    }
}
