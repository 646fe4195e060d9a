//! Publishing a signed dataset to a joined marketplace, for the CLI and the app alike, in three
//! stages: check (the seal, its signature by the key that joined, the terms, what the marketplace
//! lacks), upload (only those shards, streamed from the source files, resumable from the journal),
//! publish (manifest, index and the presentation; then the catalog's copy compared with the seal).
//! Also joining a marketplace. The shells choose the key and say what to do in their own words.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hallmark_core::creator::CredentialShelf;
use hallmark_core::credential::{self, CREDENTIAL_FILE};
use hallmark_core::did::SigningIdentity;
use hallmark_core::digest::Sha256Digest;
use hallmark_core::manifest::{self, ManifestFacts};
use hallmark_core::progress::CancelToken;
use hallmark_core::publish::ShardSource;
use hallmark_core::seal::INDEX_FILE;

use crate::joined::{self, Joined, JoinedStore};
use crate::upload::{Journal, OnProgress, Renew, Shard, UploadError, UploadOptions, Uploader};
use crate::{ClientError, Creator, MarketClient, Origin, PublishForm, Published};

/// Why a publish (or a join) stopped. The shells add how to fix it in their own terms.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{} is not a sealed dataset: {source}", out.display())]
    NotSealed {
        out: PathBuf,
        source: hallmark_core::Error,
    },
    #[error("{} is not signed (no {CREDENTIAL_FILE})", out.display())]
    NotSigned { out: PathBuf },
    #[error("{CREDENTIAL_FILE} in {} is not a current signature of this seal ({})", out.display(), differences.join("; "))]
    SignatureStale {
        out: PathBuf,
        differences: Vec<String>,
    },
    #[error("the signature in {} does not verify", out.join(CREDENTIAL_FILE).display())]
    SignatureInvalid { out: PathBuf },
    #[error("{} was signed by {signer}, but you joined {origin} as {creator}", out.display())]
    WrongSigner {
        out: PathBuf,
        signer: String,
        origin: String,
        creator: String,
    },
    #[error("the first publish of {name} {version} to {origin} needs its price and currency")]
    NeedsPrice {
        name: String,
        version: String,
        origin: String,
    },
    #[error("{origin} lists {version} with other content than the seal: {}; report this to the marketplace's operator", differences.join("; "))]
    CatalogDiffers {
        origin: String,
        version: String,
        differences: Vec<String>,
    },
    #[error("the creator credential from {origin} is refused: {detail}")]
    CredentialRefused { origin: String, detail: String },
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Upload(#[from] UploadError),
    #[error(transparent)]
    Core(#[from] hallmark_core::Error),
    #[error(transparent)]
    Journal(#[from] crate::upload::journal::JournalError),
}

/// What a stage found, for the shell to show as it goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "stage")]
pub enum Stage {
    /// The seal and signature hold; the marketplace lacks `missing` of `shards`.
    Checked {
        name: String,
        version: String,
        shards: usize,
        total_bytes: u64,
        missing: usize,
        missing_bytes: u64,
        signer: String,
    },
    /// Every missing shard is stored.
    Uploaded { shards: usize, bytes_sent: u64 },
}

/// The outcome of a publish.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishReport {
    pub origin: String,
    pub name: String,
    pub version: String,
    pub version_id: String,
    pub catalog_url: String,
    pub already_published: bool,
    pub price: String,
    pub currency: String,
    pub shards: usize,
    pub uploaded_shards: Vec<String>,
    pub already_held_shards: usize,
    pub bytes_sent: u64,
}

/// What a publish needs besides the dataset.
pub struct PublishJob<'a> {
    /// Hallmark's data folder (the upload journal, `uploads.sqlite`).
    pub data: &'a Path,
    pub store: &'a JoinedStore,
    pub joined: &'a Joined,
    /// The key that joined, from the keyring.
    pub key: Arc<SigningIdentity>,
    /// Price per sample and currency; `None` takes those of an earlier publish of this seal.
    pub terms: Option<(String, String)>,
    pub options: UploadOptions,
    pub cancel: CancelToken,
    /// The current time (RFC 3339), read by the shell.
    pub now: Arc<dyn Fn() -> String + Send + Sync>,
    /// Where the creator credential is kept once checked.
    pub shelf: &'a CredentialShelf,
}

impl std::fmt::Debug for PublishJob<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishJob")
            .field("data", &self.data)
            .field("joined", &self.joined)
            .field("terms", &self.terms)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Checks that `out` is signed, by the key that joined, for exactly its manifest and index; the
