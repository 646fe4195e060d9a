//! Inclusion and consistency proofs: made from stored tiles (checked against a root), and checked.

use std::cell::RefCell;

use tlog_tiles::{Hash as TileHash, HashReader as _, Tile, TileHashReader, TileReader};

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

/// Records which tiles a batch of inclusion checks reads, and reads none.
struct TilePlan {
    paths: RefCell<Vec<String>>,
}

impl TileReader for TilePlan {
    fn height(&self) -> u8 {
        TILE_HEIGHT
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        *self.paths.borrow_mut() = tiles
            .iter()
            .map(|tile| tile_path(tile.level(), tile.level_index(), tile.width() as u16))
            .collect();
        Err(tlog_tiles::Error::InvalidTile)
    }

    fn save_tiles(&self, _tiles: &[Tile], _data: &[Vec<u8>]) {}
}

/// The C2SP paths of the tiles [`check_inclusions`] reads to check `indexes` in the tree of `size`
/// entries: the tiles holding them, their parents, and the right edge that hashes to the root.
pub fn inclusion_tiles(size: u64, indexes: &[u64]) -> Result<Vec<String>> {
    super::check_size(size)?;
    if let Some(&index) = indexes.iter().find(|&&index| index >= size) {
        return Err(TlogError::InvalidSize(format!(
            "entry {index} is not in a tree of {size} entries"
        )));
    }
    if size == 0 {
        return Ok(Vec::new());
    }
    let plan = TilePlan {
        paths: RefCell::new(Vec::new()),
    };
    let reader = TileHashReader::new(size, TileHash(EMPTY_ROOT), &plan);
    let stored: Vec<u64> = indexes
        .iter()
        .map(|&index| tlog_tiles::stored_hash_index(0, index))
        .collect();
    // The plan's reader refuses to read; what it was asked for is the plan.
    let _ = reader.read_hashes(&stored);
    Ok(plan.paths.into_inner())
}

/// Checks many entries of one tree at once: that each `(index, leaf hash)` is that entry of the
/// tree of `size` entries with root `root`. The stored tiles are read once and checked to hash to
/// `root` (so this is as strong as an inclusion proof per entry, for the cost of hashing the tiles
/// read). Returns the indexes whose stored leaf hash differs from the one given, in input order;
/// an error when the tiles are missing or do not hash to `root`.
pub fn check_inclusions(
    store: &impl TileStore,
    size: u64,
    root: &Hash,
    entries: &[(u64, Hash)],
) -> Result<Vec<u64>> {
    super::check_size(size)?;
    if let Some(&(index, _)) = entries.iter().find(|(index, _)| *index >= size) {
        return Err(TlogError::InvalidSize(format!(
            "entry {index} is not in a tree of {size} entries"
        )));
    }
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let tiles = StoreTiles {
        store,
        failure: RefCell::new(None),
    };
    let reader = TileHashReader::new(size, TileHash(*root), &tiles);
    let stored: Vec<u64> = entries
        .iter()
        .map(|&(index, _)| tlog_tiles::stored_hash_index(0, index))
        .collect();
    let found = reader.read_hashes(&stored).map_err(|e| tiles.error(e))?;
    Ok(entries
        .iter()
        .zip(found)
        .filter(|((_, leaf), found)| found.0 != *leaf)
        .map(|((index, _), _)| *index)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlog::{MemoryTiles, append, leaf_hash};

    /// A log of `n` entries `entry <i>` in memory, and its root.
    fn log(n: u64) -> (MemoryTiles, Hash) {
        let mut store = MemoryTiles::default();
        let entries: Vec<Vec<u8>> = (0..n).map(|i| format!("entry {i}").into_bytes()).collect();
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        let batch = append(&store, 0, &EMPTY_ROOT, &refs).expect("appends");
        store.write_all(&batch.writes);
        (store, batch.root)
    }

    #[test]
    fn many_inclusions_check_against_one_root() {
        let (store, root) = log(1000);
        let entries: Vec<(u64, Hash)> = [0u64, 255, 256, 700, 999]
            .iter()
            .map(|&i| (i, leaf_hash(format!("entry {i}").as_bytes())))
            .collect();
        assert!(
            check_inclusions(&store, 1000, &root, &entries)
                .expect("checks")
                .is_empty()
        );
        // Each one agrees with the single-entry proof.
        for (index, leaf) in &entries {
            let proof = prove_inclusion(&store, 1000, &root, *index).expect("proves");
            check_inclusion(&proof, 1000, &root, *index, leaf).expect("included");
        }
        let mut wrong = entries.clone();
        wrong[2].1 = leaf_hash(b"entry 256 changed");
        assert_eq!(
            check_inclusions(&store, 1000, &root, &wrong).expect("checks"),
            vec![256]
        );
        let mut other_root = root;
        other_root[0] ^= 1;
        assert!(matches!(
            check_inclusions(&store, 1000, &other_root, &entries),
            Err(TlogError::Inconsistent { .. })
        ));
        assert!(check_inclusions(&store, 1000, &root, &[(1000, root)]).is_err());
    }

    #[test]
    fn the_plan_names_exactly_the_tiles_read() {
        let (store, root) = log(70_000);
        let indexes = [3u64, 65_536, 69_999];
        let paths = inclusion_tiles(70_000, &indexes).expect("plan");
        let mut only = MemoryTiles::default();
        for path in &paths {
            only.write(path, &store.files[path]);
        }
        let entries: Vec<(u64, Hash)> = indexes
            .iter()
            .map(|&i| (i, leaf_hash(format!("entry {i}").as_bytes())))
            .collect();
        assert!(
            check_inclusions(&only, 70_000, &root, &entries)
                .expect("the planned tiles suffice")
                .is_empty()
        );
        assert!(paths.len() < store.files.len() / 10, "{paths:?}");
    }
}
