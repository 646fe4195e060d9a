//! Shard uploads against a real marketplace served in-process, through a fault-injecting TCP proxy.

// Test helpers outside #[test] functions may unwrap too (clippy.toml allows it in tests only).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hallmark_client::MarketClient;
use hallmark_client::upload::{
    Journal, OnProgress, Renew, Shard, ShardState, UploadError, UploadEvent, UploadOptions,
    Uploader,
};
use hallmark_core::dataset::{ResealPolicy, seal_folder};
use hallmark_core::did::SigningIdentity;
use hallmark_core::digest::Sha256Digest;
use hallmark_core::manifest::{Consent, DatasetInfo, ResponsibleAi};
use hallmark_core::progress::{CancelToken, NoProgress};
use hallmark_core::publish::ShardSource;
use hallmark_core::seal::SealOptions;
use hallmark_market::{AppState, Config, Limits, ShiftedClock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to the connections it is told to spoil.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Closes both sides once this many bytes went from client to server.
    Cut { after: u64 },
    /// Stops forwarding anything once this many bytes went from client to server.
    Stall { after: u64 },
    /// Answers the connection's first request with this status instead of forwarding it.
    Answer {
        status: u16,
        retry_after: Option<u64>,
    },
}

/// A TCP proxy in front of the marketplace: forwards, counts the bytes sent upstream, and spoils
/// the next `left` connections with `fault`.
struct Proxy {
    base: String,
    fault: Arc<Mutex<(Option<Fault>, u32)>>,
    injected: Arc<AtomicU32>,
    upstream_bytes: Arc<AtomicU64>,
}

impl Proxy {
    async fn start(listener: TcpListener, upstream: String) -> Proxy {
        let base = format!("http://{}", listener.local_addr().unwrap());
        let fault: Arc<Mutex<(Option<Fault>, u32)>> = Arc::default();
        let injected = Arc::new(AtomicU32::new(0));
        let upstream_bytes = Arc::new(AtomicU64::new(0));
        let (f, i, u) = (fault.clone(), injected.clone(), upstream_bytes.clone());
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let spoil = {
                    let mut f = f.lock().unwrap();
                    match f.0 {
                        Some(fault) if f.1 > 0 => {
                            f.1 -= 1;
                            Some(fault)
                        }
                        _ => None,
                    }
                };
                let (upstream, i, u) = (upstream.clone(), i.clone(), u.clone());
                tokio::spawn(async move {
                    let _ = forward(client, &upstream, spoil, &i, &u).await;
                });
            }
        });
        Proxy {
            base,
            fault,
            injected,
            upstream_bytes,
        }
    }

    fn spoil(&self, fault: Fault, connections: u32) {
        *self.fault.lock().unwrap() = (Some(fault), connections);
        self.injected.store(0, Ordering::SeqCst);
    }
}

