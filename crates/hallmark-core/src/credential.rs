//! The dataset credential: a W3C VC 2.0 the creator signs offline, naming the exact bytes of a sealed dataset.
//!
//! The subject names the manifest and the index by digest (`relatedResource` with `digestSRI` and
//! `digestMultibase`), the shard list by its RFC 9162 Merkle root, and states license, consent and
//! version. It is signed with `eddsa-jcs-2022` by the creator's `did:key` and stored as
//! `credential.json` next to the manifest, as the exact bytes that were signed.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Value, json};

use crate::creator::MAX_DOCUMENT_BYTES;
use crate::dataset::{self, DatasetFiles};
use crate::did::{PublicIdentity, SigningIdentity};
use crate::digest::Sha256Digest;
use crate::integrity;
use crate::manifest::MANIFEST_FILE;
use crate::manifest::ManifestFacts;
use crate::seal::INDEX_FILE;
use crate::verify::Difference;
use crate::{Error, Result};

/// The credential's file name in the output folder.
pub const CREDENTIAL_FILE: &str = "credential.json";
const VC_V2: &str = "https://www.w3.org/ns/credentials/v2";

/// `sha256-<base64>`, as Subresource Integrity writes a digest.
pub fn digest_sri(digest: &Sha256Digest) -> String {
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest.0)
    )
}

/// `u<base64url(multihash)>`: the multibase form of a SHA-256 multihash.
pub fn digest_multibase(digest: &Sha256Digest) -> String {
    let mut multihash = vec![0x12, 0x20];
    multihash.extend_from_slice(&digest.0);
    format!(
        "u{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(multihash)
    )
}

fn resource(name: &str, digest: &Sha256Digest, media_type: &str) -> Value {
    json!({
        "id": name,
        "mediaType": media_type,
        "digestSRI": digest_sri(digest),
        "digestMultibase": digest_multibase(digest),
    })
}

/// The unsigned credential for the dataset sealed in `out`, issued by `issuer` from `valid_from`.
///
/// Everything it states is read from the manifest's exact bytes (name, version, license, consent,
/// shards), never from Hallmark's unsigned state: the terms signed are the terms buyers read.
pub fn build(out: &Path, issuer: &PublicIdentity, valid_from: &str) -> Result<Value> {
    let DatasetFiles {
        manifest,
        facts,
        index,
    } = DatasetFiles::read(out)?;
    let index = index.map_err(|detail| Error::Damaged {
        path: out.join(INDEX_FILE),
        detail,
    })?;
    let root = crate::merkle::root(&facts.shard_digests());
    Ok(json!({
        "@context": [VC_V2],
        "type": ["VerifiableCredential", "DatasetCredential"],
        "issuer": issuer.to_string(),
        "validFrom": valid_from,
        "name": format!("{} {}", facts.name, facts.version),
        "credentialSubject": {
            "id": format!("urn:sha256:{}", manifest.hex()),
            "type": "Dataset",
            "name": facts.name,
            "version": facts.version,
            "creator": issuer.to_string(),
            "license": facts.license,
            "consent": facts.consent,
            "shardCount": facts.shards.len(),
            "shardsMerkleRoot": format!("sha256:{}", root.hex()),
        },
        "relatedResource": [
            resource(MANIFEST_FILE, &manifest, "application/ld+json"),
            resource(INDEX_FILE, &index, "application/jsonlines"),
        ],
    }))
}

/// Signs the dataset sealed in `out` and writes `credential.json`; `now` is an XML Schema dateTime.
/// A credential set aside by a reseal is removed: this one replaces it.
pub fn sign_dataset(out: &Path, key: &SigningIdentity, now: &str) -> Result<PathBuf> {
    dataset::load_state(out)?;
    let _lock = dataset::lock_for_change(out)?;
    let unsigned = build(out, &key.public(), now)?;
    let signed =
        integrity::sign(&unsigned, key, now, "assertionMethod").map_err(|e| Error::Damaged {
            path: out.join(CREDENTIAL_FILE),
            detail: e.to_string(),
        })?;
    let mut bytes = serde_json::to_vec_pretty(&signed).unwrap_or_default();
    bytes.push(b'\n');
    dataset::write_atomic(out, CREDENTIAL_FILE, &bytes)?;
    let stale = out
        .join(dataset::STATE_DIR)
        .join(dataset::STALE_CREDENTIAL_FILE);
    match std::fs::remove_file(&stale) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::from_io(&stale, e));
        }
        _ => {}
    }
    Ok(out.join(CREDENTIAL_FILE))
}

