//! Mirrors of a sealed dataset to an S3-compatible bucket (R2, AWS S3, MinIO): only what the bucket lacks, multipart uploads in equal parts resumed from the journal, every part and object checked by its MD5 ETag, and a read-back check by SHA-256.
//!
//! [`Mirror::mirror`] lists the prefix first (or, where listing is not allowed, looks at each object
//! with `HEAD`): an object of the right size whose ETag is the one this studio recorded for it, or
//! the one its bytes give, is already there and is not sent.
//! Objects up to [`MirrorOptions::part_bytes`] go in one `PUT`; larger ones as a multipart upload
//! in parts of exactly that size (the last one smaller), which R2 requires. The upload id and each
//! part the bucket confirmed go into the journal, so a mirror run again after a crash sends only
//! the parts not confirmed. Each part's bytes are read once, from the source files through the
//! same [`ShardBytes`] as a publish, into one buffer per stream: memory is `streams × part_bytes`
//! whatever the dataset's size. No checksum header is sent (R2 refuses some of them); instead the
//! ETag the bucket answers for each part is compared with the part's MD5, and the object's with
//! the MD5 of the parts' MD5s (what S3 and R2 compute), so every byte stored is checked against
//! the bytes read. [`Mirror::check`] reads every object back and compares its size and SHA-256
//! with the seal's.

use std::io::{self, Read, Seek};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use hallmark_core::bucket::{BucketCredentials, BucketTarget};
use hallmark_core::progress::CancelToken;
use md5::{Digest as _, Md5};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, PutPayload, RetryConfig};
use sha2::Sha256;

use crate::upload::{
    Journal, JournalError, OnProgress, ShardBytes, ShardState, Tally, UploadEvent,
};

/// The smallest part S3 and R2 accept (but for the last).
pub const MIN_PART_BYTES: u64 = 5 << 20;
/// The largest part S3 and R2 accept.
pub const MAX_PART_BYTES: u64 = 5 << 30;
/// The most parts one object may have.
pub const MAX_PARTS: u64 = 10_000;

/// How to mirror. The defaults suit a creator's connection.
#[derive(Debug, Clone)]
pub struct MirrorOptions {
    /// Objects sent at once.
    pub streams: usize,
    /// The size of every part but the last; also the largest object sent in one `PUT`.
    pub part_bytes: u64,
    /// How long a request may keep failing (5xx, 429, cut connections) before the mirror gives up.
    pub retry_budget: Duration,
    /// The longest one request (one part) may take.
    pub request_timeout: Duration,
}

impl Default for MirrorOptions {
    fn default() -> Self {
        MirrorOptions {
            streams: 4,
            part_bytes: 16 << 20,
            retry_budget: Duration::from_secs(15 * 60),
            request_timeout: Duration::from_secs(5 * 60),
        }
    }
}

/// Where an object's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorContent {
    /// A shard, streamed from the source files.
    Shard { cid: String },
    /// A file of the seal (the manifest, the index, the credential).
    File { path: PathBuf },
}

/// One object of the mirror: its name under the prefix and what the seal says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorObject {
    /// The object's name under the prefix, as the manifest's `contentUrl` names it.
    pub name: String,
    pub size: u64,
    /// SHA-256 (hex) the seal records.
    pub sha256: String,
    pub content: MirrorContent,
}

/// What a mirror did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MirrorReport {
    /// Objects sent (whole or their missing parts).
    pub sent: Vec<String>,
    /// Objects the bucket had already, checked by size and ETag.
    pub already_there: Vec<String>,
    /// Bytes handed to the bucket in this run.
    pub bytes_sent: u64,
}

/// One object read back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectCheck {
    pub name: String,
    pub key: String,
    pub expected_size: u64,
    pub expected_sha256: String,
    /// `None`: the bucket has no such object.
    pub found_size: Option<u64>,
    pub found_sha256: Option<String>,
}

impl ObjectCheck {
    /// Whether the bucket holds exactly what the seal says.
    pub fn ok(&self) -> bool {
        self.found_size == Some(self.expected_size)
            && self.found_sha256.as_deref() == Some(self.expected_sha256.as_str())
    }
}

