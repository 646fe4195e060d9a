//! Commands for the creator's signing identity, and for signing and verifying a sealed dataset.
//!
//! Secrets never cross IPC: the UI sees names and did:keys; passphrases the creator types for a
//! backup travel in, are used once, and are wiped.

use std::path::{Path, PathBuf};

use hallmark_core::did::SigningIdentity;
use hallmark_core::keys::{KeyRecord, KeyStore};
use hallmark_core::progress::{CancelToken, NoProgress};
use hallmark_keys::{KeyringStore, key_file};
use tauri::State;
use zeroize::Zeroizing;

use hallmark_core::rotation::{self, Kept, RotateError};

use super::now;
use crate::dto;
use crate::error::IpcError;
use crate::state::AppPaths;

/// The identities in the keyring, oldest first, each marked when a rotation replaced it (its own
/// kept statement, and only when the key it hands over to is in the keyring too).
#[tauri::command]
pub fn identities(
    keys: State<'_, KeyringStore>,
    paths: State<'_, AppPaths>,
) -> Result<Vec<dto::Identity>, IpcError> {
    let records = keys.list()?;
    let kept = Kept::new(&paths.rotations());
    let at = now();
    let current = kept.current(&records, &at).map(|r| r.did.as_str());
    Ok(dto::Identity::all(
        &records,
        &kept.in_force(&records, &at),
        current,
    ))
}

/// Replaces the identity `did` with a new key of the same name: the new key is stored, then the
/// old key signs a rotation statement naming it (kept in the data folder); the old one stays in
/// the keyring, marked replaced, until the creator deletes it. Returns the new identity.
#[tauri::command]
pub fn rotate_identity(
    did: String,
    keys: State<'_, KeyringStore>,
    paths: State<'_, AppPaths>,
) -> Result<dto::Identity, IpcError> {
    let (old_record, old_key) = keys.choose(Some(&did))?;
    let kept = Kept::new(&paths.rotations());
    let (record, _) =
        rotation::rotate(&*keys, &kept, &old_record, &old_key, &now()).map_err(|e| match e {
            RotateError::Key(e) => IpcError::from(e),
            RotateError::Keep(e) => IpcError::from(e),
            e @ RotateError::AlreadyReplaced { .. } => IpcError {
                code: crate::error::ErrorCode::InvalidInput,
                message: e.to_string(),
            },
            e => IpcError::internal(e),
        })?;
    Ok(dto::Identity::from(&record))
}

/// Deletes the identity `did` from the keyring. `confirmation` must be its name, as the creator
/// typed it to confirm: the secret cannot be recovered without a backup. Refused while a joined
/// marketplace knows the creator by it (Hallmark signs in there with it).
#[tauri::command]
pub fn delete_identity(
    did: String,
    confirmation: String,
    keys: State<'_, KeyringStore>,
    paths: State<'_, AppPaths>,
) -> Result<(), IpcError> {
    let (record, _) = keys.choose(Some(&did))?;
    if confirmation.trim() != record.name {
        return Err(IpcError {
            code: crate::error::ErrorCode::InvalidInput,
            message: format!(
                "type the identity's name, {}, to confirm that it is deleted",
                record.name
            ),
        });
    }
    let joined: Vec<String> = hallmark_client::joined::JoinedStore::new(&paths.data)
        .all()
        .map_err(IpcError::internal)?
        .into_iter()
        .filter(|j| j.creator == did)
        .map(|j| j.origin)
        .collect();
    if !joined.is_empty() {
        return Err(IpcError {
            code: crate::error::ErrorCode::InvalidInput,
            message: format!(
                "this identity is the one you joined {} with, and Hallmark signs in there with it to publish and fetch earnings: keep it",
                joined.join(", ")
            ),
        });
    }
    keys.delete(&did)?;
    Ok(())
}

/// Creates a signing identity in the OS keyring.
#[tauri::command]
pub fn create_identity(
    name: String,
    keys: State<'_, KeyringStore>,
) -> Result<dto::Identity, IpcError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(IpcError {
            code: crate::error::ErrorCode::InvalidInput,
            message: "give your identity a name, such as your own".into(),
        });
    }
    let key = SigningIdentity::generate();
    let record = KeyRecord {
        did: key.public().to_string(),
        name: name.to_owned(),
        created: now(),
    };
    keys.store(&record, &key)?;
    Ok(dto::Identity::from(&record))
}

/// Asks where to save a backup of the identity `name` with the native save dialog; `None` when
/// the creator closed it.
#[tauri::command]
pub async fn pick_backup_path<R: tauri::Runtime>(
    name: String,
    window: tauri::WebviewWindow<R>,
) -> Result<Option<String>, IpcError> {
    let file: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let chosen = rfd::AsyncFileDialog::new()
        .set_title("Save your identity's encrypted backup")
        .set_file_name(format!("hallmark-identity-{}.age", file.trim_matches('-')))
        .add_filter("age backup", &["age"])
        .set_parent(&window)
        .save_file()
        .await;
    Ok(chosen.map(|handle| dto::path_text(handle.path())))
}

