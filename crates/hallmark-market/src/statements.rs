//! Statements: when a period closes (a UTC day by default), each creator with receipts in it gets
//! one statement, signed by the marketplace, anchored to a checkpoint whose tree holds every
//! receipt it counts, and chained to the creator's previous statement. Also the creator's reading
//! endpoints (statements, receipts) and the payout state (`hallmark-market payout`).

use axum::Json;
use axum::extract::{Query, State};
use hallmark_core::digest::Sha256Digest;
use hallmark_core::earnings::{Period, Receipt, statement};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use crate::auth::{self, SignedIn};
use crate::error::{ApiError, ApiResult, ErrorBody};

/// How often the marketplace looks for closed periods, in seconds.
pub const ISSUE_EVERY_SECONDS: u64 = 2;
/// How long after a period ends its statement waits, in seconds: receipts being committed at the
/// boundary land first. (A receipt that still came later is counted by the next statement.)
pub const GRACE_SECONDS: i64 = 5;
/// The most rows one page of receipts or statements holds.
pub const MAX_PAGE: i64 = 1000;

/// Issues every statement that is due: for each creator, each closed period with receipts not
/// yet counted, oldest first, once the log's latest checkpoint holds them. Returns how many.
pub async fn issue_due(state: &AppState) -> ApiResult<usize> {
    let period = state.config.statement_period_seconds as i64;
    let now = state.now_unix();
    let open_from = (now - GRACE_SECONDS).div_euclid(period) * period;
    let creators: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT creator FROM receipts WHERE statement_id IS NULL AND created_at < $1",
    )
    .bind(open_from)
    .fetch_all(&state.db.pool)
    .await?;
    let mut issued = 0;
    let mut failed = None;
    for creator in creators {
        // One creator's failure (logged by ApiError::internal) never holds up the others.
        loop {
            match issue_next(state, &creator, open_from).await {
                Ok(true) => issued += 1,
                Ok(false) => break,
                Err(error) => {
                    failed = Some(error);
                    break;
                }
            }
        }
    }
    match failed {
        Some(error) => Err(error),
        None => Ok(issued),
    }
}

/// Issues `creator`'s next statement if a closed period before `open_from` has uncounted
/// receipts and the log's checkpoint covers them; false when there is nothing to do yet.
async fn issue_next(state: &AppState, creator: &str, open_from: i64) -> ApiResult<bool> {
    let period = state.config.statement_period_seconds as i64;
    let earliest: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(created_at) FROM receipts WHERE creator = $1 AND statement_id IS NULL",
    )
    .bind(creator)
    .fetch_one(&state.db.pool)
    .await?;
    let Some(earliest) = earliest else {
        return Ok(false);
    };
    // A statement never covers time an earlier one did: receipts that arrive late for a stated
    // period (a clock stepped back, a slow commit, a changed period length) go into the next one.
    let stated_until: Option<i64> =
        sqlx::query_scalar("SELECT MAX(period_end) FROM statements WHERE creator = $1")
            .bind(creator)
            .fetch_one(&state.db.pool)
            .await?;
    let start = earliest
        .div_euclid(period)
        .saturating_mul(period)
        .max(stated_until.unwrap_or(i64::MIN));
    let end = start.div_euclid(period) * period + period;
    if end > open_from {
        return Ok(false);
    }
    // Every uncounted receipt before the period's end: late ones from earlier periods too.
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT log_index, body FROM receipts WHERE creator = $1 AND statement_id IS NULL \
         AND created_at < $2 ORDER BY log_index",
    )
    .bind(creator)
    .bind(end)
    .fetch_all(&state.db.pool)
    .await?;
    let Some(&(highest, _)) = rows.last() else {
        return Ok(false);
    };
    let checkpoint: Option<(i64, String)> = sqlx::query_as(
        "SELECT size, note FROM checkpoints WHERE size > $1 ORDER BY size DESC LIMIT 1",
    )
    .bind(highest)
    .fetch_optional(&state.db.pool)
    .await?;
    let Some((checkpoint_size, note)) = checkpoint else {
        // The log has not caught up with these receipts yet; the next round issues it.
        return Ok(false);
    };
    let mut receipts = Vec::with_capacity(rows.len());
    for (index, body) in &rows {
        let receipt = Receipt::from_json(body.as_bytes())
            .map_err(|e| ApiError::internal("reading a stored receipt", e))?;
        receipts.push((*index as u64, receipt));
    }
    let previous: Option<(i64, String)> = sqlx::query_as(
        "SELECT sequence, sha256 FROM statements WHERE creator = $1 ORDER BY sequence DESC LIMIT 1",
    )
    .bind(creator)
    .fetch_optional(&state.db.pool)
    .await?;
    let sequence = previous.as_ref().map_or(1, |(s, _)| *s as u64 + 1);
    let claims = statement::claims(
        creator,
        sequence,
        Period {
            start: crate::clock::rfc3339_from_unix(start),
            end: crate::clock::rfc3339_from_unix(end),
        },
        previous.map(|(_, sha256)| sha256),
        &receipts,
        note,
    )
    .map_err(|e| ApiError::internal("totalling a statement", e))?;
    let id = format!("s_{}", hex::encode(crate::random_bytes::<16>()));
    let signed = statement::issue(
        &state.identity,
        &format!("urn:hallmark:statement:{id}"),
        &claims,
        &state.now(),
    )
    .map_err(|e| ApiError::internal("signing a statement", e))?;
    let body =
        serde_json::to_string(&signed).map_err(|e| ApiError::internal("writing a statement", e))?;
    let mut tx = state.db.pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO statements (id, creator, sequence, period_start, period_end, body, sha256, \
         checkpoint_size, issued_at, payout_status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending')",
    )
    .bind(&id)
    .bind(creator)
    .bind(sequence as i64)
    .bind(start)
    .bind(end)
    .bind(&body)
    .bind(Sha256Digest::of(body.as_bytes()).hex())
    .bind(checkpoint_size)
    .bind(state.now_unix())
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {}
        // Another issuer (a second task, an admin's run) stated this period first.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    let counted = sqlx::query(
        "UPDATE receipts SET statement_id = $1 WHERE creator = $2 AND statement_id IS NULL \
         AND log_index <= $3 AND created_at < $4",
    )
    .bind(&id)
    .bind(creator)
    .bind(highest)
    .bind(end)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if counted != rows.len() as u64 {
        // Another issuer counted some of these meanwhile: leave it to the next round.
        tx.rollback().await?;
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

/// One statement as its creator reads it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatementRecord {
    pub id: String,
    pub sequence: u64,
    /// The period `[start, end)`, RFC 3339 UTC.
    pub period_start: String,
    pub period_end: String,
    /// The signed statement's exact bytes (a JSON document, as a string so no byte changes).
    pub document: String,
    /// SHA-256 of `document`: what the next statement's `previousStatement` names.
    pub sha256: String,
    pub payout: Payout,
}

