//! The JSON a marketplace sends and receives, mirrored here so that the client depends on no
//! server crate (the server's OpenAPI document, `docs/openapi.json`, is the contract).

use serde::{Deserialize, Serialize};

/// `GET /v1/marketplace`: who the marketplace is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarketplaceInfo {
    /// Its did:key, which issues creator credentials; pinned when a creator joins.
    pub did: String,
    /// The origin sign-in presentations must name as their domain.
    pub public_url: String,
    /// The creator's share of each sale, a decimal string between 0 and 1.
    pub creator_share: String,
    /// The largest shard one upload may declare, in bytes.
    pub max_shard_bytes: u64,
    pub tus_version: String,
    /// The server's version.
    pub version: String,
}

/// `POST /v1/auth/challenges`: what to sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Challenge {
    pub challenge: String,
    /// The origin the presentation must name; the client refuses any but the one it connects to.
    pub domain: String,
    pub expires_at: String,
}

/// `POST /v1/auth/sessions`: a bearer token. Its `Debug` hides the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// Send as `Authorization: Bearer TOKEN`. A secret: never logged.
    pub token: String,
    pub token_type: String,
    /// RFC 3339; sign in again after this.
    pub expires_at: String,
    /// The did:key that signed in.
    pub did: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("token", &"…")
            .field("expires_at", &self.expires_at)
            .field("did", &self.did)
            .finish()
    }
}

/// `GET` and `PUT /v1/creators/me`: a registered creator and the credential the marketplace issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// `POST /v1/versions` and `GET /v1/catalog/{id}`: a listed version (the fields the shells show).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionSummary {
    /// The marketplace's id for this version.
    pub id: String,
    /// The dataset's name, as its manifest gives it.
    pub name: String,
    /// Its semantic version.
    pub version: String,
    /// The price per sample, an exact decimal string.
    pub price: String,
    pub currency: String,
    /// SHA-256 (hex) of the exact manifest bytes.
    pub manifest_sha256: String,
    pub shard_count: u64,
    pub total_shard_bytes: u64,
    /// RFC 3339.
    pub published_at: String,
}

/// `GET /v1/creator/shards/{cid}`: a shard as the marketplace stores it, read back from storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredShard {
    pub cid: String,
    pub size: u64,
    /// SHA-256 (hex) of the stored bytes, computed for the answer.
    pub sha256: String,
}

/// The body of every error answer.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ErrorBody {
    pub code: String,
    pub message: String,
}
