//! Keeping creators' signing keys: the `KeyStore` trait the OS-specific stores implement, the backup
//! format inside an encrypted key file, and an in-memory store for tests.
//!
//! The real stores (OS keyring, age-encrypted files) live in `hallmark-keys`; the core only says
//! what a store must do, so signing code runs the same against any of them.

use std::collections::BTreeMap;
use std::sync::Mutex;

use zeroize::Zeroizing;

use crate::did::SigningIdentity;

/// What is known of a stored key without touching its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyRecord {
    /// `did:key:z6Mk…`
    pub did: String,
    /// The creator's friendly name for it.
    pub name: String,
    /// When it was made, as an XML Schema dateTime (passed in).
    pub created: String,
}

/// Why a key could not be stored, found or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// No OS keyring is reachable (no Secret Service on a headless Linux, a locked keychain, …).
    #[error(
        "no OS keyring is available ({detail}); use an encrypted key file instead with --key-file PATH"
    )]
    NoKeyring { detail: String },
    #[error("no key {did} in the keyring; `hallmark key list` shows the keys there")]
    NotFound { did: String },
    #[error("there is no signing key yet; create one with `hallmark key new --name \"Your name\"`")]
    NoKeys,
    #[error("there are {count} keys; name one with --key DID (see `hallmark key list`)")]
    WhichKey { count: usize },
    #[error("the passphrase does not open {what}; check it and try again")]
    WrongPassphrase { what: String },
    #[error("{what} is not a Hallmark key backup ({detail})")]
    NotABackup { what: String, detail: String },
    #[error("the keyring failed: {detail}")]
    Keyring { detail: String },
}

/// A place that keeps signing keys.
pub trait KeyStore {
    /// The keys kept, oldest first.
    fn list(&self) -> Result<Vec<KeyRecord>, KeyError>;
    /// Opens one key.
    fn load(&self, did: &str) -> Result<SigningIdentity, KeyError>;
    /// Keeps a key (replacing one with the same did).
    fn store(&self, record: &KeyRecord, key: &SigningIdentity) -> Result<(), KeyError>;
    /// Forgets a key. The secret is gone unless a backup exists.
    fn delete(&self, did: &str) -> Result<(), KeyError>;

    /// The key named by `did`, or the only key when `did` is `None`.
    fn choose(&self, did: Option<&str>) -> Result<(KeyRecord, SigningIdentity), KeyError> {
        let keys = self.list()?;
        let record = match did {
            Some(did) => {
                keys.into_iter()
                    .find(|k| k.did == did)
                    .ok_or_else(|| KeyError::NotFound {
                        did: did.to_owned(),
                    })?
            }
            None => match keys.len() {
                0 => return Err(KeyError::NoKeys),
                1 => keys.into_iter().next().ok_or(KeyError::NoKeys)?,
                count => return Err(KeyError::WhichKey { count }),
            },
        };
        let key = self.load(&record.did)?;
        Ok((record, key))
    }
}

/// The plaintext inside an encrypted key file or backup.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Backup {
    #[serde(rename = "type")]
    kind: String,
    version: u32,
    did: String,
    name: String,
    created: String,
    private_key_multibase: String,
}

const BACKUP_TYPE: &str = "HallmarkKeyBackup";

/// The plaintext of a key backup: JSON naming the key, with its secret in `privateKeyMultibase` form.
pub fn backup_plaintext(record: &KeyRecord, key: &SigningIdentity) -> Zeroizing<Vec<u8>> {
    let backup = Backup {
        kind: BACKUP_TYPE.into(),
        version: 1,
        did: key.public().to_string(),
        name: record.name.clone(),
        created: record.created.clone(),
        private_key_multibase: key.secret_multibase().to_string(),
    };
    let mut text = Zeroizing::new(serde_json::to_vec_pretty(&backup).unwrap_or_default());
    text.push(b'\n');
    let Backup {
        private_key_multibase,
        ..
    } = backup;
    drop(Zeroizing::new(private_key_multibase));
    text
}