/// Why a mirror stopped. Each message names the object and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MirrorError {
    /// The bucket refused, or kept failing past the retry budget.
    #[error("{target}: {what} failed: {detail}; {advice}")]
    Bucket {
        target: String,
        what: String,
        detail: String,
        advice: &'static str,
    },
    /// The bucket stored other bytes than were sent (its ETag is not their MD5).
    #[error(
        "{target}: {key} was stored as {found}, but the bytes sent give {expected}; the object is not trusted: run the mirror again (it resends it), and if it repeats, report it to the storage provider"
    )]
    Mismatch {
        target: String,
        key: String,
        expected: String,
        found: String,
    },
    /// The shard's source (a file changed since the seal, named by the core's error).
    #[error("{name} cannot be sent: {source}")]
    Source {
        name: String,
        #[source]
        source: hallmark_core::Error,
    },
    /// Reading the object's bytes failed otherwise.
    #[error(
        "cannot read {name}: {detail}; check the source folder and the sealed output, then mirror again"
    )]
    Read { name: String, detail: String },
    /// Setting up the S3 client failed.
    #[error("{target}: {detail}")]
    Setup { target: String, detail: String },
    /// The creator cancelled; what the bucket confirmed is kept in the journal.
    #[error("the mirror was cancelled; running it again continues where it stopped")]
    Cancelled,
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// A mirror to one bucket and prefix.
#[derive(Debug, Clone)]
pub struct Mirror {
    inner: Arc<Inner>,
}

/// Objects a bucket holds, by key.
type Listing = std::collections::HashMap<String, object_store::ObjectMeta>;

#[derive(Debug)]
struct Inner {
    store: AmazonS3,
    target: BucketTarget,
    /// The journal's name for this bucket and prefix.
    target_id: String,
    journal: Journal,
    options: MirrorOptions,
    cancel: CancelToken,
}

/// What the journal records of an object sent whole: the seal's SHA-256 of it with the bucket's
/// ETag, so that a new seal's file of the same name and size (a manifest) is not taken as sent.
fn recorded(sha256: &str, etag: &str) -> String {
    format!("{sha256} {etag}")
}

/// An ETag without its quotes and weak marker, lowercase.
fn bare_etag(etag: &str) -> String {
    etag.trim_start_matches("W/")
        .trim_matches('"')
        .to_ascii_lowercase()
}

/// Whether `etag` has the form S3 gives MD5-based ETags (`<32 hex>` or `<32 hex>-<parts>`); other
/// forms (SSE-KMS, some gateways) say nothing about the bytes and are checked by reading back.
fn md5_form(etag: &str) -> bool {
    let (digest, parts) = etag.split_once('-').unwrap_or((etag, "1"));
    digest.len() == 32
        && digest.bytes().all(|b| b.is_ascii_hexdigit())
        && !parts.is_empty()
        && parts.bytes().all(|b| b.is_ascii_digit())
}

