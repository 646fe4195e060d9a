//! Key rotation: a statement the old key signs (a VC, eddsa-jcs-2022) naming the new key, so
//! whoever trusted the old identity can follow it to the new one.
//!
//! The CLI (`hallmark key rotate`) and the app make it with [`statement`] and keep it in the data
//! folder ([`Kept`]); the app reads it back with [`open`], which trusts nothing but the old key's
//! signature.

use serde_json::{Value, json};

use crate::did::PublicIdentity;
use crate::integrity::{self, ProofError, ProofExpectation};
use crate::keys::KeyRecord;

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

/// The statement, signed by `old_key` (the key of `old`) at `at`, that `old` is replaced by `new`.
pub fn statement(
    old: &KeyRecord,
    old_key: &crate::did::SigningIdentity,
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
        kept.forget(&from);
        assert!(kept.rotation_of(&from, now).is_none());
    }
}
