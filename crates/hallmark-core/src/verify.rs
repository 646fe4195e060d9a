//! Checking a sealed dataset against its files: the manifest and index it wrote, and every source file.
//!
//! Each difference is reported precisely (which file, which field, expected and found) rather than
//! stopping at the first, so a creator sees everything that changed in one run.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::Result;
use crate::dataset::{self, DatasetFiles, SealState, SignatureState};
use crate::digest::Sha256Digest;
use crate::manifest::{MANIFEST_FILE, ManifestFacts};
use crate::progress::{CancelToken, Phase, Progress, ProgressEvent};
use crate::seal::{INDEX_FILE, IndexedFile, IndexedSample};
use crate::untrusted;

/// One difference between what was sealed and what is there now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// The file it is about (relative to the source folder, or the name of a dataset file).
    pub path: String,
    /// What differs: `sha256`, `size`, `presence`, `path`, `index`, `manifest`, `license`, …
    pub field: &'static str,
    pub expected: String,
    pub found: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} expected {}, found {}",
            self.path, self.field, self.expected, self.found
        )
    }
}

/// What a verification found.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    /// The did:key that signed `credential.json`, when it is there and its proof verifies.
    pub signer: Option<String>,
    /// Whether the dataset has a credential at all.
    pub signed: bool,
    /// Signed, unsigned, or signed for an earlier seal (its credential was set aside: sign again).
    pub signature: SignatureState,
    pub files_checked: u64,
    pub bytes_checked: u64,
    pub differences: Vec<Difference>,
}

impl VerifyReport {
    /// True when nothing differs.
    pub fn is_valid(&self) -> bool {
        self.differences.is_empty()
    }

    /// Makes a missing signature a difference, for those who must not accept an unsigned dataset
    /// (a marketplace, a buyer): unsigned, or signed only for an earlier seal.
    pub fn require_signature(&mut self) {
        if self.signer.is_some() || !self.is_valid() {
            return;
        }
        let found = match self.signature {
            SignatureState::SignedForEarlierSeal => "signed for an earlier seal — sign again",
            _ => "not signed",
        };
        self.differences.push(Difference {
            path: crate::credential::CREDENTIAL_FILE.into(),
            field: "signature",
            expected: "a valid signature".into(),
            found: found.into(),
        });
    }
}

/// How many differences a source check lists before it stops: an index that names millions of
/// files the folder does not have is a different index, not millions of findings.
const MAX_DIFFERENCES: usize = 10_000;
/// The longest index line read: one sample with thousands of files fits many times over.
const MAX_INDEX_LINE: u64 = 16 << 20;

