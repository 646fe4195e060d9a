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
    /// A new passphrase (a new key file, a backup) breaks [`check_new_passphrase`]'s rule.
    #[error(
        "a new passphrase needs at least {min} characters (a few words is best)",
        min = MIN_PASSPHRASE_CHARS
    )]
    PassphraseTooShort,
    /// An existing key file or backup was to be opened with an empty passphrase.
    #[error("the passphrase for {what} is empty; give the passphrase it was made with")]
    EmptyPassphrase { what: String },
    /// Another process kept the keyring's lock for too long.
    #[error(
        "another Hallmark process has been changing the keyring for over {seconds} s (it holds \
         {lock}); try again when it has finished"
    )]
    Locked { lock: String, seconds: u64 },
}

/// The fewest characters (Unicode scalar values) a new passphrase may have.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// The one rule for every new passphrase (a new key file, a backup): at least
/// [`MIN_PASSPHRASE_CHARS`] characters. The prompt, `HALLMARK_KEY_PASSPHRASE` and the app all apply it.
pub fn check_new_passphrase(passphrase: &str) -> Result<(), KeyError> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(KeyError::PassphraseTooShort);
    }
    Ok(())
}

/// The rule for a passphrase that opens an existing key file or backup (`what` names it): any but
/// an empty one, since the file may predate [`check_new_passphrase`] or come from `age`.
pub fn check_passphrase(passphrase: &str, what: &str) -> Result<(), KeyError> {
    if passphrase.is_empty() {
        return Err(KeyError::EmptyPassphrase {
            what: what.to_owned(),
        });
    }
    Ok(())
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

/// The largest backup plaintext read: a real one is a few hundred bytes (the name is the only
/// free text), so anything larger is refused before it is parsed.
pub const MAX_BACKUP_PLAINTEXT_BYTES: usize = 16 * 1024;

/// Longer than any Ed25519 `privateKeyMultibase` (48 characters): refused before decoding, as
/// base58 decoding takes time quadratic in the length.
const MAX_SECRET_MULTIBASE_CHARS: usize = 128;

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
    if plaintext.len() > MAX_BACKUP_PLAINTEXT_BYTES {
        return Err(bad(format!(
            "it holds {} bytes, more than the {MAX_BACKUP_PLAINTEXT_BYTES} of any key backup",
            plaintext.len()
        )));
    }
    let backup: Backup = serde_json::from_slice(plaintext).map_err(|e| bad(e.to_string()))?;
    let secret = Zeroizing::new(backup.private_key_multibase);
    if backup.kind != BACKUP_TYPE {
        return Err(bad(format!("its type is {:?}", backup.kind)));
    }
    if secret.len() > MAX_SECRET_MULTIBASE_CHARS {
        return Err(bad(
            "its privateKeyMultibase is not an Ed25519 secret key".into()
        ));
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
    fn a_new_passphrase_needs_eight_characters_and_an_existing_one_any_but_none() {
        for short in ["", "1234567", "åäöüßçé", "\u{1F511}\u{1F511}\u{1F511}"] {
            let err = check_new_passphrase(short).unwrap_err();
            assert!(matches!(err, KeyError::PassphraseTooShort), "{short:?}");
            assert_eq!(
                err.to_string(),
                "a new passphrase needs at least 8 characters (a few words is best)"
            );
        }
        for long in ["12345678", "åäöüßçéñ", "correct horse battery staple"] {
            check_new_passphrase(long).unwrap();
        }
        let err = check_passphrase("", "ana.age").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the passphrase for ana.age is empty; give the passphrase it was made with"
        );
        check_passphrase("x", "ana.age").unwrap();
    }

    /// A small deterministic generator (xorshift64*), so a failing input can be reproduced.
    struct Bytes(u64);

    impl Bytes {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn fill(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }
    }

    /// Parses `input`, turning a panic into a test failure that shows the input.
    fn parse(input: &[u8]) -> Result<(KeyRecord, SigningIdentity), KeyError> {
        std::panic::catch_unwind(|| from_backup_plaintext(input, "fuzz"))
            .unwrap_or_else(|_| panic!("from_backup_plaintext panicked on {input:?}"))
    }

    #[test]
    fn truncated_random_and_damaged_backups_are_errors_never_panics() {
        let key = SigningIdentity::generate();
        let valid = backup_plaintext(&record(&key, "2026-01-01T00:00:00Z"), &key);
        let json = valid.trim_ascii_end();
        for len in 0..json.len() {
            assert!(
                parse(&json[..len]).is_err(),
                "a backup cut at {len} bytes is refused"
            );
        }
        let mut rng = Bytes(0x9E37_79B9_7F4A_7C15);
        for _ in 0..2000 {
            let len = rng.below(400);
            let bytes = rng.fill(len);
            assert!(
                parse(&bytes).is_err(),
                "random bytes are refused: {bytes:?}"
            );
        }
        for _ in 0..2000 {
            let mut damaged = json.to_vec();
            for _ in 0..=rng.below(3) {
                let at = rng.below(damaged.len());
                damaged[at] = rng.next() as u8;
            }
            // A change inside the name can leave a valid backup: only a panic fails here.
            let _ = parse(&damaged);
        }
        let text = String::from_utf8(json.to_vec()).unwrap();
        let secret = key.secret_multibase();
        let odd = [
            "[".repeat(10_000),
            "{\"type\":".repeat(5_000),
            text.replace(secret.as_str(), &format!("z{}", "1".repeat(100_000))),
            text.replace(secret.as_str(), "z"),
            text.replace(secret.as_str(), ""),
            text.replace("\"version\": 1", "\"version\": 99999999999999999999"),
            text.replace("\"version\": 1", "\"version\": -1"),
            format!("{text}{}", " ".repeat(MAX_BACKUP_PLAINTEXT_BYTES)),
        ];
        for input in odd {
            assert!(parse(input.as_bytes()).is_err(), "{:.80}", input);
        }
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
