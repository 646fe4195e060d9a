//! Resumable, verified shard uploads over tus 1.0.0 (core, creation, creation-with-upload,
//! termination, expiration, checksum with sha256), so that any tus client can upload, and the
//! call that tells a publisher which shards the marketplace still lacks.
//!
//! One upload per shard, named by its CID in `Upload-Metadata` (`cid`), whose SHA-256 and
//! `Upload-Length` are what the bytes must match before anything is stored under the shard's name
//! ([`store`]). A shard stored already completes at creation only for a creator who holds it
//! (who sent its bytes before); anyone else sends every byte like a first uploader, which proves
//! they have them, and the stored shard is not written again. Creating an upload for a CID the
//! same creator already has an unfinished upload for answers that upload's `Location` and offset,
//! so a client that lost its upload URL resumes instead of starting over. Each creator sees only
//! their own uploads: any other id answers 404. Expired uploads are removed whenever an upload is
//! created, and answer 410 until then.

pub mod store;
pub mod tus;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use base64::Engine;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use crate::auth::SignedIn;
use crate::error::{ApiError, ApiResult, ErrorBody};
use store::{Upload, WriteLock};

/// The most CIDs one `POST /v1/shards/missing` may ask about.
pub const MAX_MISSING_QUERY: usize = 262_144;
/// The largest body `POST /v1/shards/missing` reads (262,144 CIDs of 59 characters, quoted).
const MAX_MISSING_BODY: usize = 20 << 20;
/// How many CIDs one database query looks up.
const LOOKUP_BATCH: usize = 500;

/// Routes under `/v1/uploads` (tus) and `/v1/shards`.
pub fn routes() -> OpenApiRouter<AppState> {
    let tus = OpenApiRouter::new()
        .routes(routes!(options, create))
        .routes(routes!(status, append, terminate))
        .route_layer(axum::middleware::from_fn(tus::protocol));
    tus.routes(routes!(missing)).routes(routes!(stored))
}

/// Waits for the signed-in creator's turn to create an upload. Creations by one creator run one
/// at a time in this process, so counting their open uploads and adding one cannot interleave and
/// the limit holds under concurrent requests (the count in the database stays the check).
async fn creation_turn(creator: &str) -> tokio::sync::OwnedMutexGuard<()> {
    type Turns = HashMap<String, Weak<tokio::sync::Mutex<()>>>;
    static TURNS: OnceLock<Mutex<Turns>> = OnceLock::new();
    let turn = {
        let mut turns = TURNS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        turns.retain(|_, turn| turn.strong_count() > 0);
        match turns.get(creator).and_then(Weak::upgrade) {
            Some(turn) => turn,
            None => {
                let turn = Arc::new(tokio::sync::Mutex::new(()));
                turns.insert(creator.to_owned(), Arc::downgrade(&turn));
                turn
            }
        }
    };
    turn.lock_owned().await
}

fn random_id() -> String {
    hex::encode(crate::random_bytes::<16>())
}

/// Headers every answer about one upload carries.
fn upload_headers(state: &AppState, upload: &Upload, offset: u64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(tus::UPLOAD_OFFSET, HeaderValue::from(offset));
    if !upload.is_complete() && offset < upload.length() {
        let expires = upload
            .expires_at
            .max(state.now_unix() + state.config.limits.upload_ttl_seconds);
        if let Ok(value) = HeaderValue::from_str(&tus::http_date(expires)) {
            headers.insert(tus::UPLOAD_EXPIRES, value);
        }
    }
    headers
}

fn location(state: &AppState, id: &str) -> ApiResult<HeaderValue> {
    HeaderValue::from_str(&format!("{}/v1/uploads/{id}", state.config.public_url))
        .map_err(|e| ApiError::internal("naming an upload", e))
}

/// Says what this server's tus supports.
#[utoipa::path(options, path = "/v1/uploads", tag = "uploads",
    responses((status = 204, description = "What the tus endpoint supports",
        headers(
            ("Tus-Resumable" = String, description = "1.0.0"),
            ("Tus-Version" = String, description = "1.0.0"),
            ("Tus-Extension" = String, description = "creation,creation-with-upload,termination,expiration,checksum"),
            ("Tus-Max-Size" = u64, description = "The largest Upload-Length accepted, in bytes"),
            ("Tus-Checksum-Algorithm" = String, description = "sha256"),
        ))))]
