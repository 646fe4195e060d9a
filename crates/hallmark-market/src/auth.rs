//! Sign-in without passwords (DID authentication): a single-use challenge that expires in minutes,
//! answered by a Verifiable Presentation the creator signs over it and the marketplace's domain,
//! exchanged for a short-lived bearer token that is stored only as its SHA-256.

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::{Json, body::Bytes};
use base64::Engine;
use hallmark_core::creator;
use sha2::{Digest, Sha256};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use crate::clock::rfc3339_from_unix;
use crate::error::{ApiError, ApiResult, ErrorBody};

/// How long a challenge can be answered, in seconds.
pub const CHALLENGE_TTL_SECONDS: i64 = 5 * 60;
/// How long a session token is valid, in seconds.
pub const SESSION_TTL_SECONDS: i64 = 60 * 60;
/// Session tokens start with this, so that secret scanners and people recognise them.
pub const TOKEN_PREFIX: &str = "hmk_";

/// A challenge to sign.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Challenge {
    /// Put this in the presentation proof's `challenge`. Single use.
    pub challenge: String,
    /// Put this in the presentation proof's `domain`: the marketplace's public origin.
    pub domain: String,
    /// RFC 3339; the challenge is refused after this.
    pub expires_at: String,
}

/// The credentials of an `Authorization: Bearer …` value (the scheme in any case, RFC 9110).
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim_start_matches(' '))
}

/// The credential a request sends as `Authorization: Bearer …`: it must start with `prefix` and
/// be at most `max_chars` long. 401 with `missing` when there is no such header, with `malformed`
/// when it is not a credential of that kind. Every bearer extractor (sessions, buyer keys, access
/// tokens) reads its header through this.
pub fn bearer_credential<'a>(
    headers: &'a axum::http::HeaderMap,
    prefix: &str,
    max_chars: usize,
    missing: &str,
    malformed: &str,
) -> ApiResult<&'a str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized(missing))?;
    value
        .to_str()
        .ok()
        .and_then(bearer)
        .map(str::trim)
        .filter(|c| c.starts_with(prefix) && c.len() <= max_chars)
        .ok_or_else(|| ApiError::unauthorized(malformed))
}

/// A session: the bearer token to send as `Authorization: Bearer TOKEN`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// RFC 3339; sign in again after this.
    pub expires_at: String,
    /// The did:key that signed in.
    pub did: String,
}

/// Routes under `/v1/auth`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(new_challenge))
        .routes(routes!(sign_in))
        .routes(routes!(sign_out))
}

fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crate::random_bytes::<32>())
}

/// The stored form of a session token.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What a challenge signs, before its nonce and expiry.
const CHALLENGE_CONTEXT: &[u8] = b"hallmark-market challenge\0";
/// A challenge's bytes: a 16-byte nonce, the expiry (Unix seconds, big-endian) and the
/// marketplace's Ed25519 signature over both.
const CHALLENGE_BYTES: usize = 16 + 8 + 64;

fn challenge_message(nonce_and_expiry: &[u8]) -> Vec<u8> {
    [CHALLENGE_CONTEXT, nonce_and_expiry].concat()
}

/// Issues a single-use challenge, for signing in and for publishing.
///
/// Challenges are signed, not stored: issuing one writes nothing, so no flood of requests can
/// fill the database or lock others out. A challenge is recorded only when it is answered, to
/// refuse it the second time, until it expires.
#[utoipa::path(post, path = "/v1/auth/challenges", tag = "sign-in",
    responses(
        (status = 201, description = "A challenge to sign", body = Challenge),
    ))]
async fn new_challenge(State(state): State<AppState>) -> (StatusCode, Json<Challenge>) {
    let expires_at = state.now_unix() + CHALLENGE_TTL_SECONDS;
    let mut bytes = crate::random_bytes::<16>().to_vec();
    bytes.extend_from_slice(&expires_at.to_be_bytes());
    let signature = state.identity.sign(&challenge_message(&bytes));
    bytes.extend_from_slice(&signature.to_bytes());
    (
        StatusCode::CREATED,
        Json(Challenge {
            challenge: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
            domain: state.config.public_url.clone(),
            expires_at: rfc3339_from_unix(expires_at),
        }),
    )
}

