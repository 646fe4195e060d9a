//! The Publish screen's commands: the local marketplace preset, joining a marketplace in one
//! step, and publishing a signed dataset to it with progress, pause (cancel) and resume (the
//! journal keeps what the marketplace confirmed).

use std::path::PathBuf;
use std::sync::Arc;

use hallmark_client::Origin;
use hallmark_client::joined::JoinedStore;
use hallmark_client::publishing::{self, PublishError, PublishJob};
use hallmark_client::upload::{self, UploadError, UploadOptions};
use hallmark_core::creator::CredentialShelf;
use hallmark_core::keys::KeyStore;
use hallmark_keys::KeyringStore;
use tauri::State;
use tauri::ipc::Channel;

use super::now;
use crate::dto::{self, JobProgress};
use crate::error::{ErrorCode, IpcError};
use crate::jobs::Jobs;
use crate::progress::ChannelProgress;
use crate::state::AppPaths;

/// Where `scripts/start` serves the reference marketplace unless told otherwise.
const LOCAL_MARKETPLACE: &str = "http://127.0.0.1:8787";

/// The local reference marketplace the Publish screen offers first (`HALLMARK_MARKET_URL`, as
/// `scripts/start` sets it, or its default address).
#[tauri::command]
pub fn local_marketplace() -> String {
    std::env::var("HALLMARK_MARKET_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| LOCAL_MARKETPLACE.to_owned())
}

/// Joins the marketplace at `url` as `name` with the identity `did` (or the only one): pins its
/// key, registers, and keeps the creator credential it issues.
#[tauri::command]
pub async fn join_marketplace(
    url: String,
    name: String,
    did: Option<String>,
    paths: State<'_, AppPaths>,
    keys: State<'_, KeyringStore>,
) -> Result<dto::Marketplace, IpcError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(IpcError {
            code: ErrorCode::InvalidInput,
            message: "Type the name buyers will see, such as your own.".into(),
        });
    }
    let origin = Origin::parse(url.trim())?;
    let (_, key) = keys.choose(did.as_deref())?;
    let joined = publishing::join(
        &JoinedStore::new(&paths.data),
        &CredentialShelf::new(&paths.credentials),
        &origin,
        &key,
        name,
        &now(),
    )
    .await
    .map_err(explained)?;
    Ok(dto::Marketplace::from(&joined))
}

/// Asks the marketplace at `origin` for its key now and compares it with the one pinned when the
/// creator joined: `ok`, `changed` (with the key found: nothing is sent to it) or `offline`.
#[tauri::command]
pub async fn check_marketplace(
    origin: String,
    paths: State<'_, AppPaths>,
) -> Result<dto::MarketplaceCheck, IpcError> {
    let parsed = Origin::parse(&origin)?;
    let joined = JoinedStore::new(&paths.data)
        .load(&parsed)?
        .ok_or_else(|| IpcError {
            code: ErrorCode::NotFound,
            message: format!("You have not joined {origin}."),
        })?;
    let client =
        hallmark_client::MarketClient::new(&joined.origin)?.pinned_to(joined.marketplace_did()?);
    Ok(match client.marketplace().await {
        Ok(_) => dto::MarketplaceCheck {
            state: dto::PinState::Same,
            found: Some(joined.marketplace.clone()),
            message: None,
        },
        Err(hallmark_client::ClientError::IdentityChanged { found, .. }) => dto::MarketplaceCheck {
            state: dto::PinState::Changed,
            message: Some(format!(
                "{origin} now answers with another key than the one you joined. It may be another \
                 marketplace, or someone in between: Hallmark sends it nothing. If its operator \
                 really replaced its key, join it again."
            )),
            found: Some(found),
        },
        Err(e) => dto::MarketplaceCheck {
            state: dto::PinState::Unreachable,
            found: None,
            message: Some(e.to_string()),
        },
    })
}