/// signer's did:key.
pub fn check_signature(out: &Path, joined: &Joined, now: &str) -> Result<String, PublishError> {
    let check = credential::check(out, now)?.ok_or_else(|| PublishError::NotSigned {
        out: out.to_path_buf(),
    })?;
    if !check.differences.is_empty() {
        return Err(PublishError::SignatureStale {
            out: out.to_path_buf(),
            differences: check
                .differences
                .iter()
                .take(5)
                .map(ToString::to_string)
                .collect(),
        });
    }
    let signer = check.signer.ok_or_else(|| PublishError::SignatureInvalid {
        out: out.to_path_buf(),
    })?;
    if signer != joined.creator {
        return Err(PublishError::WrongSigner {
            out: out.to_path_buf(),
            signer,
            origin: joined.origin.clone(),
            creator: joined.creator.clone(),
        });
    }
    Ok(signer)
}

/// The dataset credential as signed, to present.
fn dataset_credential(out: &Path) -> Result<serde_json::Value, PublishError> {
    let path = out.join(CREDENTIAL_FILE);
    let bytes = hallmark_core::untrusted::read_capped(
        &path,
        hallmark_core::creator::MAX_DOCUMENT_BYTES as u64,
    )?;
    hallmark_core::creator::parse(&bytes).map_err(|e| {
        PublishError::Core(hallmark_core::Error::Damaged {
            path,
            detail: e.to_string(),
        })
    })
}

/// Checks `creator`'s credential against the marketplace's key and keeps it on `shelf` in place of
/// the ones it supersedes.
pub fn keep_credential(
    shelf: &CredentialShelf,
    creator: &Creator,
    client: &MarketClient,
    now: &str,
) -> Result<(), PublishError> {
    let refused = |detail: String| PublishError::CredentialRefused {
        origin: client.origin().to_string(),
        detail,
    };
    let marketplace = client
        .marketplace_did()
        .ok_or_else(|| refused("the marketplace's key is not known yet".into()))?;
    let holder = creator
        .status
        .holder
        .parse()
        .map_err(|e| refused(format!("the holder is not a did:key: {e}")))?;
    shelf
        .replace(&creator.record.credential, marketplace, &holder, now)?
        .map_err(|e| refused(e.to_string()))?;
    Ok(())
}

/// Joins the marketplace at `origin` as `name` with `key`: learns and pins its key, signs in,
/// registers, keeps the creator credential it issues, and records the marketplace.
pub async fn join(
    store: &JoinedStore,
    shelf: &CredentialShelf,
    origin: &Origin,
    key: &SigningIdentity,
    name: &str,
    now: &str,
) -> Result<Joined, PublishError> {
    let mut client = MarketClient::new(origin.as_str())?;
    let info = client.marketplace().await?;
    let session = client.sign_in(key, now).await?;
    let creator = client.register(name, now).await?;
    keep_credential(shelf, &creator, &client, now)?;
    let joined = Joined {
        origin: origin.to_string(),
        marketplace: info.did.clone(),
        creator: key.public().to_string(),
        name: creator.status.name.clone(),
        joined_at: now.to_owned(),
    };
    store.save(&joined)?;
    store.save_session(origin, &session)?;
    Ok(joined)
}