/// Checks the dataset in `out`. What is signed is the truth: the credential (when there) names the
/// manifest's and the index's exact bytes; the manifest gives the shards' digests. Hallmark's own
/// state only says where the source is. With `source`, every file the index names is checked
/// against the folder (content, size, files added or removed since); with `shards`, every shard
/// file against the manifest's digest. `now` (an RFC 3339 date-time, passed in) is when the
/// credential is judged.
pub fn verify(
    out: &Path,
    source: Option<&Path>,
    shards: Option<&Path>,
    now: &str,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<VerifyReport> {
    let state = dataset::load_state(out)?;
    let mut report = VerifyReport {
        signer: None,
        signed: false,
        signature: dataset::signature_state(out),
        files_checked: 0,
        bytes_checked: 0,
        differences: Vec::new(),
    };
    let files = check_dataset_files(out, &state, &mut report)?;
    let facts = &files.facts;
    if let Some(credential) = crate::credential::check_files(out, Some(&files), now)? {
        report.signed = true;
        report.signer = credential.signer;
        report.differences.extend(credential.differences);
    }
    if let Some(source) = source {
        check_source(out, source, &state, facts, &mut report, progress, cancel)?;
    }
    if let Some(dir) = shards {
        check_shards(dir, facts, &mut report, cancel)?;
    }
    Ok(report)
}

fn check_shards(
    dir: &Path,
    facts: &ManifestFacts,
    report: &mut VerifyReport,
    cancel: &CancelToken,
) -> Result<()> {
    let found: Vec<Option<Difference>> = facts
        .shards
        .par_iter()
        .map(|shard| {
            if cancel.is_cancelled() {
                return None;
            }
            let path = dir.join(&shard.name);
            let difference = |field, expected: String, found: String| {
                Some(Difference {
                    path: shard.name.clone(),
                    field,
                    expected,
                    found,
                })
            };
            match untrusted::open_regular(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => difference(
                    "presence",
                    "the shard file".into(),
                    format!("nothing at {}", path.display()),
                ),
                Err(e) => difference("presence", "a readable shard file".into(), e.to_string()),
                // The size first: a file of another size is not read at all.
                Ok((_, meta)) if meta.len() != shard.size => difference(
                    "size",
                    format!("{} bytes", shard.size),
                    format!("{} bytes", meta.len()),
                ),
                Ok((file, _)) => match hash_reader(file.take(shard.size + 1)) {
                    Err(e) => {
                        difference("sha256", shard.sha256.clone(), format!("unreadable: {e}"))
                    }
                    Ok((_, size)) if size != shard.size => difference(
                        "size",
                        format!("{} bytes", shard.size),
                        format!("{size} bytes"),
                    ),
                    Ok((digest, _)) if digest != shard.sha256 => {
                        difference("sha256", shard.sha256.clone(), digest)
                    }
                    Ok(_) => None,
                },
            }
        })
        .collect();
    cancel.check()?;
    report.differences.extend(found.into_iter().flatten());
    Ok(())
}

/// The SHA-256 (hex) and length of everything `reader` yields.
fn hash_reader(reader: impl Read) -> std::io::Result<(String, u64)> {
    Sha256Digest::of_reader(reader).map(|(digest, size)| (digest.hex(), size))
}

/// Checks the manifest and index against each other and against the seal's record; returns them
/// as read, for the credential and shard checks.
fn check_dataset_files(
    out: &Path,
    state: &SealState,
    report: &mut VerifyReport,
) -> Result<DatasetFiles> {
    let files = DatasetFiles::read(out)?;
    let manifest_digest = files.manifest.hex();
    if manifest_digest != state.manifest_sha256 {
        report.differences.push(Difference {
            path: MANIFEST_FILE.into(),
            field: "sha256",
            expected: format!("{} (as Hallmark sealed it)", state.manifest_sha256),
            found: manifest_digest,
        });
    }
    report.differences.extend(index_named_by_manifest(&files));
    Ok(files)
}

/// A difference when the index is not the one the manifest names (by SHA-256, or by size).
pub(crate) fn index_named_by_manifest(files: &DatasetFiles) -> Option<Difference> {
    let index_digest = match &files.index {
        Ok(digest) => digest.hex(),
        Err(found) => found.clone(),
    };
    (files.facts.index_sha256 != index_digest).then(|| Difference {
        path: INDEX_FILE.into(),
        field: "manifest",
        expected: format!(
            "the sha256 croissant.json gives ({})",
            files.facts.index_sha256
        ),
        found: index_digest,
    })
}

/// Reads one line of at most `max` bytes into `line` (without its newline); false at the end.
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>, max: u64) -> std::io::Result<bool> {
    line.clear();
    let n = reader.take(max + 1).read_until(b'\n', line)?;
    if n == 0 {
        return Ok(false);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if n as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a line is longer than {max} bytes"),
        ));
    }
    Ok(true)
}

