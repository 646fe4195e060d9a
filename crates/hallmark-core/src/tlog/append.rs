//! The appender: new entries → every new or grown tile and entry bundle, and the new root.

use std::collections::HashMap;

use tlog_tiles::{Hash as TileHash, HashReader, Tile};

use super::{
    EMPTY_ROOT, HASH_SIZE, Hash, LogPath, MAX_ENTRY_BYTES, Result, TILE_HEIGHT, TILE_WIDTH,
    TileStore, TlogError, decode_bundle, encode_bundle, entries_path, leaf_hash, tile_path,
};

/// What one append produced: the files to write and the tree they make.
///
/// Write every file of `writes` (entry bundles, then hash tiles from level 0 up) before
/// publishing a checkpoint of `size` and `root`; until a checkpoint names them these files are
/// unpublished, and an interrupted append is redone from the last checkpoint (rewriting them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// `(C2SP path, bytes)` of every new or grown entry bundle and hash tile.
    pub writes: Vec<(String, Vec<u8>)>,
    /// The new tree size.
    pub size: u64,
    /// The new root hash.
    pub root: Hash,
}

/// The stored hashes of a log at one size: the right-edge (partial) tiles read from the store,
/// and the hashes computed for new entries.
struct Hashes {
    /// Stored hash count of the tree before the append; indexes from here on are `new`.
    old_count: u64,
    /// Partial tiles at the old size, by (level, index): (tile, bytes).
    old_tiles: HashMap<(u8, u64), (Tile, Vec<u8>)>,
    new: Vec<TileHash>,
}

impl HashReader for Hashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<TileHash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&index| {
                if index >= self.old_count {
                    let offset = usize::try_from(index - self.old_count)
                        .map_err(|_| tlog_tiles::Error::IndexesNotInTree)?;
                    return self
                        .new
                        .get(offset)
                        .copied()
                        .ok_or(tlog_tiles::Error::IndexesNotInTree);
                }
                let wanted = Tile::from_index(TILE_HEIGHT, index);
                let (tile, data) = self
                    .old_tiles
                    .get(&(wanted.level(), wanted.level_index()))
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)?;
                tile.hash_at_index(data, index)
            })
            .collect()
    }
}

fn merkle(e: tlog_tiles::Error) -> TlogError {
    TlogError::Merkle(e.to_string())
}

fn read_required(store: &impl TileStore, path: &str) -> Result<Vec<u8>> {
    store
        .read(path)
        .map_err(|reason| TlogError::Storage {
            path: path.to_owned(),
            reason,
        })?
        .ok_or_else(|| TlogError::Missing {
            path: path.to_owned(),
        })
}

/// The width (1..=255) of the partial tile at `level` of a tree of `size`, if there is one.
fn partial_width(size: u64, level: u8) -> Option<u16> {
    let shifted = size.checked_shr(u32::from(TILE_HEIGHT) * u32::from(level))?;
    let width = (shifted % u64::from(TILE_WIDTH)) as u16;
    (width > 0).then_some(width)
}

