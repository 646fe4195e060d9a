//! Shard uploads to a marketplace over tus 1.0.0: resumable from a journal, parallel, bounded in memory, retried by kind of failure.
//!
//! [`Uploader::upload`] asks `POST /v1/shards/missing` which shards the marketplace lacks and
//! sends only those, a configurable number at a time. Each shard's bytes come from a
//! [`ShardBytes`] (for a sealed dataset, the core's [`ShardSource`], which streams them from the
//! source files): a blocking reader runs on a blocking thread and hands chunks to the request body
//! through a bounded channel, so a stream holds at most [`UploadOptions::buffer_bytes`] plus one
//! chunk whatever the shard size.
//!
//! Per shard: the journal's upload is asked for its offset (`HEAD`; gone → a new upload), or one is
//! created (`POST` with `Upload-Length` and `Upload-Metadata: cid …`); then `PATCH` bodies of at
//! most [`UploadOptions::patch_bytes`] go from the server's offset. The bytes are hashed while sent:
//! the [`ShardSource`] checks every source file against the seal as it streams it, and the
//! marketplace checks the whole shard's SHA-256 against its CID before storing it (so a body
//! damaged in transit fails the shard, which starts over). With [`UploadOptions::checksum`] each
//! body also carries `Upload-Checksum` (its SHA-256, from reading the range once more before
//! sending it), so damage is caught per body; it costs a second read and hash of every byte, so it
//! is off by default. Every offset the server confirms goes into the journal, so a restart re-sends
//! at most the bodies that were in flight.
//!
//! Failures are classified: no connection, a cut or stalled one (the watchdog: no body bytes taken
//! and no answer for [`UploadOptions::stall`]), 408, 423, 429 (after its `Retry-After`), 409
//! (resynchronised by `HEAD`), 507 and 5xx are retried with exponential backoff and jitter until
//! [`UploadOptions::retry_budget`] passes without progress; any other refusal stops at once with a
//! message that says what to do, and so does a source file changed since the seal (named; the
//! server's partial upload is deleted, since bytes of the changed file may have been sent).

pub mod journal;

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use hallmark_core::progress::CancelToken;
use hallmark_core::publish::{self, ShardSource};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};

pub use self::journal::{Journal, JournalEntry, JournalError, PublishRecord};
use crate::{ClientError, MarketClient, Origin};

/// Where a reader of shard bytes comes from: opened at a byte offset, read on a blocking thread.
pub trait ShardBytes: Send + Sync + 'static {
    /// The bytes of shard `cid` from `offset` to its end.
    fn open(&self, cid: &str, offset: u64) -> io::Result<Box<dyn Read + Send>>;
}

impl ShardBytes for ShardSource {
    fn open(&self, cid: &str, offset: u64) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(
            self.reader(cid, offset).map_err(io::Error::other)?,
        ))
    }
}

/// A shard to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    pub cid: String,
    pub size: u64,
}

/// How to upload. The defaults suit a creator's connection; tests shorten the times.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Shards sent at once.
    pub streams: usize,
    /// The most bytes one `PATCH` carries (what a cut connection costs at worst).
    pub patch_bytes: u64,
    /// The size of each chunk read from the source and handed to the connection.
    pub chunk_bytes: usize,
    /// Bytes read ahead per stream, waiting for the connection.
    pub buffer_bytes: usize,
    /// Send `Upload-Checksum` with each `PATCH` (costs a second read and hash of every byte; the
    /// marketplace checks the whole shard against its CID either way).
    pub checksum: bool,
    /// A request that moves no byte and gets no answer for this long is ended and retried.
    pub stall: Duration,
    /// How long a shard may keep failing without any progress before the upload gives up.
    pub retry_budget: Duration,
    /// The first backoff; it doubles per failure up to `backoff_max`, with jitter.
    pub backoff_first: Duration,
    pub backoff_max: Duration,
    /// The most bytes per second handed to the connections, all streams together (`None`: no limit).
    pub max_bytes_per_second: Option<u64>,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            streams: 4,
            patch_bytes: 64 << 20,
            chunk_bytes: 1 << 20,
            buffer_bytes: 8 << 20,
            checksum: false,
            stall: Duration::from_secs(30),
            retry_budget: Duration::from_secs(15 * 60),
            backoff_first: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
            max_bytes_per_second: None,
        }
    }
}

/// Where one shard's upload is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardState {
    /// Not started yet.
    Waiting,
    /// Sending, this attempt having started at `from` (more than 0: resumed).
    Sending { from: u64 },
    /// Failed for a reason worth retrying; tries again after `after`.
    Retrying { why: String, after: Duration },
    /// Stored by the marketplace.
    Done,
    /// Stopped for good (the error says why).
    Failed,
}

/// One progress report: the shard it is about and the totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadEvent {
    pub cid: String,
    pub state: ShardState,
    /// Bytes of this shard the server confirmed, or handed to the connection while sending.
    pub shard_bytes: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub shards_done: u64,
    pub shards_total: u64,
}

