//! The creator's datasets are kept across restarts: a folder sealed and signed, the app closed and
//! started again, the dataset listed as sealed and signed, and opening it shows the seal as it
//! stands (not as never sealed).

use hallmark_tests::{App, SOME_TERMS};

#[tokio::test]
async fn a_sealed_and_signed_dataset_is_listed_and_reopened_after_a_restart() {
    let folder = tempfile::Builder::new()
        .prefix("voices-")
        .tempdir()
        .unwrap();
    for i in 0..5 {
        std::fs::write(
            folder.path().join(format!("take{i}.txt")),
            format!("take {i}"),
        )
        .unwrap();
    }
    let root = folder.path().canonicalize().unwrap();

    let app = App::launch_with_identity("Ana Example").await.unwrap();
    app.wait_attr("[data-testid=dataset-list]", "data-count", |c| c == "0")
        .await
        .unwrap();
    app.open_folder(&root).await.unwrap();
    app.fill("[data-testid=seal-creator]", "Ana Example")
        .await
        .unwrap();
    app.choose_terms(&SOME_TERMS).await.unwrap();
    app.click("[data-testid=seal-dataset]").await.unwrap();
    let out = app
        .wait_attr("[data-testid=sealed-dataset]", "data-out", |v| {
            !v.is_empty()
        })
        .await
        .unwrap();
    app.click("[data-testid=sign-dataset]").await.unwrap();
    app.wait_attr("[data-testid=signature]", "data-state", |s| s == "signed")
        .await
        .unwrap();
    app.wait_attr("[data-testid=dataset-list]", "data-count", |c| c == "1")
        .await
        .unwrap();

    let app = app.restart().await.unwrap();
    let entry = format!("[data-testid=dataset-entry][data-out=\"{out}\"]");
    app.wait_attr(&entry, "data-signature", |s| s == "signed")
        .await
        .unwrap();
    let listed = app.text(&entry).await.unwrap();
    assert!(listed.contains("Sealed and signed"), "{listed}");
    assert!(listed.contains("5 samples"), "{listed}");
    app.screenshot("datasets-library").await.unwrap();

    app.click(&format!("{entry} [data-testid=dataset-open]"))
        .await
        .unwrap();
    let files = app
        .wait_attr("[data-testid=sealed-dataset]", "data-files", |v| {
            !v.is_empty()
        })
        .await
        .unwrap();
    assert_eq!(files, "5");
    let signature = app
        .wait_attr("[data-testid=signature]", "data-state", |s| !s.is_empty())
        .await
        .unwrap();
    assert_eq!(
        signature, "signed",
        "a reopened signed dataset is shown signed"
    );
    app.close().await.unwrap();
}