/// Publishes the signed dataset in `out` (source files from its seal, or `source`) as `job` says.
/// `on_stage` is told when each stage ends; upload progress goes to `on_progress`.
pub async fn publish(
    out: &Path,
    source: Option<&Path>,
    job: PublishJob<'_>,
    on_stage: &(dyn Fn(&Stage) + Sync),
    on_progress: OnProgress,
) -> Result<PublishReport, PublishError> {
    let origin = job.joined.origin.as_str();
    let now = (job.now)();

    // Stage 1, check: the seal, the signature, the terms, then what the marketplace lacks.
    let (manifest_bytes, facts) =
        manifest::read_file(out).map_err(|source| PublishError::NotSealed {
            out: out.to_path_buf(),
            source,
        })?;
    let signer = check_signature(out, job.joined, &now)?;
    let shard_source = ShardSource::open(out, source)?;
    let dataset = dataset_credential(out)?;
    let manifest_sha256 = Sha256Digest::of(&manifest_bytes).hex();
    let journal = Journal::open(job.data).await?;
    let (price, currency) = match job.terms {
        Some(terms) => terms,
        None => match journal.publish_record(origin, &manifest_sha256).await? {
            Some(record) => (record.price, record.currency),
            None => {
                return Err(PublishError::NeedsPrice {
                    name: facts.name.clone(),
                    version: facts.version.clone(),
                    origin: origin.to_owned(),
                });
            }
        },
    };
    journal
        .intend(origin, &manifest_sha256, &price, &currency)
        .await?;

    let mut client = MarketClient::new(origin)?.pinned_to(job.joined.marketplace_did()?);
    let session = client.sign_in(&job.key, &now).await?;
    job.store.save_session(client.origin(), &session)?;
    let creator = client.creator(&now).await?;
    keep_credential(job.shelf, &creator, &client, &now)?;

    // A session that ends during a long upload is made again with the same key.
    let renew: Renew = {
        let (joined, key, store, clock) = (
            job.joined.clone(),
            job.key.clone(),
            job.store.clone(),
            job.now.clone(),
        );
        Arc::new(move || {
            let (joined, key, store, clock) =
                (joined.clone(), key.clone(), store.clone(), clock.clone());
            Box::pin(async move {
                let pinned = joined.marketplace_did().map_err(|e| ClientError::BadUrl {
                    url: joined.origin.clone(),
                    problem: e.to_string(),
                })?;
                let mut client = MarketClient::new(&joined.origin)?.pinned_to(pinned);
                let session = client.sign_in(&key, &clock()).await?;
                let _ = store.save_session(client.origin(), &session);
                Ok(session.token)
            })
        })
    };
    let uploader = Uploader::new(&client, journal.clone(), job.options)?
        .with_renewal(renew)
        .with_cancel(job.cancel);
    let shards: Vec<Shard> = facts
        .shards
        .iter()
        .map(|s| Shard {
            cid: s.cid.clone(),
            size: s.size,
        })
        .collect();
    let cids: Vec<String> = shards.iter().map(|s| s.cid.clone()).collect();
    let missing = uploader.missing(&cids).await?;
    let missing_bytes: u64 = shards
        .iter()
        .filter(|s| missing.contains(&s.cid))
        .map(|s| s.size)
        .sum();
    on_stage(&Stage::Checked {
        name: facts.name.clone(),
        version: facts.version.clone(),
        shards: shards.len(),
        total_bytes: shards.iter().map(|s| s.size).sum(),
        missing: missing.len(),
        missing_bytes,
        signer,
    });

    // Stage 2, upload: only what is missing, streamed from the source files.
    let sent = Arc::new(AtomicU64::new(0));
    let counting: OnProgress = {
        let sent = sent.clone();
        Arc::new(move |event| {
            sent.fetch_max(event.bytes_done, Ordering::Relaxed);
            on_progress(event);
        })
    };
    let uploaded = uploader
        .upload(Arc::new(shard_source), &shards, counting)
        .await?;
    let bytes_sent = sent.load(Ordering::Relaxed);
    on_stage(&Stage::Uploaded {
        shards: uploaded.uploaded.len(),
        bytes_sent,
    });

    // Stage 3, publish: manifest, index and the presentation, over a fresh challenge.
    let now = (job.now)();
    if !joined::valid_for(&session, &now, joined::TOKEN_MARGIN_SECONDS) {
        let session = client.sign_in(&job.key, &now).await?;
        job.store.save_session(client.origin(), &session)?;
    }
    let credentials = [creator.record.credential.clone(), dataset];
    let Published { version, new } = client
        .publish(
            &job.key,
            PublishForm {
                credentials: &credentials,
                manifest: &manifest_bytes,
                index: &out.join(INDEX_FILE),
                price: &price,
                currency: &currency,
            },
            &now,
        )
        .await?;
    journal
        .published(origin, &manifest_sha256, &version.id)
        .await?;
    // The version is checked where buyers see it: its manifest and index as the catalog serves them.
    let differences = catalog_differences(&client, &version.id, &manifest_bytes, &facts).await?;
    if !differences.is_empty() {
        return Err(PublishError::CatalogDiffers {
            origin: origin.to_owned(),
            version: version.id.clone(),
            differences,
        });
    }
    Ok(PublishReport {
        origin: origin.to_owned(),
        name: facts.name.clone(),
        version: facts.version.clone(),
        version_id: version.id.clone(),
        catalog_url: client.catalog_url(&version.id),
        already_published: !new,
        price: version.price.clone(),
        currency: version.currency.clone(),
        shards: shards.len(),
        uploaded_shards: uploaded.uploaded,
        already_held_shards: uploaded.already_held.len(),
        bytes_sent,
    })
}

/// How the catalog's copy of version `id` differs from the seal (its manifest digest as listed,
/// the manifest and the index as served); empty when identical.
pub async fn catalog_differences(
    client: &MarketClient,
    id: &str,
    manifest_bytes: &[u8],
    facts: &ManifestFacts,
) -> Result<Vec<String>, ClientError> {
    let manifest_sha256 = Sha256Digest::of(manifest_bytes).hex();
    let mut differences = Vec::new();
    let listed = client.catalog_version(id).await?;
    if listed.manifest_sha256 != manifest_sha256 {
        differences.push(format!(
            "the catalog lists manifest sha256 {}, the seal's is {manifest_sha256}",
            listed.manifest_sha256
        ));
    }
    for (file, size, sha256) in [
        (
            "manifest",
            manifest_bytes.len() as u64,
            manifest_sha256.as_str(),
        ),
        ("index", facts.index_size, facts.index_sha256.as_str()),
    ] {
        let (found_size, found) = client.catalog_file_digest(id, file).await?;
        if (found_size, found.as_str()) != (size, sha256) {
            differences.push(format!(
                "the catalog serves the {file} with {found_size} bytes with sha256 {found}, the seal's has {size} bytes and sha256 {sha256}"
            ));
        }
    }
    Ok(differences)
}
