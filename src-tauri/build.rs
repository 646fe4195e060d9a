//! Build script: generates Tauri's context and one allow/deny permission per app command.

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(&[
        "summarize_folder",
        "cancel_job",
        "pick_folder",
        "recent_folders",
        "forget_recent_folder",
        "seal_dataset",
        "previous_seal",
        "watch_sealed_folder",
        "datasets",
        "forget_dataset",
        "open_dataset",
        "review_folder",
        "last_review",
        "decide_findings",
        "identities",
        "create_identity",
        "restore_identity",
        "backup_identity",
        "rotate_identity",
        "delete_identity",
        "pick_backup_path",
        "sign_sealed",
        "verify_sealed",
        "creator_credentials",
        "import_creator_credential",
        "marketplaces",
        "earnings_view",
        "refresh_earnings",
        "export_earnings",
        "local_marketplace",
        "join_marketplace",
        "publish_dataset",
        "check_marketplace",
        "interrupted_publishes",
        "studio_defaults",
        "save_studio_defaults",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri build script failed");
}
