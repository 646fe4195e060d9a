//! What the studio (CLI and app alike) keeps about the marketplaces a creator joined, in
//! `marketplaces/` in Hallmark's data folder: one record per origin (the pinned did:key, who
//! joined) and one session token file (0600).
//!
//! These files are untrusted input (ARCHITECTURE "Trust"): read without following links, bounded,
//! as strict JSON with no unknown fields, and checked (origin, did:keys, dates) before use. Their
//! names are derived from the origin, never read from a file; they are written under random names
//! and renamed into place.

use std::path::{Path, PathBuf};

use hallmark_core::datetime::Timestamp;
use hallmark_core::did::PublicIdentity;
use hallmark_core::digest::Sha256Digest;
use hallmark_core::{Error, Result};

use crate::{Origin, Session};

/// The largest record read; a record is a few hundred bytes.
const MAX_RECORD_BYTES: u64 = 64 << 10;
/// The largest session file read.
const MAX_SESSION_BYTES: u64 = 4 << 10;
/// A stored token with less time left than this is not reused: a script needs time to use it.
pub const TOKEN_MARGIN_SECONDS: i64 = 60;

/// A marketplace the creator joined.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Joined {
    /// Where it is, as an origin.
    pub origin: String,
    /// Its did:key, pinned when the creator joined.
    pub marketplace: String,
    /// The creator's did:key that joined.
    pub creator: String,
    /// The name registered.
    pub name: String,
    /// When the creator joined (RFC 3339).
    pub joined_at: String,
}

impl Joined {
    /// The pinned key.
    pub fn marketplace_did(&self) -> Result<PublicIdentity> {
        self.marketplace.parse().map_err(|e| Error::DamagedRecord {
            path: PathBuf::from("marketplaces"),
            detail: format!(
                "the key pinned for {} is not a did:key ({e}); join it again",
                self.origin
            ),
        })
    }
}

/// The session token stored for one origin.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StoredSession {
    origin: String,
    session: Session,
}

/// The `marketplaces` folder.
#[derive(Debug, Clone)]
pub struct JoinedStore {
    dir: PathBuf,
}

impl JoinedStore {
    pub fn new(data_dir: &Path) -> JoinedStore {
        JoinedStore {
            dir: data_dir.join("marketplaces"),
        }
    }

    /// The file name stem for `origin`: derived from it, so that no text from a server or a file
    /// becomes a path.
    fn stem(origin: &Origin) -> String {
        let digest = Sha256Digest::of(origin.as_str().as_bytes()).hex();
        format!("market-{}", &digest[..32])
    }

    fn record_name(origin: &Origin) -> String {
        format!("{}.json", Self::stem(origin))
    }

    fn session_name(origin: &Origin) -> String {
        format!("{}.session.json", Self::stem(origin))
    }

    fn record_path(&self, origin: &Origin) -> PathBuf {
        self.dir.join(Self::record_name(origin))
    }

    fn session_path(&self, origin: &Origin) -> PathBuf {
        self.dir.join(Self::session_name(origin))
    }