async fn options(State(state): State<AppState>) -> (StatusCode, HeaderMap) {
    let mut headers = HeaderMap::new();
    headers.insert(tus::TUS_VERSION, HeaderValue::from_static(tus::VERSION));
    headers.insert(
        tus::TUS_EXTENSION,
        HeaderValue::from_static(tus::EXTENSIONS),
    );
    headers.insert(
        tus::TUS_MAX_SIZE,
        HeaderValue::from(state.config.limits.max_shard_bytes),
    );
    headers.insert(
        tus::TUS_CHECKSUM_ALGORITHM,
        HeaderValue::from_static("sha256"),
    );
    (StatusCode::NO_CONTENT, headers)
}

/// Creates an upload for one shard, named by its CID; with `Content-Type:
/// application/offset+octet-stream` the body is the shard's first bytes (creation-with-upload).
#[utoipa::path(post, path = "/v1/uploads", tag = "uploads",
    security(("bearer" = [])),
    params(
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Length" = u64, Header, description = "The shard's size in bytes; at most Tus-Max-Size"),
        ("Upload-Metadata" = String, Header, description = "`cid BASE64(CID)`: the shard's CIDv1 (raw, sha2-256, base32 `bafkrei…`); other keys are kept and ignored"),
        ("Upload-Checksum" = Option<String>, Header, description = "`sha256 BASE64(DIGEST)` of the body, when it carries data"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream",
        description = "Optional: the shard's first bytes"),
    responses(
        (status = 201, description = "Created (or the creator's unfinished upload of this CID, or complete at once when the shard is stored and the creator sent its bytes before)",
            headers(
                ("Location" = String, description = "The upload's URL"),
                ("Upload-Offset" = u64, description = "Bytes stored so far"),
                ("Upload-Expires" = String, description = "When an unfinished upload is removed"),
                ("Tus-Resumable" = String, description = "1.0.0"),
            )),
        (status = 400, description = "No, repeated or malformed Upload-Length or Upload-Metadata cid; Upload-Defer-Length; the shard's digest does not match its CID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 412, description = "Tus-Resumable is not 1.0.0", body = ErrorBody),
        (status = 413, description = "Upload-Length is over the marketplace's shard limit", body = ErrorBody),
        (status = 429, description = "Too many unfinished uploads, or too many bytes declared by them", body = ErrorBody),
        (status = 460, description = "The body does not match Upload-Checksum", body = ErrorBody),
        (status = 507, description = "The marketplace's disk is too full for this upload (nothing started), or filled while writing the body (what was checkpointed is kept)", body = ErrorBody),
    ))]
