//! Metering: turns paid accesses into durable receipts, each sample paid for once per token.
//!
//! Handlers call [`Meter::charge`] once the bytes of a response are out but its last chunk is held
//! back; the chunk is sent only when the receipt is committed. A response cut short is charged,
//! after the fact, for the samples whose bytes it handed to the connection. One writer task takes
//! every waiting charge in one transaction (group commit: one fsync for many receipts, not one
//! each) and gives each receipt the next index of the receipt log, so indexes are dense and in
//! commit order.
//!
//! The unit billed is a sample of a shard under one access token: a charge bills only the samples
//! of its range that token has not paid for (a retry, a resumed download, overlapping segments, a
//! cut response charged late beside a completed retry: each sample once). Each receipt names one
//! contiguous run of samples and the bytes of exactly those samples, so a creator can check every
//! receipt against the published index.

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

/// One paid access whose bytes were delivered (all but the held-back last chunk), or the part of
/// one that a response cut short did deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The access token's id: a sample is paid for once per token.
    pub token_id: String,
    pub entitlement_id: String,
    pub buyer_id: String,
    /// The creator's did:key.
    pub creator: String,
    pub dataset_id: String,
    pub version_id: String,
    /// The shard's CID.
    pub shard: String,
    /// The range the request asked for (the whole shard when it named none), kept with each
    /// receipt as `access_key` so an operator can trace a receipt to its request.
    pub requested: ByteRange,
    /// The samples delivered, as indexes `from..=to` in shard order.
    pub samples: (usize, usize),
    /// The shard's sample spans: each receipt names the bytes of its samples.
    pub spans: std::sync::Arc<crate::spans::ShardSpans>,
    /// The entitlement's terms: price per sample, currency, creator share rate.
    pub price: Decimal,
    pub currency: String,
    pub share_rate: Decimal,
}

/// What [`Meter::charge`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charged {
    /// New receipts (one per run of samples not paid for yet): the first one's id and log index.
    New {
        receipt_id: String,
        log_index: u64,
        receipts: usize,
    },
    /// Every sample was paid for before under this token: no new receipt.
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
        sqlx::query("DELETE FROM receipts WHERE 1 = 0")
            .execute(&mut *tx)
            .await?;
        for job in batch {
            let access = &job.access;
            // The runs this token paid for are disjoint: the ones overlapping `from..=to` start
            // inside it, or are the one run that starts before it (two index range lookups).
            let (from, to) = (access.samples.0 as i64, access.samples.1 as i64);
            let mut paid: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT first_sample, last_sample FROM receipts WHERE token_id = $1 AND shard = $2 \
                 AND first_sample >= $3 AND first_sample <= $4",
            )
            .bind(&access.token_id)
            .bind(&access.shard)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *tx)
            .await?;
            let before: Option<(i64, i64)> = sqlx::query_as(
                "SELECT first_sample, last_sample FROM receipts WHERE token_id = $1 AND shard = $2 \
                 AND first_sample < $3 ORDER BY first_sample DESC LIMIT 1",
            )
            .bind(&access.token_id)
            .bind(&access.shard)
            .bind(from)
            .fetch_optional(&mut *tx)
            .await?;
            paid.extend(before);
            let runs = unpaid(access.samples, &paid);
            if runs.is_empty() {
                outcomes.push(Ok(Charged::AlreadyBilled));
                continue;
            }
            let mut first: Option<(String, u64)> = None;
            let mut failed = None;
            for &(from, to) in &runs {
                let receipt = match self.receipt(access, from, to, &time) {
                    Ok(receipt) => receipt,
                    Err(error) => {
                        failed = Some(error);
                        break;
                    }
                };
                let body = String::from_utf8(receipt.canonical_bytes())
                    .map_err(|e| ApiError::internal("writing a receipt", e))?;
                sqlx::query(
                    "INSERT INTO receipts (id, log_index, access_key, token_id, shard, first_sample, \
                     last_sample, creator, buyer_id, entitlement_id, version_id, created_at, body, \
                     commitment) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(&receipt.id)
                .bind(next as i64)
                .bind(access_key(access))
                .bind(&access.token_id)
                .bind(&access.shard)
                .bind(from as i64)
                .bind(to as i64)
                .bind(&access.creator)
                .bind(&access.buyer_id)
                .bind(&access.entitlement_id)
                .bind(&access.version_id)
                .bind(now.unix_timestamp())
                .bind(&body)
                .bind(receipt.commitment().hex())
                .execute(&mut *tx)
                .await?;
                first.get_or_insert((receipt.id, next));
                next += 1;
            }
            match (failed, first) {
                (Some(error), _) => return Err(error),
                (None, Some((receipt_id, log_index))) => outcomes.push(Ok(Charged::New {
                    receipt_id,
                    log_index,
                    receipts: runs.len(),
                })),
                (None, None) => outcomes.push(Ok(Charged::AlreadyBilled)),
            }
        }
        tx.commit().await?;
        self.next_index = Some(next);
        Ok(next > first)
    }

    /// The receipt for `access`'s samples `from..=to`, naming exactly their bytes.
    fn receipt(&self, access: &Access, from: usize, to: usize, time: &str) -> ApiResult<Receipt> {
        let invalid = |e: money::MoneyError| ApiError::internal("pricing an access", e);
        let samples = (to - from + 1) as u64;
        let amount = money::amount(samples, access.price).map_err(invalid)?;
        let (first, last) = access.spans.bytes_of(from, to);
        let receipt = Receipt {
            id: format!("r_{}", hex::encode(crate::random_bytes::<16>())),
            time: time.into(),
            marketplace: self.marketplace.clone(),
            creator: access.creator.clone(),
            dataset: access.dataset_id.clone(),
            version: access.version_id.clone(),
            shard: access.shard.clone(),
            range: ByteRange { first, last },
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

/// The runs of samples `from..=to` not among `paid` (inclusive index runs, any order).
fn unpaid((from, to): (usize, usize), paid: &[(i64, i64)]) -> Vec<(usize, usize)> {
    let mut paid: Vec<(usize, usize)> = paid
        .iter()
        .filter(|&&(a, b)| a >= 0 && b >= a)
        .map(|&(a, b)| (a as usize, b as usize))
        .collect();
    paid.sort_unstable();
    let mut runs = Vec::new();
    let mut next = from;
    for (a, b) in paid {
        if next > to {
            break;
        }
        if b < next {
            continue;
        }
        if a > next {
            runs.push((next, (a - 1).min(to)));
        }
        next = next.max(b + 1);
    }
    if next <= to {
        runs.push((next, to));
    }
    runs
}

/// The request a receipt came from: SHA-256 of token, shard and requested range.
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
    fn only_unpaid_runs_are_billed() {
        assert_eq!(unpaid((0, 9), &[]), vec![(0, 9)]);
        assert_eq!(unpaid((0, 9), &[(0, 9)]), vec![]);
        assert_eq!(unpaid((0, 9), &[(0, 2)]), vec![(3, 9)]);
        assert_eq!(unpaid((0, 9), &[(7, 12), (2, 3)]), vec![(0, 1), (4, 6)]);
        assert_eq!(unpaid((5, 5), &[(0, 4), (6, 8)]), vec![(5, 5)]);
        assert_eq!(unpaid((3, 6), &[(0, 3), (4, 4), (6, 9)]), vec![(5, 5)]);
        assert_eq!(unpaid((0, 3), &[(1, 1), (1, 2)]), vec![(0, 0), (3, 3)]);
    }

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
