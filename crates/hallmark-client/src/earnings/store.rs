//! The earnings store: one SQLite file, `earnings.sqlite`, in the data folder the shell passes in,
//! holding per marketplace what `earnings fetch` downloaded, as the exact bytes received.
//!
//! Nothing here is trusted: `verify` re-checks every byte against the pinned key and the log each
//! time, so a store edited by hand (a changed amount, a dropped receipt) shows up as findings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use hallmark_core::earnings::verify::{PublishedVersion, StoredReceipt, StoredStatement};
use hallmark_core::tlog::{HASH_SIZE, Hash, MemoryTiles};
use rust_decimal::Decimal;
use sqlx::Row;
use sqlx::sqlite::SqlitePool;

/// The store's file name in the data folder it is given.
pub const STORE_FILE: &str = "earnings.sqlite";

/// What went wrong with the store file.
#[derive(Debug, thiserror::Error)]
#[error(
    "the earnings store {} cannot be used: {detail}; check that the folder is writable, or move the file away and fetch again",
    path.display()
)]
pub struct StoreError {
    pub path: PathBuf,
    pub detail: String,
}

/// The payout state of a statement, as the marketplace reported it (untrusted, shown as told).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PayoutState {
    /// `pending` or `paid`.
    pub status: String,
    pub reference: Option<String>,
    pub paid_at: Option<String>,
}

/// A marketplace as first fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketRecord {
    /// Its did:key when the store first fetched from it.
    pub marketplace: String,
    pub creator: String,
    /// The log's origin (the checkpoints' first line).
    pub log_origin: String,
}

/// Everything stored for one marketplace, read back for verification.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    /// By sequence.
    pub statements: Vec<StoredStatement>,
    /// By statement id.
    pub payouts: BTreeMap<String, PayoutState>,
    /// By log index.
    pub receipts: Vec<StoredReceipt>,
    /// In the order first seen.
    pub checkpoints: Vec<String>,
    pub consistency: BTreeMap<(u64, u64), Vec<Hash>>,
    pub tiles: MemoryTiles,
    pub versions: Vec<PublishedVersion>,
}

impl Stored {
    /// The ids of the statements the marketplace says it paid.
    pub fn paid(&self) -> BTreeSet<String> {
        self.payouts
            .iter()
            .filter(|(_, p)| p.status == "paid")
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// Whether a statement was new, the same again, or different bytes under a stored sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    New,
    Same,
    /// Other bytes than those stored: the stored ones are kept (the marketplace rewrote history).
    Different,
}

/// The earnings store.
#[derive(Debug, Clone)]
pub struct EarningsStore {
    pool: SqlitePool,
    path: PathBuf,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS markets (origin TEXT PRIMARY KEY, marketplace TEXT NOT NULL,
        creator TEXT NOT NULL, log_origin TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS statements (origin TEXT NOT NULL, sequence INTEGER NOT NULL,
        id TEXT NOT NULL, body BLOB NOT NULL, payout_status TEXT NOT NULL, payout_reference TEXT,
        paid_at TEXT, PRIMARY KEY (origin, sequence))",
    // Receipts in pages (one per `put_receipts` call, at most RECEIPTS_PER_PAGE): their log
    // indexes (u64 little-endian each, ascending), where each one's bytes end in `bodies` (u32
    // little-endian each) and their exact bytes, concatenated.
    "CREATE TABLE IF NOT EXISTS receipt_pages (origin TEXT NOT NULL, first_index INTEGER NOT NULL,
        last_index INTEGER NOT NULL, indexes BLOB NOT NULL, ends BLOB NOT NULL,
        bodies BLOB NOT NULL, PRIMARY KEY (origin, first_index))",
    "CREATE TABLE IF NOT EXISTS checkpoints (seen INTEGER PRIMARY KEY AUTOINCREMENT,
        origin TEXT NOT NULL, note TEXT NOT NULL, UNIQUE (origin, note))",
    "CREATE TABLE IF NOT EXISTS consistency (origin TEXT NOT NULL, old_size INTEGER NOT NULL,
        new_size INTEGER NOT NULL, hashes BLOB NOT NULL, PRIMARY KEY (origin, old_size, new_size))",
    "CREATE TABLE IF NOT EXISTS tiles (origin TEXT NOT NULL, path TEXT NOT NULL,
        bytes BLOB NOT NULL, PRIMARY KEY (origin, path))",
    "CREATE TABLE IF NOT EXISTS versions (origin TEXT NOT NULL, version TEXT NOT NULL,
        price TEXT NOT NULL, currency TEXT NOT NULL, shards TEXT NOT NULL, source TEXT NOT NULL,
        PRIMARY KEY (origin, version))",
];

