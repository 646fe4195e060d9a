//! `hallmark earnings` against a real marketplace: publish, let the simulator buy, fetch; the
//! verified totals equal the simulator's own tally exactly, a second fetch adds nothing, the
//! export's rows and tlog-proof files check out; a receipt changed in the store is found by
//! `verify`; a marketplace with another key at the joined address is refused by `fetch`.

use std::path::Path;
use std::process::Command;
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use hallmark_core::earnings::Receipt;
use hallmark_core::tlog::{self, TlogProof};
use rust_decimal::Decimal;

use crate::publish::{path, sealed_and_signed};
use crate::{Market, Studio, binary};

fn d(value: &serde_json::Value) -> Decimal {
    Decimal::from_str(
        value
            .as_str()
            .unwrap_or_else(|| panic!("{value} is not a string")),
    )
    .unwrap()
}

/// `sqlite3 FILE SQL`, returning stdout.
fn sqlite(file: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(file)
        .arg(sql)
        .output()
        .expect("cannot run sqlite3; install it (scripts/setup does)");
    assert!(out.status.success(), "sqlite3 {sql}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn fetched_earnings_verify_to_the_simulators_tally() {
    let studio = Studio::new("earnings", "Ana");
    let server = tempfile::tempdir().unwrap();
    let market_data = server.path().join("market");
    let mut market = Market::start_with(
        &market_data,
        "127.0.0.1:0",
        &["--open-buyer-signup", "--statement-period", "2s"],
    );
    let (_src, out) = sealed_and_signed(&studio, &market, 8, 40 << 10, "96KiB");
    studio
        .run(&[
            "publish",
            &path(out.path()),
            "--price",
            "0.0007",
            "--currency",
            "EUR",
        ])
        .ok();

    // Nothing fetched yet: the offline commands say to fetch first.
    let early = studio.run(&["earnings", "summary"]);
    assert_eq!(early.code(), Some(2), "{}", early.stderr());
    assert!(
        early.stderr().contains("hallmark earnings fetch"),
        "{}",
        early.stderr()
    );

    let simulated = Command::new(binary(
        "hallmark-market",
        "HALLMARK_MARKET",
        "hallmark-market",
    ))
    .args([
        "simulate",
        "--market",
        &market.url,
        "--buyers",
        "3",
        "--accesses",
        "40",
    ])
    .args(["--seed", "11", "--json"])
    .output()
    .unwrap();
    assert!(simulated.status.success(), "{simulated:?}");
    let tally: serde_json::Value = serde_json::from_slice(&simulated.stdout).unwrap();
    let expected = &tally["creators"][&studio.did]["EUR"];
    assert!(d(&expected["creatorShare"]) > Decimal::ZERO, "{tally}");

    // Statements close every 2 s (5 s grace): fetch until every receipt is in one.
    let start = Instant::now();
    let verified = loop {
        studio.run(&["earnings", "fetch", "--json"]).ok();
        let run = studio.run(&["earnings", "verify", "--json"]);
        let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
        assert_eq!(run.code(), Some(0), "findings: {}", report["findings"]);
        if report["estimated"].as_array().unwrap().is_empty()
            && !report["statemented"].as_array().unwrap().is_empty()
        {
            break report;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "receipts still not stated after a minute: {report}"
        );
        std::thread::sleep(Duration::from_millis(1500));
    };
    let totals = verified["statemented"].as_array().unwrap();
    assert_eq!(totals.len(), 1, "{verified}");
    let eur = &totals[0];
    assert_eq!(eur["currency"], "EUR");
    assert_eq!(d(&eur["creatorShare"]), d(&expected["creatorShare"]));
    assert_eq!(d(&eur["gross"]), d(&expected["gross"]));
    assert_eq!(eur["samples"], expected["samples"]);
    assert!(!verified["statements"].as_array().unwrap().is_empty());

    // Fetching again adds nothing.
    let again = studio.run(&["earnings", "fetch", "--json"]).json();
    let fetched = &again["fetched"];
    for field in ["statements", "receipts", "consistencyProofs", "tiles"] {
        assert_eq!(fetched[field], 0, "{field}: {again}");
    }
    assert_eq!(fetched["rewritten"].as_array().unwrap().len(), 0);

    // The summary by day adds up to the same money.
    let summary = studio
        .run(&["earnings", "summary", "--by", "day", "--json"])
        .json();
    let share: Decimal = summary["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| d(&line["statemented"]))
        .sum();
    assert_eq!(share, d(&expected["creatorShare"]));

    // The export: rows that add up, formula-safe, and tlog-proofs that check against the log.
    let exports = tempfile::tempdir().unwrap();
    let csv = exports.path().join("earnings.csv");
    let proofs = exports.path().join("proofs");
    studio
        .run(&[
            "earnings",
            "export",
            "--csv",
            &path(&csv),
            "--proofs",
            &path(&proofs),
        ])
        .ok();
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("period_start_utc,period_end_utc,dataset,")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(!rows.is_empty());
    let csv_share: Decimal = rows.iter().map(|r| Decimal::from_str(r[8]).unwrap()).sum();
    assert_eq!(csv_share, d(&expected["creatorShare"]));
    assert!(
        rows.iter()
            .all(|r| r[0].ends_with('Z') && r[11] == "pending"),
        "{rows:?}"
    );
    let log: serde_json::Value = serde_json::from_slice(
        &Command::new("curl")
            .args(["-sS", "-f", &format!("{}/v1/log", market.url)])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let origin = log["origin"].as_str().unwrap();
    let key = market.did.parse().unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(proofs.join("proofs")).unwrap() {
        let file = entry.unwrap().path();
        let proof = TlogProof::parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let receipt = std::fs::read(proofs.join(format!("receipts/{}.json", proof.index))).unwrap();
        let commitment = Receipt::from_json(&receipt).unwrap().commitment();
        proof
            .verify(origin, &key, &tlog::leaf_hash(&commitment.0))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        checked += 1;
    }
    // Receipts are stored in pages: their log indexes are 8 bytes each.
    let receipts = sqlite(
        &studio.data().join("earnings.sqlite"),
        "SELECT SUM(length(indexes) / 8) FROM receipt_pages",
    );
    assert_eq!(checked.to_string(), receipts.trim());

    // A receipt changed in the store (more samples, amounts made to match) is no longer the
    // log's entry: verify names it and leaves its money out.
    let store = studio.data().join("earnings.sqlite");
    // The first page's first receipt: its bytes end where the page's first end (u32 LE) says.
    let first = sqlite(
        &store,
        "SELECT first_index, hex(ends), hex(bodies) FROM receipt_pages ORDER BY first_index LIMIT 1",
    );
    let mut columns = first.trim().split('|');
    let (index, ends, bodies) = (
        columns.next().unwrap().to_owned(),
        hex::decode(columns.next().unwrap()).unwrap(),
        hex::decode(columns.next().unwrap()).unwrap(),
    );
    let ends: Vec<u32> = ends
        .chunks(4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let body = &bodies[..ends[0] as usize];
    let mut receipt = Receipt::from_json(body).unwrap();
    receipt.samples += 100;
    receipt.amount =
        hallmark_core::earnings::money::amount(receipt.samples, receipt.price).unwrap();
    receipt.creator_share =
        hallmark_core::earnings::money::creator_share(receipt.amount, receipt.share_rate).unwrap();
    let changed_body = receipt.canonical_bytes();
    let grown = changed_body.len() as i64 - body.len() as i64;
    let mut changed_bodies = changed_body.clone();
    changed_bodies.extend_from_slice(&bodies[ends[0] as usize..]);
    let changed_ends: Vec<u8> = ends
        .iter()
        .flat_map(|&end| u32::try_from(i64::from(end) + grown).unwrap().to_le_bytes())
        .collect();
    sqlite(
        &store,
        &format!(
            "UPDATE receipt_pages SET ends = X'{}', bodies = X'{}' WHERE first_index = {index}",
            hex::encode(changed_ends),
            hex::encode(changed_bodies)
        ),
    );
    let run = studio.run(&["earnings", "verify", "--json"]);
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let changed = findings
        .iter()
        .find(|f| f["kind"] == "receipt-not-in-log")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(changed["receipt"].to_string(), index);
    assert_eq!(d(&changed["excluded"]["EUR"]), receipt.creator_share);
    assert!(d(&report["statemented"][0]["creatorShare"]) < d(&expected["creatorShare"]));
    let text = studio.run(&["earnings", "verify"]);
    assert_eq!(text.code(), Some(1));
    assert!(
        text.stdout().contains("ReceiptNotInLog"),
        "{}",
        text.stdout()
    );

    // Another marketplace (another key) at the joined address: fetch refuses, naming both keys.
    let pinned = market.did.clone();
    let addr = market.addr.clone();
    market.stop();
    let impostor = Market::start(&server.path().join("impostor"), &addr);
    let refused = studio.run(&["earnings", "fetch"]);
    assert_eq!(refused.code(), Some(3), "{}", refused.stderr());
    let message = refused.stderr();
    assert!(message.contains("identity changed"), "{message}");
    assert!(
        message.contains(&pinned) && message.contains(&impostor.did),
        "{message}"
    );
    // What was stored is still there and still verifies offline (the tampered receipt aside).
    let offline = studio.run(&["earnings", "verify", "--json"]);
    assert_eq!(offline.code(), Some(1));
}
