//! Where an unfinished upload's bytes live and how they become a shard: hashed as they arrive,
//! written to a partial file (local store) or to S3 multipart parts of equal size spooled through a
//! local file (S3 store), made durable at checkpoints together with the SHA-256 state, and stored
//! under the shard's CID only once the digest and the size match.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::StatusCode;
use hallmark_core::digest::Sha256Digest;
use object_store::aws::AmazonS3;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutPayload};
use sha2::digest::common::hazmat::{SerializableState, SerializedState};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};

use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// Every S3 part but the last is exactly this long (R2 requires equal parts; S3's minimum is 5 MiB).
pub const PART_BYTES: u64 = 16 << 20;
/// A local upload is made durable (fsync, then the offset and hash state recorded) every this
/// many bytes, so a crash loses at most this much.
pub const CHECKPOINT_BYTES: u64 = 16 << 20;
/// Incoming bytes are gathered into writes of this size.
const WRITE_BUFFER_BYTES: usize = 1 << 20;
/// How many S3 parts are held in memory for sending at once, across all uploads (16 MiB each).
const PARTS_IN_FLIGHT: usize = 2;

/// An upload as the database keeps it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Upload {
    pub id: String,
    pub creator: String,
    pub cid: String,
    pub sha256: String,
    pub length: i64,
    pub upload_offset: i64,
    pub hash_state: String,
    pub metadata: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub multipart_id: Option<String>,
    pub completed_at: Option<i64>,
}

impl Upload {
    pub fn length(&self) -> u64 {
        u64::try_from(self.length).unwrap_or(0)
    }

    pub fn offset(&self) -> u64 {
        u64::try_from(self.upload_offset).unwrap_or(0)
    }

    pub fn is_complete(&self) -> bool {
        self.completed_at.is_some()
    }
}

/// The columns of [`Upload`], for queries.
pub const COLUMNS: &str = "id, creator, cid, sha256, length, upload_offset, hash_state, metadata, \
                           created_at, expires_at, multipart_id, completed_at";

/// The upload `id` if it belongs to `creator`.
pub async fn load(state: &AppState, id: &str, creator: &str) -> ApiResult<Option<Upload>> {
    Ok(sqlx::query_as::<_, Upload>(&format!(
        "SELECT {COLUMNS} FROM uploads WHERE id = $1 AND creator = $2"
    ))
    .bind(id)
    .bind(creator)
    .fetch_optional(&state.db.pool)
    .await?)
}

/// The serialized state of a fresh SHA-256, as an upload starts with.
pub fn initial_hash_state() -> String {
    hex::encode(Sha256::new().serialize())
}

fn restore_hasher(upload: &Upload) -> ApiResult<Sha256> {
    hex::decode(&upload.hash_state)
        .ok()
        .and_then(|bytes| SerializedState::<Sha256>::try_from(bytes.as_slice()).ok())
        .and_then(|serialized| Sha256::deserialize(&serialized).ok())
        .ok_or_else(|| {
            ApiError::internal(
                "restoring an upload's hash state",
                format!("upload {} has an unreadable hash state", upload.id),
            )
        })
}

/// Upload ids a request in this process is writing to: a second writer is refused at once.
fn writing() -> &'static Mutex<HashSet<String>> {
    static WRITING: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    WRITING.get_or_init(Default::default)
}

/// The right to write to one upload, held for one request.
#[derive(Debug)]
pub struct WriteLock(String);

impl WriteLock {
    /// `None` when another request is writing to `id`.
    pub fn claim(id: &str) -> Option<WriteLock> {
        let mut held = writing().lock().unwrap_or_else(|e| e.into_inner());
        held.insert(id.to_owned()).then(|| WriteLock(id.to_owned()))
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        writing()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.0);
    }
}

/// 423: another request is writing to this upload.
pub fn locked() -> ApiError {
    ApiError::new(
        StatusCode::LOCKED,
        "upload_busy",
        "another request is writing to this upload; wait for it to end, then HEAD the upload for its offset and resume",
    )
}

/// The folder of unfinished uploads' partial and spool files, in the data folder.
fn folder(state: &AppState) -> PathBuf {
    state.config.data_dir.join("uploads")
}

fn partial_file(state: &AppState, id: &str) -> PathBuf {
    folder(state).join(format!("{id}.partial"))
}

/// The spool of an S3 upload holding the bytes from part `part` on.
fn spool_file(state: &AppState, id: &str, part: u64) -> PathBuf {
    folder(state).join(format!("{id}-{part}.spool"))
}

fn io_error(context: &'static str) -> impl Fn(std::io::Error) -> ApiError {
    move |e| {
        if is_storage_full(&e) {
            eprintln!("hallmark-market: {context}: {e}");
            storage_full(None)
        } else {
            ApiError::internal(context, e)
        }
    }
}

