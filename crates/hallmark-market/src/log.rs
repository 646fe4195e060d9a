//! The receipt log: every receipt's commitment is an entry of an append-only Merkle log in the C2SP
//! formats (tlog-tiles, tlog-checkpoint, signed-note), kept in the blob store under `log/` so a
//! bucket or a CDN can serve it as it is, and served here under `/log/`.
//!
//! One sequencer per log: [`start`] runs the task that takes receipts in log-index order from the
//! database (where the meter committed them), computes the new tiles with `hallmark_core::tlog`,
//! writes them, and only then signs and publishes a checkpoint, at most every
//! [`CHECKPOINT_SPACING_MS`] while receipts arrive. After a crash it resumes from the last
//! checkpoint it recorded: tiles written after it are rewritten with the same bytes, and that
//! checkpoint is published again if the crash came before its file was written.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hallmark_core::tlog::{self, Hash, LogPath, TileStore};
use object_store::{ObjectStore, PutPayload};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use crate::blobs::Blobs;
use crate::error::{ApiError, ApiResult, ErrorBody};

/// The least time between two checkpoints while receipts arrive, in milliseconds.
pub const CHECKPOINT_SPACING_MS: u64 = 500;
/// The most receipts one append takes.
pub const MAX_APPEND: i64 = 64 * 1024;

/// The log's origin: its public URL without the scheme (`market.example/log`); checkpoint
/// signatures carry it as their key name.
pub fn origin(public_url: &str) -> String {
    let rest = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest);
    format!("{}/log", rest.trim_end_matches('/'))
}

/// The log's files in the blob store, read synchronously for `hallmark_core::tlog` (call from a
/// blocking thread: each read waits on the async store).
#[derive(Debug, Clone)]
pub struct StoredLog {
    blobs: Blobs,
    runtime: tokio::runtime::Handle,
}

impl StoredLog {
    pub fn new(blobs: Blobs) -> StoredLog {
        StoredLog {
            blobs,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    fn location(&self, path: &str) -> object_store::path::Path {
        self.blobs.path(&format!("log/{path}"))
    }

    /// Writes `bytes` at `path` (blocking).
    pub fn write(&self, path: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        let location = self.location(path);
        self.runtime
            .block_on(self.blobs.store.put(&location, PutPayload::from(bytes)))
            .map(|_| ())
            .map_err(std::io::Error::other)
    }
}

impl TileStore for StoredLog {
    fn read(&self, path: &str) -> std::io::Result<Option<Vec<u8>>> {
        let location = self.location(path);
        self.runtime.block_on(async {
            match self.blobs.store.get(&location).await {
                Ok(got) => Ok(Some(
                    got.bytes().await.map_err(std::io::Error::other)?.to_vec(),
                )),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(std::io::Error::other(e)),
            }
        })
    }
}

/// The latest checkpoint the marketplace recorded: size, root, note; the empty tree when none.
pub async fn latest(db: &crate::db::Db) -> ApiResult<(u64, Hash, Option<String>)> {
    let row: Option<(i64, String, String)> =
        sqlx::query_as("SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1")
            .fetch_optional(&db.pool)
            .await?;
    match row {
        None => Ok((0, tlog::EMPTY_ROOT, None)),
        Some((size, root, note)) => {
            let root = hex_hash(&root)
                .ok_or_else(|| ApiError::internal("reading the log", "a stored root is not hex"))?;
            Ok((size as u64, root, Some(note)))
        }
    }
}

fn hex_hash(text: &str) -> Option<Hash> {
    let bytes = hex::decode(text).ok()?;
    bytes.try_into().ok()
}

/// Starts the sequencer: integrates committed receipts into the log and publishes checkpoints.
pub(crate) fn start(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let spacing = std::time::Duration::from_millis(CHECKPOINT_SPACING_MS);
        // Logged by ApiError::internal; the next append publishes a checkpoint anyway.
        let _ = publish_recorded(&state).await;
        loop {
            let started = tokio::time::Instant::now();
            match integrate(&state).await {
                // More is waiting: go on after the spacing.
                Ok(true) => tokio::time::sleep_until(started + spacing).await,
                Ok(false) => {
                    // Wait for the meter, or look again in a second (a commit notified before
                    // this task waited is still seen).
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_secs(1),
                        state.meter.committed.notified(),
                    )
                    .await;
                    tokio::time::sleep_until(started + spacing).await;
                }
                // Logged by ApiError::internal; tried again.
                Err(_) => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
            }
        }
    })
}

