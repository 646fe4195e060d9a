//! A hostile review of the buyer side: metering, statements, the receipt log and payouts.
//! Tests named `hostile_*` assert what SHOULD hold; a failing one is the evidence of a finding.

use std::time::Duration;

use hallmark_core::did::SigningIdentity;
use hallmark_market::metering::Access;
use serde_json::Value;

use crate::access::{fetch, samples_in, span, token_for};
use crate::harness::{Market, Options};

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Found in review (critical, fixed): billing was all-or-nothing on the held-back last chunk. A
/// buyer asked for a range from the sample they wanted on into the next samples, read the
/// sample's bytes and hung up: no receipt. Now a response cut short is charged for the samples
/// whose bytes it handed to the connection.
#[tokio::test]
async fn hostile_every_sample_but_one_is_taken_without_a_receipt() {
    let market = Market::start().await;
    let files: Vec<(String, Vec<u8>)> = (0..4u8)
        .map(|i| {
            let bytes = (0..16usize << 20)
                .map(|j| (j % 251) as u8 ^ (i * 37))
                .collect();
            (format!("big{i}.bin"), bytes)
        })
        .collect();
    let published = market.publish_files("Ana", "big", &files, 256 << 20).await;
    let (cid, shard) = &published.sealed.shards[0];
    let in_shard = samples_in(&published, cid);
    assert_eq!(in_shard.len(), 4);
    let key = market.buyer("Mallory").await;
    let (_, token) = token_for(&market, &key, &published.version).await;

    let mut taken: Vec<Vec<u8>> = Vec::new();
    for sample in &in_shard[..3] {
        let (first, last) = span(sample);
        let want = (last - first + 1) as usize;
        // From the sample's first byte to the end of the shard: the charge would cover every
        // sample after it too, but it is never made.
        let mut response = fetch(&market, &token, cid, Some(&format!("bytes={first}-"))).await;
        assert_eq!(response.status(), 206);
        let mut got = Vec::with_capacity(want);
        while got.len() < want {
            got.extend_from_slice(&response.chunk().await.unwrap().unwrap());
        }
        drop(response);
        got.truncate(want);
        taken.push(got);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let free = market.receipts().await;
    // The last sample: bought on its own, one sample.
    let (first, last) = span(in_shard[3]);
    let response = fetch(&market, &token, cid, Some(&format!("bytes={first}-{last}"))).await;
    assert_eq!(header(&response, "x-hallmark-samples"), "1");
    taken.push(response.bytes().await.unwrap().to_vec());

    // The buyer now holds every sample's exact data...
    for (i, got) in taken.iter().enumerate() {
        let (first, last) = span(in_shard[i]);
        assert_eq!(
            got.as_slice(),
            &shard[first as usize..=last as usize],
            "sample {i}"
        );
        assert_eq!(
            got.as_slice(),
            files[i].1.as_slice(),
            "sample {i} is file {i}"
        );
    }
    // ...and what were they billed?
    let receipts = market.receipts().await;
    let billed: u64 = receipts
        .iter()
        .map(|r| r["samples"].as_u64().unwrap())
        .sum();
    eprintln!(
        "receipts after the three hang-ups: {}; after all: {} for {billed} sample(s)",
        free.len(),
        receipts.len()
    );
    // Every sample the buyer holds is paid for. A hang-up pays for what the server handed to the
    // connection, which can run into the next sample (socket buffers): at most one more each.
    assert!(
        (4..=4 + 3).contains(&billed),
        "the buyer holds the data of 4 samples and was billed for {billed}"
    );
}

/// An access charged straight through the meter (no download), as `receipts_log.rs` does.
fn access(creator: &str, buyer: &str, token: &str) -> Access {
    crate::harness::test_access(creator, buyer, token, (0, 0))
}

async fn log_size(market: &Market) -> i64 {
    sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(size) FROM checkpoints")
        .fetch_one(&market.state.db.pool)
        .await
        .unwrap()
        .unwrap_or(0)
}

async fn wait_for_log(market: &Market, size: i64) {
    for _ in 0..100 {
        if log_size(market).await >= size {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the log did not reach {size} entries");
}

async fn statements_of(market: &Market, creator: &str) -> Vec<(i64, i64)> {
    sqlx::query_as(
        "SELECT sequence, period_start FROM statements WHERE creator = $1 ORDER BY sequence",
    )
    .bind(creator)
    .fetch_all(&market.state.db.pool)
    .await
    .unwrap()
}

async fn uncounted(market: &Market, creator: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM receipts WHERE creator = $1 AND statement_id IS NULL")
        .bind(creator)
        .fetch_one(&market.state.db.pool)
        .await
        .unwrap()
}

/// Moves the market's clock to Unix time `at`.
fn set_clock(market: &Market, at: i64) {
    let now = market.state.now_unix();
    market.clock.advance(at - now);
}

/// Found in review (high), fixed: a receipt whose `created_at` falls in a period that already has a statement
/// (the clock stepped back, or a commit that took longer than the 5 s grace) is never stated:
/// the next statement is computed for that same period, `UNIQUE (creator, period_start)` refuses
/// it, `issue_due` returns the error, and every creator after this one in the loop is stalled
/// too, every 2 s, forever.
#[tokio::test]
async fn hostile_a_late_receipt_stalls_statements_for_good() {
    let market = Market::start_with(Options {
        statement_period_seconds: 60,
        ..Options::default()
    })
    .await;
    // Two creators; "alice" is the one that sorts first, so `SELECT DISTINCT creator` meets her first.
    let mut dids = [
        SigningIdentity::generate().public().to_string(),
        SigningIdentity::generate().public().to_string(),
    ];
    dids.sort();
    let [alice, bob] = dids;
    let meter = &market.state.meter;
    meter.charge(access(&alice, "buyer1", "t0")).await.unwrap();
    wait_for_log(&market, 1).await;
    market.clock.advance(70);
    for _ in 0..50 {
        if !statements_of(&market, &alice).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first = statements_of(&market, &alice).await;
    assert_eq!(first.len(), 1, "the first statement was not issued");
    let period_start = first[0].1;

    // The clock steps back into the stated period (an NTP correction), and a receipt lands there.
    set_clock(&market, period_start + 30);
    meter.charge(access(&alice, "buyer1", "t1")).await.unwrap();
    // Bob's first receipt, in a later period.
    set_clock(&market, period_start + 90);
    meter.charge(access(&bob, "buyer2", "t2")).await.unwrap();
    wait_for_log(&market, 3).await;

    // Long after: both should be stated.
    set_clock(&market, period_start + 600);
    tokio::time::sleep(Duration::from_secs(7)).await;
    let direct = hallmark_market::statements::issue_due(&market.state).await;
    eprintln!(
        "issue_due: {:?}",
        direct
            .as_ref()
            .map_err(|e| format!("{} {}", e.code, e.message))
    );
    let (alice_left, bob_left) = (
        uncounted(&market, &alice).await,
        uncounted(&market, &bob).await,
    );
    eprintln!(
        "alice: {:?}, {alice_left} uncounted; bob: {:?}, {bob_left} uncounted",
        statements_of(&market, &alice).await,
        statements_of(&market, &bob).await
    );
    assert!(direct.is_ok(), "issuing statements fails");
    assert_eq!(
        bob_left, 0,
        "bob's receipt is never stated because of alice's"
    );
    assert_eq!(alice_left, 0, "alice's late receipt is never stated");
}

/// Found in review (medium), fixed: `log check` says every receipt matches its entry, but a receipt row that is
/// gone (deleted from the database) is not noticed: the log holds an entry no receipt answers for,
/// and the creator's statement silently lacks it.
#[tokio::test]
async fn hostile_log_check_misses_a_deleted_receipt() {
    let market = Market::start().await;
    let creator = SigningIdentity::generate().public().to_string();
    for i in 0..3 {
        market
            .state
            .meter
            .charge(access(&creator, "buyer1", &format!("t{i}")))
            .await
            .unwrap();
    }
    wait_for_log(&market, 3).await;
    let public = market.state.identity.public();
    let report = hallmark_market::log::check(&market.state.db, market.state.blobs.clone(), &public)
        .await
        .unwrap();
    assert_eq!((report.size, report.receipts), (3, 3));
    sqlx::query("DELETE FROM receipts WHERE log_index = 1")
        .execute(&market.state.db.pool)
        .await
        .unwrap();
    let after =
        hallmark_market::log::check(&market.state.db, market.state.blobs.clone(), &public).await;
    eprintln!("log check after deleting receipt 1: {after:?}");
    assert!(
        after.is_err(),
        "a log of 3 entries with 2 receipts passed log check"
    );
}

/// Found in review (low/medium), fixed: `log check` never reads the published `log/checkpoint`, the file every
/// outside verifier reads: a garbage or rolled-back checkpoint in the store passes it, and is
/// what `GET /log/checkpoint` serves.
#[tokio::test]
async fn hostile_log_check_ignores_the_published_checkpoint() {
    let market = Market::start().await;
    let creator = SigningIdentity::generate().public().to_string();
    market
        .state
        .meter
        .charge(access(&creator, "buyer1", "t0"))
        .await
        .unwrap();
    wait_for_log(&market, 1).await;
    let blobs = &market.state.blobs;
    blobs
        .store
        .put(
            &blobs.path("log/checkpoint"),
            b"not a checkpoint\n".to_vec().into(),
        )
        .await
        .unwrap();
    let served = market
        .http
        .get(market.url("/log/checkpoint"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(served, "not a checkpoint\n");
    let public = market.state.identity.public();
    let checked =
        hallmark_market::log::check(&market.state.db, market.state.blobs.clone(), &public).await;
    eprintln!("log check with a garbage published checkpoint: {checked:?}");
    assert!(
        checked.is_err(),
        "a garbage published checkpoint passed log check"
    );
}

/// Found in review (low), fixed: `payout mark` checks then updates without looking at what the update did: two
/// admins marking the same statement at once with different references both succeed, and one
/// reference is silently dropped ("a payout is recorded once" is promised).
#[tokio::test]
async fn hostile_two_payout_marks_at_once_both_succeed() {
    let market = Market::start_with(Options {
        statement_period_seconds: 60,
        ..Options::default()
    })
    .await;
    let creators: Vec<String> = (0..6)
        .map(|_| SigningIdentity::generate().public().to_string())
        .collect();
    for (i, creator) in creators.iter().enumerate() {
        market
            .state
            .meter
            .charge(access(creator, "buyer1", &format!("t{i}")))
            .await
            .unwrap();
    }
    wait_for_log(&market, creators.len() as i64).await;
    market.clock.advance(70);
    let mut ids: Vec<String> = Vec::new();
    for _ in 0..50 {
        ids = sqlx::query_scalar("SELECT id FROM statements")
            .fetch_all(&market.state.db.pool)
            .await
            .unwrap();
        if ids.len() == creators.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(ids.len(), creators.len());
    let db = &market.state.db;
    let mut both = 0;
    for id in &ids {
        let (a, b) = tokio::join!(
            hallmark_market::statements::mark_paid(db, id, "SEPA-A", 1),
            hallmark_market::statements::mark_paid(db, id, "SEPA-B", 1),
        );
        if a.is_ok() && b.is_ok() {
            both += 1;
        }
    }
    eprintln!(
        "{both} of {} statements: both references reported paid",
        ids.len()
    );
    assert_eq!(
        both, 0,
        "both admins were told their reference was recorded"
    );
}

/// Found in review (low), fixed: a whole shard is billed for every sample (all-empty ones too), but the same
/// bytes minus the last byte of the tar trailer are billed only for samples with data.
#[tokio::test]
async fn hostile_whole_shard_and_nearly_whole_range_bill_differently() {
    let market = Market::start().await;
    let files: Vec<(String, Vec<u8>)> = (0..6)
        .map(|i| {
            let bytes = if i % 2 == 0 {
                format!("take {i:02}\n").repeat(40).into_bytes()
            } else {
                Vec::new()
            };
            (format!("take{i:02}.txt"), bytes)
        })
        .collect();
    let published = market
        .publish_files("Ana", "sparse", &files, 64 << 10)
        .await;
    let (cid, shard) = &published.sealed.shards[0];
    let key = market.buyer("Bo").await;
    let (_, token) = token_for(&market, &key, &published.version).await;
    let head = |range: Option<String>| {
        let mut request = market
            .http
            .head(market.url(&format!("/v1/shards/{cid}")))
            .bearer_auth(&token);
        if let Some(range) = range {
            request = request.header("Range", range);
        }
        request.send()
    };
    let whole = header(&head(None).await.unwrap(), "x-hallmark-samples");
    let size = shard.len();
    let nearly = header(
        &head(Some(format!("bytes=0-{}", size - 2))).await.unwrap(),
        "x-hallmark-samples",
    );
    let from_one = header(
        &head(Some(format!("bytes=1-{}", size - 1))).await.unwrap(),
        "x-hallmark-samples",
    );
    eprintln!(
        "{} samples in the index; whole shard billed {whole}, bytes 0..size-2 billed {nearly}, bytes 1.. billed {from_one}",
        samples_in(&published, cid).len()
    );
    assert_eq!(whole, nearly, "the same data is billed differently");
    assert_eq!(whole, from_one, "the same data is billed differently");
}

/// Range and header edges that should hold (and one RFC deviation, the last assertion).
#[tokio::test]
async fn hostile_range_edges() {
    let market = Market::start().await;
    let published = market.publish_dataset("Ana", "takes").await;
    let key = market.buyer("Bo").await;
    let (_, token) = token_for(&market, &key, &published.version).await;
    let (cid, shard) = &published.sealed.shards[0];
    let size = shard.len();

    // No Range and bytes=0- and bytes=0-(size-1) and bytes=-size are one access: one receipt.
    for range in [
        None,
        Some("bytes=0-".to_string()),
        Some(format!("bytes=0-{}", size - 1)),
        Some(format!("bytes=-{}", size * 10)),
        Some(format!("bytes = 0 - {}", size + 5)),
    ] {
        let response = fetch(&market, &token, cid, range.as_deref()).await;
        assert!(response.status().is_success(), "{range:?}");
        assert_eq!(response.bytes().await.unwrap().len(), size);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(market.receipts().await.len(), 1, "one whole-shard access");

    // Refusals never bill.
    for (range, status) in [
        ("bytes=-0", 416),
        ("bytes=5-4", 400),
        (&format!("bytes={size}-") as &str, 416),
        ("bytes=0-1, 3-4", 416),
        ("bytes=0-1,", 206),
        ("bytes=--1", 400),
        ("bytes=0x10-20", 400),
    ] {
        let response = fetch(&market, &token, cid, Some(range)).await;
        assert_eq!(response.status().as_u16(), status, "{range}");
    }
    // Two Range headers: the first is served and billed for what is served.
    let response = market
        .http
        .get(market.url(&format!("/v1/shards/{cid}")))
        .bearer_auth(&token)
        .header("Range", "bytes=0-0")
        .header("Range", format!("bytes=0-{}", size - 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(response.bytes().await.unwrap().len(), 1);
    // If-Range with a weak or other validator: the whole shard (already billed with this token).
    let response = market
        .http
        .get(market.url(&format!("/v1/shards/{cid}")))
        .bearer_auth(&token)
        .header("Range", "bytes=0-9")
        .header("If-Range", format!("W/\"{cid}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The receipts' ranges are all within the shard.
    for receipt in market.receipts().await {
        assert!(receipt["range"]["last"].as_u64().unwrap() < size as u64);
    }

    // RFC 9110 §14.1.2: a last-pos past the end (however large) means "to the end".
    let response = fetch(&market, &token, cid, Some("bytes=0-99999999999999999999")).await;
    eprintln!("bytes=0-<20 digits>: {}", response.status());
    assert!(
        response.status().is_success(),
        "a valid range with a large last-pos is refused"
    );
}

/// Tokens: case of the scheme, forged or altered payloads, another marketplace's key.
#[tokio::test]
async fn hostile_token_shapes() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let market = Market::start().await;
    let published = market.publish_dataset("Ana", "takes").await;
    let key = market.buyer("Bo").await;
    let (_, token) = token_for(&market, &key, &published.version).await;
    let cid = &published.sealed.shards[0].0;
    let get = |authorization: String| {
        market
            .http
            .head(market.url(&format!("/v1/shards/{cid}")))
            .header("Authorization", authorization)
            .send()
    };
    assert_eq!(get(format!("Bearer {token}")).await.unwrap().status(), 200);
    assert_eq!(
        get(format!("Bearer   {token}  ")).await.unwrap().status(),
        200
    );

    let claims = hallmark_market::tokens::verify(
        &market.state.identity.public(),
        &token,
        market.state.now_unix(),
    )
    .unwrap();
    let sign = |json: &str| {
        let payload = b64.encode(json);
        let message = [hallmark_market::tokens::SIGNING_CONTEXT, payload.as_bytes()].concat();
        let signature = market.state.identity.sign(&message);
        format!("hmt1.{payload}.{}", b64.encode(signature.to_bytes()))
    };
    let good = serde_json::to_value(&claims).unwrap();
    // Signed by the marketplace's own key: duplicate keys, extra keys, a padded payload.
    let text = serde_json::to_string(&good).unwrap();
    let duplicate = text.replacen('{', "{\"version\":\"v_other\",", 1);
    let mut extra = good.clone();
    extra["admin"] = Value::Bool(true);
    for (what, forged) in [
        ("duplicate key", sign(&duplicate)),
        ("extra key", sign(&extra.to_string())),
        ("padded signature", format!("{token}==")),
        (
            "padded payload",
            token.replacen('.', "=.", 2).replacen("hmt1=.", "hmt1.", 1),
        ),
    ] {
        assert_eq!(
            get(format!("Bearer {forged}")).await.unwrap().status(),
            401,
            "{what}"
        );
    }
    // Another marketplace's key.
    let other = SigningIdentity::generate();
    let theirs = hallmark_market::tokens::encode(&other, &claims);
    assert_eq!(get(format!("Bearer {theirs}")).await.unwrap().status(), 401);

    // RFC 9110 §11.1: the auth scheme is case-insensitive ("bearer" is what some clients send).
    let lower = get(format!("bearer {token}")).await.unwrap().status();
    eprintln!("lower-case scheme: {lower}");
    assert_eq!(lower, 200, "a lower-case Bearer scheme is refused");
}

/// Log endpoints with odd numbers: sizes never signed, index ≥ size, from > size, odd paths.
#[tokio::test]
async fn hostile_log_requests() {
    let market = Market::start().await;
    let creator = SigningIdentity::generate().public().to_string();
    // Receipts until the log has a size below its own that was never signed (the sequencer signs
    // whatever has arrived, at most every 500 ms, so which sizes get a checkpoint varies).
    let mut charged = 0;
    let unsigned = loop {
        for _ in 0..3 {
            market
                .state
                .meter
                .charge(access(&creator, "buyer1", &format!("t{charged}")))
                .await
                .unwrap();
            charged += 1;
        }
        wait_for_log(&market, charged).await;
        let signed: Vec<i64> = sqlx::query_scalar("SELECT size FROM checkpoints")
            .fetch_all(&market.state.db.pool)
            .await
            .unwrap();
        if let Some(unsigned) = (1..charged).find(|s| !signed.contains(s)) {
            break unsigned;
        }
        assert!(
            charged < 30,
            "every size up to {charged} was signed: {signed:?}"
        );
    };
    let size = log_size(&market).await;
    let status = |path: String| {
        let market = &market;
        async move {
            market
                .http
                .get(market.url(&path))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        status(format!("/v1/log/proof?index=0&size={size}")).await,
        200
    );
    assert_eq!(
        status(format!("/v1/log/proof?index={size}&size={size}")).await,
        400
    );
    assert_eq!(
        status(format!("/v1/log/proof?index=0&size={unsigned}")).await,
        404,
        "a size never signed"
    );
    assert_eq!(
        status("/v1/log/proof?index=0&size=18446744073709551615".into()).await,
        404
    );
    assert_eq!(status("/v1/log/proof?index=-1&size=3".into()).await, 400);
    assert_eq!(
        status(format!("/v1/log/consistency?from={}&size={size}", size + 1)).await,
        400
    );
    assert_eq!(
        status(format!("/v1/log/consistency?from=0&size={size}")).await,
        200
    );
    assert_eq!(status("/v1/log/checkpoints?limit=0".into()).await, 400);
    assert_eq!(
        status("/v1/log/checkpoints?after=18446744073709551615".into()).await,
        200
    );
    for path in [
        "/log/tile/0/000.p/256",
        "/log/tile/0/000.p/0",
        "/log/tile/0/00",
        "/log/tile/0/x000/000.p/3",
        "/log/tile/entries/000.p/03",
        "/log/tile/64/000",
        "/log/tile/0/..%2f..%2fkey",
        "/log/../identity",
        "/log/checkpoint/",
        "/log/tile/0/x999/x999/x999/x999/x999/x999/999",
    ] {
        assert_eq!(status(path.into()).await, 404, "{path}");
    }
    assert_eq!(status("/log/tile/0/000.p/3".into()).await, 200);
    // Encoded slashes are decoded by the router and then parsed strictly: the same file, harmless.
    assert_eq!(status("/log/tile%2f0%2f000.p%2f3".into()).await, 200);
    assert_eq!(status("/log/tile/entries/000.p/3".into()).await, 200);
}
