//! An in-memory [`TileStore`] for tests and examples: path → bytes.

use std::collections::BTreeMap;
use std::io;

use super::TileStore;

/// Log files in memory, by C2SP path.
#[derive(Debug, Clone, Default)]
pub struct MemoryTiles {
    pub files: BTreeMap<String, Vec<u8>>,
}

impl MemoryTiles {
    /// Stores `bytes` at `path`, replacing what was there.
    pub fn write(&mut self, path: &str, bytes: &[u8]) {
        self.files.insert(path.to_owned(), bytes.to_vec());
    }

    /// Stores every `(path, bytes)` pair, in order.
    pub fn write_all(&mut self, writes: &[(String, Vec<u8>)]) {
        for (path, bytes) in writes {
            self.write(path, bytes);
        }
    }
}

impl TileStore for MemoryTiles {
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(self.files.get(path).cloned())
    }
}