/// Appends the receipts committed since the last checkpoint (at most [`MAX_APPEND`]), writes
/// their tiles and publishes a checkpoint. Returns whether anything was appended.
pub async fn integrate(state: &AppState) -> ApiResult<bool> {
    let (size, root, _) = latest(&state.db).await?;
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT log_index, commitment FROM receipts WHERE log_index >= $1 \
         ORDER BY log_index LIMIT $2",
    )
    .bind(size as i64)
    .bind(MAX_APPEND)
    .fetch_all(&state.db.pool)
    .await?;
    let mut entries = Vec::with_capacity(rows.len());
    for (offset, (index, commitment)) in rows.iter().enumerate() {
        if *index as u64 != size + offset as u64 {
            // The meter writes dense indexes; a gap is a fault to look at, not to paper over.
            return Err(ApiError::internal(
                "extending the receipt log",
                format!("receipt log index {} is missing", size + offset as u64),
            ));
        }
        entries.push(hex_hash(commitment).ok_or_else(|| {
            ApiError::internal(
                "extending the receipt log",
                "a stored commitment is not hex",
            )
        })?);
    }
    if entries.is_empty() {
        return Ok(false);
    }
    let stored = StoredLog::new(state.blobs.clone());
    let origin = origin(&state.config.public_url);
    let signer = state.clone();
    let (new_size, new_root, note) = tokio::task::spawn_blocking(move || {
        let appended = tlog::append(&stored, size, &root, &entries)
            .map_err(|e| ApiError::internal("extending the receipt log", e))?;
        // Tiles and bundles first: a checkpoint never names files that are not stored.
        for (path, bytes) in appended.writes {
            stored
                .write(&path, bytes)
                .map_err(|e| ApiError::internal("writing the receipt log", e))?;
        }
        let note = tlog::sign_checkpoint(&signer.identity, &origin, appended.size, &appended.root)
            .map_err(|e| ApiError::internal("signing a checkpoint", e))?;
        Ok::<_, ApiError>((appended.size, appended.root, note))
    })
    .await
    .map_err(|e| ApiError::internal("extending the receipt log", e))??;
    // Recorded before it is published: every checkpoint anyone saw is in the table `log check` reads.
    sqlx::query("INSERT INTO checkpoints (size, root, note, issued_at) VALUES ($1, $2, $3, $4)")
        .bind(new_size as i64)
        .bind(hex::encode(new_root))
        .bind(&note)
        .bind(state.now_unix())
        .execute(&state.db.pool)
        .await?;
    publish(state, note).await?;
    Ok(true)
}

/// Writes `note` as the published checkpoint file.
async fn publish(state: &AppState, note: String) -> ApiResult<()> {
    state
        .blobs
        .store
        .put(
            &state.blobs.path(&format!("log/{}", tlog::CHECKPOINT_PATH)),
            PutPayload::from(note.into_bytes()),
        )
        .await
        .map_err(|e| ApiError::internal("publishing a checkpoint", e))?;
    Ok(())
}

