//! Metering: turns each paid access that delivered its bytes into exactly one durable receipt.
//!
//! Handlers call [`Meter::charge`] once the bytes of a response are out but its last chunk is held
//! back; the chunk is sent only when the receipt is committed. A response cut short is charged,
//! after the fact, for the samples whose bytes it did deliver. One writer task takes every waiting
//! charge in one transaction (group commit: one fsync for many receipts, not one each) and gives
//! each receipt the next index of the receipt log, so indexes are dense and in commit order.
//!
//! An access is (token, shard, requested range): the table `accesses` keeps how many of its
//! samples are billed, so a retry after a cut bills only the rest and a repeat bills nothing.

use hallmark_core::digest::Sha256Digest;
use hallmark_core::earnings::{ByteRange, Receipt, money};
use hmac::{KeyInit as _, Mac as _};
use rust_decimal::Decimal;
use tokio::sync::{mpsc, oneshot};

use crate::error::{ApiError, ApiResult};

/// The most charges one transaction commits.
pub const MAX_BATCH: usize = 4096;
/// How many charges may wait for the writer before callers wait to hand theirs over.
const QUEUE: usize = 16 * 1024;

/// One paid access whose bytes were delivered (all but the held-back last chunk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The access token's id: with shard and range, what makes a retry the same access.
    pub token_id: String,
    pub entitlement_id: String,
    pub buyer_id: String,
    /// The creator's did:key.
    pub creator: String,
    pub dataset_id: String,
    pub version_id: String,
    /// The shard's CID.
    pub shard: String,
    /// The range the request asked for (the whole shard when it named none): with token and
    /// shard, what makes a retry the same access.
    pub requested: ByteRange,
    /// The bytes this response delivered: `requested`, or a prefix of it when cut short.
    pub range: ByteRange,
    /// Samples whose bytes `range` covers (at least 1: a response covering none is free).
    pub samples: u64,
    /// The entitlement's terms: price per sample, currency, creator share rate.
    pub price: Decimal,
    pub currency: String,
    pub share_rate: Decimal,
}

/// What [`Meter::charge`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charged {
    /// A new receipt, at this index of the log.
    New { receipt_id: String, log_index: u64 },
    /// The access's samples were billed before (a repeat): no new receipt.
    AlreadyBilled,
}

struct Job {
    access: Access,
    reply: oneshot::Sender<ApiResult<Charged>>,
}

/// The handle handlers charge through; cheap to clone.
#[derive(Debug, Clone)]
pub struct Meter {
    jobs: mpsc::Sender<Job>,
    /// Woken after each commit that added receipts (the log sequencer waits on it).
    pub committed: std::sync::Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("access", &self.access).finish()
    }
}

