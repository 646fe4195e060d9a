//! The one client of a Hallmark marketplace, for the CLI and the desktop app: it pins the
//! marketplace's did:key, signs in with the creator's key (DID authentication), registers the
//! creator and checks every creator credential it receives before handing it on.
//!
//! It does not store anything (the shells keep pins, tokens and credentials where they keep their
//! state), does not read the clock (`now` is an RFC 3339 argument, as in the core), and does not
//! depend on the server crate: the few JSON shapes are mirrored in [`wire`].
//!
//! ```
//! use hallmark_client::{ClientError, MarketClient};
//!
//! let client = MarketClient::new("http://127.0.0.1:8787/")?;
//! assert_eq!(client.origin().as_str(), "http://127.0.0.1:8787");
//! // A marketplace is named by its origin alone.
//! assert!(matches!(
//!     MarketClient::new("http://127.0.0.1:8787/v1"),
//!     Err(ClientError::BadUrl { .. })
//! ));
//! # Ok::<(), ClientError>(())
//! ```

pub mod earnings;
pub mod error;
pub mod joined;
pub mod mirror;
pub mod origin;
pub mod pin;
pub mod publishing;
mod sqlite;
pub mod upload;
pub mod wire;

use std::time::Duration;

use hallmark_core::creator::{self, CreatorStatus};
use hallmark_core::did::{PublicIdentity, SigningIdentity};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

pub use crate::error::ClientError;
pub use crate::origin::Origin;
pub use crate::wire::{
    Challenge, CreatorRecord, MarketplaceInfo, Session, StoredShard, VersionSummary,
};

/// The largest answer read from a marketplace: its JSON answers are a few kilobytes, a creator
/// credential at most [`creator::MAX_DOCUMENT_BYTES`].
pub const MAX_RESPONSE_BYTES: usize = 2 * creator::MAX_DOCUMENT_BYTES;

/// The longest session token accepted (it goes into an HTTP header and onto a script's stdout).
pub const MAX_TOKEN_CHARS: usize = 512;

/// Whether `token`, from a marketplace or a file, can be used as a bearer token: 1 to
/// [`MAX_TOKEN_CHARS`] printable ASCII characters (no spaces, controls or escapes).
pub fn token_ok(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN_CHARS
        && token.bytes().all(|b| b.is_ascii_graphic())
}

/// How long connecting may take before the marketplace counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one call may take in all.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A client of the marketplace at one origin.
#[derive(Debug)]
pub struct MarketClient {
    origin: Origin,
    http: reqwest::Client,
    /// The key the creator joined, if they did; every contact checks the marketplace still has it.
    pinned: Option<PublicIdentity>,
    /// What `GET /v1/marketplace` said on this client's first contact, after the pin check.
    identity: tokio::sync::OnceCell<Marketplace>,
    session: Option<Session>,
}

/// The marketplace as checked on first contact.
#[derive(Debug, Clone)]
struct Marketplace {
    did: PublicIdentity,
    info: MarketplaceInfo,
}

/// How long a publish may take in all: the marketplace reads the index (up to 512 MiB) and checks
/// every digest before it answers.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// What to publish: a sealed, signed dataset's exact files and the terms of sale.
#[derive(Debug, Clone, Copy)]
pub struct PublishForm<'a> {
    /// The creator credential this marketplace issued, then the dataset credential, as signed.
    pub credentials: &'a [serde_json::Value],
    /// The exact bytes of `croissant.json`.
    pub manifest: &'a [u8],
    /// `index.jsonl`, streamed from the file (its bytes must be the ones the manifest names).
    pub index: &'a std::path::Path,
    /// The price per sample, a decimal string such as `0.002`.
    pub price: &'a str,
    /// ISO 4217 code.
    pub currency: &'a str,
}

/// What `POST /v1/versions` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub version: VersionSummary,
    /// `false` when the marketplace already listed exactly this (200 rather than 201).
    pub new: bool,
}

