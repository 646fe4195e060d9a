//! A reviewed folder seals into a manifest that carries the review's statistics, and mlcroissant
//! still validates it and loads its records.

use std::path::Path;

use hallmark_core::dataset;
use hallmark_core::progress::{CancelToken, NoProgress};
use hallmark_core::review::{Decision, FindingKind, decisions};
use hallmark_core::seal::SealOptions;

use super::fixture;

#[path = "../../crates/hallmark-cli/tests/cli/review_folder.rs"]
mod review_folder;

#[test]
fn mlcroissant_validates_a_manifest_with_the_review_statistics() {
    let source = tempfile::tempdir().unwrap();
    review_folder::flagged_folder(source.path());
    let out = tempfile::tempdir().unwrap();
    let review = decisions::review_dataset(
        source.path(),
        out.path(),
        &Default::default(),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    // The cut JPEG is left out, as a creator would: readers stop on a broken image.
    let broken: Vec<String> = review
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Broken)
        .map(|f| f.id.clone())
        .collect();
    assert_eq!(broken.len(), 1);
    decisions::decide(out.path(), &broken, Decision::Excluded).unwrap();
    let sealed = dataset::seal_folder(
        source.path(),
        out.path(),
        &SealOptions::default(),
        &fixture::info(),
        dataset::ResealPolicy::default(),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    dataset::export_shards(
        out.path(),
        out.path(),
        None,
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sealed.manifest_path).unwrap()).unwrap();
    let stats = &manifest["hallmark:statistics"];
    assert_eq!(stats["files"], 10, "{stats:#}");
    let image = stats["media"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "image")
        .unwrap();
    assert_eq!(image["files"], 5);
    assert_eq!(image["image"]["measured"], 5);
    assert_eq!(image["image"]["maxWidth"], 96);

    let loaded = fixture::python(
        "croissant_load.py",
        &[
            &sealed.manifest_path,
            Path::new("samples"),
            Path::new("jpg"),
            Path::new("png"),
            Path::new("mp3"),
        ],
    );
    assert_eq!(loaded["counts"]["samples"], sealed.report.samples);
    assert_eq!(loaded["counts"]["jpg"], 2, "home.jpg and really-png.jpg");
    assert_eq!(loaded["counts"]["png"], 3);
    assert_eq!(loaded["counts"]["mp3"], 1);
    let sizes = loaded["image_sizes"]["png"].as_array().unwrap();
    assert!(
        sizes.iter().all(|s| s == &serde_json::json!([96, 64])),
        "{sizes:?}"
    );
}