/// The store's layout, as `PRAGMA user_version`: 2 since receipts are stored in pages. A file with
/// another version (or an unversioned one that already holds tables) is refused, never rewritten.
const SCHEMA_VERSION: i64 = 2;

/// The most receipts stored in one page.
const RECEIPTS_PER_PAGE: usize = 1000;

/// An unsigned integer as SQLite stores it.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl EarningsStore {
    /// Opens (or creates) the store in the folder `data_dir`, which is created if needed.
    pub async fn open(data_dir: &Path) -> Result<EarningsStore, StoreError> {
        let path = data_dir.join(STORE_FILE);
        let fail = |detail: String| StoreError {
            path: path.clone(),
            detail,
        };
        let pool = crate::sqlite::open(&path).await.map_err(fail)?;
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&pool)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let tables: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'")
                .fetch_one(&pool)
                .await
                .map_err(|e| fail(e.to_string()))?;
        if version != SCHEMA_VERSION && !(version == 0 && tables == 0) {
            return Err(fail(format!(
                "its layout is version {version}, this Hallmark reads version {SCHEMA_VERSION}"
            )));
        }
        for statement in SCHEMA {
            sqlx::query(statement)
                .execute(&pool)
                .await
                .map_err(|e| fail(e.to_string()))?;
        }
        sqlx::query(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
            .execute(&pool)
            .await
            .map_err(|e| fail(e.to_string()))?;
        Ok(EarningsStore { pool, path })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fail(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    fn damaged(&self, what: &str) -> StoreError {
        self.fail(format!("{what} is damaged"))
    }

    /// The marketplace record of `origin`, if anything was fetched from it.
    pub async fn market(&self, origin: &str) -> Result<Option<MarketRecord>, StoreError> {
        let row =
            sqlx::query("SELECT marketplace, creator, log_origin FROM markets WHERE origin = ?1")
                .bind(origin)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        Ok(row.map(|row| MarketRecord {
            marketplace: row.get("marketplace"),
            creator: row.get("creator"),
            log_origin: row.get("log_origin"),
        }))
    }

    /// Records `origin`'s marketplace (kept from the first fetch on).
    pub async fn set_market(&self, origin: &str, record: &MarketRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO markets (origin, marketplace, creator, log_origin) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (origin) DO NOTHING",
        )
        .bind(origin)
        .bind(&record.marketplace)
        .bind(&record.creator)
        .bind(&record.log_origin)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Where the next statements page starts: after the last statement stored, or before the
    /// first one still pending payout (so payouts are refreshed).
    pub async fn statements_after(&self, origin: &str) -> Result<u64, StoreError> {
        let row = sqlx::query(
            "SELECT MAX(sequence) AS last,
                    MIN(CASE WHEN payout_status != 'paid' THEN sequence END) AS pending
             FROM statements WHERE origin = ?1",
        )
        .bind(origin)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        let last: Option<i64> = row.get("last");
        let pending: Option<i64> = row.get("pending");
        let after = match (last, pending) {
            (_, Some(pending)) => pending - 1,
            (Some(last), None) => last,
            (None, None) => 0,
        };
        Ok(u64::try_from(after).unwrap_or(0))
    }

    /// Stores statement `sequence` (its exact bytes) with its payout state; the payout state is
    /// refreshed, the bytes never replaced.
    pub async fn put_statement(
        &self,
        origin: &str,
        sequence: u64,
        id: &str,
        body: &[u8],
        payout: &PayoutState,
    ) -> Result<Put, StoreError> {
        let stored: Option<(String, Vec<u8>)> =
            sqlx::query_as("SELECT id, body FROM statements WHERE origin = ?1 AND sequence = ?2")
                .bind(origin)
                .bind(int(sequence))
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        let put = match &stored {
            None => Put::New,
            Some((stored_id, bytes)) if stored_id == id && bytes == body => Put::Same,
            Some(_) => return Ok(Put::Different),
        };
        sqlx::query(
            "INSERT INTO statements (origin, sequence, id, body, payout_status, payout_reference, paid_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (origin, sequence) DO UPDATE SET payout_status = ?5,
                payout_reference = ?6, paid_at = ?7",
        )
        .bind(origin)
        .bind(int(sequence))
        .bind(id)
        .bind(body)
        .bind(&payout.status)
        .bind(&payout.reference)
        .bind(&payout.paid_at)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(put)
    }

    /// The highest log index of a stored receipt.
    pub async fn last_receipt(&self, origin: &str) -> Result<Option<u64>, StoreError> {
        let last: Option<i64> =
            sqlx::query_scalar("SELECT MAX(last_index) FROM receipt_pages WHERE origin = ?1")
                .bind(origin)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        Ok(last.and_then(|n| u64::try_from(n).ok()))
    }

    /// Stores receipts (log index, exact bytes) in one transaction, as pages of at most
    /// [`RECEIPTS_PER_PAGE`]; ones already stored (or repeated in `receipts`) keep their first
    /// bytes. Returns how many were new.
    pub async fn put_receipts(
        &self,
        origin: &str,
        receipts: &[(u64, Vec<u8>)],
    ) -> Result<u64, StoreError> {
        let (Some(low), Some(high)) = (
            receipts.iter().map(|(i, _)| *i).min(),
            receipts.iter().map(|(i, _)| *i).max(),
        ) else {
            return Ok(0);
        };
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        let overlapping: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT indexes FROM receipt_pages
             WHERE origin = ?1 AND first_index <= ?3 AND last_index >= ?2",
        )
        .bind(origin)
        .bind(int(low))
        .bind(int(high))
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        let mut seen: BTreeSet<u64> = BTreeSet::new();
        for indexes in &overlapping {
            seen.extend(indexes_of(indexes).ok_or_else(|| self.damaged("a receipt page"))?);
        }
        let mut new: Vec<(u64, &[u8])> = receipts
            .iter()
            .filter(|(index, _)| seen.insert(*index))
            .map(|(index, body)| (*index, body.as_slice()))
            .collect();
        new.sort_by_key(|(index, _)| *index);
        for page in new.chunks(RECEIPTS_PER_PAGE) {
            let mut indexes = Vec::with_capacity(page.len() * 8);
            let mut ends = Vec::with_capacity(page.len() * 4);
            let mut bodies = Vec::with_capacity(page.iter().map(|(_, b)| b.len()).sum());
            for (index, body) in page {
                indexes.extend_from_slice(&index.to_le_bytes());
                bodies.extend_from_slice(body);
                let end = u32::try_from(bodies.len()).map_err(|_| self.fail("a page too large"))?;
                ends.extend_from_slice(&end.to_le_bytes());
            }
            sqlx::query(
                "INSERT INTO receipt_pages (origin, first_index, last_index, indexes, ends, bodies)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .bind(origin)
            .bind(int(page[0].0))
            .bind(int(page[page.len() - 1].0))
            .bind(indexes)
            .bind(ends)
            .bind(bodies)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        }
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(new.len() as u64)
    }

    /// Records a checkpoint seen (once per distinct note); true when new.
    pub async fn put_checkpoint(&self, origin: &str, note: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO checkpoints (origin, note) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )
        .bind(origin)
        .bind(note)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a consistency proof between two tree sizes.
    pub async fn put_consistency(
        &self,
        origin: &str,
        old_size: u64,
        new_size: u64,
        hashes: &[Hash],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO consistency (origin, old_size, new_size, hashes) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
        )
        .bind(origin)
        .bind(int(old_size))
        .bind(int(new_size))
        .bind(hashes.concat())
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// The paths of the tiles stored for `origin`.
    pub async fn tile_paths(&self, origin: &str) -> Result<BTreeSet<String>, StoreError> {
        let paths: Vec<String> = sqlx::query_scalar("SELECT path FROM tiles WHERE origin = ?1")
            .bind(origin)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(paths.into_iter().collect())
    }

    /// Stores a tile (kept as first received: full tiles and `.p/W` tiles never change).
    pub async fn put_tile(&self, origin: &str, path: &str, bytes: &[u8]) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tiles (origin, path, bytes) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )
        .bind(origin)
        .bind(path)
        .bind(bytes)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Records what the creator published as `version` and where that came from (`journal`:
    /// this studio's own publish record; `catalog`: the marketplace's catalog).
    pub async fn put_version(
        &self,
        origin: &str,
        version: &PublishedVersion,
        source: &str,
    ) -> Result<(), StoreError> {
        let shards: Vec<&str> = version.shards.iter().map(String::as_str).collect();
        sqlx::query(
            "INSERT INTO versions (origin, version, price, currency, shards, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (origin, version) DO UPDATE SET price = ?3, currency = ?4, shards = ?5,
                source = ?6",
        )
        .bind(origin)
        .bind(&version.version)
        .bind(version.price.to_string())
        .bind(&version.currency)
        .bind(shards.join("\n"))
        .bind(source)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Everything stored for `origin`.
    pub async fn load(&self, origin: &str) -> Result<Stored, StoreError> {
        let mut stored = Stored::default();
        let rows = sqlx::query(
            "SELECT id, body, payout_status, payout_reference, paid_at FROM statements
             WHERE origin = ?1 ORDER BY sequence",
        )
        .bind(origin)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        for row in rows {
            let id: String = row.get("id");
            stored.payouts.insert(
                id.clone(),
                PayoutState {
                    status: row.get("payout_status"),
                    reference: row.get("payout_reference"),
                    paid_at: row.get("paid_at"),
                },
            );
            stored.statements.push(StoredStatement {
                id,
                bytes: row.get("body"),
            });
        }
        let pages: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "SELECT indexes, ends, bodies FROM receipt_pages WHERE origin = ?1 ORDER BY first_index",
        )
        .bind(origin)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        let count = pages.iter().map(|(indexes, _, _)| indexes.len() / 8).sum();
        stored.receipts = Vec::with_capacity(count);
        for (indexes, ends, bodies) in pages {
            // Each receipt is a slice of its page's bodies, which it shares.
            let bodies = bytes::Bytes::from(bodies);
            let page = page_of(&indexes, &ends, bodies.len())
                .ok_or_else(|| self.damaged("a receipt page"))?;
            stored
                .receipts
                .extend(page.map(|(index, range)| StoredReceipt {
                    index,
                    bytes: bodies.slice(range),
                }));
        }
        // Pages are written in order, but one written later may fill a gap before another.
        if !stored.receipts.is_sorted_by_key(|r| r.index) {
            stored.receipts.sort_by_key(|r| r.index);
        }
        stored.checkpoints =
            sqlx::query_scalar("SELECT note FROM checkpoints WHERE origin = ?1 ORDER BY seen")
                .bind(origin)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        let rows: Vec<(i64, i64, Vec<u8>)> =
            sqlx::query_as("SELECT old_size, new_size, hashes FROM consistency WHERE origin = ?1")
                .bind(origin)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        for (old, new, bytes) in rows {
            if bytes.len() % HASH_SIZE != 0 {
                return Err(self.damaged("a consistency proof"));
            }
            let hashes = bytes
                .chunks_exact(HASH_SIZE)
                .map(|chunk| chunk.try_into().unwrap_or([0; HASH_SIZE]))
                .collect();
            stored
                .consistency
                .insert((old.max(0) as u64, new.max(0) as u64), hashes);
        }
        let rows: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT path, bytes FROM tiles WHERE origin = ?1")
                .bind(origin)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        stored.tiles.files = rows.into_iter().collect();
        let rows = sqlx::query(
            "SELECT version, price, currency, shards FROM versions WHERE origin = ?1 ORDER BY version",
        )
        .bind(origin)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        for row in rows {
            let price: String = row.get("price");
            let shards: String = row.get("shards");
            stored.versions.push(PublishedVersion {
                version: row.get("version"),
                price: Decimal::from_str(&price).map_err(|_| self.damaged("a version's price"))?,
                currency: row.get("currency"),
                shards: shards
                    .split('\n')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            });
        }
        Ok(stored)
    }
}

/// The log indexes of a page's `indexes` blob, if it is whole.
fn indexes_of(indexes: &[u8]) -> Option<impl Iterator<Item = u64> + '_> {
    indexes.len().is_multiple_of(8).then(|| {
        indexes
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
    })
}