/// Receives progress; must be cheap (called for every chunk).
pub type OnProgress = Arc<dyn Fn(&UploadEvent) + Send + Sync>;

/// Forwards upload progress to a core [`Progress`](hallmark_core::progress::Progress) sink, as
/// every other long job reports it: phase `Uploading`, shards as items, bytes, and the shard's
/// state in words as the message (rate and time left are the shell's, from bytes over time).
pub fn to_progress(sink: Arc<dyn hallmark_core::progress::Progress>) -> OnProgress {
    use hallmark_core::progress::{Phase, ProgressEvent};
    Arc::new(move |event: &UploadEvent| {
        let short = event.cid.get(..16).unwrap_or(&event.cid);
        let state = match &event.state {
            ShardState::Waiting => format!("{short}… waiting"),
            ShardState::Sending { .. } => format!(
                "{short}… sending ({} of its bytes confirmed)",
                event.shard_bytes
            ),
            ShardState::Retrying { why, after } => {
                format!("{short}… retrying in {} s: {why}", after.as_secs())
            }
            ShardState::Done => format!("{short}… stored"),
            ShardState::Failed => format!("{short}… failed"),
        };
        sink.report(&ProgressEvent {
            phase: Phase::Uploading,
            items_done: event.shards_done,
            items_total: Some(event.shards_total),
            bytes_done: event.bytes_done,
            bytes_total: Some(event.bytes_total),
            message: Some(state),
        });
    })
}

/// What an upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadReport {
    /// Shards the marketplace lacked, all now stored.
    pub uploaded: Vec<String>,
    /// Shards it held already from this creator.
    pub already_held: Vec<String>,
}

/// Why an upload stopped. Each message names the shard and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The marketplace refused for a reason a retry cannot fix.
    #[error("{origin} refused shard {cid} ({status} {code}): {message}; {advice}")]
    Refused {
        origin: String,
        cid: String,
        status: u16,
        code: String,
        message: String,
        advice: &'static str,
    },
    /// Failures worth retrying went on for the whole retry budget with no progress.
    #[error(
        "gave up on shard {cid} after {attempts} attempts in {seconds} s without progress; the last: {last}; check the connection to {origin}, then upload again (it resumes where it stopped)"
    )]
    GaveUp {
        origin: String,
        cid: String,
        attempts: u32,
        seconds: u64,
        last: String,
    },
    /// The shard's source (a file changed since the seal, named by the core's error).
    #[error("shard {cid} cannot be sent: {source}")]
    Source {
        cid: String,
        #[source]
        source: hallmark_core::Error,
    },
    /// Reading the shard's bytes failed otherwise.
    #[error("cannot read shard {cid}: {detail}; check the source folder, then upload again")]
    Read { cid: String, detail: String },
    /// The creator paused or cancelled; what the marketplace confirmed is kept (upload again to
    /// resume).
    #[error("the upload was stopped; uploading again continues where it stopped")]
    Cancelled,
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Sign-in, the missing-shards question, or HTTP setup.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Uploads shards to the marketplace a [`MarketClient`] is signed in to.
#[derive(Debug, Clone)]
pub struct Uploader {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    origin: Origin,
    /// The session's token, and how many times it was renewed.
    token: Mutex<(String, u64)>,
    /// Signs in again when the session ends mid-upload (none: a 401 stops the upload).
    renew: Mutex<Option<Renew>>,
    /// Held while a new session is being made, so that streams renew it once between them.
    renewing: tokio::sync::Mutex<()>,
    journal: Journal,
    options: UploadOptions,
    limit: Option<Arc<RateLimit>>,
    cancel: Mutex<CancelToken>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("origin", &self.origin)
            .field("journal", &self.journal)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Makes a new session when the marketplace says the current one ended (401): its token. Long
/// uploads outlive sessions; the CLI and the app sign in again with the creator's key.
pub type Renew = Arc<
    dyn Fn() -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<String, ClientError>> + Send>,
        > + Send
        + Sync,
>;

/// Paces the bytes every stream hands to its connection to a rate: each chunk reserves its time
/// slot, and its reader thread sleeps until the slot starts.
#[derive(Debug)]
struct RateLimit {
    bytes_per_second: u64,
    next: Mutex<Instant>,
}

impl RateLimit {
    fn new(bytes_per_second: u64) -> RateLimit {
        RateLimit {
            bytes_per_second: bytes_per_second.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Blocks (a reader thread) until `bytes` more may be sent.
    fn wait(&self, bytes: usize) {
        let span = Duration::from_secs_f64(bytes as f64 / self.bytes_per_second as f64);
        let start = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            // Idle time is not saved up as a burst.
            let start = (*next).max(now);
            *next = start + span;
            start
        };
        let now = Instant::now();
        if start > now {
            std::thread::sleep(start - now);
        }
    }
}

/// Totals shared by the streams, and the callback (uploads and mirrors).
pub(crate) struct Tally {
    pub(crate) on_progress: OnProgress,
    pub(crate) bytes_total: u64,
    pub(crate) shards_total: u64,
    pub(crate) bytes_done: AtomicU64,
    pub(crate) shards_done: AtomicU64,
}

impl Tally {
    /// Nothing done yet of `bytes_total` bytes in `shards_total` shards (or objects).
    pub(crate) fn new(on_progress: OnProgress, bytes_total: u64, shards_total: u64) -> Tally {
        Tally {
            on_progress,
            bytes_total,
            shards_total,
            bytes_done: AtomicU64::new(0),
            shards_done: AtomicU64::new(0),
        }
    }