/// The ETag S3 and R2 give an object made of parts with these MD5s.
fn multipart_etag(part_md5s: &[[u8; 16]]) -> String {
    let mut whole = Md5::new();
    for md5 in part_md5s {
        whole.update(md5);
    }
    format!("{}-{}", hex(&whole.finalize()), part_md5s.len())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn md5_bytes(hex_digest: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    if hex_digest.len() != 32 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex_digest.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The part size an object of `size` bytes is sent in: `part_bytes`, raised (in whole MiB) when
/// the object would otherwise need more than [`MAX_PARTS`] parts.
pub fn part_size(size: u64, part_bytes: u64) -> u64 {
    let floor = size.div_ceil(MAX_PARTS).div_ceil(1 << 20) << 20;
    part_bytes.max(floor).clamp(MIN_PART_BYTES, MAX_PART_BYTES)
}

/// The kinds of refusal a creator can act on, from the error's kind or, where the S3 client gives
/// only text (listing), its status and S3 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Credentials,
    NoBucket,
    Other,
}

fn refusal(e: &object_store::Error, detail: &str) -> Refusal {
    let says = |codes: &[&str]| codes.iter().any(|c| detail.contains(c));
    match e {
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => Refusal::Credentials,
        _ if says(&["NoSuchBucket"]) => Refusal::NoBucket,
        object_store::Error::NotFound { .. } => Refusal::NoBucket,
        _ if says(&[
            "403 Forbidden",
            "401 Unauthorized",
            "SignatureDoesNotMatch",
            "InvalidAccessKeyId",
            "AccessDenied",
        ]) =>
        {
            Refusal::Credentials
        }
        _ => Refusal::Other,
    }
}

/// What `s3` said, sorted into a creator's next step.
fn bucket_error(target: &BucketTarget, what: String, e: object_store::Error) -> MirrorError {
    let detail = crate::root_cause(&e);
    let advice = match refusal(&e, &detail) {
        Refusal::Credentials => {
            "check the access key (hallmark mirror --set-credentials, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and that it may write to this bucket"
        }
        Refusal::NoBucket => {
            "check that the bucket exists (create it in your provider's console) and the endpoint and region"
        }
        Refusal::Other => {
            "check the connection and the endpoint, then mirror again (it continues where it stopped)"
        }
    };
    MirrorError::Bucket {
        target: target.url(),
        what,
        detail,
        advice,
    }
}

impl Mirror {
    /// A mirror to `target`, signing with `credentials`, journaling in `journal`.
    pub fn new(
        target: BucketTarget,
        credentials: &BucketCredentials,
        journal: Journal,
        options: MirrorOptions,
    ) -> Result<Mirror, MirrorError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&target.bucket)
            .with_region(&target.region)
            .with_access_key_id(&credentials.access_key_id)
            .with_secret_access_key(credentials.secret_access_key.as_str())
            .with_virtual_hosted_style_request(!target.path_style)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(500),
                    max_backoff: Duration::from_secs(30),
                    base: 2.0,
                },
                max_retries: 64,
                retry_timeout: options.retry_budget,
            })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_timeout(options.request_timeout)
                    .with_user_agent(reqwest::header::HeaderValue::from_static(concat!(
                        "hallmark-client/",
                        env!("CARGO_PKG_VERSION")
                    )))
                    .with_allow_http(
                        target
                            .endpoint
                            .as_deref()
                            .is_some_and(|e| e.starts_with("http://")),
                    ),
            );
        if let Some(token) = &credentials.session_token {
            builder = builder.with_token(token.as_str());
        }
        if let Some(endpoint) = &target.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        let store = builder.build().map_err(|e| MirrorError::Setup {
            target: target.url(),
            detail: format!("cannot set up the S3 client: {}", crate::root_cause(&e)),
        })?;
        Ok(Mirror {
            inner: Arc::new(Inner {
                store,
                target_id: target.id(),
                target,
                journal,
                options: MirrorOptions {
                    streams: options.streams.max(1),
                    part_bytes: options.part_bytes.clamp(MIN_PART_BYTES, MAX_PART_BYTES),
                    ..options
                },
                cancel: CancelToken::new(),
            }),
        })
    }

    /// The same mirror, stopping (between parts) once `cancel` is cancelled.
    pub fn with_cancel(self, cancel: CancelToken) -> Mirror {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            store: shared.store.clone(),
            target: shared.target.clone(),
            target_id: shared.target_id.clone(),
            journal: shared.journal.clone(),
            options: shared.options.clone(),
            cancel: CancelToken::new(),
        });
        Mirror {
            inner: Arc::new(Inner { cancel, ..inner }),
        }
    }

    /// The bucket and prefix.
    pub fn target(&self) -> &BucketTarget {
        &self.inner.target
    }

    /// Sends every object of `objects` the bucket lacks, [`MirrorOptions::streams`] at a time, in
    /// the order given (put the manifest last: a reader who finds it finds everything it names).
    /// Stops at the first error a retry cannot fix; the journal keeps every confirmed part.
    pub async fn mirror(
        &self,
        source: Arc<dyn ShardBytes>,
        objects: &[MirrorObject],
        on_progress: OnProgress,
    ) -> Result<MirrorReport, MirrorError> {
        let tally = Arc::new(Tally::new(
            on_progress,
            objects.iter().map(|o| o.size).sum(),
            objects.len() as u64,
        ));
        let sent_bytes = Arc::new(AtomicU64::new(0));
        let listed = Arc::new(self.inner.listing(objects).await?);
        // Everything but the last object (the manifest) in parallel; the last once they are stored.
        let (last, rest) = match objects.split_last() {
            Some((last, rest)) => (Some(last.clone()), rest.to_vec()),
            None => (None, Vec::new()),
        };
        let queue = Arc::new(Mutex::new(std::collections::VecDeque::from(rest)));
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..self.inner.options.streams {
            let inner = self.inner.clone();
            let (queue, source, tally) = (queue.clone(), source.clone(), tally.clone());
            let (sent_bytes, outcomes) = (sent_bytes.clone(), outcomes.clone());
            let listed = listed.clone();
            workers.spawn(async move {
                loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                    let Some(object) = next else {
                        return Ok(());
                    };
                    let sent = inner
                        .send_object(&source, &object, (*listed).as_ref(), &tally, &sent_bytes)
                        .await;
                    if sent.is_err() {
                        tally.report(&object.name, ShardState::Failed, 0);
                    }
                    outcomes
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((object.name.clone(), sent?));
                }
            });
        }
        while let Some(done) = workers.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    workers.abort_all();
                    return Err(e);
                }
                Err(e) if e.is_cancelled() => {}
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
        let mut outcomes = std::mem::take(&mut *outcomes.lock().unwrap_or_else(|p| p.into_inner()));
        if let Some(last) = last {
            let sent = self
                .inner
                .send_object(&source, &last, (*listed).as_ref(), &tally, &sent_bytes)
                .await?;
            outcomes.push((last.name.clone(), sent));
        }
        // Reported in the order asked.
        let order = |name: &str| objects.iter().position(|o| o.name == name);
        outcomes.sort_by_key(|(name, _)| order(name));
        Ok(MirrorReport {
            sent: outcomes
                .iter()
                .filter(|(_, sent)| *sent)
                .map(|(name, _)| name.clone())
                .collect(),
            already_there: outcomes
                .iter()
                .filter(|(_, sent)| !*sent)
                .map(|(name, _)| name.clone())
                .collect(),
            bytes_sent: sent_bytes.load(Ordering::Relaxed),
        })
    }

    /// Reads every object back, [`MirrorOptions::streams`] at a time, and compares its size and
    /// SHA-256 with the seal's. Memory stays bounded: each object is hashed as it streams. An object
    /// that differs is marked in the journal, so the next mirror sends it again.
    pub async fn check(
        &self,
        objects: &[MirrorObject],
        on_progress: OnProgress,
    ) -> Result<Vec<ObjectCheck>, MirrorError> {
        let tally = Arc::new(Tally::new(
            on_progress,
            objects.iter().map(|o| o.size).sum(),
            objects.len() as u64,
        ));
        let checks = futures_util::stream::iter(objects.iter().cloned())
            .map(|object| {
                let inner = self.inner.clone();
                let tally = tally.clone();
                async move { inner.read_back(&object, &tally).await }
            })
            .buffered(self.inner.options.streams)
            .collect::<Vec<_>>()
            .await;
        let checks: Vec<ObjectCheck> = checks.into_iter().collect::<Result<_, _>>()?;
        for check in checks.iter().filter(|c| !c.ok()) {
            // The next mirror sends it again, whatever the bucket's ETag says.
            self.inner
                .journal
                .mirror_finished(&self.inner.target_id, &check.key, 0, "")
                .await?;
        }
        Ok(checks)
    }
}

