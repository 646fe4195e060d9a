//! Inclusion and consistency proofs: made from stored tiles (checked against a root), and checked.

use std::cell::RefCell;

use tlog_tiles::{Hash as TileHash, Tile, TileHashReader, TileReader};

use super::{
    EMPTY_ROOT, Hash, MAX_PROOF_HASHES, Result, TILE_HEIGHT, TileStore, TlogError, tile_path,
};

/// Reads tiles from a [`TileStore`] by C2SP path for `tlog_tiles`, keeping the store's own error.
struct StoreTiles<'a, S: TileStore> {
    store: &'a S,
    failure: RefCell<Option<TlogError>>,
}

impl<S: TileStore> StoreTiles<'_, S> {
    fn fail(&self, error: TlogError) -> tlog_tiles::Error {
        *self.failure.borrow_mut() = Some(error);
        tlog_tiles::Error::InvalidTile
    }

    /// The stored error if reading failed there, else what `tlog_tiles` said.
    fn error(&self, e: tlog_tiles::Error) -> TlogError {
        if let Some(error) = self.failure.borrow_mut().take() {
            return error;
        }
        match e {
            tlog_tiles::Error::InconsistentTile => TlogError::Inconsistent {
                path: "the tiles read".into(),
                reason: "they do not hash to the checkpoint's root".into(),
            },
            other => TlogError::Merkle(other.to_string()),
        }
    }
}

impl<S: TileStore> TileReader for StoreTiles<'_, S> {
    fn height(&self) -> u8 {
        TILE_HEIGHT
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|tile| {
                let path = tile_path(tile.level(), tile.level_index(), tile.width() as u16);
                match self.store.read(&path) {
                    Ok(Some(bytes)) => Ok(bytes),
                    Ok(None) => Err(self.fail(TlogError::Missing { path })),
                    Err(reason) => Err(self.fail(TlogError::Storage { path, reason })),
                }
            })
            .collect()
    }

    fn save_tiles(&self, _tiles: &[Tile], _data: &[Vec<u8>]) {}
}

fn to_hashes(proof: Vec<TileHash>) -> Vec<Hash> {
    proof.into_iter().map(|h| h.0).collect()
}

fn to_tile_hashes(proof: &[Hash], what: &'static str) -> Result<Vec<TileHash>> {
    if proof.len() > MAX_PROOF_HASHES {
        return Err(TlogError::ProofTooLong {
            what,
            count: proof.len(),
            max: MAX_PROOF_HASHES,
        });
    }
    Ok(proof.iter().map(|h| TileHash(*h)).collect())
}

/// The inclusion proof of entry `index` in the tree of `size` entries with root `root`, from the
/// stored tiles (every tile read is checked to hash to `root`).
pub fn prove_inclusion(
    store: &impl TileStore,
    size: u64,
    root: &Hash,
    index: u64,
) -> Result<Vec<Hash>> {
    super::check_size(size)?;
    if index >= size {
        return Err(TlogError::InvalidSize(format!(
            "entry {index} is not in a tree of {size} entries"
        )));
    }
    let tiles = StoreTiles {
        store,
        failure: RefCell::new(None),
    };
    let reader = TileHashReader::new(size, TileHash(*root), &tiles);
    tlog_tiles::prove_record(size, index, &reader)
        .map(to_hashes)
        .map_err(|e| tiles.error(e))
}

/// The consistency proof that the tree of `old_size` entries is a prefix of the tree of
/// `new_size` entries with root `new_root`, from the stored tiles of the new tree (checked to
/// hash to `new_root`). Empty when `old_size` is 0 or equals `new_size`.
pub fn prove_consistency(
    store: &impl TileStore,
    old_size: u64,
    new_size: u64,
    new_root: &Hash,
) -> Result<Vec<Hash>> {
    super::check_size(new_size)?;
    if old_size > new_size {
        return Err(TlogError::InvalidSize(format!(
            "the old tree ({old_size} entries) is larger than the new one ({new_size})"
        )));
    }
    if old_size == 0 {
        return Ok(Vec::new());
    }
    let tiles = StoreTiles {
        store,
        failure: RefCell::new(None),
    };
    let reader = TileHashReader::new(new_size, TileHash(*new_root), &tiles);
    tlog_tiles::prove_tree(new_size, old_size, &reader)
        .map(to_hashes)
        .map_err(|e| tiles.error(e))
}

/// Checks that `proof` proves the entry with leaf hash `leaf_hash` (see [`super::leaf_hash`]) is
/// entry `index` of the tree of `size` entries with root `root`.
pub fn check_inclusion(
    proof: &[Hash],
    size: u64,
    root: &Hash,
    index: u64,
    leaf_hash: &Hash,
) -> Result<()> {
    if index >= size {
        return Err(TlogError::InvalidSize(format!(
            "entry {index} is not in a tree of {size} entries"
        )));
    }
    let proof = to_tile_hashes(proof, "inclusion")?;
    tlog_tiles::check_record(&proof, size, TileHash(*root), index, TileHash(*leaf_hash))
        .map_err(|_| TlogError::InvalidProof("inclusion"))
}

/// Checks that `proof` proves the tree of `old_size` entries with root `old_root` is a prefix of
/// the tree of `new_size` entries with root `new_root`. An empty old tree (size 0, root
/// SHA-256 of nothing) is a prefix of every tree, with an empty proof.
pub fn check_consistency(
    proof: &[Hash],
    old_size: u64,
    old_root: &Hash,
    new_size: u64,
    new_root: &Hash,
) -> Result<()> {
    if old_size > new_size {
        return Err(TlogError::InvalidSize(format!(
            "the old tree ({old_size} entries) is larger than the new one ({new_size})"
        )));
    }
    let proof = to_tile_hashes(proof, "consistency")?;
    if old_size == 0 {
        if !proof.is_empty() || *old_root != EMPTY_ROOT {
            return Err(TlogError::InvalidProof("consistency"));
        }
        if new_size == 0 && *new_root != EMPTY_ROOT {
            return Err(TlogError::InvalidProof("consistency"));
        }
        return Ok(());
    }
    tlog_tiles::check_tree(
        &proof,
        new_size,
        TileHash(*new_root),
        old_size,
        TileHash(*old_root),
    )
    .map_err(|_| TlogError::InvalidProof("consistency"))
}
