//! Opening a folder by typing its path: the summary shown must match the real folder.

use std::path::Path;

use hallmark_tests::App;

/// Counts regular files and their bytes with plain `std::fs`, independently of Hallmark's walker.
fn count_files(dir: &Path) -> (u64, u64) {
    let mut files = 0;
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            let (f, b) = count_files(&entry.path());
            files += f;
            bytes += b;
        } else if kind.is_file() {
            files += 1;
            bytes += entry.metadata().unwrap().len();
        }
    }
    (files, bytes)
}

/// A folder shaped like a photographer's: nested shoots, sidecar files, a hidden file, an empty file.
fn sample_folder() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("shoot-").tempdir().unwrap();
    for shoot in ["2024-berlin", "2024-lisbon/day2"] {
        let folder = dir.path().join(shoot);
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..23u32 {
            let size = 1000 + (i as usize * 7919) % 60_000;
            std::fs::write(folder.join(format!("{i:04}.jpg")), vec![i as u8; size]).unwrap();
            std::fs::write(
                folder.join(format!("{i:04}.json")),
                format!("{{\"i\":{i}}}"),
            )
            .unwrap();
        }
    }
    std::fs::write(dir.path().join(".notes"), b"private").unwrap();
    std::fs::write(dir.path().join("EMPTY"), b"").unwrap();
    dir
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

#[tokio::test]
async fn opening_a_folder_by_path_shows_its_file_count_and_size() {
    let folder = sample_folder();
    let (files, bytes) = count_files(folder.path());
    assert_eq!(files, 2 * 23 * 2 + 2);
    let root = folder.path().canonicalize().unwrap();

    let app = App::launch().await.unwrap();
    app.open_folder(&root).await.unwrap();

    let shown_root = app
        .wait_attr("[data-testid=folder-summary]", "data-root", |r| {
            !r.is_empty()
        })
        .await
        .unwrap();
    assert_eq!(shown_root, root.to_string_lossy());
    let summary = app.find("[data-testid=folder-summary]").await.unwrap();
    assert_eq!(
        summary.attr("data-files").await.unwrap(),
        Some(files.to_string())
    );
    assert_eq!(
        summary.attr("data-bytes").await.unwrap(),
        Some(bytes.to_string())
    );

    // What the creator reads: the count, and the exact byte total under the human-sized one.
    let shown_files = app
        .find("[data-testid=summary-files]")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        digits(&shown_files),
        files.to_string(),
        "shown: {shown_files}"
    );
    let shown_bytes = app
        .find("[data-testid=summary-bytes-exact]")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        digits(&shown_bytes),
        bytes.to_string(),
        "shown: {shown_bytes}"
    );

    // The folder is now first among the recent folders, ready to reopen without typing.
    let recent = app.find("[data-testid=recent-folder]").await.unwrap();
    assert_eq!(
        recent.attr("data-path").await.unwrap(),
        Some(root.to_string_lossy().into_owned())
    );

    let shot = app.screenshot("datasets-folder-opened").await.unwrap();
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "screenshot looks empty"
    );
    app.close().await.unwrap();
}

#[tokio::test]
async fn a_missing_folder_shows_an_error_that_names_it_and_the_fix() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("no-such-shoot");

    let app = App::launch().await.unwrap();
    app.open_folder(&missing).await.unwrap();

    let error = app
        .wait_attr("[data-testid=folder-error]", "data-code", |c| !c.is_empty())
        .await
        .unwrap();
    assert_eq!(error, "not_found");
    let text = app
        .find("[data-testid=folder-error]")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(&*missing.to_string_lossy()),
        "error text: {text}"
    );
    assert!(text.contains("check the path"), "error text: {text}");
    app.screenshot("datasets-folder-missing").await.unwrap();
    app.close().await.unwrap();
}
