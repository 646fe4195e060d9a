//! A hostile re-review of the fixes to the first review's findings (partial billing of cut
//! responses, statements, log check). Tests named `rereview_*` assert what should hold; each
//! finding's comment says what was found; all were fixed by paying for a sample once per token.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hallmark_core::did::SigningIdentity;
use hallmark_core::seal::IndexedSample;
use hallmark_market::metering::{Access, Charged};
use serde_json::Value;

use crate::access::{fetch, token_for};
use crate::harness::{Database, Market, Options, Published};

/// Four samples of one 2 MiB file each, in one shard.
async fn four_big_samples(market: &Market) -> Published {
    let files: Vec<(String, Vec<u8>)> = (0..4u8)
        .map(|i| {
            let bytes = (0..2usize << 20)
                .map(|j| (j % 251) as u8 ^ (i * 37))
                .collect();
            (format!("big{i}.bin"), bytes)
        })
        .collect();
    let published = market.publish_files("Ana", "big", &files, 64 << 20).await;
    assert_eq!(published.sealed.shards.len(), 1);
    published
}

/// `[first, last]` of each sample's data in `cid`.
fn spans(published: &Published, cid: &str) -> Vec<(u64, u64)> {
    let name = format!("{cid}.tar");
    published
        .samples
        .iter()
        .filter(|s: &&IndexedSample| s.shard == name)
        .map(|s| {
            let first = s.files[0].offset;
            let end = s.files.last().map(|f| f.offset + f.size).unwrap();
            (first, end - 1)
        })
        .collect()
}

/// How many samples' data `[first, last]` overlaps.
fn covered(spans: &[(u64, u64)], first: u64, last: u64) -> u64 {
    spans
        .iter()
        .filter(|(a, b)| *a <= last && *b >= first)
        .count() as u64
}

fn billed(receipts: &[Value]) -> u64 {
    receipts
        .iter()
        .map(|r| r["samples"].as_u64().unwrap())
        .sum()
}

/// Reads `response` until at least `want` bytes arrived, then hangs up; returns what arrived.
async fn read_then_hang_up(mut response: reqwest::Response, want: usize) -> Vec<u8> {
    let mut got = Vec::with_capacity(want);
    while got.len() < want {
        match response.chunk().await.unwrap() {
            Some(chunk) => got.extend_from_slice(&chunk),
            None => break,
        }
    }
    drop(response);
    got
}