/// Whether an I/O error means the volume (or the user's quota on it) is full.
fn is_storage_full(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// The code of [`storage_full`] errors.
pub const STORAGE_FULL: &str = "storage_full";

/// 507: the marketplace's disk is full. `kept` is the offset the upload keeps, when known.
pub fn storage_full(kept: Option<u64>) -> ApiError {
    let kept = match kept {
        Some(offset) => format!("the upload was kept up to offset {offset}"),
        None => "the upload was kept up to its last checkpoint (HEAD gives the offset)".to_owned(),
    };
    ApiError::new(
        StatusCode::INSUFFICIENT_STORAGE,
        STORAGE_FULL,
        format!(
            "the marketplace's disk is full; {kept}: resume it later, once its operator has made room"
        ),
    )
}

/// Below this much free space (or 2 % of the volume, whichever is smaller) no upload is started,
/// so the database and sign-in keep working when the disk fills.
pub const RESERVE_BYTES: u64 = 256 << 20;

/// Refuses (507) an upload of `length` bytes whose partial file would not fit on the uploads
/// folder's volume with the reserve left over, counting what the unfinished uploads still have to
/// write there. An S3 upload spools at most two parts locally.
pub async fn ensure_room(state: &AppState, length: u64) -> ApiResult<()> {
    let promised: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(length - upload_offset), 0) AS BIGINT) FROM uploads \
         WHERE completed_at IS NULL AND expires_at > $1",
    )
    .bind(state.now_unix())
    .fetch_one(&state.db.pool)
    .await?;
    let promised = u64::try_from(promised).unwrap_or(0);
    let folder = folder(state);
    std::fs::create_dir_all(&folder).map_err(io_error("creating the uploads folder"))?;
    let stats = rustix::fs::statvfs(&folder)
        .map_err(|e| ApiError::internal("measuring the free disk space", e))?;
    let free = stats.f_bavail.saturating_mul(stats.f_frsize);
    let total = stats.f_blocks.saturating_mul(stats.f_frsize);
    let reserve = RESERVE_BYTES.min(total / 50);
    let needed = match state.blobs.multipart() {
        Some(_) => length.min(2 * PART_BYTES),
        None => length.saturating_add(promised),
    };
    if needed.saturating_add(reserve) > free {
        return Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            STORAGE_FULL,
            format!(
                "the marketplace's disk is too full for an upload of {length} bytes: it has {free} bytes free, \
                 {promised} promised to unfinished uploads and keeps {reserve} in reserve; nothing was started: \
                 try again once its operator has made room"
            ),
        ));
    }
    Ok(())
}

fn store_error(context: &'static str) -> impl Fn(object_store::Error) -> ApiError {
    move |e| ApiError::internal(context, e)
}

/// Removes every local file of upload `id` (partial or spools).
async fn remove_files(state: &AppState, id: &str, keep: Option<&Path>) -> ApiResult<()> {
    let mut entries = match tokio::fs::read_dir(folder(state)).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ApiError::internal("listing unfinished uploads", e)),
    };
    let spool_prefix = format!("{id}-");
    let partial = format!("{id}.partial");
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(io_error("listing unfinished uploads"))?
    {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = name == partial || (name.starts_with(&spool_prefix) && name.ends_with(".spool"));
        if ours && keep != Some(entry.path().as_path()) {
            match tokio::fs::remove_file(entry.path()).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ApiError::internal("removing an upload's partial file", e)),
            }
        }
    }
    Ok(())
}

/// Forgets an upload: aborts its S3 multipart upload, removes its files and its row.
pub async fn discard(state: &AppState, upload: &Upload) -> ApiResult<()> {
    if let (Some(s3), Some(multipart), false) = (
        state.blobs.multipart(),
        &upload.multipart_id,
        upload.is_complete(),
    ) {
        match s3
            .abort_multipart(&state.blobs.shard(&upload.cid), multipart)
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(ApiError::internal("aborting an S3 multipart upload", e)),
        }
    }
    remove_files(state, &upload.id, None).await?;
    sqlx::query("DELETE FROM upload_parts WHERE upload_id = $1")
        .bind(&upload.id)
        .execute(&state.db.pool)
        .await?;
    sqlx::query("DELETE FROM uploads WHERE id = $1")
        .bind(&upload.id)
        .execute(&state.db.pool)
        .await?;
    Ok(())
}

/// Removes uploads past their expiry (unfinished ones with their partial files and multipart
/// uploads; finished ones only as records), a bounded number per call.
pub async fn remove_expired(state: &AppState) -> ApiResult<()> {
    let expired = sqlx::query_as::<_, Upload>(&format!(
        "SELECT {COLUMNS} FROM uploads WHERE expires_at <= $1 ORDER BY expires_at LIMIT 64"
    ))
    .bind(state.now_unix())
    .fetch_all(&state.db.pool)
    .await?;
    for upload in expired {
        if let Some(_lock) = WriteLock::claim(&upload.id) {
            discard(state, &upload).await?;
        }
    }
    Ok(())
}