impl Inner {
    fn path(&self, name: &str) -> Result<ObjectPath, MirrorError> {
        let key = self.target.key(name);
        ObjectPath::parse(&key).map_err(|e| MirrorError::Setup {
            target: self.target.url(),
            detail: format!("{key:?} cannot be an object key: {e}"),
        })
    }

    fn failed(&self, what: String, e: object_store::Error) -> MirrorError {
        bucket_error(&self.target, what, e)
    }

    /// What the bucket holds under the prefix, of the objects named (one `LIST` instead of a
    /// `HEAD` per object); `None` when listing is not allowed (object-level keys), and each object
    /// is looked at by itself.
    async fn listing(&self, objects: &[MirrorObject]) -> Result<Option<Listing>, MirrorError> {
        let wanted: std::collections::HashSet<String> =
            objects.iter().map(|o| self.target.key(&o.name)).collect();
        let prefix = (!self.target.prefix.is_empty())
            .then(|| ObjectPath::parse(&self.target.prefix))
            .transpose()
            .map_err(|e| MirrorError::Setup {
                target: self.target.url(),
                detail: format!("the prefix cannot be listed: {e}"),
            })?;
        let mut stream = self.store.list(prefix.as_ref());
        let mut listing = Listing::new();
        while let Some(meta) = stream.next().await {
            match meta {
                // Only the objects asked about are kept: memory follows the dataset, not the bucket.
                Ok(meta) if wanted.contains(meta.location.as_ref()) => {
                    listing.insert(meta.location.to_string(), meta);
                }
                Ok(_) => {}
                // A key that may not list (or no key that works): each object is looked at by
                // itself, which says which.
                Err(e) if refusal(&e, &crate::root_cause(&e)) == Refusal::Credentials => {
                    return Ok(None);
                }
                Err(e) => return Err(self.failed(format!("listing {}", self.target.url()), e)),
            }
        }
        Ok(Some(listing))
    }

