//! The command that seals an opened folder into a dataset.

use std::path::{Path, PathBuf};

use hallmark_core::dataset;
use hallmark_core::manifest::{Consent, DatasetInfo, ResponsibleAi};
use hallmark_core::seal::SealOptions;
use tauri::State;
use tauri::ipc::Channel;

use crate::dto::{self, JobProgress, SealRequest};
use crate::error::IpcError;
use crate::jobs::Jobs;
use crate::progress::ChannelProgress;
use crate::state::AppPaths;

/// Seals `request.path` into its output folder, reporting progress on `on_progress` as job `job_id`.
#[tauri::command]
pub async fn seal_dataset(
    request: SealRequest,
    job_id: String,
    on_progress: Channel<JobProgress>,
    jobs: State<'_, Jobs>,
    paths: State<'_, AppPaths>,
) -> Result<dto::SealedDataset, IpcError> {
    let out = match &request.out {
        Some(out) => PathBuf::from(out),
        None => paths.datasets.join(folder_slug(Path::new(&request.path))),
    };
    let today = super::now();
    let info = DatasetInfo {
        description: request
            .description
            .clone()
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| {
                format!(
                    "{}, by {}, sealed with Hallmark",
                    request.name, request.creator
                )
            }),
        name: request.name,
        license: request.license,
        creator_name: request.creator,
        creator_url: None,
        url: None,
        version: "1.0.0".into(),
        date_published: today[..10].to_owned(),
        keywords: Vec::new(),
        consent: Consent::default(),
        rai: ResponsibleAi::default(),
    };
    let options = SealOptions {
        shard_size: request.shard_size,
        ..SealOptions::default()
    };
    let guard = jobs.start(&job_id);
    let token = guard.token.clone();
    let progress = ChannelProgress::new(&job_id, on_progress);
    let source = PathBuf::from(&request.path);
    let (sealed, out) = tauri::async_runtime::spawn_blocking(move || {
        dataset::seal_folder(
            &source,
            &out,
            &options,
            &info,
            dataset::ResealPolicy::default(),
            &progress,
            &token,
        )
        .map(|s| (s, out))
    })
    .await
    .map_err(IpcError::internal)??;
    drop(guard);
    let manifest = std::fs::read_to_string(&sealed.manifest_path)
        .map_err(|e| IpcError::from(hallmark_core::Error::from_io(&sealed.manifest_path, e)))?;
    Ok(dto::SealedDataset::new(&out, &sealed, manifest))
}

/// A folder name for a dataset's output: the source folder's name, made safe, and a short hash of
/// its full path so two folders of the same name never share an output.
fn folder_slug(source: &Path) -> String {
    let digest =
        hallmark_core::digest::Sha256Digest::of(source.as_os_str().as_encoded_bytes()).hex();
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let slug = if slug.is_empty() {
        "dataset".to_owned()
    } else {
        slug
    };
    format!("{slug}-{}", &digest[..8])
}

/// Reports, now and whenever files change, how the sealed folder differs from its seal in `out`.
#[tauri::command]
pub fn watch_sealed_folder(
    out: String,
    on_change: Channel<dto::DatasetChanges>,
    watch: State<'_, crate::watch::FolderWatch>,
) -> Result<(), IpcError> {
    watch.start(Path::new(&out), on_change)
}