    pub(crate) fn report(&self, cid: &str, state: ShardState, shard_bytes: u64) {
        (self.on_progress)(&UploadEvent {
            cid: cid.to_owned(),
            state,
            shard_bytes,
            bytes_done: self.bytes_done.load(Ordering::Relaxed),
            bytes_total: self.bytes_total,
            shards_done: self.shards_done.load(Ordering::Relaxed),
            shards_total: self.shards_total,
        });
    }
}

/// How one attempt at a shard failed.
enum Failure {
    /// Worth trying again, after `after` if the server said so.
    Retry {
        why: String,
        after: Option<Duration>,
    },
    /// The upload is gone (or its bytes must not be resumed): start a new one.
    Restart {
        why: String,
    },
    /// The session ended (401) while it was the `generation`th: sign in again, then retry.
    Renew {
        generation: u64,
        why: String,
    },
    Stop(UploadError),
}

impl From<JournalError> for Failure {
    fn from(e: JournalError) -> Self {
        Failure::Stop(e.into())
    }
}

impl Uploader {
    /// An uploader for the marketplace `client` is signed in to, keeping its journal in `journal`.
    pub fn new(
        client: &MarketClient,
        journal: Journal,
        options: UploadOptions,
    ) -> Result<Uploader, UploadError> {
        let origin = client.origin().clone();
        let token = client
            .session()
            .ok_or_else(|| ClientError::NotSignedIn {
                origin: origin.to_string(),
            })?
            .token
            .clone();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hallmark-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Unreachable {
                origin: origin.to_string(),
                url: origin.to_string(),
                detail: format!("cannot set up HTTP ({e})"),
            })?;
        Ok(Uploader {
            inner: Arc::new(Inner {
                http,
                origin,
                token: Mutex::new((token, 0)),
                renew: Mutex::new(None),
                renewing: tokio::sync::Mutex::new(()),
                cancel: Mutex::new(CancelToken::new()),
                journal,
                limit: options
                    .max_bytes_per_second
                    .map(|rate| Arc::new(RateLimit::new(rate))),
                options: UploadOptions {
                    streams: options.streams.max(1),
                    patch_bytes: options.patch_bytes.max(1),
                    // Under a rate limit a chunk takes at most about a quarter second, so that
                    // the stall watchdog never mistakes pacing for a stalled connection.
                    chunk_bytes: match options.max_bytes_per_second {
                        Some(rate) => options
                            .chunk_bytes
                            .min(usize::try_from(rate / 4).unwrap_or(usize::MAX).max(4096)),
                        None => options.chunk_bytes,
                    }
                    .max(1),
                    ..options
                },
            }),
        })
    }

    /// The same uploader, stopping soon after `cancel` is cancelled (between chunks) with
    /// [`UploadError::Cancelled`]. Pausing is cancelling: the journal and the marketplace keep
    /// every confirmed byte, and the next upload resumes from there.
    pub fn with_cancel(self, cancel: CancelToken) -> Uploader {
        *self.inner.cancel.lock().unwrap_or_else(|p| p.into_inner()) = cancel;
        self
    }

    /// The same uploader, signing in again through `renew` when the session ends mid-upload
    /// (a 401), instead of stopping.
    pub fn with_renewal(self, renew: Renew) -> Uploader {
        *self.inner.renew.lock().unwrap_or_else(|p| p.into_inner()) = Some(renew);
        self
    }

