//! A C2SP transparency log as pure, storage-agnostic code: checkpoints, tiles, entry bundles, proofs.
//!
//! The marketplace commits every per-access receipt to an append-only Merkle log (RFC 6962 /
//! RFC 9162 hashing) published in the C2SP formats: a [signed note](https://c2sp.org/signed-note)
//! [checkpoint](https://c2sp.org/tlog-checkpoint) and [tiles](https://c2sp.org/tlog-tiles); a
//! creator's desktop checks inclusion and consistency proofs against it, offline from a
//! [tlog-proof](https://c2sp.org/tlog-proof) file or from the tiles. Server and desktop call this
//! same code. The Merkle math and the note format come from `tlog_tiles` and `signed_note` (ports
//! of Go's `tlog` and `note`); this module adds C2SP paths, entry bundles, an incremental appender
//! over a [`TileStore`], and strict parsing of everything that arrives from outside.
//!
//! ```
//! use hallmark_core::did::SigningIdentity;
//! use hallmark_core::tlog::{self, MemoryTiles};
//!
//! let key = SigningIdentity::generate();
//! let mut store = MemoryTiles::default();
//! let batch = tlog::append(&store, 0, &tlog::EMPTY_ROOT, &[b"receipt 0", b"receipt 1"])?;
//! store.write_all(&batch.writes); // tiles and entry bundles first …
//! let note = tlog::sign_checkpoint(&key, "market.example/log", batch.size, &batch.root)?;
//! store.write(tlog::CHECKPOINT_PATH, note.as_bytes()); // … then the checkpoint
//!
//! let checkpoint = tlog::open_checkpoint(&note, "market.example/log", &key.public())?;
//! let proof = tlog::prove_inclusion(&store, checkpoint.size, &checkpoint.root, 1)?;
//! tlog::check_inclusion(&proof, checkpoint.size, &checkpoint.root, 1, &tlog::leaf_hash(b"receipt 1"))?;
//! # Ok::<(), tlog::TlogError>(())
//! ```

mod append;
mod bundle;
mod memory;
mod note;
mod path;
mod proof;
mod proof_file;

pub use append::{Appended, LogCheck, append, check_log};

pub use bundle::{decode_bundle, encode_bundle};
pub use memory::MemoryTiles;
pub use note::{Checkpoint, MAX_CHECKPOINT_BYTES, open_checkpoint, sign_checkpoint, verifier_key};
pub use path::{CHECKPOINT_PATH, LogPath, entries_path, tile_path};
pub use proof::{
    check_consistency, check_inclusion, check_inclusions, inclusion_tiles, prove_consistency,
    prove_inclusion,
};
pub use proof_file::{PROOF_HEADER, TlogProof};

use std::io;

/// A SHA-256 Merkle tree hash (a leaf hash, an interior node or a root).
pub type Hash = [u8; 32];

/// Bytes in one hash.
pub const HASH_SIZE: usize = 32;

/// Levels of the Merkle tree in one tile (C2SP fixes 8: a tile holds 256 hashes).
pub const TILE_HEIGHT: u8 = 8;

/// Hashes in a full tile, entries in a full entry bundle.
pub const TILE_WIDTH: u16 = 256;

/// The longest entry a bundle can hold (its length is a big-endian `u16`).
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;

/// The most hashes an inclusion or consistency proof of a tree of up to 2^64 entries has.
pub const MAX_PROOF_HASHES: usize = 64;

/// The largest tree the appender and the provers handle (2^48 entries): far beyond any real log,
/// and well inside what `tlog_tiles`' index arithmetic does without overflowing.
pub const MAX_TREE_SIZE: u64 = 1 << 48;

/// Refuses a tree size beyond [`MAX_TREE_SIZE`].
fn check_size(size: u64) -> Result<()> {
    if size > MAX_TREE_SIZE {
        return Err(TlogError::InvalidSize(format!(
            "a tree of {size} entries is larger than the {MAX_TREE_SIZE} handled"
        )));
    }
    Ok(())
}

