//! The public catalog: published versions, newest first, and each one's detail, manifest, index
//! and credentials as they were published, so that buyers can check every byte against its proof.
//!
//! The list shows only versions on sale: a withdrawn version is left out of it. Its detail, files
//! and credentials stay reachable by id, flagged with `withdrawnAt`, for the buyers who hold it.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use crate::clock::rfc3339_from_unix;
use crate::error::{ApiError, ApiResult, ErrorBody};

/// How many versions one catalog page lists unless the request asks for fewer.
pub const DEFAULT_PAGE: u32 = 50;
/// The most versions one catalog page lists.
pub const MAX_PAGE: u32 = 200;
/// The longest version id the marketplace issues; anything longer is not one of its ids.
const MAX_ID_CHARS: usize = 64;

/// The media type of `croissant.json` (JSON-LD), as the dataset credential names it.
pub const MANIFEST_MEDIA_TYPE: &str = "application/ld+json";
/// The media type of `index.jsonl`, as the dataset credential names it.
pub const INDEX_MEDIA_TYPE: &str = "application/jsonlines";

/// The object name of a published manifest in the blob store.
pub fn manifest_object(sha256: &str) -> String {
    format!("datasets/{sha256}.json")
}

/// The object name of a published index in the blob store.
pub fn index_object(sha256: &str) -> String {
    format!("datasets/{sha256}.jsonl")
}

/// Who published a version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Publisher {
    /// The creator's did:key, the issuer of the dataset credential.
    pub did: String,
    /// The name the creator registered.
    pub name: String,
}

/// A published version, as the catalog lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionSummary {
    /// The marketplace's id for this version.
    pub id: String,
    /// The dataset's name, as its manifest gives it.
    pub name: String,
    /// Its semantic version.
    pub version: String,
    pub creator: Publisher,
    /// The SPDX license expression the manifest states and the credential restates.
    pub license: String,
    /// What the creator consents to (CAWG training and mining terms), as the manifest states it.
    #[schema(value_type = Object)]
    pub consent: serde_json::Value,
    /// The price per sample, an exact decimal string.
    pub price: String,
    /// ISO 4217 code of the price.
    pub currency: String,
    /// The creator's share of each sale when the version was published, a decimal string.
    pub creator_share: String,
    /// SHA-256 (hex) of the exact manifest bytes served at `.../manifest`.
    pub manifest_sha256: String,
    /// SHA-256 (hex) of the exact index bytes served at `.../index`.
    pub index_sha256: String,
    /// `sha256:<hex>`: the RFC 9162 Merkle root of the shard digests, as the credential names it.
    pub shards_merkle_root: String,
    pub shard_count: u64,
    /// The shards' total size in bytes.
    pub total_shard_bytes: u64,
    /// RFC 3339.
    pub published_at: String,
    /// RFC 3339, once the creator withdrew it: nothing more is sold, the record stays.
    pub withdrawn_at: Option<String>,
}

/// A shard of a version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ShardEntry {
    /// CIDv1 (raw, SHA-256) of the shard's exact bytes.
    pub cid: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A published version with its shards, in the manifest's order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct VersionDetail {
    #[serde(flatten)]
    pub summary: VersionSummary,
    pub shards: Vec<ShardEntry>,
}

/// One page of the catalog.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogPage {
    /// Versions on sale, newest first; withdrawn versions are not listed.
    pub versions: Vec<VersionSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The credentials a version was published with, as presented.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PublishedCredentials {
    /// The dataset credential the creator signed: it names the manifest and index by digest.
    #[schema(value_type = Object)]
    pub dataset: serde_json::Value,
    /// The creator credential this marketplace issued to the creator.
    #[schema(value_type = Object)]
    pub creator: serde_json::Value,
}

/// Query of `GET /v1/catalog`.
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many versions, 1 to 200 (50 by default).
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// Routes under `/v1/catalog`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(detail))
        .routes(routes!(manifest))
        .routes(routes!(index))
        .routes(routes!(credentials))
}

const SUMMARY_COLUMNS: &str = "v.id, d.name, v.version, d.creator, c.name AS creator_name, \
     v.license, v.consent, v.price, v.currency, v.creator_share, v.manifest_sha256, \
     v.index_sha256, v.shards_root, v.shard_count, v.total_shard_bytes, v.published_at, \
     v.withdrawn_at";