/// Appends `entries` to the log of `old_size` entries whose checkpoint has root `old_root`
/// (`EMPTY_ROOT` for an empty log), reading only the right-edge partial tiles (and partial entry
/// bundle) of the old tree from `store`, checking them against `old_root`. Returns every tile and
/// bundle to write (full and partial, every level) and the new size and root; it writes nothing.
/// Partial tiles are never hashed into the level above. Entries may be any bytes up to 65,535.
pub fn append<E: AsRef<[u8]>>(
    store: &impl TileStore,
    old_size: u64,
    old_root: &Hash,
    entries: &[E],
) -> Result<Appended> {
    let count = u64::try_from(entries.len())
        .map_err(|_| TlogError::InvalidSize("too many entries".into()))?;
    let new_size = old_size
        .checked_add(count)
        .ok_or_else(|| TlogError::InvalidSize(format!("{old_size} + {count} entries overflows")))?;
    super::check_size(new_size)?;
    for (i, entry) in entries.iter().enumerate() {
        if entry.as_ref().len() > MAX_ENTRY_BYTES {
            return Err(TlogError::EntryTooLarge {
                index: old_size + i as u64,
                length: entry.as_ref().len(),
                max: MAX_ENTRY_BYTES,
            });
        }
    }

    // The right edge of the old tree: its partial tile at each level.
    let mut hashes = Hashes {
        old_count: tlog_tiles::stored_hash_count(old_size),
        old_tiles: HashMap::new(),
        new: Vec::new(),
    };
    for level in 0..=7u8 {
        let Some(width) = partial_width(old_size, level) else {
            continue;
        };
        let index = old_size >> (u32::from(TILE_HEIGHT) * (u32::from(level) + 1));
        let path = tile_path(level, index, width);
        let data = read_required(store, &path)?;
        if data.len() != usize::from(width) * HASH_SIZE {
            return Err(TlogError::Inconsistent {
                path,
                reason: format!("{} bytes, not {} hashes", data.len(), width),
            });
        }
        let tile = Tile::new(TILE_HEIGHT, level, index, u32::from(width), false);
        hashes.old_tiles.insert((level, index), (tile, data));
    }
    let root_now = if old_size == 0 {
        EMPTY_ROOT
    } else {
        tlog_tiles::tree_hash(old_size, &hashes).map_err(merkle)?.0
    };
    if root_now != *old_root {
        return Err(TlogError::Inconsistent {
            path: "the right-edge tiles".into(),
            reason: format!("they do not hash to the root of the checkpoint of size {old_size}"),
        });
    }

    // The old partial entry bundle, which the first new entries extend.
    let mut bundle: Vec<Vec<u8>> = Vec::new();
    if let Some(width) = partial_width(old_size, 0) {
        let index = old_size / u64::from(TILE_WIDTH);
        let path = entries_path(index, width);
        let bytes = read_required(store, &path)?;
        bundle = decode_bundle(&bytes, width, &path)?;
        let (tile, data) = &hashes.old_tiles[&(0, index)];
        for (i, entry) in bundle.iter().enumerate() {
            let stored = tile
                .hash_at_index(
                    data,
                    tlog_tiles::stored_hash_index(0, index * 256 + i as u64),
                )
                .map_err(merkle)?;
            if stored.0 != leaf_hash(entry) {
                return Err(TlogError::Inconsistent {
                    path,
                    reason: format!("entry {i} does not hash to the leaf in its tile"),
                });
            }
        }
    }

    // Stored hashes of every new entry, and the entry bundles they fill.
    let mut writes = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let n = old_size + i as u64;
        let leaf = tlog_tiles::record_hash(entry.as_ref());
        let stored = tlog_tiles::stored_hashes_for_record_hash(n, leaf, &hashes).map_err(merkle)?;
        hashes.new.extend(stored);
        bundle.push(entry.as_ref().to_vec());
        let filled = (n + 1).is_multiple_of(u64::from(TILE_WIDTH));
        if filled || n + 1 == new_size {
            let width = bundle.len() as u16;
            writes.push((
                entries_path(n / u64::from(TILE_WIDTH), width),
                encode_bundle(&bundle)?,
            ));
            if filled {
                bundle.clear();
            }
        }
    }

    for tile in Tile::new_tiles(TILE_HEIGHT, old_size, new_size) {
        let data = tile.read_data(&hashes).map_err(merkle)?;
        let path = tile_path(tile.level(), tile.level_index(), tile.width() as u16);
        writes.push((path, data));
    }
    let root = if new_size == 0 {
        EMPTY_ROOT
    } else {
        tlog_tiles::tree_hash(new_size, &hashes).map_err(merkle)?.0
    };
    Ok(Appended {
        writes,
        size: new_size,
        root,
    })
}

/// What [`check_log`] found: the root the stored entries hash to, and how much it compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCheck {
    pub size: u64,
    pub root: Hash,
    /// Entry bundles read and re-hashed.
    pub bundles: u64,
    /// Hash tiles compared byte for byte with the ones rebuilt from the entries.
    pub tiles: u64,
}

/// The stored partial tiles of the tree built so far (what the next [`append`] step reads).
struct Overlay<'a> {
    files: &'a HashMap<String, Vec<u8>>,
}

impl TileStore for Overlay<'_> {
    fn read(&self, path: &str) -> std::io::Result<Option<Vec<u8>>> {
        Ok(self.files.get(path).cloned())
    }
}