    /// Sends `object` unless the bucket has it already (by `listed`, or a `HEAD`); true if bytes
    /// were sent.
    async fn send_object(
        &self,
        source: &Arc<dyn ShardBytes>,
        object: &MirrorObject,
        listed: Option<&Listing>,
        tally: &Tally,
        sent_bytes: &AtomicU64,
    ) -> Result<bool, MirrorError> {
        self.cancel.check().map_err(|_| MirrorError::Cancelled)?;
        let path = self.path(&object.name)?;
        let key = self.target.key(&object.name);
        let part = part_size(object.size, self.options.part_bytes);
        tally.report(&object.name, ShardState::Waiting, 0);
        let there = match listed.map(|listing| listing.get(&key)) {
            // Listed with its ETag (S3, R2), or not listed: the listing says.
            Some(Some(meta)) if meta.e_tag.is_some() => Some(meta.clone()),
            Some(None) => None,
            // Not listable, or listed without an ETag (some S3-compatible servers): ask.
            _ => match self.store.head(&path).await {
                Ok(meta) => Some(meta),
                Err(object_store::Error::NotFound { .. }) => None,
                Err(e) => return Err(self.failed(format!("looking at {key}"), e)),
            },
        };
        let known = self.journal.mirror_done(&self.target_id, &key).await?;
        // A read-back check found other bytes under this key: the bucket's ETag cannot be trusted
        // for it, so it is sent again whatever it says.
        let suspect = known.as_ref().is_some_and(|(_, etag)| etag.is_empty());
        if let Some(meta) = there.filter(|meta| meta.size == object.size && !suspect) {
            let found = meta.e_tag.as_deref().map(bare_etag).unwrap_or_default();
            let same = if known.as_ref() == Some(&(object.size, recorded(&object.sha256, &found))) {
                true
            } else if md5_form(&found) {
                // Another run or another machine sent it: the ETag its bytes give in our parts says
                // whether it is ours (one sent in other parts is sent again).
                let expected = self
                    .local_etag(source, object, part, object.size > part)
                    .await?;
                expected == found
            } else {
                false
            };
            if same {
                self.journal
                    .mirror_finished(
                        &self.target_id,
                        &key,
                        object.size,
                        &recorded(&object.sha256, &found),
                    )
                    .await?;
                tally.bytes_done.fetch_add(object.size, Ordering::Relaxed);
                tally.shards_done.fetch_add(1, Ordering::Relaxed);
                tally.report(&object.name, ShardState::Done, object.size);
                return Ok(false);
            }
        }
        let etag = if object.size <= part {
            self.put_whole(source, object, &path, tally, sent_bytes)
                .await?
        } else {
            self.put_parts(source, object, &path, part, tally, sent_bytes, false)
                .await?
        };
        self.journal
            .mirror_finished(
                &self.target_id,
                &key,
                object.size,
                &recorded(&object.sha256, &etag),
            )
            .await?;
        tally.shards_done.fetch_add(1, Ordering::Relaxed);
        tally.report(&object.name, ShardState::Done, object.size);
        Ok(true)
    }

    /// The ETag `object`'s bytes give when sent in parts of `part` bytes (or whole).
    async fn local_etag(
        &self,
        source: &Arc<dyn ShardBytes>,
        object: &MirrorObject,
        part: u64,
        multipart: bool,
    ) -> Result<String, MirrorError> {
        let mut md5s = Vec::new();
        let mut offset = 0;
        while offset < object.size || (offset == 0 && object.size == 0) {
            self.cancel.check().map_err(|_| MirrorError::Cancelled)?;
            let len = part.min(object.size - offset);
            let (_, md5, _) = read_part(source, object, offset, len, false, Sha256::new()).await?;
            md5s.push(md5);
            offset += len;
            if len == 0 {
                break;
            }
        }
        Ok(if multipart {
            multipart_etag(&md5s)
        } else {
            md5s.first().map(|m| hex(m)).unwrap_or_default()
        })
    }

    /// One `PUT` of the whole object; its ETag checked.
    async fn put_whole(
        &self,
        source: &Arc<dyn ShardBytes>,
        object: &MirrorObject,
        path: &ObjectPath,
        tally: &Tally,
        sent_bytes: &AtomicU64,
    ) -> Result<String, MirrorError> {
        let key = self.target.key(&object.name);
        tally.report(&object.name, ShardState::Sending { from: 0 }, 0);
        let (bytes, md5, whole) =
            read_part(source, object, 0, object.size, true, Sha256::new()).await?;
        self.sealed(object, whole)?;
        let put = self
            .cancellable(self.store.put(path, PutPayload::from(bytes)))
            .await?
            .map_err(|e| self.failed(format!("sending {key}"), e))?;
        sent_bytes.fetch_add(object.size, Ordering::Relaxed);
        tally.bytes_done.fetch_add(object.size, Ordering::Relaxed);
        let found = put.e_tag.as_deref().map(bare_etag).unwrap_or_default();
        let expected = hex(&md5);
        self.confirm(&key, &expected, &found, object).await?;
        Ok(found)
    }