/// Whether a statement was paid.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Payout {
    /// `pending` or `paid`.
    pub status: String,
    /// The payment's reference, once paid.
    pub reference: Option<String>,
    /// When it was marked paid, RFC 3339.
    pub paid_at: Option<String>,
}

/// A page of statements.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct StatementPage {
    pub statements: Vec<StatementRecord>,
}

/// One receipt as its creator reads it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptRecord {
    /// Its leaf index in the receipt log.
    pub log_index: u64,
    /// The receipt's JCS bytes; the log's entry is their SHA-256.
    pub document: String,
    /// The statement that counts it, once issued.
    pub statement: Option<String>,
}

/// A page of receipts.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReceiptPage {
    pub receipts: Vec<ReceiptRecord>,
}

/// Where a page starts and how long it is.
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    /// Only what comes after this (a statement sequence, or a receipt's log index); none for all.
    pub after: Option<u64>,
    /// At most this many (1–1000, default 1000).
    pub limit: Option<i64>,
}

impl PageQuery {
    fn bounds(&self) -> ApiResult<(i64, i64)> {
        let limit = self.limit.unwrap_or(MAX_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::bad_request(
                "bad_limit",
                format!("limit {limit} is out of range; ask for 1 to {MAX_PAGE}"),
            ));
        }
        let after = match self.after {
            Some(after) => i64::try_from(after).map_err(|_| {
                ApiError::bad_request("bad_after", "after is too large; pass a smaller number")
            })?,
            None => -1,
        };
        Ok((after, limit))
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_statements))
        .routes(routes!(my_receipts))
}