/// Records a stored shard, and its uploader as one who holds it. Deduplicated by CID: a second
/// upload of the same bytes (by anyone) changes nothing in `shards`.
pub async fn record_shard(state: &AppState, upload: &Upload) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO shards (cid, sha256, size, stored_at, first_creator) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (cid) DO NOTHING",
    )
    .bind(&upload.cid)
    .bind(&upload.sha256)
    .bind(upload.length)
    .bind(state.now_unix())
    .bind(&upload.creator)
    .execute(&state.db.pool)
    .await?;
    record_holder(state, &upload.cid, &upload.creator).await
}

/// Records that `creator` proved they hold shard `cid`'s bytes (they sent them all).
pub async fn record_holder(state: &AppState, cid: &str, creator: &str) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO shard_holders (cid, creator, since) VALUES ($1, $2, $3) \
         ON CONFLICT (cid, creator) DO NOTHING",
    )
    .bind(cid)
    .bind(creator)
    .bind(state.now_unix())
    .execute(&state.db.pool)
    .await?;
    Ok(())
}

/// Whether `creator` holds stored shard `cid` (sent its bytes, or stored it first).
pub async fn holds(state: &AppState, cid: &str, creator: &str) -> ApiResult<bool> {
    let held: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM shard_holders WHERE cid = $1 AND creator = $2")
            .bind(cid)
            .bind(creator)
            .fetch_optional(&state.db.pool)
            .await?;
    Ok(held.is_some())
}

async fn is_stored(state: &AppState, cid: &str) -> ApiResult<bool> {
    let stored: Option<i64> = sqlx::query_scalar("SELECT 1 FROM shards WHERE cid = $1")
        .bind(cid)
        .fetch_optional(&state.db.pool)
        .await?;
    Ok(stored.is_some())
}

/// Finishes an upload whose recorded offset reached its length without being stored (a crash
/// or a failure between the last checkpoint and the commit): the digest from the saved hash
/// state is checked and the shard stored, or the upload deleted, as at the last byte. Returns
/// the upload as it is now; unchanged when it is not in that state or another request is
/// writing to it.
pub async fn complete_if_full(state: &AppState, upload: Upload) -> ApiResult<Upload> {
    if upload.is_complete() || upload.offset() < upload.length() {
        return Ok(upload);
    }
    let Some(_lock) = WriteLock::claim(&upload.id) else {
        return Ok(upload);
    };
    // Another request may have finished it before the lock was ours.
    let Some(current) = load(state, &upload.id, &upload.creator).await? else {
        return Ok(upload);
    };
    if current.is_complete() || current.offset() < current.length() {
        return Ok(current);
    }
    let mut writer = Writer::open(state.clone(), current.clone(), None).await?;
    writer.store_shard().await?;
    Ok(load(state, &current.id, &current.creator)
        .await?
        .unwrap_or(current))
}

/// Marks an upload finished: its offset is its length, and it no longer counts as open.
pub async fn mark_complete(state: &AppState, id: &str, from_offset: i64) -> ApiResult<()> {
    let now = state.now_unix();
    let updated = sqlx::query(
        "UPDATE uploads SET upload_offset = length, hash_state = '', completed_at = $1, expires_at = $2 \
         WHERE id = $3 AND upload_offset = $4",
    )
    .bind(now)
    .bind(now + state.config.limits.upload_ttl_seconds)
    .bind(id)
    .bind(from_offset)
    .execute(&state.db.pool)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(moved_on());
    }
    sqlx::query("DELETE FROM upload_parts WHERE upload_id = $1")
        .bind(id)
        .execute(&state.db.pool)
        .await?;
    Ok(())
}

fn moved_on() -> ApiError {
    ApiError::conflict(
        "offset_changed",
        "another request changed this upload's offset while this one was writing; HEAD the upload for its offset and resume from there",
    )
}

/// How a PATCH (or a POST with data) ended.
#[derive(Debug)]
pub struct Written {
    /// The offset now recorded.
    pub offset: u64,
    /// When the upload expires, unless it is complete.
    pub expires_at: Option<i64>,
}

/// Where the bytes go: the partial file, or the spool of the S3 part being filled.
#[derive(Debug)]
enum Target {
    Local {
        partial: PathBuf,
    },
    S3 {
        s3: Arc<AmazonS3>,
        location: StorePath,
        multipart: String,
        /// The parts stored so far, in order; the spool holds what follows them.
        parts: Vec<PartId>,
        spool: PathBuf,
    },
}