/// Publishes the latest recorded checkpoint when the published file is another one: a crash
/// between recording a checkpoint and publishing it leaves the file behind the table, and with
/// every receipt already in the log no later append would publish it.
async fn publish_recorded(state: &AppState) -> ApiResult<()> {
    let (_, _, Some(note)) = latest(&state.db).await? else {
        return Ok(());
    };
    let location = state.blobs.path(&format!("log/{}", tlog::CHECKPOINT_PATH));
    let published = match state.blobs.store.get(&location).await {
        Ok(got) => Some(
            got.bytes()
                .await
                .map_err(|e| ApiError::internal("reading the published checkpoint", e))?,
        ),
        Err(object_store::Error::NotFound { .. }) => None,
        Err(e) => return Err(ApiError::internal("reading the published checkpoint", e)),
    };
    if published.as_deref() != Some(note.as_bytes()) {
        publish(state, note).await?;
    }
    Ok(())
}

/// What `GET /v1/log` answers: how to check this log.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogInfo {
    /// The checkpoint origin and signature key name.
    pub origin: String,
    /// The note verifier key (`<name>+<key id>+<base64 key>`), as Go's `note.NewVerifier` reads it.
    pub verifier_key: String,
    /// Where the tiles are: `<this server>/log/`.
    pub tiles: String,
    /// The latest checkpoint, a signed note; none before the first receipt.
    pub checkpoint: Option<String>,
}

/// Checkpoints the marketplace signed, oldest first.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CheckpointPage {
    pub checkpoints: Vec<String>,
}

/// Which checkpoints.
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
pub struct CheckpointQuery {
    /// Only checkpoints of trees larger than this.
    pub after: Option<u64>,
    /// At most this many (1–1000, default 1000).
    pub limit: Option<i64>,
}

/// Which proof.
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
pub struct ProofQuery {
    /// The entry (inclusion), or the older tree size (consistency).
    pub index: Option<u64>,
    pub from: Option<u64>,
    /// The tree size of a checkpoint the marketplace signed.
    pub size: u64,
}

/// A consistency proof.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    pub from: u64,
    pub size: u64,
    /// Base64 hashes, as RFC 6962 orders them.
    pub hashes: Vec<String>,
    /// The signed checkpoint of `size`.
    pub checkpoint: String,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(log_info))
        .routes(routes!(checkpoints))
        .routes(routes!(inclusion_proof))
        .routes(routes!(consistency_proof))
        // A wildcard route: outside the OpenAPI document, which `GET /v1/log` points to instead.
        .route("/log/{*path}", axum::routing::get(log_file))
}

/// The log's origin, verifier key and latest checkpoint.
#[utoipa::path(get, path = "/v1/log", tag = "log",
    responses((status = 200, description = "How to check the receipt log", body = LogInfo)))]
async fn log_info(State(state): State<AppState>) -> ApiResult<Json<LogInfo>> {
    let origin = origin(&state.config.public_url);
    let verifier_key = tlog::verifier_key(&origin, &state.identity.public())
        .map_err(|e| ApiError::internal("naming the log key", e))?;
    let (_, _, checkpoint) = latest(&state.db).await?;
    Ok(Json(LogInfo {
        origin,
        verifier_key,
        tiles: format!("{}/log/", state.config.public_url),
        checkpoint,
    }))
}

/// Every checkpoint the marketplace signed, so a verifier can check each is consistent with the
/// next.
#[utoipa::path(get, path = "/v1/log/checkpoints", tag = "log", params(CheckpointQuery),
    responses((status = 200, description = "Checkpoints after `after`, smallest first", body = CheckpointPage)))]
async fn checkpoints(
    State(state): State<AppState>,
    Query(query): Query<CheckpointQuery>,
) -> ApiResult<Json<CheckpointPage>> {
    let limit = query.limit.unwrap_or(1000);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "bad_limit",
            format!("limit {limit} is out of range; ask for 1 to 1000"),
        ));
    }
    let after = i64::try_from(query.after.unwrap_or(0)).unwrap_or(i64::MAX);
    let checkpoints =
        sqlx::query_scalar("SELECT note FROM checkpoints WHERE size > $1 ORDER BY size LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(&state.db.pool)
            .await?;
    Ok(Json(CheckpointPage { checkpoints }))
}