/// Checks the folder against the dataset by building it again: every shard is streamed from the
/// folder (one read of every file, as export would), then each file the index names is compared
/// with what the folder gave, and each shard digest with the manifest's. So a dataset is valid
/// against its source only if the source really produces the signed shards, whatever Hallmark's
/// unsigned cache said when it was sealed.
fn check_source(
    out: &Path,
    source: &Path,
    state: &SealState,
    facts: &ManifestFacts,
    report: &mut VerifyReport,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<()> {
    let rebuilt = crate::seal::rebuild(source, &state.options, progress, cancel)?;
    let differences_before = report.differences.len();
    let mut present: HashMap<PathBuf, (u64, Sha256Digest)> = HashMap::new();
    for shard in &rebuilt {
        for (rel, size, sha256) in &shard.files {
            report.files_checked += 1;
            report.bytes_checked += size;
            present.insert(rel.clone(), (*size, *sha256));
        }
    }
    let index_path = out.join(INDEX_FILE);
    let (file, _) =
        untrusted::open_regular(&index_path).map_err(|e| untrusted::io_error(&index_path, e))?;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut n = 0;
    loop {
        cancel.check()?;
        // An index that cannot be read on is a difference, not a failure of the whole check; an
        // index that names far more files than the folder has stops at MAX_DIFFERENCES.
        let sample = match read_line(&mut reader, &mut line, MAX_INDEX_LINE) {
            Ok(false) => break,
            Ok(true) => serde_json::from_slice::<IndexedSample>(&line)
                .map_err(|e| format!("line {}: {e}", n + 1)),
            Err(e) => Err(format!("line {}: {e}", n + 1)),
        };
        n += 1;
        let sample = match sample {
            Ok(sample) => sample,
            Err(found) => {
                report.differences.push(Difference {
                    path: INDEX_FILE.into(),
                    field: "index",
                    expected: "one sample per line, as Hallmark writes it".into(),
                    found,
                });
                return Ok(());
            }
        };
        for f in sample.files {
            let difference = match source_path(&f) {
                Ok(rel) => compare_file(&f, present.remove(&rel)),
                Err(reason) => Some(Difference {
                    path: f.path.clone(),
                    field: "path",
                    expected: "a path inside the folder".into(),
                    found: format!("{reason}; the index was changed"),
                }),
            };
            report.differences.extend(difference);
        }
        if report.differences.len() >= MAX_DIFFERENCES {
            report.differences.push(Difference {
                path: INDEX_FILE.into(),
                field: "index",
                expected: "an index that describes this folder".into(),
                found: format!("more than {MAX_DIFFERENCES} differences; stopped at line {n}"),
            });
            return Ok(());
        }
    }

    // Files the folder has now that the seal does not.
    let mut added: Vec<PathBuf> = present.into_keys().collect();
    added.sort();
    for rel in added {
        report.differences.push(Difference {
            path: rel.to_string_lossy().into_owned(),
            field: "presence",
            expected: "not in the sealed dataset".into(),
            found: "a file added since the seal".into(),
        });
    }

    // The shards the folder makes now, against the ones the manifest (and the credential) name.
    // When a file differs, its shard differs too and says nothing new; when every file matches
    // the index, a shard that still differs means the seal stated digests no bytes produce.
    if report.differences.len() > differences_before {
        // Nothing more to say.
    } else if rebuilt.len() != facts.shards.len() {
        report.differences.push(Difference {
            path: MANIFEST_FILE.into(),
            field: "shards",
            expected: format!("{} shards (as the manifest lists them)", facts.shards.len()),
            found: format!("{} shards built from the folder", rebuilt.len()),
        });
    } else {
        for (built, named) in rebuilt.iter().zip(&facts.shards) {
            if built.digest.hex() != named.sha256 {
                report.differences.push(Difference {
                    path: named.name.clone(),
                    field: "sha256",
                    expected: format!("{} (as the manifest names it)", named.sha256),
                    found: format!("{} (built from the folder)", built.digest.hex()),
                });
            }
        }
    }
    progress.report(&ProgressEvent {
        phase: Phase::Done,
        items_done: report.files_checked,
        items_total: Some(report.files_checked),
        bytes_done: report.bytes_checked,
        bytes_total: Some(report.bytes_checked),
        message: None,
    });
    Ok(())
}

/// The file's path relative to the source, from its exact bytes when the index has them, checked
/// to stay inside the folder.
fn source_path(f: &IndexedFile) -> std::result::Result<PathBuf, &'static str> {
    #[cfg(unix)]
    let path = match f.path_hex.as_deref() {
        Some(h) => {
            use std::os::unix::ffi::OsStrExt;
            let bytes = hex::decode(h).map_err(|_| "its pathHex is not hex")?;
            PathBuf::from(std::ffi::OsStr::from_bytes(&bytes))
        }
        None => PathBuf::from(&f.path),
    };
    #[cfg(not(unix))]
    let path = PathBuf::from(&f.path);
    untrusted::relative_path(&path)?;
    Ok(path)
}

