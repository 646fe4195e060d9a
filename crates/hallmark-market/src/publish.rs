//! Publishing: a signed-in creator sends a version's manifest, index and a presentation of their
//! creator credential and dataset credential; the marketplace checks every proof and digest and
//! that every shard is stored, then lists the version at the price the creator set. Versions are
//! immutable; a creator can withdraw one (no new sales; the record stays).

use std::collections::HashMap;

use axum::Json;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use hallmark_core::creator::{AcceptedPresentation, CredentialError};
use hallmark_core::credential::{self, DocumentsCheck, HashedFile};
use hallmark_core::digest::Sha256Digest;
use hallmark_core::manifest::ManifestFacts;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use crate::auth::{self, SignedIn};
use crate::catalog::{self, VersionSummary};
use crate::error::{ApiError, ApiResult, ErrorBody};

/// The largest manifest accepted, in bytes (the core reads up to 256 MiB; a real one is far smaller).
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;
/// The largest index accepted, in bytes; it is streamed to a temporary file, never held whole.
pub const MAX_INDEX_BYTES: u64 = 512 << 20;
/// The largest presentation accepted, in bytes (the core's bound for a credential document).
pub const MAX_PRESENTATION_BYTES: u64 = hallmark_core::creator::MAX_DOCUMENT_BYTES as u64;
/// The largest price or currency part, in bytes.
const MAX_SMALL_PART_BYTES: u64 = 64;
/// The most decimal places a per-sample price may have.
pub const MAX_PRICE_SCALE: u32 = 12;
/// The highest per-sample price, in the currency's major unit.
pub const MAX_PRICE: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
/// How many missing shards or differences an error names.
const NAMED_AT_MOST: usize = 20;
/// How many rows one statement reads or writes (under SQLite's variable limit).
const ROWS_PER_STATEMENT: usize = 300;
/// How many publishes are checked at once.
const PUBLISHES_AT_ONCE: usize = 2;
static PUBLISHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(PUBLISHES_AT_ONCE);

/// The form parts of `POST /v1/versions`.
const PARTS: [&str; 5] = ["manifest", "index", "presentation", "price", "currency"];

/// What `POST /v1/versions` takes (multipart/form-data), for the OpenAPI document.
#[derive(Debug, utoipa::ToSchema)]
// Only its schema is used: the handler reads the parts as they stream in, bounded one by one.
#[allow(dead_code)]
pub struct PublishForm {
    /// The exact bytes of `croissant.json` (at most 64 MiB).
    #[schema(value_type = String, format = Binary)]
    manifest: Vec<u8>,
    /// The exact bytes of `index.jsonl` (at most 512 MiB).
    #[schema(value_type = String, format = Binary)]
    index: Vec<u8>,
    /// A VerifiablePresentation (JSON, at most 1 MiB) signed over a fresh challenge from
    /// POST /v1/auth/challenges and this marketplace's domain, holding the creator credential this
    /// marketplace issued to you and exactly one dataset credential you signed.
    #[schema(value_type = String, format = Binary)]
    presentation: Vec<u8>,
    /// The price per sample: a positive decimal such as `0.002`, at most 12 decimal places.
    price: String,
    /// ISO 4217 code, three capital letters such as `EUR`.
    currency: String,
}

/// Routes under `/v1/versions`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(publish))
        .layer(DefaultBodyLimit::max(
            (MAX_MANIFEST_BYTES + MAX_INDEX_BYTES + MAX_PRESENTATION_BYTES + (1 << 20)) as usize,
        ))
        .merge(OpenApiRouter::new().routes(routes!(withdraw)))
}

/// The parts of a publish form as received; the index waits in an unnamed temporary file.
#[derive(Default)]
struct Received {
    manifest: Option<Vec<u8>>,
    index: Option<(tokio::fs::File, HashedFile)>,
    presentation: Option<Vec<u8>>,
    price: Option<Vec<u8>>,
    currency: Option<Vec<u8>>,
}