/// The checkpoint the marketplace signed at tree size `size`.
async fn checkpoint_at(state: &AppState, size: u64) -> ApiResult<(Hash, String)> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT root, note FROM checkpoints WHERE size = $1")
            .bind(i64::try_from(size).unwrap_or(-1))
            .fetch_optional(&state.db.pool)
            .await?;
    let (root, note) = row.ok_or_else(|| {
        ApiError::not_found(format!(
            "a checkpoint of size {size} (ask GET /v1/log/checkpoints for the sizes signed)"
        ))
    })?;
    let root = hex_hash(&root)
        .ok_or_else(|| ApiError::internal("reading the log", "a stored root is not hex"))?;
    Ok((root, note))
}

/// Runs a proof computation over the stored tiles on a blocking thread.
async fn from_tiles<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&StoredLog) -> Result<T, tlog::TlogError> + Send + 'static,
) -> ApiResult<T> {
    let stored = StoredLog::new(state.blobs.clone());
    tokio::task::spawn_blocking(move || work(&stored))
        .await
        .map_err(|e| ApiError::internal("proving from the log", e))?
        .map_err(|e| match e {
            tlog::TlogError::InvalidSize(message) => {
                ApiError::bad_request("bad_proof_request", message)
            }
            other => ApiError::internal("proving from the log", other),
        })
}

/// An inclusion proof of entry `index` in the signed tree of `size`, as a c2sp.org/tlog-proof@v1
/// file.
#[utoipa::path(get, path = "/v1/log/proof", tag = "log", params(ProofQuery),
    responses(
        (status = 200, description = "A tlog-proof file", body = String, content_type = "text/plain"),
        (status = 404, description = "No checkpoint of that size", body = ErrorBody),
    ))]
async fn inclusion_proof(
    State(state): State<AppState>,
    Query(query): Query<ProofQuery>,
) -> ApiResult<Response> {
    let index = query.index.ok_or_else(|| {
        ApiError::bad_request(
            "bad_proof_request",
            "name the entry with ?index=N&size=SIZE",
        )
    })?;
    let (root, checkpoint) = checkpoint_at(&state, query.size).await?;
    let size = query.size;
    let hashes = from_tiles(&state, move |stored| {
        tlog::prove_inclusion(stored, size, &root, index)
    })
    .await?;
    let proof = tlog::TlogProof {
        extra: None,
        index,
        hashes,
        checkpoint,
    };
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        proof.to_text(),
    )
        .into_response())
}

/// A consistency proof from the tree of `from` entries to the signed tree of `size`.
#[utoipa::path(get, path = "/v1/log/consistency", tag = "log", params(ProofQuery),
    responses(
        (status = 200, description = "The proof and the newer checkpoint", body = ConsistencyProof),
        (status = 404, description = "No checkpoint of that size", body = ErrorBody),
    ))]
async fn consistency_proof(
    State(state): State<AppState>,
    Query(query): Query<ProofQuery>,
) -> ApiResult<Json<ConsistencyProof>> {
    let from = query.from.ok_or_else(|| {
        ApiError::bad_request(
            "bad_proof_request",
            "name the older size with ?from=N&size=SIZE",
        )
    })?;
    let (root, checkpoint) = checkpoint_at(&state, query.size).await?;
    let size = query.size;
    let hashes = from_tiles(&state, move |stored| {
        tlog::prove_consistency(stored, from, size, &root)
    })
    .await?;
    let base64 = base64::engine::general_purpose::STANDARD;
    Ok(Json(ConsistencyProof {
        from,
        size,
        hashes: hashes.iter().map(|h| base64.encode(h)).collect(),
        checkpoint,
    }))
}

