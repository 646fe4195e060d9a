//! Kill -9 of the real server under concurrent metered downloads, then a restart: every delivered
//! access has exactly one receipt, none is billed twice, and the receipt log catches up, checks
//! (`log check`, Go's tlog) and stays consistent with the checkpoint published before the kill.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use hallmark_core::did::PublicIdentity;
use hallmark_core::digest::Sha256Digest;
use hallmark_core::tlog;
use reqwest::Client;
use serde_json::{Value, json};

use crate::harness::Market;

/// Downloads in flight at once.
const IN_FLIGHT: usize = 16;
/// Fresh access tokens per round.
const TOKENS: usize = 4;
/// Each round's kill comes after this many downloads completed in the round (different moments:
/// early, late, in between).
const KILL_AFTER: [usize; 3] = [150, 450, 280];

/// The real `hallmark-market` binary serving a data folder, with its output in a file.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Serves `data` on `port` (and as `http://127.0.0.1:PORT`, so the log's origin stays the same
    /// across restarts) with open buyer sign-up; returns once the port accepts connections.
    fn start(data: &Path, port: u16, log: &Path) -> Server {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_hallmark-market"))
            .arg("serve")
            .arg("--data")
            .arg(data)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--public-url")
            .arg(format!("http://127.0.0.1:{port}"))
            .arg("--open-buyer-signup")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let server = Server {
            child,
            log: log.to_owned(),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the server did not start within 30 s; its log:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, and waits for the process to be gone.
    fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// One metered access: a token and a byte range of a shard (the whole shard or one sample's data).
#[derive(Debug, Clone)]
struct Planned {
    token: Arc<str>,
    token_id: Arc<str>,
    shard: usize,
    cid: Arc<str>,
    ranged: bool,
    first: u64,
    last: u64,
    /// The request key each receipt keeps: SHA-256 of "token_id\nshard\nfirst\nlast" (metering.rs).
    key: String,
}

impl Planned {
    fn new(
        token: (&Arc<str>, &Arc<str>),
        shard: (usize, &Arc<str>),
        range: Option<(u64, u64)>,
        size: u64,
    ) -> Planned {
        let (first, last) = range.unwrap_or((0, size - 1));
        let (token, token_id) = token;
        let key =
            Sha256Digest::of(format!("{token_id}\n{}\n{first}\n{last}", shard.1).as_bytes()).hex();
        Planned {
            token: token.clone(),
            token_id: token_id.clone(),
            shard: shard.0,
            cid: shard.1.clone(),
            ranged: range.is_some(),
            first,
            last,
            key,
        }
    }

    fn name(&self) -> String {
        format!(
            "{} of {} with token {}",
            if self.ranged {
                format!("bytes {}-{}", self.first, self.last)
            } else {
                "the whole shard".into()
            },
            self.cid,
            self.token_id
        )
    }
}

/// GETs `access`; `Ok` only when the status is right and every byte arrived, and they are the
/// shard's bytes.
async fn download(http: &Client, base: &str, access: &Planned, shard: &[u8]) -> Result<(), String> {
    let mut request = http
        .get(format!("{base}/v1/shards/{}", access.cid))
        .bearer_auth(&*access.token);
    if access.ranged {
        request = request.header("Range", format!("bytes={}-{}", access.first, access.last));
    }
    let response = request.send().await.map_err(|e| format!("request: {e}"))?;
    let status = response.status().as_u16();
    if status != if access.ranged { 206 } else { 200 } {
        return Err(format!(
            "status {status}: {}",
            response.text().await.unwrap_or_default()
        ));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("body cut short: {e}"))?;
    let expected = &shard[access.first as usize..=access.last as usize];
    if body.len() != expected.len() {
        return Err(format!("{} of {} bytes", body.len(), expected.len()));
    }
    // Not a crash symptom: wrong bytes fail the test whenever they arrive.
    assert!(
        body == expected,
        "{}: the bytes are not the shard's",
        access.name()
    );
    Ok(())
}

/// One round of downloads against one server process.
struct Round {
    plan: Vec<Planned>,
    next: AtomicUsize,
    started: Vec<AtomicBool>,
    outcomes: Vec<OnceLock<Result<(), String>>>,
    completed: AtomicUsize,
    /// Set just before the kill: a download that fails earlier is a failure of the test.
    killing: AtomicBool,
    /// Set after the kill: start no more downloads.
    stop: AtomicBool,
    failed_while_up: Mutex<Vec<String>>,
}

impl Round {
    fn new(plan: Vec<Planned>) -> Round {
        Round {
            next: AtomicUsize::new(0),
            started: plan.iter().map(|_| AtomicBool::new(false)).collect(),
            outcomes: plan.iter().map(|_| OnceLock::new()).collect(),
            completed: AtomicUsize::new(0),
            killing: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            failed_while_up: Mutex::new(Vec::new()),
            plan,
        }
    }

    fn failures(&self) -> Vec<String> {
        self.failed_while_up.lock().unwrap().clone()
    }
}

async fn worker(
    round: Arc<Round>,
    http: Client,
    base: String,
    shards: Arc<Vec<(String, Vec<u8>)>>,
) {
    while !round.stop.load(Ordering::SeqCst) {
        let i = round.next.fetch_add(1, Ordering::SeqCst);
        let Some(access) = round.plan.get(i) else {
            return;
        };
        round.started[i].store(true, Ordering::SeqCst);
        let outcome = download(&http, &base, access, &shards[access.shard].1).await;
        match &outcome {
            Ok(()) => {
                round.completed.fetch_add(1, Ordering::SeqCst);
            }
            Err(why) if !round.killing.load(Ordering::SeqCst) => {
                round
                    .failed_while_up
                    .lock()
                    .unwrap()
                    .push(format!("{}: {why}", access.name()));
            }
            Err(_) => {}
        }
        round.outcomes[i].set(outcome).unwrap();
    }
}

/// A small deterministic generator (xorshift64*), for file contents and download order.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, (self.next() % (i as u64 + 1)) as usize);
        }
    }
}