/// One request writing into one upload.
#[derive(Debug)]
struct Writer {
    state: AppState,
    upload: Upload,
    target: Target,
    file: BufWriter<tokio::fs::File>,
    hasher: Sha256,
    /// The digest the request's `Upload-Checksum` announced, and the hash of what it sent so far.
    checksum: Option<([u8; 32], Sha256)>,
    /// Bytes of the shard received (written to the file, maybe not yet durable).
    received: u64,
    /// The offset recorded in the database.
    durable: u64,
    /// A local checkpoint whose `fsync` runs while more bytes arrive; recorded once it is done.
    pending: Option<PendingSync>,
}

/// A checkpoint in flight: the `fsync` of the partial file up to `offset`, and the hash state
/// at that offset, to record when the `fsync` is done.
#[derive(Debug)]
struct PendingSync {
    sync: tokio::task::JoinHandle<std::io::Result<()>>,
    offset: u64,
    hash_state: String,
}

/// Appends `body` to `upload` at its recorded offset, hashing as it writes, and stores the shard
/// when the last byte arrives. Runs to the end even when the client goes away, so what arrived is
/// made durable.
///
/// A body that says (by its `Content-Length`) that it goes past `Upload-Length` is refused before
/// a byte is written; one that turns out longer as it arrives keeps nothing past the last
/// checkpoint, and nothing past `Upload-Length` is ever written.
pub async fn write(
    state: AppState,
    upload: Upload,
    body: Body,
    checksum: Option<[u8; 32]>,
) -> ApiResult<Written> {
    let room = upload.length().saturating_sub(upload.offset());
    if body.size_hint().lower() > room {
        return Err(too_long(&upload, upload.offset(), false));
    }
    let mut writer = Writer::open(state, upload, checksum).await?;
    let ended = writer.receive(body).await;
    match writer.finish(ended).await {
        Err(error) if error.code == STORAGE_FULL => Err(writer.give_back_space().await),
        written => written,
    }
}

/// 400: the request's body goes past `Upload-Length`.
fn too_long(upload: &Upload, kept: u64, stored: bool) -> ApiError {
    let then = if stored {
        format!(
            "its first {kept} bytes completed the shard, which was verified and stored; the rest was dropped"
        )
    } else {
        format!(
            "the bytes of this request after offset {kept} were dropped: HEAD the upload and resume from its offset"
        )
    };
    ApiError::bad_request(
        "body_too_long",
        format!(
            "the request sends more than the {} bytes Upload-Length declared; {then}",
            upload.length
        ),
    )
}

/// Why the body stopped before the upload was complete.
#[derive(Debug)]
enum Ended {
    /// The body ended normally.
    Whole,
    /// The connection failed or the client went away.
    Broken(String),
    /// The body went past the declared length.
    TooLong,
    /// No bytes arrived for the idle timeout.
    Idle,
    /// Writing or checkpointing failed.
    Failed(ApiError),
}

impl Writer {
    async fn open(state: AppState, upload: Upload, checksum: Option<[u8; 32]>) -> ApiResult<Self> {
        tokio::fs::create_dir_all(folder(&state))
            .await
            .map_err(io_error("creating the uploads folder"))?;
        let durable = upload.offset();
        let hasher = restore_hasher(&upload)?;
        let (target, path, position) = match (state.blobs.multipart(), &upload.multipart_id) {
            (Some(s3), Some(multipart)) => {
                let part = durable / PART_BYTES;
                let parts = stored_parts(&state, &upload.id, part).await?;
                let spool = spool_file(&state, &upload.id, part);
                let target = Target::S3 {
                    s3: s3.clone(),
                    location: state.blobs.shard(&upload.cid),
                    multipart: multipart.clone(),
                    parts,
                    spool: spool.clone(),
                };
                (target, spool, durable % PART_BYTES)
            }
            _ => {
                let partial = partial_file(&state, &upload.id);
                let target = Target::Local {
                    partial: partial.clone(),
                };
                (target, partial, durable)
            }
        };
        // Spools of parts that were sent but not recorded (a crash in between) go.
        remove_files(&state, &upload.id, Some(&path)).await?;
        let mut file = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .await
            .map_err(io_error("opening an upload's partial file"))?;
        let on_disk = file
            .metadata()
            .await
            .map_err(io_error("reading an upload's partial file"))?
            .len();
        if on_disk < position {
            // The recorded bytes are gone (the data folder was changed behind the server's back):
            // start over rather than store a shard with a hole.
            sqlx::query("UPDATE uploads SET upload_offset = 0, hash_state = $1 WHERE id = $2")
                .bind(initial_hash_state())
                .bind(&upload.id)
                .execute(&state.db.pool)
                .await?;
            remove_files(&state, &upload.id, None).await?;
            return Err(ApiError::conflict(
                "upload_restarted",
                format!(
                    "the marketplace lost this upload's partial file ({on_disk} of {position} bytes left); \
                     it was reset: send it again from Upload-Offset 0"
                ),
            ));
        }
        // Whatever followed the last checkpoint (a crash mid-request) is dropped; the client
        // resends it from the offset HEAD gave.
        file.set_len(position)
            .await
            .map_err(io_error("truncating an upload's partial file"))?;
        file.seek(std::io::SeekFrom::Start(position))
            .await
            .map_err(io_error("seeking in an upload's partial file"))?;
        Ok(Writer {
            state,
            upload,
            target,
            file: BufWriter::with_capacity(WRITE_BUFFER_BYTES, file),
            hasher,
            checksum: checksum.map(|expected| (expected, Sha256::new())),
            received: durable,
            durable,
            pending: None,
        })
    }

