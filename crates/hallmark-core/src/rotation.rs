//! Key rotation: a statement the old key signs (a VC, eddsa-jcs-2022) naming the new key, so
//! whoever trusted the old identity can follow it to the new one.
//!
//! The CLI (`hallmark key rotate`) and the app make it with [`statement`] and keep it in the data
//! folder ([`Kept`]); the app reads it back with [`open`], which trusts nothing but the old key's
//! signature.

use serde_json::{Value, json};

use crate::did::{PublicIdentity, SigningIdentity};
use crate::integrity::{self, ProofError, ProofExpectation};
use crate::keys::{KeyError, KeyRecord, KeyStore};

/// The credential type of a rotation statement.
pub const KEY_ROTATION: &str = "KeyRotation";
/// The largest rotation statement read, in bytes (a real one is under 1 KiB).
pub const MAX_ROTATION_BYTES: usize = 16 * 1024;

/// A rotation, as a statement that verified says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The old key's did:key, which signed.
    pub from: String,
    /// The new key's did:key.
    pub to: String,
    /// When, RFC 3339.
    pub at: String,
}

/// Why a rotation statement does not open.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotationError {
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("not a key rotation statement: {0}")]
    Shape(String),
}

/// Why a key could not be replaced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    #[error("this identity was already replaced, by {to} on {at}: sign with that one")]
    AlreadyReplaced { to: String, at: String },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error(transparent)]
    Keep(#[from] crate::Error),
}

/// Replaces `old` (its key `old_key`) by a new key of the same name, made at `at`: the new key is
/// stored in `keys`, then the statement the old key signs is kept in `kept`; if keeping fails,
/// the new key is deleted again, so a rotation is whole or not at all. Refused when a rotation
/// away from `old` is in force; a statement left by one whose new key was never stored is
/// replaced. Returns the new key's record and the statement.
pub fn rotate(
    keys: &impl KeyStore,
    kept: &Kept,
    old: &KeyRecord,
    old_key: &SigningIdentity,
    at: &str,
) -> Result<(KeyRecord, Value), RotateError> {
    if let Some(done) = kept
        .in_force(&keys.list()?, at)
        .into_iter()
        .find(|r| r.from == old.did)
    {
        return Err(RotateError::AlreadyReplaced {
            to: done.to,
            at: done.at,
        });
    }
    kept.forget(&old.did);
    let new_key = SigningIdentity::generate();
    let record = KeyRecord {
        did: new_key.public().to_string(),
        name: old.name.clone(),
        created: at.to_owned(),
    };
    let signed = statement(old, old_key, &record, at)?;
    keys.store(&record, &new_key)?;
    if let Err(e) = kept.keep(&old.did, &signed) {
        let _ = keys.delete(&record.did);
        return Err(e.into());
    }
    Ok((record, signed))
}

/// The statement, signed by `old_key` (the key of `old`) at `at`, that `old` is replaced by `new`.
pub fn statement(
    old: &KeyRecord,
    old_key: &SigningIdentity,
    new: &KeyRecord,
    at: &str,
) -> Result<Value, ProofError> {
    let rotation = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": [crate::creator::VERIFIABLE_CREDENTIAL, KEY_ROTATION],
        "issuer": old.did,
        "validFrom": at,
        "credentialSubject": { "id": old.did, "rotatedTo": new.did },
    });
    integrity::sign(&rotation, old_key, at, "assertionMethod")
}

/// Reads a rotation statement: strict JSON of at most [`MAX_ROTATION_BYTES`], signed (judged at
/// `now`) by the key it rotates away from, naming a did:key to rotate to.
pub fn open(bytes: &[u8], now: &str) -> Result<Rotation, RotationError> {
    let document = crate::json::from_slice(bytes, MAX_ROTATION_BYTES)
        .map_err(|e| RotationError::Shape(e.to_string()))?;
    let proof = integrity::verify(&document, &ProofExpectation::assertion(now))?;
    let shape = |why: &str| RotationError::Shape(why.to_owned());
    let is_rotation = document["type"]
        .as_array()
        .is_some_and(|types| types.iter().any(|t| t == KEY_ROTATION));
    if !is_rotation {
        return Err(shape("its type does not include KeyRotation"));
    }
    let signer = proof.signer.to_string();
    let subject = &document["credentialSubject"];
    if document["issuer"] != signer.as_str() || subject["id"] != signer.as_str() {
        return Err(shape("it is not signed by the key it rotates away from"));
    }
    let to = subject["rotatedTo"]
        .as_str()
        .ok_or_else(|| shape("credentialSubject.rotatedTo is not a did:key"))?;
    let to: PublicIdentity = to
        .parse()
        .map_err(|e| RotationError::Shape(format!("credentialSubject.rotatedTo: {e}")))?;
    Ok(Rotation {
        from: signer,
        to: to.to_string(),
        at: proof.created,
    })
}