    /// A multipart upload in parts of `part` bytes, resumed from the journal; each part's ETag and
    /// the object's checked. An upload the bucket lost is started over once (`restarted`).
    #[allow(clippy::too_many_arguments)]
    async fn put_parts(
        &self,
        source: &Arc<dyn ShardBytes>,
        object: &MirrorObject,
        path: &ObjectPath,
        part: u64,
        tally: &Tally,
        sent_bytes: &AtomicU64,
        restarted: bool,
    ) -> Result<String, MirrorError> {
        let key = self.target.key(&object.name);
        let count = object.size.div_ceil(part);
        let recorded = self
            .journal
            .mirror_entry(&self.target_id, &key)
            .await?
            .filter(|entry| {
                // The journal is untrusted: an upload of another size or part size, or an id that
                // is not one an S3 service would give, is started over.
                entry.size == object.size
                    && entry.part_bytes == part
                    && !entry.upload_id.is_empty()
                    && entry.upload_id.len() <= 1024
                    && entry.upload_id.bytes().all(|b| b.is_ascii_graphic())
            });
        let (upload_id, mut confirmed) = match recorded {
            Some(entry) => {
                let parts: std::collections::BTreeMap<u32, (String, [u8; 16])> = entry
                    .parts
                    .into_iter()
                    .filter_map(|(n, etag, md5)| {
                        let md5 = md5_bytes(&md5)?;
                        (u64::from(n) >= 1 && u64::from(n) <= count && etag.len() <= 256)
                            .then_some((n, (etag, md5)))
                    })
                    .collect();
                (entry.upload_id, parts)
            }
            None => {
                if let Some(stale) = self.journal.mirror_entry(&self.target_id, &key).await? {
                    // Best effort: the bucket's lifecycle rules end it otherwise.
                    let _ = self.store.abort_multipart(path, &stale.upload_id).await;
                }
                let id = self
                    .store
                    .create_multipart(path)
                    .await
                    .map_err(|e| self.failed(format!("starting the upload of {key}"), e))?;
                self.journal
                    .mirror_started(&self.target_id, &key, object.size, part, &id)
                    .await?;
                (id, Default::default())
            }
        };
        let resumed: u64 = confirmed
            .keys()
            .map(|&n| part.min(object.size - (u64::from(n) - 1) * part))
            .sum();
        tally.bytes_done.fetch_add(resumed, Ordering::Relaxed);
        tally.report(&object.name, ShardState::Sending { from: resumed }, resumed);
        let mut object_done = resumed;
        // Every byte of the object goes through one SHA-256, in order, compared with the seal
        // before the upload is completed: parts confirmed by an earlier run are read again (not
        // sent) and must give the MD5 the journal recorded, or the upload starts over.
        let mut whole = Sha256::new();
        for n in 1..=count {
            let number = u32::try_from(n).unwrap_or(u32::MAX);
            self.cancel.check().map_err(|_| MirrorError::Cancelled)?;
            let offset = (n - 1) * part;
            let len = part.min(object.size - offset);
            if let Some((_, recorded)) = confirmed.get(&number) {
                let recorded = *recorded;
                let read = read_part(source, object, offset, len, false, whole).await;
                let (_, md5, hashed) = self.or_discard(read, path, &upload_id, &key).await?;
                whole = hashed;
                if md5 != recorded && !restarted {
                    // The part sent before is not what the source gives now: start over.
                    let _ = self.store.abort_multipart(path, &upload_id).await;
                    self.journal.mirror_forget(&self.target_id, &key).await?;
                    tally.bytes_done.fetch_sub(object_done, Ordering::Relaxed);
                    return Box::pin(
                        self.put_parts(source, object, path, part, tally, sent_bytes, true),
                    )
                    .await;
                }
                continue;
            }
            let read = read_part(source, object, offset, len, true, whole).await;
            let (bytes, md5, hashed) = self.or_discard(read, path, &upload_id, &key).await?;
            whole = hashed;
            let answer = self
                .cancellable(self.store.put_part(
                    path,
                    &upload_id,
                    (n - 1) as usize,
                    PutPayload::from(bytes),
                ))
                .await?;
            let etag = match answer {
                Ok(PartId { content_id }) => bare_etag(&content_id),
                Err(object_store::Error::NotFound { .. }) if !restarted => {
                    // The bucket ended the upload (expired, aborted): start it over, once.
                    self.journal.mirror_forget(&self.target_id, &key).await?;
                    tally.bytes_done.fetch_sub(object_done, Ordering::Relaxed);
                    tally.report(
                        &object.name,
                        ShardState::Retrying {
                            why: "the bucket no longer has the upload; starting it over".into(),
                            after: Duration::ZERO,
                        },
                        0,
                    );
                    return Box::pin(
                        self.put_parts(source, object, path, part, tally, sent_bytes, true),
                    )
                    .await;
                }
                Err(e) => {
                    return Err(self.failed(format!("sending part {n} of {count} of {key}"), e));
                }
            };
            sent_bytes.fetch_add(len, Ordering::Relaxed);
            if md5_form(&etag) && etag != hex(&md5) {
                return Err(MirrorError::Mismatch {
                    target: self.target.url(),
                    key: format!("{key} part {n}"),
                    expected: hex(&md5),
                    found: etag,
                });
            }
            self.journal
                .mirror_part(&self.target_id, &key, &upload_id, number, &etag, &hex(&md5))
                .await?;
            confirmed.insert(number, (etag, md5));
            object_done += len;
            tally.bytes_done.fetch_add(len, Ordering::Relaxed);
            tally.report(
                &object.name,
                ShardState::Sending { from: resumed },
                object_done,
            );
        }
        let parts: Vec<PartId> = confirmed
            .values()
            .map(|(etag, _)| PartId {
                content_id: format!("\"{etag}\""),
            })
            .collect();
        let md5s: Vec<[u8; 16]> = confirmed.values().map(|(_, md5)| *md5).collect();
        let expected = multipart_etag(&md5s);
        if let Err(e) = self.sealed(object, whole) {
            let _ = self.store.abort_multipart(path, &upload_id).await;
            self.journal.mirror_forget(&self.target_id, &key).await?;
            return Err(e);
        }
        let found = match self.store.complete_multipart(path, &upload_id, parts).await {
            Ok(done) => done.e_tag.as_deref().map(bare_etag).unwrap_or_default(),
            Err(e) => {
                // Completing is not retried by the S3 client (it is not idempotent): the answer
                // may have been lost after the bucket completed it. The object says which.
                match self.store.head(path).await {
                    Ok(meta)
                        if meta.size == object.size
                            && meta.e_tag.as_deref().map(bare_etag).as_deref()
                                == Some(expected.as_str()) =>
                    {
                        expected.clone()
                    }
                    // The bucket no longer has the upload (expired, aborted, cut off mid-complete):
                    // start over, once.
                    _ if !restarted => {
                        let _ = self.store.abort_multipart(path, &upload_id).await;
                        self.journal.mirror_forget(&self.target_id, &key).await?;
                        tally.bytes_done.fetch_sub(object_done, Ordering::Relaxed);
                        return Box::pin(
                            self.put_parts(source, object, path, part, tally, sent_bytes, true),
                        )
                        .await;
                    }
                    _ => {
                        return Err(self.failed(format!("completing the upload of {key}"), e));
                    }
                }
            }
        };
        self.journal.mirror_forget(&self.target_id, &key).await?;
        self.confirm(&key, &expected, &found, object).await?;
        Ok(found)
    }