/// A page's receipts (log index, where its exact bytes are in the page's `bodies` of
/// `bodies_len` bytes), if the three blobs agree with each other.
fn page_of<'a>(
    indexes: &'a [u8],
    ends: &'a [u8],
    bodies_len: usize,
) -> Option<impl Iterator<Item = (u64, std::ops::Range<usize>)> + 'a> {
    let count = indexes.len() / 8;
    let indexes = indexes_of(indexes)?;
    if !ends.len().is_multiple_of(4) || ends.len() / 4 != count {
        return None;
    }
    let ends: Vec<usize> = ends
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()) as usize)
        .collect();
    let mut start = 0;
    for &end in &ends {
        if end < start || end > bodies_len {
            return None;
        }
        start = end;
    }
    if start != bodies_len {
        return None;
    }
    let starts = std::iter::once(0).chain(ends.clone());
    Some(
        indexes
            .zip(starts.zip(ends))
            .map(|(index, (start, end))| (index, start..end)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn receipts_are_stored_in_pages_and_read_back_in_order() {
        let dir = tempfile::tempdir().expect("dir");
        let store = EarningsStore::open(dir.path()).await.expect("open");
        let o = "http://m";
        assert_eq!(store.last_receipt(o).await.expect("last"), None);
        let first: Vec<(u64, Vec<u8>)> = (0..2500u64)
            .filter(|i| i % 3 != 1)
            .map(|i| (i, format!("r{i}").into_bytes()))
            .collect();
        assert_eq!(store.put_receipts(o, &first).await.expect("put"), 1667);
        // Again, the gaps filled, one repeated with other bytes: only the gaps are new.
        let second: Vec<(u64, Vec<u8>)> = (0..2500u64)
            .rev()
            .map(|i| (i, format!("x{i}").into_bytes()))
            .chain([(1, b"y".to_vec())])
            .collect();
        assert_eq!(store.put_receipts(o, &second).await.expect("put"), 833);
        assert_eq!(store.put_receipts(o, &[]).await.expect("put"), 0);
        assert_eq!(store.last_receipt(o).await.expect("last"), Some(2499));
        let stored = store.load(o).await.expect("load");
        assert_eq!(stored.receipts.len(), 2500);
        for (n, r) in stored.receipts.iter().enumerate() {
            assert_eq!(r.index, n as u64);
            let mark = if n % 3 == 1 { 'x' } else { 'r' };
            assert_eq!(r.bytes, format!("{mark}{n}").into_bytes());
        }
        assert!(
            store
                .load("http://other")
                .await
                .expect("load")
                .receipts
                .is_empty()
        );
    }

    #[tokio::test]
    async fn another_layout_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        drop(EarningsStore::open(dir.path()).await.expect("open"));
        let pool = crate::sqlite::open(&dir.path().join(STORE_FILE))
            .await
            .expect("raw");
        sqlx::query("PRAGMA user_version = 1")
            .execute(&pool)
            .await
            .expect("set");
        pool.close().await;
        let error = EarningsStore::open(dir.path()).await.expect_err("refused");
        assert!(error.detail.contains("version 1"), "{error}");
        // An unversioned file that already holds tables (an older layout) is refused too.
        let other = tempfile::tempdir().expect("dir");
        let pool = crate::sqlite::open(&other.path().join(STORE_FILE))
            .await
            .expect("raw");
        sqlx::query("CREATE TABLE receipts (origin TEXT)")
            .execute(&pool)
            .await
            .expect("old");
        pool.close().await;
        assert!(EarningsStore::open(other.path()).await.is_err());
    }
}
