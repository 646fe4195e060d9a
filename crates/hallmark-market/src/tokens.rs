//! Access tokens: self-contained bearer tokens for shard downloads, signed by the marketplace.
//!
//! A token is `hmt1.<base64url(payload JSON)>.<base64url(Ed25519 signature)>`. The signature is
//! over [`SIGNING_CONTEXT`] followed by the payload's base64url text, so a token's signature can
//! never be taken for a challenge's or a credential's (domain separation), and `hmt1` names the
//! format's version. The payload names the token id, the buyer, the entitlement, the dataset and
//! version it opens, when it was issued and when it expires.
//!
//! [`encode`] and [`verify`] are pure: they take the key (or the public key) and `now`, and touch
//! no database, so any node holding the marketplace's public key (its did:key) can check a token
//! on its own. The server that issued it checks more after this stateless check (access.rs): a
//! revoked entitlement, a disabled buyer or a withdrawn version refuse a valid token at once.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hallmark_core::did::{PublicIdentity, SigningIdentity};

/// Every token starts with this: the format and its version.
pub const PREFIX: &str = "hmt1.";
/// What the marketplace signs before the payload text (never a prefix of anything else it signs).
pub const SIGNING_CONTEXT: &[u8] = b"hallmark-market access token v1\0";
/// The longest token read; anything longer is refused before it is decoded.
pub const MAX_TOKEN_CHARS: usize = 1024;
/// The longest id a token may name.
const MAX_ID_CHARS: usize = 64;
/// How far in the future a token's issue time may be (clocks of nodes differ a little), seconds.
pub const CLOCK_SKEW_SECONDS: i64 = 60;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Claims {
    /// The token's own id: with shard and range, what makes a retried request the same access.
    pub token_id: String,
    pub buyer: String,
    pub entitlement: String,
    pub dataset: String,
    pub version: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds; the token is refused from then on.
    pub expires_at: i64,
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token is not one this marketplace issues (hmt1.PAYLOAD.SIGNATURE)")]
    Malformed,
    #[error(
        "the access token's signature does not check (it was altered, or another marketplace issued it)"
    )]
    BadSignature,
    #[error("the access token expired at Unix time {0}")]
    Expired(i64),
    #[error("the access token is issued in the future (Unix time {0}); check the clocks")]
    NotYetValid(i64),
}

fn message(payload: &str) -> Vec<u8> {
    [SIGNING_CONTEXT, payload.as_bytes()].concat()
}

/// The token for `claims`, signed with `key`.
pub fn encode(key: &SigningIdentity, claims: &Claims) -> String {
    let json = serde_json::to_vec(claims).unwrap_or_default();
    let payload = URL_SAFE_NO_PAD.encode(json);
    let signature = key.sign(&message(&payload));
    format!(
        "{PREFIX}{payload}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

/// Checks `token` against the marketplace's public key at `now` (Unix seconds): its size, format,
/// signature and validity period. Needs no database.
pub fn verify(public: &PublicIdentity, token: &str, now: i64) -> Result<Claims, TokenError> {
    if token.len() > MAX_TOKEN_CHARS {
        return Err(TokenError::Malformed);
    }
    let rest = token.strip_prefix(PREFIX).ok_or(TokenError::Malformed)?;
    let (payload, signature) = rest.split_once('.').ok_or(TokenError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|bytes| ed25519_dalek::Signature::from_slice(&bytes).ok())
        .ok_or(TokenError::Malformed)?;
    public
        .key()
        .verify_strict(&message(payload), &signature)
        .map_err(|_| TokenError::BadSignature)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    let ids = [
        &claims.token_id,
        &claims.buyer,
        &claims.entitlement,
        &claims.dataset,
        &claims.version,
    ];
    if ids
        .iter()
        .any(|id| id.is_empty() || id.len() > MAX_ID_CHARS)
    {
        return Err(TokenError::Malformed);
    }
    if claims.issued_at > now + CLOCK_SKEW_SECONDS {
        return Err(TokenError::NotYetValid(claims.issued_at));
    }
    if claims.expires_at <= now {
        return Err(TokenError::Expired(claims.expires_at));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            token_id: "tok_1".into(),
            buyer: "buyer_1".into(),
            entitlement: "ent_1".into(),
            dataset: "d_1".into(),
            version: "v_1".into(),
            issued_at: 1000,
            expires_at: 2000,
        }
    }

    #[test]
    fn a_token_checks_with_the_public_key_alone() {
        let key = SigningIdentity::generate();
        let token = encode(&key, &claims());
        assert!(token.starts_with(PREFIX) && token.len() < MAX_TOKEN_CHARS);
        assert_eq!(verify(&key.public(), &token, 1500), Ok(claims()));
        assert_eq!(
            verify(&key.public(), &token, 2000),
            Err(TokenError::Expired(2000))
        );
        assert_eq!(
            verify(&key.public(), &token, 900),
            Err(TokenError::NotYetValid(1000))
        );
        let other = SigningIdentity::generate();
        assert_eq!(
            verify(&other.public(), &token, 1500),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn an_altered_or_oversized_token_is_refused() {
        let key = SigningIdentity::generate();
        let token = encode(&key, &claims());
        // Another payload under the original signature.
        let mut forged = claims();
        forged.expires_at = 9_999_999_999;
        let (_, signature) = token.rsplit_once('.').unwrap_or_default();
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap_or_default());
        assert_eq!(
            verify(
                &key.public(),
                &format!("{PREFIX}{payload}.{signature}"),
                1500
            ),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify(&key.public(), &token.replacen("hmt1", "hmt2", 1), 1500),
            Err(TokenError::Malformed)
        );
        let long = format!("{token}{}", "A".repeat(MAX_TOKEN_CHARS));
        assert_eq!(
            verify(&key.public(), &long, 1500),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            verify(&key.public(), "hmt1.", 1500),
            Err(TokenError::Malformed)
        );
    }
}
