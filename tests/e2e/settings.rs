//! Settings: the defaults a new dataset starts from (shard size, files to leave out) are kept,
//! refused with the pattern named when they cannot be used, and followed by the summary and the seal.

use hallmark_tests::{App, SOME_TERMS};

#[tokio::test]
async fn defaults_for_new_datasets_are_kept_and_followed_by_the_seal() {
    let folder = tempfile::Builder::new().prefix("shoot-").tempdir().unwrap();
    for name in ["a.jpg", "b.jpg", "layers.psd"] {
        std::fs::write(folder.path().join(name), name.repeat(20)).unwrap();
    }
    let root = folder.path().canonicalize().unwrap();

    let app = App::launch_with_identity("Ana Example").await.unwrap();
    app.click("[data-testid=nav-settings]").await.unwrap();
    app.find("[data-testid=settings-defaults]").await.unwrap();
    // A pattern that is not a glob is refused, named, and nothing is kept.
    app.fill("[data-testid=default-excludes]", "*.psd\u{E007}[raw")
        .await
        .unwrap();
    app.click("[data-testid=save-defaults]").await.unwrap();
    let refused = app.text("[data-testid=defaults-error]").await.unwrap();
    assert!(refused.contains("\"[raw\""), "{refused}");
    assert!(!app.data_dir().join("defaults.json").exists());

    app.fill("[data-testid=default-excludes]", "*.psd\u{E007}")
        .await
        .unwrap();
    app.client
        .execute(
            "const s = document.querySelector('[data-testid=default-shard-size]'); \
             s.value = String(4 * 1024 * 1024); s.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![],
        )
        .await
        .unwrap();
    app.click("[data-testid=save-defaults]").await.unwrap();
    app.find("[data-testid=defaults-saved]").await.unwrap();
    app.screenshot("settings-defaults").await.unwrap();
    let kept =
        hallmark_core::defaults::Defaults::load(&app.data_dir().join("defaults.json")).unwrap();
    assert_eq!(kept.shard_size, 4 << 20);
    assert_eq!(kept.excludes, vec!["*.psd".to_owned()]);

    // After a restart, the defaults are still there, and a new folder follows them.
    let app = app.restart().await.unwrap();
    app.open_folder(&root).await.unwrap();
    app.wait_attr("[data-testid=folder-summary]", "data-files", |n| n == "2")
        .await
        .unwrap();
    let shard_size = app
        .client
        .execute(
            "return document.querySelector('[data-testid=seal-shard-size]').value",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(shard_size.as_str(), Some(&*(4u64 << 20).to_string()));
    app.choose_terms(&SOME_TERMS).await.unwrap();
    app.click("[data-testid=seal-dataset]").await.unwrap();
    let files = app
        .wait_attr("[data-testid=sealed-dataset]", "data-files", |n| {
            !n.is_empty()
        })
        .await
        .unwrap();
    assert_eq!(files, "2", "the .psd file was sealed");
    app.close().await.unwrap();
}