/// The rotation statements a studio made, one file each in a folder of its own, named by the
/// SHA-256 of the old did (never by text from a file).
#[derive(Debug, Clone)]
pub struct Kept {
    dir: std::path::PathBuf,
}

impl Kept {
    pub fn new(dir: &std::path::Path) -> Kept {
        Kept {
            dir: dir.to_owned(),
        }
    }

    fn file_for(&self, old_did: &str) -> std::path::PathBuf {
        let name = crate::digest::Sha256Digest::of(old_did.as_bytes()).hex();
        self.dir.join(format!("{name}.json"))
    }

    /// Keeps the statement `signed` of the rotation away from `old_did`: written whole to a
    /// temporary file, then moved into place without replacing one kept already (refused then).
    pub fn keep(&self, old_did: &str, signed: &Value) -> crate::Result<std::path::PathBuf> {
        use std::io::Write as _;
        let path = self.file_for(old_did);
        let io = |e: std::io::Error| crate::Error::from_io(&path, e);
        std::fs::create_dir_all(&self.dir).map_err(|e| crate::Error::from_io(&self.dir, e))?;
        let mut bytes = serde_json::to_vec_pretty(signed).unwrap_or_default();
        bytes.push(b'\n');
        let mut file = tempfile::Builder::new()
            .prefix(".rotation.")
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .map_err(io)?;
        file.write_all(&bytes)
            .and_then(|()| file.as_file().sync_all())
            .map_err(io)?;
        file.persist_noclobber(&path).map_err(|e| io(e.error))?;
        Ok(path)
    }

    /// Forgets the statement of the rotation away from `old_did` (when making the new key
    /// failed after it was kept).
    pub fn forget(&self, old_did: &str) {
        let _ = std::fs::remove_file(self.file_for(old_did));
    }

    /// The rotations in force among the keys `records`: each key's own statement, verified,
    /// naming a key that is in `records` too (a statement left by a rotation whose new key was
    /// never stored replaces nothing).
    pub fn in_force(&self, records: &[KeyRecord], now: &str) -> Vec<Rotation> {
        records
            .iter()
            .filter_map(|r| self.rotation_of(&r.did, now))
            .filter(|rotation| records.iter().any(|r| r.did == rotation.to))
            .collect()
    }