async fn create(
    State(state): State<AppState>,
    signed_in: SignedIn,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, HeaderMap)> {
    crate::auth::require_registered(&state, &signed_in).await?;
    if headers.contains_key(tus::UPLOAD_DEFER_LENGTH) {
        return Err(ApiError::bad_request(
            "defer_length",
            "Upload-Defer-Length is not supported: a shard's size is known, send it as Upload-Length",
        ));
    }
    let length = tus::number(&headers, &tus::UPLOAD_LENGTH)?.ok_or_else(|| {
        ApiError::bad_request(
            "no_length",
            "send the shard's size in bytes as Upload-Length",
        )
    })?;
    let metadata = tus::text(&headers, &tus::UPLOAD_METADATA)?.unwrap_or_default();
    let cid_bytes = tus::metadata(metadata)?
        .into_iter()
        .find(|(key, _)| key == "cid")
        .map(|(_, value)| value)
        .ok_or_else(|| {
            ApiError::bad_request(
                "no_cid",
                "Upload-Metadata has no cid: send `cid BASE64(CID)` with the shard's CID (bafkrei…)",
            )
        })?;
    let cid = String::from_utf8_lossy(&cid_bytes).into_owned();
    let digest = tus::parse_cid(&cid).ok_or_else(|| {
        ApiError::bad_request(
            "bad_cid",
            format!(
                "Upload-Metadata's cid {:?} is not a shard CID: expected a CIDv1 with the raw codec and a sha2-256 \
                 hash in lower-case base32, as Hallmark names shards (bafkrei…, 59 characters)",
                cid.chars().take(80).collect::<String>()
            ),
        )
    })?;
    let limits = &state.config.limits;
    if length > limits.max_shard_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "shard_too_large",
            format!(
                "Upload-Length {length} is more than this marketplace's limit of {} bytes per shard; seal with smaller shards",
                limits.max_shard_bytes
            ),
        ));
    }
    let checksum = tus::checksum(&headers)?;
    let with_data = tus::carries_upload_data(&headers);
    store::remove_expired(&state).await?;
    let now = state.now_unix();
    let db = &state.db.pool;

    // A shard stored already completes at once for a creator who holds it; anyone else must
    // send its bytes (storage is deduplicated, the proof of possession is not).
    let stored: Option<i64> = sqlx::query_scalar("SELECT size FROM shards WHERE cid = $1")
        .bind(&cid)
        .fetch_optional(db)
        .await?;
    // Only a holder learns that a shard is stored (and its size): to anyone else a stored and an
    // unknown CID look the same, and a wrong length shows as a wrong digest at the last byte.
    let holder = stored.is_some() && store::holds(&state, &cid, &signed_in.did).await?;
    if let Some(size) = stored.filter(|_| holder)
        && u64::try_from(size).ok() != Some(length)
    {
        return Err(ApiError::bad_request(
            "wrong_length",
            format!(
                "shard {cid} is {size} bytes, but Upload-Length says {length}; send the shard's exact size"
            ),
        ));
    }
    if holder {
        let upload = insert(
            &state,
            &signed_in.did,
            &cid,
            &digest.hex(),
            length,
            metadata,
            None,
            Some(now),
        )
        .await?;
        return created(&state, &upload, length);
    }

    // From here to the new row, one creation per creator at a time (the open-upload limit).
    let turn = creation_turn(&signed_in.did).await;
    // The creator's own unfinished upload of this shard is resumed, not duplicated.
    let open = sqlx::query_as::<_, Upload>(&format!(
        "SELECT {} FROM uploads WHERE creator = $1 AND cid = $2 AND completed_at IS NULL \
         AND expires_at > $3 ORDER BY created_at LIMIT 1",
        store::COLUMNS
    ))
    .bind(&signed_in.did)
    .bind(&cid)
    .bind(now)
    .fetch_optional(db)
    .await?;
    if let Some(upload) = open {
        let upload = store::complete_if_full(&state, upload).await?;
        if upload.length() != length {
            return Err(ApiError::conflict(
                "wrong_length",
                format!(
                    "your unfinished upload of {cid} declared Upload-Length {}, not {length}; send the shard's exact size",
                    upload.length
                ),
            ));
        }
        drop(turn);
        if with_data && upload.upload_offset == 0 {
            return write_then_answer(state, upload, body, checksum, StatusCode::CREATED).await;
        }
        let offset = upload.offset();
        return created(&state, &upload, offset);
    }

    let (count, pending): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(length), 0) AS BIGINT) FROM uploads WHERE creator = $1 AND completed_at IS NULL AND expires_at > $2",
    )
    .bind(&signed_in.did)
    .bind(now)
    .fetch_one(db)
    .await?;
    if count >= i64::from(limits.max_open_uploads) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_uploads",
            format!(
                "you have {count} unfinished uploads, the most this marketplace allows per creator ({}); \
                 finish or DELETE some before starting another",
                limits.max_open_uploads
            ),
        ));
    }
    let pending = u64::try_from(pending).unwrap_or(0);
    if pending.saturating_add(length) > limits.max_pending_bytes {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_pending_bytes",
            format!(
                "your unfinished uploads declare {pending} bytes; {length} more would pass this marketplace's limit of {} \
                 bytes per creator: finish or DELETE some before starting another",
                limits.max_pending_bytes
            ),
        ));
    }

    if length == 0 {
        // Only the empty shard has no bytes: its digest is checked here and it is stored now.
        if digest != hallmark_core::digest::Sha256Digest::of(b"") {
            return Err(ApiError::bad_request(
                "digest_mismatch",
                format!("Upload-Length is 0, but {cid} is not the CID of zero bytes"),
            ));
        }
        store::store_empty(&state, &cid).await?;
        let upload = insert(
            &state,
            &signed_in.did,
            &cid,
            &digest.hex(),
            0,
            metadata,
            None,
            Some(now),
        )
        .await?;
        store::record_shard(&state, &upload).await?;
        return created(&state, &upload, 0);
    }

    store::ensure_room(&state, length).await?;
    let multipart = match state.blobs.multipart() {
        Some(s3) => Some(
            object_store::multipart::MultipartStore::create_multipart(
                s3.as_ref(),
                &state.blobs.shard(&cid),
            )
            .await
            .map_err(|e| ApiError::internal("starting an S3 multipart upload", e))?,
        ),
        None => None,
    };
    let upload = insert(
        &state,
        &signed_in.did,
        &cid,
        &digest.hex(),
        length,
        metadata,
        multipart,
        None,
    )
    .await?;
    drop(turn);
    if with_data {
        return write_then_answer(state, upload, body, checksum, StatusCode::CREATED).await;
    }
    created(&state, &upload, 0)
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    state: &AppState,
    creator: &str,
    cid: &str,
    sha256: &str,
    length: u64,
    metadata: &str,
    multipart: Option<String>,
    completed_at: Option<i64>,
) -> ApiResult<Upload> {
    let now = state.now_unix();
    let length = i64::try_from(length).unwrap_or(i64::MAX);
    let upload = Upload {
        id: random_id(),
        creator: creator.to_owned(),
        cid: cid.to_owned(),
        sha256: sha256.to_owned(),
        length,
        upload_offset: if completed_at.is_some() { length } else { 0 },
        hash_state: if completed_at.is_some() {
            String::new()
        } else {
            store::initial_hash_state()
        },
        metadata: metadata.to_owned(),
        created_at: now,
        expires_at: now + state.config.limits.upload_ttl_seconds,
        multipart_id: multipart,
        completed_at,
    };
    sqlx::query(&format!(
        "INSERT INTO uploads ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        store::COLUMNS
    ))
    .bind(&upload.id)
    .bind(&upload.creator)
    .bind(&upload.cid)
    .bind(&upload.sha256)
    .bind(upload.length)
    .bind(upload.upload_offset)
    .bind(&upload.hash_state)
    .bind(&upload.metadata)
    .bind(upload.created_at)
    .bind(upload.expires_at)
    .bind(&upload.multipart_id)
    .bind(upload.completed_at)
    .execute(&state.db.pool)
    .await?;
    Ok(upload)
}

