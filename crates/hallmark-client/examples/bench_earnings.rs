//! Earnings benchmark: verify and aggregate N receipts (default 1,000,000) stored in
//! `earnings.sqlite`, against one checkpoint, timed next to `sha256sum` over the same receipt bytes.
//!
//! Setup (not timed as verification): N receipts of one creator over 4 shards, their commitments
//! appended to a C2SP log (memory tiles), one signed checkpoint, one signed statement counting
//! them all; everything written through `EarningsStore` as `earnings fetch` writes it. Timed: the
//! store write; then `verify_stored` (read every row back from SQLite, parse and check every
//! receipt, hash it, check all inclusions against the checkpoint's tiles, check the statement's
//! signature and totals, tally) plus the summary by day; then `sha256sum` over a file holding the
//! same receipt bytes. Run: `scripts/bench-earnings` (`HALLMARK_BENCH_RECEIPTS` sets N).

use std::collections::BTreeMap;
use std::time::Instant;

use hallmark_client::earnings::{self, EarningsStore, PayoutState, store::MarketRecord};
use hallmark_core::did::SigningIdentity;
use hallmark_core::earnings::statement::{self, Period};
use hallmark_core::earnings::summary::{self, By};
use hallmark_core::earnings::verify::PublishedVersion;
use hallmark_core::earnings::{ByteRange, Receipt, ReceiptStatus, money};
use hallmark_core::tlog::{self, EMPTY_ROOT, MemoryTiles};
use rust_decimal::Decimal;