/// Restores an identity from an age backup file into the keyring.
#[tauri::command]
pub fn restore_identity(
    path: String,
    passphrase: String,
    keys: State<'_, KeyringStore>,
) -> Result<dto::Identity, IpcError> {
    let passphrase = Zeroizing::new(passphrase);
    hallmark_core::keys::check_passphrase(&passphrase, &path).map_err(|e| IpcError {
        code: crate::error::ErrorCode::InvalidInput,
        message: e.to_string(),
    })?;
    let (record, key) = key_file::read(Path::new(&path), &passphrase)?;
    keys.store(&record, &key)?;
    Ok(dto::Identity::from(&record))
}

/// Writes an encrypted backup of an identity to a new file.
#[tauri::command]
pub fn backup_identity(
    did: String,
    path: String,
    passphrase: String,
    keys: State<'_, KeyringStore>,
) -> Result<(), IpcError> {
    let passphrase = Zeroizing::new(passphrase);
    hallmark_core::keys::check_new_passphrase(&passphrase).map_err(|e| IpcError {
        code: crate::error::ErrorCode::InvalidInput,
        message: e.to_string(),
    })?;
    let (record, key) = keys.choose(Some(&did))?;
    key_file::write(Path::new(&path), &record, &key, &passphrase)?;
    Ok(())
}

/// Signs the dataset sealed in `out` with the identity `did` (or the only one), offline.
#[tauri::command]
pub async fn sign_sealed(
    out: String,
    did: Option<String>,
    keys: State<'_, KeyringStore>,
) -> Result<dto::Verdict, IpcError> {
    let (_, key) = keys.choose(did.as_deref())?;
    let out = PathBuf::from(out);
    tauri::async_runtime::spawn_blocking(move || {
        hallmark_core::credential::sign_dataset(&out, &key, &now())?;
        let report = hallmark_core::verify::verify(
            &out,
            None,
            None,
            &now(),
            &NoProgress,
            &CancelToken::new(),
        )?;
        Ok::<_, hallmark_core::Error>(dto::Verdict::from(&report))
    })
    .await
    .map_err(IpcError::internal)?
    .map_err(IpcError::from)
}

/// Verifies the dataset sealed in `out`: credential, manifest, index and, with `source`, every file.
#[tauri::command]
pub async fn verify_sealed(out: String, source: Option<String>) -> Result<dto::Verdict, IpcError> {
    tauri::async_runtime::spawn_blocking(move || {
        let source = source.map(PathBuf::from);
        hallmark_core::verify::verify(
            Path::new(&out),
            source.as_deref(),
            None,
            &now(),
            &NoProgress,
            &CancelToken::new(),
        )
        .map(|report| dto::Verdict::from(&report))
    })
    .await
    .map_err(IpcError::internal)?
    .map_err(IpcError::from)
}

/// The creator credentials kept, each checked again now.
#[tauri::command]
pub fn creator_credentials(
    paths: State<'_, crate::state::AppPaths>,
) -> Result<Vec<dto::CreatorCredential>, IpcError> {
    let shelf = hallmark_core::creator::CredentialShelf::new(&paths.credentials);
    Ok(shelf
        .list(&now())?
        .iter()
        .map(dto::CreatorCredential::from)
        .collect())
}

/// Checks a creator credential file against the marketplace's did:key and the creator's identity,
/// and keeps it when it is valid; the error says exactly why when it is not.
#[tauri::command]
pub fn import_creator_credential(
    path: String,
    marketplace: String,
    keys: State<'_, KeyringStore>,
    paths: State<'_, crate::state::AppPaths>,
) -> Result<dto::CreatorCredential, IpcError> {
    let invalid = |message: String| IpcError {
        code: crate::error::ErrorCode::InvalidInput,
        message,
    };
    let marketplace: hallmark_core::did::PublicIdentity = marketplace
        .trim()
        .parse()
        .map_err(|e: hallmark_core::did::DidError| invalid(format!("the marketplace key: {e}")))?;
    // The credential is for the key that signs (after a rotation the keyring holds several).
    let records = keys.list()?;
    let current = Kept::new(&paths.rotations())
        .current(&records, &now())
        .ok_or(hallmark_core::keys::KeyError::NoKeys)?;
    let (_, key) = keys.choose(Some(&current.did))?;
    let path = PathBuf::from(path.trim());
    let bytes = hallmark_core::untrusted::read_capped(
        &path,
        hallmark_core::creator::MAX_DOCUMENT_BYTES as u64,
    )?;
    let credential = hallmark_core::creator::parse(&bytes)
        .map_err(|e| invalid(format!("{} is not a credential: {e}", path.display())))?;
    let shelf = hallmark_core::creator::CredentialShelf::new(&paths.credentials);
    match shelf.import(&credential, &marketplace, &key.public(), &now())? {
        Ok(kept) => Ok(dto::CreatorCredential::from(&kept)),
        Err(e) => Err(invalid(format!("not imported: {e}"))),
    }
}