    /// Reads the body to its end (or failure), writing and checkpointing as it goes.
    async fn receive(&mut self, mut body: Body) -> Ended {
        let length = self.upload.length();
        let idle = Duration::from_secs(self.state.config.limits.body_idle_seconds.max(1));
        loop {
            let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx));
            let Ok(frame) = tokio::time::timeout(idle, frame).await else {
                return Ended::Idle;
            };
            let data: Bytes = match frame {
                None => return Ended::Whole,
                Some(Err(e)) => return Ended::Broken(e.to_string()),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => data,
                    Err(_) => continue,
                },
            };
            let len = data.len() as u64;
            if self.received + len > length {
                return Ended::TooLong;
            }
            self.hasher.update(&data);
            if let Some((_, request)) = &mut self.checksum {
                request.update(&data);
            }
            if let Err(e) = self.file.write_all(&data).await {
                return Ended::Failed(io_error("writing an upload's partial file")(e));
            }
            self.received += len;
            // With Upload-Checksum the request's bytes count only once they are checked.
            if self.checksum.is_none()
                && let Err(e) = self.checkpoint_if_due().await
            {
                return Ended::Failed(e);
            }
        }
    }

    async fn checkpoint_if_due(&mut self) -> ApiResult<()> {
        match &self.target {
            Target::Local { .. } => {
                // A checkpoint whose fsync is done is recorded at once, not when the next is due.
                if self.pending.as_ref().is_some_and(|p| p.sync.is_finished()) {
                    self.settle().await?;
                }
                let synced = self.pending.as_ref().map_or(self.durable, |p| p.offset);
                if self.received - synced >= CHECKPOINT_BYTES {
                    self.checkpoint_in_background().await?;
                }
            }
            Target::S3 { .. } => {
                if self.spooled() >= PART_BYTES {
                    self.checkpoint().await?;
                }
            }
        }
        Ok(())
    }

    /// A local checkpoint that does not stall the request: the previous one is awaited and
    /// recorded, then this one's `fsync` starts in the background while bytes keep arriving (the
    /// disk writes one checkpoint while the network fills the next). At most one is in flight.
    async fn checkpoint_in_background(&mut self) -> ApiResult<()> {
        self.file
            .flush()
            .await
            .map_err(io_error("writing an upload's partial file"))?;
        self.settle().await?;
        let file = self
            .file
            .get_ref()
            .try_clone()
            .await
            .map_err(io_error("opening an upload's partial file"))?;
        self.pending = Some(PendingSync {
            sync: tokio::spawn(async move { file.sync_data().await }),
            offset: self.received,
            hash_state: hex::encode(self.hasher.serialize()),
        });
        Ok(())
    }

    /// Waits for the checkpoint in flight, if any, and records it.
    async fn settle(&mut self) -> ApiResult<()> {
        let Some(pending) = self.pending.take() else {
            return Ok(());
        };
        pending
            .sync
            .await
            .map_err(|e| ApiError::internal("flushing an upload's partial file to disk", e))?
            .map_err(io_error("flushing an upload's partial file to disk"))?;
        self.record(pending.offset, pending.hash_state).await
    }

    /// Records `offset` and the hash state there as durable (only if no one else moved the
    /// offset meanwhile).
    async fn record(&mut self, offset: u64, hash_state: String) -> ApiResult<()> {
        let recorded = i64::try_from(offset).unwrap_or(i64::MAX);
        let updated = sqlx::query(
            "UPDATE uploads SET upload_offset = $1, hash_state = $2, expires_at = $3 \
             WHERE id = $4 AND upload_offset = $5",
        )
        .bind(recorded)
        .bind(hash_state)
        .bind(self.state.now_unix() + self.state.config.limits.upload_ttl_seconds)
        .bind(&self.upload.id)
        .bind(i64::try_from(self.durable).unwrap_or(i64::MAX))
        .execute(&self.state.db.pool)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(moved_on());
        }
        self.durable = offset;
        self.upload.upload_offset = recorded;
        Ok(())
    }

    /// Bytes in the spool (S3) beyond the parts stored.
    fn spooled(&self) -> u64 {
        match &self.target {
            Target::S3 { parts, .. } => self.received - parts.len() as u64 * PART_BYTES,
            Target::Local { .. } => 0,
        }
    }

    /// Makes everything received durable: whole S3 parts are sent, the rest fsync'd, then the
    /// offset and the hash state are recorded (only if no one else moved the offset meanwhile).
    async fn checkpoint(&mut self) -> ApiResult<()> {
        self.settle().await?;
        if self.received == self.durable {
            return Ok(());
        }
        let old_spool = self.send_parts(false).await?;
        self.file
            .flush()
            .await
            .map_err(io_error("writing an upload's partial file"))?;
        self.file
            .get_ref()
            .sync_data()
            .await
            .map_err(io_error("flushing an upload's partial file to disk"))?;
        self.record(self.received, hex::encode(self.hasher.serialize()))
            .await?;
        if let Some(old) = old_spool {
            remove_file(&old).await?;
        }
        Ok(())
    }

    /// For S3: sends every whole part in the spool (and, when `last`, the rest as the final part),
    /// records them, and moves what remains into the next part's spool. Returns the spool left
    /// behind, to remove once the new offset is recorded.
    async fn send_parts(&mut self, last: bool) -> ApiResult<Option<PathBuf>> {
        let spooled = self.spooled();
        let Target::S3 {
            s3,
            location,
            multipart,
            parts,
            spool,
        } = &mut self.target
        else {
            return Ok(None);
        };
        let whole = spooled / PART_BYTES;
        let count = if last {
            spooled.div_ceil(PART_BYTES)
        } else {
            whole
        };
        if count == 0 {
            return Ok(None);
        }
        self.file
            .flush()
            .await
            .map_err(io_error("writing an upload's spool file"))?;
        let file = self.file.get_mut();
        for index in 0..count {
            let start = index * PART_BYTES;
            let size = PART_BYTES.min(spooled - start);
            let _permit = parts_in_flight()
                .acquire()
                .await
                .map_err(|e| ApiError::internal("waiting to send an S3 part", e))?;
            let mut buffer = vec![0u8; usize::try_from(size).unwrap_or(0)];
            file.seek(std::io::SeekFrom::Start(start))
                .await
                .map_err(io_error("reading an upload's spool file"))?;
            file.read_exact(&mut buffer)
                .await
                .map_err(io_error("reading an upload's spool file"))?;
            let number = parts.len();
            let part = s3
                .put_part(location, multipart, number, PutPayload::from(buffer))
                .await
                .map_err(store_error("sending a part to S3"))?;
            sqlx::query(
                "INSERT INTO upload_parts (upload_id, part_number, etag) VALUES ($1, $2, $3) \
                 ON CONFLICT (upload_id, part_number) DO UPDATE SET etag = excluded.etag",
            )
            .bind(&self.upload.id)
            .bind(i64::try_from(number).unwrap_or(i64::MAX))
            .bind(&part.content_id)
            .execute(&self.state.db.pool)
            .await?;
            parts.push(part);
        }
        if last {
            return Ok(None);
        }
        // The bytes after the whole parts start the next spool, written and fsync'd before the
        // offset that relies on them is recorded; the old spool stays until then.
        let next = spool_file(&self.state, &self.upload.id, parts.len() as u64);
        let mut fresh = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&next)
            .await
            .map_err(io_error("creating an upload's spool file"))?;
        file.seek(std::io::SeekFrom::Start(whole * PART_BYTES))
            .await
            .map_err(io_error("reading an upload's spool file"))?;
        tokio::io::copy(file, &mut fresh)
            .await
            .map_err(io_error("moving an upload's spool file"))?;
        let old = std::mem::replace(spool, next);
        self.file = BufWriter::with_capacity(WRITE_BUFFER_BYTES, fresh);
        Ok(Some(old))
    }

    /// Ends the request: records what arrived (or discards it when its checksum does not
    /// match), and stores the shard when it is complete.
    async fn finish(&mut self, ended: Ended) -> ApiResult<Written> {
        // The checkpoint in flight counts if its fsync and record succeed; if not, the offset
        // recorded before it stands and what followed is sent again (nothing is lost or wrong).
        if let Err(e) = self.settle().await {
            eprintln!("hallmark-market: a background checkpoint failed: {e}");
        }
        let broken = match ended {
            Ended::Whole => None,
            Ended::Broken(why) => Some(Ended::Broken(why)),
            Ended::Idle => Some(Ended::Idle),
            Ended::TooLong => {
                // Nothing past Upload-Length was written, and what followed the last checkpoint
                // is dropped; if that checkpoint reached the length, the shard is finished now.
                if self.durable == self.upload.length() {
                    self.received = self.durable;
                    self.store_shard().await?;
                    return Err(too_long(&self.upload, self.durable, true));
                }
                return Err(too_long(&self.upload, self.durable, false));
            }
            Ended::Failed(error) => return Err(error),
        };
        if let Some((expected, request)) = self.checksum.take() {
            if let Some(broken) = &broken {
                // A checksummed chunk that did not arrive whole cannot be checked: none of it counts.
                return Err(ended_early(
                    broken,
                    self.state.config.limits.body_idle_seconds,
                    format!(
                        "its Upload-Checksum could not be checked, so none of it was kept: resume from offset {}",
                        self.durable
                    ),
                ));
            }
            let actual: [u8; 32] = request.finalize().into();
            if actual != expected {
                return Err(checksum_mismatch(self.durable));
            }
        }
        if self.received < self.upload.length() {
            self.checkpoint().await?;
            if let Some(broken) = &broken {
                return Err(ended_early(
                    broken,
                    self.state.config.limits.body_idle_seconds,
                    format!(
                        "the {} bytes received so far are kept: resume from offset {}",
                        self.received, self.received
                    ),
                ));
            }
            return Ok(Written {
                offset: self.received,
                expires_at: Some(
                    self.state.now_unix() + self.state.config.limits.upload_ttl_seconds,
                ),
            });
        }
        self.store_shard().await
    }

    /// After a full disk: cuts the file back to the last checkpoint, so the space the failed
    /// chunk used is free again, and says where the upload resumes.
    async fn give_back_space(&mut self) -> ApiError {
        // A checkpoint in flight is abandoned: the file is cut back to the offset recorded.
        self.pending = None;
        let position = match &self.target {
            Target::Local { .. } => Some(self.durable),
            // Only the spool the last checkpoint left is cut; one a failed send left behind is
            // cleaned up when the upload resumes.
            Target::S3 { parts, .. } => (parts.len() as u64 == self.durable / PART_BYTES)
                .then_some(self.durable % PART_BYTES),
        };
        if let Some(position) = position
            && let Err(e) = self.file.get_ref().set_len(position).await
        {
            eprintln!(
                "hallmark-market: truncating an upload's partial file after a full disk: {e}"
            );
        }
        self.received = self.durable;
        storage_full(Some(self.durable))
    }

    /// All bytes are here: stores the shard under its CID if and only if the digest matches.
    /// A shard stored already is not stored again: the upload proved that its creator holds
    /// the bytes, and its own copy goes.
    async fn store_shard(&mut self) -> ApiResult<Written> {
        let actual = Sha256Digest(self.hasher.clone().finalize().into());
        if actual.hex() != self.upload.sha256 {
            discard(&self.state, &self.upload).await?;
            return Err(ApiError::bad_request(
                "digest_mismatch",
                format!(
                    "the {} bytes uploaded have SHA-256 {} (CID {}), but the upload was created for CID {} (SHA-256 {}); \
                     nothing was stored and the upload was deleted: check that the file is the shard the CID names, \
                     then create a new upload",
                    self.upload.length,
                    actual.hex(),
                    actual.cid(),
                    self.upload.cid,
                    self.upload.sha256
                ),
            ));
        }
        if is_stored(&self.state, &self.upload.cid).await? {
            if let Target::S3 {
                s3,
                location,
                multipart,
                ..
            } = &self.target
            {
                match s3.abort_multipart(location, multipart).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(ApiError::internal("aborting an S3 multipart upload", e)),
                }
            }
            remove_files(&self.state, &self.upload.id, None).await?;
            record_holder(&self.state, &self.upload.cid, &self.upload.creator).await?;
            return self.completed().await;
        }
        self.file
            .flush()
            .await
            .map_err(io_error("writing an upload's partial file"))?;
        match &self.target {
            Target::Local { partial } => {
                // Every byte made durable first: if storing fails (a full blob store, a crash),
                // the upload keeps its whole length and HEAD, PATCH or POST finish it later.
                let partial = partial.clone();
                self.checkpoint().await?;
                self.file
                    .get_ref()
                    .sync_all()
                    .await
                    .map_err(io_error("flushing an upload's partial file to disk"))?;
                let location = self.state.blobs.shard(&self.upload.cid);
                let Some(destination) = self.state.blobs.local_file(&location) else {
                    return Err(ApiError::internal(
                        "storing a shard",
                        "a local upload on a store that is not local",
                    ));
                };
                move_into_place(&partial, &destination).await?;
            }
            Target::S3 { .. } => {
                self.send_parts(true).await?;
                if let Target::S3 {
                    s3,
                    location,
                    multipart,
                    parts,
                    spool,
                } = &self.target
                {
                    s3.complete_multipart(location, multipart, parts.clone())
                        .await
                        .map_err(store_error("completing an S3 multipart upload"))?;
                    remove_file(spool).await?;
                }
            }
        }
        record_shard(&self.state, &self.upload).await?;
        self.completed().await
    }

    /// Records the upload as finished.
    async fn completed(&self) -> ApiResult<Written> {
        mark_complete(
            &self.state,
            &self.upload.id,
            i64::try_from(self.durable).unwrap_or(i64::MAX),
        )
        .await?;
        Ok(Written {
            offset: self.upload.length(),
            expires_at: None,
        })
    }
}