    /// Runs a request to the bucket (with the S3 client's own retries inside it) until it ends or
    /// the mirror is cancelled, whichever is first: a cancel is seen within 200 ms.
    async fn cancellable<T>(
        &self,
        request: impl std::future::Future<Output = T>,
    ) -> Result<T, MirrorError> {
        tokio::pin!(request);
        loop {
            tokio::select! {
                done = &mut request => return Ok(done),
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    if self.cancel.is_cancelled() {
                        return Err(MirrorError::Cancelled);
                    }
                }
            }
        }
    }

    /// The object's bytes as read (their SHA-256 `whole`) must be the sealed ones.
    fn sealed(&self, object: &MirrorObject, whole: Sha256) -> Result<(), MirrorError> {
        let found = hex(&sha2::Digest::finalize(whole));
        if found == object.sha256 {
            return Ok(());
        }
        Err(MirrorError::Read {
            name: object.name.clone(),
            detail: format!(
                "its bytes as read now have SHA-256 {found}, not the sealed {}; a source file changed: seal the folder again (hallmark seal), then mirror the new seal",
                object.sha256
            ),
        })
    }

    /// A part read from the source, or, when the source changed, the upload ended and forgotten:
    /// parts already sent may hold the changed bytes and must never be resumed on.
    async fn or_discard<T>(
        &self,
        read: Result<T, MirrorError>,
        path: &ObjectPath,
        upload_id: &str,
        key: &str,
    ) -> Result<T, MirrorError> {
        match read {
            Ok(read) => Ok(read),
            Err(e) => {
                let _ = self
                    .store
                    .abort_multipart(path, &upload_id.to_owned())
                    .await;
                self.journal.mirror_forget(&self.target_id, key).await?;
                Err(e)
            }
        }
    }

    /// Checks the ETag the bucket answered: the MD5 form must be the one the bytes sent give; any
    /// other form says nothing about the bytes, so the object is read back instead.
    async fn confirm(
        &self,
        key: &str,
        expected: &str,
        found: &str,
        object: &MirrorObject,
    ) -> Result<(), MirrorError> {
        if md5_form(found) {
            if found != expected {
                return Err(MirrorError::Mismatch {
                    target: self.target.url(),
                    key: key.to_owned(),
                    expected: expected.to_owned(),
                    found: found.to_owned(),
                });
            }
            return Ok(());
        }
        let tally = Tally::new(Arc::new(|_: &UploadEvent| {}), object.size, 1);
        let check = self.read_back(object, &tally).await?;
        if !check.ok() {
            return Err(MirrorError::Mismatch {
                target: self.target.url(),
                key: key.to_owned(),
                expected: format!("sha256 {} ({} bytes)", object.sha256, object.size),
                found: format!(
                    "sha256 {} ({} bytes)",
                    check.found_sha256.unwrap_or_default(),
                    check.found_size.unwrap_or_default()
                ),
            });
        }
        Ok(())
    }

    /// Reads `object` from the bucket, hashing as it streams.
    async fn read_back(
        &self,
        object: &MirrorObject,
        tally: &Tally,
    ) -> Result<ObjectCheck, MirrorError> {
        let path = self.path(&object.name)?;
        let key = self.target.key(&object.name);
        let mut check = ObjectCheck {
            name: object.name.clone(),
            key: key.clone(),
            expected_size: object.size,
            expected_sha256: object.sha256.clone(),
            found_size: None,
            found_sha256: None,
        };
        let got = match self.store.get(&path).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                tally.report(&object.name, ShardState::Failed, 0);
                return Ok(check);
            }
            Err(e) => return Err(self.failed(format!("reading {key} back"), e)),
        };
        let mut stream = got.into_stream();
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            self.cancel.check().map_err(|_| MirrorError::Cancelled)?;
            let chunk = chunk.map_err(|e| self.failed(format!("reading {key} back"), e))?;
            sha2::Digest::update(&mut hasher, &chunk);
            size += chunk.len() as u64;
            tally
                .bytes_done
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        check.found_size = Some(size);
        check.found_sha256 = Some(hex(&sha2::Digest::finalize(hasher)));
        tally.shards_done.fetch_add(1, Ordering::Relaxed);
        tally.report(
            &object.name,
            if check.ok() {
                ShardState::Done
            } else {
                ShardState::Failed
            },
            size,
        );
        Ok(check)
    }
}