async fn forward(
    mut client: TcpStream,
    upstream: &str,
    fault: Option<Fault>,
    injected: &AtomicU32,
    counted: &AtomicU64,
) -> std::io::Result<()> {
    if let Some(Fault::Answer {
        status,
        retry_after,
    }) = fault
    {
        // Read the request's head (and a small body), then answer in the server's place.
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = client.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            head.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&head).to_lowercase();
        let end = text.find("\r\n\r\n").unwrap() + 4;
        let length: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let mut have = head.len() - end;
        while have < length && length <= 1 << 20 {
            let n = client.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            have += n;
        }
        let body = format!(
            r#"{{"code":"injected","message":"the proxy answered {status} in the server's place"}}"#
        );
        let retry = retry_after
            .map(|s| format!("retry-after: {s}\r\n"))
            .unwrap_or_default();
        let answer = format!(
            "HTTP/1.1 {status} Injected\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{retry}connection: close\r\n\r\n{body}",
            body.len()
        );
        injected.fetch_add(1, Ordering::SeqCst);
        client.write_all(answer.as_bytes()).await?;
        client.shutdown().await?;
        return Ok(());
    }
    let server = TcpStream::connect(upstream).await?;
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let down =
        tokio::spawn(async move { tokio::io::copy(&mut server_read, &mut client_write).await });
    let mut sent = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let limit = match fault {
            Some(Fault::Cut { after } | Fault::Stall { after }) => usize::try_from(after - sent)
                .unwrap_or(buf.len())
                .min(buf.len()),
            _ => buf.len(),
        };
        if limit == 0 {
            injected.fetch_add(1, Ordering::SeqCst);
            if let Some(Fault::Stall { .. }) = fault {
                // Hold both connections open and silent.
                tokio::time::sleep(Duration::from_secs(120)).await;
            }
            down.abort();
            return Ok(());
        }
        let n = client_read.read(&mut buf[..limit]).await?;
        if n == 0 {
            let _ = server_write.shutdown().await;
            let _ = down.await;
            return Ok(());
        }
        server_write.write_all(&buf[..n]).await?;
        sent += n as u64;
        counted.fetch_add(n as u64, Ordering::SeqCst);
    }
}