/// A registered creator whose credential checked out against the pinned marketplace and the
/// signed-in key.
#[derive(Debug, Clone, PartialEq)]
pub struct Creator {
    /// As the marketplace sent it (the credential is its exact JSON).
    pub record: CreatorRecord,
    /// What the credential says, as the core checked it.
    pub status: CreatorStatus,
}

impl MarketClient {
    /// A client of the marketplace at `base_url`, which must be an http(s) origin with no path.
    /// Nothing is sent yet; the first call learns (or, with [`MarketClient::pinned_to`], checks)
    /// the marketplace's key.
    pub fn new(base_url: &str) -> Result<MarketClient, ClientError> {
        let origin = Origin::parse(base_url)?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            // A marketplace answers at its origin; following a redirect would send the token
            // and the presentation somewhere the creator did not choose.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hallmark-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Unreachable {
                origin: origin.to_string(),
                url: origin.to_string(),
                detail: format!("cannot set up HTTP ({e})"),
            })?;
        Ok(MarketClient {
            origin,
            http,
            pinned: None,
            identity: tokio::sync::OnceCell::new(),
            session: None,
        })
    }

    /// Expects the marketplace to have `did`, the key pinned when the creator joined: every call
    /// is refused with [`ClientError::IdentityChanged`] if it has another.
    pub fn pinned_to(mut self, did: PublicIdentity) -> MarketClient {
        self.pinned = Some(did);
        self
    }

    /// Uses a session from an earlier sign-in (a stored token) instead of signing in again.
    pub fn with_session(mut self, session: Session) -> MarketClient {
        self.session = Some(session);
        self
    }

    /// The marketplace's origin, the domain sign-ins are bound to.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The marketplace's key: the pin, or the key learned on first contact.
    pub fn marketplace_did(&self) -> Option<&PublicIdentity> {
        self.pinned
            .as_ref()
            .or_else(|| self.identity.get().map(|m| &m.did))
    }

    /// The current session, after [`MarketClient::sign_in`] or [`MarketClient::with_session`].
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// Who the marketplace is (`GET /v1/marketplace`, asked once per client), refused if its key
    /// is not the pinned one.
    pub async fn marketplace(&self) -> Result<MarketplaceInfo, ClientError> {
        Ok(self.identity().await?.info.clone())
    }

    async fn identity(&self) -> Result<&Marketplace, ClientError> {
        self.identity
            .get_or_try_init(|| async {
                let info: MarketplaceInfo = self
                    .send(Method::GET, "/v1/marketplace", None, false)
                    .await?;
                let did = pin::check_identity(&self.origin, self.pinned.as_ref(), &info)?;
                Ok(Marketplace { did, info })
            })
            .await
    }

    /// Signs in with `key`: gets a challenge, checks it is for this origin, answers it with a
    /// presentation signed at `now` (RFC 3339) and keeps the session it is given.
    pub async fn sign_in(
        &mut self,
        key: &SigningIdentity,
        now: &str,
    ) -> Result<Session, ClientError> {
        let challenge: Challenge = self
            .call(Method::POST, "/v1/auth/challenges", None, false)
            .await?;
        pin::check_domain(&self.origin, &challenge)?;
        let presentation =
            creator::present(key, &[], &challenge.challenge, self.origin.as_str(), now)?;
        let session: Session = self
            .call(
                Method::POST,
                "/v1/auth/sessions",
                Some(presentation.to_string()),
                false,
            )
            .await?;
        if session.did != key.public().to_string() {
            return Err(ClientError::BadResponse {
                url: self.origin.join("/v1/auth/sessions"),
                status: 201,
                detail: format!(
                    "the session is for {}, not for the key that signed in",
                    hallmark_core::json::excerpt(&session.did, 200)
                ),
            });
        }
        if !token_ok(&session.token) || !session.token_type.eq_ignore_ascii_case("Bearer") {
            return Err(ClientError::BadResponse {
                url: self.origin.join("/v1/auth/sessions"),
                status: 201,
                detail: format!(
                    "the session token is not a bearer token of at most {MAX_TOKEN_CHARS} printable characters"
                ),
            });
        }
        self.session = Some(session.clone());
        Ok(session)
    }

    /// Registers the signed-in creator as `name` (or renames them); returns their new creator
    /// credential, checked at `now`.
    pub async fn register(&self, name: &str, now: &str) -> Result<Creator, ClientError> {
        let body = serde_json::json!({ "name": name }).to_string();
        let record: CreatorRecord = self
            .call(Method::PUT, "/v1/creators/me", Some(body), true)
            .await?;
        self.checked(record, now).await
    }

    /// The signed-in creator's registration and current credential, checked at `now`.
    pub async fn creator(&self, now: &str) -> Result<Creator, ClientError> {
        let record: CreatorRecord = self
            .call(Method::GET, "/v1/creators/me", None, true)
            .await?;
        self.checked(record, now).await
    }

    /// Publishes a version (`POST /v1/versions`, multipart): presents `form.credentials` signed by
    /// `key` at `now` over a fresh challenge for this origin, with the manifest, the index (streamed
    /// from its file), price and currency. A version with other content or terms already listed
    /// is [`ClientError::Refused`] with status 409 and the marketplace's message.
    pub async fn publish(
        &self,
        key: &SigningIdentity,
        form: PublishForm<'_>,
        now: &str,
    ) -> Result<Published, ClientError> {
        let session = self.session.as_ref().ok_or_else(|| self.not_signed_in())?;
        let challenge: Challenge = self
            .call(Method::POST, "/v1/auth/challenges", None, false)
            .await?;
        pin::check_domain(&self.origin, &challenge)?;
        let presentation = creator::present(
            key,
            form.credentials,
            &challenge.challenge,
            self.origin.as_str(),
            now,
        )?;
        let url = self.origin.join("/v1/versions");
        let index_error = |e: std::io::Error| ClientError::File {
            path: form.index.to_path_buf(),
            detail: e.to_string(),
        };
        let index = tokio::fs::File::open(form.index)
            .await
            .map_err(index_error)?;
        let index_size = index.metadata().await.map_err(index_error)?.len();
        let body = reqwest::multipart::Form::new()
            .part(
                "manifest",
                reqwest::multipart::Part::bytes(form.manifest.to_vec()),
            )
            .part(
                "index",
                reqwest::multipart::Part::stream_with_length(index, index_size),
            )
            .part(
                "presentation",
                reqwest::multipart::Part::bytes(presentation.to_string().into_bytes()),
            )
            .text("price", form.price.to_owned())
            .text("currency", form.currency.to_owned());
        let request = self
            .http
            .post(&url)
            .timeout(PUBLISH_TIMEOUT)
            .bearer_auth(&session.token)
            .multipart(body);
        let (status, bytes) = self.answer(&url, request, MAX_RESPONSE_BYTES).await?;
        let version: VersionSummary = self.json(&url, status, &bytes, MAX_RESPONSE_BYTES)?;
        Ok(Published {
            version,
            new: status == StatusCode::CREATED,
        })
    }

    /// A version as the public catalog lists it (`GET /v1/catalog/{id}`).
    pub async fn catalog_version(&self, id: &str) -> Result<VersionSummary, ClientError> {
        let path = format!(
            "/v1/catalog/{}",
            id.bytes()
                .map(|b| if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                })
                .collect::<String>()
        );
        self.call(Method::GET, &path, None, false).await
    }

    /// Shard `cid` as the marketplace stores it, read back from its storage for this answer
    /// (`GET /v1/creator/shards/{cid}`): only shards the signed-in creator sent.
    pub async fn stored_shard(&self, cid: &str) -> Result<StoredShard, ClientError> {
        if !cid.bytes().all(|b| b.is_ascii_alphanumeric()) || cid.len() > 100 {
            return Err(ClientError::BadUrl {
                url: cid.to_owned(),
                problem: "a shard CID is letters and digits".into(),
            });
        }
        let answer: StoredShard = self
            .call(
                Method::GET,
                &format!("/v1/creator/shards/{cid}"),
                None,
                true,
            )
            .await?;
        if answer.cid != cid {
            let url = self.origin.join(&format!("/v1/creator/shards/{cid}"));
            return Err(ClientError::BadResponse {
                url,
                status: 200,
                detail: format!(
                    "it answered about shard {}",
                    hallmark_core::json::excerpt(&answer.cid, 80)
                ),
            });
        }
        Ok(answer)
    }

    /// The size and SHA-256 (hex) of a file the catalog serves for version `id` (`manifest` or
    /// `index`), hashed as it streams (an index can be large; nothing is kept).
    pub async fn catalog_file_digest(
        &self,
        id: &str,
        file: &str,
    ) -> Result<(u64, String), ClientError> {
        use sha2::Digest;
        self.identity().await?;
        let url = format!("{}/{file}", self.catalog_url(id));
        let unreachable = |e: reqwest::Error| ClientError::Unreachable {
            origin: self.origin.to_string(),
            url: url.clone(),
            detail: root_cause(&e),
        };
        let mut response = self
            .http
            .get(&url)
            .timeout(PUBLISH_TIMEOUT)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        if !status.is_success() {
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
                if body.len() < 64 << 10 {
                    body.extend_from_slice(&chunk);
                }
            }
            return Err(refusal(&self.origin, &url, status, &body));
        }
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            hasher.update(&chunk);
            size += chunk.len() as u64;
        }
        Ok((
            size,
            hallmark_core::digest::Sha256Digest(hasher.finalize().into()).hex(),
        ))
    }

    /// The public catalog address of version `id`.
    pub fn catalog_url(&self, id: &str) -> String {
        self.origin.join(&format!("/v1/catalog/{id}"))
    }

    /// Ends the session on the marketplace and forgets it.
    pub async fn sign_out(&mut self) -> Result<(), ClientError> {
        self.call::<serde::de::IgnoredAny>(Method::DELETE, "/v1/auth/sessions/current", None, true)
            .await?;
        self.session = None;
        Ok(())
    }

    /// Checks `record`'s credential: issued by the pinned marketplace to the signed-in key, valid
    /// at `now`.
    async fn checked(&self, record: CreatorRecord, now: &str) -> Result<Creator, ClientError> {
        let marketplace = self.identity().await?.did;
        let holder = self.holder()?;
        let status =
            creator::check(&record.credential, &marketplace, &holder, now).map_err(|source| {
                ClientError::Credential {
                    origin: self.origin.to_string(),
                    source,
                }
            })?;
        Ok(Creator { record, status })
    }

    fn holder(&self) -> Result<PublicIdentity, ClientError> {
        let session = self.session.as_ref().ok_or_else(|| self.not_signed_in())?;
        session.did.parse().map_err(|_| self.not_signed_in())
    }

    fn not_signed_in(&self) -> ClientError {
        ClientError::NotSignedIn {
            origin: self.origin.to_string(),
        }
    }

    /// [`MarketClient::send`] to the marketplace whose identity checked out.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        signed_in: bool,
    ) -> Result<T, ClientError> {
        self.identity().await?;
        self.send(method, path, body, signed_in).await
    }

    /// Sends one request and reads its JSON answer (strict, at most [`MAX_RESPONSE_BYTES`]).
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        signed_in: bool,
    ) -> Result<T, ClientError> {
        let url = self.origin.join(path);
        let mut request = self.http.request(method, &url);
        if signed_in {
            let session = self.session.as_ref().ok_or_else(|| self.not_signed_in())?;
            request = request.bearer_auth(&session.token);
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let (status, bytes) = self.answer(&url, request, MAX_RESPONSE_BYTES).await?;
        self.json(&url, status, &bytes, MAX_RESPONSE_BYTES)
    }

    /// `GET path` (signed in or not) from the marketplace whose identity checked out: the answer's
    /// bytes, at most `max`.
    pub(crate) async fn get_bytes(
        &self,
        path: &str,
        signed_in: bool,
        max: usize,
    ) -> Result<Vec<u8>, ClientError> {
        self.identity().await?;
        let url = self.origin.join(path);
        let mut request = self.http.get(&url);
        if signed_in {
            let session = self.session.as_ref().ok_or_else(|| self.not_signed_in())?;
            request = request.bearer_auth(&session.token);
        }
        Ok(self.answer(&url, request, max).await?.1)
    }

    /// [`MarketClient::get_bytes`] read as strict JSON.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        signed_in: bool,
        max: usize,
    ) -> Result<T, ClientError> {
        let bytes = self.get_bytes(path, signed_in, max).await?;
        self.json(&self.origin.join(path), StatusCode::OK, &bytes, max)
    }

    /// Sends `request` and reads its answer (at most `max` bytes); a non-2xx answer is the error
    /// it states.
    async fn answer(
        &self,
        url: &str,
        request: reqwest::RequestBuilder,
        max: usize,
    ) -> Result<(StatusCode, Vec<u8>), ClientError> {
        let unreachable = |e: reqwest::Error| ClientError::Unreachable {
            origin: self.origin.to_string(),
            url: url.to_owned(),
            detail: root_cause(&e),
        };
        let mut response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let bad = |detail: String| ClientError::BadResponse {
            url: url.to_owned(),
            status: status.as_u16(),
            detail,
        };
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(bad(format!("the answer is larger than {max} bytes")));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if bytes.len() + chunk.len() > max {
                return Err(bad(format!("the answer is larger than {max} bytes")));
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(refusal(&self.origin, url, status, &bytes));
        }
        Ok((status, bytes))
    }

    /// A 2xx answer's JSON (strict, at most `max` bytes), as `T`.
    fn json<T: DeserializeOwned>(
        &self,
        url: &str,
        status: StatusCode,
        bytes: &[u8],
        max: usize,
    ) -> Result<T, ClientError> {
        let bad = |detail: String| ClientError::BadResponse {
            url: url.to_owned(),
            status: status.as_u16(),
            detail,
        };
        let bytes = if status == StatusCode::NO_CONTENT {
            b"null".as_slice()
        } else {
            bytes
        };
        let value = hallmark_core::json::from_slice(bytes, max)
            .map_err(|e| bad(format!("not strict JSON ({e})")))?;
        serde_json::from_value(value).map_err(|e| bad(format!("unexpected JSON ({e})")))
    }
}

