//! The marketplace's own Ed25519 identity (a did:key): created on first start, kept in the data
//! folder readable by its owner only, and used to issue creator credentials.

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;
use hallmark_core::did::SigningIdentity;

/// The key file's name in the data folder.
pub const KEY_FILE: &str = "marketplace.key";

/// Loads the marketplace key from `data_dir`, creating it (mode 0600, never overwriting) when the
/// folder has none. A key file others can read is refused: a leaked key lets anyone issue
/// creator credentials in the marketplace's name.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<SigningIdentity> {
    let path = data_dir.join(KEY_FILE);
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut file) => {
            let key = SigningIdentity::generate();
            file.write_all(key.secret_multibase().as_bytes())
                .and_then(|()| file.write_all(b"\n"))
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write the marketplace key {}", path.display()))?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load(data_dir),
        Err(e) => Err(e).with_context(|| {
            format!(
                "cannot create the marketplace key {}; check that the data folder is writable",
                path.display()
            )
        }),
    }
}

/// Loads the marketplace key from `data_dir`, which must have one (the admin's commands never
/// create a key: a new key would issue credentials no studio trusts).
pub fn load(data_dir: &Path) -> anyhow::Result<SigningIdentity> {
    let path = data_dir.join(KEY_FILE);
    if !path.exists() {
        anyhow::bail!(
            "{} has no marketplace key ({KEY_FILE}); pass --data with the folder the marketplace serves from",
            data_dir.display()
        );
    }
    let (file, metadata) = hallmark_core::untrusted::open_regular(&path)
        .with_context(|| format!("cannot open the marketplace key {}", path.display()))?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        anyhow::bail!(
            "the marketplace key {} can be read by others (mode {mode:o}); run chmod 600 on it",
            path.display()
        );
    }
    let mut text = String::new();
    file.take(256)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read the marketplace key {}", path.display()))?;
    SigningIdentity::from_multibase(text.trim()).map_err(|e| {
        anyhow::anyhow!(
            "the marketplace key {} is not a key Hallmark wrote ({e}); restore it from a backup",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_owner_only_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(dir.path()).unwrap();
        assert_eq!(first.public(), again.public());
        std::fs::set_permissions(
            dir.path().join(KEY_FILE),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let error = load_or_create(dir.path()).unwrap_err().to_string();
        assert!(error.contains("chmod 600"), "{error}");
    }
}
