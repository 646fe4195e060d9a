//! The Review step in the app: a folder with a located photo, personal data, broken files and
//! copies is reviewed on screen, the creator's decisions are kept, and the seal follows them.

use std::path::Path;

use hallmark_tests::{App, SOME_TERMS};

#[path = "../../crates/hallmark-cli/tests/cli/review_folder.rs"]
#[allow(dead_code)]
mod review_folder;

/// The finding of `kind` on screen.
fn finding(kind: &str) -> String {
    format!("[data-testid=finding][data-kind={kind}]")
}

#[tokio::test]
async fn a_review_shows_what_should_not_leave_and_the_seal_follows_the_creators_decisions() {
    let folder = tempfile::Builder::new().prefix("coast-").tempdir().unwrap();
    review_folder::flagged_folder(folder.path());
    let root = folder.path().canonicalize().unwrap();
    let files = walk_count(&root);

    let app = App::launch().await.unwrap();
    app.open_folder(&root).await.unwrap();
    app.wait_attr("[data-testid=review]", "data-status", |s| s == "idle")
        .await
        .unwrap();
    app.click("[data-testid=review-folder]").await.unwrap();
    let open_high = app
        .wait_attr("[data-testid=review-summary]", "data-open-high", |v| {
            !v.is_empty()
        })
        .await
        .unwrap();
    // The located photo and the contacts file (e-mail, phone and card in one finding per kind of
    // data, all high).
    let high = app
        .client
        .find_all(fantoccini::Locator::Css(
            "[data-testid=finding][data-severity=high]",
        ))
        .await
        .unwrap();
    assert_eq!(open_high, high.len().to_string());
    for kind in [
        "location",
        "personal_data",
        "broken",
        "wrong_extension",
        "duplicates",
        "near_duplicates",
        "people_names",
    ] {
        app.find(&finding(kind)).await.unwrap();
    }
    let location = app.text(&finding("location")).await.unwrap();
    assert!(location.contains("photos/home.jpg"), "{location}");
    // No personal value is shown whole, only masked excerpts with their lines.
    let page = app.text("[data-testid=review]").await.unwrap();
    for value in [
        review_folder::EMAIL,
        review_folder::PHONE,
        review_folder::CARD,
    ] {
        assert!(!page.contains(value), "{value} shown whole:\n{page}");
    }
    assert!(page.contains("line 1:"), "{page}");
    app.scroll_to("[data-testid=review-summary]").await.unwrap();
    app.screenshot("review-findings").await.unwrap();

    // The creator keeps the photo in (its location is fine to share), and leaves the cut JPEG and
    // the copy out.
    app.click(&format!(
        "{} [data-testid=finding-accept]",
        finding("location")
    ))
    .await
    .unwrap();
    app.wait_attr(&finding("location"), "data-decision", |d| d == "accepted")
        .await
        .unwrap();
    app.click(&format!(
        "{} [data-testid=finding-exclude]",
        finding("broken")
    ))
    .await
    .unwrap();
    app.wait_attr(&finding("broken"), "data-decision", |d| d == "excluded")
        .await
        .unwrap();
    app.click(&format!(
        "{} [data-testid=finding-exclude]",
        finding("duplicates")
    ))
    .await
    .unwrap();
    app.wait_attr(&finding("duplicates"), "data-decision", |d| d == "excluded")
        .await
        .unwrap();
    let still_high: usize = app
        .wait_attr("[data-testid=review-summary]", "data-open-high", |v| {
            v.parse::<usize>().is_ok_and(|n| n + 1 == high.len())
        })
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(still_high + 1, high.len());
    let summary = app.text("[data-testid=review-summary]").await.unwrap();
    assert!(
        summary.contains("2 files are left out of the dataset when you seal it"),
        "{summary}"
    );

    // Sealing leaves the two files out, and the manifest states the review's statistics.
    app.fill("[data-testid=seal-creator]", "Jane Doe")
        .await
        .unwrap();
    app.choose_terms(&SOME_TERMS).await.unwrap();
    app.click("[data-testid=seal-dataset]").await.unwrap();
    let sealed = app
        .wait_attr("[data-testid=sealed-dataset]", "data-files", |v| {
            !v.is_empty()
        })
        .await
        .unwrap();
    assert_eq!(sealed, (files - 2).to_string());
    let out = app
        .find("[data-testid=sealed-dataset]")
        .await
        .unwrap()
        .attr("data-out")
        .await
        .unwrap()
        .unwrap();
    let index = std::fs::read_to_string(Path::new(&out).join("index.jsonl")).unwrap();
    assert!(!index.contains("photos/cut.jpg") && !index.contains("readme-copy.txt"));
    let images = app
        .find("[data-testid=sealed-dataset] [data-testid=statistics-row][data-kind=image]")
        .await
        .unwrap();
    assert_eq!(images.attr("data-files").await.unwrap(), Some("5".into()));
    let manifest = std::fs::read_to_string(Path::new(&out).join("croissant.json")).unwrap();
    assert!(manifest.contains("\"hallmark:statistics\""));
    app.scroll_to("[data-testid=sealed-dataset] [data-testid=statistics]")
        .await
        .unwrap();
    app.screenshot("review-sealed-statistics").await.unwrap();
    app.close().await.unwrap();
}

/// Regular files under `dir`, counted independently of Hallmark.
fn walk_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk_count(&e.path())
            } else {
                1
            }
        })
        .sum()
}
