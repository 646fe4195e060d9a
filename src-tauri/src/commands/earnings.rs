//! The Earnings screen's commands: the marketplaces joined, the verified earnings stored from one
//! (offline), a refresh that fetches what is new, and the CSV for an accountant.

use std::path::PathBuf;

use hallmark_client::earnings::{self, EarningsStore, export};
use hallmark_client::joined::{Joined, JoinedStore};
use hallmark_client::upload::{Journal, journal::JOURNAL_FILE};
use hallmark_client::{MarketClient, Origin};
use hallmark_core::keys::KeyStore;
use hallmark_keys::KeyringStore;
use tauri::{Runtime, State, WebviewWindow};

use super::now;
use crate::dto::{self, EarningsStep};
use crate::error::{ErrorCode, IpcError};
use crate::state::AppPaths;

/// The marketplaces joined, by origin.
#[tauri::command]
pub fn marketplaces(paths: State<'_, AppPaths>) -> Result<Vec<dto::Marketplace>, IpcError> {
    Ok(JoinedStore::new(&paths.data)
        .all()?
        .iter()
        .map(dto::Marketplace::from)
        .collect())
}

/// The record of the marketplace at `origin`, which the creator must have joined.
fn joined(paths: &AppPaths, origin: &str) -> Result<Joined, IpcError> {
    let parsed = Origin::parse(origin)?;
    JoinedStore::new(&paths.data)
        .load(&parsed)?
        .ok_or_else(|| IpcError {
            code: ErrorCode::NotFound,
            message: format!("You have not joined {origin}. Join it on the Publish screen first."),
        })
}

/// The earnings stored from `origin`, verified now against its pinned key, offline; `None` when
/// nothing was fetched from it yet.
#[tauri::command]
pub async fn earnings_view(
    origin: String,
    step: EarningsStep,
    paths: State<'_, AppPaths>,
) -> Result<Option<dto::EarningsView>, IpcError> {
    let joined = joined(&paths, &origin)?;
    let store = EarningsStore::open(&paths.data)
        .await
        .map_err(earnings::EarningsError::from)?;
    view(&store, &joined, step).await
}

async fn view(
    store: &EarningsStore,
    joined: &Joined,
    step: EarningsStep,
) -> Result<Option<dto::EarningsView>, IpcError> {
    if store
        .market(&joined.origin)
        .await
        .map_err(earnings::EarningsError::from)?
        .is_none()
    {
        return Ok(None);
    }
    let (stored, verification) = earnings::verify_stored(
        store,
        &joined.origin,
        &joined.marketplace_did()?,
        &joined.creator,
        &now(),
    )
    .await?;
    Ok(Some(dto::EarningsView::new(
        &joined.origin,
        &stored,
        &verification,
        step,
    )))
}

/// Signs in to `origin` with the creator's key from the keyring, fetches the new statements,
/// receipts and log data, and returns the earnings verified. The marketplace must still have the
/// key pinned when the creator joined.
#[tauri::command]
pub async fn refresh_earnings(
    origin: String,
    step: EarningsStep,
    paths: State<'_, AppPaths>,
    keys: State<'_, KeyringStore>,
) -> Result<dto::EarningsView, IpcError> {
    let joined = joined(&paths, &origin)?;
    let (_, key) = keys.choose(Some(&joined.creator))?;
    let now = now();
    let mut client = MarketClient::new(&joined.origin)?.pinned_to(joined.marketplace_did()?);
    let session = client.sign_in(&key, &now).await?;
    JoinedStore::new(&paths.data).save_session(client.origin(), &session)?;
    let client = client.with_session(session);
    let store = EarningsStore::open(&paths.data)
        .await
        .map_err(earnings::EarningsError::from)?;
    // What this studio published names the versions; reading it must not create the journal.
    let journal = if paths.data.join(JOURNAL_FILE).exists() {
        Some(
            Journal::open(&paths.data)
                .await
                .map_err(|e| IpcError::internal(format!("cannot open the upload journal: {e}")))?,
        )
    } else {
        None
    };
    earnings::fetch(
        &client,
        &store,
        journal.as_ref(),
        &joined.creator,
        &now,
        &|_| {},
    )
    .await?;
    view(&store, &joined, step).await?.ok_or_else(|| {
        IpcError::internal(format!("nothing was stored from {origin} after fetching"))
    })
}

/// Asks where to save the CSV of the verified earnings from `origin` (one row per asset and
/// period), writes it, and returns its path; `None` when the creator closed the dialog.
#[tauri::command]
pub async fn export_earnings<R: Runtime>(
    origin: String,
    window: WebviewWindow<R>,
    paths: State<'_, AppPaths>,
) -> Result<Option<String>, IpcError> {
    let joined = joined(&paths, &origin)?;
    let Some(handle) = rfd::AsyncFileDialog::new()
        .set_title("Save your earnings as CSV")
        .set_file_name("hallmark-earnings.csv")
        .add_filter("CSV", &["csv"])
        .set_parent(&window)
        .save_file()
        .await
    else {
        return Ok(None);
    };
    let path = handle.path().to_path_buf();
    write_csv(&paths, &joined, path).await.map(Some)
}

/// Writes the CSV of `joined`'s verified earnings to `path`.
async fn write_csv(paths: &AppPaths, joined: &Joined, path: PathBuf) -> Result<String, IpcError> {
    let store = EarningsStore::open(&paths.data)
        .await
        .map_err(earnings::EarningsError::from)?;
    let (stored, verification) = earnings::verify_stored(
        &store,
        &joined.origin,
        &joined.marketplace_did()?,
        &joined.creator,
        &now(),
    )
    .await?;
    let rows = export::rows(&stored, &verification);
    export::csv_file(&stored, &rows, &path).map_err(|e| IpcError {
        code: ErrorCode::Io,
        message: format!("{e}"),
    })?;
    Ok(dto::path_text(&path))
}