fn form_error(error: MultipartError) -> ApiError {
    let status = error.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            status,
            "too_large",
            "the form is larger than the marketplace accepts (manifest 64 MiB, index 512 MiB, presentation 1 MiB)",
        );
    }
    ApiError::new(
        status,
        "bad_form",
        format!(
            "the multipart/form-data body cannot be read: {}",
            error.body_text()
        ),
    )
}

fn too_large(part: &str, limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the {part} part is larger than {limit} bytes, the most this marketplace accepts"),
    )
}

/// Reads one part into memory, refusing it past `limit` bytes.
async fn bytes_of(mut field: Field<'_>, part: &str, limit: u64) -> ApiResult<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(form_error)? {
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(too_large(part, limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Streams the index part into an unnamed temporary file, hashing it as it arrives.
async fn index_of(
    state: &AppState,
    mut field: Field<'_>,
) -> ApiResult<(tokio::fs::File, HashedFile)> {
    let io = |e: std::io::Error| ApiError::internal("keeping an index while it arrives", e);
    let folder = state.config.data_dir.join("tmp");
    tokio::fs::create_dir_all(&folder).await.map_err(io)?;
    let file = tokio::task::spawn_blocking(move || tempfile::tempfile_in(folder))
        .await
        .map_err(|e| ApiError::internal("keeping an index while it arrives", e))?
        .map_err(io)?;
    let mut file = tokio::fs::File::from_std(file);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(form_error)? {
        size += chunk.len() as u64;
        if size > MAX_INDEX_BYTES {
            return Err(too_large("index", MAX_INDEX_BYTES));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    file.rewind().await.map_err(io)?;
    let sha256 = Sha256Digest(hasher.finalize().into());
    Ok((file, HashedFile { sha256, size }))
}

async fn receive(state: &AppState, mut form: Multipart) -> ApiResult<Received> {
    let mut received = Received::default();
    while let Some(field) = form.next_field().await.map_err(form_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        let taken = match name.as_str() {
            "manifest" => received.manifest.is_some(),
            "index" => received.index.is_some(),
            "presentation" => received.presentation.is_some(),
            "price" => received.price.is_some(),
            "currency" => received.currency.is_some(),
            _ => {
                return Err(ApiError::bad_request(
                    "bad_form",
                    format!(
                        "the form has a part {:?} the marketplace does not take; send only {}",
                        hallmark_core::json::excerpt(&name, 40),
                        PARTS.join(", ")
                    ),
                ));
            }
        };
        if taken {
            return Err(ApiError::bad_request(
                "bad_form",
                format!("the form has two {name} parts; send each part once"),
            ));
        }
        match name.as_str() {
            "manifest" => {
                received.manifest = Some(bytes_of(field, "manifest", MAX_MANIFEST_BYTES).await?)
            }
            "index" => received.index = Some(index_of(state, field).await?),
            "presentation" => {
                received.presentation =
                    Some(bytes_of(field, "presentation", MAX_PRESENTATION_BYTES).await?)
            }
            "price" => received.price = Some(bytes_of(field, "price", MAX_SMALL_PART_BYTES).await?),
            _ => received.currency = Some(bytes_of(field, "currency", MAX_SMALL_PART_BYTES).await?),
        }
    }
    Ok(received)
}

fn required<T>(part: Option<T>, name: &str) -> ApiResult<T> {
    part.ok_or_else(|| {
        ApiError::bad_request(
            "bad_form",
            format!(
                "the form has no {name} part; send {} as multipart/form-data",
                PARTS.join(", ")
            ),
        )
    })
}

/// Parses a per-sample price: digits with at most one decimal point (no sign, exponent or
/// spaces), positive, at most [`MAX_PRICE_SCALE`] decimal places and [`MAX_PRICE`].
pub fn parse_price(text: &[u8]) -> Result<Decimal, String> {
    let shown = String::from_utf8_lossy(text);
    let refuse = |why: &str| {
        format!(
            "price {:?} {why}; send a positive decimal such as 0.002 (digits and one point, at most {MAX_PRICE_SCALE} decimal places)",
            hallmark_core::json::excerpt(&shown, 40)
        )
    };
    let text = std::str::from_utf8(text).map_err(|_| refuse("is not text"))?;
    let plain = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && text.matches('.').count() <= 1
        && !text.starts_with('.')
        && !text.ends_with('.');
    if !plain {
        return Err(refuse("is not a plain decimal number"));
    }
    let price = Decimal::from_str_exact(text).map_err(|_| refuse("is out of range"))?;
    if price.scale() > MAX_PRICE_SCALE {
        return Err(refuse(&format!(
            "has more than {MAX_PRICE_SCALE} decimal places"
        )));
    }
    if price.is_zero() {
        return Err(refuse("is zero"));
    }
    if price > MAX_PRICE {
        return Err(refuse(&format!("is more than {MAX_PRICE}")));
    }
    Ok(price.normalize())
}

/// Parses an ISO 4217 currency code: three capital letters.
pub fn parse_currency(text: &[u8]) -> Result<String, String> {
    if text.len() == 3 && text.iter().all(u8::is_ascii_uppercase) {
        return Ok(String::from_utf8_lossy(text).into_owned());
    }
    Err(format!(
        "currency {:?} is not an ISO 4217 code; send three capital letters such as EUR or USD",
        hallmark_core::json::excerpt(&String::from_utf8_lossy(text), 40)
    ))
}

/// Why a presentation is refused, as the creator can act on it.
fn presentation_refused(error: CredentialError, public_url: &str) -> ApiError {
    match error {
        CredentialError::InPresentation { .. } => ApiError::new(
            StatusCode::FORBIDDEN,
            "credential_refused",
            format!(
                "the presentation is refused: {error}; present the creator credential this \
                 marketplace ({public_url}) issued to you (GET /v1/creators/me) and the dataset \
                 credential you signed with the key you signed in with"
            ),
        ),
        other => ApiError::unauthorized(format!(
            "the presentation is refused: {other}; sign a new one over a fresh challenge from \
             POST /v1/auth/challenges for the domain {public_url}"
        )),
    }
}

/// At most [`NAMED_AT_MOST`] of `items`, joined, saying how many more there are.
fn named(items: &[String]) -> String {
    let mut text = items
        .iter()
        .take(NAMED_AT_MOST)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > NAMED_AT_MOST {
        text.push_str(&format!(" and {} more", items.len() - NAMED_AT_MOST));
    }
    text
}

/// Refuses a manifest another creator already published: holding a copy of a dataset's bytes
/// (a buyer has them) does not make it yours to sell.
async fn check_not_anothers(state: &AppState, checked: &Checked) -> ApiResult<()> {
    let first: Option<String> = sqlx::query_scalar(
        "SELECT d.creator FROM versions v JOIN datasets d ON d.id = v.dataset_id \
         WHERE v.manifest_sha256 = $1 AND d.creator <> $2 ORDER BY v.published_at LIMIT 1",
    )
    .bind(checked.documents.manifest_sha256.hex())
    .bind(&checked.creator)
    .fetch_optional(&state.db.pool)
    .await?;
    match first {
        None => Ok(()),
        Some(creator) => Err(ApiError::conflict(
            "published_by_another",
            format!(
                "this exact manifest is already published here by {creator}; publish your own work"
            ),
        )),
    }
}

/// Refuses the version unless it lists shards, each once, every one stored with its size and
/// digest and uploaded by `creator` (who thereby proved to hold its bytes: a creator cannot list
/// shards someone else uploaded, even though the marketplace stores each shard once).
async fn check_shards_stored(
    state: &AppState,
    creator: &str,
    facts: &ManifestFacts,
) -> ApiResult<()> {
    let mut stored: HashMap<String, (String, i64)> = HashMap::new();
    let mut cids: Vec<&str> = facts.shards.iter().map(|s| s.cid.as_str()).collect();
    cids.sort_unstable();
    cids.dedup();
    if cids.is_empty() {
        return Err(ApiError::bad_request(
            "bad_manifest",
            "the manifest lists no shards; seal a folder with at least one file",
        ));
    }
    if cids.len() != facts.shards.len() {
        return Err(ApiError::bad_request(
            "bad_manifest",
            "the manifest lists a shard more than once; seal the dataset again",
        ));
    }
    for batch in cids.chunks(ROWS_PER_STATEMENT) {
        let placeholders = (2..=batch.len() + 1)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT s.cid, s.sha256, s.size FROM shards s \
             JOIN shard_holders h ON h.cid = s.cid AND h.creator = $1 \
             WHERE s.cid IN ({placeholders})"
        );
        let mut query = sqlx::query_as::<_, (String, String, i64)>(&sql).bind(creator);
        for cid in batch {
            query = query.bind(*cid);
        }
        for (cid, sha256, size) in query.fetch_all(&state.db.pool).await? {
            stored.insert(cid, (sha256, size));
        }
    }
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    for shard in &facts.shards {
        match stored.get(&shard.cid) {
            None => missing.push(shard.cid.clone()),
            Some((sha256, size)) if *sha256 != shard.sha256 || *size as u64 != shard.size => {
                wrong.push(format!(
                    "{} is stored as {size} bytes with sha256 {sha256}, the manifest gives {} bytes with sha256 {}",
                    shard.cid, shard.size, shard.sha256
                ))
            }
            Some(_) => {}
        }
    }
    if !missing.is_empty() {
        missing.dedup();
        return Err(ApiError::conflict(
            "shards_missing",
            format!(
                "{} of the {} shards the manifest lists are not uploaded by you: {}; upload them \
                 (tus, POST /v1/uploads; you send a shard's bytes even if the marketplace has it \
                 from someone else) and publish again",
                missing.len(),
                facts.shards.len(),
                named(&missing)
            ),
        ));
    }
    if !wrong.is_empty() {
        return Err(ApiError::conflict(
            "shard_mismatch",
            format!(
                "shards stored here differ from the manifest: {}; seal and export again",
                named(&wrong)
            ),
        ));
    }
    Ok(())
}

/// Stores the manifest bytes and the index file under names derived from their digests.
async fn store_documents(
    state: &AppState,
    manifest: Vec<u8>,
    manifest_sha256: &str,
    mut index: tokio::fs::File,
    index_sha256: &str,
) -> ApiResult<()> {
    let failed = |e: object_store::Error| ApiError::internal("storing a published file", e);
    let store = &state.blobs.store;
    store
        .put(
            &state.blobs.path(&catalog::manifest_object(manifest_sha256)),
            manifest.into(),
        )
        .await
        .map_err(failed)?;
    let upload = store
        .put_multipart(&state.blobs.path(&catalog::index_object(index_sha256)))
        .await
        .map_err(failed)?;
    // Parts of 8 MiB: above S3's 5 MiB minimum, equal sizes as R2 requires.
    let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, 8 << 20);
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = match index.read(&mut buffer).await {
            Ok(read) => read,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(ApiError::internal("reading a received index", e));
            }
        };
        if read == 0 {
            break;
        }
        writer.write(&buffer[..read]);
        writer.wait_for_capacity(4).await.map_err(failed)?;
    }
    writer.finish().await.map_err(failed)?;
    Ok(())
}

fn random_id() -> String {
    use base64::Engine;
    format!(
        "v_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crate::random_bytes::<16>())
    )
}

/// The version `version` of `creator`'s dataset `name`, if listed: its id, digests and price.
async fn listed(
    state: &AppState,
    creator: &str,
    name: &str,
    version: &str,
) -> ApiResult<Option<(String, String, String, String, String)>> {
    Ok(sqlx::query_as(
        "SELECT v.id, v.manifest_sha256, v.index_sha256, v.price, v.currency FROM versions v \
         JOIN datasets d ON d.id = v.dataset_id \
         WHERE d.creator = $1 AND d.name = $2 AND v.version = $3",
    )
    .bind(creator)
    .bind(name)
    .bind(version)
    .fetch_optional(&state.db.pool)
    .await?)
}

/// What is being published, checked.
struct Checked {
    creator: String,
    documents: DocumentsCheck,
    index: HashedFile,
    /// The manifest's exact bytes and the received index, until they are stored.
    manifest: Vec<u8>,
    manifest_size: u64,
    index_file: Option<tokio::fs::File>,
    accepted: AcceptedPresentation,
    dataset_credential: serde_json::Value,
    price: Decimal,
    currency: String,
}

/// 200 with the listed version when it has exactly this content; 409 when it has other content.
async fn same_or_conflict(
    state: &AppState,
    checked: &Checked,
    (id, manifest_sha256, index_sha256, price, currency): (String, String, String, String, String),
) -> ApiResult<VersionSummary> {
    let facts = &checked.documents.facts;
    let same = manifest_sha256 == checked.documents.manifest_sha256.hex()
        && index_sha256 == checked.index.sha256.hex()
        && price.parse::<Decimal>().ok() == Some(checked.price)
        && currency == checked.currency;
    if !same {
        return Err(ApiError::conflict(
            "version_exists",
            format!(
                "version {} of {:?} is already published with other content or terms (manifest \
                 sha256 {manifest_sha256}, price {price} {currency}); versions never change: seal \
                 with a new version (such as the next patch version), sign it and publish that",
                facts.version, facts.name
            ),
        ));
    }
    catalog::summary(state, &id)
        .await?
        .ok_or_else(|| ApiError::internal("publishing", "a listed version vanished"))
}

/// Inserts the dataset (if new), the version and its shards in one transaction.
async fn insert_version(state: &AppState, checked: &Checked) -> Result<String, sqlx::Error> {
    let facts = &checked.documents.facts;
    let now = state.now_unix();
    let mut tx = state.db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO datasets (id, creator, name, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (creator, name) DO NOTHING",
    )
    .bind(random_id().replacen("v_", "d_", 1))
    .bind(&checked.creator)
    .bind(&facts.name)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let dataset_id: String =
        sqlx::query_scalar("SELECT id FROM datasets WHERE creator = $1 AND name = $2")
            .bind(&checked.creator)
            .bind(&facts.name)
            .fetch_one(&mut *tx)
            .await?;
    let id = random_id();
    let total: u64 = facts.shards.iter().map(|s| s.size).sum();
    sqlx::query(
        "INSERT INTO versions (id, dataset_id, version, manifest_sha256, manifest_size, \
         index_sha256, index_size, shards_root, shard_count, total_shard_bytes, license, consent, \
         credential, creator_credential, price, currency, creator_share, published_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(&id)
    .bind(&dataset_id)
    .bind(&facts.version)
    .bind(checked.documents.manifest_sha256.hex())
    .bind(checked.manifest_size as i64)
    .bind(checked.index.sha256.hex())
    .bind(checked.index.size as i64)
    .bind(checked.documents.shards_root.hex())
    .bind(facts.shards.len() as i64)
    .bind(total as i64)
    .bind(&facts.license)
    .bind(serde_json::to_string(&facts.consent).unwrap_or_default())
    .bind(checked.dataset_credential.to_string())
    .bind(checked.accepted.creator_credential.to_string())
    .bind(checked.price.to_string())
    .bind(&checked.currency)
    .bind(state.config.creator_share.to_string())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    for (batch_number, batch) in facts.shards.chunks(ROWS_PER_STATEMENT).enumerate() {
        let values = (0..batch.len())
            .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("INSERT INTO version_shards (version_id, position, cid) VALUES {values}");
        let mut query = sqlx::query(&sql);
        for (i, shard) in batch.iter().enumerate() {
            query = query
                .bind(&id)
                .bind((batch_number * ROWS_PER_STATEMENT + i) as i64)
                .bind(&shard.cid);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// Checks the form, the presentation and the documents, in that order; the challenge is used up
/// once the form is well-formed.
async fn check(state: &AppState, signed_in: &SignedIn, form: Received) -> ApiResult<Checked> {
    let price = parse_price(&required(form.price, "price")?)
        .map_err(|e| ApiError::bad_request("bad_price", e))?;
    let currency = parse_currency(&required(form.currency, "currency")?)
        .map_err(|e| ApiError::bad_request("bad_currency", e))?;
    let manifest = required(form.manifest, "manifest")?;
    let (index_file, index) = required(form.index, "index")?;
    let index_file = Some(index_file);
    let presentation = auth::parse_presentation(&required(form.presentation, "presentation")?)?;

    let challenge = auth::consume_challenge(state, &presentation).await?;
    let public_url = &state.config.public_url;
    let accepted = hallmark_core::creator::check_presentation(
        &presentation,
        &state.identity.public(),
        &challenge,
        public_url,
        &state.now(),
    )
    .map_err(|e| presentation_refused(e, public_url))?;
    if accepted.creator.holder != signed_in.did {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_your_presentation",
            format!(
                "the presentation was signed by {}, but you are signed in as {}; present with the key you signed in with",
                accepted.creator.holder, signed_in.did
            ),
        ));
    }
    let [dataset_credential] = accepted.datasets.as_slice() else {
        return Err(ApiError::bad_request(
            "dataset_credentials",
            format!(
                "the presentation carries {} dataset credentials; present your creator credential and exactly one dataset credential, one version at a time",
                accepted.datasets.len()
            ),
        ));
    };
    let dataset_credential = dataset_credential.clone();
    let documents =
        credential::check_documents(&dataset_credential, &manifest, &index, &state.now()).map_err(
            |e| {
                ApiError::bad_request(
                    "bad_manifest",
                    format!("the manifest part cannot be read: {e}"),
                )
            },
        )?;
    if !documents.check.differences.is_empty() {
        let differences: Vec<String> = documents
            .check
            .differences
            .iter()
            .map(ToString::to_string)
            .collect();
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "credential_mismatch",
            format!(
                "the dataset credential does not match what was sent: {}; send the exact \
                 croissant.json and index.jsonl it was signed for, or sign the dataset again",
                named(&differences)
            ),
        ));
    }
    if documents.check.signer.as_deref() != Some(signed_in.did.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "credential_refused",
            "the dataset credential was not issued by you; sign the dataset with the key you signed in with",
        ));
    }
    let names = [
        ("name", &documents.facts.name, 200),
        ("version", &documents.facts.version, 64),
    ];
    for (field, value, most) in names {
        if value
            .chars()
            .any(|c| c.is_control() || crate::creators::is_invisible(c))
        {
            return Err(ApiError::bad_request(
                "bad_manifest",
                format!(
                    "the manifest's {field} contains a control or invisible character (a newline, \
                     a direction override); seal again with a plain one"
                ),
            ));
        }
        if field == "version" && value.contains('+') {
            return Err(ApiError::bad_request(
                "bad_manifest",
                format!(
                    "the manifest's version {value:?} has build metadata (+…), which semver ignores \
                     when comparing versions; seal again without it"
                ),
            ));
        }
        if value.trim().is_empty() || value.chars().count() > most {
            return Err(ApiError::bad_request(
                "bad_manifest",
                format!(
                    "the manifest's {field} must be 1 to {most} characters; seal again with a shorter one"
                ),
            ));
        }
    }
    Ok(Checked {
        creator: signed_in.did.clone(),
        documents,
        index,
        manifest_size: manifest.len() as u64,
        manifest,
        index_file,
        accepted,
        dataset_credential,
        price,
        currency,
    })
}