impl Meter {
    /// Charges `access`: returns once its receipt (or the earlier one of the same access) is
    /// committed to the database.
    pub async fn charge(&self, access: Access) -> ApiResult<Charged> {
        let (reply, answer) = oneshot::channel();
        let stopped = || ApiError::internal("metering an access", "the meter has stopped");
        self.jobs
            .send(Job { access, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Starts the writer task over `state`'s database; the task ends when every [`Meter`] is dropped.
pub(crate) fn start(
    db: crate::db::Db,
    clock: std::sync::Arc<dyn crate::Clock>,
    identity: &hallmark_core::did::SigningIdentity,
) -> Meter {
    let (jobs, mut queue) = mpsc::channel::<Job>(QUEUE);
    let committed = std::sync::Arc::new(tokio::sync::Notify::new());
    let writer = Writer {
        db,
        clock,
        marketplace: identity.public().to_string(),
        pseudonyms: pseudonym_key(identity),
        next_index: None,
        committed: committed.clone(),
    };
    tokio::spawn(async move {
        let mut writer = writer;
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
            writer.commit(std::mem::take(&mut batch)).await;
        }
    });
    Meter { jobs, committed }
}

/// The key of buyer pseudonyms: derived from the marketplace's key by signing a fixed message
/// (Ed25519 signatures are deterministic), so every node with the key agrees and no file is added.
fn pseudonym_key(identity: &hallmark_core::did::SigningIdentity) -> [u8; 32] {
    let signature = identity.sign(b"hallmark-market buyer pseudonym key v1");
    Sha256Digest::of(&signature.to_bytes()).0
}

/// The buyer as `creator` sees them: stable for that creator, unlinkable across creators.
pub fn pseudonym(key: &[u8; 32], creator: &str, buyer_id: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(creator.as_bytes());
    mac.update(&[0]);
    mac.update(buyer_id.as_bytes());
    let tag = mac.finalize().into_bytes();
    format!("b_{}", hex::encode(&tag[..16]))
}

struct Writer {
    db: crate::db::Db,
    clock: std::sync::Arc<dyn crate::Clock>,
    marketplace: String,
    pseudonyms: [u8; 32],
    /// The next log index; read from the database when unknown (at start, after a failed commit).
    next_index: Option<u64>,
    committed: std::sync::Arc<tokio::sync::Notify>,
}

impl Writer {
    async fn commit(&mut self, batch: Vec<Job>) {
        let mut outcomes = Vec::with_capacity(batch.len());
        let result = self.write(&batch, &mut outcomes).await;
        match result {
            Ok(added) => {
                if added {
                    self.committed.notify_one();
                }
                for (job, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = job.reply.send(outcome);
                }
            }
            Err(error) => {
                self.next_index = None;
                for job in batch {
                    let _ = job.reply.send(Err(error.clone()));
                }
            }
        }
    }

    /// Writes the batch in one transaction; `outcomes` gets one answer per job, in order.
    async fn write(
        &mut self,
        batch: &[Job],
        outcomes: &mut Vec<ApiResult<Charged>>,
    ) -> ApiResult<bool> {
        let mut next = match self.next_index {
            Some(next) => next,
            None => next_log_index(&self.db).await?,
        };
        let first = next;
        let now = self.clock.now();
        let time = crate::clock::rfc3339(now);
        let mut tx = self.db.pool.begin().await?;
        // Take SQLite's write lock first (waiting out the busy timeout): a transaction that reads
        // before it writes fails at once with SQLITE_BUSY when another connection wrote meanwhile.
        sqlx::query("DELETE FROM accesses WHERE 1 = 0")
            .execute(&mut *tx)
            .await?;
        for job in batch {
            let access = &job.access;
            let key = access_key(access);
            let billed: Option<i64> =
                sqlx::query_scalar("SELECT samples FROM accesses WHERE access_key = $1")
                    .bind(&key)
                    .fetch_optional(&mut *tx)
                    .await?;
            let billed = billed.map_or(0, |b| b as u64);
            if access.samples <= billed {
                outcomes.push(Ok(Charged::AlreadyBilled));
                continue;
            }
            // Only what was not billed yet: after a cut, the rest; the first time, all.
            let receipt = match self.receipt(access, access.samples - billed, &time) {
                Ok(receipt) => receipt,
                Err(error) => {
                    outcomes.push(Err(error));
                    continue;
                }
            };
            let body = String::from_utf8(receipt.canonical_bytes())
                .map_err(|e| ApiError::internal("writing a receipt", e))?;
            sqlx::query(
                "INSERT INTO receipts (id, log_index, access_key, creator, buyer_id, \
                 entitlement_id, version_id, created_at, body, commitment) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&receipt.id)
            .bind(next as i64)
            .bind(&key)
            .bind(&access.creator)
            .bind(&access.buyer_id)
            .bind(&access.entitlement_id)
            .bind(&access.version_id)
            .bind(now.unix_timestamp())
            .bind(&body)
            .bind(receipt.commitment().hex())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO accesses (access_key, samples) VALUES ($1, $2) \
                 ON CONFLICT (access_key) DO UPDATE SET samples = excluded.samples",
            )
            .bind(&key)
            .bind(access.samples as i64)
            .execute(&mut *tx)
            .await?;
            outcomes.push(Ok(Charged::New {
                receipt_id: receipt.id,
                log_index: next,
            }));
            next += 1;
        }
        tx.commit().await?;
        self.next_index = Some(next);
        Ok(next > first)
    }

    /// The receipt for `samples` of `access`'s samples.
    fn receipt(&self, access: &Access, samples: u64, time: &str) -> ApiResult<Receipt> {
        let invalid = |e: money::MoneyError| ApiError::internal("pricing an access", e);
        let amount = money::amount(samples, access.price).map_err(invalid)?;
        let receipt = Receipt {
            id: format!("r_{}", hex::encode(crate::random_bytes::<16>())),
            time: time.into(),
            marketplace: self.marketplace.clone(),
            creator: access.creator.clone(),
            dataset: access.dataset_id.clone(),
            version: access.version_id.clone(),
            shard: access.shard.clone(),
            range: access.range,
            samples,
            buyer: pseudonym(&self.pseudonyms, &access.creator, &access.buyer_id),
            price: access.price,
            amount,
            share_rate: access.share_rate,
            creator_share: money::creator_share(amount, access.share_rate).map_err(invalid)?,
            currency: access.currency.clone(),
        };
        receipt
            .check()
            .map_err(|e| ApiError::internal("writing a receipt", e))?;
        Ok(receipt)
    }
}

/// What makes two requests the same access: token, shard and requested range.
pub fn access_key(access: &Access) -> String {
    let key = format!(
        "{}\n{}\n{}\n{}",
        access.token_id, access.shard, access.requested.first, access.requested.last
    );
    Sha256Digest::of(key.as_bytes()).hex()
}

/// One past the highest log index in the receipts table (0 when there is none).
pub async fn next_log_index(db: &crate::db::Db) -> ApiResult<u64> {
    let highest: Option<i64> = sqlx::query_scalar("SELECT MAX(log_index) FROM receipts")
        .fetch_one(&db.pool)
        .await?;
    Ok(highest.map_or(0, |h| h as u64 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_per_creator() {
        let key = [7u8; 32];
        let a = pseudonym(&key, "did:key:alice", "buyer-1");
        assert_eq!(a, pseudonym(&key, "did:key:alice", "buyer-1"));
        assert_ne!(a, pseudonym(&key, "did:key:bob", "buyer-1"));
        assert_ne!(a, pseudonym(&key, "did:key:alice", "buyer-2"));
        assert_ne!(a, pseudonym(&[8u8; 32], "did:key:alice", "buyer-1"));
        assert!(a.starts_with("b_") && a.len() == 34);
    }
}