/// Reads a backup's plaintext back into a record and a key; `what` names the file in errors.
pub fn from_backup_plaintext(
    plaintext: &[u8],
    what: &str,
) -> Result<(KeyRecord, SigningIdentity), KeyError> {
    let bad = |detail: String| KeyError::NotABackup {
        what: what.to_owned(),
        detail,
    };
    let backup: Backup = serde_json::from_slice(plaintext).map_err(|e| bad(e.to_string()))?;
    let secret = Zeroizing::new(backup.private_key_multibase);
    if backup.kind != BACKUP_TYPE {
        return Err(bad(format!("its type is {:?}", backup.kind)));
    }
    let key = SigningIdentity::from_multibase(&secret).map_err(|e| bad(e.to_string()))?;
    if key.public().to_string() != backup.did {
        return Err(bad("its key does not match its did".into()));
    }
    Ok((
        KeyRecord {
            did: backup.did,
            name: backup.name,
            created: backup.created,
        },
        key,
    ))
}

/// Keys in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryKeyStore(Mutex<BTreeMap<String, (KeyRecord, Zeroizing<String>)>>);

impl KeyStore for MemoryKeyStore {
    fn list(&self) -> Result<Vec<KeyRecord>, KeyError> {
        let keys = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut records: Vec<KeyRecord> = keys.values().map(|(r, _)| r.clone()).collect();
        records.sort_by(|a, b| a.created.cmp(&b.created));
        Ok(records)
    }

    fn load(&self, did: &str) -> Result<SigningIdentity, KeyError> {
        let keys = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (_, secret) = keys.get(did).ok_or_else(|| KeyError::NotFound {
            did: did.to_owned(),
        })?;
        SigningIdentity::from_multibase(secret).map_err(|e| KeyError::Keyring {
            detail: e.to_string(),
        })
    }

    fn store(&self, record: &KeyRecord, key: &SigningIdentity) -> Result<(), KeyError> {
        let mut keys = self.0.lock().unwrap_or_else(|p| p.into_inner());
        keys.insert(record.did.clone(), (record.clone(), key.secret_multibase()));
        Ok(())
    }

    fn delete(&self, did: &str) -> Result<(), KeyError> {
        let mut keys = self.0.lock().unwrap_or_else(|p| p.into_inner());
        keys.remove(did)
            .map(|_| ())
            .ok_or_else(|| KeyError::NotFound {
                did: did.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &SigningIdentity, created: &str) -> KeyRecord {
        KeyRecord {
            did: key.public().to_string(),
            name: "Ana".into(),
            created: created.into(),
        }
    }

    #[test]
    fn choose_takes_the_only_key_or_asks_which() {
        let store = MemoryKeyStore::default();
        assert!(matches!(store.choose(None), Err(KeyError::NoKeys)));
        let first = SigningIdentity::generate();
        store
            .store(&record(&first, "2026-01-01T00:00:00Z"), &first)
            .unwrap();
        assert_eq!(store.choose(None).unwrap().1.public(), first.public());
        let second = SigningIdentity::generate();
        store
            .store(&record(&second, "2026-02-01T00:00:00Z"), &second)
            .unwrap();
        assert!(matches!(
            store.choose(None),
            Err(KeyError::WhichKey { count: 2 })
        ));
        let did = second.public().to_string();
        assert_eq!(
            store.choose(Some(&did)).unwrap().1.public(),
            second.public()
        );
        store.delete(&did).unwrap();
        assert!(matches!(
            store.choose(Some(&did)),
            Err(KeyError::NotFound { .. })
        ));
    }

    #[test]
    fn a_backup_round_trips_and_a_tampered_one_is_refused() {
        let key = SigningIdentity::generate();
        let text = backup_plaintext(&record(&key, "2026-01-01T00:00:00Z"), &key);
        let (back, restored) = from_backup_plaintext(&text, "backup").unwrap();
        assert_eq!(
            (back.name.as_str(), restored.public()),
            ("Ana", key.public())
        );
        let other = SigningIdentity::generate().public().to_string();
        let forged = String::from_utf8(text.to_vec())
            .unwrap()
            .replace(&key.public().to_string(), &other);
        assert!(matches!(
            from_backup_plaintext(forged.as_bytes(), "backup"),
            Err(KeyError::NotABackup { .. })
        ));
    }
}