/// The answer to a body that stopped before its end: 408 when it sent nothing for the idle
/// timeout, 400 when the connection broke.
fn ended_early(ended: &Ended, idle_seconds: u64, kept: String) -> ApiError {
    match ended {
        Ended::Idle => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!("the request body sent nothing for {idle_seconds} s and was ended; {kept}"),
        ),
        Ended::Broken(why) => ApiError::bad_request(
            "body_incomplete",
            format!("the request body ended early ({why}); {kept}"),
        ),
        _ => ApiError::bad_request(
            "body_incomplete",
            format!("the request body ended early; {kept}"),
        ),
    }
}

/// 460: the request's bytes do not match its `Upload-Checksum`; none of them were kept.
pub fn checksum_mismatch(offset: u64) -> ApiError {
    ApiError::new(
        checksum_mismatch_status(),
        "checksum_mismatch",
        format!(
            "the request's bytes do not match its Upload-Checksum; none of them were kept and the offset is still {offset}: send the chunk again"
        ),
    )
}

/// tus's "Checksum Mismatch".
pub fn checksum_mismatch_status() -> StatusCode {
    StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST)
}

fn parts_in_flight() -> &'static tokio::sync::Semaphore {
    static PERMITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(PARTS_IN_FLIGHT);
    &PERMITS
}

