//! Key files: a key backup encrypted with a passphrase in the age format (ASCII-armoured).

use std::io::{Read, Write};
use std::path::Path;

use age::secrecy::SecretString;
use hallmark_core::did::SigningIdentity;
use hallmark_core::keys::{self, KeyError, KeyRecord};
use zeroize::Zeroizing;

/// The largest key file read: a real one is under a kilobyte, so a larger file (or an endless
/// one, such as `/dev/zero`) is refused before it is read into memory.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// Encrypts a key with `passphrase` into armoured age bytes; the passphrase must pass
/// [`keys::check_new_passphrase`].
pub fn encrypt(
    record: &KeyRecord,
    key: &SigningIdentity,
    passphrase: &str,
) -> Result<Vec<u8>, KeyError> {
    keys::check_new_passphrase(passphrase)?;
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

/// Decrypts age bytes with `passphrase` (any but an empty one); `what` names the file in errors.
pub fn decrypt(
    bytes: &[u8],
    passphrase: &str,
    what: &str,
) -> Result<(KeyRecord, SigningIdentity), KeyError> {
    keys::check_passphrase(passphrase, what)?;
    let not_age = |detail: String| KeyError::NotABackup {
        what: what.to_owned(),
        detail,
    };
    let decryptor = age::Decryptor::new(age::armor::ArmoredReader::new(bytes))
        .map_err(|e| not_age(e.to_string()))?;
    let identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    let reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|_| KeyError::WrongPassphrase {
            what: what.to_owned(),
        })?;
    let mut plaintext = Zeroizing::new(Vec::new());
    reader
        .take(keys::MAX_BACKUP_PLAINTEXT_BYTES as u64 + 1)
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

/// Reads and decrypts a key file, reading at most [`MAX_KEY_FILE_BYTES`] of it.
pub fn read(path: &Path, passphrase: &str) -> Result<(KeyRecord, SigningIdentity), KeyError> {
    let what = path.display().to_string();
    keys::check_passphrase(passphrase, &what)?;
    let refused = |detail: String| KeyError::NotABackup {
        what: what.clone(),
        detail,
    };
    let cannot_read = |e: std::io::Error| refused(format!("cannot read it: {e}; check the path"));
    let too_large = || {
        refused(format!(
            "it is too large for a key file, which is under {} KiB; check the path",
            MAX_KEY_FILE_BYTES / 1024
        ))
    };
    let file = std::fs::File::open(path).map_err(cannot_read)?;
    // A regular file says its size; a device or a pipe does not, so the read below is bounded too.
    if file.metadata().map_err(cannot_read)?.len() > MAX_KEY_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(too_large());
    }
    decrypt(&bytes, passphrase, &what)
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
            write(&path, &record, &key, "another good passphrase").is_err(),
            "an existing key file is never overwritten"
        );
    }

    fn ana() -> (KeyRecord, SigningIdentity) {
        let key = SigningIdentity::generate();
        let record = KeyRecord {
            did: key.public().to_string(),
            name: "Ana".into(),
            created: "2026-11-23T10:00:00Z".into(),
        };
        (record, key)
    }

    /// An age file as `age -p` or an older Hallmark would write it: any passphrase, and a low
    /// scrypt work factor so that a test can try hundreds of variants.
    fn age_encrypt(plaintext: &[u8], passphrase: &str) -> Vec<u8> {
        let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
        recipient.set_work_factor(10);
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .unwrap();
        let armored =
            age::armor::ArmoredWriter::wrap_output(Vec::new(), age::armor::Format::AsciiArmor)
                .unwrap();
        let mut writer = encryptor.wrap_output(armored).unwrap();
        writer.write_all(plaintext).unwrap();
        writer.finish().and_then(|a| a.finish()).unwrap()
    }

    #[test]
    fn a_new_key_file_needs_the_passphrase_rule_and_an_old_one_opens_with_any_but_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ana.age");
        let (record, key) = ana();
        for short in ["", "1234567"] {
            assert!(matches!(
                write(&path, &record, &key, short),
                Err(KeyError::PassphraseTooShort)
            ));
            assert!(!path.exists(), "nothing is written with {short:?}");
        }

        let old = age_encrypt(&keys::backup_plaintext(&record, &key), "short");
        std::fs::write(&path, &old).unwrap();
        let (_, opened) = read(&path, "short").unwrap();
        assert_eq!(opened.public(), key.public());
        let empty = read(&path, "").unwrap_err();
        assert!(matches!(empty, KeyError::EmptyPassphrase { .. }), "{empty}");
        assert!(empty.to_string().contains(&*path.to_string_lossy()));
        assert!(matches!(
            decrypt(&old, "", "backup"),
            Err(KeyError::EmptyPassphrase { .. })
        ));
    }

    /// Decrypts `input`, turning a panic into a test failure that shows the input.
    fn open(input: &[u8]) -> Result<(KeyRecord, SigningIdentity), KeyError> {
        std::panic::catch_unwind(|| decrypt(input, "a good passphrase", "fuzz"))
            .unwrap_or_else(|_| panic!("decrypt panicked on {:?}", String::from_utf8_lossy(input)))
    }

    #[test]
    fn truncated_random_and_damaged_key_files_are_errors_never_panics() {
        let (record, key) = ana();
        let valid = age_encrypt(&keys::backup_plaintext(&record, &key), "a good passphrase");
        assert!(open(&valid).is_ok());
        let body = valid.trim_ascii_end();
        // Every cut through the armour line and the header; past it, where every cut meets the
        // same payload check and each try costs an scrypt calibration, every fourth.
        for len in (0..body.len()).filter(|len| *len < 320 || len % 4 == 0) {
            assert!(open(&body[..len]).is_err(), "cut at {len} bytes");
        }
        // A valid file around a plaintext that is not a backup, or is one too large to be one.
        for plaintext in [
            b"".to_vec(),
            b"{}".to_vec(),
            vec![0; 1 << 20],
            b"x".repeat(keys::MAX_BACKUP_PLAINTEXT_BYTES + 1),
        ] {
            assert!(open(&age_encrypt(&plaintext, "a good passphrase")).is_err());
        }
        let mut seed: u64 = 0x243F_6A88_85A3_08D3;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let prefixes: [&[u8]; 3] = [
            b"",
            b"-----BEGIN AGE ENCRYPTED FILE-----\n",
            b"age-encryption.org/v1\n-> scrypt ",
        ];
        for round in 0..1500 {
            let len = (next() % 300) as usize;
            let mut bytes = prefixes[round % prefixes.len()].to_vec();
            bytes.extend((0..len).map(|_| next() as u8));
            assert!(open(&bytes).is_err(), "random bytes are refused");
        }
        for _ in 0..300 {
            let mut damaged = valid.clone();
            for _ in 0..=next() % 3 {
                let at = (next() % damaged.len() as u64) as usize;
                damaged[at] = next() as u8;
            }
            // Armour allows some changes (spaces at line ends): only a panic fails here.
            let _ = open(&damaged);
        }
    }

    #[test]
    fn a_huge_or_endless_key_file_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let huge = dir.path().join("huge.age");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(8 << 30)
            .unwrap();
        let mut inputs = vec![huge];
        if cfg!(unix) {
            inputs.push("/dev/zero".into());
        }
        for path in inputs {
            let start = std::time::Instant::now();
            let err = read(&path, "a good passphrase").unwrap_err();
            assert!(matches!(err, KeyError::NotABackup { .. }), "{err}");
            assert!(
                err.to_string().contains("too large for a key file"),
                "{err}"
            );
            assert!(start.elapsed() < std::time::Duration::from_secs(5));
        }
        let missing = read(&dir.path().join("nope.age"), "a good passphrase").unwrap_err();
        assert!(missing.to_string().contains("check the path"), "{missing}");
    }
}
