//! A creator's folder with the shapes that break naive tools, sealed and exported with the core.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use hallmark_core::dataset::{self, Sealed};
use hallmark_core::manifest::{Consent, DatasetInfo, ResponsibleAi};
use hallmark_core::progress::{CancelToken, NoProgress};
use hallmark_core::seal::{IndexedSample, SealOptions};

/// A sealed and exported dataset and the folder it came from.
pub struct Sealing {
    pub source: tempfile::TempDir,
    pub out: tempfile::TempDir,
    pub sealed: Sealed,
    pub shards: Vec<PathBuf>,
}

const SWATCHES: [&[u8]; 3] = [
    include_bytes!("../testdata/images/swatch0.jpg"),
    include_bytes!("../testdata/images/swatch1.jpg"),
    include_bytes!("../testdata/images/swatch2.jpg"),
];

/// Photos with JSON sidecars, voice takes with transcripts, a deep path over 100 bytes, accented
/// names, an empty file, a multi-dot field, and system junk that must be left out.
pub fn creator_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |rel: &str, bytes: &[u8]| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    for i in 0..30 {
        write(&format!("photos/{i:04}.jpg"), SWATCHES[i % 3]);
        write(
            &format!("photos/{i:04}.json"),
            format!("{{\"caption\":\"frame {i}\"}}").as_bytes(),
        );
    }
    for i in 0..6 {
        write(
            &format!("voice/take{i}.txt"),
            format!("transcript {i}\n").repeat(40 * i + 1).as_bytes(),
        );
        write(&format!("voice/take{i}.seg.json"), b"[]");
    }
    write(
        &format!("{}/deep.txt", "nested-folder-name/".repeat(8)),
        b"deep",
    );
    write("fotos/café/ümlaut.txt", "grüße".as_bytes());
    write("empty/nothing.txt", b"");
    write(".DS_Store", b"junk");
    write("photos/Thumbs.db", b"junk");
    dir
}

/// Seals `source` with small shards (so there are many) and exports them into a second folder.
pub fn seal_and_export(source: tempfile::TempDir) -> Sealing {
    let out = tempfile::tempdir().unwrap();
    let options = SealOptions {
        shard_size: 16 << 10,
        ..SealOptions::default()
    };
    let sealed = dataset::seal_folder(
        source.path(),
        out.path(),
        &options,
        &info(),
        dataset::ResealPolicy::default(),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    // Shards go next to the manifest, where its relative contentUrls point.
    let shards = dataset::export_shards(
        out.path(),
        out.path(),
        None,
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap()
    .into_iter()
    .map(|exported| exported.path)
    .collect();
    Sealing {
        source,
        out,
        sealed,
        shards,
    }
}

pub fn info() -> DatasetInfo {
    DatasetInfo {
        name: "Reference test set".into(),
        description: "Photos, voice takes and texts for reference-reader tests".into(),
        license: "CC-BY-4.0".into(),
        creator_name: "Ana Example".into(),
        creator_url: Some("https://example.org/ana".into()),
        url: None,
        version: "1.0.0".into(),
        date_published: "2026-11-23".into(),
        keywords: vec!["photos".into(), "voice".into()],
        consent: Consent::default(),
        rai: ResponsibleAi {
            data_collection: Some("Taken by the creator".into()),
            ..ResponsibleAi::default()
        },
    }
}

/// The index, line by line.
pub fn index(sealing: &Sealing) -> Vec<IndexedSample> {
    std::fs::read_to_string(&sealing.sealed.index_path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Every regular file under `root`, relative path → bytes.
pub fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                let rel = entry.path().strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(entry.path()).unwrap());
            }
        }
    }
    out
}

/// Runs a reference script with the venv's Python and parses what it prints as JSON.
pub fn python(script: &str, args: &[&Path]) -> serde_json::Value {
    let interpreter = std::env::var_os("HALLMARK_PYTHON").map_or_else(
        || PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/hallmark/venv/bin/python"),
        PathBuf::from,
    );
    assert!(
        interpreter.is_file(),
        "{} is missing: run scripts/setup, which installs the reference tools (mlcroissant, webdataset)",
        interpreter.display()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("reference")
        .join(script);
    let output = Command::new(&interpreter)
        .arg(&script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{} failed:\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
