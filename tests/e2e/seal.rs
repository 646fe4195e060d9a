//! Sealing an opened folder in the app: the summary shown must match what was written.

use std::collections::BTreeSet;
use std::path::Path;

use hallmark_tests::{App, SOME_TERMS};

/// Sample keys by the WebDataset rule (path up to the first dot of the basename), written here
/// independently of Hallmark's code.
fn sample_keys(root: &Path, dir: &Path, keys: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            sample_keys(root, &entry.path(), keys);
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let (folder, base) = rel
            .rsplit_once('/')
            .map_or(("", rel.as_str()), |(d, b)| (d, b));
        let stem = match base[1..].find('.') {
            Some(i) => &base[..=i],
            None => base,
        };
        keys.insert(format!("{folder}/{stem}"));
    }
}

#[tokio::test]
async fn sealing_an_opened_folder_shows_samples_shards_and_the_manifest_it_wrote() {
    let folder = tempfile::Builder::new().prefix("voice-").tempdir().unwrap();
    for i in 0..25 {
        std::fs::create_dir_all(folder.path().join("takes")).unwrap();
        std::fs::write(
            folder.path().join(format!("takes/{i:03}.wav")),
            vec![i as u8; 9_000 + i * 500],
        )
        .unwrap();
        std::fs::write(
            folder.path().join(format!("takes/{i:03}.txt")),
            format!("line {i}"),
        )
        .unwrap();
    }
    let root = folder.path().canonicalize().unwrap();
    let mut keys = BTreeSet::new();
    sample_keys(&root, &root, &mut keys);

    let app = App::launch().await.unwrap();
    app.open_folder(&root).await.unwrap();
    app.find("[data-testid=seal-dataset]").await.unwrap();
    // Sealing without saying who made the work is refused with a plain sentence.
    app.click("[data-testid=seal-dataset]").await.unwrap();
    let refused = app
        .find("[data-testid=seal-error]")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        refused,
        "Before sealing, add who made the work and your answer for each use of your work."
    );
    // What the click did is shown where the creator looks, not below the fold.
    assert!(app.in_view("[data-testid=seal-error]").await.unwrap());

    app.fill("[data-testid=seal-creator]", "Ana Example")
        .await
        .unwrap();
    app.choose_terms(&SOME_TERMS).await.unwrap();
    app.click("[data-testid=seal-dataset]").await.unwrap();
    let samples = app
        .wait_attr("[data-testid=sealed-dataset]", "data-samples", |v| {
            !v.is_empty()
        })
        .await
        .unwrap();
    assert_eq!(samples, keys.len().to_string());
    let card = app.find("[data-testid=sealed-dataset]").await.unwrap();
    assert_eq!(card.attr("data-files").await.unwrap(), Some("50".into()));
    let out = card.attr("data-out").await.unwrap().unwrap();
    let shards: usize = card
        .attr("data-shards")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    let rows = app
        .client
        .find_all(fantoccini::Locator::Css("[data-testid=sealed-shard]"))
        .await
        .unwrap();
    assert_eq!(rows.len(), shards);
    assert!(
        !out.starts_with(&*root.to_string_lossy()),
        "nothing is written into the creator's folder"
    );

    // What the screen shows is what was written.
    let manifest = std::fs::read_to_string(Path::new(&out).join("croissant.json")).unwrap();
    let index_lines = std::fs::read_to_string(Path::new(&out).join("index.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(index_lines, keys.len());
    let shown = app.find("[data-testid=sealed-manifest]").await.unwrap();
    let shown = shown.prop("textContent").await.unwrap().unwrap();
    assert_eq!(shown, manifest);
    assert!(
        manifest.contains("Ana Example")
            && manifest.contains("https://spdx.org/licenses/CC-BY-4.0.html")
    );

    // The folder is watched: edits after the seal are counted on screen.
    let total = app
        .wait_attr("[data-testid=sealed-changes]", "data-total", |v| {
            !v.is_empty()
        })
        .await
        .unwrap();
    assert_eq!(total, "0");
    std::fs::write(root.join("takes/004.txt"), "line 4, re-recorded").unwrap();
    std::fs::write(root.join("takes/999.txt"), "a new take").unwrap();
    app.wait_attr("[data-testid=sealed-changes]", "data-total", |v| v == "2")
        .await
        .unwrap();
    let notice = app
        .find("[data-testid=sealed-changes]")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        notice,
        "2 files changed since this seal (1 added, 1 modified). Seal again to include them."
    );

    app.screenshot("datasets-sealed").await.unwrap();
    app.close().await.unwrap();
}
