//! The OS keyring as a `KeyStore`: one entry per key secret, and one public index entry.
//!
//! The keyring has no portable way to list entries, so an index entry (a JSON list) names the keys.
//! Every change to it is a read-modify-write, which two processes (the app and the CLI, or several
//! `hallmark key new`) must not interleave: each change holds an exclusive lock on a file of the
//! service's own in the user's data folder ([`default_lock_dir`]) from the read to the last write.
//!
//! A key being stored or deleted is first written to the index as *pending*; its secret is written
//! or deleted next, and only then is the index settled. So the index always names every secret it
//! holds: a process stopped half-way leaves a pending entry, never an unlisted secret, and the next
//! change or listing settles it by looking for the secret.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hallmark_core::did::SigningIdentity;
use hallmark_core::keys::{KeyError, KeyRecord, KeyStore};
use zeroize::Zeroizing;

/// The index entry's user name; key entries use their did.
const INDEX: &str = "index";

/// How long a change waits for another process's change to finish before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(60);

/// How often a waiting change tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(10);

/// Where keyring locks live unless [`KeyringStore::with_lock_dir`] says otherwise: `locks` in the
/// app's data folder (`$XDG_DATA_HOME/studio.hallmark.desktop/locks` on Linux), shared by the app
/// and the CLI. `None` when the system has no data folder (no home directory).
pub fn default_lock_dir() -> Option<PathBuf> {
    dirs::data_local_dir().map(|dir| dir.join("studio.hallmark.desktop").join("locks"))
}

/// The lock file's name for a service: one lock per service, its name kept readable, and any
/// byte that is not safe in a file name written as `%XX`.
fn lock_file_name(service: &str) -> String {
    let mut name = String::from("keyring-");
    for byte in service.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-') {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    name.push_str(".lock");
    name
}

/// Keys in the OS keyring under one service name.
#[derive(Debug, Clone)]
pub struct KeyringStore {
    service: String,
    /// The lock file serialising changes to the index (`None`: no data folder to put it in).
    lock: Option<PathBuf>,
    lock_wait: Duration,
}

/// One key in the index: its record, and whether a change to its secret may be unfinished.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct IndexEntry {
    #[serde(flatten)]
    record: KeyRecord,
    /// Set while the secret is being written or deleted; left set only by a process that stopped
    /// half-way, and then settled by whether the secret exists.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pending: bool,
}

impl KeyringStore {
    /// The store the app and the CLI share.
    pub fn new() -> Self {
        Self::with_service("studio.hallmark.keys")
    }

    /// A store under another service name (tests use their own), locked in [`default_lock_dir`].
    pub fn with_service(service: &str) -> Self {
        Self {
            service: service.to_owned(),
            lock: default_lock_dir().map(|dir| dir.join(lock_file_name(service))),
            lock_wait: LOCK_WAIT,
        }
    }

    /// The same store, with its lock file in `dir` instead. Every process that changes this
    /// service's keys must use the same folder.
    pub fn with_lock_dir(mut self, dir: &Path) -> Self {
        self.lock = Some(dir.join(lock_file_name(&self.service)));
        self
    }

    /// The lock file changes to this store hold.
    pub fn lock_path(&self) -> Option<&Path> {
        self.lock.as_deref()
    }

    fn entry(&self, user: &str) -> Result<keyring::Entry, KeyError> {
        keyring::Entry::new(&self.service, user).map_err(to_key_error)
    }