/// Found (high), fixed: the standard way to resume a cut download (`curl -C -`, `wget -c`, any HTTP resumer) is a new
/// request `Range: bytes=<received>-`. The cut response is billed for every sample it overlapped,
/// the resume for every sample it overlaps: the sample the cut fell in is billed twice (plus any
/// sample the server had pushed into socket buffers), though the buyer got each sample once.
#[tokio::test]
async fn rereview_resume_after_a_cut_bills_each_sample_once() {
    let market = Market::start().await;
    let published = four_big_samples(&market).await;
    let (cid, shard) = &published.sealed.shards[0];
    let spans = spans(&published, cid);
    assert_eq!(spans.len(), 4);
    let key = market.buyer("Bo").await;
    let (_, token) = token_for(&market, &key, &published.version).await;

    // Halfway into sample 1, the connection drops.
    let cut_at = (spans[1].0 + (1 << 20)) as usize;
    let mut got = read_then_hang_up(fetch(&market, &token, cid, None).await, cut_at).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after_cut = market.receipts().await;
    // Resume from the bytes that arrived.
    let response = fetch(&market, &token, cid, Some(&format!("bytes={}-", got.len()))).await;
    assert_eq!(response.status(), 206);
    got.extend_from_slice(&response.bytes().await.unwrap());
    assert_eq!(
        got.as_slice(),
        shard.as_slice(),
        "the resumed download is the shard"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let receipts = market.receipts().await;
    eprintln!(
        "cut at {cut_at}: billed {} in {} receipt(s); after the resume: {} in {} receipt(s): {:?}",
        billed(&after_cut),
        after_cut.len(),
        billed(&receipts),
        receipts.len(),
        receipts
            .iter()
            .map(|r| (r["range"].clone(), r["samples"].clone()))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        billed(&receipts),
        4,
        "a shard of 4 samples downloaded once (cut, then resumed) is billed for more than 4"
    );
}

/// Found (low/medium), fixed: a retry of the same access after a cut billed `samples - billed` but its receipt names the whole
/// requested range: the receipt's `samples` is no longer "the samples whose bytes the range
/// covers" (receipt.rs), and two receipts now claim the same prefix bytes. A creator auditing
/// receipts against the published index cannot tell a retry from a double charge.
#[tokio::test]
async fn rereview_a_retry_after_a_cut_has_receipts_that_match_their_ranges() {
    let market = Market::start().await;
    let published = four_big_samples(&market).await;
    let (cid, shard) = &published.sealed.shards[0];
    let spans = spans(&published, cid);
    let key = market.buyer("Bo").await;
    let (_, token) = token_for(&market, &key, &published.version).await;

    let cut_at = (spans[0].1 + (1 << 20)) as usize;
    read_then_hang_up(fetch(&market, &token, cid, None).await, cut_at).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let response = fetch(&market, &token, cid, None).await;
    assert_eq!(response.bytes().await.unwrap().as_ref(), shard.as_slice());
    // And a plain repeat: nothing more.
    let response = fetch(&market, &token, cid, None).await;
    assert_eq!(response.bytes().await.unwrap().len(), shard.len());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let receipts = market.receipts().await;
    let mut mismatched = Vec::new();
    for r in &receipts {
        let (first, last) = (
            r["range"]["first"].as_u64().unwrap(),
            r["range"]["last"].as_u64().unwrap(),
        );
        let samples = r["samples"].as_u64().unwrap();
        eprintln!(
            "receipt range {first}..={last}: samples {samples}, the range covers {}",
            covered(&spans, first, last)
        );
        if covered(&spans, first, last) != samples {
            mismatched.push((first, last, samples));
        }
    }
    assert_eq!(billed(&receipts), 4, "cut + retry + repeat of one access");
    assert!(
        mismatched.is_empty(),
        "receipts whose samples are not what their range covers: {mismatched:?}"
    );
}

/// Found (high), fixed: the final charge was taken out of the body before it was awaited; when it fails (database busy
/// past the 10 s busy timeout, a full disk, a failover), the body ends with an error and `Drop`
/// finds no charge left: the buyer keeps every byte but the held-back last chunk, and nothing is
/// billed — the very "hang-up takes samples free" the fix was for, reached through a failure.
#[tokio::test]
async fn rereview_a_failed_final_charge_still_bills_the_samples_sent() {
    let market = Market::start().await;
    let published = four_big_samples(&market).await;
    let (cid, shard) = &published.sealed.shards[0];
    let spans = spans(&published, cid);
    let key = market.buyer("Bo").await;
    let (_, token) = token_for(&market, &key, &published.version).await;

    // Another connection holds SQLite's write lock longer than the busy timeout (a long
    // statement run, a backup, an admin's transaction).
    let mut lock = market.state.db.pool.begin().await.unwrap();
    sqlx::query("INSERT INTO checkpoints (size, root, note, issued_at) VALUES (-1, '', '', 0)")
        .execute(&mut *lock)
        .await
        .unwrap();
    let mut response = fetch(&market, &token, cid, None).await;
    assert_eq!(response.status(), 200);
    let mut got = Vec::new();
    let ended = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => got.extend_from_slice(&chunk),
            Ok(None) => break "complete".to_string(),
            Err(e) => break format!("error: {e}"),
        }
    };
    lock.rollback().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received_whole = spans
        .iter()
        .filter(|(_, last)| (*last as usize) < got.len())
        .count();
    assert_eq!(&got[..], &shard[..got.len()]);
    let receipts = market.receipts().await;
    eprintln!(
        "body {ended} after {} of {} bytes ({received_whole} whole samples); billed {} in {} receipt(s)",
        got.len(),
        shard.len(),
        billed(&receipts),
        receipts.len()
    );
    assert!(
        billed(&receipts) >= received_whole as u64,
        "the buyer received {received_whole} whole samples and was billed {}",
        billed(&receipts)
    );
}