/// Where the credential's subject states other terms than the manifest it names: each becomes a
/// difference (the license or consent a buyer reads must be the one that was signed).
pub fn terms_differences(credential: &Value, facts: &ManifestFacts) -> Vec<Difference> {
    let subject = &credential["credentialSubject"];
    let mut found = Vec::new();
    let license = subject["license"].as_str().unwrap_or("nothing");
    if license != facts.license {
        found.push(difference("license", facts.license.clone(), license));
    }
    let consent = serde_json::to_value(&facts.consent).unwrap_or(Value::Null);
    if subject["consent"] != consent {
        found.push(difference(
            "consent",
            consent.to_string(),
            subject["consent"].to_string(),
        ));
    }
    for (field, expected) in [("name", &facts.name), ("version", &facts.version)] {
        let named = subject[field].as_str().unwrap_or("nothing");
        if named != expected {
            found.push(difference(
                if field == "name" { "name" } else { "version" },
                expected.clone(),
                named,
            ));
        }
    }
    found
}

/// What checking a dataset credential found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CredentialCheck {
    /// The signer's did:key, when the proof verifies.
    pub signer: Option<String>,
    pub differences: Vec<Difference>,
}

fn difference(
    field: &'static str,
    expected: impl Into<String>,
    found: impl Into<String>,
) -> Difference {
    Difference {
        path: CREDENTIAL_FILE.into(),
        field,
        expected: expected.into(),
        found: found.into(),
    }
}

/// Checks `credential.json` in `out`: its proof, that its issuer signed it, and that every digest it
/// names matches the files (manifest, index, and the shard list's Merkle root). `None` when unsigned.
/// `now` (RFC 3339, passed in) is the time the proof is judged at.
pub fn check(out: &Path, now: &str) -> Result<Option<CredentialCheck>> {
    check_files(out, None, now)
}

/// [`check`], with the dataset files already read by the caller (`verify` reads them once for
/// all its checks); `None` reads them here, once the credential is found.
pub fn check_files(
    out: &Path,
    files: Option<&DatasetFiles>,
    now: &str,
) -> Result<Option<CredentialCheck>> {
    use std::io::Read as _;

    let path = out.join(CREDENTIAL_FILE);
    // One byte more than the cap is read, so that a larger file is refused by the strict parser
    // without ever being read whole.
    let mut bytes = Vec::new();
    match crate::untrusted::open_regular(&path) {
        Ok((file, _)) => {
            file.take(MAX_DOCUMENT_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| Error::from_io(&path, e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(crate::untrusted::io_error(&path, e)),
    }
    let credential: Value = match crate::json::from_slice(&bytes, MAX_DOCUMENT_BYTES) {
        Ok(v) => v,
        Err(e) => {
            return Ok(Some(CredentialCheck {
                signer: None,
                differences: vec![difference(
                    "json",
                    "a strict JSON credential",
                    e.to_string(),
                )],
            }));
        }
    };
    let read;
    let files = match files {
        Some(files) => files,
        None => {
            read = DatasetFiles::read(out)?;
            &read
        }
    };
    Ok(Some(check_against(&credential, files, now)))
}

/// A file as its reader hashed it: its SHA-256 and length. The marketplace hashes an index as it
/// arrives rather than holding it whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashedFile {
    pub sha256: Sha256Digest,
    pub size: u64,
}

impl HashedFile {
    /// The digest and length of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        HashedFile {
            sha256: Sha256Digest::of(bytes),
            size: bytes.len() as u64,
        }
    }
}

/// What [`check_documents`] found: the manifest's facts and digests, and the credential's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentsCheck {
    pub facts: ManifestFacts,
    pub manifest_sha256: Sha256Digest,
    /// The RFC 9162 Merkle root over the manifest's shard digests, in its order.
    pub shards_root: Sha256Digest,
    /// The signer (when the proof verifies) and every difference; accept only when there are none.
    pub check: CredentialCheck,
}