const ORIGIN: &str = "http://127.0.0.1:9";
const LOG: &str = "127.0.0.1:9/log";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: u64 = std::env::var("HALLMARK_BENCH_RECEIPTS")
        .ok()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let market = SigningIdentity::generate();
    let creator = SigningIdentity::generate().public().to_string();
    let shards: Vec<String> = (0..4).map(|i| format!("bafkreishard{i}")).collect();
    let price = Decimal::new(7, 4);
    let rate = Decimal::new(8, 1);

    eprintln!("generating {count} receipts, their log and statement…");
    let receipts: Vec<(u64, Receipt)> = (0..count)
        .map(|n| {
            let samples = 1 + n % 5;
            let amount = money::amount(samples, price).expect("amount");
            let receipt = Receipt {
                id: format!("r_{n:032x}"),
                time: format!("2026-11-{:02}T{:02}:{:02}:00Z", 1 + n % 28, n % 24, n % 60),
                marketplace: market.public().to_string(),
                creator: creator.clone(),
                dataset: "d_0123456789abcdef0123456789abcdef".into(),
                version: "v_0123456789abcdef0123456789abcdef".into(),
                shard: shards[(n % 4) as usize].clone(),
                range: ByteRange {
                    first: 512 * n,
                    last: 512 * n + 4095,
                },
                samples,
                buyer: format!("b_{:032x}", n % 97),
                price,
                amount,
                share_rate: rate,
                creator_share: money::creator_share(amount, rate).expect("share"),
                currency: "USD".into(),
            };
            (n, receipt)
        })
        .collect();
    let bodies: Vec<Vec<u8>> = receipts.iter().map(|(_, r)| r.canonical_bytes()).collect();
    let commitments: Vec<[u8; 32]> = receipts.iter().map(|(_, r)| r.commitment().0).collect();
    let mut tiles = MemoryTiles::default();
    let batch = tlog::append(&tiles, 0, &EMPTY_ROOT, &commitments)?;
    tiles.write_all(&batch.writes);
    let note = tlog::sign_checkpoint(&market, LOG, batch.size, &batch.root)?;
    let claims = statement::claims(
        &creator,
        1,
        Period {
            start: "2026-11-01T00:00:00Z".into(),
            end: "2026-12-01T00:00:00Z".into(),
        },
        None,
        &receipts,
        note.clone(),
    )?;
    let signed = statement::issue(
        &market,
        "urn:hallmark:statement:s_1",
        &claims,
        "2026-12-01T00:00:10Z",
    )?;
    let statement_bytes = serde_json::to_vec(&signed)?;

    let store = EarningsStore::open(dir.path()).await?;
    let timer = Instant::now();
    store
        .set_market(
            ORIGIN,
            &MarketRecord {
                marketplace: market.public().to_string(),
                creator: creator.clone(),
                log_origin: LOG.into(),
            },
        )
        .await?;
    store
        .put_statement(
            ORIGIN,
            1,
            &format!("s_{:032x}", 1),
            &statement_bytes,
            &PayoutState {
                status: "pending".into(),
                reference: None,
                paid_at: None,
            },
        )
        .await?;
    let rows: Vec<(u64, Vec<u8>)> = (0..count).zip(bodies.iter().cloned()).collect();
    for chunk in rows.chunks(10_000) {
        store.put_receipts(ORIGIN, chunk).await?;
    }
    store.put_checkpoint(ORIGIN, &note).await?;
    let paths = tlog::inclusion_tiles(batch.size, &(0..count).collect::<Vec<_>>())?;
    for path in &paths {
        store.put_tile(ORIGIN, path, &tiles.files[path]).await?;
    }
    store
        .put_version(
            ORIGIN,
            &PublishedVersion {
                version: "v_0123456789abcdef0123456789abcdef".into(),
                price,
                currency: "USD".into(),
                shards: shards.iter().cloned().collect(),
            },
            "journal",
        )
        .await?;
    let write_seconds = timer.elapsed().as_secs_f64();
    drop(rows);
    drop(receipts);

    // Timed: read back, verify, aggregate.
    // The store read alone, for the breakdown (verify_stored reads it again).
    let timer = Instant::now();
    drop(store.load(ORIGIN).await?);
    let load_seconds = timer.elapsed().as_secs_f64();
    let timer = Instant::now();
    let (stored, verification) = earnings::verify_stored(
        &store,
        ORIGIN,
        &market.public(),
        &creator,
        "2026-12-02T00:00:00Z",
    )
    .await?;
    let check_seconds = timer.elapsed().as_secs_f64() - load_seconds;
    let days = summary::summarize(&verification, By::Day, &stored.paid());
    let verify_seconds = timer.elapsed().as_secs_f64();
    assert!(
        verification.findings.is_empty(),
        "{:?}",
        &verification.findings[..verification.findings.len().min(3)]
    );
    let counted = verification.with_status(ReceiptStatus::Statemented).count() as u64;
    assert_eq!(counted, count);
    let share: Decimal = days.iter().map(|l| l.statemented).sum();
    assert_eq!(share, verification.statemented.totals[0].creator_share);

    // The baseline: sha256sum over the same receipt bytes, in one file.
    let file = dir.path().join("receipts.jsonl");
    let mut all = Vec::with_capacity(bodies.iter().map(|b| b.len() + 1).sum());
    for body in &bodies {
        all.extend_from_slice(body);
        all.push(b'\n');
    }
    std::fs::write(&file, &all)?;
    let _ = std::process::Command::new("sha256sum")
        .arg(&file)
        .output()?; // warm the page cache
    let timer = Instant::now();
    let out = std::process::Command::new("sha256sum")
        .arg(&file)
        .output()?;
    let sha_seconds = timer.elapsed().as_secs_f64();
    assert!(out.status.success());

    let report: BTreeMap<&str, serde_json::Value> = [
        ("receipts", count.into()),
        ("receiptBytes", (all.len() as u64).into()),
        ("tiles", (paths.len() as u64).into()),
        ("storeWriteSeconds", round(write_seconds)),
        ("verifyAndAggregateSeconds", round(verify_seconds)),
        ("ofWhichStoreReadSeconds", round(load_seconds)),
        ("ofWhichVerifySeconds", round(check_seconds.max(0.0))),
        ("sha256sumSeconds", round(sha_seconds)),
        ("ratioToSha256sum", round(verify_seconds / sha_seconds)),
        (
            "statementedShare",
            verification.statemented.totals[0]
                .creator_share
                .to_string()
                .into(),
        ),
    ]
    .into_iter()
    .collect();
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn round(seconds: f64) -> serde_json::Value {
    ((seconds * 1000.0).round() / 1000.0).into()
}
