//! The checks: each reference reader against the same sealed folder.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::fixture::{self, Sealing};

/// Extracts every shard with GNU tar into one new folder.
fn gnu_tar_extract(shards: &[std::path::PathBuf]) -> tempfile::TempDir {
    let extracted = tempfile::tempdir().unwrap();
    for shard in shards {
        let status = Command::new("tar")
            .arg("-xf")
            .arg(shard)
            .arg("-C")
            .arg(extracted.path())
            .status()
            .unwrap();
        assert!(status.success(), "GNU tar refused {}", shard.display());
    }
    extracted
}

fn sealed() -> Sealing {
    fixture::seal_and_export(fixture::creator_folder())
}

#[test]
fn gnu_tar_extracts_the_exported_shards_to_exactly_the_source_files() {
    let s = sealed();
    assert!(
        s.shards.len() >= 4,
        "small shards should make several, got {}",
        s.shards.len()
    );
    let extracted = gnu_tar_extract(&s.shards);
    let mut expected = fixture::tree(s.source.path());
    expected.remove(Path::new(".DS_Store"));
    expected.remove(Path::new("photos/Thumbs.db"));
    let got = fixture::tree(extracted.path());
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    assert!(
        got == expected,
        "extracted bytes differ from the source files"
    );
}

#[test]
fn each_shard_hashes_to_its_manifest_sha256_and_cid_name() {
    let s = sealed();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&s.sealed.manifest_path).unwrap()).unwrap();
    let objects: BTreeMap<String, String> = manifest["distribution"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["encodingFormat"] == "application/x-tar")
        .map(|o| {
            (
                o["contentUrl"].as_str().unwrap().to_owned(),
                o["sha256"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(objects.len(), s.shards.len());
    for shard in &s.shards {
        // sha256sum, not our code, says what the bytes hash to.
        let out = Command::new("sha256sum").arg(shard).output().unwrap();
        let digest = String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        let name = shard.file_name().unwrap().to_str().unwrap();
        assert_eq!(objects[name], digest, "{name}");
        let cid = hallmark_core::digest::Sha256Digest::from_hex(&digest)
            .unwrap()
            .cid();
        assert_eq!(name, format!("{cid}.tar"));
    }
}

#[test]
fn index_offsets_fetch_each_file_from_its_shard_by_byte_range() {
    let s = sealed();
    let mut checked = 0;
    for sample in fixture::index(&s) {
        let shard = std::fs::read(s.out.path().join(&sample.shard)).unwrap();
        for file in &sample.files {
            let start = usize::try_from(file.offset).unwrap();
            let bytes = &shard[start..start + usize::try_from(file.size).unwrap()];
            assert_eq!(
                hex::encode(Sha256::digest(bytes)),
                file.sha256,
                "{}",
                file.path
            );
            assert_eq!(
                bytes,
                std::fs::read(s.source.path().join(&file.path)).unwrap(),
                "{}",
                file.path
            );
            checked += 1;
        }
    }
    assert_eq!(checked, s.sealed.report.files);
}

#[test]
fn python_webdataset_reads_every_sample_whole_with_its_fields() {
    let s = sealed();
    let args: Vec<&Path> = s.shards.iter().map(|p| p.as_path()).collect();
    let read = fixture::python("webdataset_samples.py", &args);
    let read = read.as_object().unwrap();
    let mut expected = BTreeMap::new();
    for sample in fixture::index(&s) {
        let fields: BTreeMap<String, String> = sample
            .files
            .iter()
            .filter(|f| !f.field.is_empty())
            .map(|f| (f.field.clone(), f.sha256.clone()))
            .collect();
        if !fields.is_empty() {
            expected.insert(sample.key.clone(), fields);
        }
    }
    assert_eq!(read.len(), expected.len());
    assert_eq!(read.len() as u64, s.sealed.report.samples);
    for (key, fields) in &expected {
        let got: BTreeMap<String, String> = serde_json::from_value(read[key].clone()).unwrap();
        assert_eq!(&got, fields, "sample {key}");
    }
    assert!(
        read.contains_key("voice/take3"),
        "multi-dot fields stay in their sample"
    );
    assert_eq!(read["voice/take3"].as_object().unwrap().len(), 2);
}

#[test]
fn mlcroissant_validates_the_manifest_and_loads_one_record_per_sample() {
    let s = sealed();
    let loaded = fixture::python(
        "croissant_load.py",
        &[
            &s.sealed.manifest_path,
            Path::new("samples"),
            Path::new("jpg"),
            Path::new("json"),
        ],
    );
    let report = &s.sealed.report;
    assert_eq!(
        loaded["counts"]["samples"], report.samples,
        "one record per sample"
    );
    assert_eq!(loaded["counts"]["jpg"], 30);
    // Every .json file: 30 sidecars and 6 multi-dot transcripts' segment files.
    assert_eq!(loaded["counts"]["json"], 36);
    let sizes = loaded["image_sizes"]["jpg"].as_array().unwrap();
    assert_eq!(sizes.len(), 30, "every JPEG decodes as an image");
    assert!(sizes.iter().all(|s| s == &serde_json::json!([24, 16])));
    let sample_keys: Vec<String> =
        serde_json::from_value(loaded["keys"]["samples"].clone()).unwrap();
    let jpg_keys: Vec<String> = serde_json::from_value(loaded["keys"]["jpg"].clone()).unwrap();
    assert!(
        jpg_keys.iter().all(|k| sample_keys.contains(k)),
        "image keys join the samples"
    );
}

#[test]
fn sealing_the_same_folder_twice_gives_byte_identical_outputs() {
    let source = fixture::creator_folder();
    let outs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for out in &outs {
        hallmark_core::dataset::seal_folder(
            source.path(),
            out.path(),
            &hallmark_core::seal::SealOptions {
                shard_size: 16 << 10,
                ..Default::default()
            },
            &fixture::info(),
            hallmark_core::dataset::ResealPolicy::default(),
            &hallmark_core::progress::NoProgress,
            &hallmark_core::progress::CancelToken::new(),
        )
        .unwrap();
    }
    for file in ["croissant.json", "index.jsonl"] {
        let a = std::fs::read(outs[0].path().join(file)).unwrap();
        let b = std::fs::read(outs[1].path().join(file)).unwrap();
        assert!(
            a == b,
            "{file} differs between two seals of the same folder"
        );
    }
}

#[cfg(unix)]
#[test]
fn gnu_tar_extracts_names_that_are_not_utf8_byte_for_byte() {
    use std::os::unix::ffi::OsStrExt;
    let source = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9-latin1.txt");
    std::fs::write(source.path().join(name), b"bytes").unwrap();
    std::fs::write(source.path().join("plain.txt"), b"plain").unwrap();
    let s = fixture::seal_and_export(source);
    let extracted = gnu_tar_extract(&s.shards);
    assert_eq!(
        std::fs::read(extracted.path().join(name)).unwrap(),
        b"bytes"
    );
}