/// The publishes started from this studio that no marketplace listed yet (interrupted, paused or
/// failed), each with the dataset of the creator's list whose seal it was, to offer resuming.
#[tauri::command]
pub async fn interrupted_publishes(
    paths: State<'_, AppPaths>,
) -> Result<Vec<dto::InterruptedPublish>, IpcError> {
    if !paths.data.join(upload::journal::JOURNAL_FILE).exists() {
        return Ok(Vec::new());
    }
    let journal = upload::Journal::open(&paths.data)
        .await
        .map_err(|e| IpcError::internal(format!("cannot open the upload journal: {e}")))?;
    let library = hallmark_core::library::Library::load(&paths.library)?;
    // Each listed dataset's current seal, by its manifest's SHA-256.
    let seals: Vec<(String, &hallmark_core::library::LibraryEntry)> = library
        .datasets()
        .iter()
        .filter_map(|entry| {
            let state = hallmark_core::dataset::load_state(&entry.out).ok()?;
            Some((state.manifest_sha256, entry))
        })
        .collect();
    let mut found = Vec::new();
    for joined in JoinedStore::new(&paths.data).all()? {
        let unlisted = journal
            .unlisted(&joined.origin)
            .await
            .map_err(|e| IpcError::internal(format!("cannot read the upload journal: {e}")))?;
        for record in unlisted {
            if let Some((_, entry)) = seals.iter().find(|(sha, _)| *sha == record.manifest_sha256) {
                found.push(dto::InterruptedPublish {
                    origin: joined.origin.clone(),
                    out: dto::path_text(&entry.out),
                    source: dto::path_text(&entry.source),
                    price: record.price,
                    currency: record.currency,
                });
            }
        }
    }
    Ok(found)
}

/// Publishes the signed dataset in `request.out` to the joined marketplace `request.origin`,
/// reporting upload progress as job `job_id`. Cancelling the job pauses it: publishing again
/// resumes from what the marketplace confirmed.
#[tauri::command]
pub async fn publish_dataset(
    request: dto::PublishRequest,
    job_id: String,
    on_progress: Channel<JobProgress>,
    jobs: State<'_, Jobs>,
    paths: State<'_, AppPaths>,
    keys: State<'_, KeyringStore>,
) -> Result<dto::PublishResult, IpcError> {
    let origin = Origin::parse(&request.origin)?;
    let store = JoinedStore::new(&paths.data);
    let joined = store.load(&origin)?.ok_or_else(|| IpcError {
        code: ErrorCode::NotFound,
        message: format!("You have not joined {origin} yet. Join it first."),
    })?;
    let (_, key) = keys.choose(Some(&joined.creator))?;
    let terms = match (request.price, request.currency) {
        (Some(price), Some(currency)) if !price.trim().is_empty() => {
            Some((price.trim().to_owned(), currency.trim().to_uppercase()))
        }
        _ => None,
    };
    let guard = jobs.start(&job_id);
    let shelf = CredentialShelf::new(&paths.credentials);
    let job = PublishJob {
        data: &paths.data,
        store: &store,
        joined: &joined,
        key: Arc::new(key),
        terms,
        options: UploadOptions {
            max_bytes_per_second: request.max_bytes_per_second.filter(|&limit| limit > 0),
            ..UploadOptions::default()
        },
        cancel: guard.token.clone(),
        now: Arc::new(now),
        shelf: &shelf,
    };
    let sink = Arc::new(ChannelProgress::new(&job_id, on_progress));
    let out = PathBuf::from(&request.out);
    let report = publishing::publish(
        &out,
        request.source.as_deref().map(std::path::Path::new),
        job,
        &|_| {},
        upload::to_progress(sink),
    )
    .await
    .map_err(explained)?;
    drop(guard);
    Ok(dto::PublishResult::from(&report))
}

/// `PublishError` in the app's words: what to do, on which screen.
fn explained(error: PublishError) -> IpcError {
    let error = match error {
        PublishError::Client(e) => return e.into(),
        other => other,
    };
    let (code, fix) = match &error {
        PublishError::NotSealed { .. } => (
            ErrorCode::InvalidInput,
            "Seal it on the Datasets screen first.",
        ),
        PublishError::NotSigned { .. }
        | PublishError::SignatureStale { .. }
        | PublishError::SignatureInvalid { .. } => (
            ErrorCode::InvalidInput,
            "Sign it on the Datasets screen, then publish.",
        ),
        PublishError::WrongSigner { .. } => (
            ErrorCode::InvalidInput,
            "Sign it with the identity that joined this marketplace, or join it with this one.",
        ),
        PublishError::NeedsPrice { .. } => (
            ErrorCode::InvalidInput,
            "Set a price per sample and its currency.",
        ),
        PublishError::Upload(UploadError::Cancelled) => (
            ErrorCode::Cancelled,
            "Publish again to resume where it stopped.",
        ),
        PublishError::Upload(UploadError::Source { .. }) => (ErrorCode::Changed, ""),
        PublishError::Upload(_) => (
            ErrorCode::Refused,
            "What the marketplace confirmed is kept: publish again to continue.",
        ),
        PublishError::Core(_) | PublishError::Journal(_) => (ErrorCode::Io, ""),
        _ => (ErrorCode::Refused, ""),
    };
    let message = error.to_string();
    IpcError {
        code,
        message: if fix.is_empty() {
            message
        } else {
            format!("{message}. {fix}")
        },
    }
}