/// The signed-in creator's statements, by sequence.
#[utoipa::path(get, path = "/v1/creator/statements", tag = "earnings",
    params(PageQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "Statements after `after`, oldest first", body = StatementPage),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn my_statements(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<StatementPage>> {
    auth::require_registered(&state, &signed_in).await?;
    let (after, limit) = page.bounds()?;
    type Row = (
        String,
        i64,
        i64,
        i64,
        String,
        String,
        String,
        Option<String>,
        Option<i64>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, sequence, period_start, period_end, body, sha256, payout_status, \
         payout_reference, paid_at FROM statements WHERE creator = $1 AND sequence > $2 \
         ORDER BY sequence LIMIT $3",
    )
    .bind(&signed_in.did)
    .bind(after)
    .bind(limit)
    .fetch_all(&state.db.pool)
    .await?;
    let statements = rows
        .into_iter()
        .map(
            |(id, sequence, start, end, document, sha256, status, reference, paid_at)| {
                StatementRecord {
                    id,
                    sequence: sequence as u64,
                    period_start: crate::clock::rfc3339_from_unix(start),
                    period_end: crate::clock::rfc3339_from_unix(end),
                    document,
                    sha256,
                    payout: Payout {
                        status,
                        reference,
                        paid_at: paid_at.map(crate::clock::rfc3339_from_unix),
                    },
                }
            },
        )
        .collect();
    Ok(Json(StatementPage { statements }))
}

/// The signed-in creator's receipts, by log index: only their own, whole.
#[utoipa::path(get, path = "/v1/creator/receipts", tag = "earnings",
    params(PageQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "Receipts after log index `after`, in log order", body = ReceiptPage),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn my_receipts(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<ReceiptPage>> {
    auth::require_registered(&state, &signed_in).await?;
    let (after, limit) = page.bounds()?;
    let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(
        "SELECT log_index, body, statement_id FROM receipts WHERE creator = $1 AND log_index > $2 \
         ORDER BY log_index LIMIT $3",
    )
    .bind(&signed_in.did)
    .bind(after)
    .bind(limit)
    .fetch_all(&state.db.pool)
    .await?;
    let receipts = rows
        .into_iter()
        .map(|(index, document, statement)| ReceiptRecord {
            log_index: index as u64,
            document,
            statement,
        })
        .collect();
    Ok(Json(ReceiptPage { receipts }))
}

/// A statement as `payout list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PayoutLine {
    pub statement: String,
    pub creator: String,
    pub period_start: String,
    pub period_end: String,
    /// Per currency: the payable amount, e.g. `12.34 USD`.
    pub payable: Vec<String>,
    pub payout: Payout,
}

/// Statements with their payout state, oldest first; only pending ones when `pending_only`.
pub async fn payouts(db: &crate::db::Db, pending_only: bool) -> anyhow::Result<Vec<PayoutLine>> {
    type Row = (
        String,
        String,
        i64,
        i64,
        String,
        String,
        Option<String>,
        Option<i64>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, creator, period_start, period_end, body, payout_status, payout_reference, \
         paid_at FROM statements WHERE ($1 = 0 OR payout_status = 'pending') \
         ORDER BY issued_at, creator, sequence",
    )
    .bind(i64::from(pending_only))
    .fetch_all(&db.pool)
    .await?;
    let mut lines = Vec::with_capacity(rows.len());
    for (id, creator, start, end, body, status, reference, paid_at) in rows {
        let document: serde_json::Value = serde_json::from_str(&body)?;
        let claims: hallmark_core::earnings::StatementClaims =
            serde_json::from_value(document["credentialSubject"].clone())?;
        lines.push(PayoutLine {
            statement: id,
            creator,
            period_start: crate::clock::rfc3339_from_unix(start),
            period_end: crate::clock::rfc3339_from_unix(end),
            payable: claims
                .totals
                .iter()
                .map(|t| format!("{} {}", t.payable.unwrap_or_default(), t.currency))
                .collect(),
            payout: Payout {
                status,
                reference,
                paid_at: paid_at.map(crate::clock::rfc3339_from_unix),
            },
        });
    }
    Ok(lines)
}

/// The longest payment reference kept.
pub const MAX_REFERENCE_CHARS: usize = 200;

/// Marks statement `id` paid with the payment's `reference` at `now` (Unix seconds). Marking it
/// again with the same reference does nothing; with another reference it is refused.
pub async fn mark_paid(
    db: &crate::db::Db,
    id: &str,
    reference: &str,
    now: i64,
) -> anyhow::Result<()> {
    let reference = reference.trim();
    if reference.is_empty()
        || reference.chars().count() > MAX_REFERENCE_CHARS
        || reference.chars().any(char::is_control)
        || reference.chars().any(crate::creators::is_invisible)
    {
        anyhow::bail!(
            "--reference {reference:?}: give the payment's reference, 1 to {MAX_REFERENCE_CHARS} \
             characters without control or invisible characters"
        );
    }
    let current: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT payout_status, payout_reference FROM statements WHERE id = $1")
            .bind(id)
            .fetch_optional(&db.pool)
            .await?;
    match current {
        None => anyhow::bail!(
            "there is no statement {id:?}; `hallmark-market payout list` shows their ids"
        ),
        Some((status, Some(existing))) if status == "paid" => {
            if existing == reference {
                return Ok(());
            }
            anyhow::bail!(
                "statement {id} is already paid with reference {existing:?}; a payout is recorded once"
            )
        }
        Some(_) => {}
    }
    let marked = sqlx::query(
        "UPDATE statements SET payout_status = 'paid', payout_reference = $1, paid_at = $2 \
         WHERE id = $3 AND payout_status = 'pending'",
    )
    .bind(reference)
    .bind(now)
    .bind(id)
    .execute(&db.pool)
    .await?
    .rows_affected();
    if marked == 0 {
        // Someone marked it between the read and the update: the same reference is fine.
        let existing: Option<String> =
            sqlx::query_scalar("SELECT payout_reference FROM statements WHERE id = $1")
                .bind(id)
                .fetch_one(&db.pool)
                .await?;
        if existing.as_deref() != Some(reference) {
            anyhow::bail!(
                "statement {id} was just paid with reference {:?}; a payout is recorded once",
                existing.unwrap_or_default()
            );
        }
    }
    Ok(())
}