    /// Waits for the lock that serialises changes to this service's keys; it is released when the
    /// returned file is dropped (or the process ends, however it ends).
    fn lock(&self) -> Result<File, KeyError> {
        let path = self.lock.as_deref().ok_or_else(|| KeyError::Keyring {
            detail: "this system has no data folder to keep the keyring's lock in; set \
                     XDG_DATA_HOME (or HOME)"
                .into(),
        })?;
        let failed = |e: std::io::Error| KeyError::Keyring {
            detail: format!(
                "cannot open its lock file {}: {e}; check that the folder is writable",
                path.display()
            ),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path).map_err(failed)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(TryLockError::WouldBlock) if start.elapsed() < self.lock_wait => {
                    std::thread::sleep(LOCK_POLL);
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(KeyError::Locked {
                        lock: path.display().to_string(),
                        seconds: self.lock_wait.as_secs(),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(failed(e)),
            }
        }
    }

    fn read_index(&self) -> Result<Vec<IndexEntry>, KeyError> {
        match self.entry(INDEX)?.get_password() {
            Ok(text) => serde_json::from_str(&text).map_err(|e| KeyError::Keyring {
                detail: format!("the key index is damaged: {e}"),
            }),
            Err(keyring::Error::NoEntry) => Ok(Vec::new()),
            Err(e) => Err(to_key_error(e)),
        }
    }

    fn write_index(&self, entries: &[IndexEntry]) -> Result<(), KeyError> {
        let text = serde_json::to_string(entries).map_err(|e| KeyError::Keyring {
            detail: e.to_string(),
        })?;
        self.entry(INDEX)?.set_password(&text).map_err(to_key_error)
    }

    /// Whether the keyring holds a secret for `did`, without reading the secret.
    fn has_secret(&self, did: &str) -> Result<bool, KeyError> {
        match self.entry(did)?.get_attributes() {
            Ok(_) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(to_key_error(e)),
        }
    }

    /// Reads the index with the lock held, settling entries a stopped process left pending: kept
    /// when their secret exists, dropped when it does not. Writes the index back if that changed it.
    fn read_settled(&self) -> Result<Vec<IndexEntry>, KeyError> {
        let mut entries = self.read_index()?;
        if !entries.iter().any(|e| e.pending) {
            return Ok(entries);
        }
        let mut settled = Vec::with_capacity(entries.len());
        for mut entry in entries.drain(..) {
            if !entry.pending || self.has_secret(&entry.record.did)? {
                entry.pending = false;
                settled.push(entry);
            }
        }
        self.write_index(&settled)?;
        Ok(settled)
    }
}

impl Default for KeyringStore {
    fn default() -> Self {
        Self::new()
    }
}

/// Says "no keyring" for the failures that mean there is none to talk to.
pub(crate) fn to_key_error(e: keyring::Error) -> KeyError {
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
        let mut entries = self.read_index()?;
        if entries.iter().any(|e| e.pending) {
            // A change is under way, or a process stopped half-way: wait for the one, settle the other.
            let _lock = self.lock()?;
            entries = self.read_settled()?;
        }
        Ok(entries.into_iter().map(|e| e.record).collect())
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
        let _lock = self.lock()?;
        let mut entries = self.read_settled()?;
        let replaced = entries
            .iter()
            .position(|e| e.record.did == record.did)
            .map(|at| (at, entries.remove(at)));
        entries.push(IndexEntry {
            record: record.clone(),
            pending: true,
        });
        self.write_index(&entries)?;
        let written = self
            .entry(&record.did)?
            .set_password(&key.secret_multibase());
        if let Err(e) = written {
            // Put the index back as it was; if even that fails, the pending entry is settled later.
            entries.pop();
            if let Some((at, old)) = replaced {
                entries.insert(at, old);
            }
            let _ = self.write_index(&entries);
            return Err(to_key_error(e));
        }
        if let Some(added) = entries.last_mut() {
            added.pending = false;
        }
        self.write_index(&entries)
    }

    fn delete(&self, did: &str) -> Result<(), KeyError> {
        let _lock = self.lock()?;
        let mut entries = self.read_settled()?;
        let Some(at) = entries.iter().position(|e| e.record.did == did) else {
            // Not listed: a secret an older Hallmark left unlisted is deleted all the same.
            return match self.entry(did)?.delete_credential() {
                Ok(()) => Ok(()),
                Err(keyring::Error::NoEntry) => Err(KeyError::NotFound {
                    did: did.to_owned(),
                }),
                Err(e) => Err(to_key_error(e)),
            };
        };
        entries[at].pending = true;
        self.write_index(&entries)?;
        match self.entry(did)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => {}
            Err(e) => {
                entries[at].pending = false;
                let _ = self.write_index(&entries);
                return Err(to_key_error(e));
            }
        }
        entries.remove(at);
        self.write_index(&entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_has_its_own_readable_lock_file() {
        assert_eq!(
            lock_file_name("studio.hallmark.keys"),
            "keyring-studio.hallmark.keys.lock"
        );
        assert_eq!(lock_file_name("a/b c"), "keyring-a%2Fb%20c.lock");
        assert_ne!(lock_file_name("a/b"), lock_file_name("a%2Fb"));
        let dir = tempfile::tempdir().unwrap();
        let store = KeyringStore::with_service("x/y").with_lock_dir(dir.path());
        assert_eq!(
            store.lock_path(),
            Some(&*dir.path().join("keyring-x%2Fy.lock"))
        );
    }

    #[test]
    fn a_change_waits_for_the_lock_and_then_says_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let lock_dir = dir.path().join("not yet made");
        let holder =
            KeyringStore::with_service("studio.hallmark.lock-test").with_lock_dir(&lock_dir);
        let held = holder.lock().unwrap();
        let mut waiter = holder.clone();
        waiter.lock_wait = Duration::from_millis(200);
        let start = Instant::now();
        let key = SigningIdentity::generate();
        let record = KeyRecord {
            did: key.public().to_string(),
            name: "Ana".into(),
            created: "2026-11-23T10:00:00Z".into(),
        };
        // The lock is taken before the keyring is touched, so this needs no keyring.
        let err = waiter.store(&record, &key).unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(200));
        assert!(matches!(err, KeyError::Locked { .. }), "{err}");
        assert!(
            err.to_string().contains(
                &*lock_dir
                    .join("keyring-studio.hallmark.lock-test.lock")
                    .to_string_lossy()
            ),
            "{err}"
        );
        assert!(matches!(
            waiter.delete(&record.did),
            Err(KeyError::Locked { .. })
        ));
        drop(held);
        drop(waiter.lock().unwrap());
    }
}