/// The first `count` parts of an S3 upload, as recorded.
async fn stored_parts(state: &AppState, id: &str, count: u64) -> ApiResult<Vec<PartId>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT part_number, etag FROM upload_parts WHERE upload_id = $1 AND part_number < $2 \
         ORDER BY part_number",
    )
    .bind(id)
    .bind(i64::try_from(count).unwrap_or(i64::MAX))
    .fetch_all(&state.db.pool)
    .await?;
    let in_order = rows
        .iter()
        .enumerate()
        .all(|(i, (number, _))| i64::try_from(i).is_ok_and(|i| i == *number));
    if !in_order || rows.len() as u64 != count {
        return Err(ApiError::internal(
            "resuming an S3 upload",
            format!(
                "upload {id} should have {count} parts recorded, has {}",
                rows.len()
            ),
        ));
    }
    Ok(rows
        .into_iter()
        .map(|(_, content_id)| PartId { content_id })
        .collect())
}

async fn remove_file(path: &Path) -> ApiResult<()> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ApiError::internal("removing an upload's spool file", e)),
    }
}

/// Renames a finished, fsync'd partial file to its shard name (atomic: the name shows the whole
/// shard or nothing), and fsyncs the folder so the rename survives a crash. A blob folder on
/// another file system gets a copy, fsync'd under a temporary name, then renamed.
async fn move_into_place(partial: &Path, destination: &Path) -> ApiResult<()> {
    let folder = destination
        .parent()
        .ok_or_else(|| ApiError::internal("storing a shard", "a shard path without a folder"))?
        .to_owned();
    tokio::fs::create_dir_all(&folder)
        .await
        .map_err(io_error("creating the shards folder"))?;
    let (partial, destination) = (partial.to_owned(), destination.to_owned());
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        match std::fs::rename(&partial, &destination) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
                let mut copy = tempfile::NamedTempFile::new_in(&folder)?;
                std::io::copy(&mut std::fs::File::open(&partial)?, copy.as_file_mut())?;
                copy.as_file().sync_all()?;
                copy.persist(&destination).map_err(|e| e.error)?;
                std::fs::remove_file(&partial)?;
            }
            Err(e) => return Err(e),
        }
        std::fs::File::open(&folder)?.sync_all()
    })
    .await
    .map_err(|e| ApiError::internal("storing a shard", e))?
    .map_err(io_error("storing a shard"))
}

/// Stores the empty shard (an upload of length 0 is complete when it is created).
pub async fn store_empty(state: &AppState, cid: &str) -> ApiResult<()> {
    state
        .blobs
        .store
        .put(&state.blobs.shard(cid), PutPayload::new())
        .await
        .map_err(store_error("storing an empty shard"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_or_quota_is_507_storage_full_and_other_faults_are_500() {
        for errno in [rustix::io::Errno::NOSPC, rustix::io::Errno::DQUOT] {
            let error = io_error("writing an upload's partial file")(
                std::io::Error::from_raw_os_error(errno.raw_os_error()),
            );
            assert_eq!(error.status, StatusCode::INSUFFICIENT_STORAGE);
            assert_eq!(error.code, STORAGE_FULL);
            assert!(error.message.contains("disk is full"), "{}", error.message);
        }
        let other = io_error("writing an upload's partial file")(
            std::io::Error::from_raw_os_error(rustix::io::Errno::IO.raw_os_error()),
        );
        assert_eq!(other.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(storage_full(Some(17)).message.contains("offset 17"));
    }
}