fn created(state: &AppState, upload: &Upload, offset: u64) -> ApiResult<(StatusCode, HeaderMap)> {
    let mut headers = upload_headers(state, upload, offset);
    headers.insert(header::LOCATION, location(state, &upload.id)?);
    Ok((StatusCode::CREATED, headers))
}

/// The upload `id` of the signed-in creator, or 404; 410 (and removed) when it expired.
async fn owned(state: &AppState, id: &str, signed_in: &SignedIn) -> ApiResult<Upload> {
    let not_found = || ApiError::not_found(format_args!("upload {id}"));
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let upload = store::load(state, id, &signed_in.did)
        .await?
        .ok_or_else(not_found)?;
    if !upload.is_complete() && upload.expires_at <= state.now_unix() {
        if let Some(_lock) = WriteLock::claim(id) {
            store::discard(state, &upload).await?;
        }
        return Err(ApiError::new(
            StatusCode::GONE,
            "upload_expired",
            format!(
                "upload {id} expired at {} without being finished and was removed; create a new upload",
                tus::http_date(upload.expires_at)
            ),
        ));
    }
    Ok(upload)
}

/// Writes `body` into `upload` in a task of its own (so what arrives is made durable even when
/// the client goes away mid-request), then answers with the new offset.
async fn write_then_answer(
    state: AppState,
    upload: Upload,
    body: Body,
    checksum: Option<[u8; 32]>,
    status: StatusCode,
) -> ApiResult<(StatusCode, HeaderMap)> {
    let lock = WriteLock::claim(&upload.id).ok_or_else(store::locked)?;
    let task_state = state.clone();
    let task_upload = upload.clone();
    let written = tokio::spawn(async move {
        let _lock = lock;
        store::write(task_state, task_upload, body, checksum).await
    })
    .await
    .map_err(|e| ApiError::internal("writing an upload", e))??;
    let mut answered = upload;
    answered.expires_at = written.expires_at.unwrap_or(answered.expires_at);
    if written.expires_at.is_none() {
        answered.completed_at = Some(state.now_unix());
    }
    let mut headers = upload_headers(&state, &answered, written.offset);
    if status == StatusCode::CREATED {
        headers.insert(header::LOCATION, location(&state, &answered.id)?);
    }
    Ok((status, headers))
}