/// Compares one indexed file with what the folder gave for its path (none: it is not there as a
/// regular file the walk found).
fn compare_file(f: &IndexedFile, found: Option<(u64, Sha256Digest)>) -> Option<Difference> {
    let difference = |field, expected: String, found: String| {
        Some(Difference {
            path: f.path.clone(),
            field,
            expected,
            found,
        })
    };
    let Some((size, sha256)) = found else {
        return difference(
            "presence",
            "the file".into(),
            "nothing: it was removed or renamed, or is no longer a regular file".into(),
        );
    };
    if size != f.size {
        return difference("size", format!("{} bytes", f.size), format!("{size} bytes"));
    }
    if sha256.hex() != f.sha256 {
        return difference("sha256", f.sha256.clone(), sha256.hex());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-23T10:00:00Z";

    /// Verifies at [`NOW`], without progress or cancel.
    fn verify_now(
        out: &Path,
        source: Option<&Path>,
        shards: Option<&Path>,
    ) -> Result<VerifyReport> {
        verify(out, source, shards, NOW, &NoProgress, &CancelToken::new())
    }
    use crate::manifest::DatasetInfo;
    use crate::progress::NoProgress;
    use crate::seal::SealOptions;

    fn sealed() -> (tempfile::TempDir, tempfile::TempDir) {
        let src = tempfile::tempdir().unwrap();
        for i in 0..20 {
            std::fs::write(
                src.path().join(format!("{i:02}.txt")),
                format!("take {i}").repeat(50),
            )
            .unwrap();
        }
        let out = tempfile::tempdir().unwrap();
        let info = DatasetInfo {
            license: "CC0-1.0".into(),
            ..crate::manifest::test_info()
        };
        dataset::seal_folder(
            src.path(),
            out.path(),
            &SealOptions::default(),
            &info,
            crate::dataset::ResealPolicy::default(),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        (src, out)
    }

    #[test]
    fn an_untouched_dataset_is_valid() {
        let (src, out) = sealed();
        let report = verify_now(out.path(), Some(src.path()), None).unwrap();
        assert!(report.is_valid(), "{:?}", report.differences);
        assert_eq!(report.files_checked, 20);
    }

    #[test]
    fn every_change_is_named_with_expected_and_found() {
        let (src, out) = sealed();
        std::fs::write(
            src.path().join("03.txt"),
            "take 3".repeat(50).replace('3', "8"),
        )
        .unwrap();
        std::fs::write(src.path().join("04.txt"), "shorter").unwrap();
        std::fs::remove_file(src.path().join("05.txt")).unwrap();
        std::fs::write(src.path().join("new.txt"), "added").unwrap();
        let report = verify_now(out.path(), Some(src.path()), None).unwrap();
        let mut found: Vec<(String, &str)> = report
            .differences
            .iter()
            .map(|d| (d.path.clone(), d.field))
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                ("03.txt".into(), "sha256"),
                ("04.txt".into(), "size"),
                ("05.txt".into(), "presence"),
                ("new.txt".into(), "presence")
            ]
        );
        let size = report
            .differences
            .iter()
            .find(|d| d.field == "size")
            .unwrap();
        assert_eq!(
            size.to_string(),
            "04.txt: size expected 300 bytes, found 7 bytes"
        );
    }

    #[test]
    fn shards_are_checked_by_hash_and_a_missing_one_is_named() {
        let (src, out) = sealed();
        let shards = tempfile::tempdir().unwrap();
        let exported = dataset::export_shards(
            out.path(),
            shards.path(),
            None,
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        let _ = src;
        let first = exported[0]
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let ok = verify_now(out.path(), None, Some(shards.path())).unwrap();
        assert!(ok.is_valid(), "{:?}", ok.differences);
        let shard = shards.path().join(&first);
        let mut bytes = std::fs::read(&shard).unwrap();
        bytes[600] ^= 0xff;
        std::fs::write(&shard, bytes).unwrap();
        let bad = verify_now(out.path(), None, Some(shards.path())).unwrap();
        assert_eq!(bad.differences.len(), 1);
        assert_eq!(
            (bad.differences[0].path.as_str(), bad.differences[0].field),
            (first.as_str(), "sha256")
        );
        std::fs::remove_file(&shard).unwrap();
        let gone = verify_now(out.path(), None, Some(shards.path())).unwrap();
        assert_eq!(gone.differences[0].field, "presence");
    }

    #[test]
    fn a_changed_byte_in_the_manifest_or_index_is_caught() {
        let (_src, out) = sealed();
        let manifest = out.path().join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&manifest)
            .unwrap()
            .replacen("CC0-1.0", "CC0-1.1", 1);
        std::fs::write(&manifest, text).unwrap();
        let index = out.path().join(INDEX_FILE);
        let mut bytes = std::fs::read(&index).unwrap();
        bytes[10] ^= 1;
        std::fs::write(&index, bytes).unwrap();
        let report = verify_now(out.path(), None, None).unwrap();
        let fields: Vec<_> = report
            .differences
            .iter()
            .map(|d| (d.path.as_str(), d.field))
            .collect();
        assert_eq!(
            fields,
            [("croissant.json", "sha256"), ("index.jsonl", "manifest")]
        );
    }

    /// Signs the dataset in `out` with a new key.
    fn sign(out: &Path) {
        let key = crate::did::SigningIdentity::generate();
        crate::credential::sign_dataset(out, &key, NOW).unwrap();
    }

    #[test]
    fn a_tampered_shard_is_caught_even_when_the_unsigned_files_are_edited_to_match() {
        let (_src, out) = sealed();
        sign(out.path());
        let shards = tempfile::tempdir().unwrap();
        let exported = dataset::export_shards(
            out.path(),
            shards.path(),
            None,
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        let shard = &exported[0].path;
        let mut bytes = std::fs::read(shard).unwrap();
        bytes[600] ^= 0xff;
        let forged = Sha256Digest::of(&bytes);
        let forged_name = format!("{}.tar", forged.cid());
        std::fs::write(shards.path().join(&forged_name), &bytes).unwrap();
        // The attacker rewrites the manifest and Hallmark's state to name the forged shard.
        let old_name = shard.file_name().unwrap().to_string_lossy().into_owned();
        let old_sha = Sha256Digest::of(&std::fs::read(shard).unwrap()).hex();
        let manifest = out.path().join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&manifest)
            .unwrap()
            .replace(&old_name, &forged_name)
            .replace(&old_sha, &forged.hex());
        std::fs::write(&manifest, &text).unwrap();
        let state_path = out.path().join(".hallmark/seal.json");
        let mut state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
        state["manifestSha256"] = Sha256Digest::of(text.as_bytes()).hex().into();
        std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
        let report = verify_now(out.path(), None, Some(shards.path())).unwrap();
        assert!(!report.is_valid());
        let fields: Vec<_> = report.differences.iter().map(|d| d.field).collect();
        assert!(
            fields.contains(&"digestSRI"),
            "the signed manifest digest catches it: {fields:?}"
        );
        assert!(fields.contains(&"shardsMerkleRoot"), "{fields:?}");
    }

    #[test]
    fn a_hostile_index_cannot_make_verify_read_outside_the_folder_or_hang() {
        let (src, out) = sealed();
        let index = out.path().join(INDEX_FILE);
        let text = std::fs::read_to_string(&index).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let mut sample: IndexedSample = serde_json::from_str(&lines[0]).unwrap();
        let template = sample.files[0].clone();
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(outside.path(), b"secret").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.path(), src.path().join("link.txt")).unwrap();
        let hostile = [
            "/etc/passwd".to_owned(),
            "/dev/zero".to_owned(),
            "../../etc/passwd".to_owned(),
            format!("{}", outside.path().display()),
            "link.txt".to_owned(),
        ];
        sample.files = hostile
            .iter()
            .map(|p| IndexedFile {
                path: p.clone(),
                ..template.clone()
            })
            .collect();
        lines[0] = serde_json::to_string(&sample).unwrap();
        std::fs::write(&index, lines.join("\n") + "\n").unwrap();
        let report = verify_now(out.path(), Some(src.path()), None).unwrap();
        for path in &hostile {
            let found: Vec<_> = report
                .differences
                .iter()
                .filter(|d| &d.path == path)
                .map(|d| d.field)
                .collect();
            let expected = if path.starts_with('/') || path.starts_with("..") {
                "path"
            } else {
                "presence"
            };
            assert_eq!(found, [expected], "{path}");
        }
        // A line without end is bounded, not read into memory for ever.
        let mut long = vec![b'{'; (MAX_INDEX_LINE + 10) as usize];
        long.push(b'\n');
        std::fs::write(&index, long).unwrap();
        let report = verify_now(out.path(), Some(src.path()), None).unwrap();
        let last = report.differences.last().unwrap();
        assert_eq!((last.path.as_str(), last.field), (INDEX_FILE, "index"));
        assert!(last.found.contains("longer than"), "{last}");
    }
}
