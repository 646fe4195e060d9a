//! The OS keyring as a `KeyStore`: one entry per key secret, and one public index entry.

use hallmark_core::did::SigningIdentity;
use hallmark_core::keys::{KeyError, KeyRecord, KeyStore};
use zeroize::Zeroizing;

/// The index entry's user name; key entries use their did.
const INDEX: &str = "index";

/// Keys in the OS keyring under one service name.
#[derive(Debug, Clone)]
pub struct KeyringStore {
    service: String,
}

impl KeyringStore {
    /// The store the app and the CLI share.
    pub fn new() -> Self {
        Self::with_service("studio.hallmark.keys")
    }

    /// A store under another service name (tests use their own).
    pub fn with_service(service: &str) -> Self {
        Self {
            service: service.to_owned(),
        }
    }

    fn entry(&self, user: &str) -> Result<keyring::Entry, KeyError> {
        keyring::Entry::new(&self.service, user).map_err(to_key_error)
    }

    fn write_index(&self, records: &[KeyRecord]) -> Result<(), KeyError> {
        let text = serde_json::to_string(records).map_err(|e| KeyError::Keyring {
            detail: e.to_string(),
        })?;
        self.entry(INDEX)?.set_password(&text).map_err(to_key_error)
    }
}

impl Default for KeyringStore {
    fn default() -> Self {
        Self::new()
    }
}

/// Says "no keyring" for the failures that mean there is none to talk to.
fn to_key_error(e: keyring::Error) -> KeyError {
    match e {
        keyring::Error::NoStorageAccess(inner) => KeyError::NoKeyring {
            detail: inner.to_string(),
        },
        keyring::Error::PlatformFailure(inner) => KeyError::NoKeyring {
            detail: inner.to_string(),
        },
        other => KeyError::Keyring {
            detail: other.to_string(),
        },
    }
}

impl KeyStore for KeyringStore {
    fn list(&self) -> Result<Vec<KeyRecord>, KeyError> {
        match self.entry(INDEX)?.get_password() {
            Ok(text) => serde_json::from_str(&text).map_err(|e| KeyError::Keyring {
                detail: format!("the key index is damaged: {e}"),
            }),
            Err(keyring::Error::NoEntry) => Ok(Vec::new()),
            Err(e) => Err(to_key_error(e)),
        }
    }

    fn load(&self, did: &str) -> Result<SigningIdentity, KeyError> {
        let secret = match self.entry(did)?.get_password() {
            Ok(secret) => Zeroizing::new(secret),
            Err(keyring::Error::NoEntry) => {
                return Err(KeyError::NotFound {
                    did: did.to_owned(),
                });
            }
            Err(e) => return Err(to_key_error(e)),
        };
        SigningIdentity::from_multibase(&secret).map_err(|e| KeyError::Keyring {
            detail: e.to_string(),
        })
    }

    fn store(&self, record: &KeyRecord, key: &SigningIdentity) -> Result<(), KeyError> {
        self.entry(&record.did)?
            .set_password(&key.secret_multibase())
            .map_err(to_key_error)?;
        let mut records = self.list()?;
        records.retain(|r| r.did != record.did);
        records.push(record.clone());
        self.write_index(&records)
    }

    fn delete(&self, did: &str) -> Result<(), KeyError> {
        let mut records = self.list()?;
        match self.entry(did)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => {}
            Err(e) => return Err(to_key_error(e)),
        }
        let before = records.len();
        records.retain(|r| r.did != did);
        if records.len() == before {
            return Err(KeyError::NotFound {
                did: did.to_owned(),
            });
        }
        self.write_index(&records)
    }
}