/// Checks a dataset credential against the exact bytes of the manifest it names and the index as
/// hashed, with no folder: the marketplace's check of what a creator publishes. The proof
/// (purpose `assertionMethod`, issuer = signer, validity at `now`), the manifest and index digests
/// the credential names, the index the manifest names, the shard Merkle root, and the terms the
/// credential restates must all agree; each disagreement is a [`Difference`]. A manifest that
/// cannot be read (not Croissant as Hallmark writes it, no semantic version) is an error naming
/// `croissant.json`.
pub fn check_documents(
    credential: &Value,
    manifest: &[u8],
    index: &HashedFile,
    now: &str,
) -> Result<DocumentsCheck> {
    let path = Path::new(MANIFEST_FILE);
    let facts = crate::manifest::read(manifest, path)?;
    if let Err(e) = semver::Version::parse(&facts.version) {
        return Err(Error::Damaged {
            path: path.to_path_buf(),
            detail: format!(
                "its version {:?} is not a semantic version ({e}); seal it again with a version such as 1.0.0",
                crate::json::excerpt(&facts.version, 120)
            ),
        });
    }
    let files = DatasetFiles {
        manifest: Sha256Digest::of(manifest),
        index: if index.size == facts.index_size {
            Ok(index.sha256)
        } else {
            Err(format!(
                "a file of {} bytes, not the {} bytes the manifest gives",
                index.size, facts.index_size
            ))
        },
        facts,
    };
    let mut check = check_against(credential, &files, now);
    check
        .differences
        .extend(crate::verify::index_named_by_manifest(&files));
    Ok(DocumentsCheck {
        shards_root: crate::merkle::root(&files.facts.shard_digests()),
        manifest_sha256: files.manifest,
        facts: files.facts,
        check,
    })
}

