//! tlog-proof files (c2sp.org/tlog-proof@v1): an index, its inclusion proof and the checkpoint, offline.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::note::{parse_decimal, parse_hash};
use super::{
    Checkpoint, Hash, MAX_CHECKPOINT_BYTES, MAX_PROOF_HASHES, Result, TlogError, check_inclusion,
    open_checkpoint,
};
use crate::did::PublicIdentity;

/// The first line of a tlog-proof file.
pub const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The longest extra data read (64 KiB).
const MAX_EXTRA_BYTES: usize = 1 << 16;

/// An offline proof that entry `index` is in the log, as the signed `checkpoint` states it.
///
/// ```text
/// c2sp.org/tlog-proof@v1
/// [extra <base64>]
/// index <N>
/// <base64 hash>        (zero or more: the inclusion proof, from the leaf's sibling up)
///
/// <the signed checkpoint note, verbatim>
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque, unauthenticated application data (the optional `extra` line).
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub hashes: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

impl TlogProof {
    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut out = format!("{PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", BASE64.encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for hash in &self.hashes {
            out.push_str(&BASE64.encode(hash));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// Parses a file's text strictly (no CR; canonical decimal and base64; at most 64 hashes;
    /// bounded size). The checkpoint is only split off here: [`TlogProof::verify`] opens it.
    pub fn parse(text: &str) -> Result<TlogProof> {
        let bad = |reason: &str| TlogError::MalformedProofFile(reason.to_owned());
        let max = MAX_CHECKPOINT_BYTES + 2 * MAX_EXTRA_BYTES + 64 * 46;
        if text.len() > max {
            return Err(TlogError::TooLarge {
                what: "tlog-proof",
                length: text.len(),
                max,
            });
        }
        if text.contains('\r') {
            return Err(bad("it contains a carriage return (CR)"));
        }
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("there is no blank line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(PROOF_HEADER) {
            return Err(bad("the first line is not c2sp.org/tlog-proof@v1"));
        }
        let mut line = lines.next().ok_or_else(|| bad("there is no index line"))?;
        let mut extra = None;
        if let Some(data) = line.strip_prefix("extra ") {
            if data.len() > 2 * MAX_EXTRA_BYTES {
                return Err(bad("the extra data is too long"));
            }
            let bytes = BASE64
                .decode(data)
                .map_err(|_| bad("the extra data is not base64"))?;
            if BASE64.encode(&bytes) != data {
                return Err(bad("the extra data is not canonical base64"));
            }
            extra = Some(bytes);
            line = lines.next().ok_or_else(|| bad("there is no index line"))?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or_else(|| bad("the index line is not `index <decimal>`"))?;
        let mut hashes = Vec::new();
        for line in lines {
            if hashes.len() == MAX_PROOF_HASHES {
                return Err(bad("it has more than 64 proof hashes"));
            }
            hashes.push(parse_hash(line).ok_or_else(|| bad("a proof line is not a base64 hash"))?);
        }
        if checkpoint.is_empty() {
            return Err(bad("there is no checkpoint after the blank line"));
        }
        Ok(TlogProof {
            extra,
            index,
            hashes,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// Opens the checkpoint (signed by `public` as `origin`) and checks that the entry with leaf
    /// hash `leaf_hash` is entry `index` of the tree it names. Returns the checkpoint.
    pub fn verify(
        &self,
        origin: &str,
        public: &PublicIdentity,
        leaf_hash: &Hash,
    ) -> Result<Checkpoint> {
        let checkpoint = open_checkpoint(&self.checkpoint, origin, public)?;
        check_inclusion(
            &self.hashes,
            checkpoint.size,
            &checkpoint.root,
            self.index,
            leaf_hash,
        )?;
        Ok(checkpoint)
    }
}