/// An access charged straight through the meter.
fn access(creator: &str, token: &str, samples: u64, _last: u64) -> Access {
    crate::harness::test_access(creator, "b_rereview", token, (0, samples as usize - 1))
}

async fn billed_in_db(market: &Market, creator: &str) -> u64 {
    let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM receipts WHERE creator = $1")
        .bind(creator)
        .fetch_all(&market.state.db.pool)
        .await
        .unwrap();
    bodies
        .iter()
        .map(|b| {
            serde_json::from_str::<Value>(b).unwrap()["samples"]
                .as_u64()
                .unwrap()
        })
        .sum()
}

/// Partial and full charges of one token's samples, in every order and concurrently, bill each
/// sample once.
async fn partial_and_full_orders(database: Database) {
    let market = Market::start_with(Options {
        database,
        ..Options::default()
    })
    .await;
    let meter = &market.state.meter;
    let creator = SigningIdentity::generate().public().to_string();
    // Full, then the late partial, then a repeat.
    assert!(matches!(
        meter
            .charge(access(&creator, "t_a", 4, 4095))
            .await
            .unwrap(),
        Charged::New { .. }
    ));
    assert!(matches!(
        meter
            .charge(access(&creator, "t_a", 2, 2047))
            .await
            .unwrap(),
        Charged::AlreadyBilled
    ));
    assert!(matches!(
        meter
            .charge(access(&creator, "t_a", 4, 4095))
            .await
            .unwrap(),
        Charged::AlreadyBilled
    ));
    // Partial, larger partial, full.
    meter
        .charge(access(&creator, "t_b", 2, 2047))
        .await
        .unwrap();
    meter
        .charge(access(&creator, "t_b", 3, 3071))
        .await
        .unwrap();
    meter
        .charge(access(&creator, "t_b", 4, 4095))
        .await
        .unwrap();
    meter.charge(access(&creator, "t_b", 1, 511)).await.unwrap();
    // Concurrently (likely one batch), in both orders, many times.
    for i in 0..50 {
        let token = format!("t_c{i}");
        let (a, b, c) = tokio::join!(
            meter.charge(access(&creator, &token, 4, 4095)),
            meter.charge(access(&creator, &token, 2, 2047)),
            meter.charge(access(&creator, &token, 4, 4095)),
        );
        a.unwrap();
        b.unwrap();
        c.unwrap();
    }
    assert_eq!(billed_in_db(&market, &creator).await, 4 * 52);
}

#[tokio::test]
async fn rereview_partial_and_full_charges_bill_an_access_once_sqlite() {
    partial_and_full_orders(Database::Sqlite).await;
}

#[tokio::test]
async fn rereview_partial_and_full_charges_bill_an_access_once_postgres() {
    partial_and_full_orders(Database::Postgres).await;
}

/// HEAD, 304, 416 and a request refused before any byte leave no receipt;
/// a GET afterwards bills every sample.
#[tokio::test]
async fn rereview_free_answers_do_not_bill_or_mark_an_access() {
    let market = Market::start().await;
    let published = market.publish_dataset("Ana", "takes").await;
    let key = market.buyer("Bo").await;
    let (_, token) = token_for(&market, &key, &published.version).await;
    let (cid, shard) = &published.sealed.shards[0];
    let url = market.url(&format!("/v1/shards/{cid}"));
    let head = market
        .http
        .head(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let samples = head.headers()["x-hallmark-samples"]
        .to_str()
        .unwrap()
        .to_owned();
    let etag = head.headers()["etag"].to_str().unwrap().to_owned();
    let not_modified = market
        .http
        .get(&url)
        .bearer_auth(&token)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    let unsatisfiable = fetch(
        &market,
        &token,
        cid,
        Some(&format!("bytes={}-", shard.len())),
    )
    .await;
    assert_eq!(unsatisfiable.status(), 416);
    let huge = fetch(&market, &token, cid, Some("bytes=99999999999999999999999-")).await;
    assert_eq!(huge.status(), 416);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(market.receipts().await.is_empty());
    let body = fetch(&market, &token, cid, None)
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.len(), shard.len());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(billed(&market.receipts().await).to_string(), samples);
}