/// Uses up the challenge `presentation`'s proof answers: this marketplace must have signed it, it
/// must be unexpired and not answered before. Returns the challenge text.
pub async fn consume_challenge(
    state: &AppState,
    presentation: &serde_json::Value,
) -> ApiResult<String> {
    let challenge = presentation["proof"]["challenge"]
        .as_str()
        .ok_or_else(|| {
            ApiError::bad_request(
                "no_challenge",
                "the presentation's proof has no challenge; get one from POST /v1/auth/challenges and sign over it",
            )
        })?
        .to_owned();
    let unknown = || {
        ApiError::unauthorized(
            "the challenge was not issued by this marketplace; get one from POST /v1/auth/challenges",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&challenge)
        .ok()
        .filter(|b| b.len() == CHALLENGE_BYTES)
        .ok_or_else(unknown)?;
    let (signed, signature) = bytes.split_at(24);
    let signature = ed25519_dalek::Signature::from_slice(signature).map_err(|_| unknown())?;
    state
        .identity
        .public()
        .key()
        .verify_strict(&challenge_message(signed), &signature)
        .map_err(|_| unknown())?;
    let mut expiry = [0u8; 8];
    expiry.copy_from_slice(&signed[16..]);
    let expires_at = i64::from_be_bytes(expiry);
    if expires_at <= state.now_unix() {
        return Err(ApiError::unauthorized(format!(
            "the challenge expired at {}; get a new one from POST /v1/auth/challenges",
            rfc3339_from_unix(expires_at)
        )));
    }
    let answered = sqlx::query(
        "INSERT INTO challenges (challenge, expires_at) VALUES ($1, $2) ON CONFLICT (challenge) DO NOTHING",
    )
    .bind(&challenge)
    .bind(expires_at)
    .execute(&state.db.pool)
    .await?;
    if answered.rows_affected() == 0 {
        return Err(ApiError::unauthorized(
            "the challenge was already used; get a new one from POST /v1/auth/challenges",
        ));
    }
    Ok(challenge)
}

/// Parses a presentation from a request body (strict JSON, bounded).
pub fn parse_presentation(body: &[u8]) -> ApiResult<serde_json::Value> {
    creator::parse(body).map_err(|e| {
        ApiError::bad_request(
            "bad_presentation",
            format!("the body is not a presentation Hallmark can read: {e}"),
        )
    })
}

/// Exchanges a presentation signed over a fresh challenge for a session token.
#[utoipa::path(post, path = "/v1/auth/sessions", tag = "sign-in",
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "A VerifiablePresentation whose eddsa-jcs-2022 proof (purpose authentication) names the challenge and the domain"),
    responses(
        (status = 201, description = "Signed in", body = Session),
        (status = 400, description = "Not a presentation", body = ErrorBody),
        (status = 401, description = "Unknown, used or expired challenge, wrong domain or bad signature", body = ErrorBody),
    ))]
async fn sign_in(
    State(state): State<AppState>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Session>)> {
    let presentation = parse_presentation(&body)?;
    let challenge = consume_challenge(&state, &presentation).await?;
    let now = state.now();
    let holder = creator::check_sign_in(&presentation, &challenge, &state.config.public_url, &now)
        .map_err(|e| ApiError::unauthorized(format!("the sign-in presentation is refused: {e}")))?;
    let token = format!("{TOKEN_PREFIX}{}", random_token());
    let created_at = state.now_unix();
    let expires_at = created_at + SESSION_TTL_SECONDS;
    let db = &state.db.pool;
    sqlx::query(
        "INSERT INTO sessions (token_sha256, creator, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_digest(&token))
    .bind(holder.to_string())
    .bind(created_at)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(Session {
            token,
            token_type: "Bearer".into(),
            expires_at: rfc3339_from_unix(expires_at),
            did: holder.to_string(),
        }),
    ))
}

/// Ends the session whose token is sent.
#[utoipa::path(delete, path = "/v1/auth/sessions/current", tag = "sign-in",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "No valid session", body = ErrorBody),
    ))]
async fn sign_out(State(state): State<AppState>, signed_in: SignedIn) -> ApiResult<StatusCode> {
    sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
        .bind(&signed_in.token_sha256)
        .execute(&state.db.pool)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Refuses a signed-in did:key that has not registered a name (uploads and publishing are for
/// creators the marketplace knows).
pub async fn require_registered(state: &AppState, signed_in: &SignedIn) -> ApiResult<()> {
    let registered: Option<String> = sqlx::query_scalar("SELECT did FROM creators WHERE did = $1")
        .bind(&signed_in.did)
        .fetch_optional(&state.db.pool)
        .await?;
    match registered {
        Some(_) => Ok(()),
        None => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_registered",
            "register a name first (PUT /v1/creators/me, or hallmark market join)",
        )),
    }
}

/// Deletes expired challenges and sessions.
pub async fn remove_expired(state: &AppState) -> ApiResult<()> {
    let now = state.now_unix();
    for table in ["challenges", "sessions"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE expires_at <= $1"))
            .bind(now)
            .execute(&state.db.pool)
            .await?;
    }
    Ok(())
}

/// The creator a request's bearer token belongs to. A handler that takes this answers 401 to a
/// request without a valid, unexpired token.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The creator's did:key.
    pub did: String,
    token_sha256: String,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let token = bearer_credential(
            &parts.headers,
            TOKEN_PREFIX,
            128,
            "sign in first: send Authorization: Bearer TOKEN (hallmark market token prints one)",
            "the Authorization header is not a Hallmark bearer token (Bearer hmk_…)",
        )?;
        let token_sha256 = token_digest(token);
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT creator, expires_at FROM sessions WHERE token_sha256 = $1")
                .bind(&token_sha256)
                .fetch_optional(&state.db.pool)
                .await?;
        match row {
            Some((did, expires_at)) if expires_at > state.now_unix() => {
                Ok(SignedIn { did, token_sha256 })
            }
            Some((_, expires_at)) => Err(ApiError::unauthorized(format!(
                "the session expired at {}; sign in again",
                rfc3339_from_unix(expires_at)
            ))),
            None => Err(ApiError::unauthorized(
                "the token is unknown or was signed out; sign in again",
            )),
        }
    }
}