/// An upload's offset: how many bytes are stored durably, where the next PATCH starts. An upload
/// that holds all its bytes but was not stored (a crash or failure before the commit) is
/// verified and stored first, so the offset equals the length only for a stored shard.
#[utoipa::path(head, path = "/v1/uploads/{id}", tag = "uploads",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The upload id from Location"),
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
    ),
    responses(
        (status = 200, description = "The upload's state",
            headers(
                ("Upload-Offset" = u64, description = "Bytes stored durably"),
                ("Upload-Length" = u64, description = "The shard's size"),
                ("Upload-Metadata" = String, description = "As sent at creation"),
                ("Upload-Expires" = String, description = "When it is removed if unfinished"),
                ("Cache-Control" = String, description = "no-store"),
                ("Tus-Resumable" = String, description = "1.0.0"),
            )),
        (status = 400, description = "All its bytes had arrived but do not match the CID: the upload was deleted"),
        (status = 404, description = "No such upload of yours"),
        (status = 410, description = "The upload expired and was removed"),
        (status = 412, description = "Tus-Resumable is not 1.0.0"),
        (status = 507, description = "All its bytes had arrived, but the marketplace's disk is too full to store the shard; the upload is kept"),
    ))]
async fn status(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, HeaderMap)> {
    let upload = owned(&state, &id, &signed_in).await?;
    let upload = store::complete_if_full(&state, upload).await?;
    let mut headers = upload_headers(&state, &upload, upload.offset());
    headers.insert(tus::UPLOAD_LENGTH, HeaderValue::from(upload.length()));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if !upload.metadata.is_empty()
        && let Ok(value) = HeaderValue::from_str(&upload.metadata)
    {
        headers.insert(tus::UPLOAD_METADATA, value);
    }
    Ok((StatusCode::OK, headers))
}

/// Appends the body at `Upload-Offset`. The shard is stored when its last byte arrives, if its
/// SHA-256 and size match the CID; otherwise the upload is deleted and the answer says why.
#[utoipa::path(patch, path = "/v1/uploads/{id}", tag = "uploads",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The upload id from Location"),
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Offset" = u64, Header, description = "Where this body starts: the offset HEAD gives"),
        ("Upload-Checksum" = Option<String>, Header, description = "`sha256 BASE64(DIGEST)` of this body; on a mismatch none of it is kept"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses(
        (status = 204, description = "Appended (and, at the last byte, verified and stored)",
            headers(
                ("Upload-Offset" = u64, description = "The new offset"),
                ("Upload-Expires" = String, description = "When it is removed if unfinished"),
                ("Tus-Resumable" = String, description = "1.0.0"),
            )),
        (status = 400, description = "Bad or repeated headers; a body past Upload-Length (refused before writing when its Content-Length says so; otherwise nothing after the last checkpoint is kept, and a shard whose last checkpoint reached its length is stored); a body cut short (what arrived is kept); or the shard's digest does not match its CID (the upload is deleted)", body = ErrorBody),
        (status = 404, description = "No such upload of yours", body = ErrorBody),
        (status = 408, description = "The body sent nothing for a minute (Limits::body_idle_seconds) and was ended; what arrived is kept", body = ErrorBody),
        (status = 409, description = "Upload-Offset is not the upload's offset (the message names it)", body = ErrorBody),
        (status = 410, description = "The upload expired and was removed", body = ErrorBody),
        (status = 412, description = "Tus-Resumable is not 1.0.0", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/offset+octet-stream", body = ErrorBody),
        (status = 423, description = "Another request is writing to this upload", body = ErrorBody),
        (status = 460, description = "The body does not match Upload-Checksum; none of it was kept", body = ErrorBody),
        (status = 507, description = "The marketplace's disk is full: the upload is kept up to the offset named (its last checkpoint); resume later", body = ErrorBody),
    ))]