const SUMMARY_FROM: &str = "FROM versions v JOIN datasets d ON d.id = v.dataset_id \
     JOIN creators c ON c.did = d.creator";

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: String,
    name: String,
    version: String,
    creator: String,
    creator_name: String,
    license: String,
    consent: String,
    price: String,
    currency: String,
    creator_share: String,
    manifest_sha256: String,
    index_sha256: String,
    shards_root: String,
    shard_count: i64,
    total_shard_bytes: i64,
    published_at: i64,
    withdrawn_at: Option<i64>,
}

impl SummaryRow {
    fn into_summary(self) -> ApiResult<VersionSummary> {
        let consent = serde_json::from_str(&self.consent)
            .map_err(|e| ApiError::internal("reading a stored consent", e))?;
        Ok(VersionSummary {
            id: self.id,
            name: self.name,
            version: self.version,
            creator: Publisher {
                did: self.creator,
                name: self.creator_name,
            },
            license: self.license,
            consent,
            price: self.price,
            currency: self.currency,
            creator_share: self.creator_share,
            manifest_sha256: self.manifest_sha256,
            index_sha256: self.index_sha256,
            shards_merkle_root: format!("sha256:{}", self.shards_root),
            shard_count: u64::try_from(self.shard_count).unwrap_or_default(),
            total_shard_bytes: u64::try_from(self.total_shard_bytes).unwrap_or_default(),
            published_at: rfc3339_from_unix(self.published_at),
            withdrawn_at: self.withdrawn_at.map(rfc3339_from_unix),
        })
    }
}

/// The version `id`, withdrawn or not; `None` when there is none.
pub async fn summary(state: &AppState, id: &str) -> ApiResult<Option<VersionSummary>> {
    if id.len() > MAX_ID_CHARS {
        return Ok(None);
    }
    let row: Option<SummaryRow> = sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS} {SUMMARY_FROM} WHERE v.id = $1"
    ))
    .bind(id)
    .fetch_optional(&state.db.pool)
    .await?;
    row.map(SummaryRow::into_summary).transpose()
}

async fn existing(state: &AppState, id: &str) -> ApiResult<VersionSummary> {
    summary(state, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("version {id:?}")))
}

fn cursor_of(summary: &SummaryRow) -> String {
    format!("{}.{}", summary.published_at, summary.id)
}

fn parse_cursor(cursor: &str) -> ApiResult<(i64, String)> {
    cursor
        .split_once('.')
        .and_then(|(at, id)| Some((at.parse().ok()?, id)))
        .filter(|(_, id)| id.len() <= MAX_ID_CHARS)
        .map(|(at, id)| (at, id.to_owned()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_cursor",
                "the cursor is not one this catalog gave; pass the nextCursor of the previous page, or none for the first page",
            )
        })
}

/// Lists the versions on sale, newest first. Withdrawn versions are left out.
#[utoipa::path(get, path = "/v1/catalog", tag = "catalog",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of versions on sale, newest first", body = CatalogPage),
        (status = 400, description = "Bad limit or cursor", body = ErrorBody),
    ))]
async fn list(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> ApiResult<Json<CatalogPage>> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            "bad_limit",
            format!("limit {limit}: ask for 1 to {MAX_PAGE} versions per page"),
        ));
    }
    let (after_at, after_id) = match query.cursor.as_deref() {
        Some(cursor) => parse_cursor(cursor)?,
        // Before every version: nothing is published at the end of time.
        None => (i64::MAX, String::new()),
    };
    let mut rows: Vec<SummaryRow> = sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS} {SUMMARY_FROM} WHERE v.withdrawn_at IS NULL \
         AND (v.published_at < $1 OR (v.published_at = $1 AND v.id < $2)) \
         ORDER BY v.published_at DESC, v.id DESC LIMIT $3"
    ))
    .bind(after_at)
    .bind(after_id)
    .bind(i64::from(limit) + 1)
    .fetch_all(&state.db.pool)
    .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(cursor_of)
    } else {
        None
    };
    let versions = rows
        .into_iter()
        .map(SummaryRow::into_summary)
        .collect::<ApiResult<_>>()?;
    Ok(Json(CatalogPage {
        versions,
        next_cursor,
    }))
}