/// Found (medium), fixed: `log check` on a healthy running server read the latest checkpoint, then (much later, after
/// re-hashing the log) the list of checkpoints, then (after reading every receipt) the published
/// file. A checkpoint recorded meanwhile is "not consistent" with the older size, or the published
/// file is "not one the marketplace recorded": the operator's check fails on a healthy log.
#[tokio::test]
async fn rereview_log_check_passes_while_receipts_arrive() {
    let market = Market::start().await;
    let meter = market.state.meter.clone();
    let creator = SigningIdentity::generate().public().to_string();
    let mut preload = tokio::task::JoinSet::new();
    for i in 0..3000u64 {
        let (meter, creator) = (meter.clone(), creator.clone());
        preload.spawn(async move {
            meter
                .charge(access(&creator, &format!("p{i}"), 1, 511))
                .await
                .unwrap();
        });
    }
    while preload.join_next().await.is_some() {}
    let stop = Arc::new(AtomicBool::new(false));
    let charged = Arc::new(AtomicU64::new(0));
    let traffic = {
        let (stop, charged, meter, creator) = (
            stop.clone(),
            charged.clone(),
            meter.clone(),
            creator.clone(),
        );
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                meter
                    .charge(access(&creator, &format!("l{i}"), 1, 511))
                    .await
                    .unwrap();
                charged.fetch_add(1, Ordering::Relaxed);
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let public = market.state.identity.public();
    let mut failures = Vec::new();
    let mut runs = 0;
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(20) && failures.is_empty() {
        runs += 1;
        if let Err(e) =
            hallmark_market::log::check(&market.state.db, market.state.blobs.clone(), &public).await
        {
            failures.push(format!("{e:#}"));
        }
    }
    stop.store(true, Ordering::Relaxed);
    traffic.await.unwrap();
    eprintln!(
        "{runs} log checks while {} receipts arrived; failures: {failures:?}",
        charged.load(Ordering::Relaxed)
    );
    assert!(
        failures.is_empty(),
        "log check failed on a healthy running server: {failures:?}"
    );
}

/// The meter under write contention from the rest of the server (statements, buyers): no charge
/// fails with SQLITE_BUSY (a failed charge is a truncated download, or a free cut response).
#[tokio::test]
async fn rereview_meter_never_fails_under_write_contention() {
    let market = Market::start_with(Options {
        statement_period_seconds: 60,
        ..Options::default()
    })
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let others = {
        let (stop, state) = (stop.clone(), market.state.clone());
        let clock = market.clock.clone();
        tokio::spawn(async move {
            let mut i = 0;
            let mut errors = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) =
                    hallmark_market::buyers::add(&state.db, &format!("buyer {i}"), state.now_unix())
                        .await
                {
                    errors.push(format!("buyers::add: {} {}", e.code, e.message));
                }
                clock.advance(7);
                if let Err(e) = hallmark_market::statements::issue_due(&state).await {
                    errors.push(format!("issue_due: {} {}", e.code, e.message));
                }
                i += 1;
            }
            errors
        })
    };
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..40 {
        let meter = market.state.meter.clone();
        let creator = SigningIdentity::generate().public().to_string();
        tasks.spawn(async move {
            let mut failed = Vec::new();
            for i in 0..100 {
                if let Err(e) = meter
                    .charge(access(&creator, &format!("w{t}_{i}"), 1, 511))
                    .await
                {
                    failed.push(format!("{} {}", e.code, e.message));
                }
            }
            failed
        });
    }
    let mut failed = Vec::new();
    while let Some(result) = tasks.join_next().await {
        failed.extend(result.unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    let other_errors = others.await.unwrap();
    eprintln!(
        "meter failures: {} {:?}; other writers' errors: {} {:?}",
        failed.len(),
        failed.first(),
        other_errors.len(),
        other_errors.first()
    );
    assert!(failed.is_empty(), "{} charges failed", failed.len());
    assert!(
        other_errors.is_empty(),
        "{} other writes failed",
        other_errors.len()
    );
}