    /// The key to sign with among `records`: the newest (by creation) that no rotation in force
    /// replaced.
    pub fn current<'r>(&self, records: &'r [KeyRecord], now: &str) -> Option<&'r KeyRecord> {
        let rotations = self.in_force(records, now);
        records
            .iter()
            .filter(|r| !rotations.iter().any(|rotation| rotation.from == r.did))
            .max_by(|a, b| a.created.cmp(&b.created))
    }

    /// The rotation away from `old_did`, if its statement is kept and verifies (judged at `now`)
    /// as signed by that key. Only its own file is read: nothing else in the folder counts.
    pub fn rotation_of(&self, old_did: &str, now: &str) -> Option<Rotation> {
        let path = self.file_for(old_did);
        let bytes = crate::untrusted::read_capped(&path, MAX_ROTATION_BYTES as u64).ok()?;
        open(&bytes, now).ok().filter(|r| r.from == old_did)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::did::SigningIdentity;

    fn record(key: &SigningIdentity) -> KeyRecord {
        KeyRecord {
            did: key.public().to_string(),
            name: "Ada".into(),
            created: "2026-12-01T10:00:00Z".into(),
        }
    }

    #[test]
    fn a_statement_opens_to_the_rotation_it_signs() {
        let (old, new) = (SigningIdentity::generate(), SigningIdentity::generate());
        let signed =
            statement(&record(&old), &old, &record(&new), "2026-12-08T10:00:00Z").expect("signed");
        let bytes = serde_json::to_vec(&signed).expect("json");
        let rotation = open(&bytes, "2026-12-08T11:00:00Z").expect("opens");
        assert_eq!(rotation.from, old.public().to_string());
        assert_eq!(rotation.to, new.public().to_string());
        assert_eq!(rotation.at, "2026-12-08T10:00:00Z");
    }

    #[test]
    fn a_changed_target_or_another_signer_is_refused() {
        let (old, new, other) = (
            SigningIdentity::generate(),
            SigningIdentity::generate(),
            SigningIdentity::generate(),
        );
        let mut signed =
            statement(&record(&old), &old, &record(&new), "2026-12-08T10:00:00Z").expect("signed");
        signed["credentialSubject"]["rotatedTo"] = other.public().to_string().into();
        let bytes = serde_json::to_vec(&signed).expect("json");
        assert!(matches!(
            open(&bytes, "2026-12-08T11:00:00Z"),
            Err(RotationError::Proof(_))
        ));
        // Signed by another key than the one it names as rotating away from.
        let forged = statement(&record(&old), &other, &record(&new), "2026-12-08T10:00:00Z")
            .expect("signed");
        let bytes = serde_json::to_vec(&forged).expect("json");
        assert!(matches!(
            open(&bytes, "2026-12-08T11:00:00Z"),
            Err(RotationError::Shape(_))
        ));
        assert!(open(b"{\"type\": 1", "2026-12-08T11:00:00Z").is_err());
    }

    #[test]
    fn a_rotation_is_whole_or_not_at_all_and_happens_once() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = crate::keys::MemoryKeyStore::default();
        let old = SigningIdentity::generate();
        let old_record = record(&old);
        keys.store(&old_record, &old).expect("stored");
        let now = "2026-12-08T10:00:00Z";
        // Keeping fails (the folder is a file): the new key does not stay.
        let blocked = dir.path().join("blocked");
        std::fs::write(&blocked, b"").expect("file");
        let refused = rotate(&keys, &Kept::new(&blocked), &old_record, &old, now);
        assert!(matches!(refused, Err(RotateError::Keep(_))), "{refused:?}");
        assert_eq!(keys.list().expect("list"), vec![old_record.clone()]);

        let kept = Kept::new(&dir.path().join("rotations"));
        let (new_record, _) = rotate(&keys, &kept, &old_record, &old, now).expect("rotated");
        assert_eq!(keys.list().expect("list").len(), 2);
        assert_eq!(
            kept.current(&keys.list().expect("list"), now),
            Some(&new_record)
        );
        assert!(matches!(
            rotate(&keys, &kept, &old_record, &old, now),
            Err(RotateError::AlreadyReplaced { .. })
        ));
        // Its new key gone, the statement replaces nothing: the old key can be rotated again.
        keys.delete(&new_record.did).expect("deleted");
        rotate(&keys, &kept, &old_record, &old, now).expect("rotated again");
    }

    #[test]
    fn kept_rotations_are_read_back_and_strays_skipped() {
        let dir = tempfile::tempdir().expect("dir");
        let kept = Kept::new(&dir.path().join("rotations"));
        assert!(
            kept.rotation_of("did:key:z6Mkx", "2026-12-08T11:00:00Z")
                .is_none()
        );
        let (old, new) = (SigningIdentity::generate(), SigningIdentity::generate());
        let signed =
            statement(&record(&old), &old, &record(&new), "2026-12-08T10:00:00Z").expect("signed");
        let from = old.public().to_string();
        kept.keep(&from, &signed).expect("kept");
        assert!(
            kept.keep(&from, &signed).is_err(),
            "a second rotation of one key"
        );
        // A valid statement under another key's file name is not believed.
        let other = SigningIdentity::generate();
        std::fs::copy(
            kept.file_for(&from),
            kept.file_for(&other.public().to_string()),
        )
        .expect("copy");
        std::fs::write(dir.path().join("rotations/junk.json"), b"not json").expect("junk");
        let now = "2026-12-08T11:00:00Z";
        let rotation = kept.rotation_of(&from, now).expect("kept");
        assert_eq!(rotation.to, new.public().to_string());
        assert!(kept.rotation_of(&other.public().to_string(), now).is_none());
        // In force only while the new key is among the keys; the current key follows.
        let (old_record, new_record) = (record(&old), record(&new));
        let both = [old_record.clone(), new_record.clone()];
        assert_eq!(kept.in_force(&both, now).len(), 1);
        assert_eq!(kept.current(&both, now), Some(&new_record));
        let only_old = [old_record.clone()];
        assert!(kept.in_force(&only_old, now).is_empty());
        assert_eq!(kept.current(&only_old, now), Some(&old_record));
        kept.forget(&from);
        assert!(kept.rotation_of(&from, now).is_none());
    }
}
