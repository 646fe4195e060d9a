//! The commands that seal an opened folder into a dataset, and recall what its last seal said.

use std::path::{Path, PathBuf};

use hallmark_core::dataset;
use hallmark_core::defaults::Defaults;
use hallmark_core::library::{Library, LibraryEntry};
use hallmark_core::manifest::{self, DatasetInfo, ResponsibleAi};
use tauri::State;
use tauri::ipc::Channel;

use crate::dto::{self, JobProgress, SealRequest};
use crate::error::IpcError;
use crate::jobs::Jobs;
use crate::progress::ChannelProgress;
use crate::state::AppPaths;
use crate::watch::FolderWatch;

/// Seals `request.path` into its output folder, reporting progress on `on_progress` as job `job_id`.
#[tauri::command]
pub async fn seal_dataset(
    request: SealRequest,
    job_id: String,
    on_progress: Channel<JobProgress>,
    jobs: State<'_, Jobs>,
    paths: State<'_, AppPaths>,
    watch: State<'_, FolderWatch>,
) -> Result<dto::SealedDataset, IpcError> {
    let out = output_folder(&paths, &request.path, request.out.as_deref());
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
        version: request.version,
        date_published: today[..10].to_owned(),
        keywords: Vec::new(),
        consent: manifest::Consent::from(&request.consent),
        rai: ResponsibleAi::default(),
    };
    // A dataset sealed before keeps the rules it was sealed (and reviewed, and watched) with;
    // the defaults are for new ones.
    let options = match dataset::load_state(&out) {
        Ok(state) => hallmark_core::seal::SealOptions {
            rules: state.options.rules,
            shard_size: request.shard_size,
        },
        Err(_) => Defaults::load(&paths.defaults())?.seal_options(request.shard_size),
    };
    // The watch compares the folder with the old seal, which this seal replaces (the core's lock
    // already keeps its recovery away from the seal's staging folder): stop it until the UI
    // watches the new seal, rather than walk the folder for a seal about to go.
    watch.stop();
    let guard = jobs.start(&job_id);
    let token = guard.token.clone();
    let progress = ChannelProgress::new(&job_id, on_progress);
    let source = PathBuf::from(&request.path);
    let library = paths.library.clone();
    let sealed = tauri::async_runtime::spawn_blocking(move || {
        let sealed = dataset::seal_folder(
            &source,
            &out,
            &options,
            &info,
            dataset::ResealPolicy::default(),
            &progress,
            &token,
        )?;
        // What the summary shows is read back from the manifest written. The signature state
        // covers a credential this seal set aside (`SignatureAfterSeal::MovedAside`) and one an
        // earlier seal did.
        let (bytes, facts) = manifest::read_file(&out)?;
        let manifest = String::from_utf8_lossy(&bytes).into_owned();
        let signature = dataset::signature_state(&out);
        // The dataset joins the creator's list (a list that cannot be written does not undo the seal).
        let mut list = Library::load(&library).unwrap_or_default();
        list.record(LibraryEntry {
            out: out.clone(),
            source: sealed.report.root.clone(),
            sealed_at: super::unix_now(),
            files: sealed.report.files,
            bytes: sealed.report.bytes,
            samples: sealed.report.samples,
        });
        let _ = list.save(&library);
        Ok::<_, hallmark_core::Error>(dto::SealedDataset::new(
            &out, &sealed, manifest, &facts, signature,
        ))
    })
    .await
    .map_err(IpcError::internal)??;
    drop(guard);
    Ok(sealed)
}

/// What the creator said when the folder `path` was last sealed into its output folder (`out`, or
/// the folder's own one), to fill the form in again; `None` when it was never sealed there.
#[tauri::command]
pub fn previous_seal(
    path: String,
    out: Option<String>,
    paths: State<'_, AppPaths>,
) -> Result<Option<dto::PreviousSeal>, IpcError> {
    let out = output_folder(&paths, &path, out.as_deref());
    Ok(dataset::previous_seal(&out)?.map(|state| dto::PreviousSeal::new(&out, &state)))
}

/// The output folder the creator typed, or the folder's own one under the app's data folder.
pub(crate) fn output_folder(paths: &AppPaths, source: &str, out: Option<&str>) -> PathBuf {
    match out.map(str::trim).filter(|o| !o.is_empty()) {
        Some(out) => PathBuf::from(out),
        None => paths.datasets.join(folder_slug(Path::new(source))),
    }
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

/// Every dataset sealed in the app, most recently sealed first, each as it stands now.
#[tauri::command]
pub async fn datasets(paths: State<'_, AppPaths>) -> Result<Vec<dto::DatasetEntry>, IpcError> {
    let library = paths.library.clone();
    tauri::async_runtime::spawn_blocking(move || {
        Ok(Library::load(&library)?
            .datasets()
            .iter()
            .map(dto::DatasetEntry::read)
            .collect())
    })
    .await
    .map_err(IpcError::internal)?
}

/// Takes a dataset off the list; its output folder and the creator's folder are not touched.
#[tauri::command]
pub fn forget_dataset(out: String, paths: State<'_, AppPaths>) -> Result<(), IpcError> {
    let mut library = Library::load(&paths.library)?;
    library.forget(Path::new(&out));
    Ok(library.save(&paths.library)?)
}

/// The seal in `out`, read back (after a restart, or from the list): what it holds, counted from
/// its index, and whether it is signed.
#[tauri::command]
pub async fn open_dataset(out: String) -> Result<dto::SealedDataset, IpcError> {
    tauri::async_runtime::spawn_blocking(move || {
        let out = PathBuf::from(out);
        let described = dataset::describe(&out)?;
        Ok::<_, hallmark_core::Error>(dto::SealedDataset::described(&out, &described))
    })
    .await
    .map_err(IpcError::internal)?
    .map_err(IpcError::from)
}