/// Reads `len` bytes of `object` from `offset` on a blocking thread, with their MD5; `keep`:
/// return the bytes too (else only the MD5, for an ETag).
async fn read_part(
    source: &Arc<dyn ShardBytes>,
    object: &MirrorObject,
    offset: u64,
    len: u64,
    keep: bool,
    mut whole: Sha256,
) -> Result<(Vec<u8>, [u8; 16], Sha256), MirrorError> {
    let source = source.clone();
    let object = object.clone();
    let name = object.name.clone();
    tokio::task::spawn_blocking(move || -> io::Result<(Vec<u8>, [u8; 16], Sha256)> {
        let reader: Box<dyn Read + Send> = match &object.content {
            MirrorContent::Shard { cid } => source.open(cid, offset)?,
            MirrorContent::File { path } => {
                let (mut file, meta) = hallmark_core::untrusted::open_regular(path)?;
                if meta.len() != object.size {
                    return Err(io::Error::other(format!(
                        "{} is {} bytes, but the seal names {}; seal again",
                        path.display(),
                        meta.len(),
                        object.size
                    )));
                }
                file.seek(io::SeekFrom::Start(offset))?;
                Box::new(file)
            }
        };
        let mut reader = reader.take(len);
        let mut md5 = Md5::new();
        let mut kept = Vec::with_capacity(if keep { len as usize } else { 0 });
        let mut buffer = vec![0u8; 1 << 20];
        let mut read = 0u64;
        loop {
            let n = reader.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            md5.update(&buffer[..n]);
            sha2::Digest::update(&mut whole, &buffer[..n]);
            if keep {
                kept.extend_from_slice(&buffer[..n]);
            }
            read += n as u64;
        }
        if read != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{read} bytes where {len} were expected"),
            ));
        }
        Ok((kept, md5.finalize().into(), whole))
    })
    .await
    .map_err(|e| MirrorError::Read {
        name: name.clone(),
        detail: e.to_string(),
    })?
    .map_err(|e| match hallmark_core::publish::take_source_error(e) {
        Ok(source) => MirrorError::Source { name, source },
        Err(other) => MirrorError::Read {
            name,
            detail: other.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_etags_are_the_md5_of_the_part_md5s() {
        // Cloudflare's R2 documentation: parts with ETags bce6bf66… and 8165449f… complete as f77dc0ee…-2.
        let parts = [
            md5_bytes("bce6bf66aeb76c7040fdd5f4eccb78e6").unwrap(),
            md5_bytes("8165449fc15bbf43d3b674595cbcc406").unwrap(),
        ];
        assert_eq!(multipart_etag(&parts), "f77dc0eecdebcd774a2a22cb393ad2ff-2");
        assert_eq!(
            bare_etag("\"F77DC0EECDEBCD774A2A22CB393AD2FF-2\""),
            "f77dc0eecdebcd774a2a22cb393ad2ff-2"
        );
        assert!(md5_form("f77dc0eecdebcd774a2a22cb393ad2ff-2"));
        assert!(md5_form("bce6bf66aeb76c7040fdd5f4eccb78e6"));
        assert!(!md5_form("3858f62230ac3c915f300c664312c11f-"));
        assert!(!md5_form("opaque-etag"));
    }

    #[test]
    fn parts_are_equal_within_the_limits() {
        assert_eq!(part_size(100 << 20, 16 << 20), 16 << 20);
        assert_eq!(part_size(100 << 20, 1 << 20), MIN_PART_BYTES);
        // 1 TiB in 16 MiB parts would need 65,536 parts: raised to whole MiB under 10,000 parts.
        let part = part_size(1 << 40, 16 << 20);
        assert!((1u64 << 40).div_ceil(part) <= MAX_PARTS, "{part}");
        assert_eq!(part % (1 << 20), 0);
        assert_eq!(part_size(u64::MAX / 2, 16 << 20), MAX_PART_BYTES);
    }
}