/// The one check of a parsed credential against a dataset's files, whether read from a folder or
/// received as bytes: its proof (purpose `assertionMethod`, issuer = signer, validity at `now`),
/// the manifest and index digests it names, the terms it restates, and the shard Merkle root.
fn check_against(credential: &Value, files: &DatasetFiles, now: &str) -> CredentialCheck {
    use crate::creator::{self, CredentialError};

    let mut report = CredentialCheck::default();
    // Type, proof (assertionMethod, judged at `now`), issuer = signer, validity period.
    match creator::check_dataset(credential, now) {
        Ok(status) => report.signer = Some(status.issuer.to_string()),
        Err(e) => {
            let field = match &e {
                CredentialError::WrongType { .. } => "type",
                CredentialError::WrongIssuer { .. } => "issuer",
                CredentialError::NotYetValid { .. } => "validFrom",
                CredentialError::Expired { .. } => "validUntil",
                CredentialError::Date(date) => date.field,
                CredentialError::Field { field, .. } => field,
                _ => "proof",
            };
            let expected = match field {
                "proof" => "a valid eddsa-jcs-2022 proof (purpose assertionMethod)",
                "type" => "VerifiableCredential and DatasetCredential",
                _ => "a valid dataset credential",
            };
            report
                .differences
                .push(difference(field, expected, e.to_string()));
        }
    }
    let facts = &files.facts;
    for (name, media) in [
        (MANIFEST_FILE, "application/ld+json"),
        (INDEX_FILE, "application/jsonlines"),
    ] {
        let actual = if name == MANIFEST_FILE {
            files.manifest
        } else {
            match &files.index {
                Ok(digest) => *digest,
                Err(found) => {
                    report.differences.push(Difference {
                        path: name.into(),
                        field: "sha256",
                        expected: "the file the credential names".into(),
                        found: found.clone(),
                    });
                    continue;
                }
            }
        };
        let named = credential["relatedResource"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["id"] == name))
            .cloned()
            .unwrap_or(Value::Null);
        let expected = resource(name, &actual, media);
        for field in ["digestSRI", "digestMultibase"] {
            if named[field] != expected[field] {
                let found = named[field].as_str().unwrap_or("nothing").to_owned();
                report.differences.push(Difference {
                    path: name.into(),
                    field: if field == "digestSRI" {
                        "digestSRI"
                    } else {
                        "digestMultibase"
                    },
                    expected: format!("{found} (as the credential names it)"),
                    found: expected[field].as_str().unwrap_or_default().to_owned(),
                });
            }
        }
    }
    let root = format!(
        "sha256:{}",
        crate::merkle::root(&facts.shard_digests()).hex()
    );
    report
        .differences
        .extend(terms_differences(credential, facts));
    let named_root = credential["credentialSubject"]["shardsMerkleRoot"]
        .as_str()
        .unwrap_or("nothing");
    if named_root != root {
        report
            .differences
            .push(difference("shardsMerkleRoot", named_root, root));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::{CancelToken, NoProgress};
    use crate::seal::SealOptions;

    fn sealed() -> (tempfile::TempDir, tempfile::TempDir) {
        let src = tempfile::tempdir().unwrap();
        for i in 0..30 {
            std::fs::write(
                src.path().join(format!("{i:02}.txt")),
                format!("take {i}").repeat(90),
            )
            .unwrap();
        }
        let out = tempfile::tempdir().unwrap();
        let options = SealOptions {
            shard_size: 4 << 10,
            ..SealOptions::default()
        };
        dataset::seal_folder(
            src.path(),
            out.path(),
            &options,
            &crate::manifest::test_info(),
            crate::dataset::ResealPolicy::default(),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        (src, out)
    }

    #[test]
    fn digests_in_both_forms_follow_their_specs() {
        let empty = Sha256Digest::of(b"");
        assert_eq!(
            digest_sri(&empty),
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            digest_multibase(&empty),
            "uEiDjsMRCmPwcFJr79MiZb7kkJ65B5GSbk0yklZkbeFK4VQ"
        );
    }

    #[test]
    fn a_signed_dataset_verifies_and_names_its_signer() {
        let (_src, out) = sealed();
        let key = SigningIdentity::generate();
        sign_dataset(out.path(), &key, "2026-11-23T10:00:00Z").unwrap();
        let check = check(out.path(), "2026-11-23T10:00:00Z").unwrap().unwrap();
        assert!(check.differences.is_empty(), "{:?}", check.differences);
        assert_eq!(check.signer, Some(key.public().to_string()));
        let credential: Value =
            serde_json::from_slice(&std::fs::read(out.path().join(CREDENTIAL_FILE)).unwrap())
                .unwrap();
        let shards = credential["credentialSubject"]["shardCount"]
            .as_u64()
            .unwrap();
        assert!(shards > 1, "{shards} shards");
    }

    #[test]
    fn any_changed_byte_of_manifest_index_or_credential_is_caught_by_name() {
        let (out, ..) = signed_documents();
        let flip = |name: &str, at: usize| {
            let path = out.path().join(name);
            let mut bytes = std::fs::read(&path).unwrap();
            let i = at.min(bytes.len() - 2);
            let original = bytes[i];
            bytes[i] = if original == b'a' { b'b' } else { b'a' };
            std::fs::write(&path, &bytes).unwrap();
            let found = check(out.path(), "2026-11-23T10:00:00Z").unwrap().unwrap();
            bytes[i] = original;
            std::fs::write(&path, &bytes).unwrap();
            assert!(
                check(out.path(), "2026-11-23T10:00:00Z")
                    .unwrap()
                    .unwrap()
                    .differences
                    .is_empty(),
                "restored"
            );
            found
        };
        let index = flip(INDEX_FILE, 40);
        assert!(
            index
                .differences
                .iter()
                .any(|d| d.path == INDEX_FILE && d.field == "digestSRI"),
            "{index:?}"
        );
        let manifest = flip(MANIFEST_FILE, 300);
        assert!(
            manifest.differences.iter().any(|d| d.path == MANIFEST_FILE),
            "{manifest:?}"
        );
        let credential = flip(CREDENTIAL_FILE, 200);
        assert!(
            credential.differences.iter().any(|d| d.field == "proof"),
            "{credential:?}"
        );
        assert!(credential.signer.is_none());
    }

    /// The manifest, index and credential of a freshly sealed and signed dataset, as bytes.
    fn signed_documents() -> (tempfile::TempDir, Vec<u8>, Vec<u8>, Value) {
        let (_src, out) = sealed();
        sign_dataset(
            out.path(),
            &SigningIdentity::generate(),
            "2026-11-23T10:00:00Z",
        )
        .unwrap();
        let read = |name| std::fs::read(out.path().join(name)).unwrap();
        let credential = serde_json::from_slice(&read(CREDENTIAL_FILE)).unwrap();
        let (manifest, index) = (read(MANIFEST_FILE), read(INDEX_FILE));
        (out, manifest, index, credential)
    }

    const NOW: &str = "2026-11-23T10:00:00Z";

    /// The file and field of every difference found.
    fn named(found: &DocumentsCheck) -> Vec<(&str, &'static str)> {
        found
            .check
            .differences
            .iter()
            .map(|d| (d.path.as_str(), d.field))
            .collect()
    }

    #[test]
    fn documents_as_bytes_check_out_as_the_folder_does() {
        let (out, manifest, index, credential) = signed_documents();
        let found = check_documents(&credential, &manifest, &HashedFile::of(&index), NOW).unwrap();
        assert!(
            found.check.differences.is_empty(),
            "{:?}",
            found.check.differences
        );
        assert_eq!(found.check, check(out.path(), NOW).unwrap().unwrap());
        assert_eq!(found.manifest_sha256, Sha256Digest::of(&manifest));
        assert_eq!(
            credential["credentialSubject"]["shardsMerkleRoot"],
            format!("sha256:{}", found.shards_root.hex())
        );
        assert!(found.facts.shards.len() > 1);
        assert_eq!(found.facts.index_sha256, Sha256Digest::of(&index).hex());
    }

    #[test]
    fn a_changed_byte_or_another_index_is_named_by_its_digest() {
        let (_out, manifest, index, credential) = signed_documents();
        let at = manifest.windows(5).position(|w| w == b"voice").unwrap();
        let mut changed = manifest.clone();
        changed[at] = b'V';
        let found = check_documents(&credential, &changed, &HashedFile::of(&index), NOW).unwrap();
        assert_eq!(
            named(&found),
            [
                (MANIFEST_FILE, "digestSRI"),
                (MANIFEST_FILE, "digestMultibase")
            ]
        );
        assert!(
            found.check.differences[0]
                .found
                .starts_with(&digest_sri(&Sha256Digest::of(&changed)))
        );

        // The same length, other bytes: the credential and the manifest both name another index.
        let mut other = index.clone();
        other[0] ^= 1;
        let found = check_documents(&credential, &manifest, &HashedFile::of(&other), NOW).unwrap();
        assert_eq!(
            named(&found),
            [
                (INDEX_FILE, "digestSRI"),
                (INDEX_FILE, "digestMultibase"),
                (INDEX_FILE, "manifest")
            ]
        );
        // Another length is not that index at all.
        let found =
            check_documents(&credential, &manifest, &HashedFile::of(&index[1..]), NOW).unwrap();
        assert!(
            found
                .check
                .differences
                .iter()
                .any(|d| d.field == "sha256" && d.found.contains("bytes, not the")),
            "{:?}",
            found.check.differences
        );
    }

    #[test]
    fn a_signed_but_wrong_root_or_wrong_terms_are_differences() {
        let (_out, manifest, index, credential) = signed_documents();
        let key = SigningIdentity::generate();
        let mut unsigned = credential.clone();
        unsigned.as_object_mut().unwrap().remove("proof");
        unsigned["issuer"] = key.public().to_string().into();
        unsigned["credentialSubject"]["shardsMerkleRoot"] =
            format!("sha256:{}", "0".repeat(64)).into();
        unsigned["credentialSubject"]["license"] = "CC0-1.0".into();
        let forged = integrity::sign(&unsigned, &key, NOW, "assertionMethod").unwrap();
        let found = check_documents(&forged, &manifest, &HashedFile::of(&index), NOW).unwrap();
        assert_eq!(found.check.signer, Some(key.public().to_string()));
        let fields: Vec<_> = found.check.differences.iter().map(|d| d.field).collect();
        assert_eq!(fields, ["license", "shardsMerkleRoot"]);

        // Someone else's edit after signing: the proof fails.
        let mut edited = credential.clone();
        edited["credentialSubject"]["version"] = "9.9.9".into();
        let found = check_documents(&edited, &manifest, &HashedFile::of(&index), NOW).unwrap();
        assert_eq!(found.check.signer, None);
        assert!(found.check.differences.iter().any(|d| d.field == "proof"));
    }

    #[test]
    fn an_unreadable_manifest_or_a_version_that_is_not_semver_is_an_error() {
        let (_out, manifest, index, credential) = signed_documents();
        let hashed = HashedFile::of(&index);
        let error = check_documents(&credential, b"{\"name\": 1}", &hashed, NOW).unwrap_err();
        assert!(error.to_string().contains(MANIFEST_FILE), "{error}");
        let mut document: Value = serde_json::from_slice(&manifest).unwrap();
        document["version"] = "first".into();
        let bytes = serde_json::to_vec(&document).unwrap();
        let error = check_documents(&credential, &bytes, &hashed, NOW).unwrap_err();
        assert!(error.to_string().contains("semantic version"), "{error}");
    }
}