async fn append(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, HeaderMap)> {
    if !tus::carries_upload_data(&headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type",
            "a PATCH must send Content-Type: application/offset+octet-stream",
        ));
    }
    let offset = tus::number(&headers, &tus::UPLOAD_OFFSET)?.ok_or_else(|| {
        ApiError::bad_request(
            "no_offset",
            "send Upload-Offset: the offset HEAD gives for this upload",
        )
    })?;
    let checksum = tus::checksum(&headers)?;
    let upload = owned(&state, &id, &signed_in).await?;
    let upload = store::complete_if_full(&state, upload).await?;
    if offset != upload.offset() {
        return Err(ApiError::conflict(
            "wrong_offset",
            format!(
                "Upload-Offset is {offset}, but upload {id} has {} bytes: send the bytes from offset {}",
                upload.offset(),
                upload.offset()
            ),
        ));
    }
    if upload.is_complete() {
        return Ok((
            StatusCode::NO_CONTENT,
            upload_headers(&state, &upload, upload.offset()),
        ));
    }
    write_then_answer(state, upload, body, checksum, StatusCode::NO_CONTENT).await
}

/// Ends an upload: its partial bytes (and S3 multipart upload) are removed. A stored shard stays.
#[utoipa::path(delete, path = "/v1/uploads/{id}", tag = "uploads",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The upload id from Location"),
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
    ),
    responses(
        (status = 204, description = "Terminated"),
        (status = 404, description = "No such upload of yours", body = ErrorBody),
        (status = 410, description = "The upload expired and was removed", body = ErrorBody),
        (status = 412, description = "Tus-Resumable is not 1.0.0", body = ErrorBody),
        (status = 423, description = "Another request is writing to this upload", body = ErrorBody),
    ))]
async fn terminate(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let upload = owned(&state, &id, &signed_in).await?;
    let _lock = WriteLock::claim(&upload.id).ok_or_else(store::locked)?;
    store::discard(&state, &upload).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which shards to look for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct MissingQuery {
    /// Shard CIDs (bafkrei…), at most 262,144.
    pub cids: Vec<String>,
}

/// The shards the caller still needs to upload.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct MissingShards {
    /// The asked CIDs you do not hold (not stored, or stored from someone else's upload), in
    /// the order asked, each once: upload these.
    pub missing: Vec<String>,
}