/// Publishes a version: checks it, then stores its manifest and index and lists it.
#[utoipa::path(post, path = "/v1/versions", tag = "publishing",
    security(("bearer" = [])),
    request_body(content = PublishForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Listed", body = VersionSummary),
        (status = 200, description = "This version was already listed with exactly this content and price: nothing changed", body = VersionSummary),
        (status = 400, description = "A part is missing or malformed (price, currency, manifest, presentation)", body = ErrorBody),
        (status = 401, description = "No valid session, or the presentation's challenge, domain or signature is refused", body = ErrorBody),
        (status = 403, description = "The presentation is not yours, or a credential in it is refused (another marketplace's creator credential, someone else's dataset credential)", body = ErrorBody),
        (status = 409, description = "Shards missing or different, or this version is listed with other content", body = ErrorBody),
        (status = 413, description = "A part is too large", body = ErrorBody),
        (status = 422, description = "The dataset credential does not match the manifest, the index or the shards", body = ErrorBody),
    ))]
async fn publish(
    State(state): State<AppState>,
    signed_in: SignedIn,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<VersionSummary>)> {
    let form = form.map_err(|e| {
        ApiError::bad_request(
            "bad_form",
            format!("send the version as multipart/form-data: {}", e.body_text()),
        )
    })?;
    // A manifest part is held in memory while it is checked: few publishes at a time keep the
    // server's memory bounded however many creators publish at once (the rest wait their turn).
    let _turn = PUBLISHING
        .acquire()
        .await
        .map_err(|e| ApiError::internal("waiting to publish", e))?;
    let received = receive(&state, form).await?;
    let mut checked = check(&state, &signed_in, received).await?;
    let facts = &checked.documents.facts;
    if let Some(found) = listed(&state, &checked.creator, &facts.name, &facts.version).await? {
        return Ok((
            StatusCode::OK,
            Json(same_or_conflict(&state, &checked, found).await?),
        ));
    }
    check_shards_stored(&state, &checked.creator, facts).await?;
    check_not_anothers(&state, &checked).await?;
    let manifest = std::mem::take(&mut checked.manifest);
    let Some(index_file) = checked.index_file.take() else {
        return Err(ApiError::internal(
            "publishing",
            "the index was already stored",
        ));
    };
    store_documents(
        &state,
        manifest,
        &checked.documents.manifest_sha256.hex(),
        index_file,
        &checked.index.sha256.hex(),
    )
    .await?;
    match insert_version(&state, &checked).await {
        Ok(id) => {
            let listed = catalog::summary(&state, &id)
                .await?
                .ok_or_else(|| ApiError::internal("publishing", "a listed version vanished"))?;
            Ok((StatusCode::CREATED, Json(listed)))
        }
        Err(e) => {
            // The same version published at the same moment: answer as if it came second.
            let facts = &checked.documents.facts;
            match listed(&state, &checked.creator, &facts.name, &facts.version).await? {
                Some(found) => Ok((
                    StatusCode::OK,
                    Json(same_or_conflict(&state, &checked, found).await?),
                )),
                None => Err(e.into()),
            }
        }
    }
}

/// Withdraws one of your versions: nothing more is sold; its record, files and credentials stay.
/// Withdrawing again changes nothing.
#[utoipa::path(post, path = "/v1/versions/{version_id}/withdraw", tag = "publishing",
    security(("bearer" = [])),
    params(("version_id" = String, Path, description = "The version's id")),
    responses(
        (status = 200, description = "Withdrawn (now or before)", body = VersionSummary),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 404, description = "No such version of yours", body = ErrorBody),
    ))]
async fn withdraw(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(version_id): Path<String>,
) -> ApiResult<Json<VersionSummary>> {
    let not_found = || ApiError::not_found(format!("version {version_id:?}"));
    let owned = catalog::summary(&state, &version_id)
        .await?
        .filter(|v| v.creator.did == signed_in.did)
        .ok_or_else(not_found)?;
    if owned.withdrawn_at.is_some() {
        return Ok(Json(owned));
    }
    sqlx::query("UPDATE versions SET withdrawn_at = $1 WHERE id = $2 AND withdrawn_at IS NULL")
        .bind(state.now_unix())
        .bind(&owned.id)
        .execute(&state.db.pool)
        .await?;
    catalog::summary(&state, &owned.id)
        .await?
        .map(Json)
        .ok_or_else(not_found)
}
