//! Buyers: accounts with an API key (`hmb_…`, stored only as its SHA-256), their entitlements to
//! dataset versions at the terms of the moment they took them, and the short-lived access tokens
//! (tokens.rs) they download shards with (access.rs).
//!
//! The admin adds buyers with `hallmark-market buyer add`; a demo server may also let anyone sign
//! up over HTTP (`--open-buyer-signup`). A buyer sees and acts on their own entitlements only:
//! another buyer's entitlement answers 404, exactly as an unknown one.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine as _;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use crate::clock::rfc3339_from_unix;
use crate::db::Db;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::tokens;

/// API keys start with this, so that secret scanners and people recognise them.
pub const KEY_PREFIX: &str = "hmb_";
/// The longest API key read (the prefix and 43 base64url characters of 256 random bits).
const MAX_KEY_CHARS: usize = 128;
/// The longest id a path or body may name; anything longer is not one of the marketplace's ids.
const MAX_ID_CHARS: usize = 64;
/// An access token's lifetime unless the request asks for another, in seconds.
pub const DEFAULT_TOKEN_TTL_SECONDS: i64 = 3600;
/// The longest access-token lifetime, in seconds.
pub const MAX_TOKEN_TTL_SECONDS: i64 = 3600;
/// The shortest access-token lifetime, in seconds.
pub const MIN_TOKEN_TTL_SECONDS: i64 = 10;

/// What `POST /v1/buyers` takes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyerSignUp {
    /// 1 to 100 characters, unique on this marketplace (case-insensitively).
    pub name: String,
}

/// A new buyer and their API key, shown this once.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewBuyer {
    pub id: String,
    pub name: String,
    /// Send as `Authorization: Bearer hmb_…`. Only its SHA-256 is kept: it cannot be shown again.
    pub api_key: String,
}

/// A buyer, as `hallmark-market buyer list` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuyerRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

/// What `POST /v1/buyer/entitlements` takes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntitlementRequest {
    /// The version's id, as the catalog lists it.
    pub version: String,
}

/// A buyer's right to a version, at the terms of the moment it was taken.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Entitlement {
    pub id: String,
    pub version: String,
    pub dataset: String,
    /// The price per sample, an exact decimal string.
    pub price: String,
    /// ISO 4217 code of the price.
    pub currency: String,
    /// The creator's share of each sale, a decimal string.
    pub share_rate: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once revoked: its tokens are refused.
    pub revoked_at: Option<String>,
}

/// The entitlements of the signed-in buyer, newest first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Entitlements {
    pub entitlements: Vec<Entitlement>,
}

/// What `POST /v1/buyer/entitlements/{id}/tokens` takes (the body may be empty).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    /// 10 to 3600 seconds; 3600 when absent.
    pub ttl_seconds: Option<i64>,
}

/// An access token for the shards of one version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessToken {
    /// Send as `Authorization: Bearer hmt1.…` to `GET /v1/shards/{cid}`.
    pub token: String,
    pub token_id: String,
    /// RFC 3339; ask for a new token after this.
    pub expires_at: String,
}

/// Routes under `/v1/buyers` and `/v1/buyer`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(take_entitlement, list_entitlements))
        .routes(routes!(revoke_entitlement))
        .routes(routes!(new_token))
}

fn random_id(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(crate::random_bytes::<16>()))
}

/// The stored form of an API key.
pub fn key_digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Adds a buyer named `name` (validated like a creator's name): their record and API key, which
/// is returned here and never stored.
pub async fn add(db: &Db, name: &str, now: i64) -> ApiResult<NewBuyer> {
    let name =
        crate::creators::validated_name(name).map_err(|e| ApiError::bad_request("bad_name", e))?;
    let api_key = format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crate::random_bytes::<32>())
    );
    let id = random_id("buyer_");
    let inserted = sqlx::query(
        "INSERT INTO buyers (id, name, name_key, key_sha256, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&id)
    .bind(&name)
    .bind(name.to_lowercase())
    .bind(key_digest(&api_key))
    .bind(now)
    .execute(&db.pool)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::conflict(
            "name_taken",
            format!("a buyer here is already named {name:?}; choose another name"),
        ));
    }
    Ok(NewBuyer { id, name, api_key })
}

/// Every buyer, oldest first.
pub async fn list(db: &Db) -> ApiResult<Vec<BuyerRow>> {
    let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, name, created_at, disabled_at FROM buyers ORDER BY created_at, id",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, created_at, disabled_at)| BuyerRow {
            id,
            name,
            created_at,
            disabled_at,
        })
        .collect())
}

