//! Creators: a signed-in did:key registers a display name and receives the creator credential the
//! marketplace issues (VC 2.0, eddsa-jcs-2022), at the verification level its admin has set.

use axum::Json;
use axum::extract::State;
use hallmark_core::creator::{self, VerificationLevel};
use hallmark_core::did::SigningIdentity;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use crate::auth::SignedIn;
use crate::clock::{rfc3339, rfc3339_from_unix};
use crate::db::Db;
use crate::error::{ApiError, ApiResult, ErrorBody};

/// How long a creator credential is valid, in seconds.
pub const CREDENTIAL_TTL_SECONDS: i64 = 365 * 24 * 3600;
/// Re-issue a credential this long before it expires, in seconds.
const RENEW_BEFORE_SECONDS: i64 = 30 * 24 * 3600;
/// The longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// What a creator sends to register.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The name buyers see, 1 to 100 characters.
    pub name: String,
}

/// A registered creator and their creator credential.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatorRecord {
    pub did: String,
    pub name: String,
    /// `self-asserted`, `contact-verified` or `identity-verified`.
    pub level: String,
    pub registered_at: String,
    /// The creator credential, as signed.
    pub credential: serde_json::Value,
}

/// Routes under `/v1/creators`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me, register))
}

/// Checks a display name: trimmed, 1 to [`MAX_NAME_CHARS`] characters, no control characters.
pub fn validated_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("the name is empty; give the name buyers should see".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "the name is longer than {MAX_NAME_CHARS} characters; shorten it"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("the name contains control characters (a newline or tab); remove them".into());
    }
    if let Some(c) = name.chars().find(|c| is_invisible(*c)) {
        return Err(format!(
            "the name contains an invisible character (U+{:04X}: a direction override, joiner or \
             zero-width space) that would make it read differently from what it is; remove it",
            u32::from(c)
        ));
    }
    // Runs of spaces collapse to one, so that "Ana  Example" is not a second "Ana Example".
    Ok(name.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Unicode format characters that change how a name reads without showing: bidirectional
/// overrides, embeddings and isolates, zero-width spaces and joiners, the byte-order mark.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
    )
}

/// Issues and stores a fresh credential for `did` with its stored name and level.
pub async fn reissue(
    db: &Db,
    marketplace: &SigningIdentity,
    did: &str,
    now: time::OffsetDateTime,
) -> anyhow::Result<()> {
    let (name, level): (String, String) =
        sqlx::query_as("SELECT name, level FROM creators WHERE did = $1")
            .bind(did)
            .fetch_one(&db.pool)
            .await?;
    let holder: hallmark_core::did::PublicIdentity = did
        .parse()
        .map_err(|e| anyhow::anyhow!("stored creator {did} is not a did:key: {e}"))?;
    let level: VerificationLevel = level.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let valid_until = now.unix_timestamp() + CREDENTIAL_TTL_SECONDS;
    let credential = creator::issue_at_level(
        marketplace,
        &holder,
        &name,
        level,
        &rfc3339(now),
        &rfc3339_from_unix(valid_until),
    )?;
    sqlx::query("UPDATE creators SET credential = $1, credential_valid_until = $2 WHERE did = $3")
        .bind(credential.to_string())
        .bind(valid_until)
        .bind(did)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Sets `did`'s verification level (the admin's step) and re-issues its credential.
pub async fn set_level(
    db: &Db,
    marketplace: &SigningIdentity,
    did: &str,
    level: VerificationLevel,
    now: time::OffsetDateTime,
) -> anyhow::Result<()> {
    let updated = sqlx::query("UPDATE creators SET level = $1 WHERE did = $2")
        .bind(level.as_str())
        .bind(did)
        .execute(&db.pool)
        .await?;
    if updated.rows_affected() == 0 {
        anyhow::bail!(
            "no creator {did} is registered here; they must run hallmark market join first"
        );
    }
    reissue(db, marketplace, did, now).await
}

async fn record(state: &AppState, did: &str) -> ApiResult<Option<CreatorRecord>> {
    let row: Option<(String, String, i64, String, i64)> = sqlx::query_as(
        "SELECT name, level, registered_at, credential, credential_valid_until FROM creators WHERE did = $1",
    )
    .bind(did)
    .fetch_optional(&state.db.pool)
    .await?;
    let Some((name, level, registered_at, credential, valid_until)) = row else {
        return Ok(None);
    };
    if valid_until - RENEW_BEFORE_SECONDS <= state.now_unix() {
        reissue(&state.db, &state.identity, did, state.clock.now())
            .await
            .map_err(|e| ApiError::internal("renewing a creator credential", e))?;
        return Box::pin(record(state, did)).await;
    }
    let credential = serde_json::from_str(&credential)
        .map_err(|e| ApiError::internal("reading a stored credential", e))?;
    Ok(Some(CreatorRecord {
        did: did.to_owned(),
        name,
        level,
        registered_at: rfc3339_from_unix(registered_at),
        credential,
    }))
}

/// The signed-in creator's registration and credential.
#[utoipa::path(get, path = "/v1/creators/me", tag = "creators",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Registered", body = CreatorRecord),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 404, description = "Not registered yet", body = ErrorBody),
    ))]
async fn me(State(state): State<AppState>, signed_in: SignedIn) -> ApiResult<Json<CreatorRecord>> {
    record(&state, &signed_in.did)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_registered",
                "you are signed in but not registered; register a name with PUT /v1/creators/me",
            )
        })
}

/// Registers the signed-in creator (or changes their name) and issues their creator credential.
#[utoipa::path(put, path = "/v1/creators/me", tag = "creators",
    security(("bearer" = [])),
    request_body = Registration,
    responses(
        (status = 200, description = "Registered; the credential is issued", body = CreatorRecord),
        (status = 400, description = "Bad name", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
    ))]
async fn register(
    State(state): State<AppState>,
    signed_in: SignedIn,
    body: axum::body::Bytes,
) -> ApiResult<Json<CreatorRecord>> {
    let registration: Registration = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "bad_registration",
            format!("expected {{\"name\": \"…\"}}: {e}"),
        )
    })?;
    let name =
        validated_name(&registration.name).map_err(|e| ApiError::bad_request("bad_name", e))?;
    let taken: Option<String> =
        sqlx::query_scalar("SELECT did FROM creators WHERE lower(name) = lower($1) AND did <> $2")
            .bind(&name)
            .bind(&signed_in.did)
            .fetch_optional(&state.db.pool)
            .await?;
    if taken.is_some() {
        return Err(ApiError::conflict(
            "name_taken",
            format!("another creator here is named {name:?}; choose a name buyers can tell apart"),
        ));
    }
    let now = state.now_unix();
    sqlx::query(
        "INSERT INTO creators (did, name, level, registered_at, credential, credential_valid_until) \
         VALUES ($1, $2, $3, $4, '', 0) \
         ON CONFLICT (did) DO UPDATE SET name = excluded.name",
    )
    .bind(&signed_in.did)
    .bind(&name)
    .bind(VerificationLevel::SelfAsserted.as_str())
    .bind(now)
    .execute(&state.db.pool)
    .await?;
    reissue(
        &state.db,
        &state.identity,
        &signed_in.did,
        state.clock.now(),
    )
    .await
    .map_err(|e| ApiError::internal("issuing a creator credential", e))?;
    record(&state, &signed_in.did)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::internal("registering", "the creator vanished"))
}
