//! The receipt log and statements: receipts charged through the meter become entries of a C2SP log
//! that Go's sumdb tlog and note packages verify over HTTP, proofs served check, `log check`
//! catches a changed tile, and closed periods get signed, chained statements a creator can check.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hallmark_core::did::SigningIdentity;
use hallmark_core::earnings::{Receipt, statement};
use hallmark_core::tlog;
use hallmark_market::metering::{Access, Charged};
use serde_json::Value;

use crate::harness::{Database, Market, Options, Store};

/// An access of `samples` samples by buyer `buyer` to a shard of `creator`'s, token `token`.
fn access(creator: &str, buyer: &str, token: &str, samples: u64) -> Access {
    crate::harness::test_access(creator, buyer, token, (0, samples as usize - 1))
}

/// `GET path` as JSON, with `token` as the bearer when given.
async fn get_json(market: &Market, path: &str, token: Option<&str>) -> Value {
    let mut request = market.http.get(market.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap()
}

/// Polls `GET /v1/log` until its checkpoint holds `size` entries; returns the checkpoint note.
async fn wait_for_size(market: &Market, size: u64) -> String {
    for _ in 0..100 {
        let info: Value = get_json(market, "/v1/log", None).await;
        if let Some(note) = info["checkpoint"].as_str()
            && note.lines().nth(1) == Some(&size.to_string())
        {
            return note.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the log did not reach {size} entries within 10 s");
}

/// Builds tools/tlog-verify with Go's packages from Debian (no module proxy) as `name` in the
/// test's temporary folder (one name per test: tests build at once).
pub(crate) fn go_verifier(name: &str) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let build = Command::new("go")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOFLAGS", "")
        .args(["build", "-o"])
        .arg(&out)
        .arg("./tools/tlog-verify")
        .output()
        .expect(
            "`go` runs; run scripts/setup, which installs golang-go and golang-golang-x-mod-dev",
        );
    assert!(
        build.status.success(),
        "go build ./tools/tlog-verify failed (run scripts/setup):\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    out
}

#[tokio::test]
async fn receipts_enter_a_log_that_go_verifies_and_retries_are_not_billed_again() {
    receipts_enter_a_log(Market::start().await).await;
}

#[tokio::test]
async fn receipts_enter_the_log_on_postgresql_and_s3_too() {
    receipts_enter_a_log(
        Market::start_with(Options {
            database: Database::Postgres,
            store: Store::S3,
            ..Options::default()
        })
        .await,
    )
    .await;
}

async fn receipts_enter_a_log(market: Market) {
    let creator = "did:key:z6MkCreatorA";
    let mut log_indexes = Vec::new();
    // Concurrent charges share commits; every one gets its own dense index.
    let mut charges = tokio::task::JoinSet::new();
    for i in 0..300 {
        let meter = market.state.meter.clone();
        charges.spawn(async move {
            meter
                .charge(access(
                    creator,
                    &format!("buyer{}", i % 7),
                    &format!("t{i}"),
                    1 + i % 3,
                ))
                .await
        });
    }
    while let Some(charged) = charges.join_next().await {
        match charged.unwrap().unwrap() {
            Charged::New { log_index, .. } => log_indexes.push(log_index),
            other => panic!("a first access was {other:?}"),
        }
    }
    log_indexes.sort_unstable();
    assert_eq!(log_indexes, (0..300).collect::<Vec<u64>>());

    // The same token, shard and range again: the earlier receipt, no new one.
    let again = market
        .state
        .meter
        .charge(access(creator, "buyer0", "t0", 1))
        .await
        .unwrap();
    assert!(matches!(again, Charged::AlreadyBilled), "{again:?}");

    let note = wait_for_size(&market, 300).await;
    let info: Value = get_json(&market, "/v1/log", None).await;
    let origin = info["origin"].as_str().unwrap().to_owned();
    assert_eq!(
        origin,
        format!("{}/log", market.base.trim_start_matches("http://"))
    );
    let checkpoint =
        tlog::open_checkpoint(&note, &origin, &market.state.identity.public()).unwrap();
    assert_eq!(checkpoint.size, 300);

    // The checkpoint is served no-cache, full tiles immutable.
    let served = market
        .http
        .get(market.url("/log/checkpoint"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.headers()["cache-control"], "no-cache");
    assert_eq!(served.text().await.unwrap(), note);
    let full = market
        .http
        .get(market.url("/log/tile/0/000"))
        .send()
        .await
        .unwrap();
    assert_eq!(full.status(), 200);
    assert!(
        full.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(full.bytes().await.unwrap().len(), 256 * 32);
    for bad in [
        "/log/../marketplace.key",
        "/log/tile/0/0",
        "/log/tile/entries/000.p/0",
    ] {
        let refused = market.http.get(market.url(bad)).send().await.unwrap();
        assert_eq!(refused.status(), 404, "{bad}");
    }

    // Go's note and tlog packages verify the signature and inclusions over HTTP.
    let mut go = Command::new(go_verifier("tlog-verify-market"));
    go.args(["-log", &market.url("/log/")])
        .args(["-vkey", info["verifierKey"].as_str().unwrap()])
        .args(["-origin", &origin, "-index", "0,150,299"]);
    // Off the test's runtime thread, which also serves the marketplace.
    let checked = tokio::task::spawn_blocking(move || go.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        checked.status.success(),
        "Go refused the log: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let report: Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert_eq!(report["size"], 300);

    // A served inclusion proof checks against the receipt's own commitment.
    let body: String = sqlx::query_scalar("SELECT body FROM receipts WHERE log_index = 42")
        .fetch_one(&market.state.db.pool)
        .await
        .unwrap();
    let receipt = Receipt::from_json(body.as_bytes()).unwrap();
    assert_eq!(receipt.creator, creator);
    assert!(receipt.buyer.starts_with("b_") && !receipt.buyer.contains("buyer"));
    let proof_text = market
        .http
        .get(market.url("/v1/log/proof?index=42&size=300"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let proof = tlog::TlogProof::parse(&proof_text).unwrap();
    let leaf = tlog::leaf_hash(&receipt.commitment().0);
    proof
        .verify(&origin, &market.state.identity.public(), &leaf)
        .unwrap();
    let other_leaf = tlog::leaf_hash(&[0u8; 32]);
    assert!(
        proof
            .verify(&origin, &market.state.identity.public(), &other_leaf)
            .is_err()
    );

    // More receipts: the new checkpoint is consistent with the old one.
    for i in 300..340 {
        market
            .state
            .meter
            .charge(access(creator, "buyer1", &format!("t{i}"), 1))
            .await
            .unwrap();
    }
    let newer = wait_for_size(&market, 340).await;
    let newer = tlog::open_checkpoint(&newer, &origin, &market.state.identity.public()).unwrap();
    let consistency: Value = get_json(&market, "/v1/log/consistency?from=300&size=340", None).await;
    let hashes = crate::harness::proof_hashes(&consistency);
    tlog::check_consistency(&hashes, 300, &checkpoint.root, 340, &newer.root).unwrap();

    // `log check` re-hashes everything; a changed tile in storage is caught.
    let public = market.state.identity.public();
    let report = hallmark_market::log::check(&market.state.db, market.state.blobs.clone(), &public)
        .await
        .unwrap();
    assert_eq!((report.size, report.receipts), (340, 340));
    assert!(report.checkpoints >= 2);
    // Changed in the store itself (a local folder or the S3 bucket).
    let blobs = &market.state.blobs;
    let tile = blobs.path("log/tile/0/000");
    let mut bytes = blobs
        .store
        .get(&tile)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    bytes[100] ^= 1;
    blobs.store.put(&tile, bytes.into()).await.unwrap();
    let refused =
        hallmark_market::log::check(&market.state.db, market.state.blobs.clone(), &public).await;
    assert!(refused.is_err(), "a changed tile passed log check");
}

#[tokio::test]
async fn closed_periods_get_signed_chained_statements_each_creator_reads_alone() {
    let market = Market::start_with(Options {
        statement_period_seconds: 3600,
        ..Options::default()
    })
    .await;
    let (alice_key, bob_key) = (SigningIdentity::generate(), SigningIdentity::generate());
    let (alice_token, _) = market.join(&alice_key, "Alice").await;
    market.join(&bob_key, "Bob").await;
    let (alice, bob) = (alice_key.public().to_string(), bob_key.public().to_string());
    let meter = &market.state.meter;
    for i in 0..3 {
        meter
            .charge(access(&alice, "buyer1", &format!("a{i}"), 2))
            .await
            .unwrap();
    }
    meter.charge(access(&bob, "buyer1", "b0", 5)).await.unwrap();
    wait_for_size(&market, 4).await;

    // Nothing is stated while the period is open.
    let statements = |token: String| {
        let market = &market;
        async move {
            let page: Value = get_json(market, "/v1/creator/statements", Some(&token)).await;
            page["statements"]
                .as_array()
                .unwrap_or_else(|| panic!("{page}"))
                .clone()
        }
    };
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(statements(alice_token.clone()).await.is_empty());

    // The period closes: each creator gets a statement.
    market.clock.advance(3600 + 10);
    let alice_token = market.sign_in(&alice_key).await;
    let bob_token = market.sign_in(&bob_key).await;
    let mut first = Vec::new();
    for _ in 0..50 {
        first = statements(alice_token.clone()).await;
        if !first.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(first.len(), 1, "alice's statement was not issued");
    let document = first[0]["document"].as_str().unwrap();
    let now = market.state.now();
    let claims =
        statement::open(document.as_bytes(), &market.state.identity.public(), &now).unwrap();
    assert_eq!((claims.id.as_str(), claims.sequence), (alice.as_str(), 1));
    assert_eq!(claims.previous_statement, None);
    assert_eq!(claims.totals[0].samples, 6);
    assert_eq!(claims.totals[0].gross, "0.0042".parse().unwrap());
    assert_eq!(claims.totals[0].creator_share, "0.00336".parse().unwrap());
    assert_eq!(claims.totals[0].payable, Some("0.00".parse().unwrap()));
    assert_eq!(claims.receipts.len(), 3);

    // Alice's receipts are hers alone, and add up to the statement.
    let page: Value = get_json(&market, "/v1/creator/receipts", Some(&alice_token)).await;
    let receipts: Vec<Receipt> = page["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Receipt::from_json(r["document"].as_str().unwrap().as_bytes()).unwrap())
        .collect();
    assert_eq!(receipts.len(), 3);
    assert!(receipts.iter().all(|r| r.creator == alice));
    statement::check_totals(&claims, &receipts).unwrap();
    // Its checkpoint holds every receipt it counts.
    let origin = format!("{}/log", market.base.trim_start_matches("http://"));
    let anchor =
        tlog::open_checkpoint(&claims.checkpoint, &origin, &market.state.identity.public())
            .unwrap();
    assert!(claims.receipts.iter().all(|i| *i < anchor.size));
    let bobs = statements(bob_token.clone()).await;
    assert_eq!(bobs.len(), 1);
    assert!(!bobs[0]["document"].as_str().unwrap().contains(&alice));

    // A later period chains to the first statement (sessions last an hour: sign in again).
    meter
        .charge(access(&alice, "buyer2", "a9", 1))
        .await
        .unwrap();
    wait_for_size(&market, 5).await;
    market.clock.advance(3600);
    let alice_token = market.sign_in(&alice_key).await;
    let mut both = Vec::new();
    for _ in 0..50 {
        both = statements(alice_token.clone()).await;
        if both.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(both.len(), 2);
    let second = statement::open(
        both[1]["document"].as_str().unwrap().as_bytes(),
        &market.state.identity.public(),
        &market.state.now(),
    )
    .unwrap();
    assert_eq!(second.sequence, 2);
    assert_eq!(
        second.previous_statement.as_deref(),
        first[0]["sha256"].as_str()
    );
    assert_eq!(
        first[0]["sha256"].as_str().unwrap(),
        hallmark_core::digest::Sha256Digest::of(document.as_bytes()).hex()
    );

    // Payout: pending, then paid once with its reference.
    assert_eq!(both[0]["payout"]["status"], "pending");
    let id = both[0]["id"].as_str().unwrap();
    hallmark_market::statements::mark_paid(&market.state.db, id, "SEPA-2026-0042", 1)
        .await
        .unwrap();
    hallmark_market::statements::mark_paid(&market.state.db, id, "SEPA-2026-0042", 2)
        .await
        .unwrap();
    assert!(
        hallmark_market::statements::mark_paid(&market.state.db, id, "OTHER", 3)
            .await
            .is_err()
    );
    let after = statements(alice_token).await;
    assert_eq!(after[0]["payout"]["status"], "paid");
    assert_eq!(after[0]["payout"]["reference"], "SEPA-2026-0042");
}