/// A marketplace behind a proxy: its public URL is the proxy's, so sign-ins go through it.
struct Setup {
    proxy: Proxy,
    state: AppState,
    data: tempfile::TempDir,
    key: Arc<SigningIdentity>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn market(limits: Limits) -> Setup {
    let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let back = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = back.local_addr().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(front, upstream).await;
    let config = Config {
        data_dir: data.path().to_owned(),
        database_url: None,
        store_url: None,
        store_options: Vec::new(),
        public_url: proxy.base.clone(),
        creator_share: "0.8".parse().unwrap(),
        limits,
        statement_period_seconds: hallmark_market::config::DEFAULT_STATEMENT_PERIOD_SECONDS,
        open_buyer_signup: false,
    };
    let state = AppState::open(config, Arc::new(ShiftedClock::default()))
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(hallmark_market::serve(state.clone(), back, async {
        let _ = stopped.await;
    }));
    Setup {
        proxy,
        state,
        data,
        key: Arc::new(SigningIdentity::generate()),
        _stop: stop,
    }
}

/// A folder of `files` files of 1 MiB (distinct bytes), sealed in shards of `shard_size`.
fn sealed(files: usize, shard_size: u64) -> (tempfile::TempDir, tempfile::TempDir) {
    let src = tempfile::tempdir().unwrap();
    for i in 0..files {
        let bytes: Vec<u8> = (0..1u32 << 20)
            .map(|b| (b.wrapping_mul(2_654_435_761) >> 13) as u8 ^ i as u8)
            .collect();
        std::fs::write(src.path().join(format!("{i:03}.bin")), bytes).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let info = DatasetInfo {
        name: "takes".into(),
        description: "test takes".into(),
        license: "CC-BY-4.0".into(),
        creator_name: "Ana".into(),
        creator_url: None,
        url: None,
        version: "1.0.0".into(),
        date_published: "2026-11-23".into(),
        keywords: vec![],
        consent: Consent::default(),
        rai: ResponsibleAi::default(),
    };
    let options = SealOptions {
        shard_size,
        ..SealOptions::default()
    };
    seal_folder(
        src.path(),
        &out.path().join("ds"),
        &options,
        &info,
        ResealPolicy::default(),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    (src, out)
}

/// Fast retries and a short watchdog, small bodies so faults land mid-shard, each body with its
/// `Upload-Checksum` (the CLI's tests cover the default, without).
fn options() -> UploadOptions {
    UploadOptions {
        streams: 3,
        checksum: true,
        patch_bytes: 1 << 20,
        chunk_bytes: 256 << 10,
        buffer_bytes: 1 << 20,
        stall: Duration::from_secs(1),
        retry_budget: Duration::from_secs(30),
        backoff_first: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        ..UploadOptions::default()
    }
}

struct Run {
    source: Arc<ShardSource>,
    shards: Vec<Shard>,
    journal_dir: tempfile::TempDir,
    _src: tempfile::TempDir,
    _out: tempfile::TempDir,
}

fn run(files: usize) -> Run {
    run_sized(files, 1 << 20)
}

fn run_sized(files: usize, shard_size: u64) -> Run {
    let (src, out) = sealed(files, shard_size);
    let source = ShardSource::open(&out.path().join("ds"), None).unwrap();
    let shards = source
        .shards()
        .map(|s| Shard {
            cid: s.cid.clone(),
            size: s.size,
        })
        .collect();
    Run {
        source: Arc::new(source),
        shards,
        journal_dir: tempfile::tempdir().unwrap(),
        _src: src,
        _out: out,
    }
}

async fn uploader(setup: &Setup, journal_dir: &Path, options: UploadOptions) -> Uploader {
    let mut client = MarketClient::new(&setup.proxy.base).unwrap();
    client
        .sign_in(&setup.key, &setup.state.now())
        .await
        .unwrap();
    client.register("Ana", &setup.state.now()).await.unwrap();
    let journal = Journal::open(journal_dir).await.unwrap();
    Uploader::new(&client, journal, options).unwrap()
}

fn recorder() -> (OnProgress, Arc<Mutex<Vec<UploadEvent>>>) {
    let events: Arc<Mutex<Vec<UploadEvent>>> = Arc::default();
    let kept = events.clone();
    (
        Arc::new(move |e: &UploadEvent| kept.lock().unwrap().push(e.clone())),
        events,
    )
}

/// Every shard is in the marketplace's store with exactly its sealed bytes, and none is missing.
async fn assert_stored(setup: &Setup, run: &Run, uploader: &Uploader) {
    for shard in &run.shards {
        let path = setup
            .data
            .path()
            .join("blobs/shards")
            .join(format!("{}.tar", shard.cid));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(bytes.len() as u64, shard.size);
        assert_eq!(Sha256Digest::of(&bytes).cid(), shard.cid);
    }
    let cids: Vec<String> = run.shards.iter().map(|s| s.cid.clone()).collect();
    assert_eq!(uploader.missing(&cids).await.unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_the_missing_shards_and_only_those() {
    let setup = market(Limits::default()).await;
    let run = run(15);
    assert!(run.shards.len() >= 4, "{} shards", run.shards.len());
    let up = uploader(&setup, run.journal_dir.path(), options()).await;
    let (progress, events) = recorder();
    let report = up
        .upload(run.source.clone(), &run.shards, progress)
        .await
        .unwrap();
    assert_eq!(report.uploaded.len(), run.shards.len());
    assert_stored(&setup, &run, &up).await;
    let last = events.lock().unwrap().last().cloned().unwrap();
    let total: u64 = run.shards.iter().map(|s| s.size).sum();
    assert_eq!((last.bytes_done, last.bytes_total), (total, total));
    assert_eq!(last.shards_done, run.shards.len() as u64);
    // Again: nothing is missing, so no shard byte is sent.
    let before = setup.proxy.upstream_bytes.load(Ordering::SeqCst);
    let (progress, _) = recorder();
    let again = up
        .upload(run.source.clone(), &run.shards, progress)
        .await
        .unwrap();
    assert!(again.uploaded.is_empty());
    assert_eq!(again.already_held.len(), run.shards.len());
    let sent = setup.proxy.upstream_bytes.load(Ordering::SeqCst) - before;
    assert!(sent < 64 << 10, "{sent} bytes sent for nothing missing");
}

/// Uploads everything through the proxy spoiling `connections` connections with `fault`.
async fn survives(fault: Fault, connections: u32, limits: Limits) {
    let setup = market(limits).await;
    let run = run(15);
    let up = uploader(&setup, run.journal_dir.path(), options()).await;
    setup.proxy.spoil(fault, connections);
    let (progress, events) = recorder();
    let started = Instant::now();
    up.upload(run.source.clone(), &run.shards, progress)
        .await
        .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
    assert_eq!(
        setup.proxy.injected.load(Ordering::SeqCst),
        connections,
        "{fault:?} was injected into every spoiled connection"
    );
    let retried = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e.state, ShardState::Retrying { .. }))
        .count();
    // An answer in the server's place may land on any request (the missing-shards question
    // too, which has no shard to report on): that every spoiled connection was seen and the
    // upload still finished is the proof there. A cut or a stall lands in a shard's body.
    if !matches!(fault, Fault::Answer { .. }) {
        assert!(retried >= 1, "{fault:?}: no retry was reported");
    }
    assert_stored(&setup, &run, &up).await;
    eprintln!(
        "{fault:?}: done in {:?} with {retried} retries",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_cut_mid_body_are_resumed() {
    survives(Fault::Cut { after: 1_500_000 }, 3, Limits::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_connection_is_ended_by_the_watchdog() {
    // The server ends the silent body after 2 s (408), so the upload is not locked for long.
    let limits = Limits {
        body_idle_seconds: 2,
        ..Limits::default()
    };
    survives(Fault::Stall { after: 600_000 }, 2, limits).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_and_failing_servers_are_retried() {
    for status in [503, 500] {
        survives(
            Fault::Answer {
                status,
                retry_after: None,
            },
            4,
            Limits::default(),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_waits_for_retry_after() {
    let started = Instant::now();
    survives(
        Fault::Answer {
            status: 429,
            retry_after: Some(1),
        },
        1,
        Limits::default(),
    )
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_refusals_stop_at_once_and_say_why() {
    // A shard larger than the marketplace accepts: 413 from the real server.
    let setup = market(Limits {
        max_shard_bytes: 1 << 20,
        ..Limits::default()
    })
    .await;
    let run = run(6);
    let up = uploader(&setup, run.journal_dir.path(), options()).await;
    let started = Instant::now();
    let (progress, events) = recorder();
    let err = up
        .upload(run.source.clone(), &run.shards, progress)
        .await
        .unwrap_err();
    assert!(
        matches!(err, UploadError::Refused { status: 413, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("seal with smaller shards"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        !events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e.state, ShardState::Retrying { .. })),
        "a 413 is not retried"
    );

    // A 403: one answer, no second request (a new uploader, so its first request opens a
    // connection the proxy spoils).
    let up = uploader(&setup, run.journal_dir.path(), options()).await;
    setup.proxy.spoil(
        Fault::Answer {
            status: 403,
            retry_after: None,
        },
        100,
    );
    let (progress, _) = recorder();
    let err = up
        .upload(run.source.clone(), &run.shards, progress)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    assert_eq!(
        setup.proxy.injected.load(Ordering::SeqCst),
        1,
        "a 403 is asked once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_killed_midway_resumes_from_the_confirmed_offset() {
    let setup = market(Limits::default()).await;
    // Shards of several MiB, sent in bodies of 256 KiB.
    let run = run_sized(15, 3 << 20);
    assert!(
        run.shards.iter().all(|s| s.size > 2 << 20),
        "{:?}",
        run.shards
    );
    let total: u64 = run.shards.iter().map(|s| s.size).sum();
    let one_stream = UploadOptions {
        streams: 1,
        patch_bytes: 256 << 10,
        ..options()
    };
    let up = uploader(&setup, run.journal_dir.path(), one_stream.clone()).await;
    let (reached, mut reached_rx) = tokio::sync::watch::channel(false);
    let first_shard = run.shards[0].size;
    let progress: OnProgress = Arc::new(move |e: &UploadEvent| {
        // Well into the second shard, by what the server confirmed.
        if e.bytes_done > first_shard + (1 << 20) {
            let _ = reached.send(true);
        }
    });
    let task = {
        let (up, source, shards) = (up.clone(), run.source.clone(), run.shards.clone());
        tokio::spawn(async move { up.upload(source, &shards, progress).await })
    };
    reached_rx.wait_for(|r| *r).await.unwrap();
    task.abort();
    let _ = task.await;
    let first_run = setup.proxy.upstream_bytes.load(Ordering::SeqCst);
    assert!(
        first_run < total,
        "killed before the end ({first_run} of {total})"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The server holds part of an unfinished upload.
    let held: Vec<i64> =
        sqlx::query_scalar("SELECT upload_offset FROM uploads WHERE completed_at IS NULL")
            .fetch_all(&setup.state.db.pool)
            .await
            .unwrap();
    assert!(held.iter().any(|o| *o > 0), "{held:?}");

    // The journal recorded the partial upload and the offset the server confirmed.
    let journal = Journal::open(run.journal_dir.path()).await.unwrap();
    let entries = journal.entries(&setup.proxy.base).await.unwrap();
    assert!(
        entries
            .iter()
            .any(|e| !e.done && e.offset > 0 && e.url.starts_with(&setup.proxy.base)),
        "{entries:?}"
    );
    drop(journal);

    // Again, with a new uploader on the same journal.
    let up = uploader(&setup, run.journal_dir.path(), one_stream).await;
    let (progress, events) = recorder();
    up.upload(run.source.clone(), &run.shards, progress)
        .await
        .unwrap();
    assert_stored(&setup, &run, &up).await;
    let resumed_from = events.lock().unwrap().iter().find_map(|e| match e.state {
        ShardState::Sending { from } if from > 0 => Some(from),
        _ => None,
    });
    assert!(resumed_from.is_some(), "no shard resumed from an offset");
    let second_run = setup.proxy.upstream_bytes.load(Ordering::SeqCst) - first_run;
    let confirmed_before: u64 = run.shards[0].size + resumed_from.unwrap_or(0);
    // What the second run sent: the rest, plus requests' heads (and no more than a body re-sent).
    assert!(
        second_run <= total - confirmed_before + (256 << 10) + (64 << 10),
        "second run sent {second_run} of {total}; {confirmed_before} were confirmed before"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_file_edited_after_the_seal_stops_its_shard_by_name() {
    let setup = market(Limits::default()).await;
    let run = run(6);
    let path = run.source.root().join("004.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let up = uploader(&setup, run.journal_dir.path(), options()).await;
    let (progress, _) = recorder();
    let err = up
        .upload(run.source.clone(), &run.shards, progress)
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::Source { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("004.bin") && text.contains("seal the folder again"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_upload_stops_soon_and_the_next_one_resumes() {
    let setup = market(Limits::default()).await;
    let run = run_sized(12, 3 << 20);
    let total: u64 = run.shards.iter().map(|s| s.size).sum();
    // Paced, so that the cancel lands mid-upload.
    let paced = UploadOptions {
        streams: 2,
        patch_bytes: 256 << 10,
        max_bytes_per_second: Some(4 << 20),
        ..options()
    };
    let cancel = CancelToken::new();
    let up = uploader(&setup, run.journal_dir.path(), paced.clone())
        .await
        .with_cancel(cancel.clone());
    let (reached, mut reached_rx) = tokio::sync::watch::channel(false);
    let progress: OnProgress = Arc::new(move |e: &UploadEvent| {
        if e.bytes_done > 2 << 20 {
            let _ = reached.send(true);
        }
    });
    let task = {
        let (up, source, shards) = (up.clone(), run.source.clone(), run.shards.clone());
        tokio::spawn(async move { up.upload(source, &shards, progress).await })
    };
    reached_rx.wait_for(|r| *r).await.unwrap();
    let asked = Instant::now();
    cancel.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the upload did not stop within 5 s of the cancel")
        .unwrap();
    assert!(
        matches!(stopped, Err(UploadError::Cancelled)),
        "{stopped:?}"
    );
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(2), "stopping took {took:?}");
    let first_run = setup.proxy.upstream_bytes.load(Ordering::SeqCst);
    assert!(first_run < total, "cancelled after the end");

    // Resumed by a new upload on the same journal: the rest, not everything again; reported
    // through the core's progress trait like every long job.
    let up = uploader(&setup, run.journal_dir.path(), options()).await;
    let sink = Arc::new(hallmark_core::progress::ProgressRecorder::default());
    up.upload(
        run.source.clone(),
        &run.shards,
        hallmark_client::upload::to_progress(sink.clone()),
    )
    .await
    .unwrap();
    assert_stored(&setup, &run, &up).await;
    let events = sink.events();
    let last = events.last().unwrap();
    assert_eq!(last.phase, hallmark_core::progress::Phase::Uploading);
    assert_eq!(last.items_done, last.items_total.unwrap(), "{last:?}");
    assert_eq!(Some(last.bytes_done), last.bytes_total, "{last:?}");
    assert!(
        events
            .iter()
            .any(|e| e.message.as_deref().is_some_and(|m| m.contains("sending"))),
        "{events:?}"
    );
    let second_run = setup.proxy.upstream_bytes.load(Ordering::SeqCst) - first_run;
    assert!(
        second_run < total,
        "the resumed upload sent {second_run} of {total} bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_ends_mid_upload_is_made_again_and_the_upload_completes() {
    let setup = market(Limits::default()).await;
    let run = run_sized(12, 3 << 20);
    let paced = UploadOptions {
        streams: 2,
        patch_bytes: 256 << 10,
        max_bytes_per_second: Some(8 << 20),
        ..options()
    };
    let mut client = MarketClient::new(&setup.proxy.base).unwrap();
    client
        .sign_in(&setup.key, &setup.state.now())
        .await
        .unwrap();
    client.register("Ana", &setup.state.now()).await.unwrap();
    let first_token = client.session().unwrap().token.clone();
    let journal = Journal::open(run.journal_dir.path()).await.unwrap();
    let renewals = Arc::new(AtomicU64::new(0));
    let renew: Renew = {
        let (base, key, state, renewals) = (
            setup.proxy.base.clone(),
            setup.key.clone(),
            setup.state.clone(),
            renewals.clone(),
        );
        Arc::new(move || {
            let (base, key, state, renewals) =
                (base.clone(), key.clone(), state.clone(), renewals.clone());
            Box::pin(async move {
                renewals.fetch_add(1, Ordering::SeqCst);
                let mut client = MarketClient::new(&base)?;
                Ok(client.sign_in(&key, &state.now()).await?.token)
            })
        })
    };
    let up = Uploader::new(&client, journal, paced)
        .unwrap()
        .with_renewal(renew);
    let (reached, mut reached_rx) = tokio::sync::watch::channel(false);
    let progress: OnProgress = Arc::new(move |e: &UploadEvent| {
        if e.bytes_done > 4 << 20 {
            let _ = reached.send(true);
        }
    });
    let task = {
        let (up, source, shards) = (up.clone(), run.source.clone(), run.shards.clone());
        tokio::spawn(async move { up.upload(source, &shards, progress).await })
    };
    reached_rx.wait_for(|r| *r).await.unwrap();
    // The session ends under the upload (signed out, as an expiry would end it).
    let ended = reqwest::Client::new()
        .delete(format!("{}/v1/auth/sessions/current", setup.proxy.base))
        .bearer_auth(&first_token)
        .send()
        .await
        .unwrap();
    assert!(ended.status().is_success(), "{}", ended.status());
    task.await.unwrap().unwrap();
    assert_eq!(
        renewals.load(Ordering::SeqCst),
        1,
        "one new session for all streams"
    );
    assert_stored(&setup, &run, &up).await;
}
