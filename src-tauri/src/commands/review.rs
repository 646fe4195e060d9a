//! The commands of the Review step: read an opened folder for private metadata, personal data,
//! broken and duplicate files before it is sealed, and keep the creator's decisions.

use std::path::PathBuf;

use hallmark_core::review::{self, decisions};
use tauri::State;
use tauri::ipc::Channel;

use crate::dto::{self, FindingDecision, JobProgress};
use crate::error::IpcError;
use crate::jobs::Jobs;
use crate::progress::ChannelProgress;
use crate::state::AppPaths;

/// Reviews the folder `path` for the dataset in `out` (the seal's output folder; empty for the
/// folder's own one), reporting progress on `on_progress` as job `job_id`. Earlier decisions are
/// applied and the findings kept with the dataset.
#[tauri::command]
pub async fn review_folder(
    path: String,
    out: Option<String>,
    job_id: String,
    on_progress: Channel<JobProgress>,
    jobs: State<'_, Jobs>,
    paths: State<'_, AppPaths>,
) -> Result<dto::ReviewReport, IpcError> {
    let out = super::seal::output_folder(&paths, &path, out.as_deref());
    let guard = jobs.start(&job_id);
    let token = guard.token.clone();
    let progress = ChannelProgress::new(&job_id, on_progress);
    let source = PathBuf::from(&path);
    let rules = hallmark_core::defaults::Defaults::load(&paths.defaults())?.rules();
    let report = tauri::async_runtime::spawn_blocking(move || {
        let review = decisions::review_dataset(&source, &out, &rules, &progress, &token)?;
        Ok::<_, hallmark_core::Error>(dto::ReviewReport::new(
            &review.root,
            &out,
            review.files,
            review.bytes,
            &review.findings,
            &review.statistics,
        ))
    })
    .await
    .map_err(IpcError::internal)??;
    drop(guard);
    Ok(report)
}

/// What the last review of the folder `path` found, decisions applied; `None` when it was never
/// reviewed for that output folder.
#[tauri::command]
pub fn last_review(
    path: String,
    out: Option<String>,
    paths: State<'_, AppPaths>,
) -> Result<Option<dto::ReviewReport>, IpcError> {
    let out = super::seal::output_folder(&paths, &path, out.as_deref());
    report_of(&out)
}

/// Records the creator's `decision` on the findings `ids` of the last review (`open` takes a
/// decision back), and returns the review as it stands. Exclusions take effect at the next seal.
#[tauri::command]
pub fn decide_findings(
    path: String,
    out: Option<String>,
    ids: Vec<String>,
    decision: FindingDecision,
    paths: State<'_, AppPaths>,
) -> Result<dto::ReviewReport, IpcError> {
    let out = super::seal::output_folder(&paths, &path, out.as_deref());
    match decision {
        FindingDecision::Accepted => {
            decisions::decide(&out, &ids, decisions::Decision::Accepted)?;
        }
        FindingDecision::Excluded => {
            decisions::decide(&out, &ids, decisions::Decision::Excluded)?;
        }
        FindingDecision::Open => {
            decisions::reopen(&out, &ids)?;
        }
    }
    report_of(&out)?.ok_or_else(|| hallmark_core::Error::NotReviewed { out: out.clone() }.into())
}

/// The review kept in `out`, as the UI shows it.
fn report_of(out: &std::path::Path) -> Result<Option<dto::ReviewReport>, IpcError> {
    let Some(record) = decisions::ReviewRecord::load(out)? else {
        return Ok(None);
    };
    let statistics = review::Statistics::of(record.files.iter());
    Ok(Some(dto::ReviewReport::new(
        &record.source,
        out,
        statistics.files,
        statistics.bytes,
        &record.findings,
        &statistics,
    )))
}