/// Disables the buyer named `name` (case-insensitively): their key and tokens are refused from
/// now on. Returns false when they were disabled already.
pub async fn disable(db: &Db, name: &str, now: i64) -> anyhow::Result<bool> {
    let found: Option<(String, Option<i64>)> =
        sqlx::query_as("SELECT id, disabled_at FROM buyers WHERE name_key = $1")
            .bind(name.trim().to_lowercase())
            .fetch_optional(&db.pool)
            .await?;
    match found {
        None => {
            anyhow::bail!("no buyer here is named {name:?}; hallmark-market buyer list shows them")
        }
        Some((_, Some(_))) => Ok(false),
        Some((id, None)) => {
            sqlx::query("UPDATE buyers SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
                .bind(now)
                .bind(&id)
                .execute(&db.pool)
                .await?;
            Ok(true)
        }
    }
}

/// Revokes the entitlement `id` whoever holds it (the admin's step). Returns false when it was
/// revoked already.
pub async fn revoke_any(db: &Db, id: &str, now: i64) -> anyhow::Result<bool> {
    let found: Option<Option<i64>> =
        sqlx::query_scalar("SELECT revoked_at FROM entitlements WHERE id = $1")
            .bind(id)
            .fetch_optional(&db.pool)
            .await?;
    match found {
        None => anyhow::bail!("no entitlement {id:?} exists here; check the id (ent_…)"),
        Some(Some(_)) => Ok(false),
        Some(None) => {
            sqlx::query(
                "UPDATE entitlements SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(id)
            .execute(&db.pool)
            .await?;
            Ok(true)
        }
    }
}

/// The buyer a request's API key (`Authorization: Bearer hmb_…`) belongs to. A handler taking
/// this answers 401 without a known key and 403 to a disabled buyer. The key is looked up by its
/// SHA-256, so no comparison of secret bytes depends on where they differ.
#[derive(Debug, Clone)]
pub struct Buyer {
    pub id: String,
    pub name: String,
}

impl FromRequestParts<AppState> for Buyer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let key = crate::auth::bearer_credential(
            &parts.headers,
            KEY_PREFIX,
            MAX_KEY_CHARS,
            "send your buyer API key as Authorization: Bearer hmb_… (the marketplace's admin \
             gives one with hallmark-market buyer add)",
            "the Authorization header is not a buyer API key (Bearer hmb_…)",
        )?;
        let row: Option<(String, String, Option<i64>)> =
            sqlx::query_as("SELECT id, name, disabled_at FROM buyers WHERE key_sha256 = $1")
                .bind(key_digest(key))
                .fetch_optional(&state.db.pool)
                .await?;
        match row {
            None => Err(ApiError::unauthorized(
                "the buyer API key is unknown; check it, or ask the marketplace's admin for one",
            )),
            Some((_, _, Some(at))) => Err(buyer_disabled(at)),
            Some((id, name, None)) => Ok(Buyer { id, name }),
        }
    }
}

/// 403 for a buyer the admin disabled at `at`.
pub fn buyer_disabled(at: i64) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "buyer_disabled",
        format!(
            "this buyer account was disabled at {}; ask the marketplace's admin",
            rfc3339_from_unix(at)
        ),
    )
}

fn json_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    code: &'static str,
    shape: &str,
) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(code, format!("expected {shape}: {e}")))
}

/// Signs up a buyer: only on a marketplace started with `--open-buyer-signup` (demos, the
/// simulator); elsewhere the admin adds buyers with `hallmark-market buyer add`.
#[utoipa::path(post, path = "/v1/buyers", tag = "buyers",
    request_body = BuyerSignUp,
    responses(
        (status = 201, description = "Signed up; the API key is shown this once", body = NewBuyer),
        (status = 400, description = "Bad name", body = ErrorBody),
        (status = 403, description = "Open sign-up is off on this marketplace", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
    ))]
async fn sign_up(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<NewBuyer>)> {
    if !state.config.open_buyer_signup {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "signup_closed",
            "this marketplace does not let buyers sign up over HTTP; ask its admin to run \
             hallmark-market buyer add NAME, or start it with --open-buyer-signup \
             (HALLMARK_MARKET_OPEN_BUYER_SIGNUP=true) for a demo",
        ));
    }
    let request: BuyerSignUp = json_body(&body, "bad_sign_up", "{\"name\": \"…\"}")?;
    let buyer = add(&state.db, &request.name, state.now_unix()).await?;
    Ok((StatusCode::CREATED, Json(buyer)))
}

