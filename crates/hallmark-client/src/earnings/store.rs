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
    "CREATE TABLE IF NOT EXISTS receipts (origin TEXT NOT NULL, log_index INTEGER NOT NULL,
        body BLOB NOT NULL, PRIMARY KEY (origin, log_index))",
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
        for statement in SCHEMA {
            sqlx::query(statement)
                .execute(&pool)
                .await
                .map_err(|e| fail(e.to_string()))?;
        }
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
            sqlx::query_scalar("SELECT MAX(log_index) FROM receipts WHERE origin = ?1")
                .bind(origin)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        Ok(last.and_then(|n| u64::try_from(n).ok()))
    }

    /// Stores receipts (log index, exact bytes) in one transaction; ones already stored are kept.
    /// Returns how many were new.
    pub async fn put_receipts(
        &self,
        origin: &str,
        receipts: &[(u64, Vec<u8>)],
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        let mut added = 0;
        for (index, body) in receipts {
            added += sqlx::query(
                "INSERT INTO receipts (origin, log_index, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (origin, log_index) DO NOTHING",
            )
            .bind(origin)
            .bind(int(*index))
            .bind(body.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?
            .rows_affected();
        }
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(added)
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
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT log_index, body FROM receipts WHERE origin = ?1 ORDER BY log_index",
        )
        .bind(origin)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        stored.receipts = rows
            .into_iter()
            .map(|(index, bytes)| StoredReceipt {
                index: u64::try_from(index).unwrap_or(u64::MAX),
                bytes,
            })
            .collect();
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