    /// Which of `cids` the marketplace wants from this creator (`POST /v1/shards/missing`, in
    /// batches), retried like any request.
    pub async fn missing(&self, cids: &[String]) -> Result<Vec<String>, UploadError> {
        let mut missing = Vec::new();
        for batch in cids.chunks(100_000) {
            let mut retry = Retry::new(&self.inner.options);
            let mut renewed = false;
            loop {
                match self.inner.ask_missing(batch).await {
                    Ok(list) => {
                        missing.extend(list);
                        break;
                    }
                    Err(Failure::Stop(e)) => return Err(e),
                    Err(Failure::Renew { generation, why }) => {
                        if renewed {
                            return Err(self.inner.session_ended(&why));
                        }
                        renewed = true;
                        self.inner.renew_session(generation, &why).await?;
                    }
                    Err(Failure::Retry { why, after }) => {
                        let wait = retry.next(
                            after,
                            &why,
                            "(the missing-shards list)",
                            &self.inner.origin,
                        )?;
                        tokio::time::sleep(wait).await;
                    }
                    Err(Failure::Restart { why }) => {
                        let wait = retry.next(
                            None,
                            &why,
                            "(the missing-shards list)",
                            &self.inner.origin,
                        )?;
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
        Ok(missing)
    }

    /// Uploads the shards of `shards` the marketplace lacks, [`UploadOptions::streams`] at a time,
    /// resuming any the journal records. Stops at the first error that a retry cannot fix (the
    /// other streams are ended; the journal keeps what they confirmed).
    pub async fn upload(
        &self,
        source: Arc<dyn ShardBytes>,
        shards: &[Shard],
        on_progress: OnProgress,
    ) -> Result<UploadReport, UploadError> {
        let cids: Vec<String> = shards.iter().map(|s| s.cid.clone()).collect();
        let missing = self.missing(&cids).await?;
        let wanted: std::collections::HashSet<&str> = missing.iter().map(String::as_str).collect();
        let mut queue = VecDeque::new();
        let mut already_held = Vec::new();
        let mut uploaded = Vec::new();
        for shard in shards {
            if wanted.contains(shard.cid.as_str()) {
                if !queue.iter().any(|s: &Shard| s.cid == shard.cid) {
                    queue.push_back(shard.clone());
                    uploaded.push(shard.cid.clone());
                }
            } else {
                already_held.push(shard.cid.clone());
            }
        }
        let tally = Arc::new(Tally::new(
            on_progress,
            queue.iter().map(|s| s.size).sum(),
            queue.len() as u64,
        ));
        for shard in &queue {
            tally.report(&shard.cid, ShardState::Waiting, 0);
        }
        let queue = Arc::new(Mutex::new(queue));
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..self.inner.options.streams {
            let inner = self.inner.clone();
            let queue = queue.clone();
            let source = source.clone();
            let tally = tally.clone();
            workers.spawn(async move {
                loop {
                    let next = queue
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .pop_front();
                    let Some(shard) = next else {
                        return Ok(());
                    };
                    if inner.cancelled() {
                        return Err(UploadError::Cancelled);
                    }
                    if let Err(e) = inner.upload_shard(source.clone(), &shard, &tally).await {
                        tally.report(&shard.cid, ShardState::Failed, 0);
                        return Err(e);
                    }
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
        Ok(UploadReport {
            uploaded,
            already_held,
        })
    }
}

/// Backoff with jitter within a budget that restarts whenever the shard makes progress.
struct Retry {
    first: Duration,
    max: Duration,
    budget: Duration,
    since: Instant,
    attempts: u32,
    streak: u32,
}

impl Retry {
    fn new(options: &UploadOptions) -> Retry {
        Retry {
            first: options.backoff_first,
            max: options.backoff_max,
            budget: options.retry_budget,
            since: Instant::now(),
            attempts: 0,
            streak: 0,
        }
    }

    /// The shard moved forward: the budget and the backoff start again.
    fn progressed(&mut self) {
        self.since = Instant::now();
        self.streak = 0;
    }

    /// How long to wait before the next attempt, or the error that ends the shard.
    fn next(
        &mut self,
        after: Option<Duration>,
        why: &str,
        cid: &str,
        origin: &Origin,
    ) -> Result<Duration, UploadError> {
        self.attempts += 1;
        let exponent = self.streak.min(20);
        self.streak += 1;
        let backoff = self.first.saturating_mul(1 << exponent).min(self.max);
        // Jitter: between half and all of the backoff, so parallel streams do not retry in step.
        let jitter = rand_core::RngCore::next_u64(&mut rand_core::OsRng) % 1000;
        let backoff = backoff / 2 + backoff.mul_f64(jitter as f64 / 2000.0);
        let wait = after.unwrap_or(backoff);
        if self.since.elapsed() + wait > self.budget {
            return Err(UploadError::GaveUp {
                origin: origin.to_string(),
                cid: cid.to_owned(),
                attempts: self.attempts,
                seconds: self.since.elapsed().as_secs(),
                last: why.to_owned(),
            });
        }
        Ok(wait)
    }
}

/// What to tell a creator about a refusal a retry cannot fix.
fn advice(status: u16, code: &str) -> &'static str {
    match (status, code) {
        (413, _) => {
            "the shard is larger than this marketplace accepts: seal with smaller shards (hallmark seal --shard-size), or ask its operator to raise --max-shard-bytes"
        }
        (401, _) => "the session ended: sign in again, then upload again (it resumes)",
        (403, _) => {
            "this account may not upload there: check that you signed in with the right key and joined this marketplace"
        }
        (460, _) | (400, "digest_mismatch") => {
            "the bytes sent are not the shard that was sealed: a source file changed; seal the folder again, then publish"
        }
        _ => "fix what the marketplace names, then upload again (it resumes)",
    }
}

impl Inner {
    /// A tus request with the session's token, and the token's generation: a 401 to it renews
    /// that generation only (a stream whose request was sent before another stream renewed must
    /// not renew again).
    fn request(&self, method: Method, url: &str) -> (reqwest::RequestBuilder, u64) {
        let (token, generation) = self.token();
        let request = self
            .http
            .request(method, url)
            .bearer_auth(token)
            .header("Tus-Resumable", "1.0.0");
        (request, generation)
    }

    /// The session's token and its generation.
    fn token(&self) -> (String, u64) {
        self.token.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn cancelled(&self) -> bool {
        self.cancel
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_cancelled()
    }

    fn cancel_token(&self) -> CancelToken {
        self.cancel
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Makes a new session, unless another stream did since `generation` was current.
    async fn renew_session(&self, generation: u64, why: &str) -> Result<(), UploadError> {
        let renew = self.renew.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(renew) = renew else {
            return Err(self.session_ended(why));
        };
        let _turn = self.renewing.lock().await;
        if self.token().1 != generation {
            return Ok(());
        }
        let token = renew().await?;
        let mut current = self.token.lock().unwrap_or_else(|p| p.into_inner());
        *current = (token, generation + 1);
        Ok(())
    }

    fn session_ended(&self, why: &str) -> UploadError {
        UploadError::Refused {
            origin: self.origin.to_string(),
            cid: "(the session)".into(),
            status: 401,
            code: "unauthorized".into(),
            message: why.to_owned(),
            advice: advice(401, ""),
        }
    }

    /// Sends a request with no big body, bounded by the stall time; the answer with its body.
    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Vec<u8>), Failure> {
        let stall = self.options.stall;
        let call = async {
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body.to_vec()))
        };
        match tokio::time::timeout(stall, call).await {
            Err(_) => Err(Failure::Retry {
                why: format!("no answer in {} s", stall.as_secs_f32()),
                after: None,
            }),
            Ok(Err(e)) => Err(Failure::Retry {
                why: format!("connection failed: {}", crate::root_cause(&e)),
                after: None,
            }),
            Ok(Ok(answer)) => Ok(answer),
        }
    }

    /// Sorts a non-2xx answer into retry, restart or stop.
    fn classify(
        &self,
        cid: &str,
        sent: u64,
        status: StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Failure {
        let (code, message) = match serde_json::from_slice::<crate::wire::ErrorBody>(body) {
            Ok(e) => (
                hallmark_core::json::excerpt(&e.code, 100),
                hallmark_core::json::excerpt(&e.message, 1000),
            ),
            Err(_) => (
                String::new(),
                hallmark_core::json::excerpt(&String::from_utf8_lossy(body), 200),
            ),
        };
        let why = format!("{} {code} {message}", status.as_u16());
        match status.as_u16() {
            408 | 409 | 423 | 507 => Failure::Retry { why, after: None },
            429 => Failure::Retry {
                why,
                after: retry_after(headers),
            },
            404 | 410 => Failure::Restart { why },
            401 if self
                .renew
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some() =>
            {
                Failure::Renew {
                    generation: sent,
                    why,
                }
            }
            s if s >= 500 => Failure::Retry {
                why,
                after: retry_after(headers),
            },
            s => Failure::Stop(UploadError::Refused {
                origin: self.origin.to_string(),
                cid: cid.to_owned(),
                status: s,
                advice: advice(s, &code),
                code,
                message,
            }),
        }
    }

    async fn ask_missing(&self, cids: &[String]) -> Result<Vec<String>, Failure> {
        let url = self.origin.join("/v1/shards/missing");
        let body = serde_json::json!({ "cids": cids }).to_string();
        let (token, sent) = self.token();
        let request = self
            .http
            .post(&url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let (status, headers, bytes) = self.exchange(request).await?;
        if !status.is_success() {
            return Err(
                match self.classify("(the missing-shards list)", sent, status, &headers, &bytes) {
                    Failure::Restart { why } => Failure::Retry { why, after: None },
                    other => other,
                },
            );
        }
        #[derive(serde::Deserialize)]
        struct Missing {
            missing: Vec<String>,
        }
        serde_json::from_slice::<Missing>(&bytes)
            .map(|m| m.missing)
            .map_err(|e| {
                Failure::Stop(
                    ClientError::BadResponse {
                        url,
                        status: status.as_u16(),
                        detail: format!("unexpected JSON ({e})"),
                    }
                    .into(),
                )
            })
    }

    /// Uploads one shard to the end, retrying what is worth retrying.
    async fn upload_shard(
        &self,
        source: Arc<dyn ShardBytes>,
        shard: &Shard,
        tally: &Tally,
    ) -> Result<(), UploadError> {
        let mut retry = Retry::new(&self.options);
        let mut best = 0u64;
        // Sessions renewed for this shard without progress: a second in a row means the new
        // session is refused too, and the upload stops.
        let mut renewals = 0;
        loop {
            if self.cancelled() {
                return Err(UploadError::Cancelled);
            }
            let before = best;
            let outcome = self.attempt(source.clone(), shard, tally, &mut best).await;
            if best > before {
                retry.progressed();
                renewals = 0;
            }
            let (why, after) = match outcome {
                Ok(()) => {
                    tally
                        .bytes_done
                        .fetch_add(shard.size - best, Ordering::Relaxed);
                    tally.shards_done.fetch_add(1, Ordering::Relaxed);
                    tally.report(&shard.cid, ShardState::Done, shard.size);
                    return Ok(());
                }
                Err(Failure::Stop(e)) => return Err(e),
                Err(Failure::Renew { generation, why }) => {
                    renewals += 1;
                    if renewals > 1 {
                        return Err(self.session_ended(&why));
                    }
                    self.renew_session(generation, &why).await?;
                    continue;
                }
                Err(Failure::Restart { why }) => {
                    self.journal
                        .forget(self.origin.as_str(), &shard.cid)
                        .await?;
                    (why, None)
                }
                Err(Failure::Retry { why, after }) => (why, after),
            };
            if self.cancelled() {
                return Err(UploadError::Cancelled);
            }
            let wait = retry.next(after, &why, &shard.cid, &self.origin)?;
            tally.report(&shard.cid, ShardState::Retrying { why, after: wait }, best);
            // Waits in short steps, so that a cancel is seen soon.
            let until = Instant::now() + wait;
            while Instant::now() < until && !self.cancelled() {
                tokio::time::sleep((until - Instant::now()).min(Duration::from_millis(100))).await;
            }
        }
    }

    /// One try: find or create the upload, then PATCH from the server's offset to the end.
    /// `confirmed` is raised to every offset the server confirms.
    async fn attempt(
        &self,
        source: Arc<dyn ShardBytes>,
        shard: &Shard,
        tally: &Tally,
        confirmed: &mut u64,
    ) -> Result<(), Failure> {
        let origin = self.origin.as_str();
        let recorded = self.journal.entry(origin, &shard.cid).await?;
        let (url, mut offset) = match recorded {
            Some(entry) if entry.done => return Ok(()),
            Some(entry) if entry.size == shard.size => {
                let (request, sent) = self.request(Method::HEAD, &entry.url);
                let (status, headers, body) = self.exchange(request).await?;
                if !status.is_success() {
                    return Err(self.classify(&shard.cid, sent, status, &headers, &body));
                }
                (entry.url, self.offset_of(&shard.cid, &headers, shard.size)?)
            }
            _ => self.create(shard).await?,
        };
        confirm(tally, confirmed, offset);
        self.journal
            .confirmed(origin, &shard.cid, offset, offset == shard.size)
            .await?;
        let from = offset;
        tally.report(&shard.cid, ShardState::Sending { from }, offset);
        while offset < shard.size {
            if self.cancelled() {
                return Err(Failure::Stop(UploadError::Cancelled));
            }
            let len = self.options.patch_bytes.min(shard.size - offset);
            offset = self
                .patch(source.clone(), shard, &url, (from, offset), len, tally)
                .await?;
            confirm(tally, confirmed, offset);
            tally.report(&shard.cid, ShardState::Sending { from }, offset);
            self.journal
                .confirmed(origin, &shard.cid, offset, offset == shard.size)
                .await?;
        }
        Ok(())
    }

    /// `POST /v1/uploads`: a new upload of the shard, recorded in the journal.
    async fn create(&self, shard: &Shard) -> Result<(String, u64), Failure> {
        let metadata = format!(
            "cid {}",
            base64::engine::general_purpose::STANDARD.encode(&shard.cid)
        );
        let (request, sent) = self.request(Method::POST, &self.origin.join("/v1/uploads"));
        let request = request
            .header("Upload-Length", shard.size.to_string())
            .header("Upload-Metadata", metadata);
        let (status, headers, body) = self.exchange(request).await?;
        if status != StatusCode::CREATED {
            return Err(
                match self.classify(&shard.cid, sent, status, &headers, &body) {
                    // No upload to lose: a 404 here is not "start again" but a refusal.
                    Failure::Restart { why } => Failure::Retry { why, after: None },
                    other => other,
                },
            );
        }
        let location = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.bad_answer(&shard.cid, status, "a 201 without Location"))?;
        // The upload must be at this marketplace: the token goes with every request to it.
        let url = if location.starts_with('/') {
            self.origin.join(location)
        } else if location.starts_with(&format!("{}/", self.origin.as_str())) {
            location.to_owned()
        } else {
            return Err(self.bad_answer(
                &shard.cid,
                status,
                "a Location at another origin; a marketplace keeps uploads at its own",
            ));
        };
        let offset = self.offset_of(&shard.cid, &headers, shard.size)?;
        self.journal
            .started(self.origin.as_str(), &shard.cid, &url, shard.size, offset)
            .await?;
        Ok((url, offset))
    }

    fn bad_answer(&self, cid: &str, status: StatusCode, detail: &str) -> Failure {
        Failure::Stop(
            ClientError::BadResponse {
                url: format!("{} (upload of {cid})", self.origin.join("/v1/uploads")),
                status: status.as_u16(),
                detail: detail.to_owned(),
            }
            .into(),
        )
    }

    /// The `Upload-Offset` of an answer, at most the shard's size.
    fn offset_of(
        &self,
        cid: &str,
        headers: &reqwest::header::HeaderMap,
        size: u64,
    ) -> Result<u64, Failure> {
        headers
            .get("upload-offset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|n| *n <= size)
            .ok_or_else(|| {
                self.bad_answer(
                    cid,
                    StatusCode::OK,
                    "no Upload-Offset between 0 and the shard's size",
                )
            })
    }

    /// The SHA-256 of `len` bytes of the shard from `offset`, read on a blocking thread.
    async fn checksum(
        &self,
        source: Arc<dyn ShardBytes>,
        cid: &str,
        offset: u64,
        len: u64,
    ) -> Result<[u8; 32], Failure> {
        let owned = cid.to_owned();
        let chunk = self.options.chunk_bytes;
        let read = tokio::task::spawn_blocking(move || -> io::Result<[u8; 32]> {
            let mut reader = source.open(&owned, offset)?;
            let mut hasher = Sha256::new();
            let mut buffer = vec![0u8; chunk];
            let mut left = len;
            while left > 0 {
                let want = usize::try_from(left).map_or(chunk, |n| n.min(chunk));
                let n = reader.read(&mut buffer[..want])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the shard ended early",
                    ));
                }
                hasher.update(&buffer[..n]);
                left -= n as u64;
            }
            Ok(hasher.finalize().into())
        })
        .await
        .map_err(|e| self.read_failure(cid, io::Error::other(e)))?;
        read.map_err(|e| self.read_failure(cid, e))
    }

    /// A failure to read the shard: a changed source stops it (and its partial upload must go).
    fn read_failure(&self, cid: &str, e: io::Error) -> Failure {
        let read = |detail: String| {
            Failure::Stop(UploadError::Read {
                cid: cid.to_owned(),
                detail,
            })
        };
        match publish::take_source_error(e) {
            Ok(source) => Failure::Stop(UploadError::Source {
                cid: cid.to_owned(),
                source,
            }),
            Err(other) => read(other.to_string()),
        }
    }

    /// Deletes the server's partial upload and the journal's record of it (best effort for the
    /// server: an upload left behind expires).
    async fn discard(&self, url: &str, cid: &str) -> Result<(), Failure> {
        let _ = self.exchange(self.request(Method::DELETE, url).0).await;
        self.journal.forget(self.origin.as_str(), cid).await?;
        Ok(())
    }

    /// One `PATCH` of `len` bytes from `offset`; the offset the server confirms.
    async fn patch(
        &self,
        source: Arc<dyn ShardBytes>,
        shard: &Shard,
        url: &str,
        (from, offset): (u64, u64),
        len: u64,
        tally: &Tally,
    ) -> Result<u64, Failure> {
        let checksum = if self.options.checksum {
            match self.checksum(source.clone(), &shard.cid, offset, len).await {
                Ok(sum) => Some(sum),
                Err(Failure::Stop(e @ UploadError::Source { .. })) => {
                    self.discard(url, &shard.cid).await?;
                    return Err(Failure::Stop(e));
                }
                Err(other) => return Err(other),
            }
        } else {
            None
        };
        // The reader runs on a blocking thread; chunks wait in a bounded channel.
        let chunk = self.options.chunk_bytes;
        let depth = (self.options.buffer_bytes / chunk).max(1);
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<io::Result<Vec<u8>>>(depth);
        let failed: Arc<Mutex<Option<io::Error>>> = Arc::default();
        let producer_failed = failed.clone();
        let cid = shard.cid.clone();
        let limit = self.limit.clone();
        let cancel = self.cancel_token();
        let producer = tokio::task::spawn_blocking(move || {
            let mut reader = match source.open(&cid, offset) {
                Ok(reader) => reader,
                Err(e) => {
                    let _ = sender.blocking_send(Err(io::Error::other(e.to_string())));
                    *producer_failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    return;
                }
            };
            let mut left = len;
            while left > 0 {
                if cancel.is_cancelled() {
                    // Ends the body early: the request fails, and the stream sees the cancel.
                    let _ = sender.blocking_send(Err(io::Error::other("cancelled")));
                    return;
                }
                let want = usize::try_from(left).map_or(chunk, |n| n.min(chunk));
                let mut buffer = vec![0u8; want];
                let mut filled = 0;
                while filled < want {
                    match reader.read(&mut buffer[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let _ = sender.blocking_send(Err(io::Error::other(e.to_string())));
                            *producer_failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            return;
                        }
                    }
                }
                if filled < want {
                    let e = io::Error::new(io::ErrorKind::UnexpectedEof, "the shard ended early");
                    let _ = sender.blocking_send(Err(io::Error::other(e.to_string())));
                    *producer_failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    return;
                }
                buffer.truncate(filled);
                left -= filled as u64;
                if let Some(limit) = &limit {
                    limit.wait(filled);
                }
                // The receiver is gone when the request ended: stop reading.
                if sender.blocking_send(Ok(buffer)).is_err() {
                    return;
                }
            }
        });
        let taken = Arc::new(AtomicU64::new(0));
        let body_taken = taken.clone();
        let body = futures_util::stream::poll_fn(move |cx| {
            receiver.poll_recv(cx).map(|item| {
                if let Some(Ok(bytes)) = &item {
                    body_taken.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                }
                item
            })
        });
        let (request, sent) = self.request(Method::PATCH, url);
        let mut request = request
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/offset+octet-stream",
            )
            .header("Upload-Offset", offset.to_string())
            .header(reqwest::header::CONTENT_LENGTH, len.to_string())
            .body(reqwest::Body::wrap_stream(body));
        if let Some(sum) = checksum {
            request = request.header(
                "Upload-Checksum",
                format!(
                    "sha256 {}",
                    base64::engine::general_purpose::STANDARD.encode(sum)
                ),
            );
        }
        let call = async {
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body.to_vec()))
        };
        tokio::pin!(call);
        // The watchdog: the request is ended when no body byte was taken and no answer came
        // for `stall`.
        let stall = self.options.stall;
        let tick = (stall / 4).max(Duration::from_millis(50));
        let mut seen = 0u64;
        let mut moved = Instant::now();
        let answer = loop {
            tokio::select! {
                answer = &mut call => break answer,
                () = tokio::time::sleep(tick) => {
                    let now = taken.load(Ordering::Relaxed);
                    if now != seen {
                        seen = now;
                        moved = Instant::now();
                        tally.report(&shard.cid, ShardState::Sending { from }, offset + now);
                    } else if moved.elapsed() >= stall {
                        producer.abort();
                        return Err(Failure::Retry {
                            why: format!("the connection stalled: nothing moved for {} s", stall.as_secs_f32()),
                            after: None,
                        });
                    }
                }
            }
        };
        let _ = producer.await;
        let source_failure = failed.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(e) = source_failure {
            let failure = self.read_failure(&shard.cid, e);
            if matches!(failure, Failure::Stop(UploadError::Source { .. })) {
                self.discard(url, &shard.cid).await?;
            }
            return Err(failure);
        }
        let (status, headers, body) = answer.map_err(|e| Failure::Retry {
            why: format!("connection failed: {}", crate::root_cause(&e)),
            after: None,
        })?;
        if status != StatusCode::NO_CONTENT && status != StatusCode::OK {
            let failure = self.classify(&shard.cid, sent, status, &headers, &body);
            if let Failure::Stop(UploadError::Refused {
                status: 400 | 460,
                code,
                ..
            }) = &failure
                && (code == "digest_mismatch" || code == "checksum_mismatch")
            {
                // Bytes that are not the sealed ones must not be resumed on.
                self.discard(url, &shard.cid).await?;
            }
            return Err(failure);
        }
        let confirmed = self.offset_of(&shard.cid, &headers, shard.size)?;
        if confirmed < offset {
            return Err(self.bad_answer(&shard.cid, status, "an Upload-Offset that went back"));
        }
        Ok(confirmed)
    }
}

/// Raises the shard's confirmed offset to `offset`, adding what is new to the totals.
fn confirm(tally: &Tally, confirmed: &mut u64, offset: u64) {
    if offset > *confirmed {
        tally
            .bytes_done
            .fetch_add(offset - *confirmed, Ordering::Relaxed);
        *confirmed = offset;
    }
}

/// `Retry-After` in seconds (an HTTP date is left to the backoff).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s.min(3600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_stops_at_the_budget() {
        let options = UploadOptions {
            backoff_first: Duration::from_millis(100),
            backoff_max: Duration::from_millis(400),
            retry_budget: Duration::from_secs(1),
            ..UploadOptions::default()
        };
        let origin = Origin::parse("http://127.0.0.1:1").unwrap();
        let mut retry = Retry::new(&options);
        let waits: Vec<Duration> = (0..4)
            .map(|_| retry.next(None, "503", "bafk", &origin).unwrap())
            .collect();
        assert!(waits[0] >= Duration::from_millis(50) && waits[0] <= Duration::from_millis(100));
        assert!(waits[3] >= Duration::from_millis(200) && waits[3] <= Duration::from_millis(400));
        // Retry-After is honoured as given; past the budget, the shard gives up by name.
        assert_eq!(
            retry
                .next(Some(Duration::from_millis(7)), "429", "bafk", &origin)
                .unwrap(),
            Duration::from_millis(7)
        );
        let err = retry
            .next(Some(Duration::from_secs(2)), "429", "bafk", &origin)
            .unwrap_err();
        assert!(err.to_string().contains("gave up on shard bafk"), "{err}");
        retry.progressed();
        assert!(retry.next(None, "503", "bafk", &origin).unwrap() <= Duration::from_millis(100));
    }

    #[test]
    fn the_rate_limit_paces_chunks_across_streams() {
        let limit = Arc::new(RateLimit::new(1 << 20));
        let start = Instant::now();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let limit = limit.clone();
                std::thread::spawn(move || {
                    for _ in 0..3 {
                        limit.wait(64 << 10);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        // Six chunks of 64 KiB at 1 MiB/s: the last may start after 5/16 s.
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
    }

    #[test]
    fn refusals_say_what_to_do() {
        assert!(advice(413, "shard_too_large").contains("smaller shards"));
        assert!(advice(460, "checksum_mismatch").contains("seal the folder again"));
        assert!(advice(403, "forbidden").contains("right key"));
    }
}
