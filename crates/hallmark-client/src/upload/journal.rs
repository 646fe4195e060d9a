//! The upload journal: one SQLite file recording, per marketplace and shard, the tus upload and the offset the server confirmed.
//!
//! A restarted upload reads it to continue where it stopped: it asks the server (HEAD) for the
//! offset of the recorded upload rather than trusting the journal's, and starts a new upload when
//! the server no longer has that one (404, 410). Mirrors to S3-compatible buckets record each
//! object's multipart upload id and the parts the bucket confirmed. The journal never holds shard
//! bytes, tokens or credentials.

use std::path::{Path, PathBuf};

use sqlx::Row;
use sqlx::sqlite::SqlitePool;

/// The journal's file name in the data folder it is given.
pub const JOURNAL_FILE: &str = "uploads.sqlite";

/// What went wrong with the journal file.
#[derive(Debug, thiserror::Error)]
#[error(
    "the upload journal {} cannot be used: {detail}; check that the folder is writable, or move the file away to start over (uploads then restart from what the marketplace holds)",
    path.display()
)]
pub struct JournalError {
    pub path: PathBuf,
    pub detail: String,
}

/// One shard's upload as the journal records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub cid: String,
    /// The tus upload's URL (`Location`).
    pub url: String,
    pub size: u64,
    /// The last offset the server confirmed (a PATCH answer or a HEAD).
    pub offset: u64,
    /// The server stored the whole shard.
    pub done: bool,
}

/// A publish this studio started: the terms it was asked for and, once listed, the version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishRecord {
    /// SHA-256 (hex) of the manifest published.
    pub manifest_sha256: String,
    /// The price per sample, a decimal string.
    pub price: String,
    pub currency: String,
    /// The marketplace's version id, once it listed the version.
    pub version_id: Option<String>,
}

/// The journal of uploads, shared by every stream of an upload (cheap to clone).
#[derive(Debug, Clone)]
pub struct Journal {
    pool: SqlitePool,
    path: PathBuf,
}