    /// Writes `bytes` as `name` in the folder, through a new file under a random name (mode 0600)
    /// renamed into place.
    fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::from_io(&self.dir, e))?;
        hallmark_core::dataset::write_atomic(&self.dir, name, bytes)
    }

    /// A record of ours that cannot be used, and the fix.
    fn damaged(path: &Path, detail: String) -> Error {
        Error::DamagedRecord {
            path: path.to_path_buf(),
            detail,
        }
    }

    /// Reads `path` if it exists: a regular file (never through a link), at most `max` bytes,
    /// strict JSON.
    fn read(path: &Path, max: u64) -> Result<Option<serde_json::Value>> {
        let Some(bytes) = hallmark_core::untrusted::read_capped_if_present(path, max)? else {
            return Ok(None);
        };
        let value = hallmark_core::json::from_slice(&bytes, max as usize)
            .map_err(|e| Self::damaged(path, format!("{e}; join the marketplace again")))?;
        Ok(Some(value))
    }

    /// Records that the creator joined.
    pub fn save(&self, joined: &Joined) -> Result<()> {
        let origin = Origin::parse(&joined.origin)
            .map_err(|e| Self::damaged(&self.dir, format!("a record to keep: {e}")))?;
        let mut bytes = serde_json::to_vec_pretty(joined)
            .map_err(|e| Self::damaged(&self.dir, e.to_string()))?;
        bytes.push(b'\n');
        self.write(&Self::record_name(&origin), &bytes)
    }

    /// The record of `origin`, if the creator joined it.
    pub fn load(&self, origin: &Origin) -> Result<Option<Joined>> {
        let path = self.record_path(origin);
        let Some(value) = Self::read(&path, MAX_RECORD_BYTES)? else {
            return Ok(None);
        };
        let joined: Joined = serde_json::from_value(value)
            .map_err(|e| Self::damaged(&path, format!("{e}; join {origin} again")))?;
        let damaged = |what: &str| Self::damaged(&path, format!("{what}; join {origin} again"));
        if Origin::parse(&joined.origin).ok().as_ref() != Some(origin) {
            return Err(damaged("it names another marketplace"));
        }
        if joined.marketplace_did().is_err() || joined.creator.parse::<PublicIdentity>().is_err() {
            return Err(damaged("a key in it is not a did:key"));
        }
        Ok(Some(joined))
    }

    /// Every marketplace joined, by origin.
    pub fn all(&self) -> Result<Vec<Joined>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::from_io(&self.dir, e)),
        };
        let mut joined = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| Error::from_io(&self.dir, e))?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if !name.ends_with(".json") || name.ends_with(".session.json") {
                continue;
            }
            // The origin inside picks the record, which must then sit under its derived name.
            let Some(value) = Self::read(&path, MAX_RECORD_BYTES)? else {
                continue;
            };
            let origin = value["origin"].as_str().and_then(|o| Origin::parse(o).ok());
            match origin {
                Some(origin) if self.record_path(&origin) == path => {
                    joined.extend(self.load(&origin)?);
                }
                _ => {
                    return Err(Self::damaged(
                        &path,
                        "it is not a marketplace record Hallmark wrote; remove it".into(),
                    ));
                }
            }
        }
        joined.sort_by(|a, b| a.origin.cmp(&b.origin));
        Ok(joined)
    }

    /// Keeps `session` for `origin`, readable only by this user.
    pub fn save_session(&self, origin: &Origin, session: &Session) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(&StoredSession {
            origin: origin.to_string(),
            session: session.clone(),
        })
        .map_err(|e| Self::damaged(&self.dir, e.to_string()))?;
        self.write(&Self::session_name(origin), &bytes)
    }

    /// The session stored for `origin` and `creator`, expired or not. A damaged or foreign file
    /// counts as none: the worst it costs is a sign-in.
    pub fn session(&self, origin: &Origin, creator: &str) -> Option<Session> {
        let value = Self::read(&self.session_path(origin), MAX_SESSION_BYTES).ok()??;
        let stored = serde_json::from_value::<StoredSession>(value).ok()?;
        let session = stored.session;
        let usable = crate::token_ok(&session.token);
        (stored.origin == origin.as_str() && session.did == creator && usable).then_some(session)
    }
}

/// Whether `session` is still valid `margin` seconds after `now` (a session whose expiry, or a
/// `now` that is not a date, is not: the worst that costs is a sign-in).
pub fn valid_for(session: &Session, now: &str, margin: i64) -> bool {
    let Ok(now) = Timestamp::parse("now", now) else {
        return false;
    };
    Timestamp::parse("expiresAt", &session.expires_at)
        .is_ok_and(|expires| expires >= now.plus_seconds(margin))
}