#[derive(sqlx::FromRow)]
struct EntitlementRow {
    id: String,
    version_id: String,
    dataset_id: String,
    price: String,
    currency: String,
    share_rate: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl From<EntitlementRow> for Entitlement {
    fn from(row: EntitlementRow) -> Self {
        Entitlement {
            id: row.id,
            version: row.version_id,
            dataset: row.dataset_id,
            price: row.price,
            currency: row.currency,
            share_rate: row.share_rate,
            created_at: rfc3339_from_unix(row.created_at),
            revoked_at: row.revoked_at.map(rfc3339_from_unix),
        }
    }
}

const ENTITLEMENT_COLUMNS: &str = "e.id, e.version_id, v.dataset_id, e.price, e.currency, \
     e.share_rate, e.created_at, e.revoked_at";

/// The buyer's entitlement `id`; another buyer's is `None`, as an unknown one.
async fn own_entitlement(state: &AppState, buyer: &Buyer, id: &str) -> ApiResult<Entitlement> {
    let not_found = || ApiError::not_found(format!("entitlement {id:?} of yours"));
    if id.len() > MAX_ID_CHARS {
        return Err(not_found());
    }
    let row: Option<EntitlementRow> = sqlx::query_as(&format!(
        "SELECT {ENTITLEMENT_COLUMNS} FROM entitlements e JOIN versions v ON v.id = e.version_id \
         WHERE e.id = $1 AND e.buyer_id = $2"
    ))
    .bind(id)
    .bind(&buyer.id)
    .fetch_optional(&state.db.pool)
    .await?;
    row.map(Entitlement::from).ok_or_else(not_found)
}

/// Takes an entitlement to a version on sale, at its current price and the creator share it was
/// published with. Taking it again returns the unrevoked one you hold.
#[utoipa::path(post, path = "/v1/buyer/entitlements", tag = "buyers",
    security(("bearer" = [])),
    request_body = EntitlementRequest,
    responses(
        (status = 201, description = "Entitled", body = Entitlement),
        (status = 200, description = "You already hold an unrevoked entitlement to this version", body = Entitlement),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 403, description = "The buyer is disabled", body = ErrorBody),
        (status = 404, description = "No such version", body = ErrorBody),
        (status = 409, description = "The version was withdrawn: it is no longer sold", body = ErrorBody),
    ))]
async fn take_entitlement(
    State(state): State<AppState>,
    buyer: Buyer,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Entitlement>)> {
    let request: EntitlementRequest =
        json_body(&body, "bad_entitlement", "{\"version\": \"<version id>\"}")?;
    let version = request.version.trim();
    let summary = crate::catalog::summary(&state, version)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("version {version:?}")))?;
    if summary.withdrawn_at.is_some() {
        return Err(ApiError::conflict(
            "version_withdrawn",
            format!(
                "version {version:?} was withdrawn by its creator and is no longer sold; choose a \
                 version the catalog (GET /v1/catalog) lists"
            ),
        ));
    }
    let existing = || async {
        let row: Option<EntitlementRow> = sqlx::query_as(&format!(
            "SELECT {ENTITLEMENT_COLUMNS} FROM entitlements e JOIN versions v ON v.id = e.version_id \
             WHERE e.buyer_id = $1 AND e.version_id = $2 AND e.revoked_at IS NULL"
        ))
        .bind(&buyer.id)
        .bind(&summary.id)
        .fetch_optional(&state.db.pool)
        .await?;
        ApiResult::Ok(row.map(Entitlement::from))
    };
    if let Some(held) = existing().await? {
        return Ok((StatusCode::OK, Json(held)));
    }
    let id = random_id("ent_");
    // The price and share as stored with the version: exact decimal strings, copied unchanged.
    let inserted = sqlx::query(
        "INSERT INTO entitlements (id, buyer_id, version_id, price, currency, share_rate, created_at) \
         SELECT $1, $2, v.id, v.price, v.currency, v.creator_share, $3 FROM versions v \
         WHERE v.id = $4 AND v.withdrawn_at IS NULL ON CONFLICT DO NOTHING",
    )
    .bind(&id)
    .bind(&buyer.id)
    .bind(state.now_unix())
    .bind(&summary.id)
    .execute(&state.db.pool)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok((
            StatusCode::CREATED,
            Json(own_entitlement(&state, &buyer, &id).await?),
        ));
    }
    // Taken at the same moment by another request of this buyer, or withdrawn meanwhile.
    match existing().await? {
        Some(held) => Ok((StatusCode::OK, Json(held))),
        None => Err(ApiError::conflict(
            "version_withdrawn",
            format!("version {version:?} was withdrawn by its creator and is no longer sold"),
        )),
    }
}

/// Your entitlements, newest first, revoked ones included.
#[utoipa::path(get, path = "/v1/buyer/entitlements", tag = "buyers",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Your entitlements", body = Entitlements),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 403, description = "The buyer is disabled", body = ErrorBody),
    ))]