/// Re-hashes a whole log of `size` entries from its stored entry bundles (one bundle at a time,
/// in bounded memory) and compares every full hash tile, and each partial tile of the tree of
/// `size`, with the one in `store`. Returns the root, for the caller to compare with the
/// checkpoint of that size (older checkpoints: with [`super::check_consistency`]).
pub fn check_log(store: &impl TileStore, size: u64) -> Result<LogCheck> {
    super::check_size(size)?;
    let mut done = 0u64;
    let mut root = EMPTY_ROOT;
    let mut partial: HashMap<String, Vec<u8>> = HashMap::new();
    let mut check = LogCheck {
        size,
        root,
        bundles: 0,
        tiles: 0,
    };
    while done < size {
        let index = done / u64::from(TILE_WIDTH);
        let width = (size - done).min(u64::from(TILE_WIDTH)) as u16;
        let path = entries_path(index, width);
        let entries = decode_bundle(&read_required(store, &path)?, width, &path)?;
        check.bundles += 1;
        let step = append(&Overlay { files: &partial }, done, &root, &entries)?;
        for (path, bytes) in step.writes {
            let parsed = LogPath::parse(&path)?;
            let is_tile = matches!(parsed, LogPath::Tile { .. });
            if is_tile && parsed.is_immutable() {
                let stored = read_required(store, &path)?;
                if stored != bytes {
                    return Err(TlogError::Inconsistent {
                        path,
                        reason: "it differs from the tile rebuilt from the entries".into(),
                    });
                }
                check.tiles += 1;
            }
            if is_tile && !parsed.is_immutable() {
                partial.insert(path, bytes);
            }
        }
        done = step.size;
        root = step.root;
        // Keep only the partial tiles of the tree built so far.
        partial.retain(|path, _| match LogPath::parse(path) {
            Ok(LogPath::Tile {
                level,
                index,
                width,
            }) => {
                partial_width(done, level) == Some(width)
                    && index == done >> (u32::from(TILE_HEIGHT) * (u32::from(level) + 1))
            }
            _ => false,
        });
    }
    // What is left are the partial tiles of the tree of `size`, which the store must have too.
    for (path, bytes) in partial {
        if read_required(store, &path)? != bytes {
            return Err(TlogError::Inconsistent {
                path,
                reason: "it differs from the tile rebuilt from the entries".into(),
            });
        }
        check.tiles += 1;
    }
    check.root = root;
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlog::MemoryTiles;

    fn entry(i: u64) -> Vec<u8> {
        format!("entry {i}").into_bytes()
    }

    #[test]
    fn partial_widths_follow_c2sp() {
        // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial
        // level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width 17,
        // and one partial level 2 tile of width 1"
        assert_eq!(partial_width(70_000, 0), Some(112));
        assert_eq!(partial_width(70_000, 1), Some(17));
        assert_eq!(partial_width(70_000, 2), Some(1));
        assert_eq!(partial_width(70_000, 3), None);
        assert_eq!(partial_width(256, 0), None);
        assert_eq!(partial_width(256, 1), Some(1));
        assert_eq!(partial_width(u64::MAX, 7), Some(255));
    }

    #[test]
    fn a_tree_of_70000_has_the_tiles_c2sp_lists() {
        let entries: Vec<Vec<u8>> = (0..70_000).map(entry).collect();
        let appended = append(&MemoryTiles::default(), 0, &EMPTY_ROOT, &entries).expect("append");
        let tiles: Vec<&str> = appended
            .writes
            .iter()
            .map(|(p, _)| p.as_str())
            .filter(|p| !p.starts_with("tile/entries/"))
            .collect();
        let full0 = tiles
            .iter()
            .filter(|p| p.starts_with("tile/0/") && !p.contains(".p/"));
        assert_eq!(full0.count(), 273);
        assert!(tiles.contains(&"tile/0/273.p/112"));
        assert!(tiles.contains(&"tile/1/000"));
        assert!(tiles.contains(&"tile/1/001.p/17"));
        assert!(tiles.contains(&"tile/2/000.p/1"));
        assert_eq!(tiles.len(), 273 + 4);
        let bundles = appended.writes.len() - tiles.len();
        assert_eq!(bundles, 274);
    }

    #[test]
    fn a_store_that_does_not_match_the_old_root_is_refused() {
        let entries: Vec<Vec<u8>> = (0..300).map(entry).collect();
        let mut store = MemoryTiles::default();
        let first = append(&store, 0, &EMPTY_ROOT, &entries).expect("append");
        store.write_all(&first.writes);
        let mut wrong = first.root;
        wrong[0] ^= 1;
        assert!(matches!(
            append(&store, 300, &wrong, &[b"x"]),
            Err(TlogError::Inconsistent { .. })
        ));
        let mut altered = store.clone();
        altered.files.get_mut("tile/0/001.p/44").expect("tile")[5] ^= 1;
        assert!(append(&altered, 300, &first.root, &[b"x"]).is_err());
        let mut altered = store.clone();
        altered.write(
            "tile/entries/001.p/44",
            &encode_bundle(&(256..300).map(|i| entry(i + 1)).collect::<Vec<_>>()).expect("b"),
        );
        assert!(matches!(
            append(&altered, 300, &first.root, &[b"x"]),
            Err(TlogError::Inconsistent { .. })
        ));
        let mut missing = store.clone();
        missing.files.remove("tile/1/000.p/1");
        assert!(matches!(
            append(&missing, 300, &first.root, &[b"x"]),
            Err(TlogError::Missing { .. })
        ));
    }
}