/// A log file by its C2SP path: `checkpoint`, `tile/L/N[.p/W]`, `tile/entries/N[.p/W]`; full
/// tiles are served immutable, the checkpoint and partial tiles `no-cache`.
async fn log_file(State(state): State<AppState>, Path(path): Path<String>) -> ApiResult<Response> {
    let parsed =
        LogPath::parse(&path).map_err(|_| ApiError::not_found(format!("log file {path:?}")))?;
    let location = state.blobs.path(&format!("log/{parsed}"));
    let bytes = match state.blobs.store.get(&location).await {
        Ok(got) => got
            .bytes()
            .await
            .map_err(|e| ApiError::internal("reading the log", e))?,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(ApiError::not_found(format!("log file {path:?}")));
        }
        Err(e) => return Err(ApiError::internal("reading the log", e)),
    };
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(parsed.content_type()),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(parsed.cache_control()),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(response)
}

/// What `hallmark-market log check` found.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub size: u64,
    /// The size of the checkpoint in `log/checkpoint` (the latest one unless the server is
    /// publishing a new one right now).
    pub published_size: u64,
    pub root: String,
    pub bundles: u64,
    pub tiles: u64,
    pub checkpoints: u64,
    pub receipts: u64,
}

/// Re-hashes the whole log from storage, checks it against the latest checkpoint, checks every
/// checkpoint the marketplace recorded is signed and consistent with it, and checks each
/// receipt's stored bytes hash to the entry at its index.
pub async fn check(
    db: &crate::db::Db,
    blobs: Blobs,
    identity: &hallmark_core::did::PublicIdentity,
) -> anyhow::Result<CheckReport> {
    use anyhow::Context as _;
    // A running server records a checkpoint, then publishes it: reading the published file first
    // and the recorded ones after, the published one is always among them. The latest recorded is
    // the one the whole check is made against (later ones are left to the next check).
    let stored = StoredLog::new(blobs);
    let published = {
        let stored = stored.clone();
        tokio::task::spawn_blocking(move || stored.read(tlog::CHECKPOINT_PATH)).await??
    };
    let all: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT size, root, note FROM checkpoints ORDER BY size")
            .fetch_all(&db.pool)
            .await?;
    let (size, root, note) = match all.last() {
        None => (0, tlog::EMPTY_ROOT, None),
        Some((size, root, note)) => (
            *size as u64,
            hex_hash(root).context("a stored root is not hex")?,
            Some(note.clone()),
        ),
    };
    // The origin is the public URL the server ran with; the latest checkpoint names it.
    let origin = note
        .as_deref()
        .and_then(|note| note.lines().next())
        .unwrap_or_default()
        .to_owned();
    let note_origin = origin.clone();
    if let Some(note) = &note {
        let opened = tlog::open_checkpoint(note, &origin, identity)
            .context("the latest checkpoint does not open with the marketplace key")?;
        anyhow::ensure!(
            opened.size == size && opened.root == root,
            "the latest checkpoint's note says size {} but the table says {size}",
            opened.size
        );
    }
    let checked = {
        let stored = stored.clone();
        tokio::task::spawn_blocking(move || tlog::check_log(&stored, size)).await??
    };
    anyhow::ensure!(
        checked.root == root,
        "the stored log of {size} entries hashes to {}, but its checkpoint says {}",
        hex::encode(checked.root),
        hex::encode(root)
    );
    for (old_size, old_root, old_note) in &all {
        let opened = tlog::open_checkpoint(old_note, &origin, identity)
            .with_context(|| format!("checkpoint of size {old_size}"))?;
        let old_root_hash = hex_hash(old_root).context("a stored root is not hex")?;
        anyhow::ensure!(
            opened.size == *old_size as u64 && opened.root == old_root_hash,
            "checkpoint of size {old_size}: its note and its row disagree"
        );
        let (stored, old) = (stored.clone(), opened.size);
        let proof =
            tokio::task::spawn_blocking(move || tlog::prove_consistency(&stored, old, size, &root))
                .await??;
        tlog::check_consistency(&proof, old, &old_root_hash, size, &root).with_context(|| {
            format!("checkpoint of size {old_size} is not consistent with {size}")
        })?;
    }
    // Each receipt: its bytes hash to its commitment, and the commitment is the entry at its index.
    let mut receipts = 0u64;
    let mut after = -1i64;
    loop {
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT log_index, body, commitment, creator FROM receipts WHERE log_index > $1 \
             AND log_index < $2 ORDER BY log_index LIMIT 256",
        )
        .bind(after)
        .bind(size as i64)
        .fetch_all(&db.pool)
        .await?;
        if rows.is_empty() {
            break;
        }
        let first = rows[0].0 as u64;
        let bundle_index = first / 256;
        let width = (size - bundle_index * 256).min(256) as u16;
        let path = tlog::entries_path(bundle_index, width);
        let bytes = {
            let (stored, path) = (stored.clone(), path.clone());
            tokio::task::spawn_blocking(move || stored.read(&path)).await??
        }
        .with_context(|| format!("entry bundle {path} is missing"))?;
        let entries = tlog::decode_bundle(&bytes, width, &path)?;
        for (index, body, commitment, creator) in rows
            .iter()
            .filter(|(i, _, _, _)| *i as u64 / 256 == bundle_index)
        {
            anyhow::ensure!(
                *index == after + 1,
                "the log's entry {} has no receipt in the database (a receipt row is missing)",
                after + 1
            );
            let receipt = hallmark_core::earnings::Receipt::from_json(body.as_bytes())
                .with_context(|| format!("receipt at log index {index}"))?;
            anyhow::ensure!(
                receipt.creator == *creator,
                "receipt at log index {index}: its row says creator {creator}, its bytes {}",
                receipt.creator
            );
            let digest = hallmark_core::digest::Sha256Digest::of(body.as_bytes());
            anyhow::ensure!(
                digest.hex() == *commitment,
                "receipt at log index {index}: its stored bytes do not hash to its commitment"
            );
            let entry = &entries[(*index as u64 % 256) as usize];
            anyhow::ensure!(
                hex::encode(entry) == *commitment,
                "receipt at log index {index}: the log's entry is not its commitment"
            );
            receipts += 1;
            after = *index;
        }
    }
    anyhow::ensure!(
        receipts == size,
        "the log has {size} entries but the database has receipts for only {receipts} of them \
         (the first missing is log index {})",
        after + 1
    );
    // The published checkpoint (what outside verifiers read) is one the marketplace recorded.
    // Missing before the recorded ones were read: the first checkpoint may be being published.
    let published = match published {
        Some(bytes) => Some(bytes),
        None => {
            let stored = stored.clone();
            tokio::task::spawn_blocking(move || stored.read(tlog::CHECKPOINT_PATH)).await??
        }
    };
    let published_size = match published {
        None => {
            anyhow::ensure!(
                size == 0,
                "the published checkpoint file log/checkpoint is missing"
            );
            0
        }
        Some(bytes) => {
            let text = String::from_utf8(bytes)
                .context("the published checkpoint log/checkpoint is not text")?;
            let origin = text.lines().next().unwrap_or_default();
            let opened = tlog::open_checkpoint(&text, origin, identity)
                .context("the published checkpoint log/checkpoint does not open")?;
            anyhow::ensure!(
                note.is_none() || origin == note_origin,
                "the published checkpoint is for log {origin:?}, the recorded ones for {note_origin:?}"
            );
            // Recorded before it is published: the database is asked now, not the list read above.
            let recorded: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM checkpoints WHERE size = $1 AND note = $2",
            )
            .bind(opened.size as i64)
            .bind(&text)
            .fetch_one(&db.pool)
            .await?;
            anyhow::ensure!(
                recorded == 1,
                "the published checkpoint (size {}) is not one the marketplace recorded",
                opened.size
            );
            opened.size
        }
    };
    Ok(CheckReport {
        size,
        published_size,
        root: hex::encode(root),
        bundles: checked.bundles,
        tiles: checked.tiles,
        checkpoints: all.len() as u64,
        receipts,
    })
}