/// The root of the empty tree, SHA-256 of nothing.
pub const EMPTY_ROOT: Hash = tlog_tiles::EMPTY_HASH.0;

/// The RFC 6962 leaf hash of an entry: SHA-256(0x00 ‖ entry).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    tlog_tiles::record_hash(entry).0
}

/// Where the log keeps its tiles, entry bundles and checkpoint, by C2SP path (`checkpoint`,
/// `tile/0/000`, `tile/entries/x001/234.p/7`, …). Reads are synchronous: a server over an async
/// object store bridges them.
pub trait TileStore {
    /// The bytes stored at `path`, or `None` when nothing is stored there.
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>>;
}

impl<S: TileStore + ?Sized> TileStore for &S {
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        (**self).read(path)
    }
}

/// Why a log operation failed. Messages are lower-case and say what failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlogError {
    /// An origin (the checkpoint's first line and its key name) that a signed note cannot carry.
    #[error(
        "invalid log origin {0:?}: it must be non-empty, without spaces, `+` or control characters"
    )]
    InvalidOrigin(String),

    /// A checkpoint or proof text longer than is ever read.
    #[error("{what} is {length} bytes, more than the {max} read")]
    TooLarge {
        what: &'static str,
        length: usize,
        max: usize,
    },

    /// A signed note that is not well-formed.
    #[error("malformed signed note: {0}")]
    MalformedNote(String),

    /// A well-formed note with no valid signature by the log's key.
    #[error("checkpoint is not signed by the key of {origin}")]
    NotSigned { origin: String },

    /// A signature line by the log's key whose signature does not verify.
    #[error(
        "checkpoint signature by {origin} does not verify: the checkpoint was altered or signed by another key"
    )]
    BadSignature { origin: String },

    /// A checkpoint of another log.
    #[error("checkpoint is for log {found:?}, not {expected:?}")]
    WrongOrigin { expected: String, found: String },

    /// A checkpoint body that is not `<origin>\n<size>\n<base64 root>\n`.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),

    /// A path that is not one the log serves.
    #[error("not a log path: {0:?}")]
    BadPath(String),

    /// An entry too long for an entry bundle.
    #[error("log entry {index} is {length} bytes, more than the {max} an entry bundle holds")]
    EntryTooLarge {
        index: u64,
        length: usize,
        max: usize,
    },

    /// Entry bundle bytes that are not the expected length-prefixed entries.
    #[error("malformed entry bundle {path}: {reason}")]
    MalformedBundle { path: String, reason: String },

    /// A tile or bundle the log should have but the store lacks.
    #[error("log file {path} is missing from the store")]
    Missing { path: String },

    /// The store failed to read a path.
    #[error("cannot read log file {path}: {reason}")]
    Storage { path: String, reason: io::Error },

    /// Stored tiles that do not hash to the root they must (altered or corrupt storage).
    #[error("log file {path} does not match the log: {reason}")]
    Inconsistent { path: String, reason: String },

    /// Tree sizes that do not make sense together (an index past the end, a shrinking log, …).
    #[error("invalid tree sizes: {0}")]
    InvalidSize(String),

    /// A proof that does not prove what it was checked for.
    #[error("{0} proof does not verify")]
    InvalidProof(&'static str),

    /// A proof with more hashes than any tree can need.
    #[error("{what} proof has {count} hashes, more than the {max} any tree needs")]
    ProofTooLong {
        what: &'static str,
        count: usize,
        max: usize,
    },

    /// A tlog-proof file that is not in the c2sp.org/tlog-proof@v1 format.
    #[error("malformed tlog-proof: {0}")]
    MalformedProofFile(String),

    /// The Merkle library refused (a programming or storage error: tiles of unexpected shape).
    #[error("merkle tree computation failed: {0}")]
    Merkle(String),
}

/// Result with a [`TlogError`].
pub type Result<T, E = TlogError> = std::result::Result<T, E>;

/// A short, printable excerpt of untrusted text for an error message.
fn excerpt(text: &str) -> String {
    crate::json::excerpt(text, 80)
}
