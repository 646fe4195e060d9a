//! The Hallmark desktop app: a Tauri 2 shell whose commands are thin adapters over `hallmark-core`.
//!
//! [`app_builder`] wires the command table and state onto any runtime, so tests exercise the same
//! commands through `tauri::test::mock_builder()` without a window; [`run`] starts the real app.

mod commands;
pub mod dto;
pub mod error;
mod jobs;
mod progress;
mod state;
mod watch;

use std::process::ExitCode;

use tauri::{Builder, Manager, Runtime};

/// Registers the app's commands and state on `builder`.
pub fn app_builder<R: Runtime>(builder: Builder<R>) -> Builder<R> {
    builder
        .manage(jobs::Jobs::default())
        .manage(watch::FolderWatch::default())
        // HALLMARK_KEYRING_SERVICE gives tests a keyring service of their own.
        .manage(match std::env::var("HALLMARK_KEYRING_SERVICE") {
            Ok(service) => hallmark_keys::KeyringStore::with_service(&service),
            Err(_) => hallmark_keys::KeyringStore::new(),
        })
        .setup(|app| {
            let data_dir = app.path().app_data_dir()?;
            app.manage(state::AppPaths::new(&data_dir));
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::folder::summarize_folder,
            commands::folder::cancel_job,
            commands::folder::pick_folder,
            commands::folder::recent_folders,
            commands::folder::forget_recent_folder,
            commands::seal::seal_dataset,
            commands::seal::watch_sealed_folder,
            commands::identity::identities,
            commands::identity::create_identity,
            commands::identity::restore_identity,
            commands::identity::backup_identity,
            commands::identity::sign_sealed,
            commands::identity::verify_sealed,
            commands::identity::creator_credentials,
            commands::identity::import_creator_credential,
        ])
}

/// Runs the desktop app until its last window closes.
pub fn run() -> ExitCode {
    match app_builder(Builder::default()).run(tauri::generate_context!()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: hallmark could not start: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use tauri::Manager;
    use tauri::ipc::{CallbackFn, InvokeBody};
    use tauri::test::{INVOKE_KEY, get_ipc_response, mock_builder};
    use tauri::webview::InvokeRequest;

    fn invoke(
        webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
        cmd: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        get_ipc_response(
            webview,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: InvokeBody::Json(body),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|body| body.deserialize::<serde_json::Value>().unwrap())
    }

    #[test]
    fn commands_answer_over_ipc_with_values_and_code_message_errors() {
        // The real context, so the real capability file decides what the window may call.
        let app = super::app_builder(mock_builder())
            .build(tauri::generate_context!(test = true))
            .unwrap();
        let state = tempfile::tempdir().unwrap();
        app.manage(crate::state::AppPaths::new(state.path()));
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("take1.wav"), vec![0u8; 44]).unwrap();
        let missing = dir.path().join("gone");

        let summary = invoke(
            &webview,
            "summarize_folder",
            serde_json::json!({ "path": dir.path(), "jobId": "j0", "onProgress": "__CHANNEL__:7" }),
        )
        .unwrap();
        assert_eq!(
            (summary["files"].as_u64(), summary["bytes"].as_u64()),
            (Some(1), Some(44))
        );
        let recent = invoke(&webview, "recent_folders", serde_json::json!({})).unwrap();
        assert_eq!(recent[0]["path"], summary["root"]);
        assert!(state.path().join("recent-folders.json").is_file());

        let err = invoke(
            &webview,
            "summarize_folder",
            serde_json::json!({ "path": missing, "jobId": "j1", "onProgress": "__CHANNEL__:7" }),
        )
        .unwrap_err();
        assert_eq!(err["code"], "not_found", "{err}");
        assert!(err["message"].as_str().unwrap().contains("gone"));

        let cancelled = invoke(
            &webview,
            "cancel_job",
            serde_json::json!({ "jobId": "nope" }),
        );
        assert_eq!(cancelled, Ok(serde_json::json!(false)));
    }
}
