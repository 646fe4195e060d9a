//! Key files: a key backup encrypted with a passphrase in the age format (ASCII-armoured).

use std::io::{Read, Write};
use std::path::Path;

use age::secrecy::SecretString;
use hallmark_core::did::SigningIdentity;
use hallmark_core::keys::{self, KeyError, KeyRecord};
use zeroize::Zeroizing;

/// Encrypts a key with `passphrase` into armoured age bytes.
pub fn encrypt(
    record: &KeyRecord,
    key: &SigningIdentity,
    passphrase: &str,
) -> Result<Vec<u8>, KeyError> {
    let failed = |e: std::io::Error| KeyError::Keyring {
        detail: format!("cannot encrypt the key: {e}"),
    };
    let plaintext = keys::backup_plaintext(record, key);
    let encryptor = age::Encryptor::with_user_passphrase(SecretString::from(passphrase.to_owned()));
    let armored =
        age::armor::ArmoredWriter::wrap_output(Vec::new(), age::armor::Format::AsciiArmor)
            .map_err(failed)?;
    let mut writer = encryptor.wrap_output(armored).map_err(failed)?;
    writer.write_all(&plaintext).map_err(failed)?;
    writer
        .finish()
        .and_then(|armored| armored.finish())
        .map_err(failed)
}

/// Decrypts age bytes with `passphrase`; `what` names the file in errors.
pub fn decrypt(
    bytes: &[u8],
    passphrase: &str,
    what: &str,
) -> Result<(KeyRecord, SigningIdentity), KeyError> {
    let not_age = |detail: String| KeyError::NotABackup {
        what: what.to_owned(),
        detail,
    };
    let decryptor = age::Decryptor::new(age::armor::ArmoredReader::new(bytes))
        .map_err(|e| not_age(e.to_string()))?;
    let identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|_| KeyError::WrongPassphrase {
            what: what.to_owned(),
        })?;
    let mut plaintext = Zeroizing::new(Vec::new());
    reader
        .read_to_end(&mut plaintext)
        .map_err(|e| not_age(e.to_string()))?;
    keys::from_backup_plaintext(&plaintext, what)
}

/// Writes an encrypted key file readable only by its owner (mode 0600 on Unix).
pub fn write(
    path: &Path,
    record: &KeyRecord,
    key: &SigningIdentity,
    passphrase: &str,
) -> Result<(), KeyError> {
    let bytes = encrypt(record, key, passphrase)?;
    let failed = |e: std::io::Error| KeyError::Keyring {
        detail: format!("cannot write {}: {e}", path.display()),
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(&bytes).map_err(failed)?;
    file.sync_all().map_err(failed)
}

/// Reads and decrypts a key file.
pub fn read(path: &Path, passphrase: &str) -> Result<(KeyRecord, SigningIdentity), KeyError> {
    let bytes = std::fs::read(path).map_err(|e| KeyError::NotABackup {
        what: path.display().to_string(),
        detail: e.to_string(),
    })?;
    decrypt(&bytes, passphrase, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_opens_with_its_passphrase_only_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ana.age");
        let key = SigningIdentity::generate();
        let record = KeyRecord {
            did: key.public().to_string(),
            name: "Ana".into(),
            created: "2026-11-23T10:00:00Z".into(),
        };
        write(&path, &record, &key, "correct horse").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        assert!(!text.contains(key.secret_multibase().as_str()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let (back, opened) = read(&path, "correct horse").unwrap();
        assert_eq!((back, opened.public()), (record.clone(), key.public()));
        assert!(matches!(
            read(&path, "wrong"),
            Err(KeyError::WrongPassphrase { .. })
        ));
        assert!(
            write(&path, &record, &key, "x").is_err(),
            "an existing key file is never overwritten"
        );
    }
}