/// A version and its shards, withdrawn or not.
#[utoipa::path(get, path = "/v1/catalog/{version_id}", tag = "catalog",
    params(("version_id" = String, Path, description = "The version's id")),
    responses(
        (status = 200, description = "The version", body = VersionDetail),
        (status = 404, description = "No such version", body = ErrorBody),
    ))]
async fn detail(
    State(state): State<AppState>,
    Path(version_id): Path<String>,
) -> ApiResult<Json<VersionDetail>> {
    let summary = existing(&state, &version_id).await?;
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT vs.cid, s.size FROM version_shards vs JOIN shards s ON s.cid = vs.cid \
         WHERE vs.version_id = $1 ORDER BY vs.position",
    )
    .bind(&summary.id)
    .fetch_all(&state.db.pool)
    .await?;
    let shards = rows
        .into_iter()
        .map(|(cid, size)| ShardEntry {
            cid,
            size: u64::try_from(size).unwrap_or_default(),
        })
        .collect();
    Ok(Json(VersionDetail { summary, shards }))
}

/// Streams the manifest (`index == false`) or the index of the version `version_id`, as stored.
async fn published_file(state: &AppState, version_id: &str, index: bool) -> ApiResult<Response> {
    let summary = existing(state, version_id).await?;
    let (name, media_type) = if index {
        (index_object(&summary.index_sha256), INDEX_MEDIA_TYPE)
    } else {
        (
            manifest_object(&summary.manifest_sha256),
            MANIFEST_MEDIA_TYPE,
        )
    };
    let found = state
        .blobs
        .store
        .get(&state.blobs.path(&name))
        .await
        .map_err(|e| ApiError::internal("reading a published file", e))?;
    let size = found.meta.size;
    let mut response = Body::from_stream(found.into_stream()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    Ok(response)
}

/// The exact manifest bytes (`croissant.json`) the version was published with.
#[utoipa::path(get, path = "/v1/catalog/{version_id}/manifest", tag = "catalog",
    params(("version_id" = String, Path, description = "The version's id")),
    responses(
        (status = 200, description = "The manifest's exact bytes", content_type = "application/ld+json", body = Vec<u8>),
        (status = 404, description = "No such version", body = ErrorBody),
    ))]
async fn manifest(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    published_file(&state, &id, false).await
}

/// The exact index bytes (`index.jsonl`) the version was published with.
#[utoipa::path(get, path = "/v1/catalog/{version_id}/index", tag = "catalog",
    params(("version_id" = String, Path, description = "The version's id")),
    responses(
        (status = 200, description = "The index's exact bytes", content_type = "application/jsonlines", body = Vec<u8>),
        (status = 404, description = "No such version", body = ErrorBody),
    ))]
async fn index(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    published_file(&state, &id, true).await
}

/// The dataset credential and the creator credential the version was published with.
#[utoipa::path(get, path = "/v1/catalog/{version_id}/credentials", tag = "catalog",
    params(("version_id" = String, Path, description = "The version's id")),
    responses(
        (status = 200, description = "Both credentials, as presented", body = PublishedCredentials),
        (status = 404, description = "No such version", body = ErrorBody),
    ))]
async fn credentials(
    State(state): State<AppState>,
    Path(version_id): Path<String>,
) -> ApiResult<Json<PublishedCredentials>> {
    if version_id.len() > MAX_ID_CHARS {
        return Err(ApiError::not_found(format!("version {version_id:?}")));
    }
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT credential, creator_credential FROM versions WHERE id = $1")
            .bind(&version_id)
            .fetch_optional(&state.db.pool)
            .await?;
    let (dataset, creator) =
        row.ok_or_else(|| ApiError::not_found(format!("version {version_id:?}")))?;
    let parse = |text: &str| {
        serde_json::from_str(text).map_err(|e| ApiError::internal("reading a stored credential", e))
    };
    Ok(Json(PublishedCredentials {
        dataset: parse(&dataset)?,
        creator: parse(&creator)?,
    }))
}