/// The error for a non-2xx answer: the server's `{code, message}` when it sent one.
fn refusal(origin: &Origin, url: &str, status: StatusCode, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<wire::ErrorBody>(body) {
        Ok(error) => ClientError::Refused {
            origin: origin.to_string(),
            status: status.as_u16(),
            code: hallmark_core::json::excerpt(&error.code, 100),
            message: hallmark_core::json::excerpt(&error.message, 1000),
        },
        Err(_) => ClientError::BadResponse {
            url: url.to_owned(),
            status: status.as_u16(),
            detail: if status.is_redirection() {
                "a redirect; a marketplace must be reached at its own origin".into()
            } else {
                format!(
                    "no {{code, message}} error body: {:?}",
                    hallmark_core::json::excerpt(&String::from_utf8_lossy(body), 200)
                )
            },
        },
    }
}

/// Why a request got no answer, in the words of the innermost cause ("Connection refused (os
/// error 111)"), which is the part a person can act on.
fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_printable_ascii_and_bounded() {
        assert!(token_ok("hmk_abc-DEF_123"));
        assert!(!token_ok(""));
        assert!(!token_ok("hmk_a b"));
        assert!(!token_ok("hmk_\u{1b}[2J"));
        assert!(!token_ok("hmk_\r\nSet-Cookie: x"));
        assert!(!token_ok(&"a".repeat(MAX_TOKEN_CHARS + 1)));
        assert!(token_ok(&"a".repeat(MAX_TOKEN_CHARS)));
    }
}
