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
            commands::seal::previous_seal,
            commands::seal::watch_sealed_folder,
            commands::seal::datasets,
            commands::seal::forget_dataset,
            commands::seal::open_dataset,
            commands::review::review_folder,
            commands::review::last_review,
            commands::review::decide_findings,
            commands::identity::identities,
            commands::identity::create_identity,
            commands::identity::restore_identity,
            commands::identity::backup_identity,
            commands::identity::rotate_identity,
            commands::identity::delete_identity,
            commands::identity::pick_backup_path,
            commands::identity::sign_sealed,
            commands::identity::verify_sealed,
            commands::identity::creator_credentials,
            commands::identity::import_creator_credential,
            commands::earnings::marketplaces,
            commands::earnings::earnings_view,
            commands::earnings::refresh_earnings,
            commands::earnings::export_earnings,
            commands::publish::local_marketplace,
            commands::publish::join_marketplace,
            commands::publish::publish_dataset,
            commands::publish::check_marketplace,
            commands::publish::interrupted_publishes,
            commands::settings::studio_defaults,
            commands::settings::save_studio_defaults,
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

    /// The app on the mock runtime with the real context (so the real capability file decides what
    /// the window may call) and its state under `state`.
    fn mock_app(
        state: &std::path::Path,
    ) -> (
        tauri::App<tauri::test::MockRuntime>,
        tauri::WebviewWindow<tauri::test::MockRuntime>,
    ) {
        let app = super::app_builder(mock_builder())
            .build(tauri::generate_context!(test = true))
            .unwrap();
        app.manage(crate::state::AppPaths::new(state));
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        (app, webview)
    }

    /// A seal request for `path` with terms that differ use by use.
    fn seal_request(path: &std::path::Path, out: Option<&std::path::Path>) -> serde_json::Value {
        serde_json::json!({
            "path": path, "out": out, "name": "Takes", "description": null, "license": "cc-by-nc-4.0",
            "creator": "Ana Example", "version": "1.0.0", "shardSize": 1_048_576,
            "consent": {
                "aiTraining": "allowed", "aiGenerativeTraining": "not_allowed",
                "aiInference": "constrained", "dataMining": "allowed",
                "constraints": "  credit me in the model card  "
            }
        })
    }

    fn seal(
        webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
        request: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        invoke(
            webview,
            "seal_dataset",
            serde_json::json!({ "request": request, "jobId": "s", "onProgress": "__CHANNEL__:7" }),
        )
    }

    #[test]
    fn sealing_states_the_chosen_terms_recalls_them_and_sets_a_stale_signature_aside() {
        let state = tempfile::tempdir().unwrap();
        let (_app, webview) = mock_app(state.path());
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("take1.wav"), vec![1u8; 44]).unwrap();
        let previous = invoke(
            &webview,
            "previous_seal",
            serde_json::json!({ "path": dir.path() }),
        );
        assert_eq!(previous, Ok(serde_json::Value::Null));

        let sealed = seal(&webview, seal_request(dir.path(), None)).unwrap();
        let terms = serde_json::json!({
            "aiTraining": "allowed", "aiGenerativeTraining": "not_allowed",
            "aiInference": "constrained", "dataMining": "allowed",
            "constraints": "credit me in the model card"
        });
        assert_eq!(sealed["consent"], terms);
        assert_eq!(
            (&sealed["license"], &sealed["signature"]),
            (
                &serde_json::json!("CC-BY-NC-4.0"),
                &serde_json::json!("unsigned")
            )
        );
        // The terms are in the manifest shown, in the creator's words too.
        let manifest = sealed["manifest"].as_str().unwrap();
        assert!(
            manifest.contains("Constraints: credit me in the model card"),
            "{manifest}"
        );
        let out = std::path::PathBuf::from(sealed["out"].as_str().unwrap());
        assert!(out.starts_with(state.path().join("datasets")));

        // The dataset is in the creator's list, and reads back as the seal reported it.
        let list = invoke(&webview, "datasets", serde_json::json!({})).unwrap();
        assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
        assert_eq!(
            (&list[0]["out"], &list[0]["name"], &list[0]["files"]),
            (
                &sealed["out"],
                &serde_json::json!("Takes"),
                &sealed["files"]
            )
        );
        let reopened = invoke(
            &webview,
            "open_dataset",
            serde_json::json!({ "out": sealed["out"] }),
        )
        .unwrap();
        for field in [
            "files",
            "bytes",
            "samples",
            "shards",
            "manifest",
            "consent",
            "signature",
        ] {
            assert_eq!(reopened[field], sealed[field], "{field}");
        }

        // Opening the folder again fills the form in with what it was sealed with.
        let previous = invoke(
            &webview,
            "previous_seal",
            serde_json::json!({ "path": dir.path() }),
        )
        .unwrap();
        assert_eq!(previous["consent"], terms);
        assert_eq!(
            (
                &previous["out"],
                &previous["license"],
                &previous["version"],
                &previous["creator"]
            ),
            (
                &sealed["out"],
                &sealed["license"],
                &serde_json::json!("1.0.0"),
                &serde_json::json!("Ana Example")
            )
        );

        // Signed, then resealed with a changed file: the credential is set aside, and both the seal
        // and a verification say so in words.
        let key = hallmark_core::did::SigningIdentity::generate();
        hallmark_core::credential::sign_dataset(&out, &key, "2026-01-01T00:00:00Z").unwrap();
        let again = seal(&webview, seal_request(dir.path(), None)).unwrap();
        assert_eq!(
            again["signature"], "signed",
            "an unchanged reseal keeps the signature"
        );
        std::fs::write(dir.path().join("take1.wav"), vec![2u8; 45]).unwrap();
        let resealed = seal(&webview, seal_request(dir.path(), None)).unwrap();
        assert_eq!(resealed["signature"], "signed_for_earlier_seal");
        let verdict = invoke(
            &webview,
            "verify_sealed",
            serde_json::json!({ "out": out, "source": dir.path() }),
        )
        .unwrap();
        assert_eq!(
            (&verdict["signature"], &verdict["summary"]),
            (
                &serde_json::json!("signed_for_earlier_seal"),
                &serde_json::json!(crate::dto::SIGN_AGAIN)
            )
        );
    }

    #[test]
    fn a_review_finds_personal_data_and_copies_and_an_exclusion_changes_the_next_seal() {
        let state = tempfile::tempdir().unwrap();
        let (_app, webview) = mock_app(state.path());
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("notes.txt"),
            "call me\nmail ana.example@example.org today\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("take1.txt"), "the same words").unwrap();
        std::fs::write(dir.path().join("take1-copy.txt"), "the same words").unwrap();
        let review = |body: serde_json::Value| invoke(&webview, "review_folder", body);

        let never = invoke(
            &webview,
            "last_review",
            serde_json::json!({ "path": dir.path(), "out": null }),
        );
        assert_eq!(never, Ok(serde_json::Value::Null));
        let report = review(serde_json::json!({
            "path": dir.path(), "out": null, "jobId": "r1", "onProgress": "__CHANNEL__:7"
        }))
        .unwrap();
        assert_eq!(report["files"], 3, "{report}");
        let findings = report["findings"].as_array().unwrap();
        let of_kind = |kind: &str| {
            findings
                .iter()
                .find(|f| f["kind"] == kind)
                .unwrap_or_else(|| panic!("no {kind} finding in {report}"))
                .clone()
        };
        let personal = of_kind("personal_data");
        assert_eq!(
            (&personal["severity"], &personal["decision"]),
            (&serde_json::json!("high"), &serde_json::json!("open"))
        );
        // The value itself never crosses IPC, only a masked excerpt with its line.
        assert!(!report.to_string().contains("ana.example@example.org"));
        assert_eq!(personal["occurrences"][0]["line"], 2, "{personal}");
        assert_eq!(report["openHigh"], 1);
        let copies = of_kind("duplicates");
        assert_eq!(
            copies["files"],
            serde_json::json!(["take1.txt", "take1-copy.txt"])
        );
        assert_eq!(report["statistics"]["media"][0]["kind"], "text", "{report}");

        let decided = invoke(
            &webview,
            "decide_findings",
            serde_json::json!({
                "path": dir.path(), "out": null, "ids": [copies["id"]], "decision": "excluded"
            }),
        )
        .unwrap();
        assert_eq!(decided["open"], report["open"].as_u64().unwrap() - 1);
        let unknown = invoke(
            &webview,
            "decide_findings",
            serde_json::json!({
                "path": dir.path(), "out": null, "ids": ["f-000000000000"], "decision": "accepted"
            }),
        )
        .unwrap_err();
        assert_eq!(unknown["code"], "invalid_input", "{unknown}");

        // The next seal leaves the copy out and states the review's statistics.
        let sealed = seal(&webview, seal_request(dir.path(), None)).unwrap();
        assert_eq!(sealed["files"], 2, "{sealed}");
        assert_eq!(sealed["statistics"]["files"], 2, "{sealed}");
        // Decisions are kept with the dataset: a restart shows them.
        let again = invoke(
            &webview,
            "last_review",
            serde_json::json!({ "path": dir.path(), "out": null }),
        )
        .unwrap();
        let kept = again["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == copies["id"])
            .unwrap()
            .clone();
        assert_eq!(kept["decision"], "excluded");
    }

    #[test]
    fn sealing_refuses_another_folder_a_license_typo_and_a_bad_version_in_the_cores_words() {
        let state = tempfile::tempdir().unwrap();
        let (_app, webview) = mock_app(state.path());
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        for dir in [&first, &second] {
            std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        }
        let out = state.path().join("chosen");
        seal(&webview, seal_request(first.path(), Some(&out))).unwrap();

        let other = seal(&webview, seal_request(second.path(), Some(&out))).unwrap_err();
        assert_eq!(other["code"], "invalid_input", "{other}");
        assert!(
            other["message"]
                .as_str()
                .unwrap()
                .contains("holds a seal of"),
            "{other}"
        );

        let mut typo = seal_request(first.path(), None);
        typo["license"] = "CC-BY-4".into();
        let typo = seal(&webview, typo).unwrap_err();
        assert_eq!(typo["code"], "invalid_input", "{typo}");
        assert!(
            typo["message"]
                .as_str()
                .unwrap()
                .contains("did you mean CC-BY-4.0?"),
            "{typo}"
        );

        let mut version = seal_request(first.path(), None);
        version["version"] = "first".into();
        let version = seal(&webview, version).unwrap_err();
        assert_eq!(version["code"], "invalid_input", "{version}");
        assert!(
            version["message"]
                .as_str()
                .unwrap()
                .contains("semantic version"),
            "{version}"
        );
    }

    #[test]
    fn commands_answer_over_ipc_with_values_and_code_message_errors() {
        let state = tempfile::tempdir().unwrap();
        let (_app, webview) = mock_app(state.path());
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
