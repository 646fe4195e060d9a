//! Commands for choosing a folder of work and summarising it.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use hallmark_core::folder;
use hallmark_core::recent::{RecentFolder, RecentFolders};
use tauri::ipc::Channel;
use tauri::{Runtime, State, WebviewWindow};

use crate::dto::{self, JobProgress};
use crate::error::IpcError;
use crate::jobs::Jobs;
use crate::progress::ChannelProgress;
use crate::state::AppPaths;

/// Counts the files and bytes under `path`, reporting progress on `on_progress` as job `job_id`,
/// and puts the folder first in the recent list.
#[tauri::command]
pub async fn summarize_folder(
    path: String,
    job_id: String,
    on_progress: Channel<JobProgress>,
    jobs: State<'_, Jobs>,
    paths: State<'_, AppPaths>,
) -> Result<dto::FolderSummary, IpcError> {
    let guard = jobs.start(&job_id);
    let token = guard.token.clone();
    let progress = ChannelProgress::new(&job_id, on_progress);
    let rules = hallmark_core::defaults::Defaults::load(&paths.defaults())?.rules();
    let summary = tauri::async_runtime::spawn_blocking(move || {
        folder::summarize(Path::new(&path), &rules, &progress, &token)
    })
    .await
    .map_err(IpcError::internal)??;
    drop(guard);

    remember(&paths.recent_folders, &summary)?;
    Ok(dto::FolderSummary::from(&summary))
}

/// Asks a running job to stop; false when it is no longer running.
#[tauri::command]
pub fn cancel_job(job_id: String, jobs: State<'_, Jobs>) -> bool {
    jobs.cancel(&job_id)
}

/// Opens the native folder dialog; `None` when the creator closes it without choosing.
#[tauri::command]
pub async fn pick_folder<R: Runtime>(window: WebviewWindow<R>) -> Result<Option<String>, IpcError> {
    let chosen = rfd::AsyncFileDialog::new()
        .set_title("Choose the folder that holds your work")
        .set_parent(&window)
        .pick_folder()
        .await;
    Ok(chosen.map(|handle| dto::path_text(handle.path())))
}

/// The recently opened folders, newest first.
#[tauri::command]
pub fn recent_folders(paths: State<'_, AppPaths>) -> Result<Vec<dto::RecentFolder>, IpcError> {
    let list = RecentFolders::load(&paths.recent_folders)?;
    Ok(list.folders().iter().map(dto::RecentFolder::from).collect())
}

/// Removes a folder from the recent list (the folder itself is untouched).
#[tauri::command]
pub fn forget_recent_folder(
    path: String,
    paths: State<'_, AppPaths>,
) -> Result<Vec<dto::RecentFolder>, IpcError> {
    let mut list = RecentFolders::load(&paths.recent_folders)?;
    list.forget(&PathBuf::from(path));
    list.save(&paths.recent_folders)?;
    Ok(list.folders().iter().map(dto::RecentFolder::from).collect())
}

fn remember(file: &Path, summary: &folder::FolderSummary) -> Result<(), IpcError> {
    // A damaged list should not stop the creator from working: start a fresh one.
    let mut list = RecentFolders::load(file).unwrap_or_default();
    let opened_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    list.record(RecentFolder {
        path: summary.root.clone(),
        opened_at,
        files: summary.files,
        bytes: summary.bytes,
    });
    list.save(file)?;
    Ok(())
}