async fn list_entitlements(
    State(state): State<AppState>,
    buyer: Buyer,
) -> ApiResult<Json<Entitlements>> {
    let rows: Vec<EntitlementRow> = sqlx::query_as(&format!(
        "SELECT {ENTITLEMENT_COLUMNS} FROM entitlements e JOIN versions v ON v.id = e.version_id \
         WHERE e.buyer_id = $1 ORDER BY e.created_at DESC, e.id DESC"
    ))
    .bind(&buyer.id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(Json(Entitlements {
        entitlements: rows.into_iter().map(Entitlement::from).collect(),
    }))
}

/// Revokes one of your entitlements: its access tokens are refused from now on. Revoking again
/// changes nothing.
#[utoipa::path(delete, path = "/v1/buyer/entitlements/{entitlement_id}", tag = "buyers",
    security(("bearer" = [])),
    params(("entitlement_id" = String, Path, description = "The entitlement's id")),
    responses(
        (status = 200, description = "Revoked (now or before)", body = Entitlement),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such entitlement of yours", body = ErrorBody),
    ))]
async fn revoke_entitlement(
    State(state): State<AppState>,
    buyer: Buyer,
    Path(id): Path<String>,
) -> ApiResult<Json<Entitlement>> {
    let held = own_entitlement(&state, &buyer, &id).await?;
    if held.revoked_at.is_none() {
        sqlx::query(
            "UPDATE entitlements SET revoked_at = $1 WHERE id = $2 AND buyer_id = $3 AND revoked_at IS NULL",
        )
        .bind(state.now_unix())
        .bind(&held.id)
        .bind(&buyer.id)
        .execute(&state.db.pool)
        .await?;
    }
    Ok(Json(own_entitlement(&state, &buyer, &id).await?))
}

/// Issues an access token for the shards of one of your entitlements' version.
#[utoipa::path(post, path = "/v1/buyer/entitlements/{entitlement_id}/tokens", tag = "buyers",
    security(("bearer" = [])),
    params(("entitlement_id" = String, Path, description = "The entitlement's id")),
    request_body(content = TokenRequest, description = "Optional; an empty body asks for 3600 seconds"),
    responses(
        (status = 201, description = "A token (hmt1.…) for GET /v1/shards/{cid}", body = AccessToken),
        (status = 400, description = "Bad ttlSeconds", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such entitlement of yours", body = ErrorBody),
        (status = 409, description = "The entitlement is revoked or its version withdrawn", body = ErrorBody),
    ))]
async fn new_token(
    State(state): State<AppState>,
    buyer: Buyer,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<AccessToken>)> {
    let request: TokenRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TokenRequest::default()
    } else {
        json_body(
            &body,
            "bad_token_request",
            "{\"ttlSeconds\": 3600} or an empty body",
        )?
    };
    let ttl = request.ttl_seconds.unwrap_or(DEFAULT_TOKEN_TTL_SECONDS);
    if !(MIN_TOKEN_TTL_SECONDS..=MAX_TOKEN_TTL_SECONDS).contains(&ttl) {
        return Err(ApiError::bad_request(
            "bad_ttl",
            format!(
                "ttlSeconds {ttl}: ask for {MIN_TOKEN_TTL_SECONDS} to {MAX_TOKEN_TTL_SECONDS} \
                 seconds, and for a new token when it expires"
            ),
        ));
    }
    let held = own_entitlement(&state, &buyer, &id).await?;
    if held.revoked_at.is_some() {
        return Err(ApiError::conflict(
            "entitlement_revoked",
            format!(
                "entitlement {id:?} was revoked; take a new one with POST /v1/buyer/entitlements"
            ),
        ));
    }
    let withdrawn: Option<i64> =
        sqlx::query_scalar("SELECT withdrawn_at FROM versions WHERE id = $1")
            .bind(&held.version)
            .fetch_one(&state.db.pool)
            .await?;
    if withdrawn.is_some() {
        return Err(ApiError::conflict(
            "version_withdrawn",
            format!(
                "version {:?} was withdrawn by its creator; its shards are no longer served",
                held.version
            ),
        ));
    }
    let now = state.now_unix();
    let claims = tokens::Claims {
        token_id: random_id("tok_"),
        buyer: buyer.id.clone(),
        entitlement: held.id,
        dataset: held.dataset,
        version: held.version,
        issued_at: now,
        expires_at: now + ttl,
    };
    Ok((
        StatusCode::CREATED,
        Json(AccessToken {
            token: tokens::encode(&state.identity, &claims),
            token_id: claims.token_id,
            expires_at: rfc3339_from_unix(claims.expires_at),
        }),
    ))
}

/// An entitlement's terms as [`Decimal`]s, for metering.
pub fn terms(price: &str, share_rate: &str) -> ApiResult<(Decimal, Decimal)> {
    let parse = |text: &str| {
        text.parse::<Decimal>()
            .map_err(|e| ApiError::internal("reading an entitlement's terms", e))
    };
    Ok((parse(price)?, parse(share_rate)?))
}