/// 240 samples of one file each, 2 to 10 KiB of noise.
fn dataset_files() -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..240)
        .map(|i| {
            let len = 2048 + (rng.next() % 8192) as usize;
            let bytes = (0..len).map(|_| rng.next() as u8).collect();
            (format!("s{i:03}.bin"), bytes)
        })
        .collect()
}

/// The size a checkpoint note states (its second line).
fn note_size(note: &str) -> u64 {
    note.lines()
        .nth(1)
        .and_then(|line| line.parse().ok())
        .unwrap_or_else(|| panic!("not a checkpoint: {note:?}"))
}

async fn json_of(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The checkpoint file as served (`/log/checkpoint`), if there is one.
async fn served_checkpoint(http: &Client, base: &str) -> Option<String> {
    let response = http
        .get(format!("{base}/log/checkpoint"))
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    response.text().await.ok()
}

/// Waits until both the recorded checkpoint (`GET /v1/log`) and the published file are of `size`
/// entries; returns the note.
async fn wait_for_log(http: &Client, base: &str, size: u64, server: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = json_of(http.get(format!("{base}/v1/log")).send().await.unwrap()).await;
        let recorded = info["checkpoint"].as_str().map(str::to_owned);
        let served = served_checkpoint(http, base).await;
        if let (Some(recorded), Some(served)) = (&recorded, &served)
            && note_size(recorded) == size
            && served == recorded
        {
            return served.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the log did not reach {size} entries within 30 s: recorded {:?}, published {:?}; the \
             server's log:\n{}",
            recorded.as_deref().map(note_size),
            served.as_deref().map(note_size),
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every receipt's (id, access key, log index), read from the data folder's database.
async fn receipts(data: &Path) -> Vec<(String, String, i64)> {
    let url = hallmark_market::db::default_url(data).unwrap();
    let db = hallmark_market::db::Db::connect(&url).await.unwrap();
    let rows = sqlx::query_as("SELECT id, access_key, log_index FROM receipts ORDER BY log_index")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    db.pool.close().await;
    rows
}

/// The receipts by access key, after checking no id, key or log index is there twice and the
/// indexes are dense.
async fn receipts_by_key(data: &Path) -> HashMap<String, String> {
    let rows = receipts(data).await;
    let indexes: Vec<i64> = rows.iter().map(|r| r.2).collect();
    assert_eq!(
        indexes,
        (0..rows.len() as i64).collect::<Vec<_>>(),
        "log indexes are not dense"
    );
    let ids: HashSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(ids.len(), rows.len(), "a receipt id is there twice");
    let mut by_key = HashMap::new();
    for (id, key, _) in &rows {
        if let Some(other) = by_key.insert(key.clone(), id.clone()) {
            panic!("access key {key} has two receipts: {other} and {id}");
        }
    }
    by_key
}

/// Checks `old` is consistent with `new` with the server's proof, both opened with the key.
async fn check_consistent(
    http: &Client,
    base: &str,
    origin: &str,
    marketplace: &PublicIdentity,
    old: &str,
    new: &str,
) {
    let old = tlog::open_checkpoint(old, origin, marketplace)
        .expect("the checkpoint from before the kill opens with the marketplace key");
    let new = tlog::open_checkpoint(new, origin, marketplace)
        .expect("the checkpoint after the restart opens with the marketplace key");
    assert!(
        old.size <= new.size,
        "the log shrank from {} to {}",
        old.size,
        new.size
    );
    let proof = json_of(
        http.get(format!(
            "{base}/v1/log/consistency?from={}&size={}",
            old.size, new.size
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    let hashes = crate::harness::proof_hashes(&proof);
    tlog::check_consistency(&hashes, old.size, &old.root, new.size, &new.root).unwrap_or_else(
        |e| {
            panic!(
                "the checkpoint of {} is not consistent with {}: {e}",
                old.size, new.size
            )
        },
    );
}

/// Runs a command off the runtime's threads: its output, or a panic with it when it fails.
async fn run(mut command: Command, what: &str) -> String {
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_concurrent_downloads_loses_and_repeats_no_receipt() {
    // Published in-process on its own runtime, which is dropped (with the server's lock on the
    // folder) before the real binary serves the same folder.
    let (data, published, marketplace) = tokio::task::spawn_blocking(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let out = runtime.block_on(async {
            let mut market = Market::start().await;
            let published = market
                .publish_files("Ana", "noise", &dataset_files(), 256 << 10)
                .await;
            let data = std::mem::replace(&mut market.data, tempfile::tempdir().unwrap());
            (data, published, market.state.identity.public())
        });
        drop(runtime);
        out
    })
    .await
    .unwrap();
    let data = data.path().to_owned();
    let shards: Arc<Vec<(String, Vec<u8>)>> = Arc::new(published.sealed.shards.clone());
    assert!(shards.len() >= 4, "{} shards", shards.len());
    let cids: Vec<Arc<str>> = shards
        .iter()
        .map(|(cid, _)| Arc::from(cid.as_str()))
        .collect();
    // Each sample's shard and data span.
    let spans: Vec<(usize, u64, u64)> = published
        .samples
        .iter()
        .map(|sample| {
            let shard = shards
                .iter()
                .position(|(cid, _)| format!("{cid}.tar") == sample.shard)
                .unwrap();
            let first = sample.files[0].offset;
            let end = sample.files.last().map(|f| f.offset + f.size).unwrap();
            (shard, first, end - 1)
        })
        .collect();

    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("server.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Server::start(&data, port, &log);
    let http = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let buyer = json_of(
        http.post(format!("{base}/v1/buyers"))
            .json(&json!({ "name": "Crash test buyer" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let key = buyer["apiKey"].as_str().unwrap().to_owned();
    let entitlement = json_of(
        http.post(format!("{base}/v1/buyer/entitlements"))
            .bearer_auth(&key)
            .json(&json!({ "version": published.version }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let entitlement = entitlement["id"].as_str().unwrap().to_owned();
    let info = json_of(http.get(format!("{base}/v1/log")).send().await.unwrap()).await;
    let origin = info["origin"].as_str().unwrap().to_owned();
    let verifier_key = info["verifierKey"].as_str().unwrap().to_owned();
    let go = crate::receipts_log::go_verifier("tlog-verify-crash");

    // Every access requested so far; after each round's retries, all of them were delivered.
    let mut requested: HashMap<String, Planned> = HashMap::new();
    let mut last_before = String::new();
    let mut rng = Rng(42);
    for (round_number, kill_after) in KILL_AFTER.into_iter().enumerate() {
        let round_started = Instant::now();
        // Fresh tokens: every planned access is one no earlier round made.
        let mut plan = Vec::new();
        // A sample is paid for once per token: the sample ranges and the whole shards each get
        // tokens of their own, so every planned access bills its own samples.
        let mint = async || {
            let token = json_of(
                http.post(format!("{base}/v1/buyer/entitlements/{entitlement}/tokens"))
                    .bearer_auth(&key)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            let token_id: Arc<str> = Arc::from(token["tokenId"].as_str().unwrap());
            let token: Arc<str> = Arc::from(token["token"].as_str().unwrap());
            (token, token_id)
        };
        for _ in 0..TOKENS {
            let (token, token_id) = mint().await;
            for &(shard, first, last) in &spans {
                let size = shards[shard].1.len() as u64;
                plan.push(Planned::new(
                    (&token, &token_id),
                    (shard, &cids[shard]),
                    Some((first, last)),
                    size,
                ));
            }
            let (token, token_id) = mint().await;
            for (shard, cid) in cids.iter().enumerate() {
                let size = shards[shard].1.len() as u64;
                plan.push(Planned::new((&token, &token_id), (shard, cid), None, size));
            }
        }
        rng.shuffle(&mut plan);
        let round = Arc::new(Round::new(plan));
        // Fresh connections for each server process.
        let downloads = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let workers: Vec<_> = (0..IN_FLIGHT)
            .map(|_| {
                tokio::spawn(worker(
                    round.clone(),
                    downloads.clone(),
                    base.clone(),
                    shards.clone(),
                ))
            })
            .collect();

        // Some hundreds delivered, then the checkpoint as published, then the kill.
        let deadline = Instant::now() + Duration::from_secs(60);
        while round.completed.load(Ordering::SeqCst) < kill_after {
            let failures = round.failures();
            assert!(
                failures.is_empty(),
                "downloads failed while the server was up: {failures:#?}\nthe server's log:\n{}",
                server.log_text()
            );
            assert!(
                Instant::now() < deadline,
                "round {round_number}: only {} downloads completed in 60 s (of {kill_after}); the \
                 server's log:\n{}",
                round.completed.load(Ordering::SeqCst),
                server.log_text()
            );
            assert!(
                round.next.load(Ordering::SeqCst) < round.plan.len(),
                "round {round_number}: the plan ran out before the kill"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let before = loop {
            match served_checkpoint(&http, &base).await {
                Some(note) if note_size(&note) > 0 => break note,
                _ => {
                    assert!(
                        Instant::now() < deadline,
                        "no checkpoint was published in 60 s"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        // No download starts after this (one per worker may start at the very moment): at most
        // IN_FLIGHT are started and unfinished when the server dies.
        round.killing.store(true, Ordering::SeqCst);
        round.stop.store(true, Ordering::SeqCst);
        server.kill_9();
        for worker in workers {
            tokio::time::timeout(Duration::from_secs(40), worker)
                .await
                .expect("a download did not end within 40 s of the kill")
                .unwrap();
        }
        let failures = round.failures();
        assert!(
            failures.is_empty(),
            "downloads failed while the server was up: {failures:#?}"
        );
        let mut delivered = 0;
        let mut cut = Vec::new();
        for (i, access) in round.plan.iter().enumerate() {
            if !round.started[i].load(Ordering::SeqCst) {
                continue;
            }
            match round.outcomes[i].get() {
                Some(Ok(())) => delivered += 1,
                _ => cut.push(access.clone()),
            }
            requested.insert(access.key.clone(), access.clone());
        }
        assert!(
            cut.len() <= IN_FLIGHT,
            "{} downloads started and not delivered, with {IN_FLIGHT} in flight",
            cut.len()
        );
        let cut_keys: HashSet<&str> = cut.iter().map(|a| a.key.as_str()).collect();
        assert!(
            !cut.is_empty(),
            "the kill cut no download short: it came too late"
        );

        server = Server::start(&data, port, &log);
        let by_key = receipts_by_key(&data).await;
        for (key, receipt) in &by_key {
            assert!(
                requested.contains_key(key),
                "receipt {receipt} is for no access the buyer made"
            );
        }
        // Every delivered access of every round has its receipt (exactly one: keys are unique).
        for (key, access) in &requested {
            if !cut_keys.contains(key.as_str()) {
                assert!(
                    by_key.contains_key(key),
                    "round {round_number}: {} was delivered but has no receipt",
                    access.name()
                );
            }
        }
        // A receipt without a delivered access can only be one in flight at the kill: the receipt
        // was committed and the last chunk was on its way when the server died. The server cannot
        // know the client lost it, so it bills it; a retry of the same access is not billed again.
        let billed_not_delivered: Vec<&String> = by_key
            .keys()
            .filter(|key| cut_keys.contains(key.as_str()))
            .collect();
        assert!(
            billed_not_delivered.len() <= IN_FLIGHT,
            "{} receipts for accesses not delivered, with {IN_FLIGHT} downloads in flight",
            billed_not_delivered.len()
        );
        let billed_not_delivered = billed_not_delivered.len();

        // The log catches up with the receipts on its own, `log check` passes, and the
        // checkpoint from before the kill is consistent with the one after.
        let after = wait_for_log(&http, &base, by_key.len() as u64, &server).await;
        check_consistent(&http, &base, &origin, &marketplace, &before, &after).await;
        let mut log_check = Command::new(env!("CARGO_BIN_EXE_hallmark-market"));
        log_check.args(["log", "check", "--data"]).arg(&data);
        let checked = run(log_check, "hallmark-market log check").await;
        let n = by_key.len();
        assert!(
            checked.contains(&format!("{n} entries"))
                && checked.contains(&format!("{n} receipts match their entries")),
            "{checked}"
        );

        // Every access cut short is delivered on a retry, and billed once in all.
        for access in &cut {
            download(&http, &base, access, &shards[access.shard].1)
                .await
                .unwrap_or_else(|e| panic!("the retry of {} failed: {e}", access.name()));
        }
        let by_key = receipts_by_key(&data).await;
        assert_eq!(
            by_key.keys().collect::<HashSet<_>>(),
            requested.keys().collect::<HashSet<_>>(),
            "the receipts are not exactly the accesses made"
        );

        // Go's tlog: the log as served includes the first and last receipts and is consistent
        // with the checkpoint from before the kill.
        let n = by_key.len() as u64;
        wait_for_log(&http, &base, n, &server).await;
        let old = logs.path().join(format!("before-kill-{round_number}"));
        std::fs::write(&old, &before).unwrap();
        let mut verify = Command::new(&go);
        verify
            .args(["-log", &format!("{base}/log/")])
            .args(["-vkey", &verifier_key, "-origin", &origin])
            .args(["-index", &format!("0,{},{}", n / 2, n - 1)])
            .arg("-old")
            .arg(&old);
        let report: Value = serde_json::from_str(&run(verify, "tlog-verify").await).unwrap();
        assert_eq!(report["size"], n);
        assert_eq!(report["consistent_with"]["size"], note_size(&before));
        eprintln!(
            "round {round_number}: {delivered} delivered before the kill, {} cut short ({} of them \
             billed), checkpoint {} before, {n} receipts after, {:.1} s",
            cut.len(),
            billed_not_delivered,
            note_size(&before),
            round_started.elapsed().as_secs_f64()
        );
        last_before = before;
    }

    // A kill between recording a checkpoint and publishing its file (too narrow a window to hit
    // by timing) leaves the file older than the table, with every receipt already in the log:
    // the restarted server publishes the recorded checkpoint without waiting for a new receipt.
    let n = requested.len() as u64;
    let recorded = wait_for_log(&http, &base, n, &server).await;
    server.kill_9();
    std::fs::write(data.join("blobs/log/checkpoint"), &last_before).unwrap();
    let server = Server::start(&data, port, &log);
    assert_eq!(wait_for_log(&http, &base, n, &server).await, recorded);
}