impl Journal {
    /// Opens (or creates) the journal in the folder `data_dir`, which is created if needed.
    pub async fn open(data_dir: &Path) -> Result<Journal, JournalError> {
        let path = data_dir.join(JOURNAL_FILE);
        let fail = |detail: String| JournalError {
            path: path.clone(),
            detail,
        };
        let pool = crate::sqlite::open(&path).await.map_err(fail)?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS uploads (
                origin TEXT NOT NULL,
                cid TEXT NOT NULL,
                url TEXT NOT NULL,
                size INTEGER NOT NULL,
                confirmed INTEGER NOT NULL,
                done INTEGER NOT NULL,
                PRIMARY KEY (origin, cid)
            )",
        )
        .execute(&pool)
        .await
        .map_err(|e| fail(e.to_string()))?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS publishes (
                origin TEXT NOT NULL,
                manifest_sha256 TEXT NOT NULL,
                price TEXT NOT NULL,
                currency TEXT NOT NULL,
                version_id TEXT,
                PRIMARY KEY (origin, manifest_sha256)
            )",
        )
        .execute(&pool)
        .await
        .map_err(|e| fail(e.to_string()))?;
        // Mirrors to S3-compatible buckets: each object's multipart upload (its id and part
        // size) and the parts the bucket confirmed, with the MD5 each was checked against.
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS mirror_uploads (
                target TEXT NOT NULL,
                key TEXT NOT NULL,
                size INTEGER NOT NULL,
                part_bytes INTEGER NOT NULL,
                upload_id TEXT NOT NULL,
                PRIMARY KEY (target, key)
            )",
        )
        .execute(&pool)
        .await
        .map_err(|e| fail(e.to_string()))?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS mirror_parts (
                target TEXT NOT NULL,
                key TEXT NOT NULL,
                upload_id TEXT NOT NULL,
                part INTEGER NOT NULL,
                etag TEXT NOT NULL,
                md5 TEXT NOT NULL,
                PRIMARY KEY (target, key, upload_id, part)
            )",
        )
        .execute(&pool)
        .await
        .map_err(|e| fail(e.to_string()))?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS mirror_objects (
                target TEXT NOT NULL,
                key TEXT NOT NULL,
                size INTEGER NOT NULL,
                etag TEXT NOT NULL,
                PRIMARY KEY (target, key)
            )",
        )
        .execute(&pool)
        .await
        .map_err(|e| fail(e.to_string()))?;
        Ok(Journal { pool, path })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fail(&self, e: sqlx::Error) -> JournalError {
        JournalError {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    /// The upload of `cid` to the marketplace at `origin`, if one is recorded.
    pub async fn entry(
        &self,
        origin: &str,
        cid: &str,
    ) -> Result<Option<JournalEntry>, JournalError> {
        let row = sqlx::query(
            "SELECT cid, url, size, confirmed, done FROM uploads WHERE origin = ?1 AND cid = ?2",
        )
        .bind(origin)
        .bind(cid)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(row.map(|row| entry_of(&row)))
    }

    /// Every upload recorded for `origin` (what an interrupted publish still needs).
    pub async fn entries(&self, origin: &str) -> Result<Vec<JournalEntry>, JournalError> {
        let rows = sqlx::query(
            "SELECT cid, url, size, confirmed, done FROM uploads WHERE origin = ?1 ORDER BY cid",
        )
        .bind(origin)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(rows.iter().map(entry_of).collect())
    }

    /// Records a new upload of `cid` at `url` (replacing any earlier one).
    pub async fn started(
        &self,
        origin: &str,
        cid: &str,
        url: &str,
        size: u64,
        offset: u64,
    ) -> Result<(), JournalError> {
        sqlx::query(
            "INSERT INTO uploads (origin, cid, url, size, confirmed, done) VALUES (?1, ?2, ?3, ?4, ?5, 0)
             ON CONFLICT (origin, cid) DO UPDATE SET url = ?3, size = ?4, confirmed = ?5, done = 0",
        )
        .bind(origin)
        .bind(cid)
        .bind(url)
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Records the offset the server confirmed, and whether that finished the shard.
    pub async fn confirmed(
        &self,
        origin: &str,
        cid: &str,
        offset: u64,
        done: bool,
    ) -> Result<(), JournalError> {
        sqlx::query("UPDATE uploads SET confirmed = ?3, done = ?4 WHERE origin = ?1 AND cid = ?2")
            .bind(origin)
            .bind(cid)
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .bind(done)
            .execute(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Forgets the upload of `cid` (the server lost it, or its bytes must not be resumed).
    pub async fn forget(&self, origin: &str, cid: &str) -> Result<(), JournalError> {
        sqlx::query("DELETE FROM uploads WHERE origin = ?1 AND cid = ?2")
            .bind(origin)
            .bind(cid)
            .execute(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}

impl Journal {
    /// Records that the manifest `manifest_sha256` is being published to `origin` at `price`
    /// `currency` (a publish run again without a price uses these). Until it is listed, new
    /// terms replace the earlier ones; once listed, its terms are the listed ones and stay.
    pub async fn intend(
        &self,
        origin: &str,
        manifest_sha256: &str,
        price: &str,
        currency: &str,
    ) -> Result<(), JournalError> {
        sqlx::query(
            "INSERT INTO publishes (origin, manifest_sha256, price, currency, version_id)
             VALUES (?1, ?2, ?3, ?4, NULL)
             ON CONFLICT (origin, manifest_sha256) DO UPDATE SET price = ?3, currency = ?4
             WHERE version_id IS NULL",
        )
        .bind(origin)
        .bind(manifest_sha256)
        .bind(price)
        .bind(currency)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Records the version id `origin` listed the manifest as.
    pub async fn published(
        &self,
        origin: &str,
        manifest_sha256: &str,
        version_id: &str,
    ) -> Result<(), JournalError> {
        sqlx::query(
            "UPDATE publishes SET version_id = ?3 WHERE origin = ?1 AND manifest_sha256 = ?2",
        )
        .bind(origin)
        .bind(manifest_sha256)
        .bind(version_id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// The publish of `manifest_sha256` to `origin`, if one was started here.
    pub async fn publish_record(
        &self,
        origin: &str,
        manifest_sha256: &str,
    ) -> Result<Option<PublishRecord>, JournalError> {
        let row = sqlx::query(
            "SELECT manifest_sha256, price, currency, version_id FROM publishes
             WHERE origin = ?1 AND manifest_sha256 = ?2",
        )
        .bind(origin)
        .bind(manifest_sha256)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(row.as_ref().map(publish_of))
    }

    /// Every publish started to `origin` that the marketplace has not listed yet (interrupted,
    /// paused or failed): what the next start offers to resume.
    pub async fn unlisted(&self, origin: &str) -> Result<Vec<PublishRecord>, JournalError> {
        let rows = sqlx::query(
            "SELECT manifest_sha256, price, currency, version_id FROM publishes
             WHERE origin = ?1 AND version_id IS NULL ORDER BY manifest_sha256",
        )
        .bind(origin)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(rows.iter().map(publish_of).collect())
    }

    /// Every publish to `origin` the marketplace listed (with its version id), by version id.
    pub async fn listed(&self, origin: &str) -> Result<Vec<PublishRecord>, JournalError> {
        let rows = sqlx::query(
            "SELECT manifest_sha256, price, currency, version_id FROM publishes
             WHERE origin = ?1 AND version_id IS NOT NULL ORDER BY version_id",
        )
        .bind(origin)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(rows.iter().map(publish_of).collect())
    }
}

fn publish_of(row: &sqlx::sqlite::SqliteRow) -> PublishRecord {
    PublishRecord {
        manifest_sha256: row.get("manifest_sha256"),
        price: row.get("price"),
        currency: row.get("currency"),
        version_id: row.get("version_id"),
    }
}

fn entry_of(row: &sqlx::sqlite::SqliteRow) -> JournalEntry {
    JournalEntry {
        cid: row.get("cid"),
        url: row.get("url"),
        size: u64::try_from(row.get::<i64, _>("size")).unwrap_or(0),
        offset: u64::try_from(row.get::<i64, _>("confirmed")).unwrap_or(0),
        done: row.get("done"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_survive_reopening_and_are_per_origin() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).await.unwrap();
        journal
            .started("http://a", "bafk1", "http://a/v1/uploads/1", 10, 0)
            .await
            .unwrap();
        journal
            .confirmed("http://a", "bafk1", 4, false)
            .await
            .unwrap();
        journal
            .started("http://b", "bafk1", "http://b/v1/uploads/9", 10, 0)
            .await
            .unwrap();
        drop(journal);
        let journal = Journal::open(dir.path()).await.unwrap();
        let entry = journal.entry("http://a", "bafk1").await.unwrap().unwrap();
        assert_eq!((entry.offset, entry.done), (4, false));
        assert_eq!(entry.url, "http://a/v1/uploads/1");
        journal.forget("http://a", "bafk1").await.unwrap();
        assert!(journal.entry("http://a", "bafk1").await.unwrap().is_none());
        assert_eq!(journal.entries("http://b").await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_publish_keeps_its_terms_and_then_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).await.unwrap();
        assert!(
            journal
                .publish_record("http://a", "ab")
                .await
                .unwrap()
                .is_none()
        );
        journal
            .intend("http://a", "ab", "0.002", "EUR")
            .await
            .unwrap();
        journal
            .intend("http://a", "ab", "0.003", "USD")
            .await
            .unwrap();
        journal.published("http://a", "ab", "v_1").await.unwrap();
        // Listed: other terms asked later (and refused by the marketplace) do not replace them.
        journal.intend("http://a", "ab", "9", "JPY").await.unwrap();
        drop(journal);
        let journal = Journal::open(dir.path()).await.unwrap();
        let record = journal
            .publish_record("http://a", "ab")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (record.price.as_str(), record.currency.as_str()),
            ("0.003", "USD")
        );
        assert_eq!(record.version_id.as_deref(), Some("v_1"));
        assert!(
            journal
                .publish_record("http://b", "ab")
                .await
                .unwrap()
                .is_none()
        );
    }
}

/// An object's multipart upload to a bucket as the journal records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorEntry {
    pub size: u64,
    pub part_bytes: u64,
    pub upload_id: String,
    /// Parts the bucket confirmed: (number from 1, ETag, MD5 hex of the part's bytes).
    pub parts: Vec<(u32, String, String)>,
}

impl Journal {
    /// The multipart upload of `key` to `target`, if one is recorded.
    pub async fn mirror_entry(
        &self,
        target: &str,
        key: &str,
    ) -> Result<Option<MirrorEntry>, JournalError> {
        let Some(row) = sqlx::query(
            "SELECT size, part_bytes, upload_id FROM mirror_uploads WHERE target = ?1 AND key = ?2",
        )
        .bind(target)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?
        else {
            return Ok(None);
        };
        let upload_id: String = row.get(2);
        let parts = sqlx::query(
            "SELECT part, etag, md5 FROM mirror_parts
             WHERE target = ?1 AND key = ?2 AND upload_id = ?3 ORDER BY part",
        )
        .bind(target)
        .bind(key)
        .bind(&upload_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?
        .iter()
        .filter_map(|row| {
            let part: i64 = row.get(0);
            Some((u32::try_from(part).ok()?, row.get(1), row.get(2)))
        })
        .collect();
        Ok(Some(MirrorEntry {
            size: u64::try_from(row.get::<i64, _>(0)).unwrap_or(0),
            part_bytes: u64::try_from(row.get::<i64, _>(1)).unwrap_or(0),
            upload_id,
            parts,
        }))
    }

    /// Records a new multipart upload of `key` to `target` (replacing any earlier one, and its parts).
    pub async fn mirror_started(
        &self,
        target: &str,
        key: &str,
        size: u64,
        part_bytes: u64,
        upload_id: &str,
    ) -> Result<(), JournalError> {
        self.mirror_forget(target, key).await?;
        sqlx::query(
            "INSERT INTO mirror_uploads (target, key, size, part_bytes, upload_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(target)
        .bind(key)
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .bind(i64::try_from(part_bytes).unwrap_or(i64::MAX))
        .bind(upload_id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Records a part the bucket confirmed.
    pub async fn mirror_part(
        &self,
        target: &str,
        key: &str,
        upload_id: &str,
        part: u32,
        etag: &str,
        md5: &str,
    ) -> Result<(), JournalError> {
        sqlx::query(
            "INSERT INTO mirror_parts (target, key, upload_id, part, etag, md5) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (target, key, upload_id, part) DO UPDATE SET etag = ?5, md5 = ?6",
        )
        .bind(target)
        .bind(key)
        .bind(upload_id)
        .bind(i64::from(part))
        .bind(etag)
        .bind(md5)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Forgets the multipart upload of `key` (completed, aborted, or lost by the bucket).
    pub async fn mirror_forget(&self, target: &str, key: &str) -> Result<(), JournalError> {
        for table in ["mirror_parts", "mirror_uploads"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE target = ?1 AND key = ?2"
            ))
            .bind(target)
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        }
        Ok(())
    }

    /// Records that the bucket holds `key` whole, with `size` bytes and ETag `etag` (checked
    /// against the bytes sent), and forgets its multipart upload.
    pub async fn mirror_finished(
        &self,
        target: &str,
        key: &str,
        size: u64,
        etag: &str,
    ) -> Result<(), JournalError> {
        self.mirror_forget(target, key).await?;
        sqlx::query(
            "INSERT INTO mirror_objects (target, key, size, etag) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (target, key) DO UPDATE SET size = ?3, etag = ?4",
        )
        .bind(target)
        .bind(key)
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .bind(etag)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// The size and ETag recorded for `key` when it was last sent whole, if any.
    pub async fn mirror_done(
        &self,
        target: &str,
        key: &str,
    ) -> Result<Option<(u64, String)>, JournalError> {
        let row =
            sqlx::query("SELECT size, etag FROM mirror_objects WHERE target = ?1 AND key = ?2")
                .bind(target)
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        Ok(row.map(|row| (u64::try_from(row.get::<i64, _>(0)).unwrap_or(0), row.get(1))))
    }
}