/// Lists which of these shards you still need to upload: those the marketplace does not store,
/// and those it stores but you never sent (a version lists only shards its creator sent).
#[utoipa::path(post, path = "/v1/shards/missing", tag = "uploads",
    security(("bearer" = [])),
    request_body = MissingQuery,
    responses(
        (status = 200, description = "Which of these shards you still need to upload", body = MissingShards),
        (status = 400, description = "Not JSON, more than 262,144 CIDs, or CIDs that are not shard CIDs (named)", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn missing(
    State(state): State<AppState>,
    signed_in: SignedIn,
    body: Body,
) -> ApiResult<Json<MissingShards>> {
    // A full question (262,144 CIDs) takes tens of MiB to parse and look up: two at a time keep
    // the server's memory bounded however many are asked at once (the rest wait their turn).
    static ANSWERING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    let _turn = ANSWERING
        .acquire()
        .await
        .map_err(|e| ApiError::internal("waiting to answer", e))?;
    let bytes = axum::body::to_bytes(body, MAX_MISSING_BODY)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is over {MAX_MISSING_BODY} bytes; ask about at most {MAX_MISSING_QUERY} CIDs at a time"),
            )
        })?;
    let query: MissingQuery = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(
            "bad_json",
            format!("the body is not {{\"cids\": [\"bafkrei…\", …]}}: {e}"),
        )
    })?;
    if query.cids.len() > MAX_MISSING_QUERY {
        return Err(ApiError::bad_request(
            "too_many_cids",
            format!(
                "{} CIDs asked about; ask about at most {MAX_MISSING_QUERY} at a time",
                query.cids.len()
            ),
        ));
    }
    let invalid: Vec<String> = query
        .cids
        .iter()
        .enumerate()
        .filter(|(_, cid)| tus::parse_cid(cid).is_none())
        .map(|(i, cid)| format!("#{i} {:?}", cid.chars().take(80).collect::<String>()))
        .collect();
    if !invalid.is_empty() {
        let shown = invalid
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let more = invalid.len().saturating_sub(5);
        return Err(ApiError::bad_request(
            "bad_cid",
            format!(
                "{} of the cids are not shard CIDs (CIDv1, raw, sha2-256, base32 bafkrei…): {shown}{}",
                invalid.len(),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ),
        ));
    }
    let mut wanted: Vec<String> = Vec::with_capacity(query.cids.len());
    let mut seen = std::collections::HashSet::new();
    for cid in query.cids {
        if seen.insert(cid.clone()) {
            wanted.push(cid);
        }
    }
    let mut held = std::collections::HashSet::new();
    for batch in wanted.chunks(LOOKUP_BATCH) {
        let placeholders = (2..=batch.len() + 1)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT h.cid FROM shard_holders h JOIN shards s ON s.cid = h.cid \
             WHERE h.creator = $1 AND h.cid IN ({placeholders})"
        );
        let mut lookup = sqlx::query_scalar::<_, String>(&sql).bind(&signed_in.did);
        for cid in batch {
            lookup = lookup.bind(cid);
        }
        held.extend(lookup.fetch_all(&state.db.pool).await?);
    }
    Ok(Json(MissingShards {
        missing: wanted
            .into_iter()
            .filter(|cid| !held.contains(cid))
            .collect(),
    }))
}

/// The base64 form tus metadata values take, for clients and tests.
pub fn metadata_value(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A shard as the marketplace stores it now: its size and SHA-256 read from storage.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredShard {
    pub cid: String,
    /// Bytes read from storage.
    pub size: u64,
    /// SHA-256 (hex) of the bytes read from storage, computed for this answer.
    pub sha256: String,
}

/// Reads a shard you sent back from storage and answers its size and SHA-256, computed now: how a
/// creator checks that what is stored is what was sealed (`hallmark publish --check`).
#[utoipa::path(get, path = "/v1/creator/shards/{cid}", tag = "uploads",
    security(("bearer" = [])),
    params(("cid" = String, Path, description = "The shard's CID")),
    responses(
        (status = 200, description = "The stored shard's size and SHA-256", body = StoredShard),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such shard from you", body = ErrorBody),
    ))]
async fn stored(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(cid): Path<String>,
) -> ApiResult<Json<StoredShard>> {
    use futures_util::StreamExt;
    use sha2::Digest;
    // Reading a shard back costs its whole size in I/O: two at a time in this process.
    static READING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    if tus::parse_cid(&cid).is_none() {
        return Err(ApiError::bad_request(
            "bad_cid",
            "not a shard CID (CIDv1, raw, sha2-256, base32 bafkrei…)",
        ));
    }
    let held: Option<String> = sqlx::query_scalar(
        "SELECT h.cid FROM shard_holders h JOIN shards s ON s.cid = h.cid WHERE h.creator = $1 AND h.cid = $2",
    )
    .bind(&signed_in.did)
    .bind(&cid)
    .fetch_optional(&state.db.pool)
    .await?;
    if held.is_none() {
        return Err(ApiError::not_found(format!("shard {cid} from you")));
    }
    let _turn = READING
        .acquire()
        .await
        .map_err(|e| ApiError::internal("waiting to read a shard", e))?;
    let got = match state.blobs.store.get(&state.blobs.shard(&cid)).await {
        Ok(got) => got,
        // Recorded but gone from storage: for the creator, not stored (publish again sends it).
        Err(object_store::Error::NotFound { .. }) => {
            return Err(ApiError::not_found(format!("shard {cid} in storage")));
        }
        Err(e) => return Err(ApiError::internal("reading a stored shard", e)),
    };
    let mut stream = got.into_stream();
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::internal("reading a stored shard", e))?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
    }
    Ok(Json(StoredShard {
        cid,
        size,
        sha256: hex::encode(hasher.finalize()),
    }))
}
